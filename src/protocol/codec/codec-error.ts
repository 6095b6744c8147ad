/**
 * Typed errors of the wire codec. Everything the codec rejects surfaces as one of these two
 * classes, never as a RangeError from a DataView or an untyped exception:
 *
 * - `DecodeError`: the bytes are not a valid encoding (a condition caused by the peer). The
 *   server turns it into a closed connection or an error response; it must never crash.
 * - `EncodeError`: we were asked to encode something the chosen version cannot carry (a
 *   non-default value of a field the version lacks, a null where the version does not allow
 *   one, an out-of-range integer). That is a bug in the caller, reported with the field path.
 *
 * `field` is a static path such as `ProduceRequest.topicData[].name`; `offset` is the byte
 * position in the decoded buffer where the problem was found.
 */

export type DecodeErrorKind =
  /** A fixed-size read ran past the end of the buffer. */
  | "truncated"
  /** A length or count below -1 (or -1 where null is not representable). */
  | "negativeLength"
  /** A declared length/count that the remaining bytes (or a configured limit) cannot hold. */
  | "tooLarge"
  /** An unsigned varint longer than 5 bytes or wider than 32 bits; a varlong longer than 10. */
  | "badVarint"
  /** An int64 outside JavaScript's safe-integer range (see the int64 policy in reader.ts). */
  | "unsafeInt64"
  /** A null where the version does not allow one. */
  | "nullNotAllowed"
  /** Bytes that are not valid UTF-8 in a string field. */
  | "badUtf8"
  /** A value that violates the format in another way (e.g. a tagged field size mismatch). */
  | "badValue"
  /** Bytes left over after a complete message. */
  | "trailingBytes"
  /** An api key the codec does not know. */
  | "unknownApiKey"
  /** A version outside the api's valid range. */
  | "unsupportedVersion"
  /** A frame size prefix below zero. */
  | "negativeFrameSize"
  /** A frame size prefix above the configured maximum. */
  | "frameTooLarge";

export class DecodeError extends Error {
  override readonly name = "DecodeError";
  readonly kind: DecodeErrorKind;
  readonly field: string;
  readonly offset: number;

  constructor(kind: DecodeErrorKind, field: string, offset: number, detail?: string) {
    super(`${kind} at ${field} (byte ${offset})${detail === undefined ? "" : `: ${detail}`}`);
    this.kind = kind;
    this.field = field;
    this.offset = offset;
  }
}

export type EncodeErrorKind =
  /** A non-default value in a field the version does not have (and is not ignorable). */
  | "unsupportedField"
  /** A null in a version where the field is not nullable. */
  | "nullNotAllowed"
  /** A number outside the wire type's range, or not an integer. */
  | "outOfRange"
  /** A string or byte array too long for its length prefix. */
  | "tooLarge"
  /** Any other value the format cannot represent (bad UUID text, duplicate tag). */
  | "badValue"
  /** A version outside the message's valid range. */
  | "unsupportedVersion";

export class EncodeError extends Error {
  override readonly name = "EncodeError";
  readonly kind: EncodeErrorKind;
  readonly field: string;

  constructor(kind: EncodeErrorKind, field: string, detail?: string) {
    super(`${kind} at ${field}${detail === undefined ? "" : `: ${detail}`}`);
    this.kind = kind;
    this.field = field;
  }
}
