import { describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import * as lz4 from "lz4-napi";
import * as snappy from "snappy";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { CodecFailure } from "../../../src/platform/compression.ts";
import {
  type CompressionCodecName,
  codecName,
  compressRecords,
  decompressRecords,
} from "../../../src/protocol/records/compression.ts";
import { lz4FrameCompress, lz4FrameDecompress } from "../../../src/protocol/records/lz4-frame.ts";
import { RecordsError } from "../../../src/protocol/records/records-error.ts";
import { hasXerialMagic, snappyCompress, snappyDecompress } from "../../../src/protocol/records/snappy-framing.ts";
import { logLines } from "./fixtures.ts";

const codecs: CompressionCodecName[] = ["gzip", "snappy", "lz4", "zstd"];
const c = bunCompression;

function expectRecordsError(fn: () => unknown, kind: RecordsError["kind"]): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof RecordsError)) throw new Error(`expected RecordsError ${kind}, got ${String(e)}`);
    expect(e.kind).toBe(kind);
    return;
  }
  throw new Error(`expected RecordsError ${kind}, nothing thrown`);
}

describe("compression codecs", () => {
  const inputs: Array<[string, Uint8Array]> = [
    ["empty", new Uint8Array(0)],
    ["one byte", new Uint8Array([42])],
    ["log lines 300 KiB", logLines(300 * 1024, 7)],
    ["incompressible 200 KiB", (() => {
      const b = new Uint8Array(200 * 1024);
      let s = 12345;
      for (let i = 0; i < b.length; i++) b[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
      return b;
    })()],
  ];

  for (const codec of codecs) {
    for (const [name, data] of inputs) {
      test(`${codec} round trip: ${name}`, () => {
        const packed = compressRecords(codec, data, c);
        const back = decompressRecords(codec, packed, data.length, c);
        expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
      });
    }

    test(`${codec}: output one byte over the limit is "tooLarge"`, () => {
      const data = logLines(100 * 1024, 3);
      const packed = compressRecords(codec, data, c);
      expectRecordsError(() => decompressRecords(codec, packed, data.length - 1, c), "tooLarge");
      expect(decompressRecords(codec, packed, data.length, c).length).toBe(data.length);
    });

    test(`${codec}: decompression bomb is refused without inflating it`, () => {
      const bomb = compressRecords(codec, new Uint8Array(64 * 1024 * 1024), c);
      expect(bomb.length).toBeLessThan(4 * 1024 * 1024);
      expectRecordsError(() => decompressRecords(codec, bomb, 1024 * 1024, c), "tooLarge");
    });

    test(`${codec}: garbage and truncation are "badCompression"`, () => {
      const packed = compressRecords(codec, logLines(50 * 1024, 5), c);
      expectRecordsError(() => decompressRecords(codec, packed.subarray(0, packed.length >> 1), 1 << 20, c), "badCompression");
      const garbage = new Uint8Array(100).fill(0xa5);
      expectRecordsError(() => decompressRecords(codec, garbage, 1 << 20, c), "badCompression");
    });
  }

  test("none: limit applies too", () => {
    expectRecordsError(() => decompressRecords("none", new Uint8Array(10), 9, c), "tooLarge");
    expect(decompressRecords("none", new Uint8Array(10), 10, c).length).toBe(10);
  });

  test("codec ids", () => {
    expect([0, 1, 2, 3, 4].map(codecName)).toEqual(["none", "gzip", "snappy", "lz4", "zstd"]);
    for (const id of [5, 6, 7]) expectRecordsError(() => codecName(id), "unknownCodec");
  });

  test("gzip and zstd output are standard streams", () => {
    const data = logLines(10_000, 1);
    expect(Buffer.from(zlib.gunzipSync(compressRecords("gzip", data, c))).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(zlib.zstdDecompressSync(compressRecords("zstd", data, c))).equals(Buffer.from(data))).toBe(true);
    // Concatenated gzip members decode as one stream, as Java's GZIPInputStream reads them.
    const two = Buffer.concat([zlib.gzipSync(data.subarray(0, 5000)), zlib.gzipSync(data.subarray(5000))]);
    expect(Buffer.from(decompressRecords("gzip", two, data.length, c)).equals(Buffer.from(data))).toBe(true);
  });
});

describe("snappy framing", () => {
  const data = logLines(100 * 1024, 11);

  test("encodes xerial framing with 32 KiB chunks like snappy-java", () => {
    const framed = snappyCompress(data, c);
    expect(hasXerialMagic(framed)).toBe(true);
    expect([...framed.subarray(0, 16)]).toEqual([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    // Walk the chunks independently: each is a raw snappy block of ≤ 32 KiB.
    let p = 16;
    let total = 0;
    let chunks = 0;
    const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
    while (p < framed.length) {
      const size = view.getInt32(p);
      const block = framed.subarray(p + 4, p + 4 + size);
      const out = snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
      expect(out.length).toBeLessThanOrEqual(32 * 1024);
      total += out.length;
      chunks++;
      p += 4 + size;
    }
    expect(total).toBe(data.length);
    expect(chunks).toBe(Math.ceil(data.length / (32 * 1024)));
  });

  test("decodes raw snappy (no framing) from the library directly", () => {
    const raw = snappy.compressSync(data);
    expect(hasXerialMagic(raw)).toBe(false);
    expect(Buffer.from(snappyDecompress(raw, data.length, c)).equals(Buffer.from(data))).toBe(true);
  });

  test("decodes a hand-built xerial stream", () => {
    const a = snappy.compressSync(data.subarray(0, 1000));
    const b = snappy.compressSync(data.subarray(1000, 1500));
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    const len = (n: number) => {
      const x = Buffer.alloc(4);
      x.writeInt32BE(n);
      return x;
    };
    const stream = Buffer.concat([header, len(a.length), a, len(b.length), b]);
    expect(Buffer.from(snappyDecompress(stream, 1500, c)).equals(Buffer.from(data.subarray(0, 1500)))).toBe(true);
    expect(() => snappyDecompress(stream, 1499, c)).toThrow(CodecFailure);
    // A chunk length that lies about the data left.
    const lying = Buffer.concat([header, len(a.length + 100), a]);
    expect(() => snappyDecompress(lying, 1 << 20, c)).toThrow(CodecFailure);
  });

  test("preambles are checked before the library allocates for them", () => {
    const reason = (block: Uint8Array, max: number): string => {
      try {
        snappyDecompress(block, max, c);
        return "no error";
      } catch (e) {
        expect(e).toBeInstanceOf(CodecFailure);
        return (e as CodecFailure).reason;
      }
    };
    // 4 GiB claimed by a 6-byte block: more than snappy can expand to, a lie.
    expect(reason(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 1 << 30)).toBe("corrupt");
    // A plausible preamble over the budget.
    const real = snappy.compressSync(Buffer.alloc(100_000));
    expect(reason(real, 99_999)).toBe("tooLarge");
    expect(reason(real, 100_000)).toBe("no error");
  });
});

describe("lz4 frame", () => {
  const data = logLines(300 * 1024, 13);

  test("writes Kafka's Java frame header: FLG 0x60, BD 0x40, 64 KiB blocks", () => {
    const frame = lz4FrameCompress(data, c);
    expect([...frame.subarray(0, 6)]).toEqual([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
    expect([...frame.subarray(frame.length - 4)]).toEqual([0, 0, 0, 0]);
  });

  test("the library's frame decoder reads our frames", () => {
    for (const input of [data, new Uint8Array(0), data.subarray(0, 65536), data.subarray(0, 65537)]) {
      const frame = lz4FrameCompress(input, c);
      expect(Buffer.from(lz4.decompressFrameSync(Buffer.from(frame))).equals(Buffer.from(input))).toBe(true);
    }
  });

  test("our decoder reads the library's frames, with and without checksums", () => {
    for (const options of [{}, { contentChecksum: true }, { blockChecksums: true }, { contentChecksum: true, blockChecksums: true }]) {
      const frame = lz4.compressFrameSync(Buffer.from(data), options);
      expect(Buffer.from(lz4FrameDecompress(frame, data.length, c)).equals(Buffer.from(data))).toBe(true);
    }
  });

  test("uncompressed blocks, concatenated and skippable frames", () => {
    const noise = new Uint8Array(70_000);
    let s = 99;
    for (let i = 0; i < noise.length; i++) noise[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
    const frame = lz4FrameCompress(noise, c);
    // Incompressible blocks are stored raw (bit 31 of the block size).
    expect(frame[10]! & 0x80).toBe(0x80);
    const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    const joined = Buffer.concat([frame, skippable, lz4FrameCompress(data.subarray(0, 100), c)]);
    const out = lz4FrameDecompress(joined, 1 << 20, c);
    expect(out.length).toBe(noise.length + 100);
    expect(Buffer.from(out.subarray(noise.length)).equals(Buffer.from(data.subarray(0, 100)))).toBe(true);
  });

  test("linked blocks decode with the previous output as dictionary", () => {
    // Frame with FLG 0x40 (dependent blocks): block 2 references block 1's bytes.
    const part1 = data.subarray(0, 65536);
    const part2 = data.subarray(0, 1000); // repeats the start of part1: matches point back into it
    const b1 = lz4.compressSync(Buffer.from(part1)).subarray(4);
    const b2 = lz4.compressSync(Buffer.from(part2), Buffer.from(part1)).subarray(4);
    const header = new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0]);
    header[6] = (Bun.hash.xxHash32(header.subarray(4, 6), 0) >>> 8) & 0xff;
    const size = (n: number) => {
      const x = Buffer.alloc(4);
      x.writeUInt32LE(n);
      return x;
    };
    const frame = Buffer.concat([header, size(b1.length), b1, size(b2.length), b2, size(0)]);
    const out = lz4FrameDecompress(frame, 1 << 20, c);
    expect(Buffer.from(out).equals(Buffer.concat([part1, part2]))).toBe(true);
  });

  test("bad header checksum, bad magic, oversized block, truncated frame", () => {
    const frame = lz4FrameCompress(data, c);
    const badHc = Buffer.from(frame);
    badHc[6] = badHc[6]! ^ 0xff;
    expect(() => lz4FrameDecompress(badHc, 1 << 20, c)).toThrow(CodecFailure);
    const badMagic = Buffer.from(frame);
    badMagic[0] = 0;
    expect(() => lz4FrameDecompress(badMagic, 1 << 20, c)).toThrow(CodecFailure);
    const bigBlock = Buffer.from(frame);
    bigBlock.writeUInt32LE(65537, 7);
    expect(() => lz4FrameDecompress(bigBlock, 1 << 20, c)).toThrow(CodecFailure);
    expect(() => lz4FrameDecompress(frame.subarray(0, frame.length - 4), 1 << 20, c)).toThrow(CodecFailure);
  });
});

describe("Compression (Bun) conformance", () => {
  const data = logLines(40_000, 17);

  function reasonOf(fn: () => unknown): string {
    try {
      fn();
    } catch (e) {
      if (e instanceof CodecFailure) return e.reason;
      throw e;
    }
    return "no error";
  }

  test("a limit of zero refuses any output and accepts none", () => {
    expect(reasonOf(() => c.gzipDecompress(c.gzipCompress(data, 6), 0))).toBe("tooLarge");
    expect(reasonOf(() => c.zstdDecompress(c.zstdCompress(data, 3), 0))).toBe("tooLarge");
    expect(c.gzipDecompress(c.gzipCompress(new Uint8Array(0), 6), 0).length).toBe(0);
    expect(c.zstdDecompress(c.zstdCompress(new Uint8Array(0), 3), 0).length).toBe(0);
  });

  test("zstd truncated anywhere is corrupt (Bun alone would return partial output)", () => {
    const frame = c.zstdCompress(data, 3);
    for (let cut = 1; cut < frame.length; cut += Math.max(1, frame.length >> 5)) {
      expect(reasonOf(() => c.zstdDecompress(frame.subarray(0, cut), 1 << 20))).toBe("corrupt");
    }
    // Two frames back to back are one stream.
    const two = Buffer.concat([c.zstdCompress(data.subarray(0, 100), 3), c.zstdCompress(data.subarray(100, 300), 3)]);
    expect(Buffer.from(c.zstdDecompress(two, 300)).equals(Buffer.from(data.subarray(0, 300)))).toBe(true);
  });

  test("snappy block whose preamble disagrees with its content is corrupt", () => {
    const block = c.snappyCompressBlock(data.subarray(0, 1000));
    expect(reasonOf(() => c.snappyDecompressBlock(block, 999))).toBe("corrupt");
    expect(c.snappyDecompressBlock(block, 1000).length).toBe(1000);
    expect(reasonOf(() => c.snappyDecompressBlock(block.subarray(0, block.length - 5), 1000))).toBe("corrupt");
  });

  test("lz4 block larger than its limit, or garbage, fails typed", () => {
    const block = c.lz4CompressBlock(data.subarray(0, 30_000));
    expect(c.lz4DecompressBlock(block, 65536).length).toBe(30_000);
    expect(reasonOf(() => c.lz4DecompressBlock(block, 1000))).not.toBe("no error");
    expect(reasonOf(() => c.lz4DecompressBlock(new Uint8Array([0xff, 0xff, 0xff]), 65536))).toBe("corrupt");
  });

  test("inputs are not modified", () => {
    const copy = Uint8Array.from(data);
    for (const codec of codecs) decompressRecords(codec, compressRecords(codec, data, c), data.length, c);
    expect(Buffer.from(copy).equals(Buffer.from(data))).toBe(true);
  });
});
