/**
 * Records inside a v2 batch's (decompressed) records section, for the few places that
 * inflate them: compaction, control records, transaction markers, tests.
 *
 * Record (varint = zigzag int32, varlong = zigzag int64):
 *   length varint (bytes after this field) | attributes int8 (unused, 0) |
 *   timestampDelta varlong | offsetDelta varint | keyLength varint (-1 = null) | key |
 *   valueLength varint (-1 = null) | value | headerCount varint |
 *   headers: keyLength varint | key (UTF-8) | valueLength varint (-1 = null) | value
 *
 * Invariants: decoding reads only inside the section, checks every length against the
 * bytes that remain before slicing, and requires each record to consume exactly its
 * declared length and the section to hold exactly `count` records; violations are
 * RecordsError. Keys, values and header values are views into the section (no copies).
 */
import { RecordsError } from "./records-error.ts";
import { Reader, varintSize, varlongSize, writeVarint, writeVarlong } from "./varint.ts";

export interface RecordHeader {
  key: string;
  value: Uint8Array | null;
}

export interface DecodedRecord {
  /** baseOffset + offsetDelta. */
  offset: number;
  /** baseTimestamp + timestampDelta, or the batch's maxTimestamp for LogAppendTime batches. */
  timestamp: number;
  offsetDelta: number;
  timestampDelta: number;
  attributes: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: RecordHeader[];
}

export interface DecodeContext {
  /** How many records the batch header says the section holds. */
  count: number;
  baseOffset: number;
  baseTimestamp: number;
  /** When set (LogAppendTime batches), every record's timestamp. */
  logAppendTimeMs?: number;
}

/** The smallest possible record: seven one-byte fields. Bounds `count` before allocating. */
export const recordBytesMin = 7;
/** Each header takes at least two varints. */
const headerBytesMin = 2;

const utf8 = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

function readNullableBytes(r: Reader, what: string): Uint8Array | null {
  const length = r.varint();
  if (length === -1) return null;
  if (length < -1) throw new RecordsError("badRecord", `${what} length ${length}`);
  if (length > r.remaining) throw new RecordsError("badRecord", `${what} length ${length} exceeds the ${r.remaining} bytes left in the record`);
  return r.bytesView(length);
}

/** Decodes one record starting at `r.pos`. */
export function decodeRecord(r: Reader, ctx: DecodeContext): DecodedRecord {
  const length = r.varint();
  if (length < recordBytesMin - 1) throw new RecordsError("badRecord", `record length ${length} at ${r.pos}`);
  if (length > r.remaining) throw new RecordsError("truncated", `record of ${length} bytes at ${r.pos}, ${r.remaining} left`);
  const body = new Reader(r.bytes, r.pos, r.pos + length);
  r.pos += length;
  const attributes = body.int8();
  const timestampDelta = body.varlong();
  const offsetDelta = body.varint();
  const key = readNullableBytes(body, "key");
  const value = readNullableBytes(body, "value");
  const headerCount = body.varint();
  if (headerCount < 0) throw new RecordsError("badRecord", `header count ${headerCount}`);
  if (headerCount > body.remaining / headerBytesMin) {
    throw new RecordsError("badRecord", `header count ${headerCount} cannot fit in ${body.remaining} bytes`);
  }
  const headers: RecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyLength = body.varint();
    if (keyLength < 0) throw new RecordsError("badRecord", `header key length ${keyLength}`);
    if (keyLength > body.remaining) throw new RecordsError("badRecord", `header key length ${keyLength} exceeds the record`);
    const headerKey = utf8.decode(body.bytesView(keyLength));
    headers.push({ key: headerKey, value: readNullableBytes(body, "header value") });
  }
  if (body.remaining !== 0) {
    throw new RecordsError("badRecord", `record declares ${length} bytes but its fields use ${length - body.remaining}`);
  }
  const offset = ctx.baseOffset + offsetDelta;
  const timestamp = ctx.logAppendTimeMs ?? ctx.baseTimestamp + timestampDelta;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(timestamp)) {
    throw new RecordsError("int64OutOfRange", `record offset ${offset} / timestamp ${timestamp}`);
  }
  return { offset, timestamp, offsetDelta, timestampDelta, attributes, key, value, headers };
}

/** Decodes exactly `ctx.count` records filling `section`. */
export function decodeRecords(section: Uint8Array, ctx: DecodeContext): DecodedRecord[] {
  if (ctx.count < 0 || ctx.count > section.length / recordBytesMin) {
    throw new RecordsError("badRecordCount", `${ctx.count} records cannot fit in ${section.length} bytes`);
  }
  const r = new Reader(section, 0, section.length);
  const out: DecodedRecord[] = [];
  for (let i = 0; i < ctx.count; i++) out.push(decodeRecord(r, ctx));
  if (r.remaining !== 0) throw new RecordsError("badRecordCount", `${r.remaining} bytes left after ${ctx.count} records`);
  return out;
}

// ---------------------------------------------------------------------------------------
// Encoding (the builder's half).

/** A record to write; key/value null are Kafka's null (length -1). */
export interface RecordInput {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly RecordHeader[];
  /** Milliseconds since the epoch (CreateTime). */
  timestamp: number;
}

/** A record with its header keys already UTF-8 encoded and its size computed. */
export interface SizedRecord {
  offsetDelta: number;
  timestampDelta: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: ReadonlyArray<{ key: Uint8Array; value: Uint8Array | null }>;
  /** The body length (the record's leading varint). */
  bodyBytes: number;
  /** bodyBytes plus the varint that carries it. */
  totalBytes: number;
}

function nullableSize(b: Uint8Array | null): number {
  return b === null ? 1 : varintSize(b.length) + b.length;
}

export function sizeRecord(input: RecordInput, offsetDelta: number, timestampDelta: number): SizedRecord {
  const headers = (input.headers ?? []).map((h) => ({ key: utf8Encoder.encode(h.key), value: h.value }));
  let body = 1 + varlongSize(timestampDelta) + varintSize(offsetDelta) + nullableSize(input.key) + nullableSize(input.value);
  body += varintSize(headers.length);
  for (const h of headers) body += varintSize(h.key.length) + h.key.length + nullableSize(h.value);
  return {
    offsetDelta,
    timestampDelta,
    key: input.key,
    value: input.value,
    headers,
    bodyBytes: body,
    totalBytes: varintSize(body) + body,
  };
}

function writeNullable(out: Uint8Array, p: number, b: Uint8Array | null): number {
  if (b === null) return writeVarint(out, p, -1);
  p = writeVarint(out, p, b.length);
  out.set(b, p);
  return p + b.length;
}

/** Writes a sized record at `p`; returns the position after it. */
export function writeRecord(out: Uint8Array, p: number, rec: SizedRecord): number {
  const start = p;
  p = writeVarint(out, p, rec.bodyBytes);
  out[p++] = 0; // attributes: unused in v2
  p = writeVarlong(out, p, rec.timestampDelta);
  p = writeVarint(out, p, rec.offsetDelta);
  p = writeNullable(out, p, rec.key);
  p = writeNullable(out, p, rec.value);
  p = writeVarint(out, p, rec.headers.length);
  for (const h of rec.headers) {
    p = writeVarint(out, p, h.key.length);
    out.set(h.key, p);
    p += h.key.length;
    p = writeNullable(out, p, h.value);
  }
  if (p - start !== rec.totalBytes) throw new Error(`writeRecord: wrote ${p - start} bytes, sized ${rec.totalBytes}`);
  return p;
}
