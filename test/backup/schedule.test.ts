/**
 * The broker's backup schedule on the simulated clock and filesystem: a run at each interval,
 * each incremental on the previous one, retention that never breaks a kept backup's chain, a
 * failing run logged and retried, responsibility, stop. The backups here are manifests only
 * (a fake engine): the engine itself is tested by roundtrip.test.ts, and the whole path on
 * real processes by test/interop/backup-schedule.test.ts.
 */
import { expect, test } from "bun:test";
import type { CreateSummary } from "../../src/backup/create.ts";
import { backupIdFor, encodeManifest, type Manifest } from "../../src/backup/format.ts";
import { backupIds, loadChain, loadManifest } from "../../src/backup/reader.ts";
import { BackupSchedule, removeExpiredBackups, type ScheduleState } from "../../src/backup/schedule.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { joinPath, writeFileAtomic } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { Logger } from "../../src/util/log.ts";

const dir = "/backups";
const hourMs = 3_600_000;

interface Rig {
  clock: SimClock;
  fs: SimFileSystem;
  lines: string[];
  schedule: BackupSchedule;
  calls: { full: boolean }[];
  /** The fake engine waits for the simulated clock (slowMs). */
  waitingOnClock: boolean;
}

/** A fake engine: writes a manifest whose parent is the newest backup (none when `full`). */
function rig(options: { intervalMs?: number; retentionMs?: number | null; fail?: (call: number) => string | null; responsible?: () => boolean; slowMs?: number } = {}): Rig {
  const clock = new SimClock(1_800_000_000_000);
  const fs = new SimFileSystem(new SeededPrng(7), clock);
  fs.mkdirp(dir);
  const lines: string[] = [];
  const log = new Logger({ sink: (line) => lines.push(line), nowMs: () => clock.nowMs() });
  const calls: { full: boolean }[] = [];
  let n = 0;
  // Assigned once the schedule exists; read by the fake engine.
  let out: Rig | null = null;
  const create = async (full: boolean): Promise<CreateSummary> => {
    calls.push({ full });
    const why = options.fail?.(calls.length) ?? null;
    if (options.slowMs !== undefined) {
      out!.waitingOnClock = true;
      await new Promise<void>((r) => clock.schedule(options.slowMs!, r));
      out!.waitingOnClock = false;
    }
    if (why !== null) throw new Error(why);
    const ids = backupIds(fs, dir);
    const parent = full ? null : (ids[ids.length - 1] ?? null);
    const id = backupIdFor(clock.nowMs(), new Uint8Array([0, 0, n++]));
    const m: Manifest = {
      format: "bunka-backup",
      version: 1,
      id,
      parent,
      createdMs: clock.nowMs(),
      finishedMs: clock.nowMs(),
      source: { clusterId: "c", bootstrap: "127.0.0.1:1" },
      encryption: null,
      compression: "zstd",
      topicsRegex: ".*",
      groupsRegex: ".*",
      topics: [],
      groups: [],
    };
    const encoded = await encodeManifest(m, null);
    fs.mkdirp(joinPath(dir, id));
    writeFileAtomic(fs, joinPath(joinPath(dir, id), "manifest.json"), encoded.manifest);
    writeFileAtomic(fs, joinPath(joinPath(dir, id), "manifest.sum"), encoded.sum);
    return { id, parent, topics: 0, partitions: 0, batches: 0, records: 0, rawBytes: 100, storedBytes: 60, groups: 0, encrypted: false, durationMs: 0 };
  };
  const schedule = new BackupSchedule(
    { dir, intervalMs: options.intervalMs ?? 1000, retentionMs: options.retentionMs === undefined ? null : options.retentionMs, key: null },
    { clock, fs, log, create, isResponsible: options.responsible ?? (() => true) },
  );
  out = { clock, fs, lines, schedule, calls, waitingOnClock: false };
  return out;
}

/**
 * Advances the clock timer by timer; after each, lets a run go as far as it can without the
 * clock (its file and digest work is real async work) before the next timer fires.
 */
async function advance(r: Rig, ms: number): Promise<void> {
  const end = r.clock.monotonicMs() + ms;
  for (;;) {
    await settle(r);
    if (!r.clock.fireNext(end)) break;
  }
  r.clock.advance(end - r.clock.monotonicMs());
  await settle(r);
}

/** Until a run in progress ends or waits for the simulated clock (its digests are real async work). */
async function settle(r: Rig): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (let i = 0; i < 5 || (r.schedule.state().kind === "running" && !r.waitingOnClock); i++) {
    if (performance.now() > deadline) throw new Error("a scheduled run neither ended nor waited for the clock in 10 s");
    await new Promise<void>((resolve) => setTimeout(resolve, i < 5 ? 0 : 1));
  }
}

async function manifests(r: Rig): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const id of backupIds(r.fs, dir)) out.push(await loadManifest(r.fs, dir, id, null));
  return out;
}

test("a run at each interval, each incremental on the previous one, one log line each", async () => {
  const r = rig({ intervalMs: 1000 });
  r.schedule.start();
  await advance(r, 999);
  expect(r.calls.length).toBe(0);
  await advance(r, 2600);
  expect(r.calls.length).toBe(3);
  const ms = await manifests(r);
  expect(ms.map((m) => m.parent)).toEqual([null, ms[0]!.id, ms[1]!.id]);
  expect(ms.map((m) => m.createdMs - 1_800_000_000_000)).toEqual([1000, 2000, 3000]);
  const done = r.lines.filter((l) => l.includes("scheduled backup done"));
  expect(done.length).toBe(3);
  expect(done[2]).toContain(`id=${ms[2]!.id}`);
  expect(done[2]).toContain("storedBytes=60");
  expect(done[2]).toContain("durationMs=");
  const s: ScheduleState = r.schedule.state();
  expect(s).toMatchObject({ kind: "idle", runs: 3, failures: 0, lastBackupId: ms[2]!.id, lastStoredBytes: 60, lastSuccessMs: 1_800_000_003_000, lastDurationMs: 0 });
  await r.schedule.stop();
});

test("a failing run is logged, counted and retried at the next interval; the broker never sees a throw", async () => {
  const r = rig({ intervalMs: 1000, fail: (call) => (call <= 2 ? `cannot reach 127.0.0.1:9092: refused (${call})` : null) });
  r.schedule.start();
  await advance(r, 2000);
  expect(r.calls.length).toBe(2);
  expect(backupIds(r.fs, dir)).toEqual([]);
  const failed = r.lines.filter((l) => l.includes("scheduled backup failed"));
  expect(failed.length).toBe(2);
  expect(failed[1]).toContain("level=error");
  expect(failed[1]).toContain("refused (2)");
  expect(r.schedule.state()).toMatchObject({ failures: 2, consecutiveFailures: 2, lastSuccessMs: null, lastError: "cannot reach 127.0.0.1:9092: refused (2)" });
  await advance(r, 1000);
  expect(backupIds(r.fs, dir).length).toBe(1);
  expect(r.schedule.state()).toMatchObject({ runs: 3, failures: 2, consecutiveFailures: 0, lastError: null });
  await r.schedule.stop();
});

test("a run longer than the interval: no overlap, the covered slots are skipped", async () => {
  const r = rig({ intervalMs: 1000, slowMs: 2500 });
  r.schedule.start();
  await advance(r, 1000);
  expect(r.schedule.state().kind).toBe("running");
  await advance(r, 2500); // the run ends at 3500; slots 2000 and 3000 were covered
  expect(r.calls.length).toBe(1);
  expect(r.schedule.state().kind).toBe("idle");
  await advance(r, 500); // next slot: 4000
  expect(r.calls.length).toBe(2);
  const stopping = r.schedule.stop();
  await advance(r, 2500); // stop waits for that run, which waits for the clock
  await stopping;
});

test("only while responsible: a node that is not skips, and takes over when it becomes so", async () => {
  let mine = false;
  const r = rig({ intervalMs: 1000, responsible: () => mine });
  r.schedule.start();
  await advance(r, 3000);
  expect(r.calls.length).toBe(0);
  expect(r.clock.pendingTimers()).toBe(1);
  mine = true;
  await advance(r, 1000);
  expect(r.calls.length).toBe(1);
  await r.schedule.stop();
});

test("stop cancels the timer, and waits for a run in progress", async () => {
  const r = rig({ intervalMs: 1000 });
  r.schedule.start();
  await r.schedule.stop();
  expect(r.clock.pendingTimers()).toBe(0);
  await advance(r, 10_000);
  expect(r.calls.length).toBe(0);
  expect(r.schedule.state().kind).toBe("stopped");

  const slow = rig({ intervalMs: 1000, slowMs: 500 });
  slow.schedule.start();
  await advance(slow, 1000);
  let stopped = false;
  const stopping = slow.schedule.stop().then(() => {
    stopped = true;
  });
  await settle(slow);
  expect(stopped).toBe(false);
  await advance(slow, 500);
  await stopping;
  expect(stopped).toBe(true);
  expect(backupIds(slow.fs, dir).length).toBe(1);
  expect(slow.clock.pendingTimers()).toBe(0);
});

test("retention over ten hours: expired backups go, a kept backup's chain never breaks, new chains start", async () => {
  const retentionMs = 4 * hourMs;
  const r = rig({ intervalMs: hourMs / 2, retentionMs });
  r.schedule.start();
  for (let step = 0; step < 20; step++) {
    await advance(r, hourMs / 2);
    const ms = await manifests(r);
    const now = r.clock.nowMs();
    // Every backup kept restores: its whole chain is there.
    for (const m of ms) expect((await loadChain(r.fs, dir, m.id, null)).length).toBeGreaterThan(0);
    // Anything past the retention is there only because a younger one builds on it.
    const parents = new Set(ms.map((m) => m.parent));
    for (const m of ms) if (now - m.createdMs > retentionMs) expect(parents.has(m.id)).toBe(true);
    // Nothing older than 1.5 × retention (a chain starts afresh every half retention).
    for (const m of ms) expect(now - m.createdMs).toBeLessThanOrEqual(1.5 * retentionMs + hourMs / 2);
  }
  expect(r.calls.filter((c) => c.full).length).toBeGreaterThanOrEqual(3);
  expect(r.schedule.state().removedBackups).toBeGreaterThan(0);
  expect(r.lines.some((l) => l.includes("backup retention removed backups"))).toBe(true);
  await r.schedule.stop();
});

test("removeExpiredBackups: an old base of a young incremental stays; an old chain alone goes; unreadable backups stay", async () => {
  const r = rig({ intervalMs: hourMs });
  r.schedule.start();
  await advance(r, 3 * hourMs); // A ← B ← C
  const [a, b, c] = backupIds(r.fs, dir);
  // At +3.5 h with a retention of 1.75 h: A (2.5 h old) and B (2 h) are expired, C (1 h) builds on them.
  expect(await removeExpiredBackups(r.fs, dir, null, r.clock.nowMs() + hourMs / 2, 1.75 * hourMs)).toEqual([]);
  expect(backupIds(r.fs, dir).length).toBe(3);
  // An unreadable backup keeps every older one (its parent is unknown); once it is gone and
  // everything is expired, the whole chain goes.
  writeFileAtomic(r.fs, joinPath(joinPath(dir, c!), "manifest.sum"), new TextEncoder().encode("{}")); // C unreadable: kept
  expect(await removeExpiredBackups(r.fs, dir, null, r.clock.nowMs() + 10 * hourMs, hourMs)).toEqual([]);
  await r.schedule.stop();
  expect([a, b, c].every((id) => r.fs.exists(joinPath(dir, id!)))).toBe(true);
  r.fs.unlink(joinPath(joinPath(dir, c!), "manifest.sum"));
  r.fs.unlink(joinPath(joinPath(dir, c!), "manifest.json"));
  r.fs.rmdir(joinPath(dir, c!));
  expect(await removeExpiredBackups(r.fs, dir, null, r.clock.nowMs() + 10 * hourMs, hourMs)).toEqual([a!, b!]);
  expect(r.fs.readdir(dir)).toEqual([]);
});

test("a run cut off by a graceful stop (cancel, then its connection closes) is logged as abandoned, not as a failure", async () => {
  const r = rig({ intervalMs: 1000, slowMs: 500, fail: () => "connection closed" });
  r.schedule.start();
  await advance(r, 1000);
  r.schedule.cancel();
  await advance(r, 500);
  await r.schedule.stop();
  expect(r.lines.some((l) => l.includes("scheduled backup abandoned"))).toBe(true);
  expect(r.lines.some((l) => l.includes("scheduled backup failed"))).toBe(false);
  expect(r.schedule.state()).toMatchObject({ kind: "stopped", failures: 0 });
  expect(r.clock.pendingTimers()).toBe(0);
});
