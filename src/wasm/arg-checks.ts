/**
 * Argument checks shared by both `CoreOps` implementations, so that the WASM wrappers and
 * the TypeScript twin reject exactly the same inputs with the same `RangeError`s.
 *
 * Invariant: every check here runs before any byte is read or written; an implementation
 * that passed them never indexes outside the arrays it was given.
 */
import type { BatchErrorKind, ScanOptions } from "./api.ts";

/** Size of a v2 record batch header (baseOffset .. records count). */
export const batchHeaderBytes = 61;
/** Smallest legal `batchLength`: the header minus the 12-byte log overhead. */
export const batchLengthMin = batchHeaderBytes - 12;
/** Bytes before `batchLength` is counted: baseOffset (8) + batchLength (4). */
export const batchLogOverheadBytes = 12;
/** Kafka's offset index entry: u32 relative offset, u32 position. */
export const indexEntryBytes = 8;
/** Kafka searches the last 8 KiB of an index first (AbstractIndex.warmEntries). */
export const indexWarmEntries = 8192 / indexEntryBytes;
/** Largest relative offset an index entry can hold. */
export const relativeOffsetMax = 0xffff_ffff;
/** Most bytes one zigzag varint takes. */
export const varint32BytesMax = 5;
export const varint64BytesMax = 10;

/** Error kinds in the order of their numeric codes (code = index + 1; 0 = no error). */
export const batchErrorKinds: readonly BatchErrorKind[] = ["truncated", "badLength", "badMagic", "badCrc", "badRecordCount"];

export function checkCount(count: number, available: number, what: string): void {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`${what}: count ${count} is not a non-negative integer`);
  if (count > available) throw new RangeError(`${what}: count ${count} exceeds the ${available} available`);
}

export function checkCrcSeed(crc: number): void {
  if (!Number.isInteger(crc) || crc < 0 || crc > 0xffff_ffff) {
    throw new RangeError(`crc32c: seed ${crc} is not an unsigned 32-bit integer`);
  }
}

/** Checks an index search argument pair; returns nothing, throws RangeError. */
export function checkIndex(entries: Uint8Array, entryCount: number, what: string): void {
  if (!Number.isInteger(entryCount) || entryCount < 0) {
    throw new RangeError(`${what}: entryCount ${entryCount} is not a non-negative integer`);
  }
  if (entryCount * indexEntryBytes > entries.length) {
    throw new RangeError(`${what}: ${entryCount} entries need ${entryCount * indexEntryBytes} bytes, index has ${entries.length}`);
  }
}

/**
 * Maps an index search target onto the u32 relative-offset space: NaN/fractions are bugs
 * (RangeError); anything below 0 precedes every entry (-1 is returned by the callers);
 * anything above u32 max follows every entry.
 */
export function clampTarget(target: number): number {
  if (!Number.isInteger(target)) throw new RangeError(`indexLookup: target ${target} is not an integer`);
  return target > relativeOffsetMax ? relativeOffsetMax : target;
}

export function checkScanOptions(options: ScanOptions): void {
  const max = options.maxBatchBytes;
  if (!Number.isInteger(max) || max < 0) throw new RangeError(`scanBatches: maxBatchBytes ${max} is not a non-negative integer`);
  const assign = options.assign;
  if (assign !== undefined) {
    if (!Number.isSafeInteger(assign.firstOffset) || assign.firstOffset < 0) {
      throw new RangeError(`scanBatches: firstOffset ${assign.firstOffset} is not a non-negative safe integer`);
    }
    if (!Number.isInteger(assign.leaderEpoch) || assign.leaderEpoch < -0x8000_0000 || assign.leaderEpoch > 0x7fff_ffff) {
      throw new RangeError(`scanBatches: leaderEpoch ${assign.leaderEpoch} is not a 32-bit integer`);
    }
  }
}

/** Exact zigzag varint size of a 32-bit value. */
export function varint32Size(v: number): number {
  const z = ((v << 1) ^ (v >> 31)) >>> 0;
  if (z < 0x80) return 1;
  if (z < 0x4000) return 2;
  if (z < 0x20_0000) return 3;
  if (z < 0x1000_0000) return 4;
  return 5;
}

/** Exact zigzag varint size of a safe integer (RangeError otherwise). */
export function varint64Size(v: number): number {
  if (!Number.isSafeInteger(v)) throw new RangeError(`encodeVarints64: ${v} is not a safe integer`);
  // zigzag(v) = 2|v| (v >= 0) or 2|v| - 1 (v < 0); the size depends on its bit length.
  const z = v >= 0 ? v * 2 : -v * 2 - 1;
  let size = 1;
  let rest = z;
  while (rest >= 0x80) {
    rest = Math.floor(rest / 0x80);
    size++;
  }
  return size;
}
