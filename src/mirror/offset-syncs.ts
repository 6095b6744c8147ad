/**
 * Offset syncs: where the mirror's copy of a source partition sits in the target partition,
 * and the exact offset translation they allow.
 *
 * A sync (source topic, partition, upstream S, downstream T) promises: "if the target
 * partition holds a batch at T, it is the copy of the source batch that starts at S". Batches
 * are copied whole with their record count and offset deltas, and the target assigns offsets
 * densely, so between two syncs the distance T - S is constant over copied data. The mirror
 * writes a sync *before* producing a batch whenever that distance changes (the first batch, a
 * gap in the source left by compaction, retention or skipped control batches), and after
 * acknowledged batches now and then (which only shortens the walk at restart, flow.ts).
 *
 * Translation of a source offset O (a committed position: the next record to read):
 * the last sync i with S_i ≤ O gives T_i + (O - S_i); it is clamped to T_{i+1} (O fell in
 * a source gap: the consumer's next record is the one copied at T_{i+1}) and, after the last
 * sync, to the end of what was copied. So it is exact over copied data and never ahead: a
 * consumer that fails over skips nothing, and re-reads nothing when the source had no gap.
 *
 * Record format (the topic `mm2-offset-syncs.<target>.internal`, one partition, as MM2's
 * OffsetSync, Kafka's Struct encoding, big-endian):
 *   key:   int16 topic length, topic UTF-8, int32 partition
 *   value: int64 upstream offset, int64 downstream offset
 */
import type { ClusterClient } from "../client/bootstrap.ts";
import { completeBatches, describeFailure, fetchPartition, listOffset, OffsetSpec, type PartitionRef } from "../client/partition-io.ts";
import type { Compression } from "../platform/compression.ts";
import type { RecordBatchView } from "../protocol/records/record-batch.ts";

export interface OffsetSync {
  readonly topic: string;
  readonly partition: number;
  readonly upstream: number;
  readonly downstream: number;
}

/** Syncs kept per partition in memory (oldest dropped first); older offsets do not translate. */
export const syncsPerPartitionMax = 4_096;
/** A topic name in a key is at most Kafka's 249 characters; UTF-8 at most 4 bytes each. */
const topicBytesMax = 249 * 4;
/** Fetch size while reading a mirror-owned topic. */
export const internalFetchBytes = 1 << 20;
/** Largest batch accepted from a mirror-owned topic. */
export const internalBatchBytesMax = 16 << 20;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

function writeI64(view: DataView, p: number, v: number): void {
  view.setBigInt64(p, BigInt(v));
}

function readI64(view: DataView, p: number): number | null {
  const v = view.getBigInt64(p);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}

export function encodeSyncKey(topic: string, partition: number): Uint8Array {
  const t = enc.encode(topic);
  if (t.length > topicBytesMax) throw new RangeError(`offset sync topic of ${t.length} bytes`);
  const out = new Uint8Array(2 + t.length + 4);
  const view = new DataView(out.buffer);
  view.setInt16(0, t.length);
  out.set(t, 2);
  view.setInt32(2 + t.length, partition);
  return out;
}

export function encodeSyncValue(upstream: number, downstream: number): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  writeI64(view, 0, upstream);
  writeI64(view, 8, downstream);
  return out;
}

/** Decodes one sync record; null when the bytes are not one (a foreign writer, a torn field). */
export function decodeSync(key: Uint8Array | null, value: Uint8Array | null): OffsetSync | null {
  if (key === null || value === null || key.length < 6 || value.length !== 16) return null;
  const kv = new DataView(key.buffer, key.byteOffset, key.length);
  const n = kv.getInt16(0);
  if (n < 0 || n > topicBytesMax || key.length !== 2 + n + 4) return null;
  let topic: string;
  try {
    topic = dec.decode(key.subarray(2, 2 + n));
  } catch {
    return null;
  }
  const partition = kv.getInt32(2 + n);
  const vv = new DataView(value.buffer, value.byteOffset, value.length);
  const upstream = readI64(vv, 0);
  const downstream = readI64(vv, 8);
  if (partition < 0 || upstream === null || downstream === null || upstream < 0 || downstream < 0) return null;
  return { topic, partition, upstream, downstream };
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Every sync known per source partition, in upstream order. */
export class OffsetSyncStore {
  readonly #byPartition = new Map<string, OffsetSync[]>();

  /** Adds a sync; one that does not move forward replaces the entries it contradicts. */
  add(sync: OffsetSync): void {
    const k = partitionKey(sync.topic, sync.partition);
    let list = this.#byPartition.get(k);
    if (list === undefined) {
      list = [];
      this.#byPartition.set(k, list);
    }
    // A later sync is the truth from its upstream offset on (a restarted mirror re-walked the
    // target): drop entries at or past it.
    while (list.length > 0 && ((list[list.length - 1] as OffsetSync).upstream >= sync.upstream || (list[list.length - 1] as OffsetSync).downstream > sync.downstream)) list.pop();
    list.push(sync);
    if (list.length > syncsPerPartitionMax) list.splice(0, list.length - syncsPerPartitionMax);
  }

  latest(topic: string, partition: number): OffsetSync | null {
    const list = this.#byPartition.get(partitionKey(topic, partition));
    return list === undefined || list.length === 0 ? null : (list[list.length - 1] as OffsetSync);
  }

  /** The latest sync whose downstream offset is at most `downstreamMax`, or null. */
  latestAtOrBefore(topic: string, partition: number, downstreamMax: number): OffsetSync | null {
    const list = this.#byPartition.get(partitionKey(topic, partition)) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if ((list[i] as OffsetSync).downstream <= downstreamMax) return list[i] as OffsetSync;
    return null;
  }

  /** Source partitions with syncs. */
  partitions(): { topic: string; partition: number }[] {
    const out: { topic: string; partition: number }[] = [];
    for (const list of this.#byPartition.values()) {
      const s = list[0];
      if (s !== undefined) out.push({ topic: s.topic, partition: s.partition });
    }
    return out;
  }

  /**
   * The target offset for a source position `offset`, never past `copiedEnd` (the target
   * offset after the last batch known copied); null when `offset` is before every sync kept.
   */
  translate(topic: string, partition: number, offset: number, copiedEnd: number): number | null {
    const list = this.#byPartition.get(partitionKey(topic, partition));
    if (list === undefined || list.length === 0) return null;
    let lo = 0;
    let hi = list.length - 1;
    if ((list[0] as OffsetSync).upstream > offset) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((list[mid] as OffsetSync).upstream <= offset) lo = mid;
      else hi = mid - 1;
    }
    const s = list[lo] as OffsetSync;
    const next = list[lo + 1];
    let t = s.downstream + (offset - s.upstream);
    if (next !== undefined && t > next.downstream) t = next.downstream;
    return Math.min(t, copiedEnd);
  }
}

/**
 * Reads a partition from `from` to its high watermark, handing each whole batch to `onBatch`.
 * Used for mirror-owned topics (small) and for the restart walk.
 */
export async function readPartition(
  cluster: ClusterClient,
  ref: PartitionRef,
  from: number | "earliest",
  onBatch: (batch: RecordBatchView) => void,
): Promise<{ ok: true; end: number } | { ok: false; message: string }> {
  const end = await listOffset(cluster, ref, OffsetSpec.latest);
  if (!end.ok) return { ok: false, message: `ListOffsets ${ref.topic}-${ref.partition}: ${describeFailure(end.error)}` };
  let offset: number;
  if (from === "earliest") {
    const start = await listOffset(cluster, ref, OffsetSpec.earliest);
    if (!start.ok) return { ok: false, message: `ListOffsets ${ref.topic}-${ref.partition}: ${describeFailure(start.error)}` };
    offset = start.value;
  } else {
    offset = from;
  }
  while (offset < end.value) {
    const r = await fetchPartition(cluster, ref, { fetchOffset: offset, maxBytes: internalFetchBytes });
    if (!r.ok) return { ok: false, message: `Fetch ${ref.topic}-${ref.partition} at ${offset}: ${describeFailure(r.error)}` };
    const w = completeBatches(r.value.records, offset, internalBatchBytesMax);
    if (w.problem !== null) return { ok: false, message: `Fetch ${ref.topic}-${ref.partition} at ${offset}: ${w.problem}` };
    if (w.batches.length === 0) break;
    for (const b of w.batches) onBatch(b);
    offset = w.nextOffset;
  }
  return { ok: true, end: end.value };
}

/** Loads every sync of the offset-syncs topic into a store (a missing topic is an empty store). */
export async function loadOffsetSyncs(cluster: ClusterClient, topic: string, compression: Compression): Promise<{ ok: true; store: OffsetSyncStore } | { ok: false; message: string }> {
  const store = new OffsetSyncStore();
  await cluster.refreshMetadata([topic]);
  const t = cluster.metadata.topics.find((x) => x.name === topic);
  if (t === undefined || t.errorCode !== 0) return { ok: true, store };
  for (const p of t.partitions) {
    const r = await readPartition(cluster, { topic, partition: p.partitionIndex }, "earliest", (b) => {
      if (b.isControl) return;
      for (const rec of b.records({ maxBytes: internalBatchBytesMax, compression })) {
        const s = decodeSync(rec.key, rec.value);
        if (s !== null) store.add(s);
      }
    });
    if (!r.ok) return r;
  }
  return { ok: true, store };
}
