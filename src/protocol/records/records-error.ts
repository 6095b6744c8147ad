/**
 * The one error type of the record layer: every way untrusted record bytes can be wrong,
 * as a closed set of kinds, each mapped to the Kafka error code a handler returns for it.
 * Thrown by views, decoders and codecs; caught at the request handler and turned into a
 * partition-level error code. Bugs (bad arguments from our own code) stay plain Errors.
 */
import { ErrorCode } from "../errors.ts";

export type RecordsErrorKind =
  /** Fewer bytes than a header, a length or a count says. */
  | "truncated"
  /** A batch length outside [49, limit]. */
  | "badLength"
  /** Magic byte is not 0, 1 or 2. */
  | "badMagic"
  /** Magic 0/1 message set: recognised, refused with INVALID_RECORD as Kafka 4 does for Produce v3+. */
  | "legacyMagic"
  | "badCrc"
  /** recordCount / lastOffsetDelta inconsistent, or records do not match the count. */
  | "badRecordCount"
  /** A record whose fields disagree with its own length, a negative size, bad headers... */
  | "badRecord"
  /** A varint longer than its type allows, or a value outside the safe-integer range. */
  | "varintOverflow"
  /** A 64-bit field whose value is not a safe integer (|v| >= 2^53). */
  | "int64OutOfRange"
  /** Compression attribute 5..7. */
  | "unknownCodec"
  /** Compressed data a codec refused. */
  | "badCompression"
  /** Decompressed data would exceed the caller's limit (zip bomb guard). */
  | "tooLarge"
  /** A control record whose key or value is malformed. */
  | "badControlRecord";

const codeByKind: Record<RecordsErrorKind, number> = {
  truncated: ErrorCode.CORRUPT_MESSAGE,
  badLength: ErrorCode.CORRUPT_MESSAGE,
  badMagic: ErrorCode.CORRUPT_MESSAGE,
  legacyMagic: ErrorCode.INVALID_RECORD,
  badCrc: ErrorCode.CORRUPT_MESSAGE,
  badRecordCount: ErrorCode.INVALID_RECORD,
  badRecord: ErrorCode.INVALID_RECORD,
  varintOverflow: ErrorCode.CORRUPT_MESSAGE,
  int64OutOfRange: ErrorCode.INVALID_RECORD,
  unknownCodec: ErrorCode.CORRUPT_MESSAGE,
  badCompression: ErrorCode.CORRUPT_MESSAGE,
  tooLarge: ErrorCode.INVALID_RECORD,
  badControlRecord: ErrorCode.INVALID_RECORD,
};

export class RecordsError extends Error {
  override readonly name = "RecordsError";
  /** The Kafka error code a produce/fetch handler reports for this condition. */
  readonly errorCode: number;
  constructor(
    readonly kind: RecordsErrorKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
    this.errorCode = codeByKind[kind];
  }
}
