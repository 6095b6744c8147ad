import { expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { Purgatory, type WaitOutcome } from "../../src/replication/purgatory.ts";

test("completes at once when the condition already holds", async () => {
  const p = new Purgatory<string>(new SimClock());
  expect(await p.wait(["a"], 1000, () => true)).toBe("completed");
  expect(p.pending).toBe(0);
});

test("completes on notify of a watched key, expires at the deadline otherwise", async () => {
  const clock = new SimClock();
  const p = new Purgatory<string>(clock);
  let bytes = 0;
  const outcomes: WaitOutcome[] = [];
  const a = p.wait(["t-0", "t-1"], 500, () => bytes >= 10).then((o) => outcomes.push(o));
  const b = p.wait(["t-2"], 500, () => false).then((o) => outcomes.push(o));
  expect(p.pending).toBe(2);
  bytes = 5;
  expect(p.notify("t-1")).toBe(0);
  bytes = 12;
  expect(p.notify("t-9")).toBe(0);
  expect(p.notify("t-1")).toBe(1);
  await a;
  expect(outcomes).toEqual(["completed"]);
  expect(p.pending).toBe(1);
  clock.advance(499);
  await Promise.resolve();
  expect(outcomes).toEqual(["completed"]);
  clock.advance(1);
  await b;
  expect(outcomes).toEqual(["completed", "expired"]);
  expect(p.pending).toBe(0);
  // A completed operation's timer is cancelled: nothing more fires.
  expect(clock.pendingTimers()).toBe(0);
});

test("an operation completes once even when notified on several keys; expireAll ends the rest", async () => {
  const clock = new SimClock();
  const p = new Purgatory<number>(clock);
  let checks = 0;
  const op = p.wait([1, 2, 3], 1000, () => ++checks >= 2);
  expect(p.notify(1)).toBe(1);
  expect(p.notify(2)).toBe(0);
  expect(await op).toBe("completed");
  const pending = p.wait([4], 1000, () => false);
  p.expireAll();
  expect(await pending).toBe("expired");
  expect(p.pending).toBe(0);
  expect(await p.wait([], 100, () => false)).toBe("expired");
  expect(await p.wait([1], 0, () => false)).toBe("expired");
});
