/** BufferPool: size classes, reuse, the idle cap, ownership checks, buffers never given back. */
import { expect, test } from "bun:test";
import { BufferPool } from "../../src/util/buffer-pool.ts";

const KiB = 1024;
const pool = (idleBytesMax = 64 * KiB): BufferPool => new BufferPool({ minBytes: 4 * KiB, maxBytes: 64 * KiB, idleBytesMax });

test("fits its size range; take gives exact-size views over power-of-two buffers", () => {
  const p = pool();
  expect([p.fits(4 * KiB - 1), p.fits(4 * KiB), p.fits(64 * KiB), p.fits(64 * KiB + 1)]).toEqual([false, true, true, false]);
  const a = p.take(5000);
  expect(a.length).toBe(5000);
  expect(a.buffer.byteLength).toBe(8 * KiB);
  expect(p.take(8 * KiB).buffer.byteLength).toBe(8 * KiB);
  expect(p.take(20 * KiB).buffer.byteLength).toBe(32 * KiB);
  expect(() => p.take(100)).toThrow(RangeError);
  expect(() => p.take(65 * KiB)).toThrow(RangeError);
  expect(() => new BufferPool({ minBytes: 0, maxBytes: 1, idleBytesMax: 0 })).toThrow(RangeError);
  expect(() => new BufferPool({ minBytes: 8, maxBytes: 4, idleBytesMax: 0 })).toThrow(RangeError);
});

test("a buffer given back through any of its views is reused; owns tracks lending", () => {
  const p = pool();
  const a = p.take(6000);
  const view = a.subarray(100, 200);
  expect(p.owns(view)).toBe(true);
  expect(p.lentCount).toBe(1);
  p.give(view);
  expect(p.owns(a)).toBe(false);
  expect(p.lentCount).toBe(0);
  expect(p.idleBytes).toBe(8 * KiB);
  const b = p.take(7000);
  expect(b.buffer).toBe(a.buffer);
  expect(p.idleBytes).toBe(0);
});

test("a second give, a foreign array and a full idle cap are ignored", () => {
  const p = pool(16 * KiB);
  const a = p.take(8 * KiB);
  p.give(a);
  p.give(a);
  expect(p.idleBytes).toBe(8 * KiB);
  expect(p.lentCount).toBe(0);
  const foreign = new Uint8Array(8 * KiB);
  expect(p.owns(foreign)).toBe(false);
  p.give(foreign);
  expect(p.idleBytes).toBe(8 * KiB);
  const lent = [p.take(8 * KiB), p.take(8 * KiB), p.take(8 * KiB)];
  for (const x of lent) p.give(x);
  expect(p.idleBytes).toBe(16 * KiB); // the third went past the cap and was left to the GC
  expect(p.lentCount).toBe(0);
});

test("a buffer never given back is not reused (its user may still hold it)", () => {
  const p = pool();
  const kept = p.take(4 * KiB);
  kept.fill(7);
  const other = p.take(4 * KiB);
  expect(other.buffer).not.toBe(kept.buffer);
  p.give(other);
  expect(p.take(4 * KiB).buffer).toBe(other.buffer);
  expect(kept.every((v) => v === 7)).toBe(true);
  expect(p.lentCount).toBe(2);
});
