/**
 * The log manager: every partition log in the configured log dirs, and the per-log-dir files.
 *
 * Per log dir (Kafka's names and formats, see checkpoint.ts):
 * - `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
 *   `replication-offset-checkpoint` (high watermarks): written periodically on the Clock and
 *   at clean shutdown; recovery points also right before any truncation.
 * - `.kafka_cleanshutdown`: written last at clean shutdown, removed once the logs are open.
 *   Without it every log recovers from its checkpointed recovery point.
 * - `<topic>-<partition>/partition.metadata`: `version: 0\ntopic_id: <base64url uuid>\n`.
 * - A deleted partition's dir is first renamed `<topic>-<partition>.<32 hex>-delete`
 *   (atomically invisible to loading), then removed; leftovers are removed at startup.
 *
 * - `cleaner-offset-checkpoint`: where each compacted log's dirty section starts (cleaner.ts).
 *
 * The log cleaner (compaction of `cleanup.policy=compact` logs) runs with the background
 * tasks when `log.cleaner.enable`; it needs `compression` to clean compressed batches.
 *
 * The disk monitor (disk-monitor.ts) samples each log dir's filesystem on the background
 * tasks' clock; each dir's `LogDirSpace` gates its logs' leader appends, and a dir at the
 * cleanup level or above gets `#cleanupDir` at once.
 *
 * A log dir whose I/O keeps failing (`logDirFailuresMax` consecutive errors) goes offline:
 * its logs stop serving and are closed; the others carry on.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { type FileSystem, joinPath, StorageError, writeFileAtomic } from "../platform/fs.ts";
import type { Compression } from "../platform/compression.ts";
import type { Prng } from "../platform/prng.ts";
import type { BufferPool } from "../util/buffer-pool.ts";
import { CheckpointError, checkpointKey, type OffsetCheckpoint, readOffsetCheckpoint, writeOffsetCheckpoint } from "./checkpoint.ts";
import { type CleanOutcome, LogCleaner } from "./cleaner.ts";
import type { LogConfig, LogManagerConfig } from "./config.ts";
import { type DiskCrossing, DiskMonitor, type DiskUsage, type DiskLevel, type LogDirSpace } from "./disk-monitor.ts";
import { FileCache } from "./file-cache.ts";
import {
  cleanShutdownName,
  deleteDirName,
  deleteDirSuffix,
  logStartOffsetCheckpointName,
  parsePartitionDirName,
  partitionDirName,
  partitionMetadataName,
  recoveryPointCheckpointName,
  replicationOffsetCheckpointName,
  type TopicPartition,
} from "./file-names.ts";
import { LogDirHealth, PartitionLog } from "./partition-log.ts";
import { uuidBytesToText } from "../protocol/codec/uuid.ts";

export interface LogManagerOptions {
  fs: FileSystem;
  clock: Clock;
  prng: Prng;
  config: LogManagerConfig;
  /** Per-topic overrides merged over `config.logDefaults`. */
  topicConfig?: (topic: string) => Partial<LogConfig>;
  onLogDirOffline?: (dir: string, error: StorageError) => void;
  /** Codecs the log cleaner inflates and re-compresses batches with (bunCompression in the broker). */
  compression?: Compression;
  /** Told of every pass the scheduled log cleaner finishes (log it: kind "failed" deserves attention). */
  onCleanerOutcome?: (tp: TopicPartition, outcome: CleanOutcome) => void;
  /** Read buffers for fetches, shared by every partition (see SegmentContext.readBuffers). */
  readBuffers?: BufferPool | null;
  /** Topics whose partition dirs someone else owns (the Raft metadata log): never opened here. */
  excludeTopics?: ReadonlySet<string>;
  /** Told of every disk usage level change of a log dir (log it: the operator wants each one). */
  onDiskCrossing?: (c: DiskCrossing) => void;
  /** Told of every disk cleanup run with the bytes it freed. */
  onDiskCleanup?: (dir: string, bytesFreed: number, usage: DiskUsage | null) => void;
}

/** A log dir as the admin APIs show it. */
export interface LogDirView {
  path: string;
  online: boolean;
  partitions: number;
  /** From the disk monitor's last sample; -1 before the first. */
  totalBytes: number;
  usableBytes: number;
  usageRatio: number;
  level: DiskLevel;
}

interface LogDirState {
  path: string;
  health: LogDirHealth;
  space: LogDirSpace;
  logs: Map<string, PartitionLog>;
  hadCleanShutdown: boolean;
}

export interface LoadedLog {
  log: PartitionLog;
  topicId: string | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function tpKey(tp: TopicPartition): string {
  return checkpointKey(tp.topic, tp.partition);
}

export class LogManager {
  readonly #fs: FileSystem;
  readonly #excludeTopics: ReadonlySet<string>;
  readonly #clock: Clock;
  readonly #prng: Prng;
  readonly #config: LogManagerConfig;
  readonly #topicConfig: (topic: string) => Partial<LogConfig>;
  readonly #files: FileCache;
  readonly #readBuffers: BufferPool | null;
  readonly #dirs: LogDirState[] = [];
  readonly #logs = new Map<string, { dir: LogDirState; log: PartitionLog }>();
  readonly #topicIds = new Map<string, string>();
  #timers: CancelTimer[] = [];
  readonly #cleaner: LogCleaner;
  #closed = false;
  /** Renamed `-delete` dirs waiting for `#scheduleRemoval`. */
  readonly #doomed: string[] = [];
  #removalTimer: CancelTimer | null = null;
  #loading = false;
  readonly #disk: DiskMonitor;

  private constructor(opts: LogManagerOptions) {
    this.#fs = opts.fs;
    this.#excludeTopics = opts.excludeTopics ?? new Set();
    this.#clock = opts.clock;
    this.#prng = opts.prng;
    this.#config = opts.config;
    this.#topicConfig = opts.topicConfig ?? (() => ({}));
    this.#files = new FileCache(opts.fs, opts.config.openFilesMax);
    this.#readBuffers = opts.readBuffers ?? null;
    this.#cleaner = new LogCleaner({
      fs: opts.fs,
      clock: opts.clock,
      codecs: opts.compression ?? null,
      dedupeBufferBytes: opts.config.cleanerDedupeBufferBytes,
      backoffMs: opts.config.cleanerBackoffMs,
      logDirs: () =>
        this.#dirs.filter((d) => !d.health.offline).map((d) => ({ path: d.path, logs: [...d.logs.values()].filter((l) => !l.closed) })),
      ...(opts.onCleanerOutcome === undefined ? {} : { onOutcome: (log: PartitionLog, outcome: CleanOutcome) => opts.onCleanerOutcome?.(log.topicPartition, outcome) }),
    });
    this.#disk = new DiskMonitor({
      fs: opts.fs,
      clock: opts.clock,
      thresholds: opts.config.disk,
      cleanup: (dir) => this.#cleanupDir(dir),
      isOnline: (dir) => this.#dirs.find((d) => d.path === dir)?.health.offline === false,
      ...(opts.onDiskCrossing === undefined ? {} : { onCrossing: opts.onDiskCrossing }),
      ...(opts.onDiskCleanup === undefined ? {} : { onCleanup: opts.onDiskCleanup }),
    });
    const onOffline = opts.onLogDirOffline ?? (() => {});
    for (const path of opts.config.logDirs) {
      const state: LogDirState = {
        path,
        space: this.#disk.space(path),
        logs: new Map(),
        hadCleanShutdown: false,
        health: new LogDirHealth(path, opts.config.logDirFailuresMax, (dir, e) => {
          this.#takeOffline(state);
          onOffline(dir, e);
        }),
      };
      this.#dirs.push(state);
    }
  }

  /** Opens every log in every log dir (recovering as needed). A dir that fails to load goes offline. */
  static open(opts: LogManagerOptions): LogManager {
    const m = new LogManager(opts);
    for (const dir of m.#dirs) {
      try {
        m.#loading = true;
        m.#loadDir(dir);
        m.#loading = false;
        // Recovery may have lowered offsets below the checkpoints: record them now.
        m.#checkpoint(dir, "recovery");
        m.#checkpoint(dir, "logStart");
      } catch (e) {
        m.#loading = false;
        if (!(e instanceof StorageError)) throw e;
        dir.health.offline = true;
        dir.health.lastError = e;
        m.#takeOffline(dir);
        opts.onLogDirOffline?.(dir.path, e);
      }
    }
    return m;
  }

  #readCheckpoint(dir: LogDirState, name: string): OffsetCheckpoint {
    try {
      return readOffsetCheckpoint(this.#fs, joinPath(dir.path, name)) ?? new Map();
    } catch (e) {
      if (e instanceof CheckpointError) return new Map();
      throw e;
    }
  }

  #loadDir(dir: LogDirState): void {
    const fs = this.#fs;
    fs.mkdirp(dir.path);
    const marker = joinPath(dir.path, cleanShutdownName);
    dir.hadCleanShutdown = fs.exists(marker);
    const recoveryPoints = this.#readCheckpoint(dir, recoveryPointCheckpointName);
    const logStarts = this.#readCheckpoint(dir, logStartOffsetCheckpointName);
    const highWatermarks = this.#readCheckpoint(dir, replicationOffsetCheckpointName);
    for (const name of fs.readdir(dir.path)) {
      const path = joinPath(dir.path, name);
      if (name.endsWith(deleteDirSuffix)) {
        this.#removeTree(path);
        continue;
      }
      const tp = parsePartitionDirName(name);
      if (tp === null || this.#excludeTopics.has(tp.topic) || !fs.stat(path).isDirectory) continue;
      const key = tpKey(tp);
      const log = this.#openLog(dir, tp, {
        recoveryPoint: recoveryPoints.get(key) ?? 0,
        logStartOffset: logStarts.get(key) ?? 0,
        highWatermark: highWatermarks.get(key) ?? 0,
      });
      const topicId = this.#readTopicId(path);
      if (topicId !== null) this.#topicIds.set(key, topicId);
      dir.logs.set(key, log);
      this.#logs.set(key, { dir, log });
    }
    if (dir.hadCleanShutdown) {
      fs.unlink(marker);
      fs.fsyncDir(dir.path);
    }
  }

  /** Re-reads `tp`'s topic config (after a metadata change) and applies it to its open log. */
  reconfigure(tp: TopicPartition): void {
    this.getLog(tp)?.updateConfig(this.#logConfig(tp.topic));
  }

  #logConfig(topic: string): LogConfig {
    return { ...this.#config.logDefaults, ...this.#topicConfig(topic) };
  }

  #openLog(
    dir: LogDirState,
    tp: TopicPartition,
    offsets: { recoveryPoint: number; logStartOffset: number; highWatermark: number },
    hadCleanShutdown: boolean = dir.hadCleanShutdown,
  ): PartitionLog {
    return PartitionLog.open({
      fs: this.#fs,
      clock: this.#clock,
      dir: joinPath(dir.path, partitionDirName(tp)),
      topicPartition: tp,
      config: this.#logConfig(tp.topic),
      files: this.#files,
      readBuffers: this.#readBuffers,
      health: dir.health,
      space: dir.space,
      ...offsets,
      hadCleanShutdown,
      onRecoveryPointLowered: () => {
        if (this.#loading) return; // the dir is checkpointed once all its logs are loaded
        this.#checkpointQuietly(dir, "recovery");
        this.#checkpointQuietly(dir, "logStart");
      },
    });
  }

  #readTopicId(partitionDir: string): string | null {
    const path = joinPath(partitionDir, partitionMetadataName);
    if (!this.#fs.exists(path)) return null;
    const bytes = this.#fs.readFile(path);
    if (bytes.length > 4096) return null;
    const m = /^version: 0\ntopic_id: ([A-Za-z0-9_-]{22})\n?$/.exec(decoder.decode(bytes));
    return m?.[1] ?? null;
  }

  // ---- lookup / create / delete -----------------------------------------------------------

  getLog(tp: TopicPartition): PartitionLog | null {
    const e = this.#logs.get(tpKey(tp));
    return e === undefined || e.dir.health.offline ? null : e.log;
  }

  topicId(tp: TopicPartition): string | null {
    return this.#topicIds.get(tpKey(tp)) ?? null;
  }

  allLogs(): PartitionLog[] {
    return [...this.#logs.values()].filter((e) => !e.dir.health.offline).map((e) => e.log);
  }

  /** Segment files open now (bounded by `openFilesMax`). */
  openFileCount(): number {
    return this.#files.openCount();
  }

  /** Log dirs: online or not, partitions, and the disk monitor's last figures. */
  logDirs(): LogDirView[] {
    return this.#dirs.map((d) => {
      const u = d.space.usage;
      return {
        path: d.path,
        online: !d.health.offline,
        partitions: d.logs.size,
        totalBytes: u?.totalBytes ?? -1,
        usableBytes: u?.availableBytes ?? -1,
        usageRatio: u?.usageRatio ?? -1,
        level: d.space.level,
      };
    });
  }

  /** The disk monitor (started with the background tasks). */
  get disk(): DiskMonitor {
    return this.#disk;
  }

  /**
   * The disk monitor's cleanup of one log dir, at once, of work that would otherwise wait and
   * never of data within its retention: retention checks, removal of `.deleted` segment files
   * and of deleted partitions' dirs, a pass of the cleaner over the dir's compacted logs.
   * Returns the bytes it freed, as the filesystem's available bytes grew (0 when unknown).
   */
  #cleanupDir(path: string): number {
    const dir = this.#dirs.find((d) => d.path === path);
    if (dir === undefined || dir.health.offline || this.#closed) return 0;
    const available = (): number | null => {
      try {
        return this.#fs.statfs(path).availableBytes;
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        return null;
      }
    };
    const before = available();
    const now = this.#clock.nowMs();
    for (const log of dir.logs.values()) {
      if (log.closed) continue;
      try {
        log.applyRetention(now);
        if (this.#config.cleanerEnable && log.config.cleanupPolicy.compact) this.#cleaner.cleanLog(log);
        log.removeDeletedNow();
        dir.health.recordSuccess();
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        dir.health.recordFailure(e);
      }
    }
    const prefix = `${path}/`;
    for (let i = this.#doomed.length - 1; i >= 0; i--) {
      const doomed = this.#doomed[i]!;
      if (!doomed.startsWith(prefix)) continue;
      this.#doomed.splice(i, 1);
      try {
        this.#removeTree(doomed);
      } catch (e) {
        // Left on disk: start-up removes every `-delete` dir.
        if (!(e instanceof StorageError)) throw e;
      }
    }
    const after = available();
    return before === null || after === null ? 0 : Math.max(0, after - before);
  }

  /**
   * The log of `tp`, created empty in the online log dir holding the fewest partitions when
   * missing. `topicId` (base64url, 22 chars) is written to partition.metadata. Throws
   * StorageError; returns null when every log dir is offline.
   */
  getOrCreateLog(tp: TopicPartition, topicId: string | null = null): PartitionLog | null {
    this.#assertOpen();
    const existing = this.getLog(tp);
    if (existing !== null) return existing;
    if (this.#logs.has(tpKey(tp))) return null; // in an offline dir
    const online = this.#dirs.filter((d) => !d.health.offline);
    if (online.length === 0) return null;
    const dir = online.reduce((a, b) => (b.logs.size < a.logs.size ? b : a));
    const path = joinPath(dir.path, partitionDirName(tp));
    this.#fs.mkdirp(path);
    if (topicId !== null) {
      if (!/^[A-Za-z0-9_-]{22}$/.test(topicId)) throw new Error(`getOrCreateLog: bad topic id ${topicId}`);
      writeFileAtomic(this.#fs, joinPath(path, partitionMetadataName), encoder.encode(`version: 0\ntopic_id: ${topicId}\n`));
      this.#topicIds.set(tpKey(tp), topicId);
    }
    this.#fs.fsyncDir(dir.path);
    const log = this.#openLog(dir, tp, { recoveryPoint: 0, logStartOffset: 0, highWatermark: 0 }, false);
    dir.logs.set(tpKey(tp), log);
    this.#logs.set(tpKey(tp), { dir, log });
    return log;
  }

  /**
   * Deletes a partition: close it and rename its dir to `*.<unique>-delete`, durably, at once;
   * the files are removed later, one deleted partition per clock tick, so deleting a topic of
   * thousands of partitions does not hold the broker for the unlinks (start-up removes any
   * `-delete` dir left by a stop in between).
   */
  deleteLog(tp: TopicPartition): boolean {
    this.#assertOpen();
    const key = tpKey(tp);
    const e = this.#logs.get(key);
    if (e === undefined) return false;
    e.log.closeUnclean();
    this.#logs.delete(key);
    e.dir.logs.delete(key);
    this.#topicIds.delete(key);
    try {
      this.#cleaner.forget(e.dir.path, tp.topic, tp.partition);
    } catch (err) {
      // Only the checkpoint entry is left behind; the next cleaner checkpoint drops it.
      if (!(err instanceof StorageError)) throw err;
    }
    const doomed = joinPath(e.dir.path, deleteDirName(tp, this.#uuidHex()));
    this.#fs.rename(e.log.dir, doomed);
    this.#fs.fsyncDir(e.dir.path);
    this.#doomed.push(doomed);
    this.#scheduleRemoval();
    return true;
  }

  /** Deleted partition dirs still to remove from disk. */
  get pendingRemovals(): number {
    return this.#doomed.length;
  }

  #scheduleRemoval(): void {
    if (this.#removalTimer !== null || this.#doomed.length === 0) return;
    this.#removalTimer = this.#clock.schedule(0, () => {
      this.#removalTimer = null;
      const path = this.#doomed.shift();
      if (path === undefined || this.#closed) return;
      try {
        this.#removeTree(path);
      } catch (err) {
        // Left on disk: start-up removes every `-delete` dir.
        if (!(err instanceof StorageError)) throw err;
      }
      this.#scheduleRemoval();
    });
  }

  #uuidHex(): string {
    let s = "";
    for (let i = 0; i < 4; i++) s += this.#prng.nextU32().toString(16).padStart(8, "0");
    return s;
  }

  /** A fresh random topic id in Kafka's text form (base64url, no padding, 22 chars). */
  newTopicId(): string {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 16; i += 4) view.setUint32(i, this.#prng.nextU32());
    return uuidBytesToText(bytes, 0);
  }

  #removeTree(path: string): void {
    const fs = this.#fs;
    for (const name of fs.readdir(path)) {
      const p = joinPath(path, name);
      if (fs.stat(p).isDirectory) this.#removeTree(p);
      else fs.unlink(p);
    }
    fs.rmdir(path);
  }

  // ---- checkpoints, retention, background -------------------------------------------------

  /** Writes the three offset checkpoints of every online log dir. Throws StorageError. */
  checkpointAll(): void {
    for (const dir of this.#dirs) {
      if (dir.health.offline) continue;
      this.#checkpoint(dir, "recovery");
      this.#checkpoint(dir, "logStart");
      this.#checkpoint(dir, "highWatermark");
    }
  }

  #checkpoint(dir: LogDirState, which: "recovery" | "logStart" | "highWatermark"): void {
    const name =
      which === "recovery" ? recoveryPointCheckpointName : which === "logStart" ? logStartOffsetCheckpointName : replicationOffsetCheckpointName;
    const entries: [string, number][] = [];
    for (const [key, log] of dir.logs) {
      entries.push([key, which === "recovery" ? log.recoveryPoint : which === "logStart" ? log.logStartOffset : log.highWatermark]);
    }
    writeOffsetCheckpoint(this.#fs, joinPath(dir.path, name), entries);
  }

  #checkpointQuietly(dir: LogDirState, which: "recovery" | "logStart" | "highWatermark"): void {
    if (dir.health.offline) return;
    try {
      this.#checkpoint(dir, which);
      dir.health.recordSuccess();
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      dir.health.recordFailure(e);
    }
  }

  /** Applies retention to every online log; returns segments deleted. */
  applyRetention(): number {
    let n = 0;
    const now = this.#clock.nowMs();
    for (const { dir, log } of this.#logs.values()) {
      if (dir.health.offline || log.closed) continue;
      try {
        n += log.applyRetention(now);
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        dir.health.recordFailure(e);
      }
    }
    return n;
  }

  /** The log cleaner (compaction); started by `startBackgroundTasks` when `cleanerEnable`. */
  get cleaner(): LogCleaner {
    return this.#cleaner;
  }

  /** Starts the periodic tasks on the Clock: retention, checkpoints, and the log cleaner. */
  startBackgroundTasks(): void {
    this.#assertOpen();
    // One slot per periodic task, holding its next run's cancel handle (not one per run).
    const every = (ms: number, task: () => void): void => {
      const slot = this.#timers.length;
      const run = (): void => {
        if (this.#closed) return;
        task();
        this.#timers[slot] = this.#clock.schedule(ms, run);
      };
      this.#timers.push(this.#clock.schedule(ms, run));
    };
    const c = this.#config;
    every(c.retentionCheckIntervalMs, () => void this.applyRetention());
    every(c.flushOffsetCheckpointIntervalMs, () => this.#dirs.forEach((d) => this.#checkpointQuietly(d, "recovery")));
    every(c.flushStartOffsetCheckpointIntervalMs, () => this.#dirs.forEach((d) => this.#checkpointQuietly(d, "logStart")));
    every(c.highWatermarkCheckpointIntervalMs, () => this.#dirs.forEach((d) => this.#checkpointQuietly(d, "highWatermark")));
    if (c.cleanerEnable) this.#cleaner.start();
    this.#disk.start();
  }

  #takeOffline(dir: LogDirState): void {
    for (const log of dir.logs.values()) log.closeUnclean();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("log manager is closed");
  }

  /**
   * Clean shutdown: stop tasks, close every log (flush + indexes), write the checkpoints,
   * then the clean-shutdown marker of each dir that closed without error.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cleaner.stop();
    this.#disk.stop();
    for (const cancel of this.#timers) cancel();
    this.#timers = [];
    this.#removalTimer?.();
    this.#removalTimer = null;
    for (const dir of this.#dirs) {
      if (dir.health.offline) continue;
      let ok = true;
      for (const log of dir.logs.values()) {
        try {
          log.close();
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          ok = false;
        }
      }
      try {
        this.#checkpoint(dir, "recovery");
        this.#checkpoint(dir, "logStart");
        this.#checkpoint(dir, "highWatermark");
        if (ok) writeFileAtomic(this.#fs, joinPath(dir.path, cleanShutdownName), new Uint8Array(0));
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
      }
    }
  }
}
