/**
 * Committed offsets of one shard's groups: OffsetCommit (generation and member checks,
 * simple commits, metadata limits, unknown topics), OffsetFetch, OffsetDelete, retention, and
 * the offsets of deleted topics.
 * Kafka's OffsetMetadataManager. Offsets change only by replaying records (shard.ts write
 * path); the coordinator resolves the shard before calling in.
 */
import { ErrorCode } from "../protocol/errors.ts";
import type { FetchedOffset, OffsetCommitInput, OffsetFetchOutcome, TopicPartitionErrors } from "./api.ts";
import type { ClassicGroup } from "./group.ts";
import { CONSUMER_PROTOCOL_TYPE, type ClassicGroupManager } from "./group-manager.ts";
import { type CoordinatorRecord, offsetCommitRecord } from "./records.ts";
import { type CommittedOffset, offsetKey, type Shard, type ShardRuntime } from "./shard.ts";

export class OffsetManager {
  readonly #rt: ShardRuntime;
  readonly #groups: ClassicGroupManager;
  readonly #topicPartitions: (topic: string) => number | undefined;

  constructor(rt: ShardRuntime, groups: ClassicGroupManager, topicPartitions: (topic: string) => number | undefined) {
    this.#rt = rt;
    this.#groups = groups;
    this.#topicPartitions = topicPartitions;
  }

  #validateOffsetCommit(group: ClassicGroup, req: OffsetCommitInput): number {
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (req.generationId < 0 && group.is("Empty")) return ErrorCode.NONE;
    if (req.generationId >= 0 || req.memberId !== "" || req.groupInstanceId !== null) {
      const invalid = group.validateMember(req.memberId, req.groupInstanceId);
      if (invalid !== ErrorCode.NONE) return invalid;
      if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!group.is("Empty")) {
      // No member id and no generation (v0, or an admin): only an empty group takes it.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    if (group.is("CompletingRebalance")) return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  commitOffsets(shard: Shard, req: OffsetCommitInput): Promise<TopicPartitionErrors[]> {
    const all = (errorCode: number): TopicPartitionErrors[] => commitErrors(req, errorCode);
    const group = shard.groups.get(req.groupId);
    if (group === undefined) {
      // Only a commit from outside any generation creates a group (it is created by replay).
      if (req.generationId >= 0) return Promise.resolve(all(req.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION));
    } else {
      const errorCode = this.#validateOffsetCommit(group, req);
      if (errorCode !== ErrorCode.NONE) return Promise.resolve(all(errorCode));
    }
    const now = this.#rt.clock.nowMs();
    const records: CoordinatorRecord[] = [];
    const written: { partitionIndex: number; errorCode: number }[] = [];
    const response: TopicPartitionErrors[] = req.topics.map((t) => {
      const partitionCount = this.#topicPartitions(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          if (partitionCount === undefined || p.partitionIndex < 0 || p.partitionIndex >= partitionCount) {
            return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
          }
          // Kafka compares the metadata's length in UTF-16 code units (Java String#length), as here.
          if (p.committedMetadata !== null && (p.committedMetadata.length > this.#rt.config.offsetMetadataMaxBytes || !fitsRecordString(p.committedMetadata))) {
            return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE };
          }
          const commitTimestampMs = p.commitTimestampMs === -1 ? now : p.commitTimestampMs;
          records.push(
            offsetCommitRecord(req.groupId, t.name, p.partitionIndex, {
              offset: p.committedOffset,
              leaderEpoch: p.committedLeaderEpoch,
              metadata: p.committedMetadata ?? "",
              commitTimestampMs,
              expireTimestampMs: req.retentionTimeMs >= 0 ? commitTimestampMs + req.retentionTimeMs : -1,
            }),
          );
          const result = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE as number };
          written.push(result);
          return result;
        }),
      };
    });
    return this.#rt.write(
      shard,
      { records, response },
      (errorCode) => {
        for (const r of written) r.errorCode = errorCode;
        return response;
      },
      true,
    );
  }

  /**
   * Committed offsets of a group: the requested partitions (-1 where none), or every committed
   * one when `topics` is null. A group that does not exist has no offsets, not an error.
   * `requireStable`: no transactional offsets exist yet, so nothing is ever unstable.
   */
  fetchOffsets(shard: Shard, groupId: string, topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null, _requireStable: boolean): OffsetFetchOutcome {
    const offsets = shard.offsets.get(groupId);
    if (topics === null) {
      const byTopic = new Map<string, FetchedOffset[]>();
      for (const o of offsets?.values() ?? []) {
        const list = byTopic.get(o.topic) ?? [];
        list.push({ partitionIndex: o.partition, committedOffset: o.value.offset, committedLeaderEpoch: o.value.leaderEpoch, metadata: o.value.metadata, errorCode: ErrorCode.NONE });
        byTopic.set(o.topic, list);
      }
      return {
        errorCode: ErrorCode.NONE,
        topics: [...byTopic.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, partitions]) => ({ name, partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex) })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((p): FetchedOffset => {
          const o = offsets?.get(offsetKey(t.name, p));
          if (o === undefined) return noOffset(p);
          return { partitionIndex: p, committedOffset: o.value.offset, committedLeaderEpoch: o.value.leaderEpoch, metadata: o.value.metadata, errorCode: ErrorCode.NONE };
        }),
      })),
    };
  }

  /** OffsetDelete: removes committed offsets of partitions the group does not consume now. */
  async deleteOffsets(
    shard: Shard,
    groupId: string,
    topics: readonly { name: string; partitionIndexes: readonly number[] }[],
  ): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    const group = shard.groups.get(groupId);
    if (group === undefined || group.is("Dead")) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    const active = !group.is("Empty");
    if (active && group.protocolType !== CONSUMER_PROTOCOL_TYPE) return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    const offsets = shard.offsets.get(groupId);
    const records: CoordinatorRecord[] = [];
    const response: TopicPartitionErrors[] = topics.map((t) => {
      // Unknown subscriptions (unreadable metadata) count as subscribed to everything.
      const subscribed = active && (group.subscribedTopics === null || group.subscribedTopics.has(t.name));
      return {
        name: t.name,
        partitions: t.partitionIndexes.map((p) => {
          if (subscribed) return { partitionIndex: p, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
          if (offsets?.has(offsetKey(t.name, p)) === true) records.push(offsetCommitRecord(groupId, t.name, p, null));
          return { partitionIndex: p, errorCode: ErrorCode.NONE };
        }),
      };
    });
    return this.#rt.write(shard, { records, response: { errorCode: ErrorCode.NONE as number, topics: response } }, (errorCode) => ({ errorCode, topics: [] }));
  }

  /**
   * Topics deleted from the cluster (Kafka's onPartitionsDeleted): every committed offset of
   * their partitions goes, by tombstone, in every group of the shard, so a topic created again
   * under the same name does not resume from the old topic's offsets. One write per group;
   * a failed write leaves that group's offsets (logged), as Kafka does.
   */
  async deleteTopicOffsets(shard: Shard, topics: ReadonlySet<string>): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [groupId, offsets] of shard.offsets) {
      const records = [...offsets.values()].filter((o) => topics.has(o.topic)).map((o) => offsetCommitRecord(groupId, o.topic, o.partition, null));
      if (records.length === 0) continue;
      const written = this.#rt.write(shard, { records, response: ErrorCode.NONE as number }, (e) => e);
      writes.push(
        written.then((errorCode) => {
          if (errorCode === ErrorCode.NONE) return;
          this.#rt.logger?.warn("group coordinator: offsets of deleted topics not deleted", { group: groupId, offsets: records.length, error: errorCode });
        }),
      );
    }
    await Promise.all(writes);
  }

  /**
   * Offset retention (offsets.retention.minutes), Kafka's rules: an offset with an explicit
   * expire timestamp expires then; otherwise, in an Empty group, `retention` after the group
   * became empty (consumer groups) or after the commit (groups without a protocol); in a
   * Stable consumer group, offsets of topics it no longer subscribes to, `retention` after
   * their commit. An Empty group left without offsets is deleted.
   */
  async expireOffsets(shard: Shard): Promise<void> {
    const now = this.#rt.clock.nowMs();
    const retention = this.#rt.config.offsetsRetentionMs;
    const writes: Promise<unknown>[] = [];
    {
      for (const group of [...shard.groups.values()]) {
        if (group.is("Dead")) continue;
        const offsets = [...(shard.offsets.get(group.groupId)?.values() ?? [])];
        let base: ((o: CommittedOffset) => number) | null = null;
        let onlyUnsubscribed = false;
        if (group.is("Empty")) {
          const stateTs = group.currentStateTimestampMs;
          base = group.protocolType !== null && stateTs !== null ? () => stateTs : (o) => o.value.commitTimestampMs;
        } else if (group.is("Stable") && group.protocolType === CONSUMER_PROTOCOL_TYPE && group.subscribedTopics !== null) {
          base = (o) => o.value.commitTimestampMs;
          onlyUnsubscribed = true;
        }
        const expired = offsets.filter((o) => {
          if (onlyUnsubscribed && group.subscribedTopics?.has(o.topic) === true) return false;
          if (o.value.expireTimestampMs !== -1) return now >= o.value.expireTimestampMs;
          return base !== null && now - base(o) >= retention;
        });
        if (group.is("Empty") && group.pendingMembers.size === 0 && expired.length === offsets.length) {
          this.#rt.logger?.info("group coordinator: deleting expired group", { group: group.groupId, offsets: expired.length });
          writes.push(this.#groups.deleteEmptyGroup(shard, group, expired));
        } else if (expired.length > 0) {
          const records = expired.map((o) => offsetCommitRecord(group.groupId, o.topic, o.partition, null));
          writes.push(this.#rt.write(shard, { records, response: ErrorCode.NONE as number }, (e) => e));
        }
      }
    }
    await Promise.all(writes);
  }
}

/** Every partition of an OffsetCommit answered with one error. */
export function commitErrors(req: OffsetCommitInput, errorCode: number): TopicPartitionErrors[] {
  return req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
}

/** The record's metadata is a protocol string: at most 32767 UTF-8 bytes whatever offset.metadata.max.bytes says. */
const RECORD_STRING_BYTES_MAX = 0x7fff;
const utf8 = new TextEncoder();
function fitsRecordString(s: string): boolean {
  return s.length * 3 <= RECORD_STRING_BYTES_MAX || utf8.encode(s).length <= RECORD_STRING_BYTES_MAX;
}

export function noOffset(partitionIndex: number): FetchedOffset {
  return { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode: ErrorCode.NONE };
}

