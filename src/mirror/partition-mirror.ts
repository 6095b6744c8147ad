/**
 * Copies one source partition into the same-numbered partition of the target topic, batch by
 * batch, without decompressing or re-encoding anything.
 *
 * What is written: each source batch's bytes with four header fields restamped — producer id,
 * producer epoch and base sequence become the mirror's own idempotent producer's (from
 * InitProducerId on the target), the transactional bit is cleared — and the CRC recomputed
 * over the unchanged records section. Record count, offset deltas, timestamps, compression,
 * keys, values and headers are the source's bytes. The idempotent sequence lets up to
 * `inflightBatchesMax` produces be in flight at once safely: the target refuses a batch that
 * does not follow the previous one (OUT_OF_ORDER_SEQUENCE_NUMBER) and answers a repeated one
 * with its first offsets, so a retry never reorders or doubles data. (A bunka broker
 * dispatches one connection's requests concurrently, so pipelined produces can reach the log
 * out of order — seen with 16 in flight; the refused batch then sends the partition through
 * the walk below: correct, only slower.)
 *
 * Exactly once across crashes (target partition written only by the mirror): the target log
 * is the checkpoint. At start, and after any failed produce (all in-flight produces drained
 * first), the mirror walks forward from its last known pair (source S, target T) — an offset
 * sync (offset-syncs.ts) or its last acknowledged batch — fetching the target from T and the
 * source from S in lockstep: every target batch must be the copy of the next copyable source
 * batch (same record count, offset span, codec and records bytes). When the target's batches
 * run out, copying resumes at the source batch after the last match, under a fresh producer
 * id. A target batch that matches nothing means another writer: the partition stops with an
 * error instead of guessing.
 *
 * Control batches (transaction markers) are not copied (a client may not produce them); they
 * leave a gap, which an offset sync records before the next batch is produced.
 *
 * Memory: two Fetch answers (`fetchBytes`, the next one is asked for while the current one's
 * batches are produced) plus at most `inflightBatchesMax` batches /
 * `inflightBytesMax` bytes being produced; no fetch is issued while the window is full, so a
 * slow target slows the fetching (backpressure), and a slow source simply idles the window.
 */
import { initProducerId } from "../client/admin.ts";
import type { ClusterClient } from "../client/bootstrap.ts";
import { completeBatches, describeFailure, fetchPartition, listOffset, OffsetSpec, type PartitionRef, produceBatch } from "../client/partition-io.ts";
import { ClientError } from "../client/errors.ts";
import type { Clock } from "../platform/clock.ts";
import type { Compression } from "../platform/compression.ts";
import type { Network } from "../platform/network.ts";
import type { Prng } from "../platform/prng.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { attributeBits, crcStart, RecordBatchView } from "../protocol/records/record-batch.ts";
import type { Logger } from "../util/log.ts";
import { core } from "../wasm/index.ts";
import { type OffsetSync, type OffsetSyncStore } from "./offset-syncs.ts";

export interface MirrorEnv {
  readonly clock: Clock;
  readonly network: Network;
  readonly prng: Prng;
  readonly compression: Compression;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Logger;
}

/** Limits of one partition's copy (see the module doc for what they bound). */
export interface CopyLimits {
  readonly fetchBytes: number;
  readonly fetchWaitMs: number;
  readonly inflightBatchesMax: number;
  readonly inflightBytesMax: number;
  /** Largest source batch accepted; a larger one stops the partition with an error. */
  readonly batchBytesMax: number;
  /** An offset sync after acknowledged batches at most this often. */
  readonly syncIntervalMs: number;
  /** Wait after a failure before walking and copying again (doubles up to the max). */
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
}

export const copyLimitsDefault: CopyLimits = {
  // 1 MiB: a larger answer takes longer to serve and read than the produces it feeds
  // (measured: 4 MiB fetches halved the copy rate of 1 KiB zstd records).
  fetchBytes: 1 << 20,
  fetchWaitMs: 500,
  // Kafka keeps the last 5 batches per idempotent producer: more in flight could not be deduplicated.
  inflightBatchesMax: 5,
  inflightBytesMax: 16 << 20,
  batchBytesMax: 64 << 20,
  syncIntervalMs: 2_000,
  retryBackoffMs: 200,
  retryBackoffMaxMs: 10_000,
};

export interface PartitionContext {
  readonly env: MirrorEnv;
  readonly source: ClusterClient;
  readonly target: ClusterClient;
  readonly syncs: OffsetSyncStore;
  /** Writes a sync durably (acks=all) and adds it to `syncs`; resolves with why it failed, or null. */
  readonly writeSync: (sync: OffsetSync) => Promise<string | null>;
  readonly stopped: () => boolean;
  readonly limits: CopyLimits;
  /**
   * The target partition may have other writers (identity policy: the topic keeps its name,
   * so local producers write it too). Then the mirror's batches are told apart by its producer
   * ids, landing offsets are taken from the acknowledgements instead of being predicted, and an
   * offset sync follows every acknowledged batch that changes the offset distance.
   */
  readonly shared: boolean;
  /** Records a producer id as this flow's on the target before it is used; why not, or null. */
  readonly registerProducer: (producerId: number) => Promise<string | null>;
  /** Whether a mirror wrote a source batch of this producer id (or why that is unknown). */
  readonly isMirrorBatch: (producerId: number) => Promise<boolean | string>;
  /** This flow's producer ids on the target, read to the end of their registry. */
  readonly ownProducerIds: () => Promise<ReadonlySet<number> | string>;
}

export type PartitionState = "starting" | "walking" | "copying" | "waiting" | "failed" | "stopped";

export interface PartitionStatus {
  readonly sourceTopic: string;
  readonly targetTopic: string;
  readonly partition: number;
  state: PartitionState;
  /** Next source offset to copy. */
  sourceNext: number;
  /** Target offset after the last acknowledged batch. */
  targetNext: number;
  /** Source high watermark at the last fetch. */
  sourceHighWatermark: number;
  recordsCopied: number;
  bytesCopied: number;
  /** Wall-clock time the last copied batch was acknowledged, and its max timestamp (ms). */
  lastCopyAtMs: number;
  lastCopiedTimestampMs: number;
  lastError: string | null;
}

/** Thrown inside the copy loop for a condition that sends the partition back to the walk. */
class CopyIncident extends Error {
  constructor(
    message: string,
    readonly fatal = false,
  ) {
    super(message);
  }
}

const int32Max = 0x7fff_ffff;

/** Stamps the mirror's producer fields into a batch in place and recomputes its CRC. */
export function stampBatch(batch: RecordBatchView, producerId: number, producerEpoch: number, baseSequence: number): void {
  if (!(Number.isSafeInteger(producerId) && producerId >= 0)) throw new RangeError(`stampBatch: producerId ${producerId}`);
  if (!(baseSequence >= 0 && baseSequence <= int32Max)) throw new RangeError(`stampBatch: baseSequence ${baseSequence}`);
  const b = batch.bytes;
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  const attributes = view.getInt16(21) & ~attributeBits.transactional;
  view.setInt16(21, attributes);
  view.setBigInt64(43, BigInt(producerId));
  view.setInt16(51, producerEpoch);
  view.setInt32(53, baseSequence);
  view.setUint32(17, core.crc32c(b.subarray(crcStart)) >>> 0);
}

/** The sequence after a batch of `lastOffsetDelta + 1` offsets (wrapping past Int32.MAX to 0). */
export function nextSequence(baseSequence: number, lastOffsetDelta: number): number {
  const n = baseSequence + lastOffsetDelta + 1;
  return n > int32Max ? n - int32Max - 1 : n;
}

/** Whether a target batch is the copy of a source batch (the fields the mirror does not restamp). */
export function isCopyOf(target: RecordBatchView, source: RecordBatchView): boolean {
  if (target.recordCount !== source.recordCount || target.lastOffsetDelta !== source.lastOffsetDelta) return false;
  if (target.compressionId !== source.compressionId || target.baseTimestamp !== source.baseTimestamp) return false;
  const a = target.recordsSection;
  const b = source.recordsSection;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface InFlight {
  readonly result: Promise<{ ok: true; baseOffset: number } | { ok: false; message: string }>;
  readonly sourceBase: number;
  readonly sourceNext: number;
  readonly targetBase: number;
  readonly records: number;
  readonly bytes: number;
  readonly maxTimestamp: number;
}

export class PartitionMirror {
  readonly status: PartitionStatus;
  readonly #ctx: PartitionContext;
  readonly #log: Logger;
  readonly #sourceRef: PartitionRef;
  readonly #targetRef: PartitionRef;
  /** Last pair known to hold: the source batch at `s` is (or will be) at `t` in the target. */
  #ackedSource = -1;
  #ackedTarget = -1;
  #lastSyncMs = 0;
  #lastSyncedSource = -1;

  constructor(ctx: PartitionContext, sourceTopic: string, targetTopic: string, partition: number) {
    this.#ctx = ctx;
    this.#sourceRef = { topic: sourceTopic, partition };
    this.#targetRef = { topic: targetTopic, partition };
    this.#log = ctx.env.log.child({ topic: sourceTopic, partition, target: targetTopic });
    this.status = {
      sourceTopic,
      targetTopic,
      partition,
      state: "starting",
      sourceNext: -1,
      targetNext: -1,
      sourceHighWatermark: -1,
      recordsCopied: 0,
      bytesCopied: 0,
      lastCopyAtMs: 0,
      lastCopiedTimestampMs: -1,
      lastError: null,
    };
  }

  /** Runs until the context stops, or until a fatal condition (the status says which). */
  async run(): Promise<void> {
    let backoffMs = this.#ctx.limits.retryBackoffMs;
    while (!this.#ctx.stopped()) {
      try {
        const start = await this.#walk();
        backoffMs = this.#ctx.limits.retryBackoffMs;
        await this.#copy(start.source, start.target);
      } catch (e) {
        if (!(e instanceof CopyIncident)) throw e;
        this.status.lastError = e.message;
        if (e.fatal) {
          this.status.state = "failed";
          this.#log.error("partition mirror stopped", { reason: e.message });
          return;
        }
        this.status.state = "waiting";
        this.#log.warn("partition mirror waits and resumes", { reason: e.message, waitMs: backoffMs });
        await this.#pause(backoffMs);
        backoffMs = Math.min(backoffMs * 2, this.#ctx.limits.retryBackoffMaxMs);
      }
    }
    this.status.state = "stopped";
  }

  async #pause(ms: number): Promise<void> {
    const until = this.#ctx.env.clock.monotonicMs() + ms;
    while (!this.#ctx.stopped()) {
      const left = until - this.#ctx.env.clock.monotonicMs();
      if (left <= 0) return;
      await this.#ctx.env.sleep(Math.min(left, 100));
    }
  }

  /**
   * Finds where copying resumes: from the last known pair, walks the target's batches
   * against the source's until the target ends. Returns the next source and target offsets.
   */
  async #walk(): Promise<{ source: number; target: number }> {
    this.status.state = "walking";
    const { source, target, syncs } = this.#ctx;
    const tEnd = await listOffset(target, this.#targetRef, OffsetSpec.latest);
    if (!tEnd.ok) throw new CopyIncident(`target ListOffsets: ${describeFailure(tEnd.error)}`);
    const tStart = await listOffset(target, this.#targetRef, OffsetSpec.earliest);
    if (!tStart.ok) throw new CopyIncident(`target ListOffsets: ${describeFailure(tStart.error)}`);
    let s: number;
    let t: number;
    if (this.#ackedTarget >= 0 && this.#ackedTarget <= tEnd.value) {
      s = this.#ackedSource;
      t = this.#ackedTarget;
    } else {
      const sync = syncs.latestAtOrBefore(this.#sourceRef.topic, this.#sourceRef.partition, tEnd.value);
      if (sync !== null && sync.downstream >= tStart.value) {
        s = sync.upstream;
        t = sync.downstream;
      } else if (tEnd.value === tStart.value || this.#ctx.shared) {
        const sStart = await listOffset(source, this.#sourceRef, OffsetSpec.earliest);
        if (!sStart.ok) throw new CopyIncident(`source ListOffsets: ${describeFailure(sStart.error)}`);
        s = sStart.value;
        // A shared target holds others' batches; it holds ours only if this flow ever wrote.
        t = this.#ctx.shared && (await this.#ownIds()).size > 0 ? tStart.value : tEnd.value;
      } else {
        throw new CopyIncident(
          `target ${this.#targetRef.topic}-${this.#targetRef.partition} holds offsets ${tStart.value}..${tEnd.value} but no offset sync places them; it was not written by this mirror (or its offset-syncs topic was lost)`,
          true,
        );
      }
    }
    const walkedFrom = t;
    const own = this.#ctx.shared ? await this.#ownIds() : null;
    let pending: RecordBatchView[] = [];
    let sourceFetchAt = s;
    while (t < tEnd.value) {
      const tr = await fetchPartition(target, this.#targetRef, { fetchOffset: t, maxBytes: this.#ctx.limits.fetchBytes });
      if (!tr.ok) throw new CopyIncident(`target Fetch at ${t}: ${describeFailure(tr.error)}`);
      const tw = completeBatches(tr.value.records, t, this.#ctx.limits.batchBytesMax);
      if (tw.problem !== null) throw new CopyIncident(`target Fetch at ${t}: ${tw.problem}`);
      if (tw.batches.length === 0) break;
      for (const tb of tw.batches) {
        if (own !== null && !own.has(tb.producerId)) {
          t = tb.nextOffset; // another writer's batch in a shared target
          continue;
        }
        if (own === null && tb.baseOffset !== t) throw new CopyIncident(`target batch at ${tb.baseOffset} does not start at ${t}: not written by this mirror`, true);
        // The next copyable source batch.
        let sb: RecordBatchView | undefined;
        while (sb === undefined) {
          const head = pending.shift();
          if (head === undefined) {
            const sr = await fetchPartition(source, this.#sourceRef, { fetchOffset: sourceFetchAt, maxBytes: this.#ctx.limits.fetchBytes });
            if (!sr.ok) throw new CopyIncident(`source Fetch at ${sourceFetchAt}: ${describeFailure(sr.error)}`);
            const sw = completeBatches(sr.value.records, sourceFetchAt, this.#ctx.limits.batchBytesMax);
            if (sw.problem !== null) throw new CopyIncident(`source Fetch at ${sourceFetchAt}: ${sw.problem}`);
            if (sw.batches.length === 0) {
              throw new CopyIncident(`target batch at ${t} has no source batch at or after ${s} to be the copy of: not written by this mirror`, true);
            }
            pending = sw.batches;
            sourceFetchAt = sw.nextOffset;
            continue;
          }
          if (head.isControl || head.lastOffset < s || (await this.#mirrorWrote(head))) continue;
          sb = head;
        }
        if (sb.baseOffset < s) throw new CopyIncident(`source batch ${sb.baseOffset}..${sb.lastOffset} straddles ${s}`, true);
        if (!isCopyOf(tb, sb)) {
          throw new CopyIncident(`target batch at ${t} is not the copy of source batch at ${sb.baseOffset}: the target partition has another writer`, true);
        }
        if (!this.#distanceHolds(sb.baseOffset, tb.baseOffset)) {
          // A change of distance the crashed run may not have recorded: record it (idempotent if it did).
          await this.#sync(sb.baseOffset, tb.baseOffset);
        }
        s = sb.nextOffset;
        t = tb.nextOffset;
      }
    }
    if (t !== walkedFrom) this.#log.info("resuming after the target's last copied batch", { walkedFrom, sourceNext: s, targetNext: t });
    this.#ackedSource = s;
    this.#ackedTarget = t;
    return { source: s, target: t };
  }

  async #sync(upstream: number, downstream: number): Promise<void> {
    const why = await this.#ctx.writeSync({ topic: this.#sourceRef.topic, partition: this.#sourceRef.partition, upstream, downstream });
    if (why !== null) throw new CopyIncident(`offset sync: ${why}`);
    this.#lastSyncMs = this.#ctx.env.clock.monotonicMs();
    this.#lastSyncedSource = upstream;
  }

  async #ownIds(): Promise<ReadonlySet<number>> {
    const own = await this.#ctx.ownProducerIds();
    if (typeof own === "string") throw new CopyIncident(`reading the mirror's producer ids: ${own}`);
    return own;
  }

  /** Whether a mirror wrote this source batch (it is then never copied: a record crosses once). */
  async #mirrorWrote(b: RecordBatchView): Promise<boolean> {
    if (b.producerId < 0) return false;
    const m = await this.#ctx.isMirrorBatch(b.producerId);
    if (typeof m === "string") throw new CopyIncident(`reading the mirror's producer ids: ${m}`);
    return m;
  }

  /** Whether the latest sync's offset distance also places source `s` at target `t`. */
  #distanceHolds(s: number, t: number): boolean {
    const sync = this.#ctx.syncs.latest(this.#sourceRef.topic, this.#sourceRef.partition);
    return sync !== null && sync.upstream <= s && t - sync.downstream === s - sync.upstream;
  }

  async #copy(sourceStart: number, targetStart: number): Promise<void> {
    const { source, target, limits, env } = this.#ctx;
    const pid = await initProducerId(target);
    if (!pid.ok) throw new CopyIncident(`InitProducerId: ${describeFailure(pid.error)}`);
    const { producerId, producerEpoch } = pid.value;
    const registered = await this.#ctx.registerProducer(producerId);
    if (registered !== null) throw new CopyIncident(registered);
    const shared = this.#ctx.shared;
    /** Acknowledged (source, target) pairs that change the offset distance, to be synced (shared targets). */
    const syncsDue: { upstream: number; downstream: number }[] = [];
    let sequence = 0;
    let s = sourceStart;
    let t = targetStart;
    /** The source offset whose batch lands at t when nothing is skipped in between. */
    let expectedSource = this.#syncedDistanceHolds(s, t) ? s : -1;
    const inflight: InFlight[] = [];
    let inflightBytes = 0;
    this.status.state = "copying";
    this.status.sourceNext = s;
    this.status.targetNext = t;

    const settleOldest = async (): Promise<void> => {
      const f = inflight.shift();
      if (f === undefined) return;
      inflightBytes -= f.bytes;
      const r = await f.result;
      if (!r.ok) throw new CopyIncident(`Produce at ${f.targetBase}: ${r.message}`);
      if (!shared && r.baseOffset !== f.targetBase) {
        throw new CopyIncident(`Produce landed at ${r.baseOffset}, expected ${f.targetBase}: another writer appends to the target partition`, true);
      }
      if (shared) {
        const last = syncsDue[syncsDue.length - 1];
        const holds = last === undefined ? this.#distanceHolds(f.sourceBase, r.baseOffset) : r.baseOffset - last.downstream === f.sourceBase - last.upstream;
        if (!holds) syncsDue.push({ upstream: f.sourceBase, downstream: r.baseOffset });
      }
      this.#ackedSource = f.sourceNext;
      this.#ackedTarget = r.baseOffset + (f.sourceNext - f.sourceBase);
      this.status.targetNext = this.#ackedTarget;
      this.status.recordsCopied += f.records;
      this.status.bytesCopied += f.bytes;
      this.status.lastCopyAtMs = env.clock.nowMs();
      this.status.lastCopiedTimestampMs = f.maxTimestamp;
    };
    const drain = async (): Promise<void> => {
      let first: unknown = null;
      while (inflight.length > 0) {
        try {
          await settleOldest();
        } catch (e) {
          first ??= e;
        }
      }
      if (first !== null) throw first;
    };

    try {
      // The next Fetch is sent before this one's batches are produced (at most two answers held),
      // so the source's and the target's round trips overlap.
      const fetchAt = (offset: number) => ({ offset, answer: fetchPartition(source, this.#sourceRef, { fetchOffset: offset, maxBytes: limits.fetchBytes, maxWaitMs: limits.fetchWaitMs }) });
      let prefetched: ReturnType<typeof fetchAt> | null = null;
      while (!this.#ctx.stopped()) {
        const current: ReturnType<typeof fetchAt> = prefetched !== null && prefetched.offset === s ? prefetched : fetchAt(s);
        prefetched = null;
        const r = await current.answer;
        if (!r.ok && !(r.error instanceof ClientError) && r.error.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          const start = await listOffset(source, this.#sourceRef, OffsetSpec.earliest);
          if (start.ok && start.value > s) {
            // Retention removed what was not copied yet: copy from the log start (a gap, synced below).
            this.#log.warn("source log start passed the copy position; records lost to retention before copying", { from: s, logStartOffset: start.value });
            s = start.value;
            continue;
          }
        }
        if (!r.ok) throw new CopyIncident(`source Fetch at ${s}: ${describeFailure(r.error)}`);
        this.status.sourceHighWatermark = r.value.highWatermark;
        if (r.value.logStartOffset > s) {
          // Retention removed what was not copied yet: copy from the log start (a gap, synced below).
          this.#log.warn("source log start passed the copy position; records lost to retention before copying", { from: s, logStartOffset: r.value.logStartOffset });
          s = r.value.logStartOffset;
          continue;
        }
        const w = completeBatches(r.value.records, s, limits.batchBytesMax);
        if (w.problem !== null) throw new CopyIncident(`source Fetch at ${s}: ${w.problem}`);
        if (w.batches.length === 0 && r.value.records.length >= limits.fetchBytes) {
          throw new CopyIncident(`source batch at ${s} is larger than the fetch size ${limits.fetchBytes}`, true);
        }
        if (w.batches.length > 0) prefetched = fetchAt(w.nextOffset);
        for (const b of w.batches) {
          if (b.isControl || (await this.#mirrorWrote(b))) {
            s = b.nextOffset;
            continue;
          }
          if (b.baseOffset < s) {
            // Only a first copy may start inside a batch (the log start was moved into it, e.g.
            // by DeleteRecords): the whole batch is copied, as a consumer would read it whole.
            if (expectedSource !== -1) throw new CopyIncident(`source batch ${b.baseOffset}..${b.lastOffset} straddles the copy position ${s}`, true);
            s = b.baseOffset;
          }
          if (shared ? this.#ctx.syncs.latest(this.#sourceRef.topic, this.#sourceRef.partition) === null : b.baseOffset !== expectedSource) {
            // The distance between source and target offsets changes here: record it first (for a
            // shared target, a lower bound of where the first batch lands, corrected after it does).
            await drain();
            await this.#sync(b.baseOffset, t);
          }
          while (inflight.length >= limits.inflightBatchesMax || (inflight.length > 0 && inflightBytes + b.sizeInBytes > limits.inflightBytesMax)) await settleOldest();
          stampBatch(b, producerId, producerEpoch, sequence);
          sequence = nextSequence(sequence, b.lastOffsetDelta);
          const targetBase = t;
          const result = produceBatch(target, this.#targetRef, b.bytes).then((p) =>
            p.ok ? { ok: true as const, baseOffset: p.value } : { ok: false as const, message: describeFailure(p.error) },
          );
          inflight.push({ result, sourceBase: b.baseOffset, sourceNext: b.nextOffset, targetBase, records: b.recordCount, bytes: b.sizeInBytes, maxTimestamp: b.maxTimestamp });
          inflightBytes += b.sizeInBytes;
          t += b.lastOffsetDelta + 1;
          s = b.nextOffset;
          expectedSource = s;
        }
        this.status.sourceNext = s;
        while (syncsDue.length > 0) {
          await drain();
          for (const due = syncsDue.splice(0); due.length > 0; ) {
            const d = due.shift() as { upstream: number; downstream: number };
            await this.#sync(d.upstream, d.downstream);
          }
        }
        // A periodic sync after acknowledged batches shortens the walk after a crash.
        if (env.clock.monotonicMs() - this.#lastSyncMs >= limits.syncIntervalMs && this.#ackedSource > this.#lastSyncedSource) {
          await drain();
          if (this.#ackedSource > this.#lastSyncedSource) await this.#sync(this.#ackedSource, this.#ackedTarget);
        }
      }
      await drain();
      if (this.#ackedSource > this.#lastSyncedSource) await this.#sync(this.#ackedSource, this.#ackedTarget);
    } catch (e) {
      // Wait for every produce in flight before anyone walks the target again.
      await drain().catch(() => {});
      throw e;
    }
  }

  /** Whether the latest sync's offset distance carries over to (s, t). */
  #syncedDistanceHolds(s: number, t: number): boolean {
    const sync = this.#ctx.syncs.latest(this.#sourceRef.topic, this.#sourceRef.partition);
    return sync !== null && sync.upstream <= s && sync.downstream <= t && t - sync.downstream === s - sync.upstream;
  }
}
