/**
 * `Reader`: a bounds-checked cursor over one received frame (a Uint8Array), used by the
 * generated decoders in `src/protocol/messages/`. It owns the primitive encodings of Kafka's
 * protocol (docs/protocol.html "Protocol Primitive Types"): big-endian fixed-width integers,
 * unsigned varints (7 bits per byte, little-endian groups), zig-zag varints, int16/int32
 * length-prefixed strings/bytes/arrays (-1 = null) and their compact forms (unsigned varint
 * of length+1, 0 = null), 16-byte UUIDs.
 *
 * Invariants:
 * - Every read checks `pos + size <= end` first and throws `DecodeError("truncated")`; no read
 *   goes through a DataView out of range, so no RangeError escapes.
 * - Every length or element count read off the wire is checked against the bytes that remain
 *   (a count N needs at least N × the element's minimum size) before anything is allocated;
 *   decoding a frame never allocates more than a small constant factor of the frame's size.
 * - `records` (and Kafka's `zeroCopy` bytes) decode to views sharing the frame's ArrayBuffer;
 *   every other `bytes` field is copied so it does not pin the frame in memory.
 *
 * int64 policy (the one written policy, STYLE.md habit 6): int64 fields decode to a JS
 * `number`, read as a signed high half and an unsigned low half. Values outside
 * ±(2^53 − 1) throw `DecodeError("unsafeInt64")` instead of silently losing precision. Every
 * int64 in Kafka's request/response schemas is an offset, epoch, timestamp, duration, id or
 * sentinel (-1, -2, -3) that fits comfortably; no bigint on the hot path (BigInt is ~4.5×
 * slower in Bun). The writer applies the same rule (EncodeError "outOfRange").
 */
import { DecodeError } from "./codec-error.ts";
import { uuidBytesToText } from "./uuid.ts";
import type { RawTaggedField } from "./writer.ts";

const TWO_POW_32 = 4294967296;
/** High halves of ±(2^53 − 1): values with |hi| beyond these are unsafe. */
const INT64_SAFE_HI_MAX = 0x1fffff;
const INT64_SAFE_HI_MIN = -0x200000;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Strings up to this many bytes try an ASCII loop before TextDecoder (cheaper for names). */
const ASCII_FAST_PATH_MAX = 48;
const STRING_MAX_BYTES = 0x7fff;

export class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Next byte to read, relative to `bytes`. */
  pos: number;
  /** One past the last readable byte, relative to `bytes`. */
  end: number;

  constructor(bytes: Uint8Array, pos = 0, end: number = bytes.length) {
    if (!(pos >= 0 && pos <= end && end <= bytes.length)) {
      throw new Error(`Reader: bad window [${pos}, ${end}) over ${bytes.length} bytes`);
    }
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  /** Throws `truncated` unless `n` more bytes are available. */
  need(n: number, field: string): void {
    if (n > this.end - this.pos) throw new DecodeError("truncated", field, this.pos, `need ${n} bytes, ${this.end - this.pos} left`);
  }

  /** Throws `trailingBytes` unless the reader is exhausted. */
  expectEnd(field: string): void {
    if (this.pos !== this.end) throw new DecodeError("trailingBytes", field, this.pos, `${this.end - this.pos} bytes left`);
  }

  readInt8(field: string): number {
    this.need(1, field);
    return this.view.getInt8(this.pos++);
  }

  readBool(field: string): boolean {
    this.need(1, field);
    return this.bytes[this.pos++] !== 0;
  }

  readInt16(field: string): number {
    this.need(2, field);
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  readUint16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  readInt32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  readUint32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** See the int64 policy in the module doc. */
  readInt64(field: string): number {
    this.need(8, field);
    const hi = this.view.getInt32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    if (hi > INT64_SAFE_HI_MAX || hi < INT64_SAFE_HI_MIN || (hi === INT64_SAFE_HI_MIN && lo === 0)) {
      throw new DecodeError("unsafeInt64", field, this.pos, `high word ${hi}`);
    }
    this.pos += 8;
    return hi * TWO_POW_32 + lo;
  }

  readFloat64(field: string): number {
    this.need(8, field);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  readUuid(field: string): string {
    this.need(16, field);
    const s = uuidBytesToText(this.bytes, this.pos);
    this.pos += 16;
    return s;
  }

  /** Unsigned 32-bit varint: at most 5 bytes, the 5th carrying at most 4 bits. */
  readUnsignedVarint(field: string): number {
    const bytes = this.bytes;
    let pos = this.pos;
    const end = this.end;
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw new DecodeError("truncated", field, pos, "varint");
      const b = bytes[pos++] ?? 0;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    if (pos >= end) throw new DecodeError("truncated", field, pos, "varint");
    const b = bytes[pos++] ?? 0;
    if (b > 0x0f) throw new DecodeError("badVarint", field, pos - 1, "unsigned varint wider than 32 bits");
    this.pos = pos;
    return (result | (b << 28)) >>> 0;
  }

  /** Zig-zag signed 32-bit varint (record headers and record fields use these). */
  readVarint(field: string): number {
    const u = this.readUnsignedVarint(field);
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zig-zag signed 64-bit varint, at most 10 bytes; the int64 policy applies. */
  readVarlong(field: string): number {
    const bytes = this.bytes;
    const at = this.pos;
    let pos = at;
    // low: bits 0..27 (first 4 bytes); high: bits 28.. as an exact float (< 2^36).
    let low = 0;
    let high = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) throw new DecodeError("truncated", field, pos, "varlong");
      const b = bytes[pos++] ?? 0;
      if (i < 4) low |= (b & 0x7f) << (7 * i);
      else {
        high += (b & 0x7f) * scale;
        scale *= 128;
      }
      if (b < 0x80) {
        this.pos = pos;
        // u = high * 2^28 + low; value = u even ? u / 2 : -(u + 1) / 2, with half = floor(u / 2).
        if (high >= 0x4000000) throw new DecodeError("unsafeInt64", field, at, "varlong");
        const half = high * 0x8000000 + (low >>> 1);
        if ((low & 1) === 0) return half;
        if (half === 9007199254740991) throw new DecodeError("unsafeInt64", field, at, "varlong");
        return -half - 1;
      }
    }
    throw new DecodeError("badVarint", field, at, "varlong longer than 10 bytes");
  }

  /** Length of a string/bytes field: -1 for null, else checked against the remaining bytes. */
  private length(compact: boolean, wide: boolean, nullable: boolean, field: string): number {
    const at = this.pos;
    let n: number;
    if (compact) n = this.readUnsignedVarint(field) - 1;
    else n = wide ? this.readInt32(field) : this.readInt16(field);
    if (n < 0) {
      if (n < -1) throw new DecodeError("negativeLength", field, at, `length ${n}`);
      if (!nullable) throw new DecodeError("nullNotAllowed", field, at);
      return -1;
    }
    if (n > this.end - this.pos) throw new DecodeError("tooLarge", field, at, `length ${n}, ${this.end - this.pos} bytes left`);
    // Kafka rejects strings (compact or not) longer than 32767 bytes; so do we.
    if (!wide && n > STRING_MAX_BYTES) throw new DecodeError("tooLarge", field, at, `string of ${n} bytes exceeds ${STRING_MAX_BYTES}`);
    return n;
  }

  private utf8(n: number, field: string): string {
    const bytes = this.bytes;
    const start = this.pos;
    const stop = start + n;
    this.pos = stop;
    if (n <= ASCII_FAST_PATH_MAX) {
      let s = "";
      let i = start;
      for (; i < stop; i++) {
        const b = bytes[i] ?? 0;
        if (b >= 0x80) break;
        s += String.fromCharCode(b);
      }
      if (i === stop) return s;
    }
    try {
      return utf8.decode(bytes.subarray(start, stop));
    } catch {
      throw new DecodeError("badUtf8", field, start);
    }
  }

  readString(field: string): string {
    return this.utf8(this.length(false, false, false, field), field);
  }

  readNullableString(field: string): string | null {
    const n = this.length(false, false, true, field);
    return n < 0 ? null : this.utf8(n, field);
  }

  readCompactString(field: string): string {
    return this.utf8(this.length(true, false, false, field), field);
  }

  readCompactNullableString(field: string): string | null {
    const n = this.length(true, false, true, field);
    return n < 0 ? null : this.utf8(n, field);
  }

  /** A copy of the next `n` bytes (the caller checked bounds). */
  private copy(n: number): Uint8Array {
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A view of the next `n` bytes sharing the frame's memory (the caller checked bounds). */
  private viewOf(n: number): Uint8Array {
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  readBytes(field: string): Uint8Array {
    return this.copy(this.length(false, true, false, field));
  }

  readNullableBytes(field: string): Uint8Array | null {
    const n = this.length(false, true, true, field);
    return n < 0 ? null : this.copy(n);
  }

  readCompactBytes(field: string): Uint8Array {
    return this.copy(this.length(true, true, false, field));
  }

  readCompactNullableBytes(field: string): Uint8Array | null {
    const n = this.length(true, true, true, field);
    return n < 0 ? null : this.copy(n);
  }

  /** `records` and zero-copy bytes, non-null: a view into the frame. */
  readBytesView(compact: boolean, field: string): Uint8Array {
    return this.viewOf(this.length(compact, true, false, field));
  }

  /** `records` and zero-copy bytes, nullable: a view into the frame, or null. */
  readNullableBytesView(compact: boolean, field: string): Uint8Array | null {
    const n = this.length(compact, true, true, field);
    return n < 0 ? null : this.viewOf(n);
  }

  /**
   * Element count of an array whose elements take at least `minElementBytes` each (at least
   * 1 is assumed, so a count never exceeds the remaining bytes). -1 means null.
   */
  readArrayLength(compact: boolean, nullable: boolean, minElementBytes: number, field: string): number {
    const at = this.pos;
    const n = compact ? this.readUnsignedVarint(field) - 1 : this.readInt32(field);
    if (n < 0) {
      if (n < -1) throw new DecodeError("negativeLength", field, at, `count ${n}`);
      if (!nullable) throw new DecodeError("nullNotAllowed", field, at);
      return -1;
    }
    const per = minElementBytes > 1 ? minElementBytes : 1;
    if (n * per > this.end - this.pos) {
      throw new DecodeError("tooLarge", field, at, `count ${n} × ${per} bytes, ${this.end - this.pos} bytes left`);
    }
    return n;
  }

  /** Marker byte of a nullable struct: false for null (negative), true for present. */
  readStructPresence(field: string): boolean {
    return this.readInt8(field) >= 0;
  }

  /**
   * Header of one tagged field: returns the tag and leaves the size (checked against the
   * remaining bytes) in `taggedSize`.
   */
  readTaggedFieldHeader(field: string): number {
    const tag = this.readUnsignedVarint(field);
    const at = this.pos;
    const size = this.readUnsignedVarint(field);
    if (size > this.end - this.pos) throw new DecodeError("tooLarge", field, at, `tagged field ${tag} size ${size}`);
    this.taggedSize = size;
    return tag;
  }

  /** Size of the tagged field whose header was read last. */
  taggedSize = 0;

  /**
   * A tagged-field section in which this version knows no tags: every field is kept raw.
   * Undefined when the section is empty (the common case, no allocation).
   */
  readUnknownTaggedFields(field: string): RawTaggedField[] | undefined {
    let out: RawTaggedField[] | undefined;
    for (let n = this.readUnsignedVarint(field); n > 0; n--) {
      const tag = this.readTaggedFieldHeader(field);
      (out ??= []).push({ tag, data: this.readRaw(this.taggedSize, field) });
    }
    return out;
  }

  /** Copies the raw bytes of an unknown tagged field (so they do not pin the frame). */
  readRaw(n: number, field: string): Uint8Array {
    this.need(n, field);
    return this.copy(n);
  }

  /** Throws `badValue` unless a known tagged field ended exactly where its size said. */
  expectPosition(end: number, field: string): void {
    if (this.pos !== end) throw new DecodeError("badValue", field, this.pos, `tagged field should end at byte ${end}`);
  }
}
