/**
 * One partition hosted by this broker: its role, its log, its high watermark and its
 * idempotent-producer state.
 *
 * Role state machine (one transition function, `applyImage`, driven by the metadata image):
 *
 *   from \ image says   | leader = this node                | leader = other / none
 *   --------------------+-----------------------------------+------------------------------
 *   (new)               | leader(epoch): epoch → cache      | follower(leaderId, epoch)
 *   leader(e)           | leader(e') when e' > e; isr update| follower
 *   follower(e)         | leader(e'): epoch → cache         | follower(e') (leader moved)
 *
 * An image with a lower leader epoch than the current one is a controller bug (asserted).
 * Becoming leader records the epoch's start offset (the log end offset) in the leader
 * epoch cache, as Kafka's makeLeader does, so OffsetForLeaderEpoch answers before the
 * first append of the epoch.
 *
 * Leader side (Kafka's Partition): every follower's fetch reports its log end offset (the
 * fetch offset) and, when it reached the leader's end offset of its previous fetch, a
 * caught-up time (`updateFollowerFetchState`). High watermark = the smallest log end offset
 * over the maximal ISR (the committed ISR plus members an in-flight AlterPartition adds), so
 * a follower counts only for bytes it has appended. The HW only moves forward (asserted) and
 * is persisted through the log (`setHighWatermark`, checkpointed by the LogManager).
 *
 * ISR changes are proposals (`isrExpansion`, `isrShrink`), sent by the caller to the
 * controller as AlterPartition with this leader epoch and partition epoch; at most one is in
 * flight (`beginIsrChange` .. `endIsrChange` or an image with a newer partition epoch). The
 * ISR itself only ever comes from the image: a committed record, never the proposal.
 * - expansion: a replica outside the ISR whose end offset is at least the HW and at least the
 *   start offset of this leader's epoch (it holds everything this leader may have committed);
 * - shrink: an ISR follower whose last caught-up time is older than replica.lag.time.max.ms.
 * Becoming leader, every ISR member counts as caught up now (Kafka's reset), their end offsets
 * unknown until they fetch: the HW waits for them.
 */
import { NO_LEADER, type PartitionImage } from "../metadata/image.ts";
import type { TopicConfig } from "../metadata/topic-config.ts";
import type { Uuid } from "../metadata/uuid.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { StorageError } from "../platform/fs.ts";
import { readBatchHeader } from "../storage/batch-header.ts";
import type { AppendResult, PartitionLog } from "../storage/partition-log.ts";
import { ProducerStateManager } from "./producer-state.ts";

export type PartitionState =
  | { readonly kind: "leader"; readonly leaderEpoch: number; readonly partitionEpoch: number; readonly isr: readonly number[]; readonly replicas: readonly number[] }
  | { readonly kind: "follower"; readonly leaderId: number; readonly leaderEpoch: number; readonly partitionEpoch: number; readonly replicas: readonly number[] };

/** Kafka's "no epoch given" value for currentLeaderEpoch fields. */
export const noLeaderEpoch = -1;

/** What the leader knows of one follower, from its fetches. */
export interface FollowerState {
  /** The follower's log end offset (its last fetch offset); -1 until it fetches. */
  logEndOffset: number;
  /** When it last was at the leader's end offset (monotonic ms). */
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  /** The leader's end offset at the follower's previous fetch. */
  lastFetchLeaderLogEndOffset: number;
  /** The broker epoch its fetches carry (-1: not given). */
  brokerEpoch: number;
}

/** An ISR change sent to the controller and not yet seen in the image. */
export interface IsrChange {
  readonly isr: readonly number[];
  readonly leaderEpoch: number;
  /** The partition epoch the proposal is based on. */
  readonly partitionEpoch: number;
}

export class Partition {
  readonly topic: string;
  readonly partition: number;
  readonly topicId: Uuid;
  readonly key: string;
  readonly log: PartitionLog;
  readonly producers = new ProducerStateManager();
  #state: PartitionState;
  #config: TopicConfig;
  readonly #nodeId: number;
  /** Followers of this leader epoch, by replica id (every replica but this node). */
  readonly #followers = new Map<number, FollowerState>();
  /** The log end offset when this node became leader of the current epoch. */
  #leaderEpochStartOffset = -1;
  #pendingIsr: IsrChange | null = null;

  constructor(nodeId: number, image: PartitionImage, topic: string, log: PartitionLog, config: TopicConfig, nowMs = 0) {
    this.#nodeId = nodeId;
    this.topic = topic;
    this.partition = image.partition;
    this.topicId = image.topicId;
    this.key = partitionKey(topic, image.partition);
    this.log = log;
    this.#config = config;
    this.#state = stateOf(nodeId, image);
    if (this.#state.kind === "leader") {
      this.#onBecomeLeader(nowMs);
      // The checkpointed HW may lag the log (it is written periodically): a leader whose ISR
      // is itself knows everything it holds is committed.
      this.maybeIncrementHighWatermark();
    }
    this.producers.rebuildFromLog(log);
  }

  get state(): PartitionState {
    return this.#state;
  }

  get config(): TopicConfig {
    return this.#config;
  }

  set config(next: TopicConfig) {
    this.#config = next;
  }

  get isLeader(): boolean {
    return this.#state.kind === "leader";
  }

  get leaderEpoch(): number {
    return this.#state.leaderEpoch;
  }

  /**
   * The log end offset when this node became leader of the current epoch (-1 when not
   * leading or the log was closed then). Everything an earlier leader may have had
   * acknowledged lies below it, so a reader that must see all of that waits for the HW here.
   */
  get leaderEpochStartOffset(): number {
    return this.#state.kind === "leader" ? this.#leaderEpochStartOffset : -1;
  }

  /** The leader's id (this node when leading), or -1 when there is none. */
  get leaderId(): number {
    return this.#state.kind === "leader" ? this.#nodeId : this.#state.leaderId;
  }

  /** The log is usable (its dir is online and it was not closed under us). */
  get online(): boolean {
    return !this.log.closed;
  }

  /** The one transition function. Returns true when the role or leader epoch changed. */
  applyImage(image: PartitionImage, nowMs = 0): boolean {
    if (image.partition !== this.partition || image.topicId !== this.topicId) {
      throw new Error(`partition ${this.key}: image of ${image.topicId}-${image.partition} applied`);
    }
    const prev = this.#state;
    const next = stateOf(this.#nodeId, image);
    if (next.leaderEpoch < prev.leaderEpoch) {
      throw new Error(`partition ${this.key}: leader epoch goes back from ${prev.leaderEpoch} to ${next.leaderEpoch}`);
    }
    this.#state = next;
    const roleChanged = prev.kind !== next.kind || prev.leaderEpoch !== next.leaderEpoch;
    const pending = this.#pendingIsr;
    if (pending !== null && (roleChanged || next.partitionEpoch !== pending.partitionEpoch)) this.#pendingIsr = null;
    if (next.kind === "leader") {
      if (roleChanged) {
        // The producer state is kept as it is: as follower this node replayed every batch it
        // copied (appendAsFollower), so it dedupes retries of the old leader's batches.
        this.#onBecomeLeader(nowMs);
      }
      for (const id of next.replicas) if (id !== this.#nodeId && !this.#followers.has(id)) this.#followers.set(id, unknownFollower(0));
      for (const id of [...this.#followers.keys()]) if (!next.replicas.includes(id)) this.#followers.delete(id);
      this.maybeIncrementHighWatermark();
    } else {
      this.#followers.clear();
    }
    return roleChanged;
  }

  #onBecomeLeader(nowMs: number): void {
    const s = this.#state;
    this.#followers.clear();
    this.#pendingIsr = null;
    if (s.kind === "leader") {
      for (const id of s.replicas) if (id !== this.#nodeId) this.#followers.set(id, unknownFollower(s.isr.includes(id) ? nowMs : 0));
    }
    this.#leaderEpochStartOffset = this.log.closed ? -1 : this.log.logEndOffset;
    if (this.log.closed) return;
    try {
      this.log.leaderEpochCache.assign(this.#state.leaderEpoch, this.log.logEndOffset);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      // The cache is rewritten at the next append of this epoch.
    }
  }

  /**
   * Checks a client's view of the leader: null when this node leads at an epoch the client
   * may use, else the error to answer. `currentLeaderEpoch` -1 means "not given".
   */
  checkLeader(currentLeaderEpoch: number): number | null {
    const s = this.#state;
    if (currentLeaderEpoch !== noLeaderEpoch) {
      if (currentLeaderEpoch < s.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
      if (currentLeaderEpoch > s.leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    }
    if (s.kind !== "leader") return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (this.log.closed) return ErrorCode.KAFKA_STORAGE_ERROR;
    return null;
  }

  /**
   * A follower's fetch at `fetchOffset` (its log end offset), at `nowMs`: records its end
   * offset and caught-up time (Kafka's rule: caught up when it fetched at least the leader's
   * end offset now, or at its previous fetch). Returns true when the HW advanced. False and no
   * change when this node does not lead or `replicaId` is not a replica.
   */
  updateFollowerFetchState(replicaId: number, brokerEpoch: number, fetchOffset: number, nowMs: number): boolean {
    if (this.#state.kind !== "leader" || this.log.closed) return false;
    const f = this.#followers.get(replicaId);
    if (f === undefined) return false;
    const leaderEnd = this.log.logEndOffset;
    if (!(fetchOffset >= 0 && fetchOffset <= leaderEnd)) throw new Error(`partition ${this.key}: follower ${replicaId} fetch offset ${fetchOffset} outside [0, ${leaderEnd}]`);
    if (fetchOffset >= leaderEnd) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, nowMs);
    else if (fetchOffset >= f.lastFetchLeaderLogEndOffset) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, f.lastFetchTimeMs);
    f.logEndOffset = fetchOffset;
    f.lastFetchTimeMs = nowMs;
    f.lastFetchLeaderLogEndOffset = leaderEnd;
    f.brokerEpoch = brokerEpoch;
    return this.maybeIncrementHighWatermark();
  }

  // ---- follower data path (the replica fetcher) ----------------------------------------------

  /**
   * Appends the leader's batches as they are and replays them into the producer state, so
   * this replica dedupes an idempotent producer's retries once it leads. Throws StorageError.
   */
  appendAsFollower(records: Uint8Array): AppendResult {
    if (this.#state.kind !== "follower") throw new Error(`partition ${this.key}: follower append while ${this.#state.kind}`);
    let first: AppendResult | null = null;
    let last: AppendResult | null = null;
    // A fetch answer may hold more than segment.bytes (replica.fetch.max.bytes is larger, or
    // the follower lags): appended in runs of whole batches that each fit a segment, as the
    // leader's own appends did. On an error the runs before it stay (the next fetch resumes there).
    for (const run of runsWithin(records, this.log.config.segmentBytes)) {
      const appended = this.log.appendAsFollower(run);
      if (appended.kind !== "ok") return appended;
      this.producers.replayBatches(run);
      first ??= appended;
      last = appended;
    }
    if (first === null || last === null || first.kind !== "ok" || last.kind !== "ok") throw new Error(`partition ${this.key}: follower append of ${records.length} bytes made no run`);
    return { ...last, firstOffset: first.firstOffset };
  }

  /** Truncates the log to `offset` (divergence, a leader behind us) and the producer state with it. */
  truncateTo(offset: number): void {
    if (this.#state.kind !== "follower") throw new Error(`partition ${this.key}: truncation while ${this.#state.kind}`);
    this.log.truncateTo(offset);
    this.producers.truncateTo(this.log.logEndOffset);
  }

  /** Empties the log to start at `offset` (we fell below the leader's log start): no producer is known. */
  truncateFullyAndStartAt(offset: number): void {
    if (this.#state.kind !== "follower") throw new Error(`partition ${this.key}: truncation while ${this.#state.kind}`);
    this.log.truncateFullyAndStartAt(offset);
    this.producers.clear();
  }

  /** What this leader knows of a follower (tests, DescribeQuorum-like views). */
  follower(replicaId: number): Readonly<FollowerState> | undefined {
    return this.#followers.get(replicaId);
  }

  /** The ISR the HW counts: the committed one plus members an in-flight change adds. */
  maximalIsr(): readonly number[] {
    const s = this.#state;
    if (s.kind !== "leader") return [];
    const pending = this.#pendingIsr;
    if (pending === null) return s.isr;
    return [...s.isr, ...pending.isr.filter((b) => !s.isr.includes(b))];
  }

  get pendingIsrChange(): IsrChange | null {
    return this.#pendingIsr;
  }

  /** The ISR with followers added that caught up (see the module doc), or null: nothing to propose. */
  isrExpansion(): IsrChange | null {
    const s = this.#state;
    if (s.kind !== "leader" || this.#pendingIsr !== null || this.log.closed) return null;
    const hw = this.log.highWatermark;
    const joining = s.replicas.filter((id) => {
      if (id === this.#nodeId || s.isr.includes(id)) return false;
      const f = this.#followers.get(id);
      return f !== undefined && f.logEndOffset >= hw && f.logEndOffset >= this.#leaderEpochStartOffset;
    });
    if (joining.length === 0) return null;
    return { isr: [...s.isr, ...joining], leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch };
  }

  /** The ISR without followers that have not caught up for `lagTimeMs`, or null. */
  isrShrink(nowMs: number, lagTimeMs: number): IsrChange | null {
    const s = this.#state;
    if (s.kind !== "leader" || this.#pendingIsr !== null || this.log.closed) return null;
    const staying = s.isr.filter((id) => {
      if (id === this.#nodeId) return true;
      const f = this.#followers.get(id);
      return f !== undefined && nowMs - f.lastCaughtUpTimeMs <= lagTimeMs;
    });
    if (staying.length === s.isr.length) return null;
    return { isr: staying, leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch };
  }

  /** Marks `change` in flight (the caller sends it). */
  beginIsrChange(change: IsrChange): void {
    if (this.#pendingIsr !== null) throw new Error(`partition ${this.key}: an ISR change is already in flight`);
    if (!change.isr.includes(this.#nodeId)) throw new Error(`partition ${this.key}: proposed ISR [${change.isr.join(",")}] lacks the leader ${this.#nodeId}`);
    this.#pendingIsr = change;
  }

  /**
   * The controller answered `change` (or the send failed). Refused or failed: forgotten, to
   * be proposed again. Accepted: kept until the image holds it (applyImage clears it).
   */
  endIsrChange(change: IsrChange, accepted: boolean): void {
    if (this.#pendingIsr !== change) return;
    if (!accepted) this.#pendingIsr = null;
  }

  /** The broker epoch a follower's fetches carried (-1 unknown), for AlterPartition v3. */
  followerBrokerEpoch(replicaId: number): number {
    return this.#followers.get(replicaId)?.brokerEpoch ?? -1;
  }

  /** HW = min LEO over the maximal ISR. Returns true when it advanced. */
  maybeIncrementHighWatermark(): boolean {
    const s = this.#state;
    if (s.kind !== "leader" || this.log.closed) return false;
    let candidate = this.log.logEndOffset;
    for (const id of this.maximalIsr()) {
      if (id === this.#nodeId) continue;
      candidate = Math.min(candidate, this.#followers.get(id)?.logEndOffset ?? -1);
    }
    const current = this.log.highWatermark;
    if (candidate <= current) return false;
    const set = this.log.setHighWatermark(candidate);
    if (set !== candidate) throw new Error(`partition ${this.key}: HW set to ${set}, wanted ${candidate}`);
    return true;
  }

  /** ISR size, for min.insync.replicas (0 when not leading). */
  get isrSize(): number {
    return this.#state.kind === "leader" ? this.#state.isr.length : 0;
  }
}

/**
 * `records` cut at batch boundaries into runs of at most `bytesMax` (a single larger batch is
 * a run of its own, for the log to refuse). Unparseable bytes stay in the last run.
 */
function runsWithin(records: Uint8Array, bytesMax: number): Uint8Array[] {
  if (records.length <= bytesMax) return [records];
  const runs: Uint8Array[] = [];
  let start = 0;
  let at = 0;
  for (let h = readBatchHeader(records, at); h !== null && at + h.sizeBytes <= records.length; h = readBatchHeader(records, at)) {
    if (at > start && at + h.sizeBytes - start > bytesMax) {
      runs.push(records.subarray(start, at));
      start = at;
    }
    at += h.sizeBytes;
  }
  runs.push(records.subarray(start));
  return runs;
}

function unknownFollower(lastCaughtUpTimeMs: number): FollowerState {
  return { logEndOffset: -1, lastCaughtUpTimeMs, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1, brokerEpoch: -1 };
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

function stateOf(nodeId: number, image: PartitionImage): PartitionState {
  if (image.leader === nodeId) {
    return { kind: "leader", leaderEpoch: image.leaderEpoch, partitionEpoch: image.partitionEpoch, isr: image.isr, replicas: image.replicas };
  }
  return {
    kind: "follower",
    leaderId: image.leader === NO_LEADER ? NO_LEADER : image.leader,
    leaderEpoch: image.leaderEpoch,
    partitionEpoch: image.partitionEpoch,
    replicas: image.replicas,
  };
}
