/**
 * OffsetFetch (key 9), v0–v9: committed offsets of a group (v8+: of several groups in one
 * request). An unknown group, or a partition without a commit, is offset -1 with no error.
 * v2+ `topics: null` asks for every committed partition and carries a top-level error;
 * v0–v1 carry group errors on each partition. v5+ leader epochs; v7+ `requireStable` (no
 * transactional offsets exist yet, so nothing is ever unstable).
 */
import type { OffsetFetchOutcome } from "../../coordinator/group-coordinator.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultOffsetFetchResponse,
  defaultOffsetFetchResponseGroup,
  defaultOffsetFetchResponsePartition,
  defaultOffsetFetchResponsePartitions,
  defaultOffsetFetchResponseTopic,
  defaultOffsetFetchResponseTopics,
} from "../../protocol/messages/offset-fetch-response.ts";
import { defineHandler } from "./handler.ts";

type TopicsRequest = readonly { name: string; partitionIndexes: readonly number[] }[] | null;

export const offsetFetchHandler = defineHandler({
  apiKey: ApiKeys.OffsetFetch,
  minVersion: 0,
  maxVersion: 9,
  handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    const fetch = (groupId: string, topics: TopicsRequest): OffsetFetchOutcome => {
      if (groups === undefined) {
        const errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
        return {
          errorCode,
          topics: (topics ?? []).map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode })),
          })),
        };
      }
      return groups.fetchOffsets(groupId, topics, version >= 7 && request.requireStable);
    };
    if (version >= 8) {
      return {
        ...defaultOffsetFetchResponse(),
        groups: request.groups.map((g) => {
          const out = fetch(g.groupId, g.topics);
          return {
            ...defaultOffsetFetchResponseGroup(),
            groupId: g.groupId,
            errorCode: out.errorCode,
            topics:
              out.errorCode !== ErrorCode.NONE
                ? []
                : out.topics.map((t) => ({
                    ...defaultOffsetFetchResponseTopics(),
                    name: t.name,
                    partitions: t.partitions.map((p) => ({ ...defaultOffsetFetchResponsePartitions(), ...p })),
                  })),
          };
        }),
      };
    }
    const out = fetch(request.groupId, version >= 2 ? request.topics : (request.topics ?? []));
    const topLevel = version >= 2;
    return {
      ...defaultOffsetFetchResponse(),
      errorCode: topLevel ? out.errorCode : ErrorCode.NONE,
      topics:
        topLevel && out.errorCode !== ErrorCode.NONE
          ? []
          : out.topics.map((t) => ({
              ...defaultOffsetFetchResponseTopic(),
              name: t.name,
              partitions: t.partitions.map((p) => ({
                ...defaultOffsetFetchResponsePartition(),
                partitionIndex: p.partitionIndex,
                committedOffset: p.committedOffset,
                committedLeaderEpoch: version >= 5 ? p.committedLeaderEpoch : -1,
                metadata: p.metadata,
                errorCode: p.errorCode,
              })),
            })),
    };
  },
});
