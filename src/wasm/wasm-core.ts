/**
 * `CoreOps` backed by the WASM module compiled from `assembly/`: argument checks (the same
 * ones as the TypeScript twin, from arg-checks.ts), copies into WASM linear memory, one
 * call per operation, typed results copied out.
 *
 * Memory: the module owns [0, scratchBase()) (tables, static data). Everything above is
 * this wrapper's scratch region: each call lays its inputs and outputs out from
 * `scratchBase` and grows memory when they do not fit. Calls are synchronous and never
 * re-entered, so one region serves every call; linear memory never shrinks, so inputs are
 * copied in bounded chunks where the operation allows it (CRC32C).
 *
 * Invariants: the wrapper never hands the module a range outside what it reserved; the
 * module never reads outside the ranges it is given (assembly/*.ts); after any `grow` the
 * typed views are rebuilt before use.
 */
import type { BatchErrorKind, BatchScan, CoreOps, ScanOptions } from "./api.ts";
import {
  batchErrorKinds,
  batchHeaderBytes,
  checkCount,
  checkCrcSeed,
  checkIndex,
  checkScanOptions,
  clampTarget,
  indexEntryBytes,
  varint32BytesMax,
  varint64BytesMax,
} from "./arg-checks.ts";

/** The module's exports (assembly/index.ts). Pointers and lengths are byte addresses/counts. */
interface CoreExports {
  memory: WebAssembly.Memory;
  scratchBase(): number;
  crc32c(ptr: number, len: number, crc: number): number;
  scanBatches(
    ptr: number,
    len: number,
    flags: number,
    maxBatchBytes: number,
    firstOffset: number,
    leaderEpoch: number,
    out: number,
    capacity: number,
  ): number;
  encodeVarints32(values: number, count: number, out: number): number;
  decodeVarints32(ptr: number, len: number, count: number, out: number): number;
  encodeVarints64(values: number, count: number, out: number): number;
  decodeVarints64(ptr: number, len: number, count: number, out: number): number;
  indexLookup(entries: number, count: number, target: number): number;
  indexLookupMany(entries: number, count: number, targets: number, n: number, out: number): void;
}

const exportNames: readonly (keyof CoreExports)[] = [
  "memory",
  "scratchBase",
  "crc32c",
  "scanBatches",
  "encodeVarints32",
  "decodeVarints32",
  "encodeVarints64",
  "decodeVarints64",
  "indexLookup",
  "indexLookupMany",
];

const pageBytes = 65536;
/**
 * CRC32C inputs are copied in chunks of this size, so a huge input does not grow linear
 * memory for good; 256 KiB also keeps the copied chunk in L2 for the CRC pass.
 */
const crcChunkBytes = 1024 * 1024;
/** assembly/batches.ts flags. */
const flagVerifyCrc = 1;
const flagDense = 2;
const flagAssign = 4;
/** Bytes per batch slot in scanBatches' output area: 2 f64 + 5 i32 arrays. */
const scanSlotBytes = 36;
/** Batch sizes above this cannot occur (i32 batchLength + 12); clamping keeps the f64 -> i64 cast in range. */
const maxBatchBytesClamp = 0x1_0000_0000;
/** The module addresses batch positions as i32. */
const scanBytesMax = 0x7fff_ffff;
/** Bytes of a batch header that patching rewrites: baseOffset .. partitionLeaderEpoch. */
const patchedHeadBytes = 16;

function align8(n: number): number {
  return (n + 7) & ~7;
}

export function createWasmCore(moduleBytes: Uint8Array): CoreOps {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), {});
  const raw = instance.exports;
  for (const name of exportNames) {
    if (!(name in raw)) throw new Error(`bunka: the WASM core lacks export ${name}; rebuild with \`bun run build:wasm\``);
  }
  const ex = raw as unknown as CoreExports;
  const memory = ex.memory;
  const base = ex.scratchBase();
  if (base <= 0 || base % 64 !== 0) throw new Error(`bunka: WASM scratch base ${base} is not 64-byte aligned`);

  let u8 = new Uint8Array(memory.buffer);
  let i32 = new Int32Array(memory.buffer);
  let u32 = new Uint32Array(memory.buffer);
  let f64 = new Float64Array(memory.buffer);

  /** Makes [base, base + bytes) addressable; rebuilds the views after a grow. */
  function reserve(bytes: number): void {
    const need = base + bytes;
    const have = memory.buffer.byteLength;
    if (need <= have) return;
    try {
      memory.grow(Math.ceil((need - have) / pageBytes));
    } catch (cause) {
      throw new RangeError(`bunka WASM core: cannot grow linear memory to ${need} bytes`, { cause });
    }
    u8 = new Uint8Array(memory.buffer);
    i32 = new Int32Array(memory.buffer);
    u32 = new Uint32Array(memory.buffer);
    f64 = new Float64Array(memory.buffer);
  }

  function crc32c(bytes: Uint8Array, crc = 0): number {
    checkCrcSeed(crc);
    const len = bytes.length;
    reserve(Math.min(len, crcChunkBytes));
    let c = crc;
    for (let off = 0; off < len; off += crcChunkBytes) {
      const n = Math.min(crcChunkBytes, len - off);
      u8.set(n === len ? bytes : bytes.subarray(off, off + n), base);
      c = ex.crc32c(base, n, c) >>> 0;
    }
    return c;
  }

  function scanBatches(bytes: Uint8Array, options: ScanOptions): BatchScan {
    checkScanOptions(options);
    const len = bytes.length;
    if (len > scanBytesMax) throw new RangeError(`scanBatches: ${len} bytes exceed the WASM core's ${scanBytesMax}`);
    const capacity = Math.floor(len / batchHeaderBytes);
    const out = base + align8(len);
    reserve(align8(len) + capacity * scanSlotBytes);
    u8.set(bytes, base);
    const assign = options.assign;
    const flags =
      (options.verifyCrc ? flagVerifyCrc : 0) | (options.requireDenseOffsets ? flagDense : 0) | (assign !== undefined ? flagAssign : 0);
    const r = ex.scanBatches(
      base,
      len,
      flags,
      Math.min(options.maxBatchBytes, maxBatchBytesClamp),
      assign === undefined ? 0 : assign.firstOffset,
      assign === undefined ? 0 : assign.leaderEpoch,
      out,
      capacity,
    );
    const count = r >>> 3;
    const code = r & 7;
    if (count > capacity) throw new Error(`bunka WASM core: scanBatches returned ${count} batches, capacity ${capacity}`);
    let error: BatchErrorKind | null = null;
    if (code !== 0) {
      const kind = batchErrorKinds[code - 1];
      if (kind === undefined) throw new Error(`bunka WASM core: scanBatches returned error code ${code}`);
      error = kind;
    }
    const f64At = out >>> 3;
    const i32At = (out + 16 * capacity) >>> 2;
    const positions = i32.slice(i32At, i32At + count);
    const sizes = i32.slice(i32At + capacity, i32At + capacity + count);
    const validBytes = count === 0 ? 0 : positions[count - 1]! + sizes[count - 1]!;
    if (error === null && validBytes !== len) {
      throw new Error(`bunka WASM core: scanBatches stopped at ${validBytes} of ${len} bytes without an error`);
    }
    if (error === null && assign !== undefined) {
      for (let i = 0; i < count; i++) {
        const p = positions[i]!;
        bytes.set(u8.subarray(base + p, base + p + patchedHeadBytes), p);
      }
    }
    return {
      count,
      validBytes,
      error,
      positions,
      sizes,
      baseOffsets: f64.slice(f64At, f64At + count),
      lastOffsetDeltas: i32.slice(i32At + 2 * capacity, i32At + 2 * capacity + count),
      maxTimestamps: f64.slice(f64At + capacity, f64At + capacity + count),
      recordCounts: i32.slice(i32At + 3 * capacity, i32At + 3 * capacity + count),
      attributes: i32.slice(i32At + 4 * capacity, i32At + 4 * capacity + count),
    };
  }

  function encodeVarints32(values: Int32Array, count: number, out: Uint8Array): number {
    checkCount(count, values.length, "encodeVarints32");
    const outAt = base + align8(count * 4);
    reserve(align8(count * 4) + count * varint32BytesMax);
    i32.set(count === values.length ? values : values.subarray(0, count), base >>> 2);
    const n = ex.encodeVarints32(base, count, outAt);
    if (n > out.length) throw new RangeError(`encodeVarints32: needs ${n} bytes, out has ${out.length}`);
    out.set(u8.subarray(outAt, outAt + n));
    return n;
  }

  function decodeVarints32(bytes: Uint8Array, count: number, out: Int32Array): number {
    checkCount(count, out.length, "decodeVarints32");
    // No decode can use more than 5 bytes per value: copy no more than that.
    const len = Math.min(bytes.length, count * varint32BytesMax);
    const outAt = base + align8(len);
    reserve(align8(len) + count * 4);
    u8.set(len === bytes.length ? bytes : bytes.subarray(0, len), base);
    const n = ex.decodeVarints32(base, len, count, outAt);
    if (n >= 0) out.set(i32.subarray(outAt >>> 2, (outAt >>> 2) + count));
    return n;
  }

  function encodeVarints64(values: Float64Array, count: number, out: Uint8Array): number {
    checkCount(count, values.length, "encodeVarints64");
    const outAt = base + count * 8;
    reserve(count * 8 + count * varint64BytesMax);
    f64.set(count === values.length ? values : values.subarray(0, count), base >>> 3);
    const n = ex.encodeVarints64(base, count, outAt);
    if (n < 0) {
      const bad = values.subarray(0, count).find((v) => !Number.isSafeInteger(v));
      throw new RangeError(`encodeVarints64: ${bad} is not a safe integer`);
    }
    if (n > out.length) throw new RangeError(`encodeVarints64: needs ${n} bytes, out has ${out.length}`);
    out.set(u8.subarray(outAt, outAt + n));
    return n;
  }

  function decodeVarints64(bytes: Uint8Array, count: number, out: Float64Array): number {
    checkCount(count, out.length, "decodeVarints64");
    const len = Math.min(bytes.length, count * varint64BytesMax);
    const outAt = base + align8(len);
    reserve(align8(len) + count * 8);
    u8.set(len === bytes.length ? bytes : bytes.subarray(0, len), base);
    const n = ex.decodeVarints64(base, len, count, outAt);
    if (n >= 0) out.set(f64.subarray(outAt >>> 3, (outAt >>> 3) + count));
    return n;
  }

  function indexLookup(entries: Uint8Array, entryCount: number, target: number): number {
    checkIndex(entries, entryCount, "indexLookup");
    const t = clampTarget(target);
    if (t < 0) return -1;
    const len = entryCount * indexEntryBytes;
    reserve(len);
    u8.set(entries.subarray(0, len), base);
    return ex.indexLookup(base, entryCount, t);
  }

  function indexLookupMany(entries: Uint8Array, entryCount: number, targets: Uint32Array, out: Int32Array): void {
    checkIndex(entries, entryCount, "indexLookupMany");
    const n = targets.length;
    checkCount(n, out.length, "indexLookupMany");
    const len = entryCount * indexEntryBytes;
    const targetsAt = base + len;
    const outAt = targetsAt + n * 4;
    reserve(len + n * 8);
    u8.set(entries.subarray(0, len), base);
    u32.set(targets, targetsAt >>> 2);
    ex.indexLookupMany(base, entryCount, targetsAt, n, outAt);
    out.set(i32.subarray(outAt >>> 2, (outAt >>> 2) + n));
  }

  return {
    kind: "wasm",
    crc32c,
    scanBatches,
    encodeVarints32,
    decodeVarints32,
    encodeVarints64,
    decodeVarints64,
    indexLookup,
    indexLookupMany,
  };
}
