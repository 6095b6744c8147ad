/**
 * Shared setup for the log cleaner tests: a compacted partition log on the simulated disk,
 * keyed appends, reading everything back decoded, and a filesystem wrapper that "loses
 * power" at the N-th mutating operation.
 */
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { SimClock } from "../../src/platform/clock.ts";
import type { Fd, FileStat, FileSystem, FsSpace, OpenMode, TryLockResult } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import type { CompressionCodecName } from "../../src/protocol/records/compression.ts";
import { RecordBatchView, walkBatches } from "../../src/protocol/records/record-batch.ts";
import { LogCleaner } from "../../src/storage/cleaner.ts";
import { defaultLogConfig, type LogConfig } from "../../src/storage/config.ts";
import { FileCache } from "../../src/storage/file-cache.ts";
import { LogDirHealth, PartitionLog } from "../../src/storage/partition-log.ts";

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** Thrown by CrashingFs once its budget of mutating operations is spent. */
export class PowerLoss extends Error {
  override readonly name = "PowerLoss";
}

/** Delegates to another FileSystem; the `budget`-th mutating call and every call after it throw PowerLoss. */
export class CrashingFs implements FileSystem {
  budget = Number.POSITIVE_INFINITY;
  ops = 0;
  constructor(readonly sim: FileSystem) {}
  #mut(): void {
    if (this.ops >= this.budget) throw new PowerLoss(`power lost at mutating op ${this.ops}`);
    this.ops++;
  }
  #any(): void {
    if (this.ops >= this.budget) throw new PowerLoss("power lost");
  }
  open(path: string, mode: OpenMode): Fd {
    if (mode === "read") this.#any();
    else this.#mut();
    return this.sim.open(path, mode);
  }
  startWriteback(fd: Fd, offset: number, length: number): boolean {
    this.#any();
    return this.sim.startWriteback(fd, offset, length);
  }
  dropCache(fd: Fd, offset: number, length: number): boolean {
    this.#any();
    return this.sim.dropCache(fd, offset, length);
  }
  close(fd: Fd): void {
    this.#any();
    this.sim.close(fd);
  }
  read(fd: Fd, buf: Uint8Array, bufOffset: number, length: number, position: number): number {
    this.#any();
    return this.sim.read(fd, buf, bufOffset, length, position);
  }
  append(fd: Fd, bytes: Uint8Array): void {
    this.#mut();
    this.sim.append(fd, bytes);
  }
  fsync(fd: Fd): void {
    this.#mut();
    this.sim.fsync(fd);
  }
  fsyncPath(path: string): Promise<void> {
    try {
      this.#mut();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.sim.fsyncPath(path);
  }
  fsyncDir(path: string): void {
    this.#mut();
    this.sim.fsyncDir(path);
  }
  truncate(fd: Fd, size: number): void {
    this.#mut();
    this.sim.truncate(fd, size);
  }
  size(fd: Fd): number {
    this.#any();
    return this.sim.size(fd);
  }
  rename(from: string, to: string): void {
    this.#mut();
    this.sim.rename(from, to);
  }
  unlink(path: string): void {
    this.#mut();
    this.sim.unlink(path);
  }
  rmdir(path: string): void {
    this.#mut();
    this.sim.rmdir(path);
  }
  mkdirp(path: string): void {
    this.#mut();
    this.sim.mkdirp(path);
  }
  readdir(path: string): string[] {
    this.#any();
    return this.sim.readdir(path);
  }
  stat(path: string): FileStat {
    this.#any();
    return this.sim.stat(path);
  }
  exists(path: string): boolean {
    this.#any();
    return this.sim.exists(path);
  }
  readFile(path: string): Uint8Array {
    this.#any();
    return this.sim.readFile(path);
  }
  mmap(path: string): Uint8Array {
    this.#any();
    return this.sim.mmap(path);
  }
  statfs(path: string): FsSpace {
    this.#any();
    return this.sim.statfs(path);
  }
  tryLock(path: string): TryLockResult {
    this.#mut();
    return this.sim.tryLock(path);
  }
}

export const logDirPath = "/data";
export const partitionDir = "/data/compacted-0";

export const compactConfig = (over: Partial<LogConfig> = {}): LogConfig => ({
  ...defaultLogConfig,
  segmentBytes: 1024 * 1024,
  indexIntervalBytes: 256,
  cleanupPolicy: { delete: false, compact: true },
  minCleanableDirtyRatio: 0.01,
  deleteRetentionMs: 60_000,
  minCompactionLagMs: 0,
  fileDeleteDelayMs: 0,
  ...over,
});

export interface CleanerEnv {
  /** The simulated disk (on the real one, a SimFileSystem nobody writes to: crash() is meaningless there). */
  sim: SimFileSystem;
  /** Where the partition dir is. */
  root: string;
  fs: CrashingFs;
  clock: SimClock;
  config: LogConfig;
  log: PartitionLog;
  cleaner: LogCleaner;
  /** Reopens log and cleaner as a restarted process would (after `sim.crash()` or not). */
  reopen(clean: boolean): void;
}

export function cleanerEnv(
  seed: number,
  over: Partial<LogConfig> = {},
  clock = new SimClock(),
  real: { fs: FileSystem; root: string } | null = null,
  dedupeBufferBytes = 1024 * 1024,
): CleanerEnv {
  const sim = new SimFileSystem(new SeededPrng(seed), clock);
  const fs = new CrashingFs(real?.fs ?? sim);
  const root = real?.root ?? logDirPath;
  const config = compactConfig(over);
  const open = (hadCleanShutdown: boolean, recoveryPoint: number): { log: PartitionLog; cleaner: LogCleaner } => {
    const health = new LogDirHealth(root, 1000);
    const log = PartitionLog.open({
      fs,
      clock,
      dir: `${root}/compacted-0`,
      topicPartition: { topic: "compacted", partition: 0 },
      config,
      files: new FileCache(fs, 64),
      health,
      recoveryPoint,
      logStartOffset: 0,
      highWatermark: 0,
      hadCleanShutdown,
    });
    log.setHighWatermark(log.logEndOffset);
    const cleaner = new LogCleaner({
      fs,
      clock,
      codecs: bunCompression,
      dedupeBufferBytes,
      backoffMs: 15_000,
      logDirs: () => [{ path: root, logs: env.log.closed ? [] : [env.log] }],
    });
    return { log, cleaner };
  };
  const first = open(false, 0);
  const env: CleanerEnv = {
    sim,
    root,
    fs,
    clock,
    config,
    log: first.log,
    cleaner: first.cleaner,
    reopen(clean: boolean) {
      if (clean) env.log.close();
      else env.log.closeUnclean();
      env.cleaner.stop();
      // Recovery from the start after an unclean stop (the strictest check of the segments).
      const next = open(clean, 0);
      env.log = next.log;
      env.cleaner = next.cleaner;
    },
  };
  return env;
}

export interface KV {
  key: string | null;
  value: string | null;
}

/** Appends one batch of `records` at the log end (leader append), then moves the HW to the end. */
export function appendKV(env: CleanerEnv, records: readonly KV[], compression: CompressionCodecName = "none"): { first: number; last: number } {
  const now = env.clock.nowMs();
  const batch = buildRecordBatch(
    records.map((r) => ({
      key: r.key === null ? null : enc.encode(r.key),
      value: r.value === null ? null : enc.encode(r.value),
      timestamp: now,
    })),
    { compression, codecs: bunCompression },
  );
  const res = env.log.append(batch, 0);
  if (res.kind !== "ok") throw new Error(`append failed: ${JSON.stringify(res)}`);
  env.log.setHighWatermark(env.log.logEndOffset);
  return { first: res.firstOffset, last: res.lastOffset };
}

/** Rolls and fsyncs everything so the sealed segments are below the recovery point. */
export function rollAndFlush(env: CleanerEnv): void {
  env.log.roll();
  const e = env.log.flush();
  if (e !== null) throw e;
}

export interface ReadRecord {
  offset: number;
  key: string | null;
  value: string | null;
}

export interface ReadBatch {
  baseOffset: number;
  lastOffset: number;
  compression: CompressionCodecName;
  recordCount: number;
  deleteHorizonMs: number | null;
}

/** Every record from the log start to the end, decoded, plus the batches they came in. */
export function readAll(log: PartitionLog): { records: ReadRecord[]; batches: ReadBatch[] } {
  const records: ReadRecord[] = [];
  const batches: ReadBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const r = log.read(offset, 1024 * 1024);
    if (r.kind !== "ok") throw new Error(`read at ${offset}: ${JSON.stringify(r)}`);
    if (r.records.length === 0) break;
    const walk = walkBatches(r.records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: 0x7fff_ffff });
    if (walk.problem !== null) throw new Error(`read at ${offset}: ${walk.problem}`);
    for (const b of walk.batches) {
      if (b.lastOffset < offset) continue;
      batches.push({
        baseOffset: b.baseOffset,
        lastOffset: b.lastOffset,
        compression: b.compression,
        recordCount: b.recordCount,
        deleteHorizonMs: b.deleteHorizonMs,
      });
      for (const rec of b.records({ maxBytes: 1 << 26, compression: bunCompression })) {
        if (rec.offset < offset) continue;
        records.push({
          offset: rec.offset,
          key: rec.key === null ? null : dec.decode(rec.key),
          value: rec.value === null ? null : dec.decode(rec.value),
        });
      }
    }
    offset = r.lastOffset + 1;
  }
  return { records, batches };
}

/** Sorted list of files in the partition dir (for "nothing left behind" checks). */
export function filesOf(sim: SimFileSystem): string[] {
  return sim.readdir(partitionDir).sort();
}

export { RecordBatchView };
