/**
 * Down-conversion benchmark (issue 21 item 7): what serving Fetch v0–v3 would cost. Those
 * versions carry only message formats v0/v1 (a MessageSet), so a broker that stores v2
 * batches must inflate every batch, re-encode every record as a v1 message (34 bytes of
 * header each, a CRC32 per message, headers dropped) and recompress it in a wrapper message,
 * on every fetch by every such consumer. bunka refuses Fetch v0–v3 (as Kafka 4 does); the
 * converter below exists only to put figures on that choice and lives in this file.
 *
 * Measured per size class on the same records (1 KiB values, 8-byte keys, JSON log lines):
 * 1 MiB of record data as 64 batches of 16 KiB, and as one batch of 1 MiB; per codec the
 * stored batches are served
 * - `copy`: one memcpy of the stored bytes into a buffer (what zero-copy serving costs at most),
 * - `pread`: one positional read of them from a page-cache-warm file (the fetch read path:
 *   LogSegment.read is one pread into a pooled buffer, then the socket write),
 * - `inflate`: decompress and decode the records only (the first half of a conversion),
 * - `downconvert`: the whole conversion to a v1 message set. zstd has no v1 codec: it is
 *   recompressed as lz4 here (Kafka refuses zstd data to Fetch < v10 instead).
 * Rates are MB/s of record data: 1e6 bytes of the uncompressed v2 batches per second, the
 * same numerator for every row of a size class, so rows compare directly.
 *
 * Before measuring, every converted set is decoded back by `decodeMessageSet` (CRCs, magic,
 * wrapper offsets) and compared record by record with the v2 input; a mismatch stops the run.
 * `converter.loc` in the results counts the converter's code lines (between the markers,
 * without blank and comment lines).
 *
 * Run: `bun bench/downconvert.ts`. Prints mitata's table and writes
 * bench/results/downconvert.json (medians). `DOWNCONVERT_DUMP=<dir>` also writes the converted
 * sets there (`<size>-<codec>.v1`), to be read by another client's decoder.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { bench, do_not_optimize, group, run } from "mitata";
import { bunCompression } from "../src/platform/bun/compression.ts";
import type { Compression } from "../src/platform/compression.ts";
import { buildRecordBatch } from "../src/protocol/records/builder.ts";
import { type CompressionCodecName, CompressionCodec, codecName, compressRecords, decompressRecords } from "../src/protocol/records/compression.ts";
import type { DecodedRecord } from "../src/protocol/records/record.ts";
import { walkBatches, writeI64 } from "../src/protocol/records/record-batch.ts";
import { logLines } from "../test/protocol/records/fixtures.ts";

// ---- converter:start ----------------------------------------------------------------------
// v2 record batches → a v1 message set (what Fetch v2/v3 return). Message v1, big-endian:
//   0 offset i64 | 8 messageSize i32 (bytes after it) | 12 crc u32: CRC32 (IEEE) of 16..end |
//   16 magic i8 = 1 | 17 attributes i8: bits 0-2 codec, bit 3 LogAppendTime |
//   18 timestamp i64 | 26 keyLength i32 (-1 null) | key | valueLength i32 (-1 null) | value
// A compressed batch becomes one wrapper message (offset = its last record's, null key) whose
// value is the compressed inner set; inner offsets are relative to the first kept record.

/** Message v1 bytes besides key and value, the log overhead (offset, size) included. */
const messageOverheadBytes = 34;
const legacyLogOverheadBytes = 12;
const magicV1 = 1;
const attrLogAppendTime = 0x08;
/** v1 knows none, gzip, snappy and lz4 (same ids as v2); zstd data needs another codec. */
const v1Codec: Record<CompressionCodecName, Exclude<CompressionCodecName, "zstd">> = { none: "none", gzip: "gzip", snappy: "snappy", lz4: "lz4", zstd: "lz4" };

function writeI32(b: Uint8Array, p: number, v: number): void {
  b[p] = (v >>> 24) & 0xff;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

function writeBytes(out: Uint8Array, p: number, b: Uint8Array | null): number {
  writeI32(out, p, b === null ? -1 : b.length);
  if (b !== null) out.set(b, p + 4);
  return p + 4 + (b?.length ?? 0);
}

function messageBytes(key: Uint8Array | null, value: Uint8Array | null): number {
  return messageOverheadBytes + (key?.length ?? 0) + (value?.length ?? 0);
}

/** Writes one v1 message at `p`; returns the position after it. */
function writeMessage(out: Uint8Array, p: number, offset: number, timestamp: number, attributes: number, key: Uint8Array | null, value: Uint8Array | null): number {
  const start = p;
  writeI64(out, p, offset);
  writeI32(out, p + 8, messageBytes(key, value) - legacyLogOverheadBytes);
  out[p + 16] = magicV1;
  out[p + 17] = attributes;
  writeI64(out, p + 18, timestamp);
  p = writeBytes(out, writeBytes(out, p + 26, key), value);
  writeI32(out, start + 12, crc32(out.subarray(start + 16, p)));
  if (p - start !== messageBytes(key, value)) throw new Error(`writeMessage: wrote ${p - start} bytes, sized ${messageBytes(key, value)}`);
  return p;
}

/**
 * Converts a run of stored v2 batches (a fetch's read) to v1 message sets, one part per batch:
 * control batches and records below `fetchOffset` are dropped, headers are lost, producer ids
 * and sequences too. `inflatedBytesMax` bounds each batch's decompressed records.
 */
export function downConvertToV1(stored: Uint8Array, fetchOffset: number, codecs: Compression, inflatedBytesMax: number): Uint8Array[] {
  const walk = walkBatches(stored, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes: stored.length });
  const parts: Uint8Array[] = [];
  for (const batch of walk.batches) {
    if (batch.isControl || batch.lastOffset < fetchOffset) continue;
    const records = batch.records({ maxBytes: inflatedBytesMax, compression: codecs }).filter((r) => r.offset >= fetchOffset);
    const first = records[0];
    const last = records[records.length - 1];
    if (first === undefined || last === undefined) continue;
    const timestampBit = batch.timestampType === "LogAppendTime" ? attrLogAppendTime : 0;
    const codec = v1Codec[batch.compression];
    let size = 0;
    let maxTimestamp = -1;
    for (const r of records) {
      size += messageBytes(r.key, r.value);
      maxTimestamp = Math.max(maxTimestamp, r.timestamp);
    }
    const set = new Uint8Array(size);
    let p = 0;
    for (const r of records) {
      p = codec === "none" ? writeMessage(set, p, r.offset, r.timestamp, timestampBit, r.key, r.value) : writeMessage(set, p, r.offset - first.offset, r.timestamp, 0, r.key, r.value);
    }
    if (p !== size) throw new Error(`downConvertToV1: wrote ${p} of ${size} bytes`);
    if (codec === "none") {
      parts.push(set);
      continue;
    }
    const value = compressRecords(codec, set, codecs);
    const wrapper = new Uint8Array(messageBytes(null, value));
    writeMessage(wrapper, 0, last.offset, maxTimestamp, CompressionCodec[codec] | timestampBit, null, value);
    parts.push(wrapper);
  }
  return parts;
}
// ---- converter:end ------------------------------------------------------------------------

// ---- the check: decode v1 sets back (bench only) -------------------------------------------
interface LegacyRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
}

function readI32(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}
function readI64(b: Uint8Array, p: number): number {
  return readI32(b, p) * 0x1_0000_0000 + (readI32(b, p + 4) >>> 0);
}
function readBytes(b: Uint8Array, p: number): [Uint8Array | null, number] {
  const n = readI32(b, p);
  return n < 0 ? [null, p + 4] : [b.subarray(p + 4, p + 4 + n), p + 4 + n];
}

/** Decodes a v1 message set, checking every CRC and unwrapping compressed wrappers. */
function decodeMessageSet(set: Uint8Array, codecs: Compression): LegacyRecord[] {
  const out: LegacyRecord[] = [];
  let p = 0;
  while (p < set.length) {
    const offset = readI64(set, p);
    const end = p + legacyLogOverheadBytes + readI32(set, p + 8);
    if (set[p + 16] !== magicV1) throw new Error(`check: magic ${set[p + 16]} at ${p}`);
    if (crc32(set.subarray(p + 16, end)) !== readI32(set, p + 12) >>> 0) throw new Error(`check: CRC at ${p}`);
    const attributes = set[p + 17]!;
    const timestamp = readI64(set, p + 18);
    const [key, q] = readBytes(set, p + 26);
    const [value, r] = readBytes(set, q);
    if (r !== end) throw new Error(`check: message at ${p} ends at ${r}, size says ${end}`);
    if ((attributes & 7) === 0) out.push({ offset, timestamp, key, value });
    else {
      const inner = decodeMessageSet(decompressRecords(codecName(attributes & 7), value!, 64 << 20, codecs), codecs);
      const lastRelative = inner[inner.length - 1]!.offset;
      const logAppend = (attributes & attrLogAppendTime) !== 0;
      for (const m of inner) out.push({ ...m, offset: offset - lastRelative + m.offset, timestamp: logAppend ? timestamp : m.timestamp });
    }
    p = end;
  }
  return out;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function check(what: string, v2: DecodedRecord[], v1: LegacyRecord[]): void {
  if (v2.length !== v1.length) throw new Error(`check ${what}: ${v1.length} messages for ${v2.length} records`);
  v2.forEach((r, i) => {
    const m = v1[i]!;
    if (m.offset !== r.offset || m.timestamp !== r.timestamp || !sameBytes(m.key, r.key) || !sameBytes(m.value, r.value)) {
      throw new Error(`check ${what}: record ${i} differs (offset ${r.offset} vs ${m.offset})`);
    }
  });
}

// ---- inputs --------------------------------------------------------------------------------
const KiB = 1024;
const MiB = 1024 * KiB;
const codecs: CompressionCodecName[] = ["none", "gzip", "snappy", "lz4", "zstd"];
const sizes = [
  { name: "16KiB", recordsPerBatch: 16 },
  { name: "1MiB", recordsPerBatch: 1024 },
] as const;
const recordCount = 1024;
const inflatedBytesMax = 64 * MiB;
const data = logLines(recordCount * KiB, 20261121);
const enc = new TextEncoder();
const T0 = 1_700_000_000_000;
const records = Array.from({ length: recordCount }, (_, i) => ({
  key: enc.encode(`key-${String(i).padStart(4, "0")}`),
  value: data.subarray(i * KiB, (i + 1) * KiB),
  timestamp: T0 + i,
}));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** The stored form: batches of `perBatch` records from offset 1000, leader epoch 0. */
function storedBatches(codec: CompressionCodecName, perBatch: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < recordCount; i += perBatch) {
    parts.push(buildRecordBatch(records.slice(i, i + perBatch), { baseOffset: 1000 + i, partitionLeaderEpoch: 0, compression: codec, codecs: bunCompression }));
  }
  return concat(parts);
}

function inflateAll(stored: Uint8Array): DecodedRecord[] {
  const walk = walkBatches(stored, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes: stored.length });
  return walk.batches.flatMap((b) => b.records({ maxBytes: inflatedBytesMax, compression: bunCompression }));
}

// LogAppendTime batches carry the append time in every converted message (or the wrapper).
for (const codec of ["none", "lz4"] as const) {
  const stored = buildRecordBatch(records.slice(0, 8), { baseOffset: 7, compression: codec, codecs: bunCompression, logAppendTimeMs: T0 + 99_999 });
  check(`logAppendTime.${codec}`, inflateAll(stored), decodeMessageSet(concat(downConvertToV1(stored, 0, bunCompression, inflatedBytesMax)), bunCompression));
}

/** DOWNCONVERT_DUMP=<dir>: also write each converted set there, for a check by another decoder. */
const dumpDir = process.env.DOWNCONVERT_DUMP;
const dir = mkdtempSync(join(tmpdir(), "bunka-bench-downconvert-"));
const results: Record<string, number | string> = {};
const recordBytes = new Map<string, number>();
const fds: number[] = [];
for (const size of sizes) {
  const plain = storedBatches("none", size.recordsPerBatch);
  recordBytes.set(size.name, plain.length);
  results[`${size.name}.recordBytes`] = plain.length;
  group(`1 MiB of 1 KiB records in ${size.name} batches`, () => {
    for (const codec of codecs) {
      const stored = storedBatches(codec, size.recordsPerBatch);
      const converted = concat(downConvertToV1(stored, 1000, bunCompression, inflatedBytesMax));
      check(`${size.name}.${codec}`, inflateAll(stored), decodeMessageSet(converted, bunCompression));
      // A fetch at an offset inside the second batch drops the records before it.
      const mid = 1000 + size.recordsPerBatch + 3;
      check(`${size.name}.${codec}@${mid}`, inflateAll(stored).filter((r) => r.offset >= mid), decodeMessageSet(concat(downConvertToV1(stored, mid, bunCompression, inflatedBytesMax)), bunCompression));
      if (dumpDir !== undefined) writeFileSync(join(dumpDir, `${size.name}-${codec}.v1`), converted);
      results[`${size.name}.${codec}.storedBytes`] = stored.length;
      results[`${size.name}.${codec}.convertedBytes`] = converted.length;
      const path = join(dir, `${size.name}-${codec}.log`);
      writeFileSync(path, stored);
      const fd = openSync(path, "r");
      fds.push(fd);
      const target = new Uint8Array(stored.length);
      readSync(fd, target, 0, stored.length, 0); // warm the page cache
      bench(`${size.name}.${codec}.copy`, () => {
        target.set(stored);
        return do_not_optimize(target);
      });
      bench(`${size.name}.${codec}.pread`, () => do_not_optimize(readSync(fd, target, 0, stored.length, 0)));
      bench(`${size.name}.${codec}.inflate`, () => do_not_optimize(inflateAll(stored)));
      bench(`${size.name}.${codec}.downconvert`, () => do_not_optimize(downConvertToV1(stored, 1000, bunCompression, inflatedBytesMax)));
    }
  });
}

const { benchmarks } = await run({ format: "mitata" });
for (const fd of fds) closeSync(fd);
rmSync(dir, { recursive: true, force: true });

// ---- results -------------------------------------------------------------------------------
const mbps = (bytes: number, ns: number): number => Math.round((bytes / ns) * 1000 * 10) / 10;
for (const trial of benchmarks) {
  const first = trial.runs[0];
  if (first?.stats === undefined) throw new Error(`bench: ${trial.alias} has no stats`);
  const bytes = recordBytes.get(trial.alias.split(".")[0]!);
  if (bytes === undefined) throw new Error(`bench: no size for ${trial.alias}`);
  results[`${trial.alias}.MBps`] = mbps(bytes, first.stats.p50);
}
for (const size of sizes) {
  for (const codec of codecs) {
    results[`${size.name}.${codec}.downconvertVsPread`] =
      Math.round(((results[`${size.name}.${codec}.downconvert.MBps`] as number) / (results[`${size.name}.${codec}.pread.MBps`] as number)) * 10000) / 10000;
  }
}
const source = readFileSync(import.meta.path, "utf8").split("\n");
const from = source.findIndex((l) => l.startsWith("// ---- converter:start"));
const to = source.findIndex((l) => l.startsWith("// ---- converter:end"));
results["converter.loc"] = source.slice(from + 1, to).filter((l) => l.trim() !== "" && !/^\s*(\/\/|\/\*\*|\*)/.test(l)).length;
results.input =
  "1,024 records of 1 KiB (test/protocol/records/fixtures.ts logLines, seed 20261121) with 8-byte keys, as 64 x 16 KiB or 1 x 1 MiB v2 batches; MB/s = 1e6 bytes of uncompressed v2 batches per second; medians; zstd is converted to lz4";
console.log("\nmedians (MB/s of record data):");
console.table(results);

const out = resolve(import.meta.dir, "results", "downconvert.json");
mkdirSync(resolve(import.meta.dir, "results"), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${out}`);
