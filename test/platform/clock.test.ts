import { expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { createSystemClock, systemClock, timerDelayMsMax, type TimerApi } from "../../src/platform/bun/clock.ts";
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

test("SimClock refuses a negative, NaN or infinite delay", () => {
  const clock = new SimClock();
  for (const bad of [-1, -1_796_457_038_142, Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(() => clock.schedule(bad, () => {})).toThrow(RangeError);
  }
  expect(clock.pendingTimers()).toBe(0);
});

/** Timers that fire only when told, recording every delay they were armed with. */
function fakeTimers(): TimerApi & { delays: number[]; fire(): void; pending(): number } {
  let next = 0;
  const due = new Map<number, () => void>();
  const delays: number[] = [];
  return {
    delays,
    setTimeout(fn, delayMs) {
      delays.push(delayMs);
      due.set(++next, fn);
      return next;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    fire() {
      const all = [...due.entries()];
      due.clear();
      for (const [, fn] of all) fn();
    },
    pending: () => due.size,
  };
}

test("systemClock refuses a negative, NaN or infinite delay instead of arming a 1 ms timer", () => {
  const timers = fakeTimers();
  const clock = createSystemClock(timers);
  // The shape of the bug behind a TimeoutNegativeWarning: a deadline of -1 (or 0) minus an
  // epoch-ms now gives about minus the epoch.
  const wallNowMs = 1_796_457_038_141;
  for (const bad of [-1 - wallNowMs, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(() => clock.schedule(bad, () => {})).toThrow(RangeError);
  }
  expect(timers.delays).toEqual([]);
  expect(() => systemClock.schedule(-1, () => {})).toThrow(RangeError);
});

test("systemClock waits out a delay above the runtime's 32-bit limit in steps, and cancels mid-way", () => {
  const timers = fakeTimers();
  const clock = createSystemClock(timers);
  let fired = 0;
  clock.schedule(2 * timerDelayMsMax + 5, () => fired++);
  for (let i = 0; i < 2; i++) {
    timers.fire();
    expect(fired).toBe(0);
  }
  timers.fire();
  expect(fired).toBe(1);
  expect(timers.delays).toEqual([timerDelayMsMax, timerDelayMsMax, 5]);
  expect(timers.pending()).toBe(0);

  const cancel = clock.schedule(timerDelayMsMax + 1, () => fired++);
  timers.fire();
  cancel();
  expect(timers.pending()).toBe(0);
  timers.fire();
  expect(fired).toBe(1);
  for (const d of timers.delays) expect(d >= 0 && d <= timerDelayMsMax).toBe(true);
});

test("systemClock runs a timer on real time", async () => {
  const start = systemClock.monotonicMs();
  await new Promise<void>((resolve) => systemClock.schedule(5, resolve));
  expect(systemClock.monotonicMs() - start).toBeGreaterThanOrEqual(4);
});

test("SimClock.fireNext fires one timer at a time, up to a limit; nextDueMs skips cancelled timers", () => {
  const clock = new SimClock(1000);
  const fired: string[] = [];
  const cancel = clock.schedule(2, () => fired.push("cancelled"));
  clock.schedule(4, () => fired.push("a"));
  clock.schedule(4, () => fired.push("b"));
  cancel();
  expect(clock.nextDueMs()).toBe(4);
  expect(clock.fireNext(3)).toBe(false);
  expect(clock.monotonicMs()).toBe(0);
  expect(clock.fireNext()).toBe(true);
  expect(fired).toEqual(["a"]);
  expect(clock.monotonicMs()).toBe(4);
  expect(clock.nowMs()).toBe(1004);
  expect(clock.pendingTimers()).toBe(1);
  expect(clock.fireNext()).toBe(true);
  expect(fired).toEqual(["a", "b"]);
  expect(clock.fireNext()).toBe(false);
  expect(clock.nextDueMs()).toBeNull();
  expect(clock.pendingTimers()).toBe(0);
});
