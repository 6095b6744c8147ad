/**
 * Zigzag varints of the v2 record format, read and written one at a time (records interleave
 * varints with raw bytes, so the core's bulk varint calls do not fit here; see builder.ts).
 *
 * Compatibility: a 32-bit varint may take 5 bytes and a 64-bit one 10, as Kafka's ByteUtils
 * accepts (extra high bits in the last byte are truncated the same way for 32-bit values).
 * 64-bit values must be safe integers (|v| ≤ 2^53 - 1): bunka's int64 policy is "number when
 * safe, checked"; anything else is RecordsError "int64OutOfRange", never a silent rounding.
 */
import { RecordsError } from "./records-error.ts";

/** A cursor over untrusted bytes; every read is bounds-checked against `end`. */
export class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    if (start < 0 || end > bytes.length || start > end) throw new RangeError(`Reader: bad range [${start}, ${end}) of ${bytes.length}`);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  int8(): number {
    if (this.pos >= this.end) throw new RecordsError("truncated", `int8 at ${this.pos}`);
    return (this.bytes[this.pos++]! << 24) >> 24;
  }

  int16(): number {
    if (this.end - this.pos < 2) throw new RecordsError("truncated", `int16 at ${this.pos}`);
    const b = this.bytes;
    const v = ((b[this.pos]! << 24) | (b[this.pos + 1]! << 16)) >> 16;
    this.pos += 2;
    return v;
  }

  int32(): number {
    if (this.end - this.pos < 4) throw new RecordsError("truncated", `int32 at ${this.pos}`);
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  varint(): number {
    const b = this.bytes;
    let value = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new RecordsError("truncated", `varint at ${this.pos}`);
      const byte = b[this.pos++]!;
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7;
      if (shift > 28) throw new RecordsError("varintOverflow", `varint longer than 5 bytes ending at ${this.pos}`);
    }
    return (value >>> 1) ^ -(value & 1);
  }

  varlong(): number {
    const b = this.bytes;
    let low = 0; // bits 0..27
    let high = 0; // bits 28..63, < 2^36
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new RecordsError("truncated", `varlong at ${this.pos}`);
      const byte = b[this.pos++]!;
      const bits = byte & 0x7f;
      if (shift < 28) {
        low |= bits << shift;
      } else {
        high += bits * 2 ** (shift - 28);
      }
      if (byte < 0x80) break;
      shift += 7;
      if (shift > 63) throw new RecordsError("varintOverflow", `varlong longer than 10 bytes ending at ${this.pos}`);
    }
    // u = high * 2^28 + low; zigzag: v = (u >>> 1) ^ -(u & 1)
    if (high >= 2 ** 26) throw new RecordsError("int64OutOfRange", `varlong ending at ${this.pos} is not a safe integer`);
    const magnitude = high * 2 ** 27 + (low >>> 1);
    return low & 1 ? -magnitude - 1 : magnitude;
  }

  /** `length` raw bytes as a view (no copy). */
  bytesView(length: number): Uint8Array {
    if (length < 0 || length > this.end - this.pos) {
      throw new RecordsError("truncated", `${length} bytes at ${this.pos}, ${this.end - this.pos} left`);
    }
    const v = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return v;
  }
}

/** Bytes of the zigzag varint of a 32-bit value. */
export function varintSize(v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  let n = 1;
  while (z >= 0x80) {
    z >>>= 7;
    n++;
  }
  return n;
}

/**
 * Splits the zigzag encoding of a safe integer into 28 low bits and the bits above, exactly:
 * z = 2|v| or 2|v| - 1 reaches 2^54, past what a double holds exactly when odd.
 */
function zigzag64(v: number): [low: number, high: number] {
  if (!Number.isSafeInteger(v)) throw new RangeError(`varlong: ${v} is not a safe integer`);
  const negative = v < 0;
  const m = negative ? -v - 1 : v;
  const low = (m % 2 ** 27) * 2 + (negative ? 1 : 0);
  const high = Math.floor(m / 2 ** 27);
  return [low, high];
}

/** Bytes of the zigzag varlong of a safe integer. */
export function varlongSize(v: number): number {
  const [low, high] = zigzag64(v);
  if (high === 0) {
    let n = 1;
    for (let z = low; z >= 0x80; z >>>= 7) n++;
    return n;
  }
  let n = 5;
  for (let h = high; h >= 0x80; h >>>= 7) n++;
  return n;
}

/** Writes the zigzag varint of a 32-bit value at `p`; returns the position after it. */
export function writeVarint(out: Uint8Array, p: number, v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  while (z >= 0x80) {
    out[p++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  out[p++] = z;
  return p;
}

/** Writes the zigzag varlong of a safe integer at `p`; returns the position after it. */
export function writeVarlong(out: Uint8Array, p: number, v: number): number {
  const [low, high] = zigzag64(v);
  let z = low;
  for (let i = 0; i < 4; i++) {
    if (high === 0 && z < 0x80) {
      out[p++] = z;
      return p;
    }
    out[p++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  let h = high;
  while (h >= 0x80) {
    out[p++] = (h & 0x7f) | 0x80;
    h >>>= 7;
  }
  out[p++] = h;
  return p;
}
