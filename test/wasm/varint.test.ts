/** Zigzag varints: known encodings on both implementations, then seeded differential runs. */
import { describe, expect, test } from "bun:test";
import type { SeededPrng } from "../../src/platform/prng.ts";
import { implementations, seeded, skewedSize, tsTwin, unalignedBytes, wasm } from "./helpers.ts";

const known32: readonly [number, number[]][] = [
  [0, [0x00]],
  [-1, [0x01]],
  [1, [0x02]],
  [-64, [0x7f]],
  [64, [0x80, 0x01]],
  [300, [0xd8, 0x04]],
  [-8193, [0x81, 0x80, 0x01]],
  [2147483647, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
  [-2147483648, [0xff, 0xff, 0xff, 0xff, 0x0f]],
];
const known64: readonly [number, number[]][] = [
  ...known32,
  [2 ** 31, [0x80, 0x80, 0x80, 0x80, 0x10]],
  [2 ** 40, [0x80, 0x80, 0x80, 0x80, 0x80, 0x40]],
  [-(2 ** 40), [0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]],
  [2 ** 53 - 1, [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f]],
  [-(2 ** 53 - 1), [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f]],
];

function random32(rng: SeededPrng): number {
  const v = rng.nextU32() | 0;
  return v >> rng.int(32);
}

function random64(rng: SeededPrng): number {
  const v = rng.nextU32() * 2 ** 21 + (rng.nextU32() >>> 11);
  const m = Math.floor(v / 2 ** rng.int(54));
  return rng.int(2) === 0 ? m : -m;
}

describe.each(implementations.map((c) => [c.kind, c] as const))("varints (%s)", (_kind, c) => {
  test("known 32-bit encodings", () => {
    for (const [value, bytes] of known32) {
      const out = new Uint8Array(5);
      expect(c.encodeVarints32(Int32Array.of(value), 1, out)).toBe(bytes.length);
      expect([...out.subarray(0, bytes.length)]).toEqual(bytes);
      const back = new Int32Array(1);
      expect(c.decodeVarints32(Uint8Array.from(bytes), 1, back)).toBe(bytes.length);
      expect(back[0]).toBe(value);
    }
  });

  test("known 64-bit encodings", () => {
    for (const [value, bytes] of known64) {
      const out = new Uint8Array(10);
      expect(c.encodeVarints64(Float64Array.of(value), 1, out)).toBe(bytes.length);
      expect([...out.subarray(0, bytes.length)]).toEqual(bytes);
      const back = new Float64Array(1);
      expect(c.decodeVarints64(Uint8Array.from(bytes), 1, back)).toBe(bytes.length);
      expect(back[0]).toBe(value);
    }
  });

  test("decode errors: truncated, over-long, out of the safe range", () => {
    const o32 = new Int32Array(2);
    expect(c.decodeVarints32(new Uint8Array(0), 1, o32)).toBe(-1);
    expect(c.decodeVarints32(Uint8Array.of(0x80), 1, o32)).toBe(-1);
    expect(c.decodeVarints32(Uint8Array.of(0x02), 2, o32)).toBe(-1);
    expect(c.decodeVarints32(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 1, o32)).toBe(-1);
    expect(c.decodeVarints32(new Uint8Array(0), 0, o32)).toBe(0);
    // A 5th byte's bits above bit 31 are dropped, as Kafka does.
    expect(c.decodeVarints32(Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0x7f), 1, o32)).toBe(5);
    expect(o32[0]).toBe(2147483647);
    const o64 = new Float64Array(1);
    expect(c.decodeVarints64(Uint8Array.of(0xff, 0xff), 1, o64)).toBe(-1);
    expect(c.decodeVarints64(Uint8Array.of(...new Array<number>(10).fill(0x80), 0x00), 1, o64)).toBe(-1);
    // zigzag 2^54 - 1 = -(2^53): outside the safe range.
    expect(c.decodeVarints64(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f), 1, o64)).toBe(-1);
    // zigzag 2^54 = 2^53: outside the safe range.
    expect(c.decodeVarints64(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20), 1, o64)).toBe(-1);
    // The same value padded to 10 bytes is still out of range.
    expect(c.decodeVarints64(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xa0, 0x80, 0x00), 1, o64)).toBe(-1);
    // Kafka's -1 as a full 10-byte varint of a large value: out of range.
    expect(c.decodeVarints64(Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 1, o64)).toBe(-1);
    // A padded but small value over 10 bytes is fine.
    expect(c.decodeVarints64(Uint8Array.of(0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 1, o64)).toBe(10);
    expect(o64[0]).toBe(1);
  });

  test("bad arguments are RangeErrors", () => {
    const v32 = Int32Array.of(1, 2, 3);
    expect(() => c.encodeVarints32(v32, 4, new Uint8Array(20))).toThrow(RangeError);
    expect(() => c.encodeVarints32(v32, -1, new Uint8Array(20))).toThrow(RangeError);
    expect(() => c.encodeVarints32(v32, 1.5, new Uint8Array(20))).toThrow(RangeError);
    expect(() => c.encodeVarints32(Int32Array.of(1 << 30), 1, new Uint8Array(4))).toThrow(RangeError);
    expect(c.encodeVarints32(Int32Array.of(1 << 30), 1, new Uint8Array(5))).toBe(5);
    expect(c.encodeVarints32(v32, 3, new Uint8Array(3))).toBe(3);
    expect(() => c.decodeVarints32(new Uint8Array(10), 3, new Int32Array(2))).toThrow(RangeError);
    expect(() => c.decodeVarints32(new Uint8Array(10), -1, new Int32Array(2))).toThrow(RangeError);
    const v64 = Float64Array.of(1, 2 ** 53, 3);
    expect(() => c.encodeVarints64(v64, 2, new Uint8Array(30))).toThrow(RangeError);
    expect(() => c.encodeVarints64(Float64Array.of(0.5), 1, new Uint8Array(30))).toThrow(RangeError);
    expect(() => c.encodeVarints64(Float64Array.of(-(2 ** 53)), 1, new Uint8Array(30))).toThrow(RangeError);
    expect(() => c.encodeVarints64(Float64Array.of(Number.POSITIVE_INFINITY), 1, new Uint8Array(30))).toThrow(RangeError);
    expect(() => c.encodeVarints64(Float64Array.of(Number.NaN), 1, new Uint8Array(30))).toThrow(RangeError);
    expect(() => c.encodeVarints64(Float64Array.of(2 ** 40), 1, new Uint8Array(5))).toThrow(RangeError);
    expect(c.encodeVarints64(Float64Array.of(2 ** 40), 1, new Uint8Array(6))).toBe(6);
    expect(() => c.encodeVarints64(v64, 4, new Uint8Array(40))).toThrow(RangeError);
    expect(() => c.decodeVarints64(new Uint8Array(10), 2, new Float64Array(1))).toThrow(RangeError);
  });
});

test("varint differential: random arrays, unaligned outputs, round trips", () => {
  seeded("varint differential", (rng) => {
    for (let round = 0; round < 30; round++) {
      const count = round === 0 ? 0 : skewedSize(rng, 200_000);
      const v32 = new Int32Array(count + rng.int(3));
      for (let i = 0; i < v32.length; i++) v32[i] = random32(rng);
      const a = unalignedBytes(rng, count * 5);
      const b = unalignedBytes(rng, count * 5);
      const n = tsTwin.encodeVarints32(v32, count, a);
      expect(wasm.encodeVarints32(v32, count, b)).toBe(n);
      expect(b.subarray(0, n)).toEqual(a.subarray(0, n));
      const d1 = new Int32Array(count);
      const d2 = new Int32Array(count);
      expect(tsTwin.decodeVarints32(a, count, d1)).toBe(n);
      expect(wasm.decodeVarints32(a.subarray(0, n), count, d2)).toBe(n);
      expect(d1).toEqual(v32.subarray(0, count));
      expect(d2).toEqual(d1);

      const v64 = new Float64Array(count + rng.int(3));
      for (let i = 0; i < v64.length; i++) v64[i] = random64(rng);
      const c = unalignedBytes(rng, count * 10);
      const d = unalignedBytes(rng, count * 10);
      const m = tsTwin.encodeVarints64(v64, count, c);
      expect(wasm.encodeVarints64(v64, count, d)).toBe(m);
      expect(d.subarray(0, m)).toEqual(c.subarray(0, m));
      const e1 = new Float64Array(count);
      const e2 = new Float64Array(count);
      expect(tsTwin.decodeVarints64(c.subarray(0, m), count, e1)).toBe(m);
      expect(wasm.decodeVarints64(c, count, e2)).toBe(m);
      expect(e1).toEqual(v64.subarray(0, count));
      expect(e2).toEqual(e1);
    }
  });
});

test("varint differential: random garbage decodes identically", () => {
  seeded("varint garbage differential", (rng) => {
    for (let round = 0; round < 300; round++) {
      const bytes = unalignedBytes(rng, skewedSize(rng, 4096));
      // Bias toward continuation bits so over-long and truncated varints are common.
      if (rng.int(2) === 0) for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! | 0x80 * (rng.int(4) === 0 ? 0 : 1);
      const count = skewedSize(rng, bytes.length);
      const o1 = new Int32Array(count);
      const o2 = new Int32Array(count);
      const n32 = tsTwin.decodeVarints32(bytes, count, o1);
      expect(wasm.decodeVarints32(bytes, count, o2)).toBe(n32);
      if (n32 >= 0) expect(o2).toEqual(o1);
      const p1 = new Float64Array(count);
      const p2 = new Float64Array(count);
      const n64 = tsTwin.decodeVarints64(bytes, count, p1);
      expect(wasm.decodeVarints64(bytes, count, p2)).toBe(n64);
      if (n64 >= 0) expect(p2).toEqual(p1);
    }
  });
});
