/**
 * The log cleaner: compaction of logs whose `cleanup.policy` includes `compact` (Kafka's
 * semantics, design.html "Log Compaction"). Per log, one clean:
 *
 * 1. Range. Cleanable segments are sealed segments, from the first, that end at or below
 *    min(active segment base, high watermark, recovery point) and whose newest record is
 *    older than `min.compaction.lag.ms`. The active segment is never touched. The dirty
 *    section starts at the cleaner checkpoint (`cleaner-offset-checkpoint`, per log dir);
 *    a log is cleaned when dirty bytes / cleanable bytes >= `min.cleanable.dirty.ratio`,
 *    when the first batch of a dirty segment is older than `max.compaction.lag.ms` (such
 *    logs go first; the active segment of a compacted log rolls within that lag, log-segment.ts),
 *    or when a tombstone's delete horizon has passed.
 * 2. Offset map: key → offset of its last record, over the dirty section, bounded by
 *    `log.cleaner.dedupe.buffer.size`; when full the clean stops there (the rest next time).
 * 3. Rewrite: cleanable segments from the first up to the map's end, in groups of
 *    consecutive segments (one output segment per group, bounded by segment.bytes and the
 *    2^31 relative-offset range). A record is kept unless a later record has its key, it
 *    has no key (compacted topics refuse those at produce), or it is a tombstone whose
 *    batch's delete horizon has passed. A batch that keeps tombstones gets a horizon of
 *    now + `delete.retention.ms` the first time (v2 attribute bit 6, baseTimestamp =
 *    horizon), so tombstones live `delete.retention.ms` after the clean that first saw them.
 *    Kept batches keep their base offset, lastOffsetDelta, leader epoch, producer fields and
 *    codec (re-compressed); unchanged batches are copied byte for byte. Control batches are
 *    always kept (no transactions yet). A batch left without records is dropped, except the
 *    last batch of each group, which stays as an empty batch (header only, recordCount 0,
 *    uncompressed): the group's end offset is then unchanged, so the next offset of the log
 *    never moves, recovery's "a segment ends where the next begins" holds, and a crashed
 *    swap knows exactly which segments it replaces (cleaner-swap.ts). A fetch at such an
 *    empty batch reads on into the next segment (PartitionLog.read), because some clients
 *    (kafkajs) refetch forever when a response holds only record-less batches. Kafka also keeps the
 *    last batch of each producer id for idempotence; bunka rebuilds producer state from the
 *    active segment only (replication/producer-state.ts), which the cleaner never touches,
 *    so no other empty batch is kept.
 * 4. Swap: see cleaner-swap.ts (write `.cleaned`, fsync, rename `.swap`, swap in, crash
 *    recovery at open).
 *
 * Readers during a clean: the work runs in steps on the Clock (at most `cleanerStepBytes` of
 * input each, plus one step per swap), each synchronous, and every fetch is one synchronous
 * `PartitionLog.read` that copies file bytes out. So a read sees either the old segments or
 * the new one, never a half swap, and bytes already returned stay valid; replaced segments
 * are retired (their fds closed, files renamed `.deleted`, removed after
 * file.delete.delay.ms; index mappings of them stay readable, files are never truncated) in
 * the same turn as the swap. After every step the clean checks the log is still open, not
 * truncated (generation) and still holds the segments it read; otherwise it is abandoned
 * and its `.cleaned` file removed. Retention and DeleteRecords (compact,delete) may delete
 * segments between steps: the pass is abandoned and the next one starts from the new start.
 *
 * Batches the cleaner cannot decode (corrupt, or field values out of range) fail the pass and
 * leave the log uncleaned until restart; without codecs, compressed batches are kept whole
 * and their keys do not enter the map (older values elsewhere then stay too: never wrong,
 * only less compact).
 *
 * A tombstone may outlive its horizon while a pass keeps being abandoned; and an abandoned
 * pass leaves some groups cleaned with the map of that pass, which is harmless: the
 * checkpoint moves only after a whole pass, so the next pass repeats it.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { Compression } from "../platform/compression.ts";
import { type FileSystem, joinPath, parentPath, StorageError } from "../platform/fs.ts";
import { buildRecordBatch, type BatchRecord } from "../protocol/records/builder.ts";
import { RecordBatchView, attributeBits, walkBatches } from "../protocol/records/record-batch.ts";
import type { CompressionCodecName } from "../protocol/records/compression.ts";
import type { DecodedRecord } from "../protocol/records/record.ts";
import { RecordsError } from "../protocol/records/records-error.ts";
import { readBatchHeader } from "./batch-header.ts";
import { CheckpointError, checkpointKey, readOffsetCheckpoint, writeOffsetCheckpoint } from "./checkpoint.ts";
import { cleanedLogPath, cleanerOffsetCheckpointName, swapLogPath } from "./cleaner-swap.ts";
import { cleanerBatchInflatedBytesMax, cleanerMapEntryOverheadBytes, relativeOffsetMax } from "./config.ts";
import type { LogSegment } from "./log-segment.ts";
import type { PartitionLog } from "./partition-log.ts";

/** Bytes read from a segment per call. */
const readChunkBytes = 1024 * 1024;
/**
 * Bytes a clean processes between two turns of the event loop (bounds the stall a step
 * causes): stored bytes, plus key and value bytes inflated from compressed batches.
 */
const cleanerStepBytes = 8 * 1024 * 1024;
/** Output is written to the `.cleaned` file in pieces of about this size. */
const writeChunkBytes = 1024 * 1024;
/** A delete horizon is at most this far ahead (keeps baseTimestamp and deltas safe integers). */
const deleteRetentionMsMax = 100 * 365 * 24 * 60 * 60 * 1000;
const batchHeaderBytes = 61;
/** Bytes read per call while scanning batch headers for delete horizons. */
const horizonWindowBytes = 64 * 1024;

export interface LogCleanerOptions {
  fs: FileSystem;
  clock: Clock;
  /** Codecs to inflate and re-compress batches; without them compressed batches are kept whole. */
  codecs: Compression | null;
  /** `log.cleaner.dedupe.buffer.size`. */
  dedupeBufferBytes: number;
  /** `log.cleaner.backoff.ms`. */
  backoffMs: number;
  /** The online log dirs and their logs, as now. */
  logDirs: () => readonly { path: string; logs: readonly PartitionLog[] }[];
  /** Told of every pass the scheduled cleaner finishes (for logs and metrics). */
  onOutcome?: (log: PartitionLog, outcome: CleanOutcome) => void;
}

export type CleanOutcome =
  | {
      kind: "cleaned";
      /** Where the dirty section began and where this clean's map ended (the new checkpoint). */
      firstDirtyOffset: number;
      endOffset: number;
      segmentsBefore: number;
      segmentsAfter: number;
      bytesBefore: number;
      bytesAfter: number;
      recordsRemoved: number;
      tombstonesRemoved: number;
    }
  | { kind: "notNeeded"; reason: string }
  | { kind: "abandoned"; reason: string }
  | { kind: "failed"; reason: string };

interface Plan {
  log: PartitionLog;
  generation: number;
  cleanable: LogSegment[];
  firstDirtyOffset: number;
  dirtyBytes: number;
  cleanBytes: number;
  ratio: number;
  tombstonesDue: boolean;
  /** A dirty batch is older than max.compaction.lag.ms: clean whatever the ratio. */
  compactionDue: boolean;
}

/** A stored batch the cleaner could not read: the log is left alone until restart. */
class CleanerCorruption extends Error {
  override readonly name = "CleanerCorruption";
}

/** Raised inside a clean when the log changed under it. */
class CleanAbandoned extends Error {
  override readonly name = "CleanAbandoned";
}

// windows-1252 (WHATWG "latin1") maps each byte to a distinct code point: an exact key.
const keyDecoder = new TextDecoder("latin1");

function keyString(key: Uint8Array): string {
  return keyDecoder.decode(key);
}

/** Every stored batch of `seg` (CRC checked), with whether it is the segment's last. Reads a chunk at a time. */
function* segmentBatches(fs: FileSystem, seg: LogSegment): Generator<[RecordBatchView, boolean], void, void> {
  const end = seg.sizeBytes;
  let pos = 0;
  let buf = new Uint8Array(Math.min(readChunkBytes, Math.max(end, batchHeaderBytes)));
  while (pos < end) {
    const want = Math.min(buf.length, end - pos);
    const n = fs.read(seg.file.fd(), buf, 0, want, pos);
    if (n !== want) throw new CleanerCorruption(`${seg.logPath}: read ${n} of ${want} bytes at ${pos}`);
    // A copy per chunk: the consumer may yield mid-chunk, and views must not see the next read.
    const chunk = buf.slice(0, n);
    const walk = walkBatches(chunk, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: 0x7fff_ffff });
    for (const view of walk.batches) {
      pos += view.sizeInBytes;
      yield [view, pos === end];
    }
    if (walk.problem === null) continue;
    if (walk.problem === "truncated" && end - pos >= batchHeaderBytes) {
      const head = new Uint8Array(12);
      fs.read(seg.file.fd(), head, 0, 12, pos);
      const need = new DataView(head.buffer).getInt32(8) + 12;
      if (need >= batchHeaderBytes && pos + need <= end) {
        if (need > buf.length) buf = new Uint8Array(need);
        continue;
      }
    }
    throw new CleanerCorruption(`${seg.logPath}: ${walk.problem} batch at position ${pos}`);
  }
}

/** Key and value bytes of decoded records (the work of inflating a compressed batch). */
function inflatedBytes(records: readonly DecodedRecord[]): number {
  let n = 0;
  for (const r of records) n += (r.key?.length ?? 0) + (r.value?.length ?? 0);
  return n;
}

/** The batch's header alone: recordCount 0, no records section, uncompressed, same offsets. */
function emptyBatchLike(view: RecordBatchView): Uint8Array {
  const out = view.bytes.slice(0, batchHeaderBytes);
  const dv = new DataView(out.buffer);
  dv.setInt32(8, batchHeaderBytes - 12);
  const attributes = view.attributes & ~(attributeBits.compressionMask | attributeBits.deleteHorizon);
  dv.setInt16(21, attributes);
  dv.setInt32(57, 0);
  const empty = RecordBatchView.unchecked(out);
  dv.setUint32(17, empty.computeCrc());
  return out;
}

/** Writes one group's cleaned segment to `<base>.log.cleaned`. */
class CleanedSegmentWriter {
  readonly path: string;
  #fs: FileSystem;
  #fd: ReturnType<FileSystem["open"]> | null;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  sizeBytes = 0;
  batches = 0;
  lastOffset = -1;
  /** Smallest delete horizon among written batches (Infinity when none). */
  horizonMs = Number.POSITIVE_INFINITY;

  constructor(fs: FileSystem, dir: string, baseOffset: number) {
    this.#fs = fs;
    this.path = cleanedLogPath(dir, baseOffset);
    this.#fd = fs.open(this.path, "write");
  }

  add(batch: Uint8Array): void {
    const view = RecordBatchView.unchecked(batch);
    const base = view.baseOffset;
    if (base <= this.lastOffset) throw new Error(`cleaner: batch at ${base} after offset ${this.lastOffset} in ${this.path}`);
    this.lastOffset = view.lastOffset;
    const horizon = view.deleteHorizonMs;
    if (horizon !== null && horizon < this.horizonMs) this.horizonMs = horizon;
    this.#pending.push(batch);
    this.#pendingBytes += batch.length;
    this.sizeBytes += batch.length;
    this.batches++;
    if (this.#pendingBytes >= writeChunkBytes) this.#drain();
  }

  #drain(): void {
    if (this.#pendingBytes === 0 || this.#fd === null) return;
    const out = new Uint8Array(this.#pendingBytes);
    let at = 0;
    for (const p of this.#pending) {
      out.set(p, at);
      at += p.length;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#fs.append(this.#fd, out);
  }

  /** Everything written and fsynced; the file is closed. */
  finish(): void {
    this.#drain();
    const fd = this.#fd;
    if (fd === null) throw new Error(`cleaner: ${this.path} finished twice`);
    this.#fs.fsync(fd);
    this.#fd = null;
    this.#fs.close(fd);
  }

  /** Closes (if open) and removes the file; best effort (restart removes `.cleaned` files too). */
  discard(): void {
    try {
      if (this.#fd !== null) this.#fs.close(this.#fd);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
    }
    this.#fd = null;
    try {
      if (this.#fs.exists(this.path)) this.#fs.unlink(this.path);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
    }
  }
}

export class LogCleaner {
  readonly #fs: FileSystem;
  readonly #clock: Clock;
  readonly #codecs: Compression | null;
  #dedupeBufferBytes: number;
  #backoffMs: number;
  readonly #logDirs: LogCleanerOptions["logDirs"];
  readonly #onOutcome: (log: PartitionLog, outcome: CleanOutcome) => void;
  /** Per log dir path: `topic partition` → first dirty offset. */
  readonly #checkpoints = new Map<string, Map<string, number>>();
  /** The log generation each checkpoint entry was taken at (a truncation since resets it). */
  readonly #checkpointGeneration = new WeakMap<PartitionLog, number>();
  /** Earliest delete horizon of any batch in the log; absent = not known yet. */
  readonly #tombstoneDueMs = new WeakMap<PartitionLog, number>();
  /** Logs with unreadable batches: skipped until restart. */
  readonly #uncleanable = new WeakSet<PartitionLog>();
  #timer: CancelTimer | null = null;
  #running: { log: PartitionLog; steps: Generator<void, CleanOutcome, void> } | null = null;
  #started = false;
  /** Totals, for metrics and tests. */
  readonly stats = { passes: 0, cleaned: 0, abandoned: 0, failed: 0, bytesRead: 0, bytesWritten: 0 };

  constructor(opts: LogCleanerOptions) {
    if (!(opts.dedupeBufferBytes >= 1024)) throw new Error(`LogCleaner: dedupe buffer ${opts.dedupeBufferBytes} bytes is too small`);
    if (!(opts.backoffMs >= 0)) throw new Error(`LogCleaner: backoff ${opts.backoffMs} ms`);
    this.#fs = opts.fs;
    this.#clock = opts.clock;
    this.#codecs = opts.codecs;
    this.#dedupeBufferBytes = opts.dedupeBufferBytes;
    this.#backoffMs = opts.backoffMs;
    this.#logDirs = opts.logDirs;
    this.#onOutcome = opts.onOutcome ?? (() => {});
  }

  /**
   * New limits at run time (dynamic broker configs): the backoff applies from the next idle
   * wait, the dedupe buffer from the next clean.
   */
  reconfigure(limits: { dedupeBufferBytes: number; backoffMs: number }): void {
    if (!(limits.dedupeBufferBytes >= 1024)) throw new Error(`LogCleaner: dedupe buffer ${limits.dedupeBufferBytes} bytes is too small`);
    if (!(limits.backoffMs >= 0)) throw new Error(`LogCleaner: backoff ${limits.backoffMs} ms`);
    this.#dedupeBufferBytes = limits.dedupeBufferBytes;
    this.#backoffMs = limits.backoffMs;
  }

  // ---- scheduling -------------------------------------------------------------------------

  /** Runs cleaner passes on the Clock: the filthiest eligible log, one step per turn; backoff when none. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#schedule(this.#backoffMs);
  }

  /** Stops; a clean in progress is abandoned (its `.cleaned` file removed). */
  stop(): void {
    this.#started = false;
    this.#timer?.();
    this.#timer = null;
    const running = this.#running;
    this.#running = null;
    running?.steps.return({ kind: "abandoned", reason: "cleaner stopped" });
  }

  get running(): boolean {
    return this.#started;
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#clock.schedule(delayMs, () => {
      this.#timer = null;
      if (this.#started) this.#turn();
    });
  }

  #turn(): void {
    if (this.#running === null) {
      const plan = this.#filthiest();
      if (plan === null) {
        this.#schedule(this.#backoffMs);
        return;
      }
      this.#running = { log: plan.log, steps: this.#cleanSteps(plan) };
    }
    const running = this.#running;
    const r = running.steps.next();
    if (r.done === true) {
      this.#running = null;
      this.#count(r.value);
      this.#onOutcome(running.log, r.value);
      // Straight on to the next log; a failed one waits a backoff (its dir may be failing).
      this.#schedule(r.value.kind === "failed" ? this.#backoffMs : 0);
      return;
    }
    this.#schedule(0);
  }

  #count(o: CleanOutcome): void {
    this.stats.passes++;
    if (o.kind === "cleaned") this.stats.cleaned++;
    else if (o.kind === "abandoned") this.stats.abandoned++;
    else if (o.kind === "failed") this.stats.failed++;
  }

  #filthiest(): Plan | null {
    const now = this.#clock.nowMs();
    let best: Plan | null = null;
    for (const dir of this.#logDirs()) {
      for (const log of dir.logs) {
        const plan = this.#plan(log, now);
        if (plan === null || !this.#eligible(plan)) continue;
        // Kafka's order: logs past max.compaction.lag.ms first, then the dirtiest.
        if (best === null || (plan.compactionDue && !best.compactionDue) || (plan.compactionDue === best.compactionDue && plan.ratio > best.ratio)) best = plan;
      }
    }
    return best;
  }

  #eligible(plan: Plan): boolean {
    const cfg = plan.log.config;
    return (plan.dirtyBytes > 0 && (plan.ratio >= cfg.minCleanableDirtyRatio || plan.compactionDue)) || plan.tombstonesDue;
  }

  // ---- synchronous entry points (tests, tools) --------------------------------------------

  /**
   * Cleans `log` now, synchronously, if its policy, dirty ratio and lag allow it (`force`
   * skips the ratio check, not the range rules).
   */
  cleanLog(log: PartitionLog, options: { force?: boolean } = {}): CleanOutcome {
    if (this.#running?.log === log) return { kind: "notNeeded", reason: "a clean of this log is in progress" };
    const plan = this.#plan(log, this.#clock.nowMs());
    if (plan === null) return { kind: "notNeeded", reason: "not a compacted log, or nothing cleanable" };
    if (options.force !== true && !this.#eligible(plan)) {
      return { kind: "notNeeded", reason: `dirty ratio ${plan.ratio.toFixed(3)} below ${plan.log.config.minCleanableDirtyRatio}, no batch past max.compaction.lag.ms` };
    }
    const steps = this.#cleanSteps(plan);
    for (;;) {
      const r = steps.next();
      if (r.done === true) {
        this.#count(r.value);
        return r.value;
      }
    }
  }

  /** One pass over every eligible log, synchronously. */
  cleanAll(): CleanOutcome[] {
    const out: CleanOutcome[] = [];
    for (const dir of this.#logDirs()) for (const log of dir.logs) out.push(this.cleanLog(log));
    return out;
  }

  /** Where the dirty section of `log` begins (the checkpoint, clamped), for tests and DescribeLogDirs-like tools. */
  firstDirtyOffset(log: PartitionLog): number {
    return this.#firstDirty(log);
  }

  /** Drops `log`'s checkpoint entry (the partition was deleted). */
  forget(dirPath: string, topic: string, partition: number): void {
    if (this.#checkpointOf(dirPath).delete(checkpointKey(topic, partition))) this.#writeCheckpoint(dirPath);
  }

  // ---- checkpoint -------------------------------------------------------------------------

  #checkpointOf(dirPath: string): Map<string, number> {
    let cp = this.#checkpoints.get(dirPath);
    if (cp === undefined) {
      try {
        cp = readOffsetCheckpoint(this.#fs, joinPath(dirPath, cleanerOffsetCheckpointName)) ?? new Map();
      } catch (e) {
        // Unreadable: clean everything again (harmless, only work).
        if (!(e instanceof CheckpointError || e instanceof StorageError)) throw e;
        cp = new Map();
      }
      this.#checkpoints.set(dirPath, cp);
    }
    return cp;
  }

  #writeCheckpoint(dirPath: string): void {
    const cp = this.#checkpointOf(dirPath);
    const live = this.#logDirs().find((d) => d.path === dirPath);
    if (live !== undefined) {
      const keys = new Set(live.logs.map((l) => checkpointKey(l.topicPartition.topic, l.topicPartition.partition)));
      for (const k of [...cp.keys()]) if (!keys.has(k)) cp.delete(k);
    }
    writeOffsetCheckpoint(this.#fs, joinPath(dirPath, cleanerOffsetCheckpointName), cp);
  }

  #firstDirty(log: PartitionLog): number {
    const dirPath = parentPath(log.dir);
    const key = checkpointKey(log.topicPartition.topic, log.topicPartition.partition);
    const cp = this.#checkpointOf(dirPath).get(key);
    let seenAt = this.#checkpointGeneration.get(log);
    if (seenAt === undefined) {
      // First sight of this log in this process: later truncations are measured from now.
      seenAt = log.generation;
      this.#checkpointGeneration.set(log, seenAt);
    }
    const start = log.logStartOffset;
    if (cp === undefined || cp < start || cp > log.logEndOffset) return start;
    // Truncated since the checkpoint was taken: what follows may be new data; clean it all.
    if (seenAt !== log.generation) return start;
    return cp;
  }

  // ---- planning ---------------------------------------------------------------------------

  #plan(log: PartitionLog, now: number): Plan | null {
    const cfg = log.config;
    if (log.closed || !cfg.cleanupPolicy.compact || this.#uncleanable.has(log) || log.dirHealth.offline) return null;
    const sealed = log.sealedSegments();
    const last = sealed.at(-1);
    if (last === undefined) return null;
    const bound = Math.min(last.nextOffset, log.highWatermark, log.recoveryPoint);
    const cleanable: LogSegment[] = [];
    try {
      for (const seg of sealed) {
        if (seg.nextOffset > bound) break;
        if (cfg.minCompactionLagMs > 0 && seg.maxTimestamp().ts > now - cfg.minCompactionLagMs) break;
        cleanable.push(seg);
      }
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      log.dirHealth.recordFailure(e);
      return null;
    }
    if (cleanable.length === 0) return null;
    const firstDirtyOffset = this.#firstDirty(log);
    let dirtyBytes = 0;
    let cleanBytes = 0;
    for (const seg of cleanable) {
      if (seg.nextOffset > firstDirtyOffset) dirtyBytes += seg.sizeBytes;
      else cleanBytes += seg.sizeBytes;
    }
    const total = dirtyBytes + cleanBytes;
    const ratio = total === 0 ? 0 : dirtyBytes / total;
    let due = this.#tombstoneDueMs.get(log);
    if (due === undefined) {
      // Horizons are set by cleans, so only the clean section can hold them (a pass that was
      // abandoned may have left some in the dirty section, which the next pass cleans anyway).
      due = this.#scanHorizons(
        log,
        cleanable.filter((seg) => seg.nextOffset <= firstDirtyOffset),
      );
      // A horizon still due after a whole pass (a batch kept whole, e.g. compressed without
      // codecs) must not trigger pass after pass: only new data or a later horizon will.
      this.#tombstoneDueMs.set(log, due > now ? due : Number.POSITIVE_INFINITY);
    }
    const compactionDue = this.#compactionDue(log, cleanable, firstDirtyOffset, now);
    if (compactionDue === null) return null;
    return { log, generation: log.generation, cleanable, firstDirtyOffset, dirtyBytes, cleanBytes, ratio, tombstonesDue: now >= due, compactionDue };
  }

  /**
   * max.compaction.lag.ms, as Kafka's LogCleanerManager decides it: true when the first batch
   * of some dirty cleanable segment has a (max) timestamp older than now - the lag (batches
   * without a timestamp do not count). One header read per dirty segment, only when the lag
   * is bounded. Null when the log dir failed.
   */
  #compactionDue(log: PartitionLog, cleanable: readonly LogSegment[], firstDirtyOffset: number, now: number): boolean | null {
    const lagMs = log.config.maxCompactionLagMs;
    if (!Number.isFinite(lagMs)) return false;
    try {
      for (const seg of cleanable) {
        if (seg.nextOffset <= firstDirtyOffset) continue;
        const first = seg.findBatch(seg.baseOffset);
        if (first !== null && first.header.maxTimestamp >= 0 && first.header.maxTimestamp < now - lagMs) return true;
      }
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      log.dirHealth.recordFailure(e);
      return null;
    }
    return false;
  }

  /**
   * Earliest delete horizon among `segments` (Infinity when none), from batch headers alone
   * (attributes bit 6, baseTimestamp): one windowed positional read per few batches.
   */
  #scanHorizons(log: PartitionLog, segments: readonly LogSegment[]): number {
    let due = Number.POSITIVE_INFINITY;
    try {
      for (const seg of segments) {
        const end = seg.sizeBytes;
        let pos = 0;
        let window = new Uint8Array(0);
        let windowPos = 0;
        while (pos + batchHeaderBytes <= end) {
          if (pos < windowPos || pos + batchHeaderBytes > windowPos + window.length) {
            window = new Uint8Array(Math.min(horizonWindowBytes, end - pos));
            if (this.#fs.read(seg.file.fd(), window, 0, window.length, pos) !== window.length) break;
            windowPos = pos;
          }
          const at = pos - windowPos;
          const h = readBatchHeader(window, at);
          if (h === null) throw new CleanerCorruption(`${seg.logPath}: implausible batch header at ${pos}`);
          const view = RecordBatchView.unchecked(window.subarray(at, at + batchHeaderBytes));
          const horizon = view.hasDeleteHorizon ? view.baseTimestamp : null;
          if (horizon !== null && horizon < due) due = horizon;
          pos += h.sizeBytes;
        }
      }
    } catch (e) {
      if (e instanceof CleanerCorruption || e instanceof RecordsError) this.#uncleanable.add(log);
      else if (e instanceof StorageError) log.dirHealth.recordFailure(e);
      else throw e;
    }
    return due;
  }

  /** The log still holds `plan`'s segments, unchanged (same objects, same generation), and is open. */
  #check(plan: Plan): void {
    const log = plan.log;
    if (log.closed) throw new CleanAbandoned("log closed");
    if (log.generation !== plan.generation) throw new CleanAbandoned("log truncated");
    const sealed = log.sealedSegments();
    for (const seg of plan.cleanable) if (!sealed.includes(seg)) throw new CleanAbandoned(`segment ${seg.baseOffset} deleted`);
  }

  // ---- cleaning ---------------------------------------------------------------------------

  /** One clean of `plan.log`, a step per yield (see the module doc). */
  *#cleanSteps(plan: Plan): Generator<void, CleanOutcome, void> {
    const log = plan.log;
    let writer: CleanedSegmentWriter | null = null;
    try {
      const now = this.#clock.nowMs();
      // ---- offset map over the dirty section ----
      const map = new Map<string, number>();
      let mapBytes = 0;
      let endOffset = plan.firstDirtyOffset;
      let full = false;
      let stepBytes = 0;
      for (const seg of plan.cleanable) {
        if (seg.nextOffset <= plan.firstDirtyOffset) continue;
        for (const [view] of segmentBatches(this.#fs, seg)) {
          this.stats.bytesRead += view.sizeInBytes;
          if (view.lastOffset >= plan.firstDirtyOffset) {
            const records = view.isControl ? [] : this.#decode(view);
            if (records !== null) {
              const keys: string[] = [];
              let add = 0;
              const fresh = new Set<string>();
              for (const r of records) {
                if (r.key === null) continue;
                const k = keyString(r.key);
                keys.push(k);
                if (!map.has(k) && !fresh.has(k)) {
                  fresh.add(k);
                  add += r.key.length + cleanerMapEntryOverheadBytes;
                }
              }
              if (mapBytes + add > this.#dedupeBufferBytes) {
                full = true;
                break;
              }
              mapBytes += add;
              let i = 0;
              for (const r of records) if (r.key !== null) map.set(keys[i++]!, r.offset);
              if (view.compressionId !== 0) stepBytes += inflatedBytes(records);
            }
            endOffset = view.lastOffset + 1;
          }
          stepBytes += view.sizeInBytes;
          if (stepBytes >= cleanerStepBytes) {
            stepBytes = 0;
            yield;
            this.#check(plan);
          }
        }
        if (full) break;
        endOffset = Math.max(endOffset, seg.nextOffset);
        yield;
        this.#check(plan);
      }
      if (full && endOffset === plan.firstDirtyOffset && !plan.tombstonesDue) {
        this.#uncleanable.add(log);
        return { kind: "failed", reason: `one batch's keys exceed the dedupe buffer (${this.#dedupeBufferBytes} bytes)` };
      }
      // ---- rewrite, group by group ----
      const toClean = plan.cleanable.filter((s) => s.baseOffset < endOffset || !full);
      const cfg = log.config;
      const groups = this.#groups(toClean, cfg.segmentBytes);
      const rewritten = new Set<LogSegment>(toClean);
      const horizonForNew = now + Math.min(Math.max(0, cfg.deleteRetentionMs), deleteRetentionMsMax);
      let recordsRemoved = 0;
      let tombstonesRemoved = 0;
      let bytesBefore = 0;
      let bytesAfter = 0;
      let due = Number.POSITIVE_INFINITY;
      const segmentsBefore = log.sealedSegments().length + 1;
      for (const group of groups) {
        const w: CleanedSegmentWriter = new CleanedSegmentWriter(this.#fs, log.dir, group[0]!.baseOffset);
        writer = w;
        let changed = false;
        for (let g = 0; g < group.length; g++) {
          const seg = group[g]!;
          const lastSeg = g === group.length - 1;
          bytesBefore += seg.sizeBytes;
          for (const [view, isLast] of segmentBatches(this.#fs, seg)) {
            this.stats.bytesRead += view.sizeInBytes;
            const r = this.#cleanBatch(view, map, now, horizonForNew, lastSeg && isLast);
            recordsRemoved += r.recordsRemoved;
            tombstonesRemoved += r.tombstonesRemoved;
            if (r.bytes !== view.bytes) changed = true;
            if (r.bytes !== null) w.add(r.bytes);
            stepBytes += view.sizeInBytes + r.inflatedBytes;
            if (stepBytes >= cleanerStepBytes) {
              stepBytes = 0;
              yield;
              this.#check(plan);
            }
          }
          yield;
          this.#check(plan);
        }
        if (w.batches === 0) throw new Error(`cleaner: group at ${group[0]!.baseOffset} of ${log.dir} came out empty`);
        if (!changed && group.length === 1) {
          // Nothing to gain: leave the segment as it is.
          w.discard();
          writer = null;
          bytesAfter += group[0]!.sizeBytes;
          due = Math.min(due, w.horizonMs);
          continue;
        }
        const lastSeg = group[group.length - 1]!;
        if (w.lastOffset < lastSeg.baseOffset || w.lastOffset >= lastSeg.nextOffset) {
          throw new Error(`cleaner: group of ${log.dir} ends at ${w.lastOffset}, its last segment spans [${lastSeg.baseOffset}, ${lastSeg.nextOffset})`);
        }
        w.finish();
        // Commit and swap in the same turn: no read can see anything in between.
        this.#check(plan);
        const swap = swapLogPath(log.dir, group[0]!.baseOffset);
        try {
          this.#fs.rename(w.path, swap);
          writer = null;
          this.#fs.fsyncDir(log.dir);
        } catch (e) {
          if (e instanceof StorageError) log.dirHealth.fail(e); // a swap may be half made: restart decides
          throw e;
        }
        const seg = log.replaceSegments(group, swap, w.sizeBytes);
        rewritten.add(seg);
        plan.cleanable.splice(plan.cleanable.indexOf(group[0]!), group.length, seg);
        bytesAfter += w.sizeBytes;
        this.stats.bytesWritten += w.sizeBytes;
        due = Math.min(due, w.horizonMs);
        yield;
        this.#check(plan);
      }
      // Horizons of segments not rewritten this pass (beyond the map's end) still count.
      for (const seg of plan.cleanable) {
        if (rewritten.has(seg)) continue;
        due = Math.min(due, this.#scanHorizons(log, [seg]));
      }
      // A horizon still due after a whole pass (a batch kept whole, e.g. compressed without
      // codecs) must not trigger pass after pass: only new data or a later horizon will.
      this.#tombstoneDueMs.set(log, due > now ? due : Number.POSITIVE_INFINITY);
      const dirPath = parentPath(log.dir);
      this.#checkpointOf(dirPath).set(checkpointKey(log.topicPartition.topic, log.topicPartition.partition), endOffset);
      this.#checkpointGeneration.set(log, log.generation);
      this.#writeCheckpoint(dirPath);
      return {
        kind: "cleaned",
        firstDirtyOffset: plan.firstDirtyOffset,
        endOffset,
        segmentsBefore,
        segmentsAfter: log.sealedSegments().length + 1,
        bytesBefore,
        bytesAfter,
        recordsRemoved,
        tombstonesRemoved,
      };
    } catch (e) {
      if (e instanceof CleanAbandoned) return { kind: "abandoned", reason: e.message };
      if (e instanceof CleanerCorruption || e instanceof RecordsError) {
        // Stored bytes the cleaner cannot read or write back: leave the log as it is.
        this.#uncleanable.add(log);
        return { kind: "failed", reason: e.message };
      }
      if (e instanceof StorageError) {
        log.dirHealth.recordFailure(e);
        return { kind: "failed", reason: e.message };
      }
      throw e;
    } finally {
      writer?.discard();
    }
  }

  /** Consecutive segments to merge into one output segment each (at most `segmentBytes`, 2^31 offsets wide). */
  #groups(segments: readonly LogSegment[], segmentBytes: number): LogSegment[][] {
    const groups: LogSegment[][] = [];
    let cur: LogSegment[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (cur.length > 0) groups.push(cur);
      cur = [];
      bytes = 0;
    };
    for (const seg of segments) {
      if (seg.sizeBytes === 0) {
        // An empty sealed segment is left alone: a group must end with a batch (cleaner-swap.ts).
        flush();
        continue;
      }
      const first = cur[0];
      if (first !== undefined && (bytes + seg.sizeBytes > segmentBytes || seg.nextOffset - 1 - first.baseOffset > relativeOffsetMax)) flush();
      cur.push(seg);
      bytes += seg.sizeBytes;
    }
    flush();
    return groups;
  }

  /** Inflated records of a batch, or null when it cannot be inflated here (no codecs: kept whole). */
  #decode(view: RecordBatchView): DecodedRecord[] | null {
    if (view.compressionId !== 0 && this.#codecs === null) return null;
    try {
      return this.#codecs === null
        ? view.records({ maxBytes: cleanerBatchInflatedBytesMax })
        : view.records({ maxBytes: cleanerBatchInflatedBytesMax, compression: this.#codecs });
    } catch (e) {
      if (e instanceof RecordsError) throw new CleanerCorruption(`batch at offset ${view.baseOffset}: ${e.message}`);
      throw e;
    }
  }

  /** The cleaned form of one batch: the same bytes, new bytes, or null (dropped). */
  #cleanBatch(
    view: RecordBatchView,
    map: ReadonlyMap<string, number>,
    now: number,
    horizonForNew: number,
    isGroupLast: boolean,
  ): { bytes: Uint8Array | null; recordsRemoved: number; tombstonesRemoved: number; inflatedBytes: number } {
    const same = { bytes: view.bytes, recordsRemoved: 0, tombstonesRemoved: 0, inflatedBytes: 0 };
    if (view.isControl) return same;
    const records = this.#decode(view);
    if (records === null) return same;
    // Work done beyond the stored bytes: inflating, and re-compressing what is kept.
    const work = view.compressionId === 0 ? 0 : inflatedBytes(records);
    same.inflatedBytes = work;
    const horizon = view.deleteHorizonMs;
    const horizonPassed = horizon !== null && now >= horizon;
    const kept: DecodedRecord[] = [];
    let tombstonesRemoved = 0;
    let keptTombstones = 0;
    for (const r of records) {
      if (r.key === null) continue;
      const latest = map.get(keyString(r.key));
      if (latest !== undefined && latest > r.offset) continue;
      if (r.value === null) {
        if (horizonPassed) {
          tombstonesRemoved++;
          continue;
        }
        keptTombstones++;
      }
      kept.push(r);
    }
    const newHorizon = keptTombstones === 0 ? null : (horizon ?? horizonForNew);
    const recordsRemoved = records.length - kept.length;
    if (recordsRemoved === 0 && newHorizon === horizon) return same;
    if (kept.length === 0) {
      return { bytes: isGroupLast ? emptyBatchLike(view) : null, recordsRemoved, tombstonesRemoved, inflatedBytes: work };
    }
    const input: BatchRecord[] = kept.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: r.timestamp,
      offsetDelta: r.offsetDelta,
    }));
    const codec = view.compression;
    let bytes: Uint8Array;
    try {
      bytes = this.#rebuild(view, input, codec, newHorizon);
    } catch (e) {
      // Field values a client wrote that cannot be written back (timestamps out of range).
      if (e instanceof RangeError) throw new CleanerCorruption(`batch at offset ${view.baseOffset}: ${e.message}`);
      throw e;
    }
    return { bytes, recordsRemoved, tombstonesRemoved, inflatedBytes: work };
  }

  #rebuild(view: RecordBatchView, input: BatchRecord[], codec: CompressionCodecName, newHorizon: number | null): Uint8Array {
    return buildRecordBatch(input, {
      baseOffset: view.baseOffset,
      partitionLeaderEpoch: view.partitionLeaderEpoch,
      compression: codec,
      ...(this.#codecs === null ? {} : { codecs: this.#codecs }),
      producerId: view.producerId,
      producerEpoch: view.producerEpoch,
      baseSequence: view.baseSequence,
      isTransactional: view.isTransactional,
      lastOffsetDelta: view.lastOffsetDelta,
      ...(view.timestampType === "LogAppendTime" ? { logAppendTimeMs: view.maxTimestamp } : {}),
      ...(newHorizon === null ? {} : { deleteHorizonMs: newHorizon }),
    });
  }
}
