/**
 * The contract of bunka's hot-path core. Two implementations satisfy it: the WASM module
 * compiled from `assembly/` and its plain-TypeScript twin (the fallback with
 * `BUNKA_WASM=off`, and the oracle of the differential tests). `src/wasm/index.ts` exports
 * the selected `core`; per operation it may keep whichever form measured faster.
 *
 * Conventions: inputs are ordinary `Uint8Array`s (any offset, any alignment); 64-bit
 * integers travel as JS numbers and must be safe integers (|v| < 2^53); a wrapper given an
 * out-of-range argument (negative length, count past the buffer) throws `RangeError`,
 * never reads out of bounds. Byte layouts are Kafka's: big-endian on disk and on the wire.
 */

/** Why a batch scan stopped before the end of its input. */
export type BatchErrorKind =
  /** Fewer bytes than the batch header (61 bytes) or than `batchLength` says: a torn tail. */
  | "truncated"
  /** `batchLength` below the smallest possible v2 batch (49) or beyond `maxBatchBytes`. */
  | "badLength"
  /** Magic byte is not 2 (magic 0/1 message sets are refused). */
  | "badMagic"
  /** CRC32C over attributes..end does not match the header's crc field. */
  | "badCrc"
  /** `requireDenseOffsets` and recordCount != lastOffsetDelta + 1, or a negative count/delta. */
  | "badRecordCount";

export interface ScanOptions {
  /** Verify each batch's CRC32C (produce path, recovery). */
  verifyCrc: boolean;
  /** Require recordCount === lastOffsetDelta + 1 (batches straight from a producer). */
  requireDenseOffsets: boolean;
  /** A batch larger than this (12-byte log overhead included) is `badLength`. */
  maxBatchBytes: number;
  /**
   * When set and every batch is valid, patch each batch in place: baseOffset = the next
   * offset (starting at `firstOffset`, advancing by lastOffsetDelta + 1) and
   * partitionLeaderEpoch = `leaderEpoch`. Neither field is covered by the CRC. When any
   * batch is invalid, nothing is patched.
   */
  assign?: { firstOffset: number; leaderEpoch: number };
}

/** Result of scanning a run of consecutive v2 record batches. Per-batch arrays are valid for [0, count). */
export interface BatchScan {
  /** Whole batches that passed every check, from the start of the input. */
  count: number;
  /** Bytes spanned by those batches. */
  validBytes: number;
  /** Why the scan stopped early; null when `validBytes === input.length`. */
  error: BatchErrorKind | null;
  /** Byte position of each batch within the input. */
  positions: Int32Array;
  /** Total size of each batch: batchLength + 12. */
  sizes: Int32Array;
  /** baseOffset of each batch (after patching, when `assign` was given). */
  baseOffsets: Float64Array;
  lastOffsetDeltas: Int32Array;
  /** maxTimestamp of each batch. */
  maxTimestamps: Float64Array;
  recordCounts: Int32Array;
  /** attributes (compression, timestamp type, transactional, control bits). */
  attributes: Int32Array;
}

/**
 * CRC32C of bytes[start, end), continuing from `crc` (0 for a fresh CRC); an unsigned
 * 32-bit result. The form a CRC provider outside `CoreOps` takes (the native one, see
 * src/wasm/index.ts). Throws RangeError for a range outside `bytes`.
 */
export type CrcRange = (bytes: Uint8Array, start: number, end: number, crc: number) => number;

export interface CoreOps {
  /** Which implementation this is, for logs and benchmarks. */
  readonly kind: "wasm" | "ts";
  /**
   * CRC32C (Castagnoli) of `bytes`. Incremental: crc32c(b, crc32c(a)) === crc32c(a ++ b);
   * `crc` defaults to 0 (the CRC of nothing). crc32c("123456789") === 0xE3069283.
   */
  crc32c(bytes: Uint8Array, crc?: number): number;
  /** Scans (and optionally patches) consecutive v2 batches; see ScanOptions. */
  scanBatches(bytes: Uint8Array, options: ScanOptions): BatchScan;
  /**
   * Zigzag varint encode `count` values (int32 range) from `values` into `out`; returns bytes
   * written. Throws RangeError if `out` may be too small (5 bytes per value is always enough).
   */
  encodeVarints32(values: Int32Array, count: number, out: Uint8Array): number;
  /**
   * Decodes `count` zigzag varints (int32 range) from `bytes` into `out`; returns bytes
   * consumed, or -1 if the input is truncated or a varint is longer than 5 bytes.
   */
  decodeVarints32(bytes: Uint8Array, count: number, out: Int32Array): number;
  /** As encodeVarints32 for 64-bit zigzag varints of safe integers (10 bytes per value at most). */
  encodeVarints64(values: Float64Array, count: number, out: Uint8Array): number;
  /** As decodeVarints32 for 64-bit varints; -1 also when a value is outside ±(2^53 - 1). */
  decodeVarints64(bytes: Uint8Array, count: number, out: Float64Array): number;
  /**
   * Kafka offset index search. `entries` holds `entryCount` 8-byte entries (big-endian u32
   * relative offset, u32 position), ascending by relative offset. Returns the slot of the
   * largest entry whose relative offset <= `target`, or -1 when there is none (empty index,
   * target before the first entry). Searches the warm tail (the last 8 KiB of entries)
   * first when the target falls in it, as Kafka does, so recent lookups touch few pages.
   */
  indexLookup(entries: Uint8Array, entryCount: number, target: number): number;
  /** indexLookup for many targets against one index; writes slots into `out`. */
  indexLookupMany(entries: Uint8Array, entryCount: number, targets: Uint32Array, out: Int32Array): void;
}
