/**
 * Reader/Writer primitives: Kafka's encodings, bounds checks and the typed errors for every
 * malformed case (truncation, negative and huge lengths, counts beyond the remaining bytes,
 * overlong varints, unsafe int64, bad UTF-8), and the Writer's chunk list (references for
 * large external arrays, copies for small ones, patched size slots).
 */
import { describe, expect, test } from "bun:test";
import { SeededPrng } from "../../../src/platform/prng.ts";
import { DecodeError, EncodeError } from "../../../src/protocol/codec/codec-error.ts";
import { Reader } from "../../../src/protocol/codec/reader.ts";
import { uuidBytesToText, uuidTextToBytes } from "../../../src/protocol/codec/uuid.ts";
import { chunksLength, flattenChunks, REFERENCE_MIN_BYTES, rejectUnknownTaggedFields, writeTaggedFields, Writer } from "../../../src/protocol/codec/writer.ts";

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

function decodeErrorOf(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new Error(`expected DecodeError, got ${String(e)}`);
  }
  throw new Error("expected DecodeError, nothing thrown");
}

describe("fixed-width integers", () => {
  test("big-endian, signed and unsigned", () => {
    const r = new Reader(bytes(0xff, 0xff, 0xfe, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01));
    expect(r.readInt8("a")).toBe(-1);
    expect(r.readInt16("b")).toBe(-2);
    expect(r.readUint16("c")).toBe(0x8000);
    expect(r.readInt32("d")).toBe(0xffffffff | 0);
    expect(r.readUint32("e")).toBe(1);
    expect(r.remaining()).toBe(0);
  });

  test("every read past the end is a truncated DecodeError with the field path", () => {
    const reads: ((r: Reader) => unknown)[] = [
      (r) => r.readInt8("f"),
      (r) => r.readInt16("f"),
      (r) => r.readInt32("f"),
      (r) => r.readInt64("f"),
      (r) => r.readFloat64("f"),
      (r) => r.readUuid("f"),
      (r) => r.readUnsignedVarint("f"),
      (r) => r.readVarlong("f"),
      (r) => r.readBool("f"),
    ];
    for (const read of reads) {
      const e = decodeErrorOf(() => read(new Reader(bytes())));
      expect(e.kind).toBe("truncated");
      expect(e.field).toBe("f");
    }
  });

  test("int64 policy: safe integers round-trip, others are unsafeInt64", () => {
    for (const v of [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), 1700000000000, -2, -3]) {
      const w = new Writer(8);
      w.writeInt64(v, "x");
      expect(new Reader(w.flatten()).readInt64("x")).toBe(v);
    }
    const unsafe = [bytes(0x00, 0x20, 0, 0, 0, 0, 0, 0), bytes(0xff, 0xe0, 0, 0, 0, 0, 0, 0), bytes(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), bytes(0x80, 0, 0, 0, 0, 0, 0, 0)];
    for (const b of unsafe) expect(decodeErrorOf(() => new Reader(b).readInt64("x")).kind).toBe("unsafeInt64");
    expect(() => new Writer().writeInt64(2 ** 53, "x")).toThrow(EncodeError);
    expect(() => new Writer().writeInt64(1.5, "x")).toThrow(EncodeError);
  });

  test("writers reject values outside the wire type", () => {
    const w = new Writer();
    expect(() => w.writeInt8(128, "x")).toThrow(EncodeError);
    expect(() => w.writeInt16(-32769, "x")).toThrow(EncodeError);
    expect(() => w.writeUint16(-1, "x")).toThrow(EncodeError);
    expect(() => w.writeInt32(2 ** 31, "x")).toThrow(EncodeError);
    expect(() => w.writeUint32(2 ** 32, "x")).toThrow(EncodeError);
    expect(() => w.writeInt32(0.5, "x")).toThrow(EncodeError);
  });
});

describe("varints", () => {
  test("unsigned varint encodings (docs: 7 bits per byte, low groups first)", () => {
    const cases: [number, number[]][] = [
      [0, [0x00]],
      [1, [0x01]],
      [127, [0x7f]],
      [128, [0x80, 0x01]],
      [300, [0xac, 0x02]],
      [0xffffffff, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    ];
    for (const [v, enc] of cases) {
      const w = new Writer(8);
      w.writeUnsignedVarint(v);
      expect([...w.flatten()]).toEqual(enc);
      expect(new Reader(new Uint8Array(enc)).readUnsignedVarint("x")).toBe(v);
    }
  });

  test("zig-zag varint and varlong", () => {
    const prng = new SeededPrng(7);
    const values = [0, -1, 1, -64, 64, 2 ** 31 - 1, -(2 ** 31)];
    for (const v of values) {
      const w = new Writer(8);
      w.writeVarint(v, "x");
      expect(new Reader(w.flatten()).readVarint("x")).toBe(v);
    }
    const longs = [0, -1, 1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 40, -(2 ** 40) - 3];
    for (let i = 0; i < 200; i++) longs.push((prng.int(2 ** 21) * 2 ** 32 + prng.nextU32()) * (i % 2 === 0 ? 1 : -1));
    for (const v of longs) {
      const w = new Writer(16);
      w.writeVarlong(v, "x");
      expect(new Reader(w.flatten()).readVarlong("x")).toBe(v);
    }
    expect([...(() => { const w = new Writer(); w.writeVarint(-1, "x"); return w.flatten(); })()]).toEqual([0x01]);
  });

  test("overlong and over-wide varints are badVarint", () => {
    expect(decodeErrorOf(() => new Reader(bytes(0xff, 0xff, 0xff, 0xff, 0x10)).readUnsignedVarint("v")).kind).toBe("badVarint");
    expect(decodeErrorOf(() => new Reader(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x00)).readUnsignedVarint("v")).kind).toBe("badVarint");
    expect(decodeErrorOf(() => new Reader(new Uint8Array(11).fill(0x80)).readVarlong("v")).kind).toBe("badVarint");
    expect(decodeErrorOf(() => new Reader(bytes(0x80, 0x80)).readUnsignedVarint("v")).kind).toBe("truncated");
    // 2^54 as a zig-zag varlong is outside the safe range.
    const w = new Writer();
    for (const b of [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]) w.writeRaw(bytes(b));
    expect(decodeErrorOf(() => new Reader(w.flatten()).readVarlong("v")).kind).toBe("unsafeInt64");
  });
});

describe("strings, bytes and arrays", () => {
  test("strings: int16 / compact lengths, null, unicode, BOM kept", () => {
    const w = new Writer(4);
    w.writeString("abc", "s");
    w.writeNullableString(null, "s");
    w.writeCompactString("héllo😀", "s");
    w.writeCompactNullableString(null, "s");
    w.writeString("\ufeffbom", "s");
    w.writeCompactString("x".repeat(200), "s");
    const r = new Reader(w.flatten());
    expect(r.readString("s")).toBe("abc");
    expect(r.readNullableString("s")).toBeNull();
    expect(r.readCompactString("s")).toBe("héllo😀");
    expect(r.readCompactNullableString("s")).toBeNull();
    expect(r.readString("s")).toBe("\ufeffbom");
    expect(r.readCompactString("s")).toBe("x".repeat(200));
    expect(r.remaining()).toBe(0);
  });

  test("null where not nullable, negative and huge lengths are typed errors", () => {
    expect(decodeErrorOf(() => new Reader(bytes(0xff, 0xff)).readString("s")).kind).toBe("nullNotAllowed");
    expect(decodeErrorOf(() => new Reader(bytes(0xff, 0xfe)).readNullableString("s")).kind).toBe("negativeLength");
    expect(decodeErrorOf(() => new Reader(bytes(0x7f, 0xff, 0x61)).readString("s")).kind).toBe("tooLarge");
    expect(decodeErrorOf(() => new Reader(bytes(0x00)).readCompactString("s")).kind).toBe("nullNotAllowed");
    expect(decodeErrorOf(() => new Reader(bytes(0xff, 0xff, 0xff, 0xff, 0x0f)).readCompactNullableString("s")).kind).toBe("tooLarge");
    expect(decodeErrorOf(() => new Reader(bytes(0x80, 0, 0, 0)).readNullableBytes("b")).kind).toBe("negativeLength");
    expect(decodeErrorOf(() => new Reader(bytes(0x7f, 0xff, 0xff, 0xff)).readBytesView(false, "b")).kind).toBe("tooLarge");
    expect(decodeErrorOf(() => new Reader(bytes(0x00, 0x02, 0xc3, 0x28)).readString("s")).kind).toBe("badUtf8");
    expect(decodeErrorOf(() => new Reader(bytes(0x00, 0x01, 0xff)).readString("s")).kind).toBe("badUtf8");
  });

  test("array counts are checked against remaining bytes × minimum element size", () => {
    expect(decodeErrorOf(() => new Reader(bytes(0x7f, 0xff, 0xff, 0xff)).readArrayLength(false, false, 4, "a")).kind).toBe("tooLarge");
    // 2 elements of at least 4 bytes need 8 bytes; 7 are left.
    const seven = new Uint8Array(4 + 7);
    seven[3] = 2;
    expect(decodeErrorOf(() => new Reader(seven).readArrayLength(false, false, 4, "a")).kind).toBe("tooLarge");
    const eight = new Uint8Array(4 + 8);
    eight[3] = 2;
    expect(new Reader(eight).readArrayLength(false, false, 4, "a")).toBe(2);
    // Even zero-size elements count as one byte each: no unbounded allocation.
    expect(decodeErrorOf(() => new Reader(bytes(0, 0, 0, 5, 1, 1)).readArrayLength(false, false, 0, "a")).kind).toBe("tooLarge");
    expect(decodeErrorOf(() => new Reader(bytes(0xff, 0xff, 0xff, 0xfe)).readArrayLength(false, true, 4, "a")).kind).toBe("negativeLength");
    expect(new Reader(bytes(0xff, 0xff, 0xff, 0xff)).readArrayLength(false, true, 4, "a")).toBe(-1);
    expect(decodeErrorOf(() => new Reader(bytes(0xff, 0xff, 0xff, 0xff)).readArrayLength(false, false, 4, "a")).kind).toBe("nullNotAllowed");
    expect(new Reader(bytes(0x00)).readArrayLength(true, true, 1, "a")).toBe(-1);
  });

  test("records decode as views of the frame, bytes as copies", () => {
    const frame = bytes(0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 2, 9, 9);
    const r = new Reader(frame);
    const view = r.readBytesView(false, "records");
    const copy = r.readBytes("bytes");
    expect(view.buffer).toBe(frame.buffer);
    expect(view.byteOffset).toBe(4);
    expect([...view]).toEqual([1, 2, 3]);
    expect(copy.buffer).not.toBe(frame.buffer);
    expect([...copy]).toEqual([9, 9]);
  });
});

describe("uuid", () => {
  test("text form is Kafka's base64url, and canonical", () => {
    const b = new Uint8Array(16);
    expect(uuidBytesToText(b, 0)).toBe("AAAAAAAAAAAAAAAAAAAAAA");
    b.fill(0xff);
    expect(uuidBytesToText(b, 0)).toBe("_____________________w");
    const prng = new SeededPrng(3);
    for (let i = 0; i < 500; i++) {
      for (let j = 0; j < 16; j++) b[j] = prng.int(256);
      const t = uuidBytesToText(b, 0);
      const back = new Uint8Array(16);
      expect(uuidTextToBytes(t, back, 0)).toBe(true);
      expect(back).toEqual(b);
    }
    expect(uuidTextToBytes("_____________________x", new Uint8Array(16), 0)).toBe(false);
    expect(uuidTextToBytes("short", new Uint8Array(16), 0)).toBe(false);
    expect(() => new Writer().writeUuid("not a uuid", "u")).toThrow(EncodeError);
  });
});

describe("Writer chunks", () => {
  test("large external arrays are referenced, small ones copied", () => {
    const big = new Uint8Array(REFERENCE_MIN_BYTES * 4).fill(7);
    const small = new Uint8Array(10).fill(3);
    const w = new Writer(16);
    w.writeInt32(1, "a");
    w.writeBytes(big, false, true, "records");
    w.writeBytes(small, false, true, "records");
    w.writeInt32(2, "b");
    const chunks = w.finish();
    expect(chunks.some((c) => c === big)).toBe(true);
    expect(chunks.some((c) => c === small)).toBe(false);
    const flat = flattenChunks(chunks);
    expect(flat.length).toBe(chunksLength(chunks));
    expect(flat.length).toBe(4 + 4 + big.length + 4 + small.length + 4);
    const r = new Reader(flat);
    expect(r.readInt32("a")).toBe(1);
    expect(r.readBytesView(false, "r")).toEqual(big);
    expect(r.readBytesView(false, "r")).toEqual(small);
    expect(r.readInt32("b")).toBe(2);
  });

  test("growth across many segments keeps every byte in order; size slot is patched", () => {
    const w = new Writer(8);
    const slot = w.reserveInt32();
    for (let i = 0; i < 100000; i++) w.writeInt32(i, "i");
    w.patchInt32(slot, w.length - 4);
    const flat = w.flatten();
    const r = new Reader(flat);
    expect(r.readInt32("size")).toBe(400000);
    for (let i = 0; i < 100000; i++) if (r.readInt32("i") !== i) throw new Error(`byte order broken at ${i}`);
  });

  test("tagged fields are written in ascending tag order; duplicates are rejected", () => {
    const w = new Writer();
    writeTaggedFields(w, [{ tag: 5, data: bytes(1) }], [{ tag: 2, data: bytes(2, 2) }], "t");
    expect([...w.flatten()]).toEqual([2, 2, 2, 2, 2, 5, 1, 1]);
    expect(() => writeTaggedFields(new Writer(), [{ tag: 1, data: bytes() }], [{ tag: 1, data: bytes() }], "t")).toThrow(EncodeError);
  });

  test("strings longer than 32767 bytes are refused both ways, compact or not (Kafka's limit)", () => {
    expect(() => new Writer().writeString("x".repeat(32768), "s")).toThrow(EncodeError);
    expect(() => new Writer().writeCompactString("x".repeat(32768), "s")).toThrow(EncodeError);
    expect(() => new Writer().writeCompactString("é".repeat(16384), "s")).toThrow(EncodeError);
    const w = new Writer();
    w.writeCompactString("x".repeat(32767), "s");
    expect(new Reader(w.flatten()).readCompactString("s").length).toBe(32767);
    const long = new Writer();
    long.writeUnsignedVarint(32769);
    long.writeRaw(new Uint8Array(32768).fill(0x61));
    expect(decodeErrorOf(() => new Reader(long.flatten()).readCompactString("s")).kind).toBe("tooLarge");
  });

  test("unknown tagged fields cannot be written into a non-flexible version", () => {
    expect(() => rejectUnknownTaggedFields([{ tag: 1, data: bytes(1) }], "t")).toThrow(EncodeError);
    rejectUnknownTaggedFields([], "t");
    rejectUnknownTaggedFields(undefined, "t");
  });
});
