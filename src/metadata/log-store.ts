/**
 * The metadata log on disk: records of the `__cluster_metadata-0` partition in the first
 * log dir, stored as ordinary v2 record batches (key = record type, value = the record's
 * JSON, see records.ts), one batch per decision, fsynced before the decision is applied.
 * Retention never applies to it; every record is replayed at start.
 */
import type { Clock } from "../platform/clock.ts";
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { walkBatches } from "../protocol/records/record-batch.ts";
import type { PartitionLog } from "../storage/partition-log.ts";
import { MetadataReplayError } from "./image.ts";
import type { MetadataStore } from "./metadata-manager.ts";
import { METADATA_TOPIC } from "./topic-name.ts";

export { METADATA_TOPIC };
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from "./records.ts";

export const METADATA_PARTITION = 0;
const READ_CHUNK_BYTES = 1 << 20;
/**
 * One decision's records are one batch: a topic of 100,000 partitions is ~15 MB of records.
 * The metadata log's max.message.bytes is set to this (node.ts), and replay accepts it.
 */
export const METADATA_BATCH_BYTES_MAX = 64 << 20;

export class LogMetadataStore implements MetadataStore {
  readonly #log: PartitionLog;
  readonly #clock: Clock;

  constructor(log: PartitionLog, clock: Clock) {
    this.#log = log;
    this.#clock = clock;
  }

  load(): { offset: number; record: MetadataRecord }[] {
    const out: { offset: number; record: MetadataRecord }[] = [];
    let next = this.#log.logStartOffset;
    const end = this.#log.logEndOffset;
    while (next < end) {
      const read = this.#log.read(next, READ_CHUNK_BYTES, end);
      if (read.kind !== "ok") throw new MetadataReplayError(next, `cannot read the metadata log: ${read.kind}`);
      if (read.records.length === 0) break;
      const walk = walkBatches(read.records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: METADATA_BATCH_BYTES_MAX });
      if (walk.problem !== null && walk.batches.length === 0) throw new MetadataReplayError(next, `metadata log batch: ${walk.problem}`);
      for (const batch of walk.batches) {
        for (const r of batch.records({ maxBytes: METADATA_BATCH_BYTES_MAX })) {
          if (r.offset < next) continue;
          if (r.value === null) throw new MetadataReplayError(r.offset, "metadata record without a value");
          const decoded = decodeMetadataRecord(r.value);
          if (!decoded.ok) throw new MetadataReplayError(r.offset, decoded.reason);
          out.push({ offset: r.offset, record: decoded.record });
        }
        next = batch.baseOffset + batch.lastOffsetDelta + 1;
      }
    }
    return out;
  }

  async append(records: readonly MetadataRecord[]): Promise<number> {
    const now = this.#clock.nowMs();
    const batch = buildRecordBatch(records.map((r) => ({ ...encodeMetadataRecord(r), timestamp: now })));
    const result = this.#log.append(batch, 0);
    if (result.kind !== "ok") {
      throw new Error(`metadata log append failed: ${result.kind === "storageError" ? result.error.message : result.kind}`);
    }
    const flushError = await this.#log.flushTicket(result.lastOffset + 1);
    if (flushError !== null) throw new Error(`metadata log flush failed: ${flushError.message}`);
    this.#log.setHighWatermark(this.#log.logEndOffset);
    return result.firstOffset;
  }
}
