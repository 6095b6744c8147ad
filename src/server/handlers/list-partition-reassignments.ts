/**
 * ListPartitionReassignments (key 46), v0 (KIP-455): the ongoing reassignments among the
 * named partitions (null: all), from this node's replayed metadata image — committed state,
 * as fresh as this node's replay.
 */
import { listPartitionReassignments } from "../../metadata/replication-control.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import type { OngoingTopicReassignment } from "../../protocol/messages/list-partition-reassignments-response.ts";
import { defineHandler } from "./handler.ts";

export const listPartitionReassignmentsHandler = defineHandler({
  apiKey: ApiKeys.ListPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  handle(request, ctx) {
    const targets = request.topics === null ? null : request.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }));
    const byTopic = new Map<string, OngoingTopicReassignment>();
    for (const o of listPartitionReassignments(ctx.services.metadata.image, targets)) {
      let r = byTopic.get(o.topic);
      if (r === undefined) byTopic.set(o.topic, (r = { name: o.topic, partitions: [], _unknownTaggedFields: undefined }));
      r.partitions.push({ partitionIndex: o.partition, replicas: o.replicas, addingReplicas: o.addingReplicas, removingReplicas: o.removingReplicas, _unknownTaggedFields: undefined });
    }
    return Promise.resolve({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [...byTopic.values()], _unknownTaggedFields: undefined });
  },
});
