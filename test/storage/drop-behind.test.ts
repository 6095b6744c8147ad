import { describe, expect, test } from "bun:test";
import { simpleBatch } from "./batch-builder.ts";
import { openLog, simEnv } from "./helpers.ts";

type Advice = { readonly op: "writeback" | "drop"; readonly path: string; readonly offset: number; readonly length: number };

/** The advice for one file as [start, end) runs per op, checking each op's ranges are contiguous from 0. */
function coverage(advice: readonly Advice[], path: string): { writeback: number; drop: number } {
  const end = { writeback: 0, drop: 0 };
  for (const a of advice) {
    if (a.path !== path) continue;
    expect(a.offset).toBe(end[a.op]);
    expect(a.length).toBeGreaterThan(0);
    end[a.op] = a.offset + a.length;
    // Only ranges whose writeback was started are dropped.
    if (a.op === "drop") expect(end.drop).toBeLessThanOrEqual(end.writeback);
  }
  return end;
}

describe("log.drop.behind.bytes", () => {
  test("0 (the default) gives the kernel no advice", () => {
    const env = simEnv(1);
    const log = openLog(env);
    for (let i = 0; i < 200; i++) expect(log.append(simpleBatch(4, 1000, i), 1).kind).toBe("ok");
    expect(env.sim.cacheAdvice).toEqual([]);
  });

  test("keeps the last K bytes of the active segment cached: writeback from K/2 behind, drop from K behind", () => {
    const keep = 64 * 1024;
    const step = keep / 4;
    const env = simEnv(2, { dropBehindBytes: keep });
    const log = openLog(env);
    const path = `${env.dir}/00000000000000000000.log`;
    let size = 0;
    for (let i = 0; i < 300; i++) {
      const batch = simpleBatch(3, 500 + ((i * 37) % 700), i);
      expect(log.append(batch, 1).kind).toBe("ok");
      size += batch.length;
      const end = coverage(env.sim.cacheAdvice, path);
      // Everything more than K/2 (+ a step) behind has had writeback started, nothing closer.
      expect(end.writeback).toBeLessThanOrEqual(Math.max(0, size - keep / 2));
      expect(end.writeback).toBeGreaterThan(size - keep / 2 - step);
      // Everything more than K (+ a step) behind was dropped, nothing closer.
      expect(end.drop).toBeLessThanOrEqual(Math.max(0, size - keep));
      expect(end.drop).toBeGreaterThan(size - keep - step);
      expect(end.writeback % step).toBe(0);
    }
    expect(size).toBeGreaterThan(10 * keep);
    // The data is untouched by the advice.
    const r = log.read(0, 1 << 20);
    expect(r.kind).toBe("ok");
  });

  test("after a truncation the advice restarts below the new end", () => {
    const keep = 32 * 1024;
    const env = simEnv(3, { dropBehindBytes: keep });
    const log = openLog(env);
    const path = `${env.dir}/00000000000000000000.log`;
    for (let i = 0; i < 100; i++) expect(log.append(simpleBatch(2, 1000, i), 1).kind).toBe("ok");
    const before = coverage(env.sim.cacheAdvice, path);
    expect(before.drop).toBeGreaterThan(0);
    log.truncateTo(10); // a few KB left: below everything advised so far
    env.sim.cacheAdvice.length = 0;
    for (let i = 0; i < 100; i++) expect(log.append(simpleBatch(2, 1000, 100 + i), 1).kind).toBe("ok");
    const after = env.sim.cacheAdvice.filter((a) => a.path === path);
    expect(after.length).toBeGreaterThan(0);
    // The first advice after the truncation starts at or below the truncated size, not where it had got to.
    expect(after[0]!.offset).toBeLessThan(before.drop);
    expect(after[0]!.offset).toBeLessThanOrEqual(10 * 2100);
  });

  test("values below the minimum act as the minimum (a step is at least one page)", () => {
    const env = simEnv(4, { dropBehindBytes: 1 });
    const log = openLog(env);
    for (let i = 0; i < 50; i++) expect(log.append(simpleBatch(2, 1000, i), 1).kind).toBe("ok");
    expect(env.sim.cacheAdvice.length).toBeGreaterThan(0);
    for (const a of env.sim.cacheAdvice) {
      expect(a.offset % 4096).toBe(0);
      expect(a.length % 4096).toBe(0);
    }
  });
});

describe("log.drop.behind.bytes on fetch reads", () => {
  /** A log of equal batches; returns it with the batch size and the file path of segment 0. */
  function filled(keep: number, segmentBytes = 1 << 30) {
    const env = simEnv(9, { dropBehindBytes: keep, segmentBytes });
    const log = openLog(env);
    const size = simpleBatch(2, 1000, 0).length;
    for (let i = 0; i < 300; i++) expect(log.append(simpleBatch(2, 1000, i), 1).kind).toBe("ok");
    return { env, log, size, path: `${env.dir}/00000000000000000000.log` };
  }

  test("drops the whole pages a fetch read more than K behind the end, nothing within K", () => {
    const keep = 64 * 1024;
    const { env, log, size, path } = filled(keep);
    const total = 300 * size;
    env.sim.cacheAdvice.length = 0;
    // Batches 10.. from position 10 * size, 100 KiB of them.
    const r = log.read(20, 100 * 1024, log.logEndOffset, true);
    if (r.kind !== "ok") throw new Error(r.kind);
    const from = 10 * size;
    const to = from + r.records.length;
    expect(to).toBeLessThan(total - keep);
    const drops = env.sim.cacheAdvice.filter((a) => a.op === "drop" && a.path === path);
    expect(drops).toEqual([{ op: "drop", path, offset: Math.floor(from / 4096) * 4096, length: Math.floor(to / 4096) * 4096 - Math.floor(from / 4096) * 4096 }]);
    // Within the last K bytes: nothing.
    env.sim.cacheAdvice.length = 0;
    const tailBatch = 300 - Math.floor(keep / 2 / size);
    const t = log.read(tailBatch * 2, 1 << 20, log.logEndOffset, true);
    expect(t.kind).toBe("ok");
    expect(env.sim.cacheAdvice).toEqual([]);
  });

  test("a sealed segment's pages go whatever their distance from the end; without the setting reads give no advice", () => {
    const { env, log, size, path } = filled(64 * 1024, 20 * 1024);
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(2);
    env.sim.cacheAdvice.length = 0;
    const r = log.read(0, 1 << 20, log.logEndOffset, true);
    if (r.kind !== "ok") throw new Error(r.kind);
    expect(env.sim.cacheAdvice.filter((a) => a.path === path)).toEqual([
      { op: "drop", path, offset: 0, length: Math.floor(r.records.length / 4096) * 4096 },
    ]);
    expect(r.records.length).toBeGreaterThan(4096);
    expect(r.records.length % size).toBe(0);

    const plain = simEnv(10);
    const plainLog = openLog(plain);
    for (let i = 0; i < 100; i++) plainLog.append(simpleBatch(2, 1000, i), 1);
    expect(plainLog.read(0, 1 << 20).kind).toBe("ok");
    expect(plain.sim.cacheAdvice).toEqual([]);
  });
});
