/**
 * Response chunks that are views of pooled buffers (the log's read buffers) go back to the
 * pool only once their whole response is on the socket, or when the connection drops them,
 * so a buffer is never reused while bytes of it are still to be written.
 */
import { expect, test } from "bun:test";
import { BufferPool } from "../../src/util/buffer-pool.ts";
import { concat, frame, harness, parseFrames, settle } from "./fakes.ts";

const KiB = 1024;
const pool = (): BufferPool => new BufferPool({ minBytes: 4 * KiB, maxBytes: 256 * KiB, idleBytesMax: 1 << 20 });

/** A pooled buffer of `size` bytes filled from `seed`, and a copy of its contents. */
function pooledChunk(p: BufferPool, size: number, seed: number): { chunk: Uint8Array; copy: Uint8Array } {
  const chunk = p.take(size);
  for (let i = 0; i < size; i++) chunk[i] = (i * 13 + seed) & 0xff;
  return { chunk, copy: chunk.slice() };
}

test("pooled chunks go back after the last byte of their response is written, never before", () => {
  const p = pool();
  const responses: Uint8Array[][] = [];
  const lentChunks: Uint8Array[] = [];
  // Each response: a small header, a large pooled chunk (sent by reference) and a small view
  // of a second pooled buffer (copied into the coalescing buffer).
  const h = harness(
    (f) => {
      const big = pooledChunk(p, 40 * KiB, f[0] ?? 0);
      const small = pooledChunk(p, 8 * KiB, (f[0] ?? 0) + 1);
      lentChunks.push(big.chunk, small.chunk);
      responses.push([f.slice(0, 2), big.copy, small.copy.subarray(0, 100)]);
      return [f.slice(0, 2), big.chunk, small.chunk.subarray(0, 100)];
    },
    { responseBuffers: p, acceptPerWrite: 10 * KiB },
  );
  h.conn.data(concat([frame(Uint8Array.of(1, 1, 1)), frame(Uint8Array.of(2, 2, 2))]));
  const firstResponseBytes = 4 + 2 + 40 * KiB + 100;
  let drains = 0;
  while (h.conn.queuedResponseBytes > 0) {
    const firstDone = h.socket.written.length >= firstResponseBytes;
    expect(p.lentCount).toBe(firstDone ? 2 : 4);
    // A buffer back in the pool is fair game for the next read: scribble over it. Had one
    // come back before all its bytes were written, the output below would show it.
    for (const c of lentChunks) if (!p.owns(c)) c.fill(0xee);
    h.socket.refill();
    h.conn.drain();
    if (++drains > 10_000) throw new Error("no progress");
  }
  expect(p.lentCount).toBe(0);
  expect(parseFrames(h.socket.written)).toEqual(responses.map((r) => concat(r)));
});

test("a closed connection gives back the pooled chunks it will never write", async () => {
  const p = pool();
  const h = harness((f) => [f.slice(0, 1), pooledChunk(p, 64 * KiB, 3).chunk], { responseBuffers: p, acceptPerWrite: 1000 });
  h.conn.data(frame(Uint8Array.of(9, 9)));
  expect(p.lentCount).toBe(1);
  expect(h.socket.written.length).toBe(1000);
  h.conn.close(); // the peer went away
  await settle();
  expect(h.conn.state).toBe("closed");
  expect(p.lentCount).toBe(0);
  expect(p.idleBytes).toBe(64 * KiB);
});

test("without a pool, and for arrays the pool does not own, nothing is given anywhere", () => {
  const p = pool();
  const foreign = new Uint8Array(40 * KiB).fill(5);
  const h = harness(() => [foreign], { responseBuffers: p });
  h.conn.data(frame(Uint8Array.of(0)));
  expect(parseFrames(h.socket.written)).toEqual([foreign]);
  expect(p.idleBytes).toBe(0);
  const kept = p.take(8 * KiB);
  const plain = harness(() => [kept]);
  plain.conn.data(frame(Uint8Array.of(0)));
  expect(p.owns(kept)).toBe(true);
});
