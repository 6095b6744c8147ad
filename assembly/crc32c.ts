// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
//
// WASM has no carry-less multiply and no CRC instruction, so this is the fastest portable
// form measured here (bun 1.4.5 / JSC, 1 MiB, see crcRaw2 for the alternatives tried):
// slicing-by-16 (16 tables of 256 u32, 16 KiB, built at start) for short inputs, ~4.3 GB/s;
// from 512 bytes on, two independent streams of slicing-by-8 interleaved so the table loads
// of one stream hide the latency of the other, ~4.9 GB/s. The two partial CRCs are joined
// with a precomputed "shift by `streamBytes` zero bytes" linear map (4 tables of 256 u32).
// Stream sizes 256..8192 bytes measured the same; 256 lets 1 KiB inputs interleave.
//
// Invariants: the raw register functions take and return the register without the pre/post
// inversion; `crc32c` applies it, so crc32c(b, crc32c(a)) === crc32c(a ++ b).
// Memory: reads [ptr, ptr + len) only.
import { LAYOUT_CRC_IMAGES, LAYOUT_CRC_SHIFT, LAYOUT_CRC_SLICE } from "./layout";

const poly: u32 = 0x82f63b78;

/**
 * Slicing tables: slice k at sliceTables + k * 1024; entry b = CRC of byte b then k zeros.
 * They sit at fixed addresses below --memoryBase (scripts/build-wasm.ts reserves them, see
 * assembly/layout.ts) so every table address folds into the load's immediate offset.
 */
const sliceTables: usize = LAYOUT_CRC_SLICE;
/** Shift tables for the 2-way join: table j maps byte j of the register. */
const shiftTables: usize = LAYOUT_CRC_SHIFT;

/** Bytes each of the two interleaved streams covers per round. */
const streamBytes: usize = 256;
/** Inputs shorter than this use the single stream. */
const interleaveMin: usize = 2 * streamBytes;

// @ts-ignore: decorator
@inline
function slice(k: usize, index: u32): u32 {
  return load<u32>((<usize>index << 2) + (k << 10), sliceTables);
}

function buildTables(): void {
  for (let b: u32 = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    store<u32>(sliceTables + (<usize>b << 2), c);
  }
  for (let b: u32 = 0; b < 256; b++) {
    let c = load<u32>(sliceTables + (<usize>b << 2));
    for (let k: usize = 1; k < 16; k++) {
      c = (c >>> 8) ^ load<u32>(sliceTables + (<usize>(c & 0xff) << 2));
      store<u32>(sliceTables + (k << 10) + (<usize>b << 2), c);
    }
  }
  // The zero-shift map is linear over GF(2): build it from the images of the 32 unit vectors.
  const images: usize = LAYOUT_CRC_IMAGES;
  for (let bit: u32 = 0; bit < 32; bit++) {
    let c: u32 = 1 << bit;
    for (let i: usize = 0; i < streamBytes; i++) c = (c >>> 8) ^ load<u32>(sliceTables + (<usize>(c & 0xff) << 2));
    store<u32>(images + (<usize>bit << 2), c);
  }
  for (let j: u32 = 0; j < 4; j++) {
    for (let v: u32 = 0; v < 256; v++) {
      let c: u32 = 0;
      for (let bit: u32 = 0; bit < 8; bit++) {
        if (v & (1 << bit)) c ^= load<u32>(images + (<usize>(j * 8 + bit) << 2));
      }
      store<u32>(shiftTables + (<usize>j << 10) + (<usize>v << 2), c);
    }
  }
}
buildTables();

// @ts-ignore: decorator
@inline
function shift(c: u32): u32 {
  return (
    load<u32>(<usize>(c & 0xff) << 2, shiftTables) ^
    load<u32>(<usize>((c >>> 8) & 0xff) << 2, shiftTables + 1024) ^
    load<u32>(<usize>((c >>> 16) & 0xff) << 2, shiftTables + 2048) ^
    load<u32>(<usize>(c >>> 24) << 2, shiftTables + 3072)
  );
}

// @ts-ignore: decorator
@inline
function step16(c: u32, p: usize): u32 {
  const a = load<u32>(p) ^ c;
  const b = load<u32>(p, 4);
  const d = load<u32>(p, 8);
  const e = load<u32>(p, 12);
  return (
    load<u32>(<usize>(a & 0xff) << 2, sliceTables + 15360) ^
    load<u32>(<usize>((a >>> 8) & 0xff) << 2, sliceTables + 14336) ^
    load<u32>(<usize>((a >>> 16) & 0xff) << 2, sliceTables + 13312) ^
    load<u32>(<usize>(a >>> 24) << 2, sliceTables + 12288) ^
    load<u32>(<usize>(b & 0xff) << 2, sliceTables + 11264) ^
    load<u32>(<usize>((b >>> 8) & 0xff) << 2, sliceTables + 10240) ^
    load<u32>(<usize>((b >>> 16) & 0xff) << 2, sliceTables + 9216) ^
    load<u32>(<usize>(b >>> 24) << 2, sliceTables + 8192) ^
    load<u32>(<usize>(d & 0xff) << 2, sliceTables + 7168) ^
    load<u32>(<usize>((d >>> 8) & 0xff) << 2, sliceTables + 6144) ^
    load<u32>(<usize>((d >>> 16) & 0xff) << 2, sliceTables + 5120) ^
    load<u32>(<usize>(d >>> 24) << 2, sliceTables + 4096) ^
    load<u32>(<usize>(e & 0xff) << 2, sliceTables + 3072) ^
    load<u32>(<usize>((e >>> 8) & 0xff) << 2, sliceTables + 2048) ^
    load<u32>(<usize>((e >>> 16) & 0xff) << 2, sliceTables + 1024) ^
    load<u32>(<usize>(e >>> 24) << 2, sliceTables + 0)
  );
}

// @ts-ignore: decorator
@inline
function step8(c: u32, p: usize): u32 {
  const a = load<u32>(p) ^ c;
  const b = load<u32>(p, 4);
  return (
    load<u32>(<usize>(a & 0xff) << 2, sliceTables + 7168) ^
    load<u32>(<usize>((a >>> 8) & 0xff) << 2, sliceTables + 6144) ^
    load<u32>(<usize>((a >>> 16) & 0xff) << 2, sliceTables + 5120) ^
    load<u32>(<usize>(a >>> 24) << 2, sliceTables + 4096) ^
    load<u32>(<usize>(b & 0xff) << 2, sliceTables + 3072) ^
    load<u32>(<usize>((b >>> 8) & 0xff) << 2, sliceTables + 2048) ^
    load<u32>(<usize>((b >>> 16) & 0xff) << 2, sliceTables + 1024) ^
    load<u32>(<usize>(b >>> 24) << 2, sliceTables + 0)
  );
}

/** Single stream, raw register. */
export function crcRaw(c: u32, p: usize, len: usize): u32 {
  const end = p + len;
  while (end - p >= 16) {
    c = step16(c, p);
    p += 16;
  }
  while (p < end) {
    c = (c >>> 8) ^ slice(0, (c ^ <u32>load<u8>(p)) & 0xff);
    p++;
  }
  return c;
}

/**
 * Two interleaved streams of slicing-by-8, raw register. Table-driven CRC is bound by load
 * throughput here (10 loads per 8 bytes); interleaving only hides the lookup latency of
 * the single dependent chain. Measured at 1 MiB: 1 stream of slicing-by-16 4.3 GB/s,
 * 2 x slicing-by-8 4.9, 3 x slicing-by-8 4.7, 4 x slicing-by-8 4.7, 3 x slicing-by-4 4.3,
 * 2 x / 3 x slicing-by-16 4.0 (the live values spill).
 */
export function crcRaw2(c: u32, p: usize, len: usize): u32 {
  const round: usize = 2 * streamBytes;
  while (len >= round) {
    let c0 = c;
    let c1: u32 = 0;
    const end = p + streamBytes;
    while (p < end) {
      c0 = step8(c0, p);
      c1 = step8(c1, p + streamBytes);
      p += 8;
    }
    c = shift(c0) ^ c1;
    p += streamBytes;
    len -= round;
  }
  return crcRaw(c, p, len);
}

/** Raw register update over [p, p + len), choosing the form by length. */
export function crcUpdate(c: u32, p: usize, len: usize): u32 {
  return len >= interleaveMin ? crcRaw2(c, p, len) : crcRaw(c, p, len);
}

/** CRC32C of [ptr, ptr + len) continuing from `crc` (0 for a fresh CRC). */
export function crc32c(ptr: usize, len: usize, crc: u32): u32 {
  return ~crcUpdate(~crc, ptr, len);
}

