/**
 * Snappy as Kafka carries it (compression attribute 2). Kafka's Java client writes the
 * xerial (snappy-java SnappyOutputStream) stream format; some non-Java clients send one raw
 * snappy block instead. Reading detects the xerial magic and otherwise treats the data as a
 * raw block; writing always uses xerial framing like the Java client.
 *
 * xerial stream (big-endian): magic 82 53 4E 41 50 50 59 00 ("\x82SNAPPY\0") | version i32 (1) |
 *   minimum compatible version i32 (1) | chunks: compressed length i32 | raw snappy block.
 *   snappy-java cuts the input into 32 KiB chunks.
 * raw snappy block: uncompressed length as an unsigned LEB128 varint (≤ 2^32 - 1) | elements.
 *
 * Invariants: the uncompressed length in each block's preamble is checked against the
 * remaining budget before the block is decoded, so output never exceeds `maxBytes`.
 */
import { CodecFailure, type Compression } from "../../platform/compression.ts";

export const xerialMagic: readonly number[] = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];
const xerialHeaderBytes = 16;
const xerialVersion = 1;
const xerialCompatibleVersion = 1;
/** snappy-java's default SnappyOutputStream block size, as Kafka's Java client uses it. */
export const xerialChunkBytes = 32 * 1024;
/** Upper bound of snappy's output/input ratio (64 / 3, rounded up). */
const snappyExpansionMax = 22;

function corrupt(message: string): CodecFailure {
  return new CodecFailure("snappy", "corrupt", message);
}

export function hasXerialMagic(data: Uint8Array): boolean {
  if (data.length < xerialMagic.length) return false;
  for (let i = 0; i < xerialMagic.length; i++) if (data[i] !== xerialMagic[i]) return false;
  return true;
}

/** The uncompressed length from a raw block's varint preamble. */
export function snappyUncompressedLength(block: Uint8Array): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw corrupt("truncated length preamble");
    const b = block[i]!;
    result += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) {
      if (result > 0xffff_ffff) throw corrupt("length preamble exceeds 2^32 - 1");
      return result;
    }
  }
  throw corrupt("length preamble longer than 5 bytes");
}

function decodeBlock(block: Uint8Array, budget: number, maxBytes: number, compression: Compression): Uint8Array {
  const length = snappyUncompressedLength(block);
  // The densest snappy element (a 3-byte copy) yields 64 bytes: a preamble beyond that
  // ratio is a lie, refused before the library allocates `length` bytes for it.
  if (length > block.length * snappyExpansionMax + 32) throw corrupt(`preamble claims ${length} bytes from a ${block.length}-byte block`);
  if (length > budget) throw new CodecFailure("snappy", "tooLarge", `decompressed data exceeds ${maxBytes} bytes`);
  return compression.snappyDecompressBlock(block, length);
}

function readI32BE(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

function writeI32BE(b: Uint8Array, p: number, v: number): void {
  b[p] = (v >>> 24) & 0xff;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

/** Decodes xerial-framed or raw snappy into at most `maxBytes`. */
export function snappyDecompress(data: Uint8Array, maxBytes: number, compression: Compression): Uint8Array {
  if (!hasXerialMagic(data)) return decodeBlock(data, maxBytes, maxBytes, compression);
  if (data.length < xerialHeaderBytes) throw corrupt("truncated xerial header");
  const chunks: Uint8Array[] = [];
  let total = 0;
  let p = xerialHeaderBytes;
  while (p < data.length) {
    if (data.length - p < 4) throw corrupt(`truncated xerial chunk length at ${p}`);
    const size = readI32BE(data, p);
    p += 4;
    if (size < 0 || size > data.length - p) throw corrupt(`xerial chunk of ${size} bytes at ${p - 4} overruns the data`);
    const out = decodeBlock(data.subarray(p, p + size), maxBytes - total, maxBytes, compression);
    p += size;
    chunks.push(out);
    total += out.length;
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let q = 0;
  for (const c of chunks) {
    out.set(c, q);
    q += c.length;
  }
  return out;
}

/** xerial-framed snappy, as Kafka's Java client writes it. */
export function snappyCompress(data: Uint8Array, compression: Compression): Uint8Array {
  const blocks: Uint8Array[] = [];
  let total = xerialHeaderBytes;
  for (let p = 0; p < data.length; p += xerialChunkBytes) {
    const block = compression.snappyCompressBlock(data.subarray(p, Math.min(p + xerialChunkBytes, data.length)));
    blocks.push(block);
    total += 4 + block.length;
  }
  const out = new Uint8Array(total);
  out.set(xerialMagic, 0);
  writeI32BE(out, 8, xerialVersion);
  writeI32BE(out, 12, xerialCompatibleVersion);
  let q = xerialHeaderBytes;
  for (const b of blocks) {
    writeI32BE(out, q, b.length);
    out.set(b, q + 4);
    q += 4 + b.length;
  }
  return out;
}
