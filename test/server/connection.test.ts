import { expect, test } from "bun:test";
import { SeededPrng } from "../../src/platform/prng.ts";
import type { DispatchResult } from "../../src/server/connection.ts";
import { RequestBudget } from "../../src/server/limits.ts";
import { concat, frame, harness, parseFrames, settle } from "./fakes.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const echo = (f: Uint8Array): DispatchResult => [f.slice()];

/** Runs `body` with a seeded Prng; on failure prints how to replay that seed. */
function seeded(name: string, body: (prng: SeededPrng) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const env = process.env.BUNKA_TEST_SEED;
    const seed = env === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0 : Number(env);
    try {
      await body(new SeededPrng(seed));
    } catch (error) {
      console.error(`${name} failed with seed ${seed}: replay with BUNKA_TEST_SEED=${seed} bun test test/server/connection.test.ts`);
      throw error;
    }
  };
}

test("frames split at every byte boundary are reassembled exactly", () => {
  const bodies = [enc("a"), enc(""), enc("hello world"), new Uint8Array(300).fill(7), enc("z")];
  const stream = concat(bodies.map(frame));
  for (let cut = 0; cut <= stream.length; cut++) {
    const seen: string[] = [];
    const h = harness((f) => {
      seen.push(dec(f));
      return echo(f);
    });
    h.conn.data(stream.subarray(0, cut));
    h.conn.data(stream.subarray(cut));
    expect(seen).toEqual(bodies.map(dec));
    expect(parseFrames(h.socket.written).map(dec)).toEqual(bodies.map(dec));
    expect(h.conn.state).toBe("open");
  }
});

test("a stream fed one byte at a time, and many frames in one chunk", () => {
  const bodies = Array.from({ length: 50 }, (_, i) => enc(`request-${i}-${"x".repeat(i)}`));
  const stream = concat(bodies.map(frame));
  const one = harness(echo);
  for (let i = 0; i < stream.length; i++) one.conn.data(stream.subarray(i, i + 1));
  expect(parseFrames(one.socket.written).map(dec)).toEqual(bodies.map(dec));

  const views: boolean[] = [];
  const all = harness((f) => {
    views.push(f.buffer === stream.buffer); // arrived in one chunk: a view, not a copy
    return echo(f);
  });
  all.conn.data(stream);
  expect(views.every(Boolean)).toBe(true);
  expect(parseFrames(all.socket.written).map(dec)).toEqual(bodies.map(dec));
  expect(all.probe.requestsReceived).toBe(50);
  expect(all.probe.responsesSent).toBe(50);
});

test(
  "random chunking at every seed reassembles frames",
  seeded("random chunking", (prng) => {
    for (let round = 0; round < 50; round++) {
      const bodies = Array.from({ length: 1 + prng.int(20) }, () => prng.fill(new Uint8Array(prng.int(5000))));
      const stream = concat(bodies.map(frame));
      const h = harness(echo);
      let o = 0;
      while (o < stream.length) {
        const n = 1 + prng.int(700);
        h.conn.data(stream.slice(o, o + n));
        o += n;
      }
      expect(parseFrames(h.socket.written)).toEqual(bodies);
    }
  }),
);

test(
  "responses are written in request order when handlers finish out of order",
  seeded("out of order", async (prng) => {
    const resolvers: (() => void)[] = [];
    const h = harness(
      (f) =>
        new Promise<DispatchResult>((resolve) => {
          resolvers.push(() => resolve([enc("re:"), f.slice()]));
        }),
    );
    const bodies = Array.from({ length: 40 }, (_, i) => enc(`q${i}`));
    h.conn.data(concat(bodies.map(frame)));
    expect(resolvers.length).toBe(40);
    expect(h.conn.inflightRequests).toBe(40);
    // Finish in a seeded random order, letting promise callbacks run in between.
    const order = resolvers.map((r, i) => ({ r, k: prng.nextU32(), i })).sort((a, b) => a.k - b.k);
    for (const { r } of order) {
      r();
      await settle(1);
      const written = parseFrames(h.socket.written).map(dec);
      expect(written).toEqual(bodies.slice(0, written.length).map((b) => `re:${dec(b)}`));
    }
    await settle();
    expect(parseFrames(h.socket.written).map(dec)).toEqual(bodies.map((b) => `re:${dec(b)}`));
    expect(h.conn.inflightRequests).toBe(0);
  }),
);

test("a null response sends nothing and keeps later responses in order", async () => {
  let release: (() => void) | null = null;
  const h = harness((f) => {
    const s = dec(f);
    if (s === "slow") return new Promise<DispatchResult>((r) => (release = () => r([enc("slow-done")])));
    if (s.startsWith("acks0")) return null;
    return [enc(`ok:${s}`)];
  });
  h.conn.data(concat(["slow", "acks0-a", "fast", "acks0-b", "last"].map((s) => frame(enc(s)))));
  expect(h.socket.written.length).toBe(0); // everything waits behind "slow"
  (release as unknown as () => void)();
  await settle();
  expect(parseFrames(h.socket.written).map(dec)).toEqual(["slow-done", "ok:fast", "ok:last"]);
  expect(h.probe.responsesSkipped).toBe(2);
});

test(
  "backpressure: partial writes queue the rest, nothing lost or reordered, reading pauses at the bound",
  seeded("backpressure", (prng) => {
    const k = 37;
    const h = harness((f) => [f.slice(0, 1), new Uint8Array(20_000).fill(f[0] ?? 0), f.slice(1)], {
      acceptPerWrite: k,
      limits: { queuedResponseBytesMax: 100_000 },
    });
    const bodies = Array.from({ length: 30 }, (_, i) => prng.fill(new Uint8Array(10 + i)));
    h.conn.data(concat(bodies.map(frame)));
    // The bound (100 kB) is hit after a few 20 kB responses: reading paused, frames left unread.
    expect(h.socket.paused).toBe(true);
    expect(h.conn.readPaused).toBe(true);
    expect(h.probe.requestsReceived).toBeLessThan(30);
    let drains = 0;
    while (h.probe.responsesSent < 30 || h.conn.queuedResponseBytes > 0) {
      h.socket.refill();
      h.conn.drain();
      if (++drains > 1_000_000) throw new Error("no progress");
    }
    const expected = bodies.map((b) => concat([b.slice(0, 1), new Uint8Array(20_000).fill(b[0] ?? 0), b.slice(1)]));
    expect(parseFrames(h.socket.written)).toEqual(expected);
    expect(h.socket.paused).toBe(false);
    expect(h.probe.readPauses).toBeGreaterThan(0);
    expect(h.probe.bytesOut).toBe(h.socket.written.length);
  }),
);

test("small response chunks are coalesced into one write", () => {
  const h = harness(() => Array.from({ length: 10 }, (_, i) => enc(`part${i};`)));
  h.conn.data(frame(enc("x")));
  expect(h.socket.writes).toBe(1);
  expect(dec(parseFrames(h.socket.written)[0] ?? new Uint8Array())).toBe("part0;part1;part2;part3;part4;part5;part6;part7;part8;part9;");
});

test("in-flight request count bound stops reading until a response completes", async () => {
  const resolvers: (() => void)[] = [];
  const h = harness(
    (f) => new Promise<DispatchResult>((r) => resolvers.push(() => r([f.slice()]))),
    { limits: { inflightRequestsMax: 3 } },
  );
  h.conn.data(concat(Array.from({ length: 10 }, (_, i) => frame(enc(`r${i}`)))));
  expect(resolvers.length).toBe(3);
  expect(h.socket.paused).toBe(true);
  for (let i = 0; i < 10; i++) {
    resolvers[i]?.();
    await settle(2);
  }
  await settle();
  expect(resolvers.length).toBe(10);
  expect(parseFrames(h.socket.written).map(dec)).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
  expect(h.socket.paused).toBe(false);
});

test("request byte budgets: per connection and global; a lone large frame still proceeds", async () => {
  const budget = new RequestBudget(1000, 1000);
  const pending: (() => void)[] = [];
  const slow = (f: Uint8Array): Promise<DispatchResult> => new Promise((r) => pending.push(() => r([f.slice(0, 1)]))); 
  const a = harness(slow, { budget, limits: { inflightRequestBytesMax: 600 } });
  const b = harness(slow, { budget });
  a.conn.data(concat([frame(new Uint8Array(500)), frame(new Uint8Array(500))]));
  expect(pending.length).toBe(1); // 500 + 500 > 600 per connection
  expect(a.socket.paused).toBe(true);
  b.conn.data(frame(new Uint8Array(600))); // 500 + 600 > 1000 globally
  expect(pending.length).toBe(1);
  expect(b.socket.paused).toBe(true);
  expect(budget.bytes).toBe(500);
  pending[0]?.();
  await settle();
  // The release wakes both; a's second frame or b's frame gets admitted, and so on until all ran.
  for (let i = 1; i < 3; i++) {
    expect(pending.length).toBeGreaterThan(i);
    pending[i]?.();
    await settle();
  }
  expect(pending.length).toBe(3);
  expect(budget.bytes).toBe(0);
  expect(parseFrames(a.socket.written).length).toBe(2);
  expect(parseFrames(b.socket.written).length).toBe(1);

  // A frame bigger than the whole budget is admitted when nothing else is held.
  const c = harness(echo, { budget: new RequestBudget(100, 10) });
  c.conn.data(frame(new Uint8Array(5000)));
  expect(parseFrames(c.socket.written)[0]?.length).toBe(5000);
});

test("negative and oversized frame sizes close only that connection, with a log line", () => {
  for (const size of [-1, -2147483648, 1024 * 1024 + 1, 0x7fffffff]) {
    const bad = harness(echo);
    const good = harness(echo);
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setInt32(0, size);
    bad.conn.data(prefix.subarray(0, 2));
    expect(bad.socket.closed).toBe(false);
    bad.conn.data(prefix.subarray(2));
    expect(bad.socket.closed).toBe(true);
    expect(bad.closed()).toBe(true);
    expect(bad.probe.frameErrors).toBe(1);
    const line = bad.logs.records().find((r) => r.msg?.includes("invalid request frame size"));
    expect(line?.size).toBe(String(size));
    expect(line?.level).toBe("warn");
    expect(line?.conn).toBe("1");
    good.conn.data(frame(enc("still fine")));
    expect(parseFrames(good.socket.written).map(dec)).toEqual(["still fine"]);
  }
});

test("a throwing or rejecting handler closes only its connection and is logged", async () => {
  const sync = harness(() => {
    throw new Error("boom");
  });
  sync.conn.data(frame(enc("x")));
  expect(sync.socket.closed).toBe(true);
  expect(sync.probe.handlerErrors).toBe(1);
  const rec = sync.logs.records().find((r) => r.level === "error");
  expect(rec?.error).toBe("boom");
  expect(rec?.remote).toBe("10.0.0.1:40000");

  const rejecting = harness(async (f) => {
    if (dec(f) === "bad") throw new Error("async boom");
    return [f.slice()];
  });
  rejecting.conn.data(concat([frame(enc("ok")), frame(enc("bad")), frame(enc("never"))]));
  await settle();
  expect(rejecting.socket.closed).toBe(true);
  // An abort drops what was not yet written: at most the earlier response went out.
  expect(["", "ok"]).toContain(parseFrames(rejecting.socket.written).map(dec).join(","));
  expect(rejecting.probe.handlerErrors).toBe(1);

  const wrongType = harness(() => "not bytes" as unknown as DispatchResult);
  wrongType.conn.data(frame(enc("x")));
  expect(wrongType.socket.closed).toBe(true);
  expect(wrongType.logs.lines.some((l) => l.includes("not Uint8Array[] | null"))).toBe(true);

  const violation = harness(() => {
    const e = new Error("api 999 is not served");
    e.name = "ProtocolViolation";
    throw e;
  });
  violation.conn.data(frame(enc("x")));
  expect(violation.logs.records().find((r) => r.msg === "protocol violation; closing connection")?.level).toBe("warn");
});

test("idle timeout closes a quiet connection, measured from the last activity", async () => {
  const h = harness(echo, { limits: { idleTimeoutMs: 1000 } });
  h.clock.advance(600);
  h.conn.data(frame(enc("ping")));
  h.clock.advance(600);
  expect(h.socket.closed).toBe(false); // 600 ms since the last activity
  h.clock.advance(399);
  expect(h.socket.closed).toBe(false);
  h.clock.advance(1);
  expect(h.socket.closed).toBe(true);
  expect(h.probe.idleClosed).toBe(1);
  expect(h.logs.lines.some((l) => l.includes("closing idle connection"))).toBe(true);

  // A connection with a request in flight is not idle.
  let release: (() => void) | null = null;
  const busy = harness(() => new Promise<DispatchResult>((r) => (release = () => r([enc("late")]))), { limits: { idleTimeoutMs: 1000 } });
  busy.conn.data(frame(enc("slow")));
  busy.clock.advance(5000);
  expect(busy.socket.closed).toBe(false);
  (release as unknown as () => void)();
  await settle();
  busy.clock.advance(999);
  expect(busy.socket.closed).toBe(false);
  busy.clock.advance(1);
  expect(busy.socket.closed).toBe(true);
});

test("ctx.close writes queued responses, then ends; graceful drain answers in-flight requests", async () => {
  const h = harness((f, ctx) => {
    if (dec(f) === "quit") {
      ctx.close("client asked");
      return null;
    }
    return [f.slice()];
  });
  h.conn.data(concat([frame(enc("a")), frame(enc("quit")), frame(enc("b"))]));
  expect(parseFrames(h.socket.written).map(dec)).toEqual(["a"]);
  expect(h.socket.ended).toBe(true);
  expect(h.conn.state).toBe("closing");
  h.conn.close();
  expect(h.closed()).toBe(true);

  let release: (() => void) | null = null;
  const d = harness((f) => new Promise<DispatchResult>((r) => (release = () => r([f.slice()]))));
  d.conn.data(frame(enc("in-flight")));
  d.conn.beginDrain();
  expect(d.conn.state).toBe("draining");
  d.conn.data(frame(enc("ignored")));
  (release as unknown as () => void)();
  await settle();
  expect(parseFrames(d.socket.written).map(dec)).toEqual(["in-flight"]);
  expect(d.socket.ended).toBe(true);
  // The peer never closes: after the linger time the connection is dropped.
  d.clock.advance(10_000);
  expect(d.socket.closed).toBe(true);
  expect(d.closed()).toBe(true);
});

test("budgets are returned when a connection closes with requests in flight", async () => {
  const budget = new RequestBudget(10_000, 100);
  const h = harness(() => new Promise<DispatchResult>(() => {}), { budget });
  h.conn.data(concat([frame(new Uint8Array(100)), frame(new Uint8Array(200))]));
  h.conn.data(new Uint8Array([0, 0, 1, 0, 1, 2])); // a partial third frame, admitted
  expect(budget.bytes).toBe(556);
  h.conn.close();
  expect(budget.bytes).toBe(0);
  expect(budget.requests).toBe(0);
  expect(h.closed()).toBe(true);
});
