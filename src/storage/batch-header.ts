/**
 * Reading the fields storage needs from stored v2 record batch headers, without decoding
 * records. Layout (Kafka, big-endian): 0 baseOffset i64 | 8 batchLength i32 |
 * 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32 | 21 attributes i16 |
 * 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64 | ... 61 bytes in all.
 * A batch occupies batchLength + 12 bytes.
 */
import { batchHeaderBytes, logOverheadBytes } from "./config.ts";

export interface BatchHeader {
  baseOffset: number;
  /** Whole batch size in bytes (batchLength + 12). */
  sizeBytes: number;
  lastOffset: number;
  leaderEpoch: number;
  maxTimestamp: number;
}

/**
 * Header of the batch at `at`, or null when fewer than a header's bytes remain or the header
 * is implausible (size below a header, negative delta, not magic 2). Never reads past `bytes`.
 */
export function readBatchHeader(bytes: Uint8Array, at: number): BatchHeader | null {
  if (at < 0 || at + batchHeaderBytes > bytes.length) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, batchHeaderBytes);
  const batchLength = dv.getInt32(8);
  const delta = dv.getInt32(23);
  if (batchLength < batchHeaderBytes - logOverheadBytes || delta < 0 || dv.getInt8(16) !== 2) return null;
  const baseOffset = dv.getInt32(0) * 0x1_0000_0000 + dv.getUint32(4);
  if (baseOffset < 0) return null;
  return {
    baseOffset,
    sizeBytes: batchLength + logOverheadBytes,
    lastOffset: baseOffset + delta,
    leaderEpoch: dv.getInt32(12),
    maxTimestamp: dv.getInt32(35) * 0x1_0000_0000 + dv.getUint32(39),
  };
}
