/**
 * The plain-TypeScript `CoreOps`: the fallback when WASM is off (`BUNKA_WASM=off`) and the
 * oracle of the differential tests against the WASM module compiled from `assembly/`.
 *
 * Invariants: behaves byte-for-byte like the WASM core (same results, same RangeErrors,
 * same error precedence in scanBatches); never reads outside the arrays it is given.
 * It is written for speed too, because it is the honest baseline in bench/micro.ts:
 * CRC32C is slicing-by-16 over 32-bit words, varints avoid BigInt by splitting 64-bit
 * values into two 32-bit halves.
 *
 * Formats (all Kafka's, big-endian): v2 record batch header (61 bytes)
 *   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 |
 *   17 crc u32 (CRC32C of bytes 21..end) | 21 attributes i16 | 23 lastOffsetDelta i32 |
 *   27 baseTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16 |
 *   53 baseSequence i32 | 57 records count i32
 * Offset index entry (8 bytes): u32 relative offset | u32 position.
 */
import type { BatchErrorKind, BatchScan, CoreOps, CrcRange, ScanOptions } from "./api.ts";
import {
  batchErrorKinds,
  batchHeaderBytes,
  batchLengthMin,
  batchLogOverheadBytes,
  checkCount,
  checkCrcSeed,
  checkIndex,
  checkScanOptions,
  clampTarget,
  indexEntryBytes,
  indexWarmEntries,
  varint32BytesMax,
  varint32Size,
  varint64BytesMax,
  varint64Size,
} from "./arg-checks.ts";

// ---------------------------------------------------------------------------------------
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-16.
// Measured in bun 1.4.5 (1 MiB): slicing-by-8 with byte loads 2.2 GB/s, slicing-by-16 with
// byte loads 2.7 GB/s, slicing-by-16 over an Int32Array view of the 4-byte-aligned middle
// 2.9 GB/s. The word view reads little-endian words, which is what the reflected CRC wants.

const crcPoly = 0x82f6_3b78;

/** 16 tables of 256 entries: T[k][b] = CRC register after byte b followed by k zero bytes. */
const crcTables: Int32Array = (() => {
  const t = new Int32Array(16 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ crcPoly : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]!;
    for (let k = 1; k < 16; k++) {
      c = (c >>> 8) ^ t[c & 0xff]!;
      t[k * 256 + b] = c;
    }
  }
  return t;
})();

const littleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Below this many bytes the word view (~45 ns to create) costs more than it saves (measured). */
const crcWordViewMin = 2048;

// The 16-lookup step is written out in both loops below: as a helper function it measured
// 2.4 instead of 2.9 GB/s (JSC does not inline it into the hot loop).

function crcBytes(crc: number, bytes: Uint8Array, start: number, end: number): number {
  const t = crcTables;
  let c = crc;
  let i = start;
  while (i <= end - 16) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    const b = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    const d = bytes[i + 8]! | (bytes[i + 9]! << 8) | (bytes[i + 10]! << 16) | (bytes[i + 11]! << 24);
    const e = bytes[i + 12]! | (bytes[i + 13]! << 8) | (bytes[i + 14]! << 16) | (bytes[i + 15]! << 24);
    c = (
      t[3840 + (a & 0xff)]! ^
      t[3584 + ((a >>> 8) & 0xff)]! ^
      t[3328 + ((a >>> 16) & 0xff)]! ^
      t[3072 + (a >>> 24)]! ^
      t[2816 + (b & 0xff)]! ^
      t[2560 + ((b >>> 8) & 0xff)]! ^
      t[2304 + ((b >>> 16) & 0xff)]! ^
      t[2048 + (b >>> 24)]! ^
      t[1792 + (d & 0xff)]! ^
      t[1536 + ((d >>> 8) & 0xff)]! ^
      t[1280 + ((d >>> 16) & 0xff)]! ^
      t[1024 + (d >>> 24)]! ^
      t[768 + (e & 0xff)]! ^
      t[512 + ((e >>> 8) & 0xff)]! ^
      t[256 + ((e >>> 16) & 0xff)]! ^
      t[e >>> 24]!
    );
    i += 16;
  }
  while (i < end) {
    c = (c >>> 8) ^ t[(c ^ bytes[i]!) & 0xff]!;
    i++;
  }
  return c;
}

/** Raw CRC register update (no pre/post inversion) over bytes[start, end). */
function crcUpdate(crc: number, bytes: Uint8Array, start: number, end: number): number {
  if (end - start < crcWordViewMin || !littleEndian) return crcBytes(crc | 0, bytes, start, end);
  const t = crcTables;
  const head = start + ((4 - ((bytes.byteOffset + start) & 3)) & 3);
  let c = crcBytes(crc | 0, bytes, start, head);
  const words = ((end - head) >>> 4) << 2;
  const w = new Int32Array(bytes.buffer, bytes.byteOffset + head, words);
  for (let j = 0; j < words; j += 4) {
    const a = c ^ w[j]!;
    const b = w[j + 1]!;
    const d = w[j + 2]!;
    const e = w[j + 3]!;
    c = (
      t[3840 + (a & 0xff)]! ^
      t[3584 + ((a >>> 8) & 0xff)]! ^
      t[3328 + ((a >>> 16) & 0xff)]! ^
      t[3072 + (a >>> 24)]! ^
      t[2816 + (b & 0xff)]! ^
      t[2560 + ((b >>> 8) & 0xff)]! ^
      t[2304 + ((b >>> 16) & 0xff)]! ^
      t[2048 + (b >>> 24)]! ^
      t[1792 + (d & 0xff)]! ^
      t[1536 + ((d >>> 8) & 0xff)]! ^
      t[1280 + ((d >>> 16) & 0xff)]! ^
      t[1024 + (d >>> 24)]! ^
      t[768 + (e & 0xff)]! ^
      t[512 + ((e >>> 8) & 0xff)]! ^
      t[256 + ((e >>> 16) & 0xff)]! ^
      t[e >>> 24]!
    );
  }
  return crcBytes(c, bytes, head + words * 4, end);
}

function crc32c(bytes: Uint8Array, crc = 0): number {
  checkCrcSeed(crc);
  return crcRangeTwin(bytes, 0, bytes.length, crc);
}

// ---------------------------------------------------------------------------------------
// Record batch scan.

function readI32(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

function readI64(b: Uint8Array, p: number): number {
  return readI32(b, p) * 0x1_0000_0000 + (readI32(b, p + 4) >>> 0);
}

function writeI32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

/** Writes a non-negative safe integer as big-endian i64. */
function writeI64(b: Uint8Array, p: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  writeI32(b, p, hi);
  writeI32(b, p + 4, v - hi * 0x1_0000_0000);
}

/**
 * Checks one batch at `pos`; returns its total size or -(error code) (codes: 1-based index
 * into batchErrorKinds). Precedence: truncated header, badLength, truncated body, badMagic,
 * badCrc, badRecordCount.
 */
function checkBatch(b: Uint8Array, pos: number, options: ScanOptions, crcRange: CrcRange): number {
  const remaining = b.length - pos;
  if (remaining < batchHeaderBytes) return -1;
  const batchLength = readI32(b, pos + 8);
  if (batchLength < batchLengthMin || batchLength + batchLogOverheadBytes > options.maxBatchBytes) return -2;
  const size = batchLength + batchLogOverheadBytes;
  if (size > remaining) return -1;
  if (b[pos + 16] !== 2) return -3;
  if (options.verifyCrc && readI32(b, pos + 17) >>> 0 !== crcRange(b, pos + 21, pos + size, 0)) return -4;
  const lastOffsetDelta = readI32(b, pos + 23);
  const recordCount = readI32(b, pos + 57);
  if (lastOffsetDelta < 0 || recordCount < 0) return -5;
  if (options.requireDenseOffsets && recordCount !== lastOffsetDelta + 1) return -5;
  return size;
}

/** The twin's own CRC over a range: the scan's default. */
function crcRangeTwin(bytes: Uint8Array, start: number, end: number, crc: number): number {
  return ~crcUpdate(~crc, bytes, start, end) >>> 0;
}

/**
 * The twin's batch scan with CRCs computed by `crcRange`: src/wasm/index.ts pairs it with
 * the native CRC32C, which reads the batches in place where the WASM scan copies them in.
 */
export function scanBatchesWith(crcRange: CrcRange): CoreOps["scanBatches"] {
  return (bytes, options) => scanBatchesImpl(bytes, options, crcRange);
}

function scanBatches(bytes: Uint8Array, options: ScanOptions): BatchScan {
  return scanBatchesImpl(bytes, options, crcRangeTwin);
}

function scanBatchesImpl(bytes: Uint8Array, options: ScanOptions, crcRange: CrcRange): BatchScan {
  checkScanOptions(options);
  let capacity = 16;
  let positions = new Int32Array(capacity);
  let sizes = new Int32Array(capacity);
  let count = 0;
  let pos = 0;
  let error: BatchErrorKind | null = null;
  while (pos < bytes.length) {
    const r = checkBatch(bytes, pos, options, crcRange);
    if (r < 0) {
      error = batchErrorKinds[-r - 1] ?? null;
      break;
    }
    if (count === capacity) {
      capacity *= 2;
      const p2 = new Int32Array(capacity);
      p2.set(positions);
      positions = p2;
      const s2 = new Int32Array(capacity);
      s2.set(sizes);
      sizes = s2;
    }
    positions[count] = pos;
    sizes[count] = r;
    count++;
    pos += r;
  }
  const baseOffsets = new Float64Array(count);
  const lastOffsetDeltas = new Int32Array(count);
  const maxTimestamps = new Float64Array(count);
  const recordCounts = new Int32Array(count);
  const attributes = new Int32Array(count);
  const assign = options.assign;
  let next = assign === undefined ? 0 : assign.firstOffset;
  for (let i = 0; i < count; i++) {
    const p = positions[i]!;
    const delta = readI32(bytes, p + 23);
    lastOffsetDeltas[i] = delta;
    maxTimestamps[i] = readI64(bytes, p + 35);
    recordCounts[i] = readI32(bytes, p + 57);
    attributes[i] = (bytes[p + 21]! << 8) | bytes[p + 22]!;
    if (assign !== undefined && error === null) {
      writeI64(bytes, p, next);
      writeI32(bytes, p + 12, assign.leaderEpoch);
      baseOffsets[i] = next;
      next += delta + 1;
    } else {
      baseOffsets[i] = readI64(bytes, p);
    }
  }
  return {
    count,
    validBytes: pos,
    error,
    positions: positions.subarray(0, count),
    sizes: sizes.subarray(0, count),
    baseOffsets,
    lastOffsetDeltas,
    maxTimestamps,
    recordCounts,
    attributes,
  };
}

// ---------------------------------------------------------------------------------------
// Zigzag varints.

function encodeVarints32(values: Int32Array, count: number, out: Uint8Array): number {
  checkCount(count, values.length, "encodeVarints32");
  if (out.length < count * varint32BytesMax) {
    let need = 0;
    for (let i = 0; i < count; i++) need += varint32Size(values[i]!);
    if (need > out.length) throw new RangeError(`encodeVarints32: needs ${need} bytes, out has ${out.length}`);
  }
  let p = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    let z = ((v << 1) ^ (v >> 31)) >>> 0;
    while (z >= 0x80) {
      out[p++] = z | 0x80;
      z >>>= 7;
    }
    out[p++] = z;
  }
  return p;
}

function decodeVarints32(bytes: Uint8Array, count: number, out: Int32Array): number {
  checkCount(count, out.length, "decodeVarints32");
  const n = bytes.length;
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p >= n) return -1;
    let b = bytes[p++]!;
    let z = b & 0x7f;
    if (b >= 0x80) {
      let shift = 7;
      for (;;) {
        if (p >= n) return -1;
        b = bytes[p++]!;
        z |= (b & 0x7f) << shift;
        if (b < 0x80) break;
        shift += 7;
        if (shift > 28) return -1;
      }
    }
    out[i] = (z >>> 1) ^ -(z & 1);
  }
  return p;
}

/** Largest safe integer; checked by hand because Number.isSafeInteger measured slower here. */
const safeMax = Number.MAX_SAFE_INTEGER;

/**
 * When `out` has room for the worst case, the safe-integer check runs inline: a bad value
 * throws RangeError after the values before it were written (out's contents are then
 * unspecified, as for a decode that returns -1).
 */
function encodeVarints64(values: Float64Array, count: number, out: Uint8Array): number {
  checkCount(count, values.length, "encodeVarints64");
  if (out.length < count * varint64BytesMax) {
    let need = 0;
    for (let i = 0; i < count; i++) need += varint64Size(values[i]!);
    if (need > out.length) throw new RangeError(`encodeVarints64: needs ${need} bytes, out has ${out.length}`);
  }
  let p = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (!(v <= safeMax && v >= -safeMax) || v !== Math.floor(v)) throw new RangeError(`encodeVarints64: ${v} is not a safe integer`);
    // zigzag(v) split into 32-bit halves: 2a for v >= 0, 2(a-1)+1 for v < 0, a = |v|.
    const a = v >= 0 ? v : -v - 1;
    let hi = (a / 0x1_0000_0000) >>> 0;
    let lo = a >>> 0;
    hi = ((hi << 1) | (lo >>> 31)) >>> 0;
    lo = ((lo << 1) | (v < 0 ? 1 : 0)) >>> 0;
    while (hi !== 0) {
      out[p++] = lo | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo >= 0x80) {
      out[p++] = lo | 0x80;
      lo >>>= 7;
    }
    out[p++] = lo;
  }
  return p;
}

function decodeVarints64(bytes: Uint8Array, count: number, out: Float64Array): number {
  checkCount(count, out.length, "decodeVarints64");
  const n = bytes.length;
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p >= n) return -1;
    let b = bytes[p++]!;
    let lo = b & 0x7f;
    let hi = 0;
    if (b >= 0x80) {
      // Bytes 1..3 fill lo; byte 4 straddles (4 bits lo, 3 bits hi); bytes 5..7 fill hi;
      // bytes 8 and 9 may only carry zero payload, since |v| < 2^53 fits in 54 zigzag bits.
      let k = 1;
      for (;;) {
        if (p >= n) return -1;
        b = bytes[p++]!;
        const bits = b & 0x7f;
        if (k < 4) lo |= bits << (7 * k);
        else if (k === 4) {
          lo |= bits << 28;
          hi = bits >>> 4;
        } else if (k < 8) hi |= bits << (7 * k - 32);
        else if (bits !== 0) return -1;
        if (b < 0x80) break;
        k++;
        if (k > 9) return -1;
      }
      lo >>>= 0;
    }
    // zigzag bits must stay below 2^54, and -(2^53) (zigzag 2^54 - 1) is not safe either.
    if (hi >= 0x40_0000) return -1;
    const mag = (hi >>> 1) * 0x1_0000_0000 + (((lo >>> 1) | (hi << 31)) >>> 0);
    if (lo & 1) {
      if (mag >= 0x1f_ffff_ffff_ffff) return -1;
      out[i] = -mag - 1;
    } else {
      out[i] = mag;
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------
// Offset index search.

function relAt(e: Uint8Array, slot: number): number {
  const p = slot * indexEntryBytes;
  return ((e[p]! << 24) | (e[p + 1]! << 16) | (e[p + 2]! << 8) | e[p + 3]!) >>> 0;
}

/** Largest slot in [lo, hi] with relAt(slot) <= target, given relAt(lo) <= target. */
function searchRange(e: Uint8Array, lo: number, hi: number, target: number): number {
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (relAt(e, mid) <= target) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function lookup(e: Uint8Array, entryCount: number, target: number): number {
  if (entryCount === 0 || target < 0) return -1;
  const last = entryCount - 1;
  const warmFirst = entryCount > indexWarmEntries ? entryCount - indexWarmEntries : 0;
  if (relAt(e, warmFirst) <= target) return searchRange(e, warmFirst, last, target);
  if (relAt(e, 0) > target) return -1;
  return searchRange(e, 0, warmFirst, target);
}

function indexLookup(entries: Uint8Array, entryCount: number, target: number): number {
  checkIndex(entries, entryCount, "indexLookup");
  return lookup(entries, entryCount, clampTarget(target));
}

function indexLookupMany(entries: Uint8Array, entryCount: number, targets: Uint32Array, out: Int32Array): void {
  checkIndex(entries, entryCount, "indexLookupMany");
  checkCount(targets.length, out.length, "indexLookupMany");
  for (let i = 0; i < targets.length; i++) out[i] = lookup(entries, entryCount, targets[i]!);
}

export const tsTwin: CoreOps = {
  kind: "ts",
  crc32c,
  scanBatches,
  encodeVarints32,
  decodeVarints32,
  encodeVarints64,
  decodeVarints64,
  indexLookup,
  indexLookupMany,
};
