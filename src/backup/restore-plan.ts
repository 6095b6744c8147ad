/**
 * What restore does with each backed-up batch (pure: bytes in, bytes out), and how source
 * offsets map to target offsets.
 *
 * Restore writes through Produce, so the target assigns offsets; a batch goes out
 * - as stored, when it is a plain data batch with dense offsets (records section, key,
 *   value, headers, timestamps and compression byte-identical). By default the producer id,
 *   epoch and base sequence are cleared in its header (CRC recomputed): a restored batch
 *   carrying a source producer id would pin that id's epoch in the target, and a new
 *   producer later given the same id by the target would be fenced. `keepProducerIds` keeps
 *   them (the target then also drops a batch it already has, which makes a re-run of an
 *   interrupted restore idempotent on Kafka).
 * - rebuilt, when its offsets have holes (compaction removed records: Produce requires
 *   recordCount = lastOffsetDelta + 1) or `--until` cuts it: records re-encoded densely under
 *   the same codec with the same timestamps, keys, values and headers.
 * - not at all, when it is a control batch (transaction markers are the target's to write),
 *   a transactional batch whose transaction was aborted, or one whose transaction has no
 *   marker in the backup (still open when backed up). Committed transactional batches go
 *   out as plain batches (the transactional bit cleared), since their transaction is over.
 *
 * Offset map: each produced batch records its source offsets and the target base offset
 * the broker assigned; committed group offsets are translated to the target offset of the
 * first restored record at or after them, or to the target's end when none is.
 */
import type { Compression } from "../platform/compression.ts";
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { parseEndTxnMarker } from "../protocol/records/control-record.ts";
import { attributeBits, crcStart, type RecordBatchView } from "../protocol/records/record-batch.ts";
import { core } from "../wasm/index.ts";
import { chunkRawBytesMax } from "./format.ts";

export interface TransactionScan {
  /** baseOffsets of transactional batches whose transaction was aborted or never ended. */
  readonly skipped: Set<number>;
  /** Producer ids whose transaction had no marker by the end of the backup. */
  readonly unterminated: Set<number>;
}

/** Folds batches (in offset order) into the set of transactional batches not to restore. */
export class TransactionScanner {
  readonly #open = new Map<number, number[]>();
  readonly #skipped = new Set<number>();

  add(batch: RecordBatchView): void {
    if (!batch.isTransactional) return;
    const pid = batch.producerId;
    if (batch.isControl) {
      const records = batch.records({ maxBytes: chunkRawBytesMax });
      const first = records[0];
      let abort = true;
      if (first !== undefined) {
        try {
          abort = parseEndTxnMarker(first.key, first.value).type === "ABORT";
        } catch {
          abort = true; // an unreadable marker: do not restore what it ended
        }
      }
      const list = this.#open.get(pid) ?? [];
      if (abort) for (const o of list) this.#skipped.add(o);
      this.#open.delete(pid);
      return;
    }
    const list = this.#open.get(pid);
    if (list === undefined) this.#open.set(pid, [batch.baseOffset]);
    else list.push(batch.baseOffset);
  }

  finish(): TransactionScan {
    const skipped = new Set(this.#skipped);
    for (const list of this.#open.values()) for (const o of list) skipped.add(o);
    return { skipped, unterminated: new Set(this.#open.keys()) };
  }
}

export interface PlanContext {
  readonly transactions: TransactionScan;
  /** Restore records with timestamp ≤ this; null: everything. */
  readonly untilMs: number | null;
  readonly keepProducerIds: boolean;
  readonly compression: Compression;
}

export type BatchPlan =
  | { readonly kind: "skip"; readonly reason: "control" | "aborted" }
  /** Nothing more of this partition is restored (`--until` reached). */
  | { readonly kind: "stop" }
  | {
      readonly kind: "produce";
      readonly bytes: Uint8Array;
      /** Source offset of each record, when they are not simply srcFirst + i. */
      readonly srcOffsets: number[] | null;
      readonly srcFirst: number;
      readonly count: number;
      readonly rebuilt: boolean;
      /** The partition ends after this batch (`--until` cut inside it). */
      readonly last: boolean;
    };

const producerFieldsAt = 43; // producerId i64, producerEpoch i16, baseSequence i32 (record-batch.ts)

/** A copy of the batch with the transactional bit and (unless kept) the producer fields cleared. */
export function rewriteHeader(batch: RecordBatchView, clearProducer: boolean): Uint8Array {
  const out = batch.bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  const attrs = view.getInt16(21) & ~attributeBits.transactional;
  view.setInt16(21, attrs);
  if (clearProducer) {
    view.setInt32(producerFieldsAt, -1);
    view.setInt32(producerFieldsAt + 4, -1);
    view.setInt16(producerFieldsAt + 8, -1);
    view.setInt32(producerFieldsAt + 10, -1);
  }
  view.setUint32(17, core.crc32c(out.subarray(crcStart)) >>> 0);
  return out;
}

export function planBatch(batch: RecordBatchView, ctx: PlanContext): BatchPlan {
  if (batch.isControl) return { kind: "skip", reason: "control" };
  if (batch.isTransactional && ctx.transactions.skipped.has(batch.baseOffset)) return { kind: "skip", reason: "aborted" };
  const dense = batch.recordCount === batch.lastOffsetDelta + 1;
  const cut = ctx.untilMs !== null && batch.maxTimestamp > ctx.untilMs;
  const clearProducer = !ctx.keepProducerIds;
  if (dense && !cut) {
    const untouched = !batch.isTransactional && (!clearProducer || batch.producerId < 0);
    return { kind: "produce", bytes: untouched ? batch.bytes : rewriteHeader(batch, clearProducer), srcOffsets: null, srcFirst: batch.baseOffset, count: batch.recordCount, rebuilt: false, last: false };
  }
  const records = batch.records({ maxBytes: chunkRawBytesMax, compression: ctx.compression });
  let keep = records.length;
  if (cut) {
    const k = records.findIndex((r) => r.timestamp > (ctx.untilMs as number));
    keep = k === -1 ? records.length : k;
    if (keep === 0) return { kind: "stop" };
  }
  const kept = records.slice(0, keep);
  const logAppend = batch.timestampType === "LogAppendTime";
  const keepProducer = !clearProducer && batch.producerId >= 0 && keep === records.length && dense;
  const bytes = buildRecordBatch(
    kept.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
    {
      compression: batch.compression,
      codecs: ctx.compression,
      ...(logAppend ? { logAppendTimeMs: batch.maxTimestamp } : {}),
      ...(keepProducer ? { producerId: batch.producerId, producerEpoch: batch.producerEpoch, baseSequence: batch.baseSequence } : {}),
    },
  );
  return {
    kind: "produce",
    bytes,
    srcOffsets: kept.map((r) => r.offset),
    srcFirst: kept[0]?.offset ?? batch.baseOffset,
    count: kept.length,
    rebuilt: true,
    last: cut && keep < records.length,
  };
}

interface Placed {
  readonly srcFirst: number;
  readonly srcLast: number;
  readonly tgtFirst: number;
  readonly srcOffsets: number[] | null;
}

/** Source → target offsets of one restored partition. */
export class OffsetMap {
  readonly #placed: Placed[] = [];
  #tgtEnd: number;
  #shifted = false;

  /** `targetStart`: the target partition's end offset before the restore wrote anything. */
  constructor(targetStart: number) {
    this.#tgtEnd = targetStart;
  }

  add(srcFirst: number, count: number, srcOffsets: number[] | null, tgtFirst: number): void {
    const srcLast = srcOffsets === null ? srcFirst + count - 1 : (srcOffsets[srcOffsets.length - 1] as number);
    const prev = this.#placed[this.#placed.length - 1];
    if (prev !== undefined && srcFirst <= prev.srcLast) throw new Error(`OffsetMap.add: source ${srcFirst} not after ${prev.srcLast}`);
    this.#placed.push({ srcFirst, srcLast, tgtFirst, srcOffsets });
    if (tgtFirst !== srcFirst || (srcOffsets !== null && srcOffsets.some((o, i) => o !== srcFirst + i))) this.#shifted = true;
    this.#tgtEnd = tgtFirst + count;
  }

  get targetEnd(): number {
    return this.#tgtEnd;
  }

  /** True when some restored record landed at an offset other than its source offset. */
  get shifted(): boolean {
    return this.#shifted;
  }

  /** The target offset a consumer committed at source offset `committed` should resume from. */
  translate(committed: number): number {
    let lo = 0;
    let hi = this.#placed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#placed[mid] as Placed).srcLast < committed) lo = mid + 1;
      else hi = mid;
    }
    const p = this.#placed[lo];
    if (p === undefined) return this.#tgtEnd;
    if (committed <= p.srcFirst) return p.tgtFirst;
    if (p.srcOffsets === null) return p.tgtFirst + (committed - p.srcFirst);
    const i = p.srcOffsets.findIndex((o) => o >= committed);
    return p.tgtFirst + (i === -1 ? p.srcOffsets.length : i);
  }
}
