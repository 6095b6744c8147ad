/**
 * The log of one partition: a directory `<topic>-<partition>/` of segments (log-segment.ts),
 * the leader epoch cache, and the offsets Kafka tracks for it.
 *
 * Offsets: logStartOffset <= highWatermark <= logEndOffset; recoveryPoint <= logEndOffset
 * and every offset below recoveryPoint is on disk (fsynced). Offsets are dense per
 * producer batch and strictly ascending across batches.
 *
 * Appends validate batches in wire form (core.scanBatches: lengths, CRC, dense offsets),
 * patch base offset and leader epoch in place, and write them with one syscall. A failed
 * write leaves nothing visible: offsets do not advance and the torn bytes are cut before
 * the next append (or by recovery). Reads return whole stored batches (file bytes, one
 * positional read), never re-encoded.
 *
 * Durability follows `flush.messages` / `flush.ms` (default: never, like Kafka); flushes are
 * group commits scheduled on the injected Clock. A rolled segment is fsynced in the
 * background (FileSystem.fsyncPath, off the event loop) and the recovery point then moves
 * past it. Recovery after an unclean stop re-validates the segments from the one holding
 * the recovery point onwards, never the ones before it, and fsyncs what it keeps; a leader
 * epoch checkpoint behind the batches is brought up to them (`#rebuildEpochCacheIfBehind`).
 *
 * Compaction (cleaner.ts) replaces runs of sealed segments below the recovery point and
 * the high watermark by cleaned ones (`replaceSegments`, synchronous, so a read sees the old
 * or the new segments); batch offsets are kept, so offsets still ascend but may skip, and a
 * cleaned segment ends at the same offset as the segments it replaced (the next offset of
 * the log never changes). Open completes or undoes a swap a crash
 * interrupted (cleaner-swap.ts). Retention runs only when `cleanup.policy` includes delete.
 *
 * Errors: conditions are result kinds (AppendResult, ReadResult); I/O failures are
 * `StorageError`s, returned from append/read/flush and thrown from the multi-file changes
 * (truncation, deletion, roll), which also take the log dir offline (see LogDirHealth).
 * Programming errors (bad arguments, broken invariants) throw plain Errors.
 */
import type { Clock, CancelTimer } from "../platform/clock.ts";
import { type FileSystem, joinPath, StorageError } from "../platform/fs.ts";
import type { BufferPool } from "../util/buffer-pool.ts";
import { core } from "../wasm/index.ts";
import { type LogConfig, logOverheadBytes, readBytesMax } from "./config.ts";
import type { FileCache } from "./file-cache.ts";
import { deletedSuffix, indexSuffix, logSuffix, parseOffsetFileName, timeIndexSuffix, tmpSuffix, type TopicPartition } from "./file-names.ts";
import { type EpochEndOffset, LeaderEpochCache } from "./leader-epoch-cache.ts";
import { completeInterruptedSwaps } from "./cleaner-swap.ts";
import { readBatchHeader } from "./batch-header.ts";
import { LogSegment, type SegmentContext } from "./log-segment.ts";
import { internalTopicNames, type LogDirSpace } from "./disk-monitor.ts";

/** True when every batch in `bytes` (whole v2 batches) has recordCount 0. */
function onlyRecordlessBatches(bytes: Uint8Array): boolean {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 61 <= bytes.length) {
    if (dv.getInt32(at + 57) !== 0) return false;
    at += dv.getInt32(at + 8) + logOverheadBytes;
  }
  return at > 0;
}

/** Bytes read per step while taking leader epochs from the batches at open. */
const epochRebuildReadBytes = 4 * 1024 * 1024;

/** Kafka's ListOffsets special timestamps. */
export const earliestTimestamp = -2;
export const latestTimestamp = -1;
export const maxTimestampQuery = -3;

/** Health of one log dir, shared by its logs: consecutive I/O failures, offline after too many. */
export class LogDirHealth {
  failures = 0;
  offline = false;
  lastError: StorageError | null = null;
  constructor(
    readonly dir: string,
    readonly failuresMax: number,
    readonly onOffline: (dir: string, error: StorageError) => void = () => {},
  ) {}

  recordFailure(e: StorageError): void {
    this.lastError = e;
    // A full filesystem is a condition the disk monitor handles, not a failing disk.
    if (e.code === "ENOSPC") return;
    this.failures++;
    if (!this.offline && this.failures >= this.failuresMax) {
      this.offline = true;
      this.onOffline(this.dir, e);
    }
  }

  recordSuccess(): void {
    if (!this.offline) this.failures = 0;
  }

  /** A failure that leaves a log's files in an unknown state: offline at once (Kafka's rule). */
  fail(e: StorageError): void {
    this.failures = Math.max(this.failures, this.failuresMax - 1);
    this.recordFailure(e);
  }
}

export type AppendError =
  | { kind: "corruptMessage"; detail: string }
  | { kind: "messageTooLarge"; detail: string }
  | { kind: "recordListTooLarge"; detail: string }
  | { kind: "invalidOffsets"; detail: string }
  | { kind: "storageError"; error: StorageError }
  | { kind: "logDirOffline" }
  /** The log dir is too full for this append (disk monitor refusal, or ENOSPC): retry later. */
  | { kind: "logDirFull"; detail: string };

export interface AppendInfo {
  kind: "ok";
  firstOffset: number;
  lastOffset: number;
  batchCount: number;
  recordCount: number;
  /** Largest batch maxTimestamp in the append, and the base offset of that batch. */
  maxTimestamp: number;
  offsetOfMaxTimestamp: number;
  logStartOffset: number;
  /**
   * Resolves (null) once these records are fsynced, or with the error that stopped it; null
   * when the flush policy is "never" (call `flushTicket` to require durability anyway).
   */
  flushed: Promise<StorageError | null> | null;
}

export type AppendResult = AppendInfo | AppendError;

export type ReadResult =
  | {
      kind: "ok";
      /** Whole batches (possibly empty); the first holds the fetch offset. */
      records: Uint8Array;
      /** Base offset of the first batch returned, or -1 when none. */
      firstOffset: number;
      /** Last offset of the last batch returned, or -1 when none. */
      lastOffset: number;
      highWatermark: number;
      logStartOffset: number;
      logEndOffset: number;
    }
  | { kind: "offsetOutOfRange"; logStartOffset: number; logEndOffset: number }
  | { kind: "corrupt"; detail: string }
  | { kind: "storageError"; error: StorageError };

export interface PartitionLogOptions {
  fs: FileSystem;
  clock: Clock;
  dir: string;
  topicPartition: TopicPartition;
  config: LogConfig;
  files: FileCache;
  /** Read buffers for fetches (SegmentContext.readBuffers); none when absent. */
  readBuffers?: BufferPool | null;
  health: LogDirHealth;
  /** The log dir's space gate (disk-monitor.ts), asked before every leader append; none: no limit. */
  space?: LogDirSpace | null;
  /** From the log dir's checkpoints (0 when unknown: recover everything). */
  recoveryPoint: number;
  logStartOffset: number;
  highWatermark: number;
  hadCleanShutdown: boolean;
  /**
   * Called synchronously when truncation lowers the recovery point (before data changes) or
   * the log start offset (after): checkpoint both so a crash cannot resurrect stale values.
   */
  onRecoveryPointLowered?: (log: PartitionLog) => void;
}

/** What recovery did at open, for logs and tests. */
export interface LoadReport {
  segments: number;
  segmentsRecovered: number;
  truncatedBytes: number;
  reason: string | null;
  /** Leader epoch cache entries taken from the batches (the checkpoint was missing or behind). */
  epochsRebuilt?: number;
}

type FlushWaiter = { offset: number; resolve: (e: StorageError | null) => void };

export class PartitionLog {
  readonly dir: string;
  readonly topicPartition: TopicPartition;
  readonly loadReport: LoadReport;
  #fs: FileSystem;
  #clock: Clock;
  #config: LogConfig;
  #ctx: SegmentContext;
  #health: LogDirHealth;
  readonly #space: LogDirSpace | null;
  readonly #internal: boolean;
  #segments: LogSegment[];
  #epochs: LeaderEpochCache;
  #logStartOffset: number;
  #logEndOffset: number;
  #highWatermark: number;
  #recoveryPoint: number;
  #unflushedRecords = 0;
  #flushTimer: CancelTimer | null = null;
  #flushTimerDueMs = Number.POSITIVE_INFINITY;
  #waiters: FlushWaiter[] = [];
  #dirDirty = false;
  /** Sealed segments not yet fsynced (rolled since the last flush), oldest first. */
  #unflushedSealed: LogSegment[] = [];
  #backgroundFlushing = false;
  /** Bumped by every truncation: background flushes that straddle one do not move offsets. */
  #generation = 0;
  #closed = false;
  #onRecoveryPointLowered: (log: PartitionLog) => void;
  /** Scheduled removals of `.deleted` files: cancel handle → the removal. */
  #pendingDeletes = new Map<CancelTimer, () => void>();

  private constructor(opts: PartitionLogOptions, segments: LogSegment[], report: LoadReport, recoveryPoint: number) {
    this.dir = opts.dir;
    this.topicPartition = opts.topicPartition;
    this.#fs = opts.fs;
    this.#clock = opts.clock;
    this.#config = opts.config;
    this.#ctx = { dir: opts.dir, files: opts.files, config: opts.config, readBuffers: opts.readBuffers ?? null };
    this.#health = opts.health;
    this.#space = opts.space ?? null;
    this.#internal = internalTopicNames.has(opts.topicPartition.topic);
    this.#segments = segments;
    this.loadReport = report;
    const active = segments.at(-1)!;
    this.#logEndOffset = active.nextOffset;
    this.#logStartOffset = Math.min(Math.max(opts.logStartOffset, segments[0]!.baseOffset), this.#logEndOffset);
    this.#recoveryPoint = Math.min(recoveryPoint, this.#logEndOffset);
    this.#highWatermark = Math.min(Math.max(opts.highWatermark, this.#logStartOffset), this.#logEndOffset);
    this.#epochs = LeaderEpochCache.load(opts.fs, opts.dir);
    this.#epochs.truncateFromEnd(this.#logEndOffset);
    this.#epochs.truncateFromStart(this.#logStartOffset);
    this.#onRecoveryPointLowered = opts.onRecoveryPointLowered ?? (() => {});
  }

  // ---- open / recovery --------------------------------------------------------------------

  /** Opens (creating when missing) the log in `opts.dir`, recovering after an unclean stop. Throws StorageError. */
  static open(opts: PartitionLogOptions): PartitionLog {
    const { fs, dir } = opts;
    const nowMs = opts.clock.nowMs();
    fs.mkdirp(dir);
    // A clean interrupted by a crash: back to the old segments or on to the cleaned one.
    completeInterruptedSwaps(fs, dir);
    const names = fs.readdir(dir);
    const bases: number[] = [];
    const logBases = new Set<number>();
    for (const name of names) {
      const b = parseOffsetFileName(name, logSuffix);
      if (b !== null) logBases.add(b);
    }
    for (const name of names) {
      const path = joinPath(dir, name);
      if (name.endsWith(deletedSuffix) || name.endsWith(tmpSuffix)) {
        fs.unlink(path);
        continue;
      }
      const b = parseOffsetFileName(name, logSuffix);
      if (b !== null) {
        bases.push(b);
        continue;
      }
      const ib = parseOffsetFileName(name, indexSuffix) ?? parseOffsetFileName(name, timeIndexSuffix);
      if (ib !== null && !logBases.has(ib)) fs.unlink(path);
    }
    bases.sort((a, b) => a - b);
    const ctx: SegmentContext = { dir, files: opts.files, config: opts.config, readBuffers: opts.readBuffers ?? null };
    const segments = bases.map((b) => LogSegment.openSealed(ctx, b, fs.stat(joinPath(dir, b.toString().padStart(20, "0") + logSuffix)).size, nowMs));
    for (let i = 0; i + 1 < segments.length; i++) segments[i]!.nextOffset = segments[i + 1]!.baseOffset;
    const report: LoadReport = { segments: segments.length, segmentsRecovered: 0, truncatedBytes: 0, reason: null };
    if (segments.length === 0) {
      const start = Math.max(0, opts.logStartOffset, opts.recoveryPoint);
      segments.push(LogSegment.create(ctx, start, nowMs));
      fs.fsyncDir(dir);
      report.segments = 1;
      return new PartitionLog(opts, segments, report, start);
    }
    const last = segments.at(-1)!;
    let recoveryPoint = opts.recoveryPoint;
    if (opts.hadCleanShutdown && last.openActiveClean(last.sizeBytes)) {
      recoveryPoint = last.nextOffset;
    } else {
      // Recover from the segment holding the recovery point (the last one at least).
      let start = opts.hadCleanShutdown ? segments.length - 1 : 0;
      if (!opts.hadCleanShutdown) {
        for (let i = 0; i < segments.length; i++) if (segments[i]!.baseOffset <= opts.recoveryPoint) start = i;
      }
      let minOffset = start > 0 ? segments[start]!.baseOffset : 0;
      for (let i = start; i < segments.length; i++) {
        const seg = segments[i]!;
        const r = seg.recover(minOffset, i < segments.length - 1);
        report.segmentsRecovered++;
        report.truncatedBytes += r.truncatedBytes;
        minOffset = r.nextOffset;
        const next = segments[i + 1];
        // A segment must end exactly where the next begins: more overlaps it, less means
        // unflushed data was lost while the next segment's file survived. (A follower
        // gap at a roll is indistinguishable; it is re-fetched, being past the recovery point.)
        const broken = r.reason !== null || (next !== undefined && r.nextOffset !== next.baseOffset);
        if (broken) {
          report.reason ??= `${seg.logPath}: ${r.reason ?? `ends at offset ${r.nextOffset}, next segment starts at ${next?.baseOffset}`}`;
          // Everything after a broken point is unreachable: drop the later segments.
          for (const later of segments.splice(i + 1)) {
            for (const p of later.markDeleted()) fs.unlink(p);
          }
          fs.fsyncDir(dir);
          break;
        }
        if (next !== undefined) seg.nextOffset = next.baseOffset;
      }
      const active = segments.at(-1)!;
      active.activate();
      // What survived the crash is valid now; make it durable so the recovery point can
      // move to the end (otherwise it would stay behind until the next flush, and the next
      // unclean stop would rescan all of this again).
      for (let i = start; i < segments.length; i++) segments[i]!.flush();
      fs.fsyncDir(dir); // and their directory entries
      recoveryPoint = active.nextOffset;
    }
    const log = new PartitionLog(opts, segments, report, recoveryPoint);
    report.epochsRebuilt = log.#rebuildEpochCacheIfBehind();
    // Recovery lost data below the checkpointed log start: record the lower start now, or a
    // later restart would hide offsets appended after this one.
    if (log.logStartOffset < opts.logStartOffset || log.recoveryPoint < opts.recoveryPoint) log.#onRecoveryPointLowered(log);
    return log;
  }

  /**
   * The leader epoch checkpoint is written after the batches that start an epoch, and may be
   * lost or stale after a crash or a copied directory: when the last batch carries a newer
   * epoch than the cache's latest (or the cache is empty under a non-empty log), the epochs
   * are taken from the batch headers — from the start of the cache's latest epoch, or from
   * the log start when it is empty — as appends would have assigned them. Without this, a
   * log whose cache lost its newest epochs would answer OffsetForLeaderEpoch and diverging
   * epochs as if those epochs never happened here, and a follower would keep a divergent
   * tail. A log whose cache is current costs one read of its last batch. Returns the number
   * of entries added; I/O errors leave the cache as loaded (the next epoch's append fixes it).
   */
  #rebuildEpochCacheIfBehind(): number {
    if (this.#logEndOffset <= this.#logStartOffset) return 0;
    const last = this.read(this.#logEndOffset - 1, 1, this.#logEndOffset, true);
    if (last.kind !== "ok" || last.records.length === 0) return 0;
    const lastHeader = readBatchHeader(last.records, 0);
    this.#ctx.readBuffers?.give(last.records);
    if (lastHeader === null || lastHeader.leaderEpoch < 0) return 0;
    const latest = this.#epochs.entries().at(-1);
    if (latest !== undefined && latest.epoch >= lastHeader.leaderEpoch) return 0;
    let from = Math.max(latest?.startOffset ?? this.#logStartOffset, this.#logStartOffset);
    let added = 0;
    while (from < this.#logEndOffset) {
      const r = this.read(from, epochRebuildReadBytes, this.#logEndOffset, true);
      if (r.kind !== "ok" || r.records.length === 0) break;
      let at = 0;
      let next = from;
      for (let h = readBatchHeader(r.records, at); h !== null && at + h.sizeBytes <= r.records.length; h = readBatchHeader(r.records, at)) {
        if (h.leaderEpoch > this.#epochs.latestEpoch()) {
          try {
            this.#epochs.assign(h.leaderEpoch, Math.max(h.baseOffset, this.#logStartOffset));
          } catch (e) {
            if (!(e instanceof StorageError)) throw e;
            this.#ctx.readBuffers?.give(r.records);
            return added;
          }
          added++;
        }
        next = h.lastOffset + 1;
        at += h.sizeBytes;
      }
      this.#ctx.readBuffers?.give(r.records);
      if (next <= from) break; // an implausible header: keep what was found
      from = next;
    }
    return added;
  }

  // ---- offsets ----------------------------------------------------------------------------

  get logStartOffset(): number {
    return this.#logStartOffset;
  }

  get logEndOffset(): number {
    return this.#logEndOffset;
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }

  get recoveryPoint(): number {
    return this.#recoveryPoint;
  }

  get config(): LogConfig {
    return this.#config;
  }

  /**
   * Applies changed topic configs to the live log (AlterConfigs). Size and time limits,
   * retention and flush policy take effect at once; existing segments keep the index
   * capacity they were created with, new segments get the new one.
   */
  updateConfig(config: LogConfig): void {
    this.#config = config;
    this.#ctx = { ...this.#ctx, config };
  }

  get leaderEpochCache(): LeaderEpochCache {
    return this.#epochs;
  }

  /** Sets the high watermark, clamped to [logStartOffset, logEndOffset]; returns the value set. */
  setHighWatermark(offset: number): number {
    this.#highWatermark = Math.min(Math.max(offset, this.#logStartOffset), this.#logEndOffset);
    return this.#highWatermark;
  }

  /** Total bytes of all segments. */
  sizeBytes(): number {
    let total = 0;
    for (const s of this.#segments) total += s.sizeBytes;
    return total;
  }

  segmentBaseOffsets(): number[] {
    return this.#segments.map((s) => s.baseOffset);
  }

  // ---- append -----------------------------------------------------------------------------

  /**
   * Leader append: validates, assigns offsets from logEndOffset and `leaderEpoch`, writes.
   * `crcVerified`: the caller already checked every batch's CRC32C (the produce path does,
   * while decoding the request); lengths, magic and record counts are checked regardless.
   */
  append(batches: Uint8Array, leaderEpoch: number, options: { crcVerified?: boolean } = {}): AppendResult {
    this.#assertOpen();
    if (this.#health.offline) return { kind: "logDirOffline" };
    if (batches.length === 0) return { kind: "corruptMessage", detail: "no record batches" };
    if (batches.length > this.#config.segmentBytes) {
      return { kind: "recordListTooLarge", detail: `${batches.length} bytes exceed segment.bytes ${this.#config.segmentBytes}` };
    }
    const scan = core.scanBatches(batches, {
      verifyCrc: options.crcVerified !== true,
      requireDenseOffsets: true,
      maxBatchBytes: this.#config.maxMessageBytes,
      assign: { firstOffset: this.#logEndOffset, leaderEpoch },
    });
    if (scan.error !== null || scan.count === 0) return this.#scanError(batches, scan.validBytes, scan.error ?? "truncated");
    const refusal = this.#space?.admit(batches.length, this.#internal) ?? null;
    if (refusal !== null) return { kind: "logDirFull", detail: refusal };
    return this.#appendValidated(batches, scan, (_i) => leaderEpoch);
  }

  /** Follower append: keeps the leader's offsets and epochs; offsets must ascend from logEndOffset. */
  appendAsFollower(batches: Uint8Array): AppendResult {
    this.#assertOpen();
    if (this.#health.offline) return { kind: "logDirOffline" };
    if (batches.length === 0) return { kind: "corruptMessage", detail: "no record batches" };
    if (batches.length > this.#config.segmentBytes) {
      return { kind: "recordListTooLarge", detail: `${batches.length} bytes exceed segment.bytes ${this.#config.segmentBytes}` };
    }
    const scan = core.scanBatches(batches, {
      verifyCrc: true,
      requireDenseOffsets: false,
      maxBatchBytes: Math.max(this.#config.maxMessageBytes, this.#config.segmentBytes),
    });
    if (scan.error !== null || scan.count === 0) return this.#scanError(batches, scan.validBytes, scan.error ?? "truncated");
    let expected = this.#logEndOffset;
    for (let i = 0; i < scan.count; i++) {
      const base = scan.baseOffsets[i]!;
      if (base < expected) {
        return { kind: "invalidOffsets", detail: `batch ${i} base offset ${base} below expected ${expected}` };
      }
      expected = base + scan.lastOffsetDeltas[i]! + 1;
    }
    const dv = new DataView(batches.buffer, batches.byteOffset, batches.byteLength);
    return this.#appendValidated(batches, scan, (i) => dv.getInt32(scan.positions[i]! + 12));
  }

  #scanError(batches: Uint8Array, at: number, error: string): AppendError {
    if (error === "badLength" && at + 12 <= batches.length) {
      const size = new DataView(batches.buffer, batches.byteOffset + at, 12).getInt32(8) + logOverheadBytes;
      if (size > this.#config.maxMessageBytes) {
        return { kind: "messageTooLarge", detail: `batch at ${at} is ${size} bytes, max.message.bytes is ${this.#config.maxMessageBytes}` };
      }
    }
    return { kind: "corruptMessage", detail: `${error} record batch at byte ${at} of ${batches.length}` };
  }

  #appendValidated(
    batches: Uint8Array,
    scan: ReturnType<typeof core.scanBatches>,
    epochOf: (i: number) => number,
  ): AppendResult {
    const n = scan.count;
    const firstOffset = scan.baseOffsets[0]!;
    const lastOffset = scan.baseOffsets[n - 1]! + scan.lastOffsetDeltas[n - 1]!;
    if (firstOffset < this.#logEndOffset) throw new Error(`append: first offset ${firstOffset} below LEO ${this.#logEndOffset}`);
    const nowMs = this.#clock.nowMs();
    try {
      let active = this.#active();
      if (active.sizeBytes === 0 && active.baseOffset !== firstOffset) {
        active = this.#replaceEmptyActive(firstOffset, nowMs);
      } else if (active.needsRoll(batches.length, lastOffset, nowMs) || firstOffset - active.baseOffset > 0x7fff_ffff) {
        active = this.#roll(firstOffset, nowMs);
      }
      if (active.sizeBytes === 0) active.rollBaseMs = nowMs; // segment.ms counts from the first append
      active.append(batches, n, scan.positions, scan.sizes, scan.baseOffsets, (i) => scan.baseOffsets[i]! + scan.lastOffsetDeltas[i]!, scan.maxTimestamps);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      if (e.code === "ENOSPC") {
        // Nothing became visible and the torn tail is cut (LogSegment.append): only this append failed.
        this.#space?.noteFull();
        return { kind: "logDirFull", detail: `${e.message}: log dir full, writes resume once space is freed` };
      }
      this.#health.recordFailure(e);
      return { kind: "storageError", error: e };
    }
    this.#health.recordSuccess();
    this.#logEndOffset = lastOffset + 1;
    let records = 0;
    let maxTimestamp = -1;
    let offsetOfMaxTimestamp = firstOffset;
    for (let i = 0; i < n; i++) {
      records += scan.recordCounts[i]!;
      if (scan.maxTimestamps[i]! > maxTimestamp) {
        maxTimestamp = scan.maxTimestamps[i]!;
        offsetOfMaxTimestamp = scan.baseOffsets[i]!;
      }
      const epoch = epochOf(i);
      if (epoch > this.#epochs.latestEpoch()) this.#assignEpoch(epoch, scan.baseOffsets[i]!);
    }
    this.#unflushedRecords += records;
    return {
      kind: "ok",
      firstOffset,
      lastOffset,
      batchCount: n,
      recordCount: records,
      maxTimestamp,
      offsetOfMaxTimestamp,
      logStartOffset: this.#logStartOffset,
      flushed: this.#applyFlushPolicy(lastOffset),
    };
  }

  #assignEpoch(epoch: number, startOffset: number): void {
    try {
      this.#epochs.assign(epoch, startOffset);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.#health.recordFailure(e);
    }
  }

  #active(): LogSegment {
    return this.#segments.at(-1)!;
  }

  /** Seals the active segment (fsync + indexes) and starts a new one at `baseOffset`. */
  #roll(baseOffset: number, nowMs: number): LogSegment {
    const old = this.#active();
    old.seal();
    this.#unflushedSealed.push(old);
    // Like Kafka, the rolled segment is fsynced soon after, off the append path and off
    // the event loop (an fsync of a 1 GiB segment can take a good fraction of a second).
    this.#startBackgroundFlush();
    let seg: LogSegment;
    try {
      seg = LogSegment.create(this.#ctx, baseOffset, nowMs);
    } catch (e) {
      old.activate();
      throw e;
    }
    old.nextOffset = baseOffset;
    this.#segments.push(seg);
    this.#dirDirty = true;
    return seg;
  }

  /** Starts a new segment at logEndOffset unless the active one is empty. Throws StorageError. */
  roll(): void {
    this.#assertOpen();
    if (this.#active().sizeBytes === 0) return;
    this.#failOnIoError(() => this.#roll(this.#logEndOffset, this.#clock.nowMs()));
  }

  /**
   * Runs a multi-file change (truncation, deletion, roll). An I/O error midway leaves the
   * files in an unknown state: the log dir goes offline (recovery sorts it out at restart),
   * and the error is rethrown.
   */
  #failOnIoError<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof StorageError) this.#health.fail(e);
      throw e;
    }
  }

  #replaceEmptyActive(baseOffset: number, nowMs: number): LogSegment {
    const old = this.#active();
    const seg = LogSegment.create(this.#ctx, baseOffset, nowMs);
    for (const p of old.markDeleted()) this.#fs.unlink(p);
    this.#segments[this.#segments.length - 1] = seg;
    if (this.#segments.length === 1) this.#logStartOffset = Math.max(this.#logStartOffset, baseOffset);
    this.#dirDirty = true;
    return seg;
  }

  // ---- flushing ---------------------------------------------------------------------------

  #startBackgroundFlush(): void {
    if (this.#backgroundFlushing) return;
    this.#backgroundFlushing = true;
    // Never rejects: I/O errors are recorded, anything else is a bug and should surface.
    void this.#backgroundFlush().finally(() => {
      this.#backgroundFlushing = false;
    });
  }

  /**
   * fsyncs rolled segments in order, each on its own fd off the event loop, moving the
   * recovery point past each one. State is re-checked after every await: a flush that
   * raced with truncation (generation changed), deletion, a synchronous flush or close
   * does not move anything.
   */
  async #backgroundFlush(): Promise<void> {
    while (!this.#closed && this.#unflushedSealed.length > 0) {
      const seg = this.#unflushedSealed[0]!;
      const generation = this.#generation;
      try {
        await this.#fs.fsyncPath(seg.logPath);
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        if (this.#closed || this.#unflushedSealed[0] !== seg) continue;
        if (!this.#segments.includes(seg)) {
          this.#unflushedSealed.shift();
          continue;
        }
        // Left queued: the next synchronous flush retries it.
        this.#health.recordFailure(e);
        return;
      }
      if (this.#closed || this.#unflushedSealed[0] !== seg) continue;
      // Truncated (perhaps reactivated, appended to and sealed again) while we waited: the
      // fsync may predate its current bytes, so do it again.
      if (generation !== this.#generation) continue;
      this.#unflushedSealed.shift();
      const i = this.#segments.indexOf(seg);
      const next = this.#segments[i + 1];
      if (i < 0 || next === undefined) continue;
      // Everything below seg was durable already (rp >= its base): now everything below next is.
      if (this.#recoveryPoint >= seg.baseOffset && next.baseOffset > this.#recoveryPoint) {
        this.#recoveryPoint = next.baseOffset;
        this.#resolveWaiters(null);
      }
    }
  }

  #applyFlushPolicy(lastOffset: number): Promise<StorageError | null> | null {
    const cfg = this.#config;
    const finiteMessages = Number.isFinite(cfg.flushMessages);
    const finiteMs = Number.isFinite(cfg.flushMs);
    if (!finiteMessages && !finiteMs) return null;
    if (finiteMessages && this.#unflushedRecords >= cfg.flushMessages) this.#scheduleFlush(0);
    else if (finiteMs) this.#scheduleFlush(cfg.flushMs);
    return this.#ticket(lastOffset + 1);
  }

  /** A promise that resolves once everything below `offset` is fsynced (group commit soon). */
  flushTicket(offset: number = this.#logEndOffset): Promise<StorageError | null> {
    const p = this.#ticket(offset);
    if (offset > this.#recoveryPoint) this.#scheduleFlush(0);
    return p;
  }

  #ticket(offset: number): Promise<StorageError | null> {
    if (offset <= this.#recoveryPoint) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push({ offset, resolve }));
  }

  #scheduleFlush(delayMs: number): void {
    const due = this.#clock.monotonicMs() + delayMs;
    if (this.#flushTimer !== null && this.#flushTimerDueMs <= due) return;
    this.#flushTimer?.();
    this.#flushTimerDueMs = due;
    this.#flushTimer = this.#clock.schedule(delayMs, () => {
      this.#flushTimer = null;
      this.#flushTimerDueMs = Number.POSITIVE_INFINITY;
      if (!this.#closed) this.flush();
    });
  }

  /** fsyncs everything appended so far; returns the error, if any (also given to waiters). */
  flush(): StorageError | null {
    this.#assertOpen();
    const target = this.#logEndOffset;
    try {
      for (const seg of this.#unflushedSealed) if (this.#segments.includes(seg)) seg.flush();
      this.#unflushedSealed = [];
      this.#active().flush();
      if (this.#dirDirty) {
        this.#fs.fsyncDir(this.dir);
        this.#dirDirty = false;
      }
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.#health.recordFailure(e);
      this.#resolveWaiters(e);
      return e;
    }
    this.#health.recordSuccess();
    this.#recoveryPoint = Math.max(this.#recoveryPoint, target);
    this.#unflushedRecords = 0;
    this.#resolveWaiters(null);
    return null;
  }

  #resolveWaiters(error: StorageError | null): void {
    if (this.#waiters.length === 0) return;
    const keep: FlushWaiter[] = [];
    for (const w of this.#waiters) {
      if (error !== null) w.resolve(error);
      else if (w.offset <= this.#recoveryPoint) w.resolve(null);
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  // ---- reads ------------------------------------------------------------------------------

  #segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Whole batches from the one holding `fromOffset`, at most `maxBytes` (at least one batch
   * when `minOneMessage`), only batches entirely below `upperBound` (default: logEndOffset;
   * consumers pass the high watermark).
   */
  read(fromOffset: number, maxBytes: number, upperBound: number = this.#logEndOffset, minOneMessage = true): ReadResult {
    this.#assertOpen();
    if (fromOffset < this.#logStartOffset || fromOffset > this.#logEndOffset) {
      return { kind: "offsetOutOfRange", logStartOffset: this.#logStartOffset, logEndOffset: this.#logEndOffset };
    }
    const bound = Math.min(upperBound, this.#logEndOffset);
    const empty = { kind: "ok" as const, records: new Uint8Array(0), firstOffset: -1, lastOffset: -1 };
    const offsets = { highWatermark: this.#highWatermark, logStartOffset: this.#logStartOffset, logEndOffset: this.#logEndOffset };
    if (fromOffset >= bound) return { ...empty, ...offsets };
    // A client's maxBytes is untrusted: bound the allocation (the first batch may still exceed it).
    const maxRead = Math.max(0, Math.min(maxBytes, readBytesMax));
    try {
      for (let i = this.#segmentIndexFor(fromOffset); i < this.#segments.length; i++) {
        const seg = this.#segments[i]!;
        if (seg.baseOffset >= bound) break;
        const r = seg.read(fromOffset, maxRead, bound, minOneMessage);
        switch (r.kind) {
          case "data": {
            let bytes = r.bytes;
            let lastOffset = r.lastOffset;
            // Compaction leaves record-less batches at segment ends; a response of only those
            // stalls some clients (kafkajs refetches the same offset), so read on past them.
            while (onlyRecordlessBatches(bytes) && lastOffset + 1 < bound && bytes.length < maxRead) {
              const more = this.read(lastOffset + 1, maxRead - bytes.length, upperBound, false);
              if (more.kind !== "ok" || more.records.length === 0) break;
              const joined = new Uint8Array(bytes.length + more.records.length);
              joined.set(bytes);
              joined.set(more.records, bytes.length);
              // Copied: read buffers from the pool go back (the pool ignores any other array).
              this.#ctx.readBuffers?.give(bytes);
              this.#ctx.readBuffers?.give(more.records);
              bytes = joined;
              lastOffset = more.lastOffset;
            }
            return { kind: "ok", records: bytes, firstOffset: r.firstOffset, lastOffset, ...offsets };
          }
          case "empty":
            return { ...empty, ...offsets };
          case "corrupt":
            return { kind: "corrupt", detail: `${seg.logPath}: implausible batch at position ${r.position}` };
          case "none":
            continue;
        }
      }
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.#health.recordFailure(e);
      return { kind: "storageError", error: e };
    }
    return { ...empty, ...offsets };
  }

  /**
   * ListOffsets: the first batch whose maxTimestamp >= `timestamp` (its base offset, batch
   * granularity), or the specials: -2 earliest, -1 latest, -3 the batch with the largest
   * timestamp. Null when no batch qualifies.
   */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    this.#assertOpen();
    if (timestamp === earliestTimestamp) return { offset: this.#logStartOffset, timestamp: -1 };
    if (timestamp === latestTimestamp) return { offset: this.#logEndOffset, timestamp: -1 };
    if (timestamp === maxTimestampQuery) {
      let best: { offset: number; timestamp: number } | null = null;
      for (const seg of this.#segments) {
        const m = seg.maxTimestamp();
        if (m.ts >= 0 && m.offset >= this.#logStartOffset && (best === null || m.ts > best.timestamp)) best = { offset: m.offset, timestamp: m.ts };
      }
      return best;
    }
    for (const seg of this.#segments) {
      if (seg.nextOffset <= this.#logStartOffset && seg !== this.#active()) continue;
      if (seg.maxTimestamp().ts < timestamp) continue;
      const r = seg.offsetForTimestamp(timestamp, this.#logStartOffset);
      if (r !== null) return { offset: Math.max(r.offset, this.#logStartOffset), timestamp: r.timestamp };
    }
    return null;
  }

  /** OffsetForLeaderEpoch: Kafka's semantics (see LeaderEpochCache.endOffsetFor). */
  endOffsetForLeaderEpoch(epoch: number): EpochEndOffset {
    return this.#epochs.endOffsetFor(epoch, this.#logEndOffset);
  }

  // ---- truncation and deletion ------------------------------------------------------------

  /** Removes every offset >= `offset` (a batch straddling it goes whole). False when nothing to do. Throws StorageError. */
  truncateTo(offset: number): boolean {
    return this.#failOnIoError(() => this.#truncateTo(offset));
  }

  #truncateTo(offset: number): boolean {
    this.#assertOpen();
    if (!(Number.isSafeInteger(offset) && offset >= 0)) throw new Error(`truncateTo: bad offset ${offset}`);
    if (offset >= this.#logEndOffset) return false;
    if (offset < this.#logStartOffset) {
      this.truncateFullyAndStartAt(offset);
      return true;
    }
    this.#generation++;
    this.#lowerRecoveryPoint(offset);
    let deletedAny = false;
    while (this.#segments.length > 1 && this.#active().baseOffset >= offset) {
      const seg = this.#segments.pop()!;
      this.#scheduleRemoval(seg.markDeleted());
      deletedAny = true;
    }
    if (deletedAny) this.#fs.fsyncDir(this.dir);
    const active = this.#active();
    // The (possibly reactivated) last segment is flushed as the active one from now on.
    this.#unflushedSealed = this.#unflushedSealed.filter((seg) => seg !== active && this.#segments.includes(seg));
    this.#logEndOffset = active.truncateTo(offset);
    this.#afterTruncation();
    return true;
  }

  /** Drops the whole log and starts empty at `offset` (log start = LEO = offset). Throws StorageError. */
  truncateFullyAndStartAt(offset: number): void {
    return this.#failOnIoError(() => this.#truncateFullyAndStartAt(offset));
  }

  #truncateFullyAndStartAt(offset: number): void {
    this.#assertOpen();
    if (!(Number.isSafeInteger(offset) && offset >= 0)) throw new Error(`truncateFullyAndStartAt: bad offset ${offset}`);
    this.#generation++;
    this.#lowerRecoveryPoint(offset);
    const old = this.#segments;
    this.#segments = [];
    for (const seg of old) this.#scheduleRemoval(seg.markDeleted());
    this.#segments.push(LogSegment.create(this.#ctx, offset, this.#clock.nowMs()));
    this.#fs.fsyncDir(this.dir);
    this.#logStartOffset = offset;
    this.#logEndOffset = offset;
    this.#recoveryPoint = offset;
    this.#epochs.clear();
    this.#afterTruncation();
  }

  #lowerRecoveryPoint(offset: number): void {
    if (offset < this.#recoveryPoint) {
      this.#recoveryPoint = offset;
      this.#onRecoveryPointLowered(this);
    }
  }

  #afterTruncation(): void {
    let lowered = false;
    if (this.#logEndOffset < this.#recoveryPoint) {
      // A batch straddling the target went whole: the end (and recovery point) is below it.
      this.#recoveryPoint = this.#logEndOffset;
      lowered = true;
    }
    if (this.#logEndOffset < this.#logStartOffset) {
      // A batch straddling the log start went whole: the start follows the end down.
      this.#logStartOffset = this.#logEndOffset;
      lowered = true;
    }
    if (lowered) this.#onRecoveryPointLowered(this);
    this.#highWatermark = Math.min(Math.max(this.#highWatermark, this.#logStartOffset), this.#logEndOffset);
    this.#epochs.truncateFromEnd(this.#logEndOffset);
    this.#unflushedRecords = 0;
  }

  /**
   * DeleteRecords: moves the log start to `offset` (<= high watermark) and deletes whole
   * segments below it. Throws StorageError.
   */
  deleteRecordsBefore(offset: number): { kind: "ok"; logStartOffset: number } | { kind: "offsetOutOfRange" } {
    this.#assertOpen();
    if (!(offset >= 0) || offset > this.#highWatermark) return { kind: "offsetOutOfRange" };
    if (offset > this.#logStartOffset) {
      this.#logStartOffset = offset;
      this.#epochs.truncateFromStart(offset);
      this.#failOnIoError(() =>
        this.#deleteSegmentsWhile((seg, next) => next !== undefined && next.baseOffset <= this.#logStartOffset && seg !== this.#active()),
      );
    }
    return { kind: "ok", logStartOffset: this.#logStartOffset };
  }

  /**
   * Retention (`retention.ms`, `retention.bytes`): deletes the oldest segments below the
   * active one and below the high watermark while they are too old or the log too large.
   * Returns the number of segments deleted. Throws StorageError.
   */
  applyRetention(nowMs: number): number {
    return this.#failOnIoError(() => this.#applyRetention(nowMs));
  }

  #applyRetention(nowMs: number): number {
    this.#assertOpen();
    const cfg = this.#config;
    // Compact-only topics keep every segment: the cleaner bounds them, not time or size.
    if (!cfg.cleanupPolicy.delete) return 0;
    let excess = cfg.retentionBytes >= 0 ? this.sizeBytes() - cfg.retentionBytes : 0;
    const deleted = this.#deleteSegmentsWhile((seg, next) => {
      if (next === undefined || next.baseOffset > this.#highWatermark) return false;
      if (excess > 0 && excess - seg.sizeBytes >= 0) {
        excess -= seg.sizeBytes;
        return true;
      }
      if (cfg.retentionMs < 0) return false;
      let ts = seg.maxTimestamp().ts;
      if (ts < 0) ts = this.#fs.stat(seg.logPath).mtimeMs;
      return nowMs - ts > cfg.retentionMs;
    });
    if (deleted > 0) {
      const start = this.#segments[0]!.baseOffset;
      if (start > this.#logStartOffset) {
        this.#logStartOffset = start;
        this.#epochs.truncateFromStart(start);
      }
      this.#highWatermark = Math.max(this.#highWatermark, this.#logStartOffset);
    }
    return deleted;
  }

  #deleteSegmentsWhile(pred: (seg: LogSegment, next: LogSegment | undefined) => boolean): number {
    let n = 0;
    while (this.#segments.length > 1) {
      const seg = this.#segments[0]!;
      if (!pred(seg, this.#segments[1])) break;
      this.#segments.shift();
      this.#scheduleRemoval(seg.markDeleted());
      n++;
    }
    if (n > 0) this.#fs.fsyncDir(this.dir);
    return n;
  }

  /** Physically removes `.deleted` files after `file.delete.delay.ms`. */
  #scheduleRemoval(paths: string[]): void {
    if (paths.length === 0) return;
    const remove = (): void => {
      for (const p of paths) {
        try {
          if (this.#fs.exists(p)) this.#fs.unlink(p);
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
        }
      }
    };
    if (this.#config.fileDeleteDelayMs <= 0 || this.#closed) {
      remove();
      return;
    }
    const cancel = this.#clock.schedule(this.#config.fileDeleteDelayMs, () => {
      this.#pendingDeletes.delete(cancel);
      remove();
    });
    this.#pendingDeletes.set(cancel, remove);
  }

  /**
   * Removes every `.deleted` file now instead of after `file.delete.delay.ms` (the disk
   * monitor's cleanup). Safe: reads hold their own fds or copies, and an unlinked file stays
   * readable through an open fd. Returns the number of removals run.
   */
  removeDeletedNow(): number {
    const due = [...this.#pendingDeletes];
    this.#pendingDeletes.clear();
    for (const [cancel, remove] of due) {
      cancel();
      remove();
    }
    return due.length;
  }

  // ---- compaction (the log cleaner, cleaner.ts) ---------------------------------------------

  /** Sealed segments (every segment but the active one), oldest first. For the cleaner. */
  sealedSegments(): readonly LogSegment[] {
    return this.#segments.slice(0, -1);
  }

  /** Bumped by every truncation: a clean that straddles one is abandoned. */
  get generation(): number {
    return this.#generation;
  }

  get dirHealth(): LogDirHealth {
    return this.#health;
  }

  /**
   * Swaps a committed clean in (cleaner-swap.ts, steps 3–5): `old` (consecutive sealed
   * segments, unchanged since the clean read them) is replaced by the segment whose log was
   * committed as `swapPath` with base `old[0].baseOffset` and `sizeBytes` bytes. Synchronous:
   * a read sees the old segments or the new one, and bytes it already read stay valid (reads
   * copy out of the file). An I/O error midway takes the log dir offline (restart recovery
   * completes the swap). Throws StorageError.
   */
  replaceSegments(old: readonly LogSegment[], swapPath: string, sizeBytes: number): LogSegment {
    return this.#failOnIoError(() => this.#replaceSegments(old, swapPath, sizeBytes));
  }

  #replaceSegments(old: readonly LogSegment[], swapPath: string, sizeBytes: number): LogSegment {
    this.#assertOpen();
    const first = old[0];
    if (first === undefined) throw new Error("replaceSegments: no segments");
    const at = this.#segments.indexOf(first);
    if (at < 0) throw new Error(`replaceSegments: ${first.logPath} is not a segment of ${this.dir}`);
    for (let i = 0; i < old.length; i++) {
      if (this.#segments[at + i] !== old[i]) throw new Error(`replaceSegments: segments of ${this.dir} are not consecutive at ${i}`);
    }
    const after = this.#segments[at + old.length];
    if (after === undefined) throw new Error(`replaceSegments: the active segment of ${this.dir} may not be cleaned`);
    const removed: string[] = [];
    for (const seg of old) removed.push(...seg.markDeleted());
    // Durable before the swap takes the name: a disk that kept the second rename but not the
    // first would otherwise show the cleaned segment next to the ones it replaced.
    this.#fs.fsyncDir(this.dir);
    const seg = LogSegment.openSealed(this.#ctx, first.baseOffset, sizeBytes, this.#clock.nowMs());
    this.#fs.rename(swapPath, seg.logPath);
    this.#fs.fsyncDir(this.dir);
    seg.nextOffset = after.baseOffset;
    this.#segments.splice(at, old.length, seg);
    this.#unflushedSealed = this.#unflushedSealed.filter((s) => !old.includes(s));
    this.#scheduleRemoval(removed);
    // Indexes now, while the file is in the page cache (a crash before this rebuilds them on first use).
    seg.rebuildIndexes();
    return seg;
  }

  // ---- lifecycle --------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new Error(`partition log ${this.dir} is closed`);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Clean close: flushes, writes the active segment's indexes, closes every fd. Pending
   * `.deleted` files are removed now. Throws StorageError (the log is closed regardless).
   */
  close(): void {
    if (this.#closed) return;
    this.#flushTimer?.();
    this.#flushTimer = null;
    try {
      const e = this.flush();
      if (e !== null) throw e;
      this.#active().closeClean();
      this.#recoveryPoint = this.#logEndOffset;
      this.#resolveWaiters(null);
    } finally {
      this.#closed = true;
      this.#resolveWaiters(new StorageError("EBADF", "close", this.dir, "log closed"));
      for (const seg of this.#segments) seg.close();
      for (const cancel of this.#pendingDeletes.keys()) cancel();
      this.#pendingDeletes.clear();
      for (const name of this.#safeReaddir()) {
        if (name.endsWith(deletedSuffix)) this.#safeUnlink(joinPath(this.dir, name));
      }
    }
  }

  /** Closes fds without flushing (the log dir failed, or the partition is being deleted). */
  closeUnclean(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#flushTimer?.();
    this.#flushTimer = null;
    this.#resolveWaiters(new StorageError("EBADF", "close", this.dir, "log closed"));
    for (const cancel of this.#pendingDeletes.keys()) cancel();
    this.#pendingDeletes.clear();
    for (const seg of this.#segments) {
      try {
        seg.close();
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
      }
    }
  }

  #safeReaddir(): string[] {
    try {
      return this.#fs.readdir(this.dir);
    } catch {
      return [];
    }
  }

  #safeUnlink(path: string): void {
    try {
      this.#fs.unlink(path);
    } catch {
      // best effort: removed again at next open
    }
  }
}

