/**
 * The LZ4 frame container as Kafka uses it for compression attribute 3 (magic >= 1 has a
 * correct header checksum; magic 0/1 sets are refused elsewhere, so the historical broken
 * checksum is not supported). Raw blocks go through the injected `Compression`.
 *
 * Frame (all little-endian):
 *   magic u32 0x184D2204 | FLG u8 | BD u8 | [content size u64] | [dict id u32] | HC u8 |
 *   blocks: size u32 (bit 31 = stored uncompressed, 0 = end mark) | data | [checksum u32] |
 *   [content checksum u32]
 *   FLG: version (bits 7-6) = 01, block independence (5), block checksum (4), content size (3),
 *   content checksum (2), reserved (1) = 0, dict id (0). BD: block max size id (bits 6-4):
 *   4 = 64 KiB, 5 = 256 KiB, 6 = 1 MiB, 7 = 4 MiB; other bits 0.
 *   HC = second byte of XXH32(FLG..end of descriptor, seed 0).
 * Skippable frames (magic 0x184D2A5X, u32 size, data) are skipped; frames may be concatenated.
 *
 * Writing matches Kafka's Java client (Lz4BlockOutputStream at the default level): FLG 0x60
 * (independent blocks, no checksums), BD 0x40 (64 KiB), blocks that do not shrink stored
 * uncompressed, end mark, no content checksum.
 *
 * Invariants: reading never produces more than `maxBytes` + one block (≤ 4 MiB) of transient
 * memory and never returns more than `maxBytes`; every malformation is a CodecFailure.
 */
import { CodecFailure, type Compression } from "../../platform/compression.ts";
import { xxhash32 } from "./xxhash32.ts";

const frameMagic = 0x184d_2204;
const skippableMask = 0xffff_fff0;
const skippableMagic = 0x184d_2a50;
const uncompressedBit = 0x8000_0000;
const dictionaryBytesMax = 64 * 1024;
/** Upper bound of LZ4's output/input ratio for one block (255 plus slack). */
const lz4ExpansionMax = 256;
/** Kafka's Java client writes 64 KiB blocks. */
export const lz4WriteBlockBytes = 64 * 1024;
const blockBytesById: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

function corrupt(message: string): CodecFailure {
  return new CodecFailure("lz4", "corrupt", message);
}

function tooLarge(maxBytes: number): CodecFailure {
  return new CodecFailure("lz4", "tooLarge", `decompressed data exceeds ${maxBytes} bytes`);
}

function readU32LE(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

function writeU32LE(b: Uint8Array, p: number, v: number): void {
  b[p] = v & 0xff;
  b[p + 1] = (v >>> 8) & 0xff;
  b[p + 2] = (v >>> 16) & 0xff;
  b[p + 3] = (v >>> 24) & 0xff;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.length === total) return chunks[0]!;
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** The last ≤ 64 KiB of a frame's output so far, the dictionary for a linked block. */
function tailDictionary(chunks: readonly Uint8Array[], frameStartChunk: number): Uint8Array | undefined {
  const last = chunks[chunks.length - 1];
  if (last === undefined || chunks.length <= frameStartChunk) return undefined;
  if (last.length >= dictionaryBytesMax) return last.subarray(last.length - dictionaryBytesMax);
  const parts: Uint8Array[] = [];
  let have = 0;
  for (let i = chunks.length - 1; i >= frameStartChunk && have < dictionaryBytesMax; i--) {
    const c = chunks[i]!;
    const take = Math.min(c.length, dictionaryBytesMax - have);
    parts.unshift(c.subarray(c.length - take));
    have += take;
  }
  return concat(parts, have);
}

/** Compresses `data` into one LZ4 frame laid out as Kafka's Java client writes it. */
export function lz4FrameCompress(data: Uint8Array, compression: Compression): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(7);
  writeU32LE(header, 0, frameMagic);
  header[4] = 0x60;
  header[5] = 0x40;
  header[6] = (xxhash32(header, 4, 6) >>> 8) & 0xff;
  parts.push(header);
  let total = header.length;
  for (let p = 0; p < data.length; p += lz4WriteBlockBytes) {
    const chunk = data.subarray(p, Math.min(p + lz4WriteBlockBytes, data.length));
    const compressed = compression.lz4CompressBlock(chunk);
    const stored = compressed.length >= chunk.length;
    const body = stored ? chunk : compressed;
    const size = new Uint8Array(4);
    writeU32LE(size, 0, stored ? (body.length | uncompressedBit) >>> 0 : body.length);
    parts.push(size, body);
    total += 4 + body.length;
  }
  parts.push(new Uint8Array(4));
  total += 4;
  return concat(parts, total);
}

/** Decodes one or more LZ4 frames into at most `maxBytes`. */
export function lz4FrameDecompress(data: Uint8Array, maxBytes: number, compression: Compression): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let p = 0;
  const n = data.length;
  if (n === 0) throw corrupt("empty input");
  while (p < n) {
    if (n - p < 4) throw corrupt(`truncated frame magic at ${p}`);
    const magic = readU32LE(data, p);
    if ((magic & skippableMask) >>> 0 === skippableMagic) {
      if (n - p < 8) throw corrupt(`truncated skippable frame at ${p}`);
      const size = readU32LE(data, p + 4);
      if (size > n - p - 8) throw corrupt(`truncated skippable frame at ${p}`);
      p += 8 + size;
      continue;
    }
    if (magic !== frameMagic) throw corrupt(`bad frame magic 0x${magic.toString(16)} at ${p}`);
    p += 4;
    if (n - p < 3) throw corrupt("truncated frame descriptor");
    const descriptorStart = p;
    const flg = data[p]!;
    const bd = data[p + 1]!;
    p += 2;
    if (flg >>> 6 !== 1) throw corrupt(`unsupported frame version ${flg >>> 6}`);
    if (flg & 0x02 || bd & 0x8f) throw corrupt("reserved descriptor bits set");
    const independent = (flg & 0x20) !== 0;
    const blockChecksum = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    if (flg & 0x01) throw corrupt("frames with a dictionary id are not supported");
    const blockMax = blockBytesById[(bd >>> 4) & 7];
    if (blockMax === undefined) throw corrupt(`bad block max size id ${(bd >>> 4) & 7}`);
    let contentSize = -1;
    if (hasContentSize) {
      if (n - p < 8) throw corrupt("truncated content size");
      const lo = readU32LE(data, p);
      const hi = readU32LE(data, p + 4);
      if (hi > 0x1f_ffff || lo + hi * 0x1_0000_0000 > maxBytes - total) throw tooLarge(maxBytes);
      contentSize = lo + hi * 0x1_0000_0000;
      p += 8;
    }
    if (n - p < 1) throw corrupt("truncated header checksum");
    const hc = (xxhash32(data, descriptorStart, p) >>> 8) & 0xff;
    if (data[p] !== hc) throw corrupt(`header checksum 0x${data[p]!.toString(16)} != 0x${hc.toString(16)}`);
    p += 1;
    const frameStartChunk = chunks.length;
    const frameStartTotal = total;
    for (;;) {
      if (n - p < 4) throw corrupt(`truncated block size at ${p}`);
      const word = readU32LE(data, p);
      p += 4;
      if (word === 0) break;
      const stored = (word & uncompressedBit) !== 0;
      const size = (word & ~uncompressedBit) >>> 0;
      if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the frame's ${blockMax}`);
      if (size > n - p) throw corrupt(`truncated block at ${p}`);
      const body = data.subarray(p, p + size);
      p += size;
      if (blockChecksum) {
        if (n - p < 4) throw corrupt("truncated block checksum");
        if (readU32LE(data, p) !== xxhash32(body)) throw corrupt("block checksum mismatch");
        p += 4;
      }
      let out: Uint8Array;
      if (stored) {
        out = body.slice();
      } else {
        const dictionary = independent ? undefined : tailDictionary(chunks, frameStartChunk);
        // A block expands at most ~255x (each length-extension byte adds ≤ 255 bytes), so
        // tiny blocks get a tiny output buffer instead of a full blockMax allocation each.
        const limit = Math.min(blockMax, size * lz4ExpansionMax + 64);
        out = compression.lz4DecompressBlock(body, limit, dictionary);
      }
      if (out.length > maxBytes - total) throw tooLarge(maxBytes);
      chunks.push(out);
      total += out.length;
    }
    if (contentChecksum) {
      if (n - p < 4) throw corrupt("truncated content checksum");
      const content = concat(chunks.slice(frameStartChunk), total - frameStartTotal);
      if (readU32LE(data, p) !== xxhash32(content)) throw corrupt("content checksum mismatch");
      p += 4;
    }
    if (contentSize >= 0 && contentSize !== total - frameStartTotal) {
      throw corrupt(`content size ${contentSize} != decoded ${total - frameStartTotal}`);
    }
  }
  return concat(chunks, total);
}
