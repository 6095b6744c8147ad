/**
 * Where the group coordinator's records live: the partitions of `__consumer_offsets`. The
 * coordinator only sees this interface, so the broker wiring puts it on the ReplicaManager
 * (a produce with acks=all to the internal topic) and tests use `MemoryOffsetsTopicLog`.
 *
 * Contract:
 * - `append` writes the records of one operation as ONE record batch (atomic: all or none)
 *   and resolves only once the batch is durable/acknowledged as a producer with acks=all
 *   would be told; the coordinator answers its client only after that. Batches land in the
 *   log in the order `append` was called (the coordinator pipelines appends and replays
 *   their records in call order). It resolves with an
 *   error code (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, ...) rather
 *   than rejecting for conditions; a rejection is treated like UNKNOWN_SERVER_ERROR.
 * - `read` yields every record of the partition from its log start, in offset order, as raw
 *   key/value pairs (tombstones have a null value); control records are not yielded.
 *
 * `encodeOffsetsBatch` / `decodeOffsetsBatches` are the batch (wire/disk) form of an append,
 * for adapters that store record batches.
 */
import type { Compression } from "../platform/compression.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { walkBatches } from "../protocol/records/record-batch.ts";
import type { RawRecord } from "./records.ts";

export interface OffsetsAppendResult {
  errorCode: number;
  /** Offset of the batch's first record, when it was appended. */
  baseOffset?: number;
}

export interface OffsetsTopicLog {
  append(partition: number, records: readonly RawRecord[], timestampMs: number): Promise<OffsetsAppendResult>;
  read(partition: number): AsyncIterable<RawRecord>;
}

/** Largest batch the coordinator reads back from storage (Kafka's offsets.load.buffer.size is 5 MiB per read). */
export const OFFSETS_BATCH_BYTES_MAX = 64 * 1024 * 1024;

/** One uncompressed v2 batch holding `records`, every record stamped `timestampMs`. */
export function encodeOffsetsBatch(records: readonly RawRecord[], timestampMs: number): Uint8Array {
  if (records.length === 0) throw new Error("encodeOffsetsBatch: no records");
  return buildRecordBatch(records.map((r) => ({ key: r.key, value: r.value, timestamp: timestampMs })));
}

/**
 * The data records of a run of batches (control batches skipped). Stops with an error at the
 * first invalid batch: a coordinator must not load from a log it cannot read whole.
 */
export function decodeOffsetsBatches(bytes: Uint8Array, options: { fromOffset?: number; compression?: Compression } = {}): RawRecord[] {
  const walk = walkBatches(bytes, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: OFFSETS_BATCH_BYTES_MAX });
  if (walk.problem !== null) throw new Error(`__consumer_offsets: invalid batch at byte ${walk.validBytes}: ${walk.problem}`);
  const fromOffset = options.fromOffset ?? 0;
  const out: RawRecord[] = [];
  for (const batch of walk.batches) {
    if (batch.isControl) continue;
    const records = batch.records(options.compression === undefined ? { maxBytes: OFFSETS_BATCH_BYTES_MAX } : { maxBytes: OFFSETS_BATCH_BYTES_MAX, compression: options.compression });
    for (const rec of records) {
      // A read may start inside a batch; the records before the asked offset were replayed already.
      if (rec.key === null || rec.offset < fromOffset) continue;
      out.push({ key: rec.key, value: rec.value });
    }
  }
  return out;
}

/**
 * A log in memory: batches per partition, built and walked with the real batch codec.
 * Tests control it: `failNext` answers the next append with an error code; `hold` keeps
 * appends pending until `release` (to observe a coordinator mid-append).
 */
export class MemoryOffsetsTopicLog implements OffsetsTopicLog {
  readonly #batches = new Map<number, Uint8Array[]>();
  readonly #nextOffset = new Map<number, number>();
  #held: (() => void)[] | null = null;
  failNext: number | null = null;
  appends = 0;

  async append(partition: number, records: readonly RawRecord[], timestampMs: number): Promise<OffsetsAppendResult> {
    if (this.#held !== null) {
      const held = this.#held;
      await new Promise<void>((resolve) => held.push(resolve));
    }
    this.appends++;
    if (this.failNext !== null) {
      const errorCode = this.failNext;
      this.failNext = null;
      return { errorCode };
    }
    const list = this.#batches.get(partition) ?? [];
    const baseOffset = this.#nextOffset.get(partition) ?? 0;
    list.push(encodeOffsetsBatch(records, timestampMs));
    this.#batches.set(partition, list);
    this.#nextOffset.set(partition, baseOffset + records.length);
    return { errorCode: ErrorCode.NONE, baseOffset };
  }

  async *read(partition: number): AsyncIterable<RawRecord> {
    for (const batch of this.#batches.get(partition) ?? []) yield* decodeOffsetsBatches(batch);
  }

  /** Every record of a partition, decoded (for tests). */
  records(partition: number): RawRecord[] {
    return (this.#batches.get(partition) ?? []).flatMap((b) => decodeOffsetsBatches(b));
  }

  partitions(): number[] {
    return [...this.#batches.keys()].sort((a, b) => a - b);
  }

  /** Appends wait until `release`. */
  hold(): void {
    this.#held ??= [];
  }

  release(): void {
    const held = this.#held;
    this.#held = null;
    for (const resolve of held ?? []) resolve();
  }
}
