/**
 * Idempotent-producer state of one partition, as Kafka keeps it (ProducerStateManager): per
 * producer id the current epoch and the metadata of its last `batchesPerProducerMax` (5)
 * batches — first/last sequence and first/last offset — so a retried batch is answered with
 * its original offsets instead of being appended twice.
 *
 * Rules (Kafka's ProducerAppendInfo.checkProducerEpoch / checkSequence, non-transactional):
 * - epoch below the producer's current epoch: INVALID_PRODUCER_EPOCH;
 * - a new (higher) epoch must start at sequence 0, unless the producer is unknown;
 * - same epoch: a batch whose first and last sequence match a cached batch is a duplicate;
 *   otherwise its first sequence must follow the last one (lastSeq + 1, wrapping from
 *   Int32.MAX to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER;
 * - an unknown producer (never seen, or its state lost) may start at any sequence.
 *
 * Leaders update it on every idempotent append; followers replay every batch they copy
 * (`replayBatches`, the leader's offsets and sequences as they are), so a follower elected
 * leader dedupes a retry of a batch the old leader wrote. A follower truncating its log
 * forgets the batches at and above the cut (`truncateTo`): a producer with none left becomes
 * unknown, never one that remembers a batch the log no longer holds.
 *
 * Durability bound: Kafka snapshots this state at segment rolls and rebuilds from the log
 * after the snapshot. bunka does not snapshot yet: at load it rebuilds from the batches of
 * the active segment only (`rebuildFromLog`). A producer whose last batch is in an older
 * segment comes back unknown, so its next batch is accepted at any sequence: a retry of a
 * batch written before the active segment began could then be appended twice. (A running
 * follower that becomes leader keeps what it replayed: that bound is for restarts only.)
 */
import { ErrorCode } from "../protocol/errors.ts";
import { RecordBatchView, walkBatches } from "../protocol/records/record-batch.ts";
import type { PartitionLog } from "../storage/partition-log.ts";

/** Kafka keeps the metadata of this many recent batches per producer. */
export const batchesPerProducerMax = 5;
/** Bytes read per step while rebuilding from the log. */
const rebuildReadBytes = 4 * 1024 * 1024;
const int32Max = 0x7fff_ffff;

export interface BatchMetadata {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most batchesPerProducerMax. */
  batches: BatchMetadata[];
}

export type SequenceCheck =
  | { kind: "append" }
  | { kind: "duplicate"; firstOffset: number; lastOffset: number }
  | { kind: "error"; errorCode: number; message: string };

/** Last sequence of a batch: Kafka's DefaultRecordBatch.incrementSequence (wraps past Int32.MAX). */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  if (baseSequence > int32Max - lastOffsetDelta) return lastOffsetDelta - (int32Max - baseSequence) - 1;
  return baseSequence + lastOffsetDelta;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === int32Max);
}

export class ProducerStateManager {
  readonly #producers = new Map<number, ProducerEntry>();

  get producerCount(): number {
    return this.#producers.size;
  }

  /** The producer's current epoch, or null when unknown. */
  epochOf(producerId: number): number | null {
    return this.#producers.get(producerId)?.epoch ?? null;
  }

  /** Decides what to do with a batch from an idempotent producer (producerId >= 0). */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): SequenceCheck {
    if (!(producerId >= 0)) throw new Error(`ProducerStateManager.check: producer id ${producerId}`);
    const entry = this.#producers.get(producerId);
    if (entry === undefined) return { kind: "append" };
    if (epoch < entry.epoch) {
      return { kind: "error", errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `producer ${producerId} epoch ${epoch} is older than ${entry.epoch}` };
    }
    if (epoch > entry.epoch) {
      if (firstSeq !== 0) {
        return {
          kind: "error",
          errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `producer ${producerId}: new epoch ${epoch} must start at sequence 0, not ${firstSeq}`,
        };
      }
      return { kind: "append" };
    }
    for (const b of entry.batches) {
      if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { kind: "duplicate", firstOffset: b.firstOffset, lastOffset: b.lastOffset };
    }
    const last = entry.batches.at(-1);
    if (last !== undefined && !inSequence(last.lastSeq, firstSeq)) {
      return {
        kind: "error",
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${producerId} epoch ${epoch}: sequence ${firstSeq} does not follow ${last.lastSeq}`,
      };
    }
    return { kind: "append" };
  }

  /** Records an appended batch. */
  update(producerId: number, epoch: number, batch: BatchMetadata): void {
    if (!(batch.lastOffset >= batch.firstOffset)) throw new Error(`ProducerStateManager.update: offsets ${batch.firstOffset}..${batch.lastOffset}`);
    let entry = this.#producers.get(producerId);
    if (entry === undefined || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.#producers.set(producerId, entry);
    } else if (epoch < entry.epoch) {
      return; // a stale epoch in the log (rebuild after fencing): the newer state wins
    }
    entry.batches.push(batch);
    if (entry.batches.length > batchesPerProducerMax) entry.batches.shift();
  }

  /** Forgets everything (log truncated below what the state covers). */
  clear(): void {
    this.#producers.clear();
  }

  /**
   * The log was truncated to `endOffset`: batches at or above it are forgotten, and a
   * producer left without any becomes unknown (its epoch may have come from a cut batch).
   * Returns the number of batches forgotten.
   */
  truncateTo(endOffset: number): number {
    if (!(Number.isSafeInteger(endOffset) && endOffset >= 0)) throw new Error(`ProducerStateManager.truncateTo: offset ${endOffset}`);
    let dropped = 0;
    for (const [id, entry] of [...this.#producers]) {
      const kept = entry.batches.filter((b) => b.lastOffset < endOffset);
      if (kept.length === entry.batches.length) continue;
      dropped += entry.batches.length - kept.length;
      if (kept.length === 0) this.#producers.delete(id);
      else entry.batches = kept;
    }
    return dropped;
  }

  /**
   * A follower appended `records` (whole v2 batches, as the leader wrote them): each
   * idempotent batch updates its producer as the leader's append did. Returns the batches
   * replayed. CRCs are not checked again (the append did).
   */
  replayBatches(records: Uint8Array): number {
    const walk = walkBatches(records, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes: records.length });
    for (const view of walk.batches) this.#replay(view);
    return walk.batches.length;
  }

  /** The batches remembered for `producerId`, oldest first (tests, diagnostics). */
  batchesOf(producerId: number): readonly BatchMetadata[] {
    return this.#producers.get(producerId)?.batches ?? [];
  }

  /**
   * Rebuilds from the batches of the log's active segment (see the module doc for the bound).
   * Returns the number of batches replayed; stops quietly at an unreadable region.
   */
  rebuildFromLog(log: PartitionLog): number {
    this.clear();
    const bases = log.segmentBaseOffsets();
    let from = Math.max(bases.at(-1) ?? 0, log.logStartOffset);
    let replayed = 0;
    while (from < log.logEndOffset) {
      const r = log.read(from, rebuildReadBytes, log.logEndOffset, true);
      if (r.kind !== "ok" || r.records.length === 0) break;
      const walk = walkBatches(r.records, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes: r.records.length });
      if (walk.batches.length === 0) break;
      for (const view of walk.batches) {
        this.#replay(view);
        replayed++;
      }
      from = r.lastOffset + 1;
    }
    return replayed;
  }

  #replay(view: RecordBatchView): void {
    try {
      const producerId = view.producerId;
      if (producerId < 0 || view.isControl) return;
      const firstSeq = view.baseSequence;
      this.update(producerId, view.producerEpoch, {
        firstSeq,
        lastSeq: lastSequenceOf(firstSeq, view.lastOffsetDelta),
        firstOffset: view.baseOffset,
        lastOffset: view.lastOffset,
      });
    } catch {
      // A header field out of range (RecordsError int64OutOfRange): not an idempotent batch we wrote.
    }
  }
}
