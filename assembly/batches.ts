// Scan (and optionally patch) a run of consecutive Kafka v2 record batches in place.
//
// Batch header (big-endian, 61 bytes; see src/wasm/ts-twin.ts for the full table):
//   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 |
//   17 crc u32 over [21, end) | 21 attributes i16 | 23 lastOffsetDelta i32 |
//   35 maxTimestamp i64 | 57 records count i32
//
// Output arrays (the caller reserves `capacity` slots each; capacity >= len / 61 suffices):
//   out + 0            baseOffsets   f64[capacity]
//   out + 8 cap        maxTimestamps f64[capacity]
//   out + 16 cap       positions     i32[capacity]
//   out + 20 cap       sizes         i32[capacity]
//   out + 24 cap       lastOffsetDeltas i32[capacity]
//   out + 28 cap       recordCounts  i32[capacity]
//   out + 32 cap       attributes    i32[capacity]
//
// Result: (count << 3) | errorCode, errorCode 0 = none, 1 truncated, 2 badLength,
// 3 badMagic, 4 badCrc, 5 badRecordCount (the order of src/wasm/arg-checks.ts).
// Invariants: reads only [ptr, ptr + len); patches only when every batch is valid; the
// check precedence matches the TypeScript twin exactly.
import { crcUpdate } from "./crc32c";

const headerBytes: i32 = 61;
const lengthMin: i32 = 49;
const overheadBytes: i32 = 12;

export const FLAG_VERIFY_CRC: i32 = 1;
export const FLAG_DENSE: i32 = 2;
export const FLAG_ASSIGN: i32 = 4;

// @ts-ignore: decorator
@inline
function readI32(p: usize): i32 {
  return bswap<i32>(load<i32>(p));
}

// @ts-ignore: decorator
@inline
function readI64(p: usize): i64 {
  return bswap<i64>(load<i64>(p));
}

/** Returns the batch size, or -(error code). */
function checkBatch(p: usize, remaining: i32, flags: i32, maxBatchBytes: i64): i32 {
  if (remaining < headerBytes) return -1;
  const batchLength = readI32(p + 8);
  // In i64: batchLength + 12 overflows i32 for lengths near 2^31.
  const size64 = <i64>batchLength + overheadBytes;
  if (batchLength < lengthMin || size64 > maxBatchBytes) return -2;
  if (size64 > <i64>remaining) return -1;
  const size = <i32>size64;
  if (load<u8>(p + 16) != 2) return -3;
  if (flags & FLAG_VERIFY_CRC) {
    if (~crcUpdate(0xffffffff, p + 21, <usize>(size - 21)) != <u32>readI32(p + 17)) return -4;
  }
  const lastOffsetDelta = readI32(p + 23);
  const recordCount = readI32(p + 57);
  if (lastOffsetDelta < 0 || recordCount < 0) return -5;
  if (flags & FLAG_DENSE && recordCount != lastOffsetDelta + 1) return -5;
  return size;
}

export function scanBatches(
  ptr: usize,
  len: i32,
  flags: i32,
  maxBatchBytes: f64,
  firstOffset: f64,
  leaderEpoch: i32,
  out: usize,
  capacity: i32,
): i32 {
  const cap = <usize>capacity;
  const baseOffsets = out;
  const maxTimestamps = out + 8 * cap;
  const positions = out + 16 * cap;
  const sizes = out + 20 * cap;
  const deltas = out + 24 * cap;
  const counts = out + 28 * cap;
  const attrs = out + 32 * cap;
  const max = <i64>maxBatchBytes;
  let pos: i32 = 0;
  let count: i32 = 0;
  let err: i32 = 0;
  while (pos < len) {
    const p = ptr + <usize>pos;
    const r = checkBatch(p, len - pos, flags, max);
    if (r < 0) {
      err = -r;
      break;
    }
    if (count >= capacity) unreachable();
    const slot = <usize>count << 2;
    store<i32>(positions + slot, pos);
    store<i32>(sizes + slot, r);
    store<i32>(deltas + slot, readI32(p + 23));
    store<i32>(counts + slot, readI32(p + 57));
    store<i32>(attrs + slot, (<i32>load<u8>(p + 21) << 8) | load<u8>(p + 22));
    store<f64>(maxTimestamps + (slot << 1), <f64>readI64(p + 35));
    store<f64>(baseOffsets + (slot << 1), <f64>readI64(p));
    count++;
    pos += r;
  }
  if (err == 0 && flags & FLAG_ASSIGN) {
    let next = <i64>firstOffset;
    const epoch = bswap<i32>(leaderEpoch);
    for (let i = 0; i < count; i++) {
      const slot = <usize>i << 2;
      const p = ptr + <usize>load<i32>(positions + slot);
      store<i64>(p, bswap<i64>(next));
      store<i32>(p + 12, epoch);
      store<f64>(baseOffsets + (slot << 1), <f64>next);
      next += <i64>load<i32>(deltas + slot) + 1;
    }
  }
  return (count << 3) | err;
}
