/** scanBatches: hand-built valid batches, every error kind, patching, and seeded differential runs. */
import { describe, expect, test } from "bun:test";
import type { BatchScan, CoreOps, ScanOptions } from "../../src/wasm/api.ts";
import type { SeededPrng } from "../../src/platform/prng.ts";
import { buildBatch, concat, crcImplementations, randomBytes, seeded, skewedSize, tsTwin } from "./helpers.ts";

const strict: ScanOptions = { verifyCrc: true, requireDenseOffsets: true, maxBatchBytes: 1 << 20 };

function plain(s: BatchScan): Record<string, unknown> {
  return {
    count: s.count,
    validBytes: s.validBytes,
    error: s.error,
    positions: [...s.positions],
    sizes: [...s.sizes],
    baseOffsets: [...s.baseOffsets],
    lastOffsetDeltas: [...s.lastOffsetDeltas],
    maxTimestamps: [...s.maxTimestamps],
    recordCounts: [...s.recordCounts],
    attributes: [...s.attributes],
  };
}

function threeBatches(): Uint8Array[] {
  return [
    buildBatch({ baseOffset: 0, lastOffsetDelta: 2, body: Uint8Array.from({ length: 40 }, (_, i) => i), maxTimestamp: 1_700_000_000_123 }),
    buildBatch({ baseOffset: 0, lastOffsetDelta: 0, attributes: 0x0013, body: new Uint8Array(1000).fill(7) }),
    buildBatch({ baseOffset: 0, lastOffsetDelta: 9, maxTimestamp: -1, body: new Uint8Array(3) }),
  ];
}

describe.each(crcImplementations)("scanBatches (%s)", (_name, c: CoreOps) => {
  test("empty input is valid and empty", () => {
    const s = c.scanBatches(new Uint8Array(0), strict);
    expect(plain(s)).toEqual(plain(tsTwin.scanBatches(new Uint8Array(0), strict)));
    expect(s.count).toBe(0);
    expect(s.error).toBeNull();
  });

  test("valid batches: every field reported", () => {
    const parts = threeBatches();
    const s = c.scanBatches(concat(parts), strict);
    expect(s.error).toBeNull();
    expect(s.count).toBe(3);
    expect(s.validBytes).toBe(61 * 3 + 40 + 1000 + 3);
    expect([...s.positions]).toEqual([0, 101, 1162]);
    expect([...s.sizes]).toEqual([101, 1061, 64]);
    expect([...s.baseOffsets]).toEqual([0, 0, 0]);
    expect([...s.lastOffsetDeltas]).toEqual([2, 0, 9]);
    expect([...s.recordCounts]).toEqual([3, 1, 10]);
    expect([...s.maxTimestamps]).toEqual([1_700_000_000_123, 1_700_000_000_000, -1]);
    expect([...s.attributes]).toEqual([0, 0x13, 0]);
  });

  test("assign patches baseOffset and leader epoch, and the CRC still holds", () => {
    const bytes = concat(threeBatches());
    const s = c.scanBatches(bytes, { ...strict, assign: { firstOffset: 2 ** 40, leaderEpoch: 7 } });
    expect(s.error).toBeNull();
    expect([...s.baseOffsets]).toEqual([2 ** 40, 2 ** 40 + 3, 2 ** 40 + 4]);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    s.positions.forEach((p, i) => {
      expect(Number(view.getBigInt64(p))).toBe(s.baseOffsets[i]!);
      expect(view.getInt32(p + 12)).toBe(7);
    });
    const again = c.scanBatches(bytes, strict);
    expect(again.error).toBeNull();
    expect([...again.baseOffsets]).toEqual([...s.baseOffsets]);
  });

  test("patches only the given subarray, at an unaligned offset", () => {
    const inner = concat(threeBatches());
    const backing = new Uint8Array(inner.length + 10).fill(0xaa);
    backing.set(inner, 3);
    const view = backing.subarray(3, 3 + inner.length);
    const s = c.scanBatches(view, { ...strict, assign: { firstOffset: 5, leaderEpoch: 1 } });
    expect(s.error).toBeNull();
    expect([...backing.subarray(0, 3)]).toEqual([0xaa, 0xaa, 0xaa]);
    expect([...backing.subarray(3 + inner.length)]).toEqual(new Array<number>(7).fill(0xaa));
    expect(new DataView(view.buffer, view.byteOffset).getBigInt64(0)).toBe(5n);
  });

  const cases: [string, (parts: Uint8Array[]) => Uint8Array, ScanOptions, BatchScan["error"], number][] = [
    ["truncated header", (p) => concat([...p, new Uint8Array(60)]), strict, "truncated", 3],
    ["truncated body", (p) => concat(p).subarray(0, 101 + 1061 + 62), strict, "truncated", 2],
    ["badLength below 49", (p) => concat([p[0]!, buildBatch({ batchLength: 48 }), p[2]!]), strict, "badLength", 1],
    ["badLength above maxBatchBytes", (p) => concat(p), { ...strict, maxBatchBytes: 1000 }, "badLength", 1],
    ["badLength negative", (p) => concat([buildBatch({ batchLength: -1 }), ...p]), strict, "badLength", 0],
    ["truncated: batchLength near 2^31", (p) => concat([p[0]!, buildBatch({ batchLength: 0x7fff_fff5 })]), { ...strict, maxBatchBytes: 2 ** 40 }, "truncated", 1],
    ["badLength: batchLength near 2^31", (p) => concat([p[0]!, buildBatch({ batchLength: 0x7fff_fff5 })]), strict, "badLength", 1],
    ["badMagic", (p) => concat([p[0]!, p[1]!, buildBatch({ magic: 1 })]), strict, "badMagic", 2],
    ["badCrc", (p) => concat([p[0]!, buildBatch({ crc: 1234 }), p[2]!]), strict, "badCrc", 1],
    ["badRecordCount dense", (p) => concat([p[0]!, buildBatch({ lastOffsetDelta: 4, recordCount: 3 })]), strict, "badRecordCount", 1],
    [
      "badRecordCount negative",
      (p) => concat([p[0]!, buildBatch({ lastOffsetDelta: 4, recordCount: -1 })]),
      { ...strict, requireDenseOffsets: false },
      "badRecordCount",
      1,
    ],
    ["badRecordCount negative delta", (p) => concat([buildBatch({ lastOffsetDelta: -1, recordCount: 0 })]), { ...strict, requireDenseOffsets: false }, "badRecordCount", 0],
  ];
  for (const [name, make, options, error, count] of cases) {
    test(`error ${name}: stops there, nothing patched`, () => {
      const bytes = make(threeBatches());
      const before = bytes.slice();
      const s = c.scanBatches(bytes, { ...options, assign: { firstOffset: 100, leaderEpoch: 3 } });
      expect(s.error).toBe(error);
      expect(s.count).toBe(count);
      expect(s.validBytes).toBe(count === 0 ? 0 : s.positions[count - 1]! + s.sizes[count - 1]!);
      expect(bytes).toEqual(before);
      expect(plain(s)).toEqual(plain(tsTwin.scanBatches(bytes.slice(), options)));
    });
  }

  test("checks can be relaxed: no CRC check, sparse offsets allowed", () => {
    const bytes = concat([buildBatch({ crc: 1 }), buildBatch({ lastOffsetDelta: 5, recordCount: 2 })]);
    const s = c.scanBatches(bytes, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes: 1000 });
    expect(s.error).toBeNull();
    expect(s.count).toBe(2);
  });

  test("bad options are RangeErrors", () => {
    const bytes = concat(threeBatches());
    expect(() => c.scanBatches(bytes, { ...strict, maxBatchBytes: -1 })).toThrow(RangeError);
    expect(() => c.scanBatches(bytes, { ...strict, maxBatchBytes: Number.NaN })).toThrow(RangeError);
    expect(() => c.scanBatches(bytes, { ...strict, assign: { firstOffset: -1, leaderEpoch: 0 } })).toThrow(RangeError);
    expect(() => c.scanBatches(bytes, { ...strict, assign: { firstOffset: 2 ** 53, leaderEpoch: 0 } })).toThrow(RangeError);
    expect(() => c.scanBatches(bytes, { ...strict, assign: { firstOffset: 0, leaderEpoch: 2 ** 31 } })).toThrow(RangeError);
  });
});

function randomBatch(rng: SeededPrng): Uint8Array {
  const delta = rng.int(50);
  return buildBatch({
    baseOffset: rng.int(2) === 0 ? 0 : rng.nextU32() * 1000,
    partitionLeaderEpoch: rng.nextU32() | 0,
    attributes: rng.int(0x40),
    lastOffsetDelta: delta,
    maxTimestamp: rng.nextU32() * 1000 - 2 ** 40,
    body: randomBytes(rng, skewedSize(rng, rng.int(10) === 0 ? 300_000 : 3000)),
  });
}

/** Damages one random byte of the header fields the scan checks, or of the body. */
function corrupt(rng: SeededPrng, bytes: Uint8Array): void {
  if (bytes.length === 0) return;
  const targets = [8, 9, 10, 11, 16, 17, 20, 23, 26, 57, 60];
  const at = rng.int(3) === 0 ? rng.int(bytes.length) : targets[rng.int(targets.length)]!;
  if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 << rng.int(8));
}

test("scanBatches differential: random runs, random damage, random options", () => {
  seeded("scanBatches differential", (rng) => {
    for (let round = 0; round < 150; round++) {
      const parts: Uint8Array[] = [];
      let total = 0;
      const want = skewedSize(rng, 5 * 1024 * 1024);
      while (total < want && parts.length < 2000) {
        const b = randomBatch(rng);
        parts.push(b);
        total += b.length;
      }
      const damaged = rng.int(3) === 0 && parts.length > 0 ? rng.int(parts.length) : -1;
      if (damaged >= 0) corrupt(rng, parts[damaged]!);
      let bytes = concat(parts);
      if (rng.int(4) === 0) bytes = bytes.subarray(0, rng.int(bytes.length + 1));
      const options: ScanOptions = {
        verifyCrc: rng.int(4) !== 0,
        requireDenseOffsets: rng.int(4) !== 0,
        maxBatchBytes: rng.int(4) === 0 ? rng.int(400_000) : 1 << 30,
        ...(rng.int(2) === 0 ? { assign: { firstOffset: rng.int(2 ** 30) * 2 ** 20, leaderEpoch: rng.nextU32() | 0 } } : {}),
      };
      const pad = rng.int(8);
      const a = new Uint8Array(bytes.length + pad);
      a.set(bytes, pad);
      const sa = tsTwin.scanBatches(a.subarray(pad), options);
      for (const [, impl] of crcImplementations.slice(1)) {
        const b = new Uint8Array(bytes.length + pad);
        b.set(bytes, pad);
        const sb = impl.scanBatches(b.subarray(pad), options);
        expect(plain(sb)).toEqual(plain(sa));
        expect(b).toEqual(a);
      }
      if (sa.error === null) expect(sa.validBytes).toBe(bytes.length);
      else expect(sa.validBytes).toBeLessThan(bytes.length);
    }
  });
});
