/**
 * The disk monitor: how full each log dir's filesystem is, and what the broker does about it.
 *
 * One per broker (the log manager owns it), on the injected Clock and `FileSystem.statfs`.
 * Every `intervalMs` it samples each online log dir and keeps the figures (DescribeLogDirs'
 * totalBytes/usableBytes come from here). Usage is `df`'s: used / (used + available), with
 * used = total - free, so 100% means nothing is left for an unprivileged writer and root's
 * reserved blocks count neither way.
 *
 * Levels, from the thresholds (fractions of the filesystem) and the absolute floor:
 *   normal  < alert ≤ alert   < cleanup ≤ cleanup < reject ≤ reject
 * `reject` also holds whenever available < `minFreeBytes`. Going up is immediate; going down
 * needs usage below the threshold by `diskUsageHysteresisRatio` (and the floor cleared by the
 * same fraction of the filesystem), so a dir hovering at a threshold does not flap.
 * Actions: alert warns; cleanup (and reject) run the log manager's cleanup at once (retention,
 * pending file deletions, compaction) and report what it freed; reject refuses appends to
 * non-internal topics with a retriable error until the level falls again. Internal topics
 * (`internalTopicNames`: group offsets, transactions, the metadata log) keep writing into the
 * space between the reject threshold and `diskInternalFloorBytes`: deleting a topic or
 * committing offsets must still work on a full dir, and that is what frees space.
 *
 * Between samples a write budget keeps the refusal ahead of ENOSPC at any write rate: every
 * admitted append is charged to its dir, and once the charges reach half of what was left
 * above the next floor, the dir is sampled again on the spot (a statfs costs about 2 µs).
 *
 * Every level change is one `onCrossing` call (the broker logs it) and counted in `stats`.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { type FileSystem, StorageError } from "../platform/fs.ts";

export type DiskLevel = "normal" | "alert" | "cleanup" | "reject";
const levelRank: Readonly<Record<DiskLevel, number>> = { normal: 0, alert: 1, cleanup: 2, reject: 3 };

export interface DiskThresholds {
  /** `log.dir.monitor.interval.ms`. */
  intervalMs: number;
  /** `log.dir.alert.usage.ratio`. */
  alertUsageRatio: number;
  /** `log.dir.cleanup.usage.ratio`. */
  cleanupUsageRatio: number;
  /** `log.dir.reject.usage.ratio`. */
  rejectUsageRatio: number;
  /** `log.dir.min.free.bytes`: below this many available bytes a dir rejects whatever its usage. */
  minFreeBytes: number;
}

export const defaultDiskThresholds: DiskThresholds = {
  intervalMs: 10_000,
  alertUsageRatio: 0.8,
  cleanupUsageRatio: 0.9,
  rejectUsageRatio: 0.95,
  minFreeBytes: 1024 * 1024,
};

/** How far below a threshold usage must fall before the level drops (fraction of the filesystem). */
export const diskUsageHysteresisRatio = 0.02;
/** Internal topics stop writing only when fewer bytes than this are available (room for checkpoints). */
export const diskInternalFloorBytes = 512 * 1024;
/** The smallest write budget between samples: a full dir is not sampled on every small append. */
export const diskBudgetBytesMin = 64 * 1024;

/** Topics whose writes keep the internal reserve (Kafka's internal topics and the metadata log). */
export const internalTopicNames: ReadonlySet<string> = new Set(["__consumer_offsets", "__transaction_state", "__cluster_metadata"]);

/** One sample of a log dir's filesystem. */
export interface DiskUsage {
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** used / (used + available), 0..1. */
  usageRatio: number;
  sampledAtMs: number;
}

export interface DiskCrossing {
  dir: string;
  from: DiskLevel;
  to: DiskLevel;
  usage: DiskUsage;
  /** What the broker does from now on, in words for the log line. */
  action: string;
}

/** Checks the thresholds; returns the problem in words, or null. */
export function diskThresholdsProblem(t: DiskThresholds): string | null {
  const ratios: [string, number][] = [
    ["log.dir.alert.usage.ratio", t.alertUsageRatio],
    ["log.dir.cleanup.usage.ratio", t.cleanupUsageRatio],
    ["log.dir.reject.usage.ratio", t.rejectUsageRatio],
  ];
  for (const [name, v] of ratios) if (!(v > 0 && v <= 1)) return `${name} must be in (0, 1], got ${v}`;
  if (!(t.alertUsageRatio <= t.cleanupUsageRatio && t.cleanupUsageRatio <= t.rejectUsageRatio)) {
    return `log.dir.alert.usage.ratio (${t.alertUsageRatio}) <= log.dir.cleanup.usage.ratio (${t.cleanupUsageRatio}) <= log.dir.reject.usage.ratio (${t.rejectUsageRatio}) must hold`;
  }
  if (!(Number.isSafeInteger(t.minFreeBytes) && t.minFreeBytes >= 0)) return `log.dir.min.free.bytes must be a byte count, got ${t.minFreeBytes}`;
  if (!(t.intervalMs > 0)) return `log.dir.monitor.interval.ms must be positive, got ${t.intervalMs}`;
  return null;
}

/** The level `usage` calls for, ignoring hysteresis. */
export function levelOf(t: DiskThresholds, usageRatio: number, availableBytes: number): DiskLevel {
  if (usageRatio >= t.rejectUsageRatio || availableBytes < t.minFreeBytes) return "reject";
  if (usageRatio >= t.cleanupUsageRatio) return "cleanup";
  if (usageRatio >= t.alertUsageRatio) return "alert";
  return "normal";
}

/** The level after `current`, given a new sample: up at once, down only past the hysteresis band. */
export function nextLevel(t: DiskThresholds, current: DiskLevel, u: DiskUsage): DiskLevel {
  const raw = levelOf(t, u.usageRatio, u.availableBytes);
  if (levelRank[raw] >= levelRank[current]) return raw;
  const band = diskUsageHysteresisRatio * (u.usedBytes + u.availableBytes);
  const held = levelOf(t, u.usageRatio + diskUsageHysteresisRatio, u.availableBytes - band);
  return levelRank[held] < levelRank[current] ? (levelRank[held] > levelRank[raw] ? held : raw) : current;
}

function actionOf(from: DiskLevel, to: DiskLevel): string {
  const up = levelRank[to] > levelRank[from];
  switch (to) {
    case "normal":
      return "none";
    case "alert":
      return up ? "warn" : "warn; cleanup stopped";
    case "cleanup":
      return up ? "clean up now (retention, pending deletions, compaction)" : "clean up; produce accepted again";
    case "reject":
      return "refuse produce to this dir (internal topics keep a reserve); clean up now";
  }
}

/**
 * One log dir's space state, shared by the dir's partition logs (like LogDirHealth). The logs
 * ask `admit` before every leader append.
 */
export class LogDirSpace {
  level: DiskLevel = "normal";
  usage: DiskUsage | null = null;
  /** Bytes admitted since the last sample. */
  #chargedBytes = 0;
  #budgetBytes = Number.POSITIVE_INFINITY;

  constructor(
    readonly dir: string,
    readonly thresholds: DiskThresholds,
    readonly resample: (space: LogDirSpace) => void,
  ) {}

  /**
   * Null when an append of `bytes` may go ahead, else why not (names the dir and its usage).
   * `internal`: the append is to an internal topic, which may use the reserve.
   */
  admit(bytes: number, internal: boolean): string | null {
    if (this.#chargedBytes + bytes >= this.#budgetBytes) this.resample(this);
    if (this.level === "reject") {
      if (!internal) return this.refusal();
      const u = this.usage;
      if (u !== null && u.availableBytes - this.#chargedBytes - bytes < diskInternalFloorBytes) {
        return `${this.refusal()}; internal topics stop below ${diskInternalFloorBytes} bytes available`;
      }
    }
    // Only what is written counts against the budget: refused bytes take no space.
    this.#chargedBytes += bytes;
    return null;
  }

  /** The refusal text for a dir at the reject level. */
  refusal(): string {
    const u = this.usage;
    const figures =
      u === null
        ? "full"
        : `${(u.usageRatio * 100).toFixed(1)}% full (${u.availableBytes} of ${u.usedBytes + u.availableBytes} bytes available)`;
    return `log dir ${this.dir} is ${figures}, at or above log.dir.reject.usage.ratio ${this.thresholds.rejectUsageRatio} or below log.dir.min.free.bytes ${this.thresholds.minFreeBytes}: writes resume once space is freed`;
  }

  /** An append failed with ENOSPC: whatever the last sample said, this dir is full now. */
  noteFull(): void {
    this.#budgetBytes = 0;
  }

  /** Records a sample and re-arms the budget; returns the level before it. */
  record(u: DiskUsage, level: DiskLevel): DiskLevel {
    const before = this.level;
    this.usage = u;
    this.level = level;
    this.#chargedBytes = 0;
    // Half of what is left above the next floor that matters to this dir's writers.
    const floor = level === "reject" ? diskInternalFloorBytes : Math.max(this.thresholds.minFreeBytes, (1 - this.thresholds.rejectUsageRatio) * (u.usedBytes + u.availableBytes));
    this.#budgetBytes = Math.max(diskBudgetBytesMin, (u.availableBytes - floor) / 2);
    return before;
  }
}

export interface DiskMonitorOptions {
  fs: FileSystem;
  clock: Clock;
  thresholds: DiskThresholds;
  /** Told of every level change. */
  onCrossing?: (c: DiskCrossing) => void;
  /** Runs the safe cleanup of a dir at once (cleanup and reject levels); returns bytes freed. */
  cleanup?: (dir: string) => number;
  /** Told after each cleanup run with what it freed. */
  onCleanup?: (dir: string, bytesFreed: number, usage: DiskUsage | null) => void;
  /** False for a dir that is offline (not sampled). */
  isOnline?: (dir: string) => boolean;
}

/** Counters, for tests, logs and a later metrics endpoint. */
export interface DiskMonitorStats {
  samples: number;
  statfsErrors: number;
  crossings: number;
  cleanups: number;
  cleanupBytesFreed: number;
}

export class DiskMonitor {
  readonly #opts: DiskMonitorOptions;
  readonly #spaces = new Map<string, LogDirSpace>();
  #timer: CancelTimer | null = null;
  #cleanupTimer: CancelTimer | null = null;
  readonly #cleanupDue = new Set<string>();
  readonly stats: DiskMonitorStats = { samples: 0, statfsErrors: 0, crossings: 0, cleanups: 0, cleanupBytesFreed: 0 };

  constructor(opts: DiskMonitorOptions) {
    const problem = diskThresholdsProblem(opts.thresholds);
    if (problem !== null) throw new Error(`disk monitor: ${problem}`);
    this.#opts = opts;
  }

  /** The space state of `dir`, created on first use. */
  space(dir: string): LogDirSpace {
    let s = this.#spaces.get(dir);
    if (s === undefined) {
      s = new LogDirSpace(dir, this.#opts.thresholds, (sp) => this.#sample(sp, "budget"));
      this.#spaces.set(dir, s);
    }
    return s;
  }

  /** Samples every online dir now (the periodic task; tests call it instead of waiting). */
  sampleAll(): void {
    for (const s of this.#spaces.values()) this.#sample(s, "tick");
    this.#runDueCleanups();
  }

  /** Samples on the Clock every `intervalMs`, starting with one sample now. */
  start(): void {
    if (this.#timer !== null) return;
    const run = (): void => {
      this.sampleAll();
      this.#timer = this.#opts.clock.schedule(this.#opts.thresholds.intervalMs, run);
    };
    run();
  }

  stop(): void {
    this.#timer?.();
    this.#timer = null;
    this.#cleanupTimer?.();
    this.#cleanupTimer = null;
    this.#cleanupDue.clear();
  }

  #sample(s: LogDirSpace, why: "tick" | "budget"): void {
    if (this.#opts.isOnline?.(s.dir) === false) return;
    let raw;
    try {
      raw = this.#opts.fs.statfs(s.dir);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      // The dir's own I/O errors take it offline; keep the last figures meanwhile.
      this.stats.statfsErrors++;
      return;
    }
    this.stats.samples++;
    const usedBytes = Math.max(0, raw.totalBytes - raw.freeBytes);
    const room = usedBytes + raw.availableBytes;
    const u: DiskUsage = {
      totalBytes: raw.totalBytes,
      usedBytes,
      availableBytes: raw.availableBytes,
      usageRatio: room === 0 ? 1 : usedBytes / room,
      sampledAtMs: this.#opts.clock.nowMs(),
    };
    const to = nextLevel(this.#opts.thresholds, s.level, u);
    const from = s.record(u, to);
    if (from !== to) {
      this.stats.crossings++;
      this.#opts.onCrossing?.({ dir: s.dir, from, to, usage: u, action: actionOf(from, to) });
    }
    const wantsCleanup = levelRank[to] >= levelRank.cleanup;
    // On a tick at cleanup or above, and at once on a crossing up into them. A crossing seen
    // by the write budget happens inside an append: its cleanup runs just after, on the Clock.
    if (wantsCleanup && (why === "tick" || levelRank[to] > levelRank[from])) {
      this.#cleanupDue.add(s.dir);
      if (why === "budget" && this.#cleanupTimer === null) {
        this.#cleanupTimer = this.#opts.clock.schedule(0, () => {
          this.#cleanupTimer = null;
          this.#runDueCleanups();
        });
      }
    }
  }

  #runDueCleanups(): void {
    const cleanup = this.#opts.cleanup;
    const dirs = [...this.#cleanupDue];
    this.#cleanupDue.clear();
    if (cleanup === undefined) return;
    for (const dir of dirs) {
      if (this.#opts.isOnline?.(dir) === false) continue;
      const freed = cleanup(dir);
      this.stats.cleanups++;
      this.stats.cleanupBytesFreed += freed;
      const s = this.#spaces.get(dir)!;
      // Freed space counts at once: the sample after a cleanup may lower the level.
      if (freed > 0) this.#sample(s, "budget");
      this.#opts.onCleanup?.(dir, freed, s.usage);
    }
  }

  /** Figures of `dir` from the last sample, or null when never sampled. */
  usage(dir: string): DiskUsage | null {
    return this.#spaces.get(dir)?.usage ?? null;
  }
}
