/**
 * Scheduled backups run by the broker (`backup.dir`, `backup.interval.ms`, ...): every interval,
 * an incremental backup of the cluster into `backup.dir` through the same engine as `bunka
 * backup create` (create.ts), then retention. State machine:
 *
 *   idle ──(timer, responsible)──▶ running ──(done or failed)──▶ idle (next timer armed)
 *   idle ──(timer, not responsible)──▶ idle (next timer armed, nothing logged above debug)
 *   idle | running ──stop()──▶ stopped (timer cancelled; a running backup is awaited)
 *
 * Runs never overlap: the next timer is armed when a run ends, at the next multiple of the
 * interval from the start (a run longer than the interval skips the slots it covered).
 *
 * Which node runs it, in a cluster: the broker with the lowest id among the registered,
 * unfenced brokers of the metadata image (`isResponsible`, given by the entry point). Each
 * broker computes the same answer from the same image, so each partition is backed up once,
 * by one schedule, into one chain; the backup reads leaders through the Kafka client like the
 * CLI, so it does not matter which broker leads what. Not the active controller: a controller
 * may have no client listener (process.roles=controller) and the backup is a client. Not each
 * leader for its own partitions: a leader change would split a partition's chain across two
 * brokers' directories, and groups' offsets would be snapshotted by nobody or by everybody.
 * When responsibility moves (that broker fenced or stopped), the next broker's first backup
 * in its own `backup.dir` is a full one (a shared `backup.dir` continues the chain). During
 * a hand-over two brokers may both run once: a partition backed up twice, never zero times.
 *
 * Retention: a backup older than `retentionMs` is removed unless a kept backup names it as an
 * ancestor (restore replays a backup's chain). So that old backups become removable at all,
 * the schedule starts a new chain (a full backup) once the current chain's first backup is
 * older than half the retention: backups are kept for at most 1.5 × retention.
 *
 * Failures (cluster unreachable, disk full, a key that does not match the directory's
 * backups): one log line, the failure counted, the next interval tries again. Never thrown.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { FileSystem } from "../platform/fs.ts";
import { joinPath } from "../platform/fs.ts";
import type { Logger } from "../util/log.ts";
import { type CreateSummary, removeTree } from "./create.ts";
import type { Manifest } from "./format.ts";
import { BackupError, backupIds, loadManifest } from "./reader.ts";
import type { BackupKey } from "./crypto.ts";

/** The shortest interval accepted (config-defs.ts names it too). */
export const backupIntervalMsMin = 100;

export interface ScheduleSettings {
  readonly dir: string;
  readonly intervalMs: number;
  /** Backups older than this are removed (chain permitting); null keeps them forever. */
  readonly retentionMs: number | null;
  readonly key: BackupKey | null;
}

export interface ScheduleDeps {
  readonly clock: Clock;
  readonly fs: FileSystem;
  readonly log: Logger;
  /** One backup into `settings.dir`; `full` starts a new chain (no parent). */
  readonly create: (full: boolean) => Promise<CreateSummary>;
  /** Whether this node is the one that backs the cluster up now (see the module doc). */
  readonly isResponsible: () => boolean;
}

/** What an admin view or a metrics endpoint reads. Times are wall-clock epoch ms. */
export interface ScheduleState {
  readonly kind: "idle" | "running" | "stopped";
  readonly runs: number;
  readonly failures: number;
  readonly consecutiveFailures: number;
  readonly lastSuccessMs: number | null;
  readonly lastBackupId: string | null;
  readonly lastDurationMs: number | null;
  /** Bytes written to data files by the last successful run. */
  readonly lastStoredBytes: number | null;
  readonly lastError: string | null;
  readonly removedBackups: number;
}

export class BackupSchedule {
  readonly #settings: ScheduleSettings;
  readonly #deps: ScheduleDeps;
  #kind: ScheduleState["kind"] = "idle";
  #cancel: CancelTimer | null = null;
  #running: Promise<void> | null = null;
  #nextDueMono = 0;
  #stopped = false;
  #state: Omit<ScheduleState, "kind"> = { runs: 0, failures: 0, consecutiveFailures: 0, lastSuccessMs: null, lastBackupId: null, lastDurationMs: null, lastStoredBytes: null, lastError: null, removedBackups: 0 };

  constructor(settings: ScheduleSettings, deps: ScheduleDeps) {
    if (!(Number.isSafeInteger(settings.intervalMs) && settings.intervalMs >= backupIntervalMsMin)) throw new RangeError(`backup interval ${settings.intervalMs} ms is below ${backupIntervalMsMin}`);
    if (settings.retentionMs !== null && !(settings.retentionMs > 0)) throw new RangeError(`backup retention ${settings.retentionMs} ms`);
    if (settings.dir === "") throw new RangeError("BackupSchedule needs a directory");
    this.#settings = settings;
    this.#deps = deps;
  }

  /** Arms the first run one interval from now. */
  start(): void {
    if (this.#stopped || this.#cancel !== null || this.#running !== null) throw new Error("BackupSchedule.start: started twice, or after stop");
    this.#nextDueMono = this.#deps.clock.monotonicMs() + this.#settings.intervalMs;
    this.#arm();
  }

  state(): ScheduleState {
    return { kind: this.#kind, ...this.#state };
  }

  /** No run starts from now on (a run in progress goes on). Idempotent. */
  cancel(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = null;
  }

  /** Cancels; resolves once a run in progress has ended. Idempotent. */
  async stop(): Promise<void> {
    this.cancel();
    if (this.#running !== null) await this.#running;
    this.#kind = "stopped";
  }

  #arm(): void {
    if (this.#stopped) return;
    const now = this.#deps.clock.monotonicMs();
    // Skip the slots a long run covered: never two runs back to back to catch up.
    while (this.#nextDueMono <= now) this.#nextDueMono += this.#settings.intervalMs;
    this.#cancel = this.#deps.clock.schedule(this.#nextDueMono - now, () => {
      this.#cancel = null;
      this.#tick();
    });
  }

  #tick(): void {
    if (this.#stopped) return;
    if (!this.#deps.isResponsible()) {
      this.#deps.log.debug("scheduled backup skipped: another broker is responsible");
      this.#arm();
      return;
    }
    if (this.#running !== null) throw new Error("BackupSchedule: a run started while another was running");
    this.#kind = "running";
    this.#running = this.#run().finally(() => {
      this.#running = null;
      this.#kind = this.#stopped ? "stopped" : "idle";
      this.#arm();
    });
  }

  /** One run: never throws (a failure is logged and counted). */
  async #run(): Promise<void> {
    const { clock, log } = this.#deps;
    const startedMono = clock.monotonicMs();
    this.#state = { ...this.#state, runs: this.#state.runs + 1 };
    let summary: CreateSummary;
    try {
      const full = await this.#chainTooOld();
      summary = await this.#deps.create(full);
    } catch (e) {
      const reason = describe(e);
      const durationMs = Math.round(clock.monotonicMs() - startedMono);
      if (this.#stopped) {
        // The broker closed the connection under it: not a failure of the backup.
        log.info("scheduled backup abandoned: the broker is stopping", { dir: this.#settings.dir, durationMs, reason });
        return;
      }
      this.#state = { ...this.#state, failures: this.#state.failures + 1, consecutiveFailures: this.#state.consecutiveFailures + 1, lastError: reason };
      log.error("scheduled backup failed; the next interval retries", { dir: this.#settings.dir, durationMs, failures: this.#state.failures, error: reason });
      return;
    }
    const durationMs = Math.round(clock.monotonicMs() - startedMono);
    this.#state = { ...this.#state, consecutiveFailures: 0, lastSuccessMs: clock.nowMs(), lastBackupId: summary.id, lastDurationMs: durationMs, lastStoredBytes: summary.storedBytes, lastError: null };
    log.info("scheduled backup done", { id: summary.id, parent: summary.parent ?? "(full)", partitions: summary.partitions, records: summary.records, rawBytes: summary.rawBytes, storedBytes: summary.storedBytes, durationMs });
    try {
      const removed = await removeExpiredBackups(this.#deps.fs, this.#settings.dir, this.#settings.key, clock.nowMs(), this.#settings.retentionMs);
      if (removed.length > 0) {
        this.#state = { ...this.#state, removedBackups: this.#state.removedBackups + removed.length };
        log.info("backup retention removed backups", { dir: this.#settings.dir, removed: removed.join(",") });
      }
    } catch (e) {
      log.error("backup retention failed; the next run retries", { dir: this.#settings.dir, error: describe(e) });
    }
  }

  /** True when the newest chain's first backup is older than half the retention. */
  async #chainTooOld(): Promise<boolean> {
    const { retentionMs, dir, key } = this.#settings;
    if (retentionMs === null) return false;
    const ids = backupIds(this.#deps.fs, dir);
    let id = ids[ids.length - 1] ?? null;
    let root: Manifest | null = null;
    const seen = new Set<string>();
    while (id !== null && !seen.has(id)) {
      seen.add(id);
      if (!this.#deps.fs.exists(joinPath(dir, id))) break;
      try {
        root = await loadManifest(this.#deps.fs, dir, id, key);
      } catch (e) {
        if (e instanceof BackupError) return true; // an unreadable chain: start afresh
        throw e;
      }
      id = root.parent;
    }
    return root !== null && this.#deps.clock.nowMs() - root.createdMs > retentionMs / 2;
  }
}

/**
 * Removes the backups of `dir` created more than `retentionMs` before `nowMs`, except those a
 * kept backup needs as an ancestor. A backup whose manifest cannot be read is kept, and so is
 * every older one (it may build on any of them; `verify` names what is wrong with it).
 * Returns the ids removed, oldest first.
 */
export async function removeExpiredBackups(fs: FileSystem, dir: string, key: BackupKey | null, nowMs: number, retentionMs: number | null): Promise<string[]> {
  if (retentionMs === null) return [];
  const ids = backupIds(fs, dir);
  const manifests = new Map<string, Manifest | null>();
  for (const id of ids) {
    try {
      manifests.set(id, await loadManifest(fs, dir, id, key));
    } catch (e) {
      if (!(e instanceof BackupError)) throw e;
      manifests.set(id, null);
    }
  }
  const expired = (id: string): boolean => {
    const m = manifests.get(id);
    return m !== null && m !== undefined && nowMs - m.createdMs > retentionMs;
  };
  const needed = new Set<string>();
  for (const [i, id] of ids.entries()) {
    if (expired(id)) continue;
    // Unreadable: its parent is unknown, so every older backup may be in its chain.
    if (manifests.get(id) === null) for (const older of ids.slice(0, i)) needed.add(older);
    // A kept backup: every ancestor stays.
    let parent = manifests.get(id)?.parent ?? null;
    while (parent !== null && !needed.has(parent)) {
      needed.add(parent);
      parent = manifests.get(parent)?.parent ?? null;
    }
  }
  // Renamed out of sight first (readers ignore names starting with "."), then deleted: a crash
  // in between leaves a hidden leftover, removed by the next pass, never a half-deleted backup.
  for (const name of fs.readdir(dir)) if (name.startsWith(".") && name.endsWith(".removing")) removeTree(fs, joinPath(dir, name));
  const removed: string[] = [];
  for (const id of ids) {
    if (!expired(id) || needed.has(id)) continue;
    const hidden = joinPath(dir, `.${id}.removing`);
    fs.rename(joinPath(dir, id), hidden);
    fs.fsyncDir(dir);
    removeTree(fs, hidden);
    removed.push(id);
  }
  return removed;
}

function describe(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 500);
}
