import { expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { FetchSessionCache, nextEpoch } from "../../src/replication/fetch-sessions.ts";

function cache(slotsMax: number, clock = new SimClock()): { c: FetchSessionCache<number>; clock: SimClock } {
  return { c: new FetchSessionCache<number>({ slotsMax, evictionMs: 1_000, clock, prng: new SeededPrng(5) }), clock };
}

const parts = (n: number, prefix = "t"): [string, number][] => Array.from({ length: n }, (_, i) => [`${prefix}:${i}`, i * 10]);

function open(c: FetchSessionCache<number>, n: number, privileged = false): number {
  const ctx = c.begin(0, 0, parts(n), [], privileged);
  if (ctx.kind === "error") throw new Error("refused");
  return ctx.sessionId;
}

test("a session keeps its partitions' request fields; incremental fetches update, add and forget them; epochs advance by one", () => {
  const { c } = cache(4);
  const id = open(c, 3);
  expect(id).toBeGreaterThan(0);
  expect(c.session(id)!.epoch).toBe(1);
  const ctx = c.begin(id, 1, [["t:1", 99], ["u:0", 5]], ["t:2"], false);
  expect(ctx.kind).toBe("incremental");
  if (ctx.kind === "error") return;
  expect(ctx.partitions).toEqual([["t:0", 0], ["t:1", 99], ["u:0", 5]]);
  expect(c.session(id)!.epoch).toBe(2);
  expect(c.begin(id, 1, [], [], false)).toEqual({ kind: "error", errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH });
  expect(c.begin(id, 3, [], [], false)).toEqual({ kind: "error", errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH });
  expect(c.begin(id + 1, 2, [], [], false)).toEqual({ kind: "error", errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
  expect(c.begin(0, 2, [], [], false)).toEqual({ kind: "error", errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
  expect(c.begin(id, -2, [], [], false)).toEqual({ kind: "error", errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH });
  // Final epoch closes it.
  expect(c.begin(id, -1, parts(1), [], false)).toMatchObject({ kind: "full", sessionId: 0 });
  expect(c.size).toBe(0);
  expect(nextEpoch(0x7fff_ffff)).toBe(1);
});

test("incremental answers: a partition is included when it has records or its answer changed; records rotate it to the end", () => {
  const { c } = cache(2);
  const id = open(c, 3);
  const full = c.begin(0, -1, [], [], false);
  expect(full.kind).toBe("full");
  let ctx = c.begin(id, 1, [], [], false);
  // First incremental answer: never sent before, so every signature is new.
  expect(["t:0", "t:1", "t:2"].map((k) => c.include(ctx, k, "hw=5", false, false))).toEqual([true, true, true]);
  ctx = c.begin(id, 2, [], [], false);
  expect(["t:0", "t:1", "t:2"].map((k) => c.include(ctx, k, k === "t:1" ? "hw=6" : "hw=5", k === "t:2", false))).toEqual([false, true, true]);
  // An error is always answered, and the answer that ends it too, even if equal to the last before it.
  ctx = c.begin(id, 3, [], [], false);
  expect(c.include(ctx, "t:0", "error=6", false, true)).toBe(true);
  ctx = c.begin(id, 4, [], [], false);
  expect(c.include(ctx, "t:0", "error=6", false, true)).toBe(true);
  ctx = c.begin(id, 5, [], [], false);
  expect(c.include(ctx, "t:0", "hw=5", false, false)).toBe(true);
  ctx = c.begin(id, 6, [], [], false);
  expect(c.include(ctx, "t:0", "hw=5", false, false)).toBe(false);
  c.rotate(ctx, ["t:0"]);
  ctx = c.begin(id, 7, [], [], false);
  if (ctx.kind === "error") throw new Error("refused");
  expect(ctx.partitions.map(([k]) => k)).toEqual(["t:1", "t:2", "t:0"]);
});

test("eviction when full: a stale session first; a follower's session evicts the smallest consumer session; a consumer only a smaller consumer one; else no session", () => {
  const { c, clock } = cache(2);
  const a = open(c, 5);
  clock.advance(600);
  const b = open(c, 2);
  // Full, nobody stale, a consumer of 1 partition: no smaller consumer session to evict.
  expect(open(c, 1)).toBe(0);
  // A consumer of 3 partitions evicts b (2 partitions).
  const d = open(c, 3);
  expect(d).toBeGreaterThan(0);
  expect(c.session(b)).toBeUndefined();
  expect(c.evictions).toBe(1);
  // A follower evicts the smallest consumer session (d, 3 < 5) whatever its own size.
  const f1 = open(c, 1, true);
  expect(f1).toBeGreaterThan(0);
  expect(c.session(d)).toBeUndefined();
  expect(c.session(a)).toBeDefined();
  // a was last used at 0: stale at 1000; f1 is used at 700 and survives.
  clock.advance(500);
  c.begin(f1, 1, [], [], true);
  const late = open(c, 1);
  expect(late).toBeGreaterThan(0);
  expect(c.session(a)).toBeUndefined();
  expect(c.session(f1)).toBeDefined();
  // Two followers fill it: a consumer gets none, another follower evicts the consumer only.
  const f2 = open(c, 1, true);
  expect(c.session(late)).toBeUndefined();
  expect(open(c, 9)).toBe(0);
  expect(open(c, 1, true)).toBe(0);
  expect([c.session(f1), c.session(f2)].every((s) => s !== undefined)).toBe(true);
  expect(c.size).toBe(2);
});

test("zero slots: never a session", () => {
  const { c } = cache(0);
  expect(open(c, 1, true)).toBe(0);
  expect(c.size).toBe(0);
  expect(() => cache(-1)).toThrow();
});

test("a session is bounded in partitions: a full fetch above the bound gets none; incremental growth past it loses the session", () => {
  const c = new FetchSessionCache<number>({ slotsMax: 4, partitionsMax: 3, clock: new SimClock(), prng: new SeededPrng(9) });
  expect(c.begin(0, 0, parts(4), [], false)).toMatchObject({ kind: "full", sessionId: 0 });
  const id = open(c, 2);
  const grown = c.begin(id, 1, [["u:0", 1]], [], false);
  expect(grown.kind).toBe("incremental");
  // Updating and forgetting are fine at the bound; a fourth partition is not.
  expect(c.begin(id, 2, [["u:0", 2]], ["t:0"], false).kind).toBe("incremental");
  expect(c.begin(id, 3, [["v:0", 1]], [], false).kind).toBe("incremental");
  expect(c.begin(id, 4, [["w:0", 1]], [], false)).toEqual({ kind: "error", errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
  expect(c.session(id)).toBeUndefined();
});
