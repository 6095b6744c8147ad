/**
 * AlterPartitionReassignments (key 45), v0 (KIP-455): starts, replaces or (null replicas)
 * cancels reassignments; decided by the controller (replication-control.ts
 * `alterPartitionReassignments`) and answered once the records are committed. The brokers
 * do the rest as the image changes: an added replica is created and fetches, the leader adds
 * it to the ISR once caught up, which ends the reassignment, and removed replicas are deleted.
 */
import { alterPartitionReassignments } from "../../metadata/replication-control.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import type { ReassignableTopicResponse } from "../../protocol/messages/alter-partition-reassignments-response.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler } from "./handler.ts";

const reassignedPartitionsMax = 100_000;

export const alterPartitionReassignmentsHandler = defineHandler({
  apiKey: ApiKeys.AlterPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  async handle(request, ctx) {
    const items = request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas })));
    const answer = (errorCode: number, errorMessage: string | null, responses: ReassignableTopicResponse[]) => ({ throttleTimeMs: 0, errorCode, errorMessage, responses, _unknownTaggedFields: undefined });
    if (items.length > reassignedPartitionsMax) {
      ctx.logRepeated("warn", "bad reassignment", "AlterPartitionReassignments refused", { partitions: items.length });
      return answer(ErrorCode.INVALID_REQUEST, `more than ${reassignedPartitionsMax} partitions in one request`, []);
    }
    const decided = await tryDecide(ctx, "AlterPartitionReassignments", (c) => alterPartitionReassignments(c, items));
    if (!decided.ok) return answer(decided.errorCode, decided.errorMessage, []);
    const byTopic = new Map<string, ReassignableTopicResponse>();
    for (const o of decided.value) {
      let r = byTopic.get(o.topic);
      if (r === undefined) byTopic.set(o.topic, (r = { name: o.topic, partitions: [], _unknownTaggedFields: undefined }));
      r.partitions.push({ partitionIndex: o.partition, errorCode: o.errorCode, errorMessage: o.errorMessage, _unknownTaggedFields: undefined });
    }
    return answer(ErrorCode.NONE, null, [...byTopic.values()]);
  },
});
