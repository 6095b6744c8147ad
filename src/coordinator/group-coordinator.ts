/**
 * The classic group coordinator: JoinGroup/SyncGroup/Heartbeat/LeaveGroup rebalancing,
 * DescribeGroups/ListGroups/DeleteGroups, and committed offsets (OffsetCommit/OffsetFetch/
 * OffsetDelete, retention), for the groups whose `__consumer_offsets` partition this broker
 * leads (partitioner.ts).
 *
 * Each owned partition is a shard: `loading` (answers COORDINATOR_LOAD_IN_PROGRESS) while its
 * records are replayed from the log, then `loaded`. A group whose partition is not owned gets
 * NOT_COORDINATOR.
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
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { Prng } from "../platform/prng.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { MetadataImage } from "../metadata/image.ts";
import type { Logger } from "../util/log.ts";
import { type GroupCoordinatorConfig, NEW_MEMBER_JOIN_TIMEOUT_MS } from "./config.ts";
import {
  ClassicGroup,
  consumerSubscriptionTopics,
  GroupMember,
  type GroupProtocol,
  type GroupStateName,
  type JoinGroupOutcome,
  type SyncGroupOutcome,
} from "./group.ts";
import type { OffsetsTopicLog } from "./offsets-log.ts";
import { OFFSETS_TOPIC_NAME, offsetsPartitionFor } from "./partitioner.ts";
import {
  type CoordinatorRecord,
  decodeRecord,
  encodeRecord,
  groupMetadataRecord,
  offsetCommitRecord,
  type OffsetCommitValue,
  type RawRecord,
} from "./records.ts";

export const CONSUMER_PROTOCOL_TYPE = "consumer";
/** The group type ListGroups v5 reports for every group here (no KIP-848 groups yet). */
export const CLASSIC_GROUP_TYPE = "classic";

const EMPTY_BYTES = new Uint8Array(0);

export interface GroupCoordinatorDeps {
  readonly config: GroupCoordinatorConfig;
  readonly clock: Clock;
  readonly prng: Prng;
  readonly log: OffsetsTopicLog;
  /** Partition count of a topic, or undefined when it does not exist (OffsetCommit checks it). */
  readonly topicPartitions: (topic: string) => number | undefined;
  readonly logger?: Logger;
}

export interface JoinGroupInput {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly GroupProtocol[];
  /** JoinGroup v4+: a new member is first given its id with MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader may be told to skip the assignment. */
  supportsSkipAssignment: boolean;
}

export interface SyncGroupInput {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** v5+: checked against the group's when not null. */
  protocolType: string | null;
  protocolName: string | null;
  assignments: readonly { memberId: string; assignment: Uint8Array }[];
}

export interface HeartbeatInput {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupOutcome {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export interface DescribedGroupInfo {
  groupId: string;
  errorCode: number;
  state: string;
  protocolType: string;
  protocolData: string;
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Uint8Array; assignment: Uint8Array }[];
}

export interface ListedGroupInfo {
  groupId: string;
  protocolType: string;
  state: GroupStateName;
  groupType: string;
}

export interface OffsetCommitInput {
  groupId: string;
  /** -1: a commit from outside the group (simple consumer / admin). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2–v4; -1: the broker's retention. */
  retentionTimeMs: number;
  apiVersion: number;
  topics: readonly {
    name: string;
    partitions: readonly {
      partitionIndex: number;
      committedOffset: number;
      committedLeaderEpoch: number;
      /** OffsetCommit v1; -1: now. */
      commitTimestampMs: number;
      committedMetadata: string | null;
    }[];
  }[];
}

export interface TopicPartitionErrors {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

export interface FetchedOffset {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchOutcome {
  errorCode: number;
  topics: { name: string; partitions: FetchedOffset[] }[];
}

/** What an operation decided: the records to make durable, and the answer once they are. */
export interface CoordinatorResult<T> {
  records: CoordinatorRecord[];
  response: T;
}

type ShardState = { readonly kind: "loading" } | { readonly kind: "loaded" } | { readonly kind: "failed"; readonly reason: string };

interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly value: OffsetCommitValue;
}

/** The coordinator's state for one owned `__consumer_offsets` partition. */
class Shard {
  state: ShardState = { kind: "loading" };
  readonly groups = new Map<string, ClassicGroup>();
  /** group → "topic\0partition" → offset. */
  readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  /** The chain of appends: each waits for the previous one, so replay follows log order. */
  tail: Promise<unknown> = Promise.resolve();
  /** Set while a failed load waits to be retried. */
  cancelRetry: CancelTimer | null = null;
  constructor(readonly partition: number) {}
}

/** Backoff between attempts to load a partition whose log could not be read. */
export const LOAD_RETRY_BACKOFF_MS_MIN = 1000;
export const LOAD_RETRY_BACKOFF_MS_MAX = 60_000;

const offsetKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** What a failed append of the coordinator's records means to its client (Kafka's mapping). */
export function appendErrorToCoordinatorError(errorCode: number, forOffsetCommit: boolean): number {
  switch (errorCode) {
    case ErrorCode.NONE:
      return ErrorCode.NONE;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return forOffsetCommit ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE : ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}

export class GroupCoordinator {
  readonly #config: GroupCoordinatorConfig;
  readonly #clock: Clock;
  readonly #prng: Prng;
  readonly #log: OffsetsTopicLog;
  readonly #topicPartitions: (topic: string) => number | undefined;
  readonly #logger: Logger | undefined;
  readonly #shards = new Map<number, Shard>();
  #cancelRetention: CancelTimer | null = null;

  constructor(deps: GroupCoordinatorDeps) {
    this.#config = deps.config;
    this.#clock = deps.clock;
    this.#prng = deps.prng;
    this.#log = deps.log;
    this.#topicPartitions = deps.topicPartitions;
    this.#logger = deps.logger;
  }

  get config(): GroupCoordinatorConfig {
    return this.#config;
  }

  // ---------------------------------------------------------------- partitions, loading

  /** The `__consumer_offsets` partition of a group. */
  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.#config.offsetsTopicNumPartitions);
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
  loadPartition(partition: number): Promise<void> {
    if (!(Number.isInteger(partition) && partition >= 0 && partition < this.#config.offsetsTopicNumPartitions)) {
      throw new RangeError(`loadPartition: ${partition} is not a partition of ${OFFSETS_TOPIC_NAME} (${this.#config.offsetsTopicNumPartitions})`);
    }
    if (this.#shards.has(partition)) return Promise.resolve();
    return this.#load(new Shard(partition), LOAD_RETRY_BACKOFF_MS_MIN);
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
        void this.#load(new Shard(partition), Math.min(backoffMs * 2, LOAD_RETRY_BACKOFF_MS_MAX));
      });
      return;
    }
    if (!current()) return;
    shard.state = { kind: "loaded" };
    for (const group of shard.groups.values()) {
      group.subscribedTopics = this.#subscribedTopics(group);
      for (const member of group.members.values()) this.#scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
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
    for (const group of shard.groups.values()) this.#abandonGroup(group, ErrorCode.NOT_COORDINATOR);
    shard.groups.clear();
    shard.offsets.clear();
  }

  /**
   * Follows leadership of `__consumer_offsets` in a metadata image: loads the partitions this
   * node leads, unloads the others. Call it with the current image at startup and from a
   * metadata listener.
   */
  onMetadataImage(image: MetadataImage, nodeId: number): void {
    const topic = image.topic(OFFSETS_TOPIC_NAME);
    for (let p = 0; p < this.#config.offsetsTopicNumPartitions; p++) {
      const leads = topic?.partitions[p]?.leader === nodeId;
      if (leads && !this.#shards.has(p)) void this.loadPartition(p);
      else if (!leads && this.#shards.has(p)) this.unloadPartition(p);
    }
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

  #live(shard: Shard, group: ClassicGroup): boolean {
    return this.#shards.get(shard.partition) === shard && shard.state.kind === "loaded" && shard.groups.get(group.groupId) === group;
  }

  /** Cancels a group's timers and answers its waiting members. */
  #abandonGroup(group: ClassicGroup, errorCode: number): void {
    group.cancelJoinTimer?.();
    group.cancelJoinTimer = null;
    group.cancelSyncTimer?.();
    group.cancelSyncTimer = null;
    for (const cancel of group.pendingMembers.values()) cancel();
    group.pendingMembers.clear();
    for (const m of group.members.values()) {
      m.cancelHeartbeat?.();
      m.cancelHeartbeat = null;
      const join = m.awaitingJoin;
      m.awaitingJoin = null;
      join?.(joinError(errorCode, m.memberId));
      const sync = m.awaitingSync;
      m.awaitingSync = null;
      sync?.(syncError(errorCode));
    }
  }

  // ---------------------------------------------------------------- records: write and replay

  /**
   * Appends a result's records to the shard's partition, replays them, then yields its
   * response; on a failed append yields `onError(coordinator error)` and replays nothing.
   */
  #write<T>(shard: Shard, result: CoordinatorResult<T>, onError: (errorCode: number) => T, forOffsetCommit = false): Promise<T> {
    const { records, response } = result;
    if (records.length === 0) return Promise.resolve(response);
    let raw: RawRecord[];
    try {
      raw = records.map(encodeRecord);
    } catch (e) {
      // Only a value past a wire limit (a 32767-byte string) gets here; nothing was written.
      this.#logger?.error("group coordinator: cannot encode records", { partition: shard.partition, error: e instanceof Error ? e : String(e) });
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
          this.#logger?.error("group coordinator: append failed", { partition: shard.partition, error: e instanceof Error ? e : String(e) });
          return ErrorCode.UNKNOWN_SERVER_ERROR;
        },
      );
    } catch (e) {
      this.#logger?.error("group coordinator: append failed", { partition: shard.partition, error: e instanceof Error ? e : String(e) });
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
          if (group !== undefined) this.#abandonGroup(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
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

  // ---------------------------------------------------------------- timers

  #scheduleHeartbeat(shard: Shard, group: ClassicGroup, member: GroupMember, timeoutMs: number): void {
    member.cancelHeartbeat?.();
    member.heartbeatDeadlineMs = this.#clock.monotonicMs() + timeoutMs;
    member.cancelHeartbeat = this.#clock.schedule(timeoutMs, () => {
      member.cancelHeartbeat = null;
      if (!this.#live(shard, group) || group.members.get(member.memberId) !== member) return;
      // A member waiting in a join or sync is answered by that phase's own deadline.
      if (member.shouldKeepAlive()) return;
      this.#logger?.info("group coordinator: member session expired", { group: group.groupId, member: member.memberId });
      this.#removeMemberAndUpdateGroup(shard, group, member);
    });
  }

  #schedulePendingMember(shard: Shard, group: ClassicGroup, memberId: string, timeoutMs: number): void {
    group.pendingMembers.get(memberId)?.();
    const cancel = this.#clock.schedule(timeoutMs, () => {
      if (!this.#live(shard, group) || group.pendingMembers.get(memberId) !== cancel) return;
      group.pendingMembers.delete(memberId);
      this.#maybeCompleteJoin(shard, group);
    });
    group.pendingMembers.set(memberId, cancel);
  }

  // ---------------------------------------------------------------- JoinGroup

  joinGroup(req: JoinGroupInput): Promise<JoinGroupOutcome> {
    if (req.groupId === "") return Promise.resolve(joinError(ErrorCode.INVALID_GROUP_ID, req.memberId));
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return Promise.resolve(joinError(s.errorCode, req.memberId));
    const { shard } = s;
    if (req.sessionTimeoutMs < this.#config.groupMinSessionTimeoutMs || req.sessionTimeoutMs > this.#config.groupMaxSessionTimeoutMs) {
      return Promise.resolve(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    if (req.protocolType === "" || req.protocols.length === 0) return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    let group = shard.groups.get(req.groupId);
    if (group === undefined) {
      if (req.memberId !== "") return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
      group = new ClassicGroup(req.groupId, this.#clock.nowMs());
      shard.groups.set(req.groupId, group);
    }
    if (group.is("Dead")) return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (!group.supportsProtocols(req.protocolType, req.protocols)) {
      return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    if (!this.#acceptJoiningMember(group, req.memberId)) return Promise.resolve(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, req.memberId));
    const g = group;
    return new Promise<JoinGroupOutcome>((resolve) => {
      if (req.memberId === "") this.#newMemberJoin(shard, g, req, resolve);
      else this.#currentMemberJoin(shard, g, req, resolve);
      g.checkInvariants();
    });
  }

  #acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.#config.groupMaxSize;
    switch (group.stateName) {
      case "Empty":
      case "Dead":
        return true;
      case "PreparingRebalance":
        return (group.members.get(memberId)?.awaitingJoin ?? null) !== null || group.numAwaitingJoin() < max;
      case "CompletingRebalance":
      case "Stable":
        return group.has(memberId) || group.size < max;
    }
  }

  #newMemberId(clientId: string): string {
    const b = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) {
      const v = this.#prng.nextU32();
      b[i] = v >>> 24;
      b[i + 1] = (v >>> 16) & 0xff;
      b[i + 2] = (v >>> 8) & 0xff;
      b[i + 3] = v & 0xff;
    }
    b[6] = (b[6]! & 0x0f) | 0x40; // version 4
    b[8] = (b[8]! & 0x3f) | 0x80; // IETF variant
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${clientId}-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  #newMemberJoin(shard: Shard, group: ClassicGroup, req: JoinGroupInput, resolve: (o: JoinGroupOutcome) => void): void {
    const memberId = this.#newMemberId(req.clientId);
    if (req.groupInstanceId !== null) {
      this.#staticMemberJoin(shard, group, req, memberId, resolve);
    } else if (req.requireKnownMemberId) {
      // The member must come back with this id; until then it only counts for completing the join.
      this.#schedulePendingMember(shard, group, memberId, req.sessionTimeoutMs);
      resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId));
    } else {
      this.#addMemberAndRebalance(shard, group, req, memberId, resolve);
    }
  }

  #staticMemberJoin(shard: Shard, group: ClassicGroup, req: JoinGroupInput, newMemberId: string, resolve: (o: JoinGroupOutcome) => void): void {
    const instanceId = req.groupInstanceId!;
    const oldMemberId = group.staticMemberId(instanceId);
    if (oldMemberId === undefined) {
      this.#addMemberAndRebalance(shard, group, req, newMemberId, resolve);
      return;
    }
    const member = group.members.get(oldMemberId)!;
    // The old incarnation is fenced: its waiting requests are answered now.
    const oldJoin = member.awaitingJoin;
    member.awaitingJoin = null;
    oldJoin?.(joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId));
    const oldSync = member.awaitingSync;
    member.awaitingSync = null;
    oldSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    const old = { protocols: member.protocols, rebalanceTimeoutMs: member.rebalanceTimeoutMs, sessionTimeoutMs: member.sessionTimeoutMs };
    group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    switch (group.stateName) {
      case "Stable": {
        if (group.selectProtocol() !== group.protocolName) {
          // The next generation's protocol changes: the assignor must run again.
          member.awaitingJoin = resolve;
          this.#maybePrepareRebalance(shard, group);
          this.#maybeCompleteJoin(shard, group);
          return;
        }
        // Same protocol: the new incarnation takes the old one's place and assignment, no rebalance.
        this.#scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        const isLeader = group.isLeader(newMemberId);
        const generation = group.generationId;
        const ok: JoinGroupOutcome = {
          errorCode: ErrorCode.NONE,
          generationId: group.generationId,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          leader: group.leaderId ?? "",
          memberId: newMemberId,
          members: isLeader ? this.#memberMetadata(group) : [],
          skipAssignment: isLeader && req.supportsSkipAssignment,
        };
        void this.#write(shard, { records: [groupMetadataRecord(group.groupId, group.toRecordValue())], response: ok }, (errorCode) => {
          // Not persisted: put the old incarnation back, as if this join never happened.
          if (this.#live(shard, group) && group.generationId === generation && group.members.get(newMemberId) === member) {
            group.replaceStaticMember(instanceId, newMemberId, oldMemberId);
            member.protocols = old.protocols;
            member.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
            member.sessionTimeoutMs = old.sessionTimeoutMs;
          }
          return joinError(errorCode, newMemberId);
        }).then(resolve);
        return;
      }
      case "CompletingRebalance":
        // The leader may already hold the old member id in its assignment: rebalance again.
        member.awaitingJoin = resolve;
        this.#maybePrepareRebalance(shard, group);
        this.#maybeCompleteJoin(shard, group);
        return;
      case "PreparingRebalance":
        member.awaitingJoin = resolve;
        this.#maybeCompleteJoin(shard, group);
        return;
      case "Empty":
      case "Dead":
        throw new Error(`group ${group.groupId}: static member ${instanceId} in a ${group.stateName} group`);
    }
  }

  #addMemberAndRebalance(shard: Shard, group: ClassicGroup, req: JoinGroupInput, memberId: string, resolve: (o: JoinGroupOutcome) => void): void {
    const member = new GroupMember({
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
    });
    member.isNew = true;
    member.awaitingJoin = resolve;
    // A join during the initial delay of a new group may extend the delay.
    if (group.is("PreparingRebalance") && group.generationId === 0) group.newMemberAdded = true;
    group.pendingMembers.get(memberId)?.();
    group.pendingMembers.delete(memberId);
    group.add(member);
    this.#scheduleHeartbeat(shard, group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.#maybePrepareRebalance(shard, group);
    this.#maybeCompleteJoin(shard, group);
  }

  #currentMemberJoin(shard: Shard, group: ClassicGroup, req: JoinGroupInput, resolve: (o: JoinGroupOutcome) => void): void {
    const memberId = req.memberId;
    if (group.pendingMembers.has(memberId)) {
      this.#addMemberAndRebalance(shard, group, req, memberId, resolve);
      return;
    }
    if (group.isStaticMemberFenced(memberId, req.groupInstanceId)) {
      resolve(joinError(ErrorCode.FENCED_INSTANCE_ID, memberId));
      return;
    }
    const member = group.members.get(memberId);
    if (member === undefined) {
      resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
      return;
    }
    switch (group.stateName) {
      case "PreparingRebalance":
        this.#updateMemberAndRebalance(shard, group, member, req, resolve);
        return;
      case "CompletingRebalance":
        if (member.matches(req.protocols)) {
          // A retried JoinGroup of this generation: answer it again.
          resolve(this.#joinResponse(group, member));
        } else {
          this.#updateMemberAndRebalance(shard, group, member, req, resolve);
        }
        return;
      case "Stable":
        if (group.isLeader(memberId) || !member.matches(req.protocols)) {
          // The leader rejoining, or changed metadata (new subscription, cooperative revocation done): rebalance.
          this.#updateMemberAndRebalance(shard, group, member, req, resolve);
        } else {
          resolve(this.#joinResponse(group, member));
        }
        return;
      case "Empty":
      case "Dead":
        resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
        return;
    }
  }

  #updateMemberAndRebalance(shard: Shard, group: ClassicGroup, member: GroupMember, req: JoinGroupInput, resolve: (o: JoinGroupOutcome) => void): void {
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    const previous = member.awaitingJoin;
    member.awaitingJoin = resolve;
    previous?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    this.#maybePrepareRebalance(shard, group);
    this.#maybeCompleteJoin(shard, group);
  }

  #memberMetadata(group: ClassicGroup): JoinGroupOutcome["members"] {
    const protocol = group.protocolName;
    if (protocol === null) return [];
    return [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(protocol) }));
  }

  #joinResponse(group: ClassicGroup, member: GroupMember): JoinGroupOutcome {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? "",
      memberId: member.memberId,
      members: group.isLeader(member.memberId) ? this.#memberMetadata(group) : [],
      skipAssignment: false,
    };
  }

  #maybePrepareRebalance(shard: Shard, group: ClassicGroup): void {
    if (group.is("Stable") || group.is("CompletingRebalance") || group.is("Empty")) this.#prepareRebalance(shard, group);
  }

  #prepareRebalance(shard: Shard, group: ClassicGroup): void {
    if (group.is("CompletingRebalance")) this.#resetAndPropagateAssignmentWithError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    group.cancelSyncTimer?.();
    group.cancelSyncTimer = null;
    group.pendingSync.clear();
    const delayMs = this.#config.groupInitialRebalanceDelayMs;
    const initial = group.is("Empty") && delayMs > 0;
    group.transitionTo({ kind: "PreparingRebalance", initialDelay: initial }, this.#clock.nowMs());
    group.cancelJoinTimer?.();
    if (initial) {
      group.newMemberAdded = false;
      this.#scheduleInitialJoin(shard, group, delayMs, Math.max(group.rebalanceTimeoutMs() - delayMs, 0));
    } else {
      group.cancelJoinTimer = this.#clock.schedule(group.rebalanceTimeoutMs(), () => {
        group.cancelJoinTimer = null;
        if (this.#live(shard, group)) this.#completeJoin(shard, group);
      });
    }
  }

  /** The initial delay of a new group: extended while members keep arriving, up to the rebalance timeout. */
  #scheduleInitialJoin(shard: Shard, group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.cancelJoinTimer = this.#clock.schedule(delayMs, () => {
      group.cancelJoinTimer = null;
      if (!this.#live(shard, group) || !group.is("PreparingRebalance")) return;
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false;
        const next = Math.min(this.#config.groupInitialRebalanceDelayMs, remainingMs);
        this.#scheduleInitialJoin(shard, group, next, remainingMs - next);
      } else {
        this.#completeJoin(shard, group);
      }
    });
  }

  #maybeCompleteJoin(shard: Shard, group: ClassicGroup): void {
    const state = group.state;
    if (state.kind === "PreparingRebalance" && !state.initialDelay && group.hasAllMembersJoined()) this.#completeJoin(shard, group);
  }

  /** Ends the join phase: drops members that did not rejoin, starts the next generation, answers the joins. */
  #completeJoin(shard: Shard, group: ClassicGroup): void {
    group.cancelJoinTimer?.();
    group.cancelJoinTimer = null;
    if (!group.is("PreparingRebalance")) return;
    const now = this.#clock.nowMs();
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin !== null) continue;
      member.cancelHeartbeat?.();
      member.cancelHeartbeat = null;
      group.remove(member.memberId);
    }
    if (group.size > 0 && group.candidateProtocols().length === 0) {
      // Members changed protocols until none is common: nobody can be served; all must rejoin.
      for (const member of [...group.members.values()]) {
        const join = member.awaitingJoin;
        member.awaitingJoin = null;
        member.cancelHeartbeat?.();
        group.remove(member.memberId);
        join?.(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, member.memberId));
      }
    }
    if (group.size === 0) {
      group.generationId++;
      group.protocolName = null;
      group.subscribedTopics = null;
      group.transitionTo({ kind: "Empty" }, now);
      group.checkInvariants();
      const generation = group.generationId;
      void this.#write(shard, { records: [groupMetadataRecord(group.groupId, group.toRecordValue())], response: ErrorCode.NONE as number }, (e) => e).then((errorCode) => {
        if (errorCode !== ErrorCode.NONE) {
          this.#logger?.warn("group coordinator: could not persist the empty group", { group: group.groupId, generation, errorCode });
        }
      });
      return;
    }
    group.generationId++;
    group.protocolName = group.selectProtocol();
    group.subscribedTopics = this.#subscribedTopics(group);
    group.transitionTo({ kind: "CompletingRebalance" }, now);
    group.pendingSync.clear();
    for (const id of group.members.keys()) group.pendingSync.add(id);
    group.checkInvariants();
    for (const member of group.members.values()) {
      const join = member.awaitingJoin!;
      member.awaitingJoin = null;
      member.isNew = false;
      this.#scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
      join(this.#joinResponse(group, member));
    }
    const generation = group.generationId;
    group.cancelSyncTimer = this.#clock.schedule(group.rebalanceTimeoutMs(), () => {
      group.cancelSyncTimer = null;
      if (!this.#live(shard, group) || group.generationId !== generation) return;
      if (!(group.is("CompletingRebalance") || group.is("Stable")) || group.pendingSync.size === 0) return;
      // Members that never sent SyncGroup: drop them and rebalance without them.
      for (const id of [...group.pendingSync]) {
        const member = group.members.get(id);
        if (member !== undefined) this.#removeMemberAndUpdateGroup(shard, group, member);
      }
    });
  }

  #subscribedTopics(group: ClassicGroup): ReadonlySet<string> | null {
    if (group.protocolType !== CONSUMER_PROTOCOL_TYPE || group.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of group.members.values()) {
      const t = consumerSubscriptionTopics(m.metadataFor(group.protocolName));
      if (t === null) return null;
      for (const x of t) topics.add(x);
    }
    return topics;
  }

  #resetAndPropagateAssignmentWithError(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) {
      m.assignment = EMPTY_BYTES;
      const sync = m.awaitingSync;
      m.awaitingSync = null;
      sync?.(syncError(errorCode));
    }
  }

  #removeMemberAndUpdateGroup(shard: Shard, group: ClassicGroup, member: GroupMember): void {
    member.cancelHeartbeat?.();
    member.cancelHeartbeat = null;
    const join = member.awaitingJoin;
    member.awaitingJoin = null;
    const sync = member.awaitingSync;
    member.awaitingSync = null;
    group.remove(member.memberId);
    join?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    sync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    switch (group.stateName) {
      case "Dead":
      case "Empty":
        break;
      case "Stable":
      case "CompletingRebalance":
        this.#maybePrepareRebalance(shard, group);
        this.#maybeCompleteJoin(shard, group);
        break;
      case "PreparingRebalance":
        this.#maybeCompleteJoin(shard, group);
        break;
    }
    group.checkInvariants();
  }

  // ---------------------------------------------------------------- SyncGroup

  syncGroup(req: SyncGroupInput): Promise<SyncGroupOutcome> {
    if (req.groupId === "") return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return Promise.resolve(syncError(s.errorCode));
    const { shard } = s;
    const group = shard.groups.get(req.groupId);
    if (group === undefined) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is("Dead")) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const invalid = group.validateMember(req.memberId, req.groupInstanceId);
    if (invalid !== ErrorCode.NONE) return Promise.resolve(syncError(invalid));
    const member = group.members.get(req.memberId)!;
    if (req.generationId !== group.generationId) return Promise.resolve(syncError(ErrorCode.ILLEGAL_GENERATION));
    if ((req.protocolType !== null && req.protocolType !== group.protocolType) || (req.protocolName !== null && req.protocolName !== group.protocolName)) {
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    switch (group.stateName) {
      case "Empty":
      case "Dead":
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case "PreparingRebalance":
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case "Stable":
        group.pendingSync.delete(member.memberId);
        this.#scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        return Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
      case "CompletingRebalance":
        return new Promise<SyncGroupOutcome>((resolve) => {
          const previous = member.awaitingSync;
          member.awaitingSync = resolve;
          previous?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
          group.pendingSync.delete(member.memberId);
          this.#scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
          if (group.isLeader(member.memberId)) this.#storeAssignment(shard, group, req.assignments);
        });
    }
  }

  /** The leader's assignment: persisted with the group, then handed to every waiting member. */
  #storeAssignment(shard: Shard, group: ClassicGroup, assignments: SyncGroupInput["assignments"]): void {
    const byMember = new Map<string, Uint8Array>();
    for (const a of assignments) if (group.has(a.memberId)) byMember.set(a.memberId, a.assignment);
    const snapshot = group.toRecordValue();
    for (const m of snapshot.members) m.assignment = byMember.get(m.memberId) ?? EMPTY_BYTES;
    const generation = group.generationId;
    void this.#write(shard, { records: [groupMetadataRecord(group.groupId, snapshot)], response: ErrorCode.NONE as number }, (e) => e).then((errorCode) => {
      if (!this.#live(shard, group) || !group.is("CompletingRebalance") || group.generationId !== generation) return;
      if (errorCode !== ErrorCode.NONE) {
        this.#resetAndPropagateAssignmentWithError(group, errorCode);
        this.#maybePrepareRebalance(shard, group);
        return;
      }
      for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY_BYTES;
      group.transitionTo({ kind: "Stable" }, this.#clock.nowMs());
      for (const m of group.members.values()) {
        const sync = m.awaitingSync;
        m.awaitingSync = null;
        sync?.({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: m.assignment });
      }
      group.checkInvariants();
    });
  }

  // ---------------------------------------------------------------- Heartbeat, LeaveGroup

  heartbeat(req: HeartbeatInput): number {
    if (req.groupId === "") return ErrorCode.INVALID_GROUP_ID;
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return s.errorCode;
    const { shard } = s;
    const group = shard.groups.get(req.groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const invalid = group.validateMember(req.memberId, req.groupInstanceId);
    if (invalid !== ErrorCode.NONE) return invalid;
    const member = group.members.get(req.memberId)!;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.stateName) {
      case "Empty":
      case "Dead":
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case "PreparingRebalance":
        this.#scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case "CompletingRebalance":
      case "Stable":
        this.#scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        return ErrorCode.NONE;
    }
  }

  /**
   * Removes members (LeaveGroup v3+ batches them). A member is named by member id, or by
   * group instance id alone (member id ""). Per-member errors; the top level only for the group.
   */
  leaveGroup(groupId: string, members: readonly { memberId: string; groupInstanceId: string | null }[]): LeaveGroupOutcome {
    const perMember = (errorCode: number): LeaveGroupOutcome["members"] => members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode }));
    if (groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) return { errorCode: s.errorCode, members: [] };
    const { shard } = s;
    const group = shard.groups.get(groupId);
    if (group === undefined) return { errorCode: ErrorCode.NONE, members: perMember(ErrorCode.UNKNOWN_MEMBER_ID) };
    if (group.is("Dead")) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const out: LeaveGroupOutcome["members"] = [];
    for (const m of members) {
      const answer = (errorCode: number): void => {
        out.push({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
      };
      if (m.memberId === "" && m.groupInstanceId !== null) {
        const id = group.staticMemberId(m.groupInstanceId);
        const member = id === undefined ? undefined : group.members.get(id);
        if (member === undefined) answer(ErrorCode.UNKNOWN_MEMBER_ID);
        else {
          this.#removeMemberAndUpdateGroup(shard, group, member);
          answer(ErrorCode.NONE);
        }
        continue;
      }
      if (group.isStaticMemberFenced(m.memberId, m.groupInstanceId)) {
        answer(ErrorCode.FENCED_INSTANCE_ID);
        continue;
      }
      if (group.pendingMembers.has(m.memberId)) {
        group.pendingMembers.get(m.memberId)!();
        group.pendingMembers.delete(m.memberId);
        this.#maybeCompleteJoin(shard, group);
        answer(ErrorCode.NONE);
        continue;
      }
      const member = group.members.get(m.memberId);
      if (member === undefined) {
        answer(ErrorCode.UNKNOWN_MEMBER_ID);
        continue;
      }
      this.#removeMemberAndUpdateGroup(shard, group, member);
      answer(ErrorCode.NONE);
    }
    return { errorCode: ErrorCode.NONE, members: out };
  }

  // ---------------------------------------------------------------- DescribeGroups, ListGroups, DeleteGroups

  describeGroup(groupId: string): DescribedGroupInfo {
    const none = (errorCode: number, state: string): DescribedGroupInfo => ({ groupId, errorCode, state, protocolType: "", protocolData: "", members: [] });
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) return none(s.errorCode, "");
    const group = s.shard.groups.get(groupId);
    if (group === undefined || group.is("Dead")) return none(ErrorCode.NONE, "Dead");
    const stable = group.is("Stable");
    const protocol = group.protocolName;
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      state: group.stateName,
      protocolType: group.protocolType ?? "",
      protocolData: stable ? (protocol ?? "") : "",
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable && protocol !== null ? m.metadataFor(protocol) : EMPTY_BYTES,
        assignment: stable ? m.assignment : EMPTY_BYTES,
      })),
    };
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
      results.push(this.#deleteEmptyGroup(shard, group, [...(shard.offsets.get(groupId)?.values() ?? [])]).then((errorCode) => ({ groupId, errorCode })));
    }
    return Promise.all(results);
  }

  /** Marks an Empty group Dead and writes tombstones for `offsets` and the group; restores it if the write fails. */
  #deleteEmptyGroup(shard: Shard, group: ClassicGroup, offsets: readonly CommittedOffset[]): Promise<number> {
    if (!group.is("Empty")) throw new Error(`group ${group.groupId}: deleting a ${group.stateName} group`);
    const snapshot = group.toRecordValue();
    group.transitionTo({ kind: "Dead" }, this.#clock.nowMs());
    const records: CoordinatorRecord[] = offsets.map((o) => offsetCommitRecord(group.groupId, o.topic, o.partition, null));
    records.push(groupMetadataRecord(group.groupId, null));
    return this.#write(shard, { records, response: ErrorCode.NONE as number }, (errorCode) => {
      if (this.#shards.get(shard.partition) === shard && shard.groups.get(group.groupId) === group) {
        shard.groups.set(group.groupId, ClassicGroup.fromRecordValue(group.groupId, snapshot));
      }
      return errorCode;
    });
  }

  // ---------------------------------------------------------------- offsets

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

  commitOffsets(req: OffsetCommitInput): Promise<TopicPartitionErrors[]> {
    const all = (errorCode: number): TopicPartitionErrors[] =>
      req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
    const s = this.#shardFor(req.groupId);
    if ("errorCode" in s) return Promise.resolve(all(s.errorCode));
    const { shard } = s;
    const group = shard.groups.get(req.groupId);
    if (group === undefined) {
      // Only a commit from outside any generation creates a group (it is created by replay).
      if (req.generationId >= 0) return Promise.resolve(all(req.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION));
    } else {
      const errorCode = this.#validateOffsetCommit(group, req);
      if (errorCode !== ErrorCode.NONE) return Promise.resolve(all(errorCode));
    }
    const now = this.#clock.nowMs();
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
          if (p.committedMetadata !== null && (p.committedMetadata.length > this.#config.offsetMetadataMaxBytes || !fitsRecordString(p.committedMetadata))) {
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
    return this.#write(
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
  fetchOffsets(groupId: string, topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null, _requireStable: boolean): OffsetFetchOutcome {
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) {
      const errorCode = s.errorCode;
      return {
        errorCode,
        topics: (topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => ({ ...noOffset(p), errorCode })) })),
      };
    }
    const offsets = s.shard.offsets.get(groupId);
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
    groupId: string,
    topics: readonly { name: string; partitionIndexes: readonly number[] }[],
  ): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    if (groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] };
    const s = this.#shardFor(groupId);
    if ("errorCode" in s) return { errorCode: s.errorCode, topics: [] };
    const { shard } = s;
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
    return this.#write(shard, { records, response: { errorCode: ErrorCode.NONE as number, topics: response } }, (errorCode) => ({ errorCode, topics: [] }));
  }

  /**
   * Offset retention (offsets.retention.minutes), Kafka's rules: an offset with an explicit
   * expire timestamp expires then; otherwise, in an Empty group, `retention` after the group
   * became empty (consumer groups) or after the commit (groups without a protocol); in a
   * Stable consumer group, offsets of topics it no longer subscribes to, `retention` after
   * their commit. An Empty group left without offsets is deleted.
   */
  async expireOffsets(): Promise<void> {
    const now = this.#clock.nowMs();
    const retention = this.#config.offsetsRetentionMs;
    const writes: Promise<unknown>[] = [];
    for (const shard of this.#shards.values()) {
      if (shard.state.kind !== "loaded") continue;
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
          this.#logger?.info("group coordinator: deleting expired group", { group: group.groupId, offsets: expired.length });
          writes.push(this.#deleteEmptyGroup(shard, group, expired));
        } else if (expired.length > 0) {
          const records = expired.map((o) => offsetCommitRecord(group.groupId, o.topic, o.partition, null));
          writes.push(this.#write(shard, { records, response: ErrorCode.NONE as number }, (e) => e));
        }
      }
    }
    await Promise.all(writes);
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

/** The record's metadata is a protocol string: at most 32767 UTF-8 bytes whatever offset.metadata.max.bytes says. */
const RECORD_STRING_BYTES_MAX = 0x7fff;
const utf8 = new TextEncoder();
function fitsRecordString(s: string): boolean {
  return s.length * 3 <= RECORD_STRING_BYTES_MAX || utf8.encode(s).length <= RECORD_STRING_BYTES_MAX;
}

function noOffset(partitionIndex: number): FetchedOffset {
  return { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode: ErrorCode.NONE };
}

export function joinError(errorCode: number, memberId: string): JoinGroupOutcome {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: "", memberId, members: [], skipAssignment: false };
}

export function syncError(errorCode: number): SyncGroupOutcome {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}
