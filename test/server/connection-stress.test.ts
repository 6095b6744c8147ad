/**
 * Seeded random runs of one connection against a scripted peer: random TCP chunking, handlers
 * that finish in random order (some synchronously, some with no response), a socket that takes
 * random amounts per write, and small flow-control bounds. After every run: every response
 * arrived, in request order, byte for byte, and every budget was returned.
 */
import { expect, test } from "bun:test";
import { SeededPrng } from "../../src/platform/prng.ts";
import type { DispatchResult } from "../../src/server/connection.ts";
import { RequestBudget } from "../../src/server/limits.ts";
import { concat, frame, harness, parseFrames } from "./fakes.ts";

function expectedResponse(body: Uint8Array): Uint8Array[] | null {
  const kind = (body[0] ?? 0) % 5;
  if (kind === 0) return null; // acks=0
  const big = kind === 4 ? new Uint8Array(20_000 + (body[1] ?? 0)).fill(body[2] ?? 0) : new Uint8Array(0);
  return [body.subarray(0, Math.min(3, body.length)), big, body.subarray(Math.min(3, body.length))];
}

async function runOnce(seed: number): Promise<void> {
  const prng = new SeededPrng(seed);
  const budget = new RequestBudget(50_000, 20);
  const pending: (() => void)[] = [];
  const h = harness(
    (f) => {
      const response = expectedResponse(f);
      const copy = response === null ? null : response.map((c) => c.slice());
      if (prng.int(3) === 0) return copy; // synchronous
      return new Promise<DispatchResult>((resolve) => pending.push(() => resolve(copy)));
    },
    {
      budget,
      acceptPerWrite: 1 + prng.int(30_000),
      limits: {
        inflightRequestsMax: 1 + prng.int(8),
        inflightRequestBytesMax: 65_536,
        queuedResponseBytesMax: 1 + prng.int(60_000),
      },
    },
  );
  const bodies = Array.from({ length: 50 + prng.int(100) }, () => prng.fill(new Uint8Array(1 + prng.int(prng.int(10) === 0 ? 30_000 : 300))));
  const stream = concat(bodies.map(frame));
  let offset = 0;
  for (let step = 0; step < 200_000; step++) {
    const action = prng.int(4);
    if (action === 0 && offset < stream.length && !h.socket.paused) {
      const n = 1 + prng.int(5000);
      h.conn.data(stream.slice(offset, offset + n));
      offset += n;
    } else if (action === 1 && pending.length > 0) {
      const i = prng.int(pending.length);
      const [resolve] = pending.splice(i, 1);
      resolve?.();
    } else if (action === 2) {
      h.socket.refill();
      h.conn.drain();
    } else {
      await Promise.resolve();
    }
    // Paused with nothing in flight would be a stall, unless a wake-up is still queued as a
    // microtask: keep stepping (the awaits run it); a real stall runs into the step cap.
    const done =
      offset >= stream.length && pending.length === 0 && h.conn.inflightRequests === 0 && h.conn.queuedResponseBytes === 0 && !h.socket.paused;
    if (done) break;
  }
  await Promise.resolve();
  if (process.env.BUNKA_TEST_DEBUG !== undefined) {
    console.log({ offset, len: stream.length, pending: pending.length, inflight: h.conn.inflightRequests, queued: h.conn.queuedResponseBytes, paused: h.socket.paused, full: h.socket.full, state: h.conn.state, budget: [budget.bytes, budget.requests], probe: h.probe.snapshot() });
  }
  const expected = bodies.map(expectedResponse).filter((r) => r !== null).map((r) => concat(r));
  const got = parseFrames(h.socket.written);
  if (got.length !== expected.length) throw new Error(`seed ${seed}: ${got.length} responses, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (!Bun.deepEquals(got[i], expected[i])) throw new Error(`seed ${seed}: response ${i} differs`);
  }
  expect(h.probe.requestsReceived).toBe(bodies.length);
  expect(budget.bytes).toBe(0);
  expect(budget.requests).toBe(0);
  expect(h.conn.state).toBe("open");
  expect(h.socket.paused).toBe(false);
}

test("random chunking, completion order, partial writes and bounds never lose or reorder a response", async () => {
  const base = process.env.BUNKA_TEST_SEED === undefined ? (Date.now() >>> 0) : Number(process.env.BUNKA_TEST_SEED);
  const runs = process.env.BUNKA_TEST_SEED === undefined ? 60 : 1;
  for (let i = 0; i < runs; i++) {
    const seed = (base + i) >>> 0;
    try {
      await runOnce(seed);
    } catch (error) {
      console.error(`connection stress failed: replay with BUNKA_TEST_SEED=${seed} bun test test/server/connection-stress.test.ts`);
      throw error;
    }
  }
});
