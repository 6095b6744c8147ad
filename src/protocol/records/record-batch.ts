/**
 * v2 record batches in wire form: `RecordBatchView` reads and patches one batch in place
 * over the caller's bytes (no copy), `walkBatches` checks a run of batches with the core's
 * `scanBatches` and yields a view per valid batch.
 *
 * Batch header (61 bytes, big-endian; the log's 12-byte overhead is baseOffset + batchLength):
 *    0 baseOffset i64          8 batchLength i32 (bytes after this field)
 *   12 partitionLeaderEpoch i32                   16 magic i8 (2)
 *   17 crc u32: CRC32C of bytes 21..end (so baseOffset and partitionLeaderEpoch can be
 *      patched without recomputing it)
 *   21 attributes i16: bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
 *      3 timestampType (1 = LogAppendTime), 4 isTransactional, 5 isControl,
 *      6 hasDeleteHorizonMs (baseTimestamp is the delete horizon), 7-15 unused
 *   23 lastOffsetDelta i32    27 baseTimestamp i64    35 maxTimestamp i64
 *   43 producerId i64         51 producerEpoch i16    53 baseSequence i32
 *   57 recordCount i32        61 records (compressed as one block when bits 0-2 ≠ 0)
 * Magic 0/1 message sets share bytes 0..16 (offset, size, crc, magic at 16): they are
 * recognised by that byte and refused ("legacyMagic"), as Kafka 4 refuses them.
 *
 * int64 policy: fields are JS numbers; a value that is not a safe integer is RecordsError
 * "int64OutOfRange" when read, never silently rounded.
 */
import type { Compression } from "../../platform/compression.ts";
import type { BatchErrorKind, BatchScan, ScanOptions } from "../../wasm/api.ts";
import { core } from "../../wasm/index.ts";
import { type CompressionCodecName, codecName, decompressRecords } from "./compression.ts";
import { type DecodedRecord, decodeRecords } from "./record.ts";
import { RecordsError, type RecordsErrorKind } from "./records-error.ts";

export const batchHeaderBytes = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const batchLogOverheadBytes = 12;
export const batchLengthMin = batchHeaderBytes - batchLogOverheadBytes;
export const currentMagic = 2;
/** Bytes covered by the CRC start here (attributes). */
export const crcStart = 21;

const attrCompressionMask = 0x07;
const attrTimestampType = 0x08;
const attrTransactional = 0x10;
const attrControl = 0x20;
const attrDeleteHorizon = 0x40;

export const attributeBits = {
  compressionMask: attrCompressionMask,
  logAppendTime: attrTimestampType,
  transactional: attrTransactional,
  control: attrControl,
  deleteHorizon: attrDeleteHorizon,
} as const;

export type TimestampType = "CreateTime" | "LogAppendTime";

function readI32(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

function writeI32(b: Uint8Array, p: number, v: number): void {
  b[p] = (v >>> 24) & 0xff;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

function readI64(b: Uint8Array, p: number, field: string): number {
  const hi = readI32(b, p);
  const lo = readI32(b, p + 4) >>> 0;
  if (hi < -0x20_0000 || hi > 0x1f_ffff || (hi === -0x20_0000 && lo === 0)) {
    throw new RecordsError("int64OutOfRange", `${field} is not a safe integer (high word 0x${(hi >>> 0).toString(16)})`);
  }
  return hi * 0x1_0000_0000 + lo;
}

/** Writes a safe integer as a big-endian int64. */
export function writeI64(b: Uint8Array, p: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`writeI64: ${v} is not a safe integer`);
  // Floor division keeps the low word in [0, 2^32) for negative values too (-1 is all ones).
  const hi = Math.floor(v / 0x1_0000_0000);
  const lo = v - hi * 0x1_0000_0000;
  writeI32(b, p, hi | 0);
  writeI32(b, p + 4, lo >>> 0);
}

/** Why a batch or run of batches was refused, with "legacyMagic" split out of "badMagic". */
export type BatchProblem = BatchErrorKind | "legacyMagic";

function refineMagic(bytes: Uint8Array, position: number): BatchProblem {
  const magic = bytes[position + 16];
  return magic === 0 || magic === 1 ? "legacyMagic" : "badMagic";
}

export class RecordBatchView {
  /** Exactly one batch: `bytes.length === batchLength + 12`. */
  readonly bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * A view of the batch at the start of `bytes` (a subarray, no copy). Checks the header is
   * complete, the magic is 2, and batchLength is within [49, available]; not the CRC.
   */
  static at(bytes: Uint8Array, position = 0): RecordBatchView {
    if (position < 0 || position > bytes.length) throw new RangeError(`RecordBatchView.at: position ${position} of ${bytes.length}`);
    const available = bytes.length - position;
    if (available > 16 && bytes[position + 16] !== currentMagic) {
      const problem = refineMagic(bytes, position);
      throw new RecordsError(problem, `magic ${bytes[position + 16]} at ${position}`);
    }
    if (available < batchHeaderBytes) throw new RecordsError("truncated", `${available} bytes, a batch header needs ${batchHeaderBytes}`);
    const length = readI32(bytes, position + 8);
    if (length < batchLengthMin) throw new RecordsError("badLength", `batchLength ${length} < ${batchLengthMin}`);
    if (length > available - batchLogOverheadBytes) {
      throw new RecordsError("truncated", `batchLength ${length} but ${available - batchLogOverheadBytes} bytes follow`);
    }
    return new RecordBatchView(bytes.subarray(position, position + batchLogOverheadBytes + length));
  }

  /** Wraps bytes already validated by `core.scanBatches` (walkBatches). */
  static unchecked(bytes: Uint8Array): RecordBatchView {
    return new RecordBatchView(bytes);
  }

  get sizeInBytes(): number {
    return this.bytes.length;
  }
  get baseOffset(): number {
    return readI64(this.bytes, 0, "baseOffset");
  }
  get batchLength(): number {
    return readI32(this.bytes, 8);
  }
  get partitionLeaderEpoch(): number {
    return readI32(this.bytes, 12);
  }
  get magic(): number {
    return (this.bytes[16]! << 24) >> 24;
  }
  /** The stored CRC, unsigned. */
  get crc(): number {
    return readI32(this.bytes, 17) >>> 0;
  }
  get attributes(): number {
    return ((this.bytes[21]! << 24) | (this.bytes[22]! << 16)) >> 16;
  }
  get compressionId(): number {
    return this.attributes & attrCompressionMask;
  }
  /** RecordsError "unknownCodec" for ids 5-7. */
  get compression(): CompressionCodecName {
    return codecName(this.compressionId);
  }
  get timestampType(): TimestampType {
    return this.attributes & attrTimestampType ? "LogAppendTime" : "CreateTime";
  }
  get isTransactional(): boolean {
    return (this.attributes & attrTransactional) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & attrControl) !== 0;
  }
  get hasDeleteHorizon(): boolean {
    return (this.attributes & attrDeleteHorizon) !== 0;
  }
  get lastOffsetDelta(): number {
    return readI32(this.bytes, 23);
  }
  get baseTimestamp(): number {
    return readI64(this.bytes, 27, "baseTimestamp");
  }
  get maxTimestamp(): number {
    return readI64(this.bytes, 35, "maxTimestamp");
  }
  /** baseTimestamp when it holds the compaction delete horizon, else null. */
  get deleteHorizonMs(): number | null {
    return this.hasDeleteHorizon ? this.baseTimestamp : null;
  }
  get producerId(): number {
    return readI64(this.bytes, 43, "producerId");
  }
  get producerEpoch(): number {
    return ((this.bytes[51]! << 24) | (this.bytes[52]! << 16)) >> 16;
  }
  get baseSequence(): number {
    return readI32(this.bytes, 53);
  }
  get recordCount(): number {
    return readI32(this.bytes, 57);
  }
  get lastOffset(): number {
    return this.baseOffset + this.lastOffsetDelta;
  }
  get nextOffset(): number {
    return this.lastOffset + 1;
  }
  /** The records section as stored (compressed when compression ≠ none). A view. */
  get recordsSection(): Uint8Array {
    return this.bytes.subarray(batchHeaderBytes);
  }

  /** Assigns the offset in place (outside the CRC). */
  setBaseOffset(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`setBaseOffset: ${offset}`);
    writeI64(this.bytes, 0, offset);
  }

  /** Stamps the leader epoch in place (outside the CRC). */
  setPartitionLeaderEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < -0x8000_0000 || epoch > 0x7fff_ffff) throw new RangeError(`setPartitionLeaderEpoch: ${epoch}`);
    writeI32(this.bytes, 12, epoch);
  }

  /**
   * Switches the batch to LogAppendTime with `timestampMs` as maxTimestamp (what a broker
   * with message.timestamp.type=LogAppendTime does); both fields are inside the CRC, so it
   * is recomputed.
   */
  setLogAppendTime(timestampMs: number): void {
    const attrs = this.attributes | attrTimestampType;
    this.bytes[21] = (attrs >>> 8) & 0xff;
    this.bytes[22] = attrs & 0xff;
    writeI64(this.bytes, 35, timestampMs);
    writeI32(this.bytes, 17, this.computeCrc());
  }

  /** CRC32C over attributes..end, unsigned. */
  computeCrc(): number {
    return core.crc32c(this.bytes.subarray(crcStart)) >>> 0;
  }

  verifyCrc(): boolean {
    return this.computeCrc() === this.crc;
  }

  /**
   * Decompresses (when needed) and decodes every record. `maxBytes` bounds the decompressed
   * section (zip bombs); `compression` is needed for compressed batches.
   */
  records(options: { maxBytes: number; compression?: Compression }): DecodedRecord[] {
    return this.inflate(options).records;
  }

  /**
   * `records` with the decompressed records section it decoded (the stored section itself
   * when uncompressed), for callers that go on to write the records under another codec.
   */
  inflate(options: { maxBytes: number; compression?: Compression }): { section: Uint8Array; records: DecodedRecord[] } {
    const count = this.recordCount;
    if (count < 0) throw new RecordsError("badRecordCount", `recordCount ${count}`);
    const section = decompressRecords(this.compression, this.recordsSection, options.maxBytes, options.compression);
    const ctx =
      this.timestampType === "LogAppendTime"
        ? { count, baseOffset: this.baseOffset, baseTimestamp: this.baseTimestamp, logAppendTimeMs: this.maxTimestamp }
        : { count, baseOffset: this.baseOffset, baseTimestamp: this.baseTimestamp };
    const records = decodeRecords(section, ctx);
    const last = records[records.length - 1];
    if (last !== undefined && last.offsetDelta > this.lastOffsetDelta) {
      throw new RecordsError("badRecordCount", `record offsetDelta ${last.offsetDelta} > lastOffsetDelta ${this.lastOffsetDelta}`);
    }
    return { section, records };
  }
}

export interface BatchWalk {
  /** Views of the valid batches, in order (subarrays of the input). */
  batches: RecordBatchView[];
  /** Bytes spanned by `batches`. */
  validBytes: number;
  /** Why the walk stopped early; null when every byte was a valid batch. */
  problem: BatchProblem | null;
  /** The core's raw scan (per-batch arrays), for callers that want the numbers only. */
  scan: BatchScan;
}

/**
 * Checks a run of consecutive batches with `core.scanBatches` (and patches offsets/epochs
 * when `options.assign` is given and all are valid), returning a view per valid batch.
 */
export function walkBatches(bytes: Uint8Array, options: ScanOptions): BatchWalk {
  const scan = core.scanBatches(bytes, options);
  const batches: RecordBatchView[] = [];
  for (let i = 0; i < scan.count; i++) {
    const p = scan.positions[i]!;
    batches.push(RecordBatchView.unchecked(bytes.subarray(p, p + scan.sizes[i]!)));
  }
  // The core checks sizes before the magic byte, so a (small) magic 0/1 message set may come
  // back as truncated/badLength; the byte at +16 is the magic in every format.
  let problem: BatchProblem | null = scan.error;
  if (problem !== null && scan.validBytes + 16 < bytes.length) {
    const magic = bytes[scan.validBytes + 16];
    if (problem === "badMagic" || magic === 0 || magic === 1) problem = refineMagic(bytes, scan.validBytes);
  }
  return { batches, validBytes: scan.validBytes, problem, scan };
}

/** As walkBatches, but every byte must be valid: RecordsError otherwise (the produce path). */
export function requireBatches(bytes: Uint8Array, options: ScanOptions): RecordBatchView[] {
  const walk = walkBatches(bytes, options);
  if (walk.problem !== null) {
    const kind: RecordsErrorKind = walk.problem;
    throw new RecordsError(kind, `batch ${walk.batches.length} at byte ${walk.validBytes} of ${bytes.length}`);
  }
  return walk.batches;
}

/** Generator form of walkBatches' views, for loops that may stop early. */
export function* batchViews(bytes: Uint8Array, options: ScanOptions): Generator<RecordBatchView, BatchProblem | null> {
  const walk = walkBatches(bytes, options);
  yield* walk.batches;
  return walk.problem;
}
