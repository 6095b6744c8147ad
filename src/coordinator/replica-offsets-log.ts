/**
 * `OffsetsTopicLog` on the broker's own partitions: appends go through
 * `ReplicaManager.appendInternal` (the produce path for internal topics, acks=all: resolved
 * once the ISR has the batch, within `offsets.commit.timeout.ms`), and loading reads the
 * partition from its log start to the high watermark with `ReplicaManager.readCommitted`,
 * batch by batch (at most `readBytes` per read, like Kafka's offsets.load.buffer.size).
 *
 * A read error while loading (the partition moved away, a corrupt or unreadable segment)
 * fails the load: the coordinator then answers COORDINATOR_NOT_AVAILABLE for that partition
 * rather than serving from a partial replay.
 *
 * A load starts only once the high watermark has reached the start offset of this leader's
 * epoch (`ReplicaManager.awaitLeaderCommitted`): a broker that just took over from a dead
 * leader holds commits the old leader acknowledged above its own, trailing HW, and a replay
 * that stopped at that HW would lose them. Meanwhile the load is in progress (the coordinator
 * answers COORDINATOR_LOAD_IN_PROGRESS); the wait ends when the ISR has fetched once, or the
 * ISR shrinks to the members that can. The same holds for a leader restarted on its disk (its
 * checkpointed HW trails its log). The whole read is bound to the leader epoch it started in:
 * a leadership lost and won back meanwhile fails it.
 */
import type { Compression } from "../platform/compression.ts";
import { ErrorCode, errorName } from "../protocol/errors.ts";
import type { ReplicaManager } from "../replication/replica-manager.ts";
import { decodeOffsetsBatches, encodeOffsetsBatch, type OffsetsAppendResult, type OffsetsTopicLog } from "./offsets-log.ts";
import { OFFSETS_TOPIC_NAME } from "./partitioner.ts";
import type { RawRecord } from "./records.ts";

/** Kafka's offsets.commit.timeout.ms. */
export const OFFSETS_COMMIT_TIMEOUT_MS_DEFAULT = 5000;
/** Kafka's offsets.load.buffer.size. */
export const OFFSETS_LOAD_BUFFER_BYTES_DEFAULT = 5 * 1024 * 1024;
/**
 * One round of waiting for a new leader's HW before a load. Rounds repeat while this node
 * still leads at the same epoch: an ISR member that never fetches leaves the ISR after
 * replica.lag.time.max.ms, and then the HW moves.
 */
export const LOAD_WAIT_ROUND_MS = 5000;

export interface ReplicaOffsetsTopicLogOptions {
  commitTimeoutMs?: number;
  readBytes?: number;
  /** Codecs for batches written compressed (a log migrated from Kafka); ours are not. */
  compression?: Compression;
}

export class ReplicaOffsetsTopicLog implements OffsetsTopicLog {
  readonly #replicas: ReplicaManager;
  readonly #commitTimeoutMs: number;
  readonly #readBytes: number;
  readonly #compression: Compression | undefined;

  constructor(replicas: ReplicaManager, options: ReplicaOffsetsTopicLogOptions = {}) {
    this.#replicas = replicas;
    this.#commitTimeoutMs = options.commitTimeoutMs ?? OFFSETS_COMMIT_TIMEOUT_MS_DEFAULT;
    this.#readBytes = options.readBytes ?? OFFSETS_LOAD_BUFFER_BYTES_DEFAULT;
    this.#compression = options.compression;
  }

  async append(partition: number, records: readonly RawRecord[], timestampMs: number): Promise<OffsetsAppendResult> {
    const batch = encodeOffsetsBatch(records, timestampMs);
    const r = await this.#replicas.appendInternal(OFFSETS_TOPIC_NAME, partition, batch, this.#commitTimeoutMs);
    return r.errorCode === ErrorCode.NONE ? { errorCode: ErrorCode.NONE, baseOffset: r.baseOffset } : { errorCode: r.errorCode };
  }

  async *read(partition: number): AsyncIterable<RawRecord> {
    const lookup = this.#replicas.lookupLeader(OFFSETS_TOPIC_NAME, partition);
    if (lookup.kind === "error") throw new Error(`loading ${OFFSETS_TOPIC_NAME}-${partition}: ${errorName(lookup.errorCode)}`);
    const leaderEpoch = lookup.partition.leaderEpoch;
    for (;;) {
      const waited = await this.#replicas.awaitLeaderCommitted(OFFSETS_TOPIC_NAME, partition, leaderEpoch, LOAD_WAIT_ROUND_MS);
      if (waited === ErrorCode.NONE) break;
      if (waited !== ErrorCode.REQUEST_TIMED_OUT) throw new Error(`loading ${OFFSETS_TOPIC_NAME}-${partition} at leader epoch ${leaderEpoch}: ${errorName(waited)}`);
    }
    let offset = 0;
    for (;;) {
      const r = this.#replicas.readCommitted(OFFSETS_TOPIC_NAME, partition, offset, this.#readBytes, leaderEpoch);
      if (r.errorCode !== ErrorCode.NONE) {
        throw new Error(`reading ${OFFSETS_TOPIC_NAME}-${partition} at ${offset}: ${errorName(r.errorCode)}`);
      }
      if (r.records.length === 0) return;
      if (!(r.nextOffset > offset)) throw new Error(`reading ${OFFSETS_TOPIC_NAME}-${partition}: no progress at offset ${offset}`);
      const options = this.#compression === undefined ? { fromOffset: offset } : { fromOffset: offset, compression: this.#compression };
      yield* decodeOffsetsBatches(r.records, options);
      offset = r.nextOffset;
      if (offset >= r.highWatermark) return;
    }
  }
}
