/**
 * ElectLeaders (key 43), v0–v2 (KIP-183, KIP-460): preferred-replica or unclean election for
 * named partitions (null: every partition). Decided by the controller (replication-control.ts
 * `electLeaders`) and answered once the new leaders are committed. v0 carries no election
 * type: it is a preferred election.
 */
import { electLeaders, ElectionType } from "../../metadata/replication-control.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import type { ReplicaElectionResult } from "../../protocol/messages/elect-leaders-response.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler } from "./handler.ts";

/** Partitions one request may name, so one decision stays bounded. */
const electionPartitionsMax = 100_000;

export const electLeadersHandler = defineHandler({
  apiKey: ApiKeys.ElectLeaders,
  minVersion: 0,
  maxVersion: 2,
  async handle(request, ctx) {
    const type = ctx.apiVersion >= 1 ? request.electionType : ElectionType.PREFERRED;
    const answer = (errorCode: number, replicaElectionResults: ReplicaElectionResult[]) => ({ throttleTimeMs: 0, errorCode, replicaElectionResults, _unknownTaggedFields: undefined });
    const named = request.topicPartitions?.reduce((n, t) => n + t.partitions.length, 0) ?? 0;
    if ((type !== ElectionType.PREFERRED && type !== ElectionType.UNCLEAN) || named > electionPartitionsMax) {
      ctx.logRepeated("warn", "bad ElectLeaders", "ElectLeaders refused", { electionType: type, partitions: named });
      return answer(ErrorCode.INVALID_REQUEST, []);
    }
    const targets = request.topicPartitions === null ? null : request.topicPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
    const decided = await tryDecide(ctx, "ElectLeaders", (c) => electLeaders(c, type, targets));
    const outcomes = decided.ok ? decided.value : (targets ?? []).map((t) => ({ ...t, errorCode: decided.errorCode, errorMessage: decided.errorMessage }));
    const byTopic = new Map<string, ReplicaElectionResult>();
    for (const o of outcomes) {
      let r = byTopic.get(o.topic);
      if (r === undefined) byTopic.set(o.topic, (r = { topic: o.topic, partitionResult: [], _unknownTaggedFields: undefined }));
      r.partitionResult.push({ partitionId: o.partition, errorCode: o.errorCode, errorMessage: o.errorMessage, _unknownTaggedFields: undefined });
    }
    // v0 has no top-level error: a failed decision shows in every partition's.
    return answer(decided.ok || ctx.apiVersion === 0 ? ErrorCode.NONE : decided.errorCode, [...byTopic.values()]);
  },
});
