/**
 * DeleteRecords (key 21), v0–v2: moves each partition's log start (low watermark) up to the
 * requested offset, -1 meaning the high watermark. An offset above the HW or below -1 is
 * OFFSET_OUT_OF_RANGE; internal topics are INVALID_TOPIC_EXCEPTION; a compact-only topic is
 * POLICY_VIOLATION, as Kafka answers. Single node: the leader's log start is the low
 * watermark at once, so nothing waits on followers (`timeoutMs` is unused).
 */
import { INTERNAL_TOPICS } from "../../metadata/topic-name.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDeleteRecordsPartitionResult, defaultDeleteRecordsResponse, type DeleteRecordsPartitionResult } from "../../protocol/messages/delete-records-response.ts";
import { defineHandler } from "./handler.ts";

const HIGH_WATERMARK = -1;

export const deleteRecordsHandler = defineHandler({
  apiKey: ApiKeys.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  handle(request, ctx) {
    const { replicas } = ctx.services;
    const topics = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((req): DeleteRecordsPartitionResult => {
        const answer = (errorCode: number, lowWatermark: number): DeleteRecordsPartitionResult => ({
          ...defaultDeleteRecordsPartitionResult(),
          partitionIndex: req.partitionIndex,
          errorCode,
          lowWatermark,
        });
        if (INTERNAL_TOPICS.has(t.name)) return answer(ErrorCode.INVALID_TOPIC_EXCEPTION, -1);
        const lookup = replicas.lookupLeader(t.name, req.partitionIndex);
        if (lookup.kind === "error") return answer(lookup.errorCode, -1);
        if (req.offset < HIGH_WATERMARK) return answer(ErrorCode.OFFSET_OUT_OF_RANGE, -1);
        const r = replicas.deleteRecords(lookup.partition, req.offset);
        return answer(r.errorCode, r.lowWatermark);
      }),
    }));
    return { ...defaultDeleteRecordsResponse(), topics };
  },
});
