/**
 * OffsetForLeaderEpoch (key 23), v2–v4 (Kafka 4 removed v0–v1).
 *
 * Per partition, on the leader (currentLeaderEpoch checked: FENCED_LEADER_EPOCH /
 * UNKNOWN_LEADER_EPOCH): the largest epoch <= the requested one this log knows and the
 * offset where it ends — the start of the next epoch, or the log end for the latest
 * (Kafka's LeaderEpochFileCache.endOffsetFor). An epoch the log cannot place answers
 * leaderEpoch/endOffset -1 with no error. Errors answer -1/-1 with the code.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultEpochEndOffset, defaultOffsetForLeaderEpochResponse, type EpochEndOffset } from "../../protocol/messages/offset-for-leader-epoch-response.ts";
import { defineHandler } from "./handler.ts";

export const offsetForLeaderEpochHandler = defineHandler({
  apiKey: ApiKeys.OffsetForLeaderEpoch,
  minVersion: 2,
  maxVersion: 4,
  handle(request, ctx) {
    const { replicas } = ctx.services;
    const topics = request.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((req): EpochEndOffset => {
        const answer: EpochEndOffset = { ...defaultEpochEndOffset(), partition: req.partition, leaderEpoch: -1, endOffset: -1 };
        const lookup = replicas.lookupLeader(t.topic, req.partition, req.currentLeaderEpoch);
        if (lookup.kind === "error") return { ...answer, errorCode: lookup.errorCode };
        const end = lookup.partition.log.endOffsetForLeaderEpoch(req.leaderEpoch);
        return { ...answer, errorCode: ErrorCode.NONE, leaderEpoch: end.leaderEpoch, endOffset: end.endOffset };
      }),
    }));
    return { ...defaultOffsetForLeaderEpochResponse(), topics };
  },
});
