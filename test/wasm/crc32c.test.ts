/** CRC32C: known vectors on every implementation, then seeded differential runs against the twin. */
import { describe, expect, test } from "bun:test";
import { crcImplementations, native, nativeCrcExpected, seeded, skewedSize, tsTwin, unalignedBytes, wasm } from "./helpers.ts";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe.each(crcImplementations)("crc32c (%s)", (_name, c) => {
  test("known vectors", () => {
    expect(c.crc32c(ascii("123456789"))).toBe(0xe3069283);
    expect(c.crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(c.crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(c.crc32c(ascending)).toBe(0x46dd794e);
    const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
    expect(c.crc32c(descending)).toBe(0x113fdb5c);
    expect(c.crc32c(new Uint8Array(0))).toBe(0);
    expect(c.crc32c(ascii("a"))).toBe(0xc1d04330);
  });

  test("incremental: empty chunk keeps the state; chaining equals one pass", () => {
    expect(c.crc32c(new Uint8Array(0), 0x12345678)).toBe(0x12345678);
    const whole = ascii("The quick brown fox jumps over the lazy dog");
    const once = c.crc32c(whole);
    for (let cut = 0; cut <= whole.length; cut++) {
      expect(c.crc32c(whole.subarray(cut), c.crc32c(whole.subarray(0, cut)))).toBe(once);
    }
  });

  test("bad seed is a RangeError", () => {
    expect(() => c.crc32c(new Uint8Array(1), -1)).toThrow(RangeError);
    expect(() => c.crc32c(new Uint8Array(1), 2 ** 32)).toThrow(RangeError);
    expect(() => c.crc32c(new Uint8Array(1), 1.5)).toThrow(RangeError);
  });
});

test("crc32c differential: random sizes 0 B - 5 MiB, unaligned, chained", () => {
  seeded("crc32c differential", (rng) => {
    for (let round = 0; round < 40; round++) {
      const n = round < 4 ? [0, 1, 767, 5 * 1024 * 1024][round]! : skewedSize(rng, 5 * 1024 * 1024);
      const bytes = unalignedBytes(rng, n);
      const expected = tsTwin.crc32c(bytes);
      for (const [, impl] of crcImplementations) expect(impl.crc32c(bytes)).toBe(expected);
      // Chained in random pieces, rotating through the implementations.
      let crc = 0;
      let at = 0;
      let turn = 0;
      while (at < n) {
        const piece = Math.min(n - at, 1 + skewedSize(rng, 300_000));
        const impl = crcImplementations[turn++ % crcImplementations.length]![1];
        crc = impl.crc32c(bytes.subarray(at, at + piece), crc);
        at += piece;
      }
      expect(crc).toBe(expected);
    }
  });
});

describe("native crc32c", () => {
  test(`loads on x86-64 (this machine: ${process.arch})`, () => {
    expect(native !== null).toBe(nativeCrcExpected);
  });

  test.skipIf(native === null)("the three-stream path: every length around its 6 KiB step, any seed, any offset", () => {
    const f = native!;
    seeded("native crc32c streams", (rng) => {
      const backing = unalignedBytes(rng, 4 * 6144 + 64);
      for (const n of [6143, 6144, 6145, 6144 + 31, 6144 + 32, 12_287, 12_288, 12_289, 4 * 6144]) {
        for (let round = 0; round < 4; round++) {
          const at = rng.int(backing.length - n + 1);
          const bytes = backing.subarray(at, at + n);
          const seed = round === 0 ? 0xffff_ffff : rng.nextU32();
          expect(f.crc32c(bytes, seed)).toBe(tsTwin.crc32c(bytes, seed));
        }
      }
    });
  });

  test.skipIf(native === null)("a bad seed is a RangeError before any native call", () => {
    expect(() => native!.crc32c(new Uint8Array(100), -1)).toThrow(RangeError);
    expect(() => native!.crc32c(new Uint8Array(100), 2 ** 32)).toThrow(RangeError);
  });
});
