/**
 * OffsetCommit (key 8), v0–v9: commits consumer offsets into `__consumer_offsets`; answered
 * once the records are durable (coordinator/group-coordinator.ts). v0 carries no generation
 * (a commit from outside the group, accepted only by an Empty or unknown group); v1 an
 * explicit commit timestamp; v2–v4 a retention time; v6+ the leader epoch; v7+ the group
 * instance id. Per-partition errors: UNKNOWN_TOPIC_OR_PARTITION for a topic or partition the
 * metadata does not have, OFFSET_METADATA_TOO_LARGE past offset.metadata.max.bytes.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultOffsetCommitResponse,
  defaultOffsetCommitResponsePartition,
  defaultOffsetCommitResponseTopic,
} from "../../protocol/messages/offset-commit-response.ts";
import { defineHandler } from "./handler.ts";

export const offsetCommitHandler = defineHandler({
  apiKey: ApiKeys.OffsetCommit,
  minVersion: 0,
  maxVersion: 9,
  async handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    const topics =
      groups === undefined
        ? request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE as number })) }))
        : await groups.commitOffsets({
            groupId: request.groupId,
            generationId: version >= 1 ? request.generationIdOrMemberEpoch : -1,
            memberId: version >= 1 ? request.memberId : "",
            groupInstanceId: version >= 7 ? request.groupInstanceId : null,
            retentionTimeMs: version >= 2 && version <= 4 ? request.retentionTimeMs : -1,
            apiVersion: version,
            topics: request.topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({
                partitionIndex: p.partitionIndex,
                committedOffset: p.committedOffset,
                committedLeaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
                commitTimestampMs: version === 1 ? p.commitTimestamp : -1,
                committedMetadata: p.committedMetadata,
              })),
            })),
          });
    return {
      ...defaultOffsetCommitResponse(),
      topics: topics.map((t) => ({
        ...defaultOffsetCommitResponseTopic(),
        name: t.name,
        partitions: t.partitions.map((p) => ({ ...defaultOffsetCommitResponsePartition(), partitionIndex: p.partitionIndex, errorCode: p.errorCode })),
      })),
    };
  },
});
