import { expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { Logger, memorySink, type LogLevel } from "../../src/util/log.ts";
import { LogLimiter, otherKindsKey } from "../../src/util/log-limiter.ts";

const intervalMs = 10_000;

function setup(keysMax = 8, level: LogLevel = "debug") {
  const clock = new SimClock();
  const logs = memorySink();
  const log = new Logger({ sink: logs.sink, level, nowMs: () => clock.nowMs() });
  const limiter = new LogLimiter({ clock, intervalMs, keysMax });
  return { clock, logs, log, limiter };
}

test("the first line is written at once; the next ones in the interval are counted into one summary", () => {
  const { clock, logs, log, limiter } = setup();
  expect(limiter.log(log, "warn", "fetch v2", "unsupported version", { n: 0 })).toBe(true);
  for (let i = 1; i <= 99; i++) {
    clock.advance(50);
    expect(limiter.log(log, "warn", "fetch v2", "unsupported version", { n: i })).toBe(false);
  }
  expect(logs.records().map((r) => r.n)).toEqual(["0"]);
  clock.advance(intervalMs - 99 * 50 - 1);
  expect(logs.lines.length).toBe(1);
  clock.advance(1);
  const [first, summary] = logs.records();
  expect(first).toMatchObject({ level: "warn", msg: "unsupported version", n: "0" });
  expect(first?.suppressed).toBeUndefined();
  // The summary carries the last occurrence's message and fields, and the count.
  expect(summary).toMatchObject({ level: "warn", msg: "unsupported version", n: "99", suppressed: "99", windowMs: String(intervalMs) });
  expect(logs.lines.length).toBe(2);
});

test("a steady repetition writes one line per interval; a quiet interval forgets the key", () => {
  const { clock, logs, log, limiter } = setup();
  // 10 occurrences a second for 35 s.
  for (let t = 0; t < 35_000; t += 100) {
    limiter.log(log, "info", "k", "again");
    clock.advance(100);
  }
  const counts = logs.records().map((r) => r.suppressed ?? "first");
  expect(counts).toEqual(["first", "99", "100", "100"]);
  // The last window (30..40 s) holds the 50 of 30..35 s; it ends with a summary, the next one quietly.
  clock.advance(5_000);
  expect(logs.records().at(-1)?.suppressed).toBe("50");
  expect(limiter.keys).toBe(1);
  clock.advance(intervalMs);
  expect(limiter.keys).toBe(0);
  expect(clock.pendingTimers()).toBe(0);
  // Quiet for a whole interval: the next one is a first line again, written at once.
  expect(limiter.log(log, "info", "k", "again")).toBe(true);
  expect(logs.records().at(-1)?.suppressed).toBeUndefined();
});

test("a single occurrence writes one line and nothing more", () => {
  const { clock, logs, log, limiter } = setup();
  limiter.log(log, "warn", "once", "only once");
  clock.advance(10 * intervalMs);
  expect(logs.lines.length).toBe(1);
  expect(limiter.keys).toBe(0);
});

test("keys are limited separately, and two limiters (two connections) know nothing of each other", () => {
  const { clock, logs, log, limiter } = setup();
  const other = new LogLimiter({ clock, intervalMs, keysMax: 8 });
  for (let i = 0; i < 10; i++) {
    limiter.log(log, "warn", "a", "kind a", { conn: 1 });
    limiter.log(log, "warn", "b", "kind b", { conn: 1 });
    other.log(log, "warn", "a", "kind a", { conn: 2 });
  }
  expect(logs.records().map((r) => `${r.msg}/${r.conn}`)).toEqual(["kind a/1", "kind b/1", "kind a/2"]);
  clock.advance(intervalMs);
  expect(logs.records().slice(3).map((r) => `${r.msg}/${r.conn}/${r.suppressed}`)).toEqual(["kind a/1/9", "kind b/1/9", "kind a/2/9"]);
});

test("at most keysMax keys are tracked: further kinds share one limited entry", () => {
  const { clock, logs, log, limiter } = setup(3);
  for (let round = 0; round < 5; round++) {
    for (let k = 0; k < 100; k++) limiter.log(log, "warn", `kind-${k}`, `line ${k}`);
  }
  expect(limiter.keys).toBe(4); // 3 own keys + the shared one
  // kind-0..2 first lines, then kind-3 opened the shared entry; everything else counted.
  expect(logs.records().map((r) => r.msg)).toEqual(["line 0", "line 1", "line 2", "line 3"]);
  clock.advance(intervalMs);
  const summaries = logs.records().slice(4);
  expect(summaries.map((r) => r.suppressed)).toEqual(["4", "4", "4", String(5 * 97 - 1)]);
  expect(summaries[3]).toMatchObject({ msg: "line 99", kinds: "several" });
  expect(otherKindsKey).toBe("(other kinds)");
  // A quiet interval frees every key.
  clock.advance(intervalMs);
  expect(limiter.keys).toBe(0);
});

test("close writes the pending counts, cancels the timers and forgets the keys; later lines pass through", () => {
  const { clock, logs, log, limiter } = setup();
  for (let i = 0; i < 5; i++) limiter.log(log, "warn", "a", "kind a");
  limiter.log(log, "warn", "b", "kind b");
  clock.advance(1234);
  limiter.close();
  expect(limiter.closed).toBe(true);
  expect(logs.records().map((r) => `${r.msg}:${r.suppressed ?? "-"}:${r.windowMs ?? "-"}`)).toEqual(["kind a:-:-", "kind b:-:-", "kind a:4:1234"]);
  expect(limiter.keys).toBe(0);
  expect(clock.pendingTimers()).toBe(0);
  limiter.close();
  expect(limiter.log(log, "warn", "a", "kind a")).toBe(true);
  expect(limiter.log(log, "warn", "a", "kind a")).toBe(true);
  expect(clock.pendingTimers()).toBe(0);
  expect(logs.lines.length).toBe(5);
});

test("a level the logger does not write is neither written nor remembered", () => {
  const { clock, logs, log, limiter } = setup(8, "info");
  for (let i = 0; i < 10; i++) expect(limiter.log(log, "debug", "d", "debug line")).toBe(false);
  expect(limiter.keys).toBe(0);
  expect(clock.pendingTimers()).toBe(0);
  expect(logs.lines).toEqual([]);
});

test("the options are checked", () => {
  const clock = new SimClock();
  expect(() => new LogLimiter({ clock, intervalMs: 0, keysMax: 1 })).toThrow(RangeError);
  expect(() => new LogLimiter({ clock, intervalMs: Number.NaN, keysMax: 1 })).toThrow(RangeError);
  expect(() => new LogLimiter({ clock, intervalMs: 1, keysMax: 0 })).toThrow(RangeError);
});
