/**
 * Test helper: assembles valid uncompressed v2 record batches (61-byte header + simple
 * records) with the CRC set by core.crc32c. Independent of src/protocol/records on purpose.
 */
import { core } from "../../src/wasm/index.ts";

export interface TestRecord {
  key?: Uint8Array | null;
  value: Uint8Array | null;
  /** Delta from the batch's base timestamp. */
  timestampDelta?: number;
}

function zigzagVarint(v: number, out: number[]): void {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
}

function encodeRecord(r: TestRecord, offsetDelta: number): number[] {
  const body: number[] = [0]; // attributes
  zigzagVarint(r.timestampDelta ?? 0, body);
  zigzagVarint(offsetDelta, body);
  if (r.key == null) zigzagVarint(-1, body);
  else {
    zigzagVarint(r.key.length, body);
    for (const b of r.key) body.push(b);
  }
  if (r.value === null) zigzagVarint(-1, body);
  else {
    zigzagVarint(r.value.length, body);
    for (const b of r.value) body.push(b);
  }
  zigzagVarint(0, body); // headers
  const out: number[] = [];
  zigzagVarint(body.length, out);
  return out.concat(body);
}

export interface BatchOptions {
  baseOffset?: number;
  leaderEpoch?: number;
  baseTimestamp?: number;
  /** Defaults to baseTimestamp + the largest delta. */
  maxTimestamp?: number;
}

/** One v2 batch holding `records`. */
export function buildBatch(records: TestRecord[], opts: BatchOptions = {}): Uint8Array {
  if (records.length === 0) throw new Error("buildBatch: no records");
  const recBytes: number[] = [];
  records.forEach((r, i) => {
    for (const b of encodeRecord(r, i)) recBytes.push(b);
  });
  const size = 61 + recBytes.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  const baseTs = opts.baseTimestamp ?? 1_700_000_000_000;
  const maxDelta = Math.max(...records.map((r) => r.timestampDelta ?? 0));
  const setI64 = (at: number, v: number): void => {
    const hi = Math.floor(v / 0x1_0000_0000);
    dv.setInt32(at, hi);
    dv.setUint32(at + 4, v - hi * 0x1_0000_0000);
  };
  setI64(0, opts.baseOffset ?? 0);
  dv.setInt32(8, size - 12);
  dv.setInt32(12, opts.leaderEpoch ?? -1);
  dv.setInt8(16, 2);
  dv.setInt16(21, 0); // attributes: no compression, create time
  dv.setInt32(23, records.length - 1);
  setI64(27, baseTs);
  setI64(35, opts.maxTimestamp ?? baseTs + maxDelta);
  setI64(43, -1); // producerId
  dv.setInt16(51, -1);
  dv.setInt32(53, -1);
  dv.setInt32(57, records.length);
  out.set(recBytes, 61);
  setCrc(out);
  return out;
}

/** Recomputes the CRC of the batch at the start of `batch` (after editing fields it covers). */
export function setCrc(batch: Uint8Array): void {
  const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  dv.setUint32(17, core.crc32c(batch.subarray(21, dv.getInt32(8) + 12)));
}

/** A batch of `count` records with values of `valueBytes` bytes filled from `seed`. */
export function simpleBatch(count: number, valueBytes: number, seed = 0, opts: BatchOptions = {}): Uint8Array {
  const records: TestRecord[] = [];
  for (let i = 0; i < count; i++) {
    const v = new Uint8Array(valueBytes);
    for (let j = 0; j < valueBytes; j++) v[j] = (seed * 31 + i * 7 + j) & 0xff;
    records.push({ value: v, timestampDelta: i });
  }
  return buildBatch(records, opts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface ParsedBatch {
  baseOffset: number;
  lastOffset: number;
  leaderEpoch: number;
  maxTimestamp: number;
  bytes: Uint8Array;
}

/** Splits concatenated stored batches (trusting lengths; tests only). */
export function splitBatches(bytes: Uint8Array): ParsedBatch[] {
  const out: ParsedBatch[] = [];
  let at = 0;
  while (at < bytes.length) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + at);
    const size = dv.getInt32(8) + 12;
    const base = dv.getInt32(0) * 0x1_0000_0000 + dv.getUint32(4);
    out.push({
      baseOffset: base,
      lastOffset: base + dv.getInt32(23),
      leaderEpoch: dv.getInt32(12),
      maxTimestamp: dv.getInt32(35) * 0x1_0000_0000 + dv.getUint32(39),
      bytes: bytes.subarray(at, at + size),
    });
    at += size;
  }
  return out;
}
