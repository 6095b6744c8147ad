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
 * High watermark = the smallest log end offset over the ISR. The leader's own is its log's
 * end offset; followers report theirs by fetching (`updateFollowerEndOffset`), so until the
 * cluster issue lands a multi-replica ISR holds the HW where it is (acks=all waits) — the
 * safe answer. The HW only moves forward (asserted) and is persisted through the log
 * (`setHighWatermark`, checkpointed by the LogManager).
 */
import { NO_LEADER, type PartitionImage } from "../metadata/image.ts";
import type { TopicConfig } from "../metadata/topic-config.ts";
import type { Uuid } from "../metadata/uuid.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { StorageError } from "../platform/fs.ts";
import type { PartitionLog } from "../storage/partition-log.ts";
import { ProducerStateManager } from "./producer-state.ts";

export type PartitionState =
  | { readonly kind: "leader"; readonly leaderEpoch: number; readonly partitionEpoch: number; readonly isr: readonly number[]; readonly replicas: readonly number[] }
  | { readonly kind: "follower"; readonly leaderId: number; readonly leaderEpoch: number; readonly partitionEpoch: number; readonly replicas: readonly number[] };

/** Kafka's "no epoch given" value for currentLeaderEpoch fields. */
export const noLeaderEpoch = -1;

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
  /** Log end offsets reported by followers in the ISR (absent: unknown). */
  readonly #followerEndOffsets = new Map<number, number>();

  constructor(nodeId: number, image: PartitionImage, topic: string, log: PartitionLog, config: TopicConfig) {
    this.#nodeId = nodeId;
    this.topic = topic;
    this.partition = image.partition;
    this.topicId = image.topicId;
    this.key = partitionKey(topic, image.partition);
    this.log = log;
    this.#config = config;
    this.#state = stateOf(nodeId, image);
    if (this.#state.kind === "leader") {
      this.#onBecomeLeader();
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

  /** The leader's id (this node when leading), or -1 when there is none. */
  get leaderId(): number {
    return this.#state.kind === "leader" ? this.#nodeId : this.#state.leaderId;
  }

  /** The log is usable (its dir is online and it was not closed under us). */
  get online(): boolean {
    return !this.log.closed;
  }

  /** The one transition function. Returns true when the role or leader epoch changed. */
  applyImage(image: PartitionImage): boolean {
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
    if (next.kind === "leader") {
      for (const id of [...this.#followerEndOffsets.keys()]) if (!next.isr.includes(id)) this.#followerEndOffsets.delete(id);
      if (roleChanged) {
        this.#followerEndOffsets.clear();
        this.#onBecomeLeader();
      }
      this.maybeIncrementHighWatermark();
    } else {
      this.#followerEndOffsets.clear();
    }
    return roleChanged;
  }

  #onBecomeLeader(): void {
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

  /** A follower's fetch told us its log end offset (cluster issue); may advance the HW. */
  updateFollowerEndOffset(replicaId: number, logEndOffset: number): boolean {
    if (this.#state.kind !== "leader" || !this.#state.isr.includes(replicaId) || replicaId === this.#nodeId) return false;
    this.#followerEndOffsets.set(replicaId, logEndOffset);
    return this.maybeIncrementHighWatermark();
  }

  /** HW = min LEO over the ISR. Returns true when it advanced. */
  maybeIncrementHighWatermark(): boolean {
    const s = this.#state;
    if (s.kind !== "leader" || this.log.closed) return false;
    let candidate = this.log.logEndOffset;
    for (const id of s.isr) {
      if (id === this.#nodeId) continue;
      candidate = Math.min(candidate, this.#followerEndOffsets.get(id) ?? -1);
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
