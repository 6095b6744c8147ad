import { expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";

test("SimClock fires timers in due order, ties in scheduling order, and honours cancel", () => {
  const clock = new SimClock(1000);
  const fired: string[] = [];
  clock.schedule(10, () => fired.push("b"));
  clock.schedule(5, () => fired.push("a"));
  const cancel = clock.schedule(7, () => fired.push("cancelled"));
  clock.schedule(10, () => fired.push("c"));
  cancel();
  clock.advance(9);
  expect(fired).toEqual(["a"]);
  expect(clock.monotonicMs()).toBe(9);
  clock.advance(1);
  expect(fired).toEqual(["a", "b", "c"]);
  expect(clock.nowMs()).toBe(1010);
  expect(clock.pendingTimers()).toBe(0);
});

test("SimClock timers scheduled from a timer fire within the same advance when due", () => {
  const clock = new SimClock();
  const at: number[] = [];
  clock.schedule(3, () => {
    at.push(clock.monotonicMs());
    clock.schedule(3, () => at.push(clock.monotonicMs()));
  });
  clock.advance(10);
  expect(at).toEqual([3, 6]);
  expect(() => clock.advance(-1)).toThrow(RangeError);
});

test("SeededPrng is reproducible from its seed and spreads values", () => {
  const a = new SeededPrng(42);
  const b = new SeededPrng(42);
  const c = new SeededPrng(43);
  const xs = Array.from({ length: 1000 }, () => a.nextU32());
  const ys = Array.from({ length: 1000 }, () => b.nextU32());
  expect(xs).toEqual(ys);
  expect(c.nextU32()).not.toBe(xs[0]);
  const buckets = new Array<number>(10).fill(0);
  const p = new SeededPrng(7);
  for (let i = 0; i < 10_000; i++) buckets[p.int(10)]!++;
  for (const n of buckets) expect(n).toBeGreaterThan(800);
  expect(() => p.int(0)).toThrow(RangeError);
});
