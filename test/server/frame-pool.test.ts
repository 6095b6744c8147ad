import { expect, test } from "bun:test";
import type { DispatchResult } from "../../src/server/connection.ts";
import { FramePool } from "../../src/server/frame-pool.ts";
import { frame, harness, parseFrames, settle } from "./fakes.ts";

const KiB = 1024;
const pool = (idleBytesMax = 8 * 64 * KiB): FramePool => new FramePool({ apiKeys: [0], minBytes: 4 * KiB, maxBytes: 64 * KiB, idleBytesMax });

/** A request body of `size` bytes whose header starts with `apiKey`, the rest a pattern from `seed`. */
function body(apiKey: number, size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  b[0] = apiKey >> 8;
  b[1] = apiKey & 0xff;
  return b;
}

// Size classes, reuse, the idle cap and ownership are BufferPool's: test/util/buffer-pool.test.ts.
test("accepts frames of its API keys within its size range only", () => {
  const p = pool();
  expect(p.accepts(0, 4 * KiB)).toBe(true);
  expect(p.accepts(0, 64 * KiB)).toBe(true);
  expect(p.accepts(0, 4 * KiB - 1)).toBe(false); // below minBytes
  expect(p.accepts(0, 64 * KiB + 1)).toBe(false); // above maxBytes
  expect(p.accepts(1, 8 * KiB)).toBe(false); // not a pooled API key
});

test("a pooled frame spread over chunks is assembled in a pool buffer and given back only when its dispatch settles", async () => {
  const p = pool();
  const bodies = [body(0, 10 * KiB, 1), body(0, 10 * KiB, 2)];
  let release: (() => void) | null = null;
  const seen: { pooled: boolean; copy: Uint8Array }[] = [];
  const h = harness(
    (f): Promise<DispatchResult> | DispatchResult => {
      seen.push({ pooled: f.buffer.byteLength === 16 * KiB && f.byteOffset === 0, copy: f.slice() });
      if (seen.length === 1) return new Promise((resolve) => (release = () => resolve([f.slice(0, 4)])));
      return [f.slice(0, 4)];
    },
    { framePool: p },
  );
  for (const b of bodies) {
    const wire = frame(b);
    h.conn.data(wire.subarray(0, 3000));
    h.conn.data(wire.subarray(3000));
  }
  expect(seen.map((s) => s.pooled)).toEqual([true, true]);
  expect(seen.map((s) => s.copy)).toEqual(bodies);
  // The second (synchronous) request gave its buffer back; the first still holds one.
  expect(p.lentCount).toBe(1);
  release!();
  await settle();
  expect(p.lentCount).toBe(0);
  expect(parseFrames(h.socket.written).length).toBe(2);
});

test("frames of other API keys, small frames and frames inside one chunk are not pooled", () => {
  const p = pool();
  const buffers: ArrayBufferLike[] = [];
  const h = harness(
    (f) => {
      buffers.push(f.buffer);
      return [f.slice(0, 2)];
    },
    { framePool: p },
  );
  const other = frame(body(3, 10 * KiB, 3));
  h.conn.data(other.subarray(0, 100));
  h.conn.data(other.subarray(100));
  const small = frame(body(0, 1000, 4));
  h.conn.data(small.subarray(0, 100));
  h.conn.data(small.subarray(100));
  const whole = frame(body(0, 10 * KiB, 5));
  h.conn.data(whole);
  expect(buffers.length).toBe(3);
  expect(buffers[0]!.byteLength).toBe(10 * KiB); // its own exact-size buffer
  expect(buffers[1]!.byteLength).toBe(1000);
  expect(buffers[2]).toBe(whole.buffer); // a view of the chunk
  expect(p.lentCount).toBe(0);
  expect(p.idleBytes).toBe(0);
});

test("a throwing handler and a connection closed mid-frame give their pool buffers back", async () => {
  const p = pool();
  const h = harness(
    () => {
      throw new Error("boom");
    },
    { framePool: p },
  );
  const wire = frame(body(0, 10 * KiB, 6));
  h.conn.data(wire.subarray(0, 5000));
  expect(p.lentCount).toBe(1); // assembling
  h.conn.data(wire.subarray(5000));
  expect(p.lentCount).toBe(0);
  expect(h.conn.state).toBe("closed");

  const rejecting = harness(() => Promise.reject(new Error("later")), { framePool: p });
  rejecting.conn.data(wire.subarray(0, 5000));
  rejecting.conn.data(wire.subarray(5000));
  await settle();
  expect(p.lentCount).toBe(0);

  const partial = harness(() => [new Uint8Array(1)], { framePool: p });
  partial.conn.data(wire.subarray(0, 5000));
  expect(p.lentCount).toBe(1);
  partial.conn.close();
  expect(p.lentCount).toBe(0);
});
