/**
 * The classic group coordinator: JoinGroup/SyncGroup/Heartbeat/LeaveGroup rebalancing,
 * DescribeGroups/ListGroups/DeleteGroups, and committed offsets (OffsetCommit/OffsetFetch/
 * OffsetDelete, retention, deletion with their topic), for the groups whose
 * `__consumer_offsets` partition this broker leads (partitioner.ts). This class owns the
 * partitions (shards), loading, and the write and replay path; the protocol lives in
 * group-manager.ts (groups) and offset-manager.ts (offsets), which it calls once it has
 * resolved a group's shard.
 *
 * Each owned partition is a shard: `loading` (answers COORDINATOR_LOAD_IN_PROGRESS) while its
 * records are replayed from the log, then `loaded`. A group whose partition is not owned gets
 * NOT_COORDINATOR. On a broker the log's read first waits for the high watermark to cover the
 * log this node was elected leader with (replica-offsets-log.ts), so a load after a failover
 * holds every commit the previous coordinator acknowledged.
 *
 * Persistence (Kafka's CoordinatorResult model): an operation decides synchronously and
 * yields records plus a response; the records are appended to the shard's partition as one
 * batch (`OffsetsTopicLog.append`, resolving once durable), then replayed into the shard,
 * and only then is the response released. Appends are issued in operation order (and the
 * log keeps that order), so they pipeline; replays are chained in the same order.
 *
 * Offsets change only by replay. Group membership runs in memory, as Kafka's classic
 * protocol does (joins wait on each other, not on the log); its record is the group's
 * snapshot, written when a generation's assignment is handed out, when the group becomes
 * Empty, and when a static member is replaced; at load the snapshots rebuild the groups
 * (Stable with their members, or Empty). Tombstones delete offsets and groups.
 *
 * Time: every deadline is a timer on the injected Clock (session timeouts, the rebalance
 * timeout of the join phase, the initial rebalance delay, the sync deadline, the retention
 * check). A timer re-checks on firing that its shard, group and member are still the ones it
 * was set for, since the group may have moved on.
 *
 * State transitions are synchronous; after an await (an append) the shard and group are
 * re-checked before anything is touched.
 *
 * A failed write is logged through `faultLog` when given (keyed by kind and partition, the
 * first line at once, then one count per interval): every commit to a partition whose log
 * fails would otherwise write a line.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { Prng } from "../platform/prng.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { MetadataImage } from "../metadata/image.ts";
import type { Logger, LogFields } from "../util/log.ts";
import type { LogLimiter } from "../util/log-limiter.ts";
import type {
  DescribedGroupInfo,
  HeartbeatInput,
  JoinGroupInput,
  LeaveGroupOutcome,
  ListedGroupInfo,
  OffsetCommitInput,
  OffsetFetchOutcome,
  SyncGroupInput,
  TopicPartitionErrors,
} from "./api.ts";
import type { GroupCoordinatorConfig } from "./config.ts";
import { ClassicGroup, type JoinGroupOutcome, type SyncGroupOutcome } from "./group.ts";
import { ClassicGroupManager, describedGroupError, joinError, syncError } from "./group-manager.ts";
import { commitErrors, noOffset, OffsetManager } from "./offset-manager.ts";
import type { OffsetsTopicLog } from "./offsets-log.ts";
import { OFFSETS_TOPIC_NAME, offsetsPartitionFor } from "./partitioner.ts";
import { type CoordinatorRecord, decodeRecord, encodeRecord, type OffsetCommitValue, type RawRecord } from "./records.ts";
import { appendErrorToCoordinatorError, type CoordinatorResult, offsetKey, Shard } from "./shard.ts";

export type * from "./api.ts";
export { CONSUMER_PROTOCOL_TYPE, joinError, syncError } from "./group-manager.ts";
export { appendErrorToCoordinatorError, type CoordinatorResult } from "./shard.ts";

/** The group type ListGroups v5 reports for every group here (no KIP-848 groups yet). */
export const CLASSIC_GROUP_TYPE = "classic";

/** Backoff between attempts to load a partition whose log could not be read. */
export const LOAD_RETRY_BACKOFF_MS_MIN = 1000;
export const LOAD_RETRY_BACKOFF_MS_MAX = 60_000;

export interface GroupCoordinatorDeps {
  readonly config: GroupCoordinatorConfig;
  readonly clock: Clock;
  readonly prng: Prng;
  readonly log: OffsetsTopicLog;
  /** Partition count of a topic, or undefined when it does not exist (OffsetCommit checks it). */
  readonly topicPartitions: (topic: string) => number | undefined;
  readonly logger?: Logger;
  /** Where lines of failed writes are rate-limited (see the module doc); absent: not limited. */
  readonly faultLog?: LogLimiter;
}

export class GroupCoordinator {
  readonly #config: GroupCoordinatorConfig;
  readonly #clock: Clock;
  readonly #log: OffsetsTopicLog;
  readonly #logger: Logger | undefined;
  readonly #faultLog: LogLimiter | null;
  readonly #shards = new Map<number, Shard>();
  readonly #groups: ClassicGroupManager;
  readonly #offsets: OffsetManager;
  #cancelRetention: CancelTimer | null = null;
  #numPartitions: number | null = null;

  constructor(deps: GroupCoordinatorDeps) {
    this.#config = deps.config;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#logger = deps.logger;
    this.#faultLog = deps.faultLog ?? null;
    const runtime = {
      config: deps.config,
      clock: deps.clock,
      logger: deps.logger,
      write: <T>(shard: Shard, result: CoordinatorResult<T>, onError: (errorCode: number) => T, forOffsetCommit?: boolean): Promise<T> =>
        this.#write(shard, result, onError, forOffsetCommit ?? false),
      owns: (shard: Shard): boolean => this.#owns(shard),
      live: (shard: Shard, group: ClassicGroup): boolean => this.#live(shard, group),
    };
    this.#groups = new ClassicGroupManager(runtime, deps.prng);
    this.#offsets = new OffsetManager(runtime, this.#groups, deps.topicPartitions);
  }

  get config(): GroupCoordinatorConfig {
    return this.#config;
  }

  // ---------------------------------------------------------------- partitions, loading

  /**
   * How many partitions `__consumer_offsets` has: the existing topic's count once the
   * coordinator has seen it in the metadata (fixed from then on, as Kafka fixes it at startup:
   * a changed offsets.topic.num.partitions must not move groups away from their offsets), the
   * configured count before the topic exists.
   */
  get numPartitions(): number {
    return this.#numPartitions ?? this.#config.offsetsTopicNumPartitions;
  }

  /** The `__consumer_offsets` partition of a group. */
  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.numPartitions);
  }

  /** NONE when this coordinator serves the group now; else NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE. */
  coordinatorError(groupId: string): number {
    const s = this.#shardFor(groupId);
    return "errorCode" in s ? s.errorCode : ErrorCode.NONE;
  }

  ownedPartitions(): number[] {
    return [...this.#shards.keys()].sort((a, b) => a - b);
  }

  isLoading(partition: number): boolean {
    return this.#shards.get(partition)?.state.kind === "loading";
  }

  /**
   * Takes ownership of a partition (this broker became its leader): replays its records, then
   * serves its groups. Idempotent while owned. Resolves once loaded, failed or unloaded. The
   * read starts after the current turn, so metadata listeners registered after this one (the
   * replica manager creating the partition) have run. A failed load answers
   * COORDINATOR_NOT_AVAILABLE and is retried on the clock with a doubling backoff.
   */
  loadPartition(partition: number, leaderEpoch = -1): Promise<void> {
    if (!(Number.isInteger(partition) && partition >= 0 && partition < this.numPartitions)) {
      throw new RangeError(`loadPartition: ${partition} is not a partition of ${OFFSETS_TOPIC_NAME} (${this.numPartitions})`);
    }
    if (this.#shards.has(partition)) return Promise.resolve();
    return this.#load(new Shard(partition, leaderEpoch), LOAD_RETRY_BACKOFF_MS_MIN);
  }

  async #load(shard: Shard, backoffMs: number): Promise<void> {
    const partition = shard.partition;
    this.#shards.set(partition, shard);
    const current = (): boolean => this.#shards.get(partition) === shard;
    await Promise.resolve();
    let count = 0;
    try {
      for await (const raw of this.#log.read(partition)) {
        if (!current()) return;
        this.#replay(shard, decodeRecord(raw), true);
        count++;
      }
    } catch (e) {
      if (!current()) return;
      const reason = e instanceof Error ? e.message : String(e);
      shard.state = { kind: "failed", reason };
      this.#logger?.error("group coordinator: loading failed; will retry", { partition, retryMs: backoffMs, error: e instanceof Error ? e : reason });
      shard.cancelRetry = this.#clock.schedule(backoffMs, () => {
        if (!current()) return;
        void this.#load(new Shard(partition, shard.leaderEpoch), Math.min(backoffMs * 2, LOAD_RETRY_BACKOFF_MS_MAX));
      });
      return;
    }
    if (!current()) return;
    shard.state = { kind: "loaded" };
    for (const group of shard.groups.values()) {
      group.subscribedTopics = this.#groups.subscribedTopics(group);
      for (const member of group.members.values()) this.#groups.scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
    }
    if (count > 0) this.#logger?.info("group coordinator: loaded", { partition, records: count, groups: shard.groups.size });
    else this.#logger?.debug("group coordinator: loaded an empty partition", { partition });
  }

  /** Gives up a partition (leadership moved or the broker stops): waiting clients get NOT_COORDINATOR. */
  unloadPartition(partition: number): void {
    const shard = this.#shards.get(partition);
    if (shard === undefined) return;
    this.#shards.delete(partition);
    shard.cancelRetry?.();
    for (const group of shard.groups.values()) this.#groups.abandonGroup(group, ErrorCode.NOT_COORDINATOR);
    shard.groups.clear();
    shard.offsets.clear();
  }

  /**
   * Follows leadership of `__consumer_offsets` in a metadata image: loads the partitions this
   * node leads, unloads the others, and loads again a partition whose leader epoch moved on
   * while this node kept or won back the lead (images can skip the epochs in between, and
   * another leader may have written then). Call it with the current image at startup and from
   * a metadata listener.
   */
  onMetadataImage(image: MetadataImage, nodeId: number): void {
    const topic = image.topic(OFFSETS_TOPIC_NAME);
    if (topic !== undefined && this.#numPartitions === null) {
      if (topic.partitions.length !== this.#config.offsetsTopicNumPartitions) {
        this.#logger?.warn("__consumer_offsets has a partition count other than offsets.topic.num.partitions; using the topic's", {
          partitions: topic.partitions.length,
          configured: this.#config.offsetsTopicNumPartitions,
        });
      }
      for (const p of [...this.#shards.keys()]) if (p >= topic.partitions.length) this.unloadPartition(p);
      this.#numPartitions = topic.partitions.length;
    }
    for (let p = 0; p < this.numPartitions; p++) {
      const image = topic?.partitions[p];
      const leads = image !== undefined && image.leader === nodeId;
      const shard = this.#shards.get(p);
      if (shard !== undefined && (!leads || shard.leaderEpoch !== image.leaderEpoch)) this.unloadPartition(p);
      if (leads && !this.#shards.has(p)) void this.loadPartition(p, image.leaderEpoch);
    }
  }

  /**
   * Follows topic deletions between two metadata images: the committed offsets of a topic
   * that `previous` has and `next` does not (by topic id, so a delete and re-create counts) are
   * deleted in every loaded partition (offset-manager.ts). A partition still loading keeps
   * them, as Kafka's coordinator does. Call it from a metadata listener.
   */
  async onTopicsDeleted(previous: MetadataImage, next: MetadataImage): Promise<void> {
    const deleted = new Set<string>();
    for (const [topicId, topic] of previous.topicsById) if (!next.topicsById.has(topicId)) deleted.add(topic.name);
    if (deleted.size === 0) return;
    const passes: Promise<void>[] = [];
    for (const shard of this.#shards.values()) if (shard.state.kind === "loaded") passes.push(this.#offsets.deleteTopicOffsets(shard, deleted));
    await Promise.all(passes);
  }

  /** Starts the periodic offset-retention check on the clock. */
  start(): void {
    if (this.#cancelRetention !== null) return;
    const tick = (): void => {
      this.#cancelRetention = this.#clock.schedule(this.#config.offsetsRetentionCheckIntervalMs, tick);
      void this.expireOffsets();
    };
    this.#cancelRetention = this.#clock.schedule(this.#config.offsetsRetentionCheckIntervalMs, tick);
  }

  /** Stops timers and unloads every partition. */
  shutdown(): void {
    this.#cancelRetention?.();
    this.#cancelRetention = null;
    for (const p of [...this.#shards.keys()]) this.unloadPartition(p);
  }

  #shardFor(groupId: string): { shard: Shard } | { errorCode: number } {
    const shard = this.#shards.get(this.partitionFor(groupId));
    if (shard === undefined) return { errorCode: ErrorCode.NOT_COORDINATOR };
    switch (shard.state.kind) {
      case "loading":
        return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
      case "failed":
        return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
      case "loaded":
        return { shard };
    }
  }

  #owns(shard: Shard): boolean {
    return this.#shards.get(shard.partition) === shard && shard.state.kind === "loaded";
  }

  #live(shard: Shard, group: ClassicGroup): boolean {
    return this.#owns(shard) && shard.groups.get(group.groupId) === group;
  }

  // ---------------------------------------------------------------- records: write and replay

  /**
   * Appends a result's records to the shard's partition, replays them, then yields its
   * response; on a failed append yields `onError(coordinator error)` and replays nothing.
   */
  /** An error line about a write to a partition, which the next request there may cause again. */
  #logWriteFault(msg: string, fields: LogFields & { partition: number }): void {
    const logger = this.#logger;
    if (logger === undefined) return;
    if (this.#faultLog === null) logger.error(msg, fields);
    else this.#faultLog.log(logger, "error", `${msg} ${fields.partition}`, msg, fields);
  }

  #write<T>(shard: Shard, result: CoordinatorResult<T>, onError: (errorCode: number) => T, forOffsetCommit = false): Promise<T> {
    const { records, response } = result;
    if (records.length === 0) return Promise.resolve(response);
    let raw: RawRecord[];
    try {
      raw = records.map(encodeRecord);
    } catch (e) {
      // Only a value past a wire limit (a 32767-byte string) gets here; nothing was written.
      this.#logWriteFault("group coordinator: cannot encode records", { partition: shard.partition, error: e instanceof Error ? e : String(e) });
      return Promise.resolve(onError(ErrorCode.UNKNOWN_SERVER_ERROR));
    }
    if (this.#shards.get(shard.partition) !== shard) return Promise.resolve(onError(ErrorCode.NOT_COORDINATOR));
    // Appends are issued at once (the log keeps call order) so commits pipeline; their records
    // are replayed strictly in that order, each after its own append is acknowledged.
    let appended: Promise<number>;
    try {
      appended = this.#log.append(shard.partition, raw, this.#clock.nowMs()).then(
        (r) => r.errorCode,
        (e: unknown) => {
          this.#logWriteFault("group coordinator: append failed", { partition: shard.partition, error: e instanceof Error ? e : String(e) });
          return ErrorCode.UNKNOWN_SERVER_ERROR;
        },
      );
    } catch (e) {
      this.#logWriteFault("group coordinator: append failed", { partition: shard.partition, error: e instanceof Error ? e : String(e) });
      appended = Promise.resolve(ErrorCode.UNKNOWN_SERVER_ERROR);
    }
    const apply = async (): Promise<T> => {
      const errorCode = await appended;
      if (this.#shards.get(shard.partition) !== shard || shard.state.kind !== "loaded") return onError(ErrorCode.NOT_COORDINATOR);
      if (errorCode !== ErrorCode.NONE) return onError(appendErrorToCoordinatorError(errorCode, forOffsetCommit));
      for (const r of records) this.#replay(shard, r, false);
      return response;
    };
    const written = shard.tail.then(apply, apply);
    shard.tail = written.catch(() => undefined);
    return written;
  }

  /**
   * Applies one record to a shard. Offsets: set or delete (a commit for an unknown group
   * creates it, Empty, as Kafka does). Group snapshots rebuild the group while loading; live,
   * the group already is what its snapshot says. A group tombstone removes the group.
   */
  #replay(shard: Shard, record: CoordinatorRecord, loading: boolean): void {
    switch (record.kind) {
      case "offsetCommit": {
        const key = offsetKey(record.topic, record.partition);
        if (record.value === null) {
          const offsets = shard.offsets.get(record.group);
          offsets?.delete(key);
          if (offsets?.size === 0) shard.offsets.delete(record.group);
          return;
        }
        let offsets = shard.offsets.get(record.group);
        if (offsets === undefined) {
          offsets = new Map();
          shard.offsets.set(record.group, offsets);
        }
        offsets.set(key, { topic: record.topic, partition: record.partition, value: record.value });
        if (!shard.groups.has(record.group)) shard.groups.set(record.group, new ClassicGroup(record.group, loading ? null : this.#clock.nowMs()));
        return;
      }
      case "groupMetadata": {
        if (record.value === null) {
          const group = shard.groups.get(record.group);
          if (group !== undefined) this.#groups.abandonGroup(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
          shard.groups.delete(record.group);
          return;
        }
        if (loading) shard.groups.set(record.group, ClassicGroup.fromRecordValue(record.group, record.value));
        return;
      }
      case "unknown":
        return;
    }
  }

  // ---------------------------------------------------------------- the operations

  joinGroup(req: JoinGroupInput): Promise<JoinGroupOutcome> {
    if (req.groupId === "") return Promise.resolve(joinError(ErrorCode.INVALID_GROUP_ID, req.memberId));
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return Promise.resolve(joinError(s.errorCode, req.memberId));
    return this.#groups.joinGroup(s.shard, req);
  }

  syncGroup(req: SyncGroupInput): Promise<SyncGroupOutcome> {
    if (req.groupId === "") return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return Promise.resolve(syncError(s.errorCode));
    return this.#groups.syncGroup(s.shard, req);
  }

  heartbeat(req: HeartbeatInput): number {
    if (req.groupId === "") return ErrorCode.INVALID_GROUP_ID;
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return s.errorCode;
    return this.#groups.heartbeat(s.shard, req);
  }

  /**
   * Removes members (LeaveGroup v3+ batches them). A member is named by member id, or by
   * group instance id alone (member id ""). Per-member errors; the top level only for the group.
   */
  leaveGroup(groupId: string, members: readonly { memberId: string; groupInstanceId: string | null }[]): LeaveGroupOutcome {
    if (groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) return { errorCode: s.errorCode, members: [] };
    return this.#groups.leaveGroup(s.shard, groupId, members);
  }

  describeGroup(groupId: string): DescribedGroupInfo {
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) return describedGroupError(groupId, s.errorCode, "");
    return this.#groups.describeGroup(s.shard, groupId);
  }

  /** Groups of the loaded partitions; COORDINATOR_LOAD_IN_PROGRESS (with the rest) while any loads. */
  listGroups(statesFilter: readonly string[], typesFilter: readonly string[]): { errorCode: number; groups: ListedGroupInfo[] } {
    const states = new Set(statesFilter.map((x) => x.toLowerCase()));
    const types = new Set(typesFilter.map((x) => x.toLowerCase()));
    let errorCode: number = ErrorCode.NONE;
    const groups: ListedGroupInfo[] = [];
    for (const shard of this.#shards.values()) {
      if (shard.state.kind !== "loaded") {
        errorCode = ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
        continue;
      }
      for (const g of shard.groups.values()) {
        if (g.is("Dead")) continue;
        if (states.size > 0 && !states.has(g.stateName.toLowerCase())) continue;
        if (types.size > 0 && !types.has(CLASSIC_GROUP_TYPE)) continue;
        groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? "", state: g.stateName, groupType: CLASSIC_GROUP_TYPE });
      }
    }
    groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return { errorCode, groups };
  }

  /** Deletes empty groups with their offsets (tombstones); NON_EMPTY_GROUP for groups with members. */
  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const results: Promise<{ groupId: string; errorCode: number }>[] = [];
    for (const groupId of groupIds) {
      const s = this.#shardFor(groupId);
      if ("errorCode" in s) {
        results.push(Promise.resolve({ groupId, errorCode: s.errorCode }));
        continue;
      }
      const { shard } = s;
      const group = shard.groups.get(groupId);
      if (group === undefined || group.is("Dead")) {
        results.push(Promise.resolve({ groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND }));
        continue;
      }
      if (!group.is("Empty") || group.pendingMembers.size > 0) {
        results.push(Promise.resolve({ groupId, errorCode: ErrorCode.NON_EMPTY_GROUP }));
        continue;
      }
      results.push(this.#groups.deleteEmptyGroup(shard, group, [...(shard.offsets.get(groupId)?.values() ?? [])]).then((errorCode) => ({ groupId, errorCode })));
    }
    return Promise.all(results);
  }


  commitOffsets(req: OffsetCommitInput): Promise<TopicPartitionErrors[]> {
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return Promise.resolve(commitErrors(req, s.errorCode));
    return this.#offsets.commitOffsets(s.shard, req);
  }

  /**
   * Committed offsets of a group: the requested partitions (-1 where none), or every committed
   * one when `topics` is null. A group that does not exist has no offsets, not an error.
   * `requireStable`: no transactional offsets exist yet, so nothing is ever unstable.
   */
  fetchOffsets(groupId: string, topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null, requireStable: boolean): OffsetFetchOutcome {
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) {
      const errorCode = s.errorCode;
      return {
        errorCode,
        topics: (topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => ({ ...noOffset(p), errorCode })) })),
      };
    }
    return this.#offsets.fetchOffsets(s.shard, groupId, topics, requireStable);
  }

  /** OffsetDelete: removes committed offsets of partitions the group does not consume now. */
  deleteOffsets(groupId: string, topics: readonly { name: string; partitionIndexes: readonly number[] }[]): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    if (groupId === "") return Promise.resolve({ errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] });
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) return Promise.resolve({ errorCode: s.errorCode, topics: [] });
    return this.#offsets.deleteOffsets(s.shard, groupId, topics);
  }

  /** One retention pass over every loaded partition (offset-manager.ts has the rules). */
  async expireOffsets(): Promise<void> {
    const passes: Promise<void>[] = [];
    for (const shard of this.#shards.values()) if (shard.state.kind === "loaded") passes.push(this.#offsets.expireOffsets(shard));
    await Promise.all(passes);
  }

  // ---------------------------------------------------------------- inspection (tests, tools)

  /** A group as seen now, or undefined. */
  group(groupId: string): ClassicGroup | undefined {
    return this.#shards.get(this.partitionFor(groupId))?.groups.get(groupId);
  }

  /** Every committed offset of a loaded partition, for comparing replays: group → topic → partition → value. */
  offsetsSnapshot(partition: number): Map<string, Map<string, OffsetCommitValue>> {
    const out = new Map<string, Map<string, OffsetCommitValue>>();
    for (const [group, offsets] of this.#shards.get(partition)?.offsets ?? []) {
      out.set(group, new Map([...offsets.values()].map((o) => [`${o.topic}-${o.partition}`, o.value])));
    }
    return out;
  }
}
