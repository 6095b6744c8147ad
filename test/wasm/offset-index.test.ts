/** Offset index search: edge cases on both implementations, seeded differential runs against a linear scan. */
import { describe, expect, test } from "bun:test";
import type { SeededPrng } from "../../src/platform/prng.ts";
import { implementations, seeded, skewedSize, tsTwin, wasm } from "./helpers.ts";

/** An index of ascending relative offsets placed at an unaligned offset. */
function buildIndex(rels: readonly number[], pad = 3): Uint8Array {
  const backing = new Uint8Array(pad + rels.length * 8 + 5);
  const view = new DataView(backing.buffer, pad);
  rels.forEach((r, i) => {
    view.setUint32(i * 8, r);
    view.setUint32(i * 8 + 4, i * 4096);
  });
  return backing.subarray(pad, pad + rels.length * 8 + 5);
}

function linear(rels: readonly number[], target: number): number {
  let slot = -1;
  for (let i = 0; i < rels.length && rels[i]! <= target; i++) slot = i;
  return slot;
}

function randomRels(rng: SeededPrng, n: number): number[] {
  const rels: number[] = [];
  let r = rng.int(100);
  for (let i = 0; i < n; i++) {
    rels.push(r);
    r += 1 + rng.int(rng.int(2) === 0 ? 10 : 100_000);
    if (r > 0xffff_ffff) break;
  }
  return rels;
}

describe.each(implementations.map((c) => [c.kind, c] as const))("offset index (%s)", (_kind, c) => {
  test("0 and 1 entries, before first, equal, after last", () => {
    const empty = buildIndex([]);
    expect(c.indexLookup(empty, 0, 0)).toBe(-1);
    expect(c.indexLookup(empty, 0, 123)).toBe(-1);
    const one = buildIndex([10]);
    expect(c.indexLookup(one, 1, 9)).toBe(-1);
    expect(c.indexLookup(one, 1, 10)).toBe(0);
    expect(c.indexLookup(one, 1, 0xffff_ffff)).toBe(0);
    expect(c.indexLookup(one, 1, -5)).toBe(-1);
    expect(c.indexLookup(one, 1, 2 ** 40)).toBe(0);
    // Fewer entries than the buffer holds: only entryCount count.
    const three = buildIndex([0, 5, 9]);
    expect(c.indexLookup(three, 2, 100)).toBe(1);
    expect(c.indexLookup(three, 3, 5)).toBe(1);
    expect(c.indexLookup(three, 3, 8)).toBe(1);
    expect(c.indexLookup(three, 3, 9)).toBe(2);
    const out = new Int32Array(4);
    c.indexLookupMany(three, 3, Uint32Array.of(0, 4, 9, 0xffff_ffff), out);
    expect([...out]).toEqual([0, 0, 2, 2]);
    c.indexLookupMany(empty, 0, Uint32Array.of(0, 7), out);
    expect([...out.subarray(0, 2)]).toEqual([-1, -1]);
  });

  test("large index: warm tail and cold head both found, every entry hit exactly", () => {
    const rels = Array.from({ length: 3000 }, (_, i) => 100 + i * 7);
    const idx = buildIndex(rels);
    for (let i = 0; i < rels.length; i += 1) {
      expect(c.indexLookup(idx, rels.length, rels[i]!)).toBe(i);
      expect(c.indexLookup(idx, rels.length, rels[i]! + 6)).toBe(i);
    }
    expect(c.indexLookup(idx, rels.length, 99)).toBe(-1);
  });

  test("bad arguments are RangeErrors", () => {
    const idx = buildIndex([1, 2]);
    expect(() => c.indexLookup(idx, 3, 1)).toThrow(RangeError);
    expect(() => c.indexLookup(idx, -1, 1)).toThrow(RangeError);
    expect(() => c.indexLookup(idx, 1.5, 1)).toThrow(RangeError);
    expect(() => c.indexLookup(idx, 2, Number.NaN)).toThrow(RangeError);
    expect(() => c.indexLookupMany(idx, 3, Uint32Array.of(1), new Int32Array(1))).toThrow(RangeError);
    expect(() => c.indexLookupMany(idx, 2, Uint32Array.of(1, 2), new Int32Array(1))).toThrow(RangeError);
  });
});

test("offset index differential: random indexes and targets", () => {
  seeded("offset index differential", (rng) => {
    for (let round = 0; round < 60; round++) {
      const rels = randomRels(rng, skewedSize(rng, 20_000));
      const idx = buildIndex(rels, rng.int(8));
      const last = rels.length === 0 ? 1000 : rels[rels.length - 1]!;
      const targets = new Uint32Array(skewedSize(rng, 2000));
      for (let i = 0; i < targets.length; i++) {
        const pick = rng.int(4);
        targets[i] = pick === 0 && rels.length > 0 ? rels[rng.int(rels.length)]! : pick === 1 ? rng.nextU32() : rng.int(last + 10);
      }
      const expected = Int32Array.from(targets, (t) => linear(rels, t));
      const o1 = new Int32Array(targets.length);
      const o2 = new Int32Array(targets.length);
      tsTwin.indexLookupMany(idx, rels.length, targets, o1);
      wasm.indexLookupMany(idx, rels.length, targets, o2);
      expect(o1).toEqual(expected);
      expect(o2).toEqual(expected);
      for (let i = 0; i < Math.min(50, targets.length); i++) {
        expect(tsTwin.indexLookup(idx, rels.length, targets[i]!)).toBe(expected[i]!);
        expect(wasm.indexLookup(idx, rels.length, targets[i]!)).toBe(expected[i]!);
      }
    }
  });
});
