/**
 * `Compression` for Bun: gzip and zstd from Bun's `node:zlib`, snappy from `snappy`
 * (napi-rs, Rust `snap`), LZ4 blocks from `lz4-napi` (napi-rs, Rust `lz4_flex`). Both native
 * packages ship prebuilt binaries as npm optional dependencies: nothing downloads at install.
 *
 * Why these libraries (`bun run bench:compression`, mitata medians, 1 MiB of JSON log lines,
 * MB/s of uncompressed data, compress / decompress; bench/results/compression.json):
 * - snappy: `snappy` (napi-rs) raw blocks 1285 / 3266 with `copyOutputData`, against pure-JS
 *   `snappyjs` 506 / 522. Without `copyOutputData` napi-rs hands Bun an external buffer and
 *   drops to 207 / 230: always pass it. Kafka-framed (xerial, 32 KiB chunks): 1287 / 2757.
 * - lz4: `lz4-napi` (napi-rs, lz4_flex) raw blocks inside our own frame code: 1393 / 3977,
 *   against `lz4-wasm-nodejs` 889 / 2624 and pure-JS `lz4js` 397 / 1059. lz4-napi's own frame
 *   API is slow in Bun (208 / 234, external buffers), unbounded on decode, and writes
 *   256 KiB blocks where Kafka's Java client writes 64 KiB, so the frame container is ours
 *   (src/protocol/records/lz4-frame.ts) and only blocks go through the library.
 * - gzip (node:zlib, level 6) 179 / 1263; zstd (node:zlib, level 3) 720 / 2497.
 *
 * Invariants: every decompression is bounded by the caller's `maxBytes` before memory is
 * committed (zlib's `maxOutputLength` stops inflating at the limit; snappy's length preamble
 * and LZ4's block bound are checked by the caller); every library error becomes a
 * `CodecFailure`. Bun's `zstdDecompressSync` returns partial output for a truncated frame
 * instead of failing, so zstd input is walked frame by frame first (`checkZstdFrames`).
 */
import * as zlib from "node:zlib";
import * as lz4 from "lz4-napi";
import * as snappy from "snappy";
import { CodecFailure, type CodecName, type Compression } from "../compression.ts";

const bufferTooLarge = "ERR_BUFFER_TOO_LARGE";

function errorCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code;
  return undefined;
}

function failure(codec: CodecName, e: unknown, maxBytes?: number): CodecFailure {
  if (e instanceof CodecFailure) return e;
  if (maxBytes !== undefined && errorCode(e) === bufferTooLarge) {
    return new CodecFailure(codec, "tooLarge", `decompressed data exceeds ${maxBytes} bytes`);
  }
  return new CodecFailure(codec, "corrupt", e instanceof Error ? e.message : String(e));
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function checkMax(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes ${maxBytes} is not a non-negative integer`);
}

/** zlib's `maxOutputLength` must be ≥ 1; a limit of 0 still has to reject any output. */
function zlibLimit(maxBytes: number): number {
  return maxBytes === 0 ? 1 : maxBytes;
}

function checkZlibResult(codec: CodecName, out: Buffer, maxBytes: number): Uint8Array {
  if (out.length > maxBytes) throw new CodecFailure(codec, "tooLarge", `decompressed data exceeds ${maxBytes} bytes`);
  return out;
}

// ---------------------------------------------------------------------------------------
// zstd frame walk (RFC 8878 §3.1): structure only, to detect truncation.

const zstdMagic = 0xfd2f_b528;
const zstdSkippableMask = 0xffff_fff0;
const zstdSkippableMagic = 0x184d_2a50;
const zstdBlockMax = 128 * 1024;

function readU32LE(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** Throws CodecFailure "corrupt" unless `data` is a sequence of complete zstd (or skippable) frames. */
function checkZstdFrames(data: Uint8Array): void {
  const corrupt = (why: string): CodecFailure => new CodecFailure("zstd", "corrupt", why);
  const n = data.length;
  let p = 0;
  if (n === 0) throw corrupt("empty input");
  while (p < n) {
    if (n - p < 4) throw corrupt(`truncated frame magic at ${p}`);
    const magic = readU32LE(data, p);
    if ((magic & zstdSkippableMask) >>> 0 === zstdSkippableMagic) {
      if (n - p < 8) throw corrupt(`truncated skippable frame at ${p}`);
      const size = readU32LE(data, p + 4);
      if (size > n - p - 8) throw corrupt(`truncated skippable frame at ${p}`);
      p += 8 + size;
      continue;
    }
    if (magic !== zstdMagic) throw corrupt(`bad frame magic at ${p}`);
    p += 4;
    if (p >= n) throw corrupt("truncated frame header");
    const fhd = data[p]!;
    const fcsFlag = fhd >>> 6;
    const singleSegment = (fhd >>> 5) & 1;
    const checksum = (fhd >>> 2) & 1;
    const dictIdFlag = fhd & 3;
    if ((fhd >>> 3) & 1) throw corrupt("reserved frame header bit set");
    const dictIdBytes = [0, 1, 2, 4][dictIdFlag]!;
    const fcsBytes = fcsFlag === 0 ? singleSegment : [1, 2, 4, 8][fcsFlag]!;
    const headerBytes = 1 + (singleSegment ? 0 : 1) + dictIdBytes + fcsBytes;
    if (headerBytes > n - p) throw corrupt("truncated frame header");
    p += headerBytes;
    for (;;) {
      if (n - p < 3) throw corrupt(`truncated block header at ${p}`);
      const bh = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16);
      p += 3;
      const last = bh & 1;
      const type = (bh >>> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) throw corrupt(`reserved block type at ${p - 3}`);
      if (size > zstdBlockMax) throw corrupt(`block of ${size} bytes exceeds 128 KiB`);
      const contentBytes = type === 1 ? 1 : size;
      if (contentBytes > n - p) throw corrupt(`truncated block at ${p}`);
      p += contentBytes;
      if (last) break;
    }
    if (checksum) {
      if (n - p < 4) throw corrupt("truncated content checksum");
      p += 4;
    }
  }
}

// ---------------------------------------------------------------------------------------

export const bunCompression: Compression = {
  kind: "bun: node:zlib gzip/zstd, snappy (napi-rs), lz4-napi blocks",

  gzipCompress(data, level) {
    return zlib.gzipSync(data, { level });
  },

  gzipDecompress(data, maxBytes) {
    checkMax(maxBytes);
    try {
      return checkZlibResult("gzip", zlib.gunzipSync(data, { maxOutputLength: zlibLimit(maxBytes) }), maxBytes);
    } catch (e) {
      throw failure("gzip", e, maxBytes);
    }
  },

  zstdCompress(data, level) {
    return zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
  },

  zstdDecompress(data, maxBytes) {
    checkMax(maxBytes);
    checkZstdFrames(data);
    try {
      return checkZlibResult("zstd", zlib.zstdDecompressSync(data, { maxOutputLength: zlibLimit(maxBytes) }), maxBytes);
    } catch (e) {
      throw failure("zstd", e, maxBytes);
    }
  },

  snappyCompressBlock(data) {
    return snappy.compressSync(data, { copyOutputData: true });
  },

  snappyDecompressBlock(block, uncompressedBytes) {
    checkMax(uncompressedBytes);
    let out: string | Buffer;
    try {
      out = snappy.uncompressSync(block, { asBuffer: true, copyOutputData: true });
    } catch (e) {
      throw failure("snappy", e);
    }
    if (typeof out === "string") throw new Error("snappy.uncompressSync returned a string despite asBuffer");
    if (out.length !== uncompressedBytes) {
      throw new CodecFailure("snappy", "corrupt", `block decoded to ${out.length} bytes, preamble says ${uncompressedBytes}`);
    }
    return out;
  },

  lz4CompressBlock(data) {
    // lz4-napi prefixes the block with its uncompressed size (u32 LE); Kafka's frames do not.
    return lz4.compressSync(asBuffer(data)).subarray(4);
  },

  lz4DecompressBlock(block, maxBytes, dictionary) {
    checkMax(maxBytes);
    if (maxBytes > 0xffff_ffff) throw new RangeError(`lz4 block limit ${maxBytes} exceeds u32`);
    // lz4_flex decodes into at most the prefixed size and errors past it, so the prefix is the bound.
    const prefixed = Buffer.allocUnsafe(4 + block.length);
    prefixed.writeUInt32LE(maxBytes, 0);
    prefixed.set(block, 4);
    try {
      return dictionary === undefined ? lz4.uncompressSync(prefixed) : lz4.uncompressSync(prefixed, asBuffer(dictionary));
    } catch (e) {
      throw failure("lz4", e);
    }
  },
};
