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
