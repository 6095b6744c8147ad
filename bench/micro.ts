/**
 * Micro-benchmarks of the hot-path core: every `CoreOps` operation in its WASM form (the
 * wrapper, copies into WASM memory included) against its TypeScript twin; CRC32C and the
 * verified batch scan also on bunka's native CRC32C (SSE4.2 through bun:ffi, when it loads),
 * with `@node-rs/crc32`'s CRC32C as an outside reference point only (bunka does not use it).
 *
 * Run: `bun run bench:micro` (= `bun bench/micro.ts`). Prints mitata's table and a summary,
 * and writes bench/results/micro.json: a flat object of medians turned into rates
 * (GB/s = 1e9 bytes/s; Mops = 1e6 values/s; ns per lookup).
 */
import { crc32c as nodeRsCrc32c } from "@node-rs/crc32";
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { SeededPrng } from "../src/platform/prng.ts";
import type { CoreOps, CrcRange, ScanOptions } from "../src/wasm/api.ts";
import { nativeCrc, tsTwin, wasmCore } from "../src/wasm/index.ts";
import { scanBatchesWith } from "../src/wasm/ts-twin.ts";

if (wasmCore === null) throw new Error("bench: unset BUNKA_WASM=off; this benchmark compares the WASM core with its twin");
if (nativeCrc === null) throw new Error("bench: the native CRC32C did not load (x86-64 with SSE4.2 needed; unset BUNKA_NATIVE_CRC=off)");
const wasm: CoreOps = wasmCore;
const native: CrcRange = nativeCrc;
const nativeScan = scanBatchesWith(native);
const rng = new SeededPrng(20261121);

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextU32();
  return b;
}

// ---- inputs -----------------------------------------------------------------------------
const KiB = 1024;
const MiB = 1024 * 1024;
const crcInputs = { "32B": randomBytes(32), "64B": randomBytes(64), "1KiB": randomBytes(KiB), "1MiB": randomBytes(MiB) } as const;

/** Varint workload: bit lengths uniform over the range, the shape of Kafka record fields' worst case. */
const varintCount = 10_000;
const v32 = new Int32Array(varintCount);
for (let i = 0; i < varintCount; i++) v32[i] = (rng.nextU32() | 0) >> rng.int(32);
const v64 = new Float64Array(varintCount);
for (let i = 0; i < varintCount; i++) {
  const m = Math.floor((rng.nextU32() * 2 ** 21 + (rng.nextU32() >>> 11)) / 2 ** rng.int(54));
  v64[i] = rng.int(2) === 0 ? m : -m;
}
const enc32 = new Uint8Array(varintCount * 5);
const enc32Len = tsTwin.encodeVarints32(v32, varintCount, enc32);
const enc64 = new Uint8Array(varintCount * 10);
const enc64Len = tsTwin.encodeVarints64(v64, varintCount, enc64);
const dec32 = new Int32Array(varintCount);
const dec64 = new Float64Array(varintCount);

/** Offset index: 65,536 entries (512 KiB, a 256 MiB segment at 4 KiB intervals); 1,000 random targets. */
const indexEntries = 65_536;
const index = new Uint8Array(indexEntries * 8);
{
  const view = new DataView(index.buffer);
  let rel = 0;
  for (let i = 0; i < indexEntries; i++) {
    view.setUint32(i * 8, rel);
    view.setUint32(i * 8 + 4, i * 4096);
    rel += 1 + rng.int(60);
  }
}
const lastRel = new DataView(index.buffer).getUint32((indexEntries - 1) * 8);
const lookupCount = 1000;
const targets = new Uint32Array(lookupCount);
for (let i = 0; i < lookupCount; i++) targets[i] = rng.int(lastRel + 100);
const slots = new Int32Array(lookupCount);
let nextTarget = 0;

/** Batch run: 1 MiB of 16 KiB v2 batches, scanned as the produce path does (CRC, dense, assign). */
function buildBatches(total: number, batchBytes: number): Uint8Array {
  const out = new Uint8Array(Math.floor(total / batchBytes) * batchBytes);
  const view = new DataView(out.buffer);
  for (let p = 0; p < out.length; p += batchBytes) {
    out.set(randomBytes(batchBytes), p);
    view.setInt32(p + 8, batchBytes - 12);
    view.setInt8(p + 16, 2);
    view.setInt16(p + 21, 0);
    view.setInt32(p + 23, 99);
    view.setInt32(p + 57, 100);
    view.setUint32(p + 17, tsTwin.crc32c(out.subarray(p + 21, p + batchBytes)));
  }
  return out;
}
const batches = buildBatches(MiB, 16 * KiB);
const produceScan: ScanOptions = {
  verifyCrc: true,
  requireDenseOffsets: true,
  maxBatchBytes: MiB,
  assign: { firstOffset: 1_000_000, leaderEpoch: 3 },
};
/** The storage append after the produce path has checked CRCs: headers only. */
const appendScan: ScanOptions = { ...produceScan, verifyCrc: false, requireDenseOffsets: false };
if ([wasm.scanBatches, tsTwin.scanBatches, nativeScan].some((scan) => scan(batches, produceScan).error !== null)) {
  throw new Error("bench: the generated batches do not scan cleanly");
}

// ---- benchmarks -------------------------------------------------------------------------
for (const [size, input] of Object.entries(crcInputs)) {
  group(`crc32c ${size}`, () => {
    summary(() => {
      bench(`crc32c.wasm.${size}`, () => do_not_optimize(wasm.crc32c(input)));
      bench(`crc32c.ts.${size}`, () => do_not_optimize(tsTwin.crc32c(input)));
      bench(`crc32c.native.${size}`, () => do_not_optimize(native(input, 0, input.length, 0)));
      bench(`crc32c.noders.${size}`, () => do_not_optimize(nodeRsCrc32c(input)));
    });
  });
}

group(`varint32 x ${varintCount}`, () => {
  summary(() => {
    bench("varint32.encode.wasm", () => do_not_optimize(wasm.encodeVarints32(v32, varintCount, enc32)));
    bench("varint32.encode.ts", () => do_not_optimize(tsTwin.encodeVarints32(v32, varintCount, enc32)));
    bench("varint32.decode.wasm", () => do_not_optimize(wasm.decodeVarints32(enc32.subarray(0, enc32Len), varintCount, dec32)));
    bench("varint32.decode.ts", () => do_not_optimize(tsTwin.decodeVarints32(enc32.subarray(0, enc32Len), varintCount, dec32)));
  });
});

group(`varint64 x ${varintCount}`, () => {
  summary(() => {
    bench("varint64.encode.wasm", () => do_not_optimize(wasm.encodeVarints64(v64, varintCount, enc64)));
    bench("varint64.encode.ts", () => do_not_optimize(tsTwin.encodeVarints64(v64, varintCount, enc64)));
    bench("varint64.decode.wasm", () => do_not_optimize(wasm.decodeVarints64(enc64.subarray(0, enc64Len), varintCount, dec64)));
    bench("varint64.decode.ts", () => do_not_optimize(tsTwin.decodeVarints64(enc64.subarray(0, enc64Len), varintCount, dec64)));
  });
});

group(`index search (${indexEntries} entries)`, () => {
  summary(() => {
    bench(`indexSearch.wasm.bulk x${lookupCount}`, () => wasm.indexLookupMany(index, indexEntries, targets, slots));
    bench(`indexSearch.ts.bulk x${lookupCount}`, () => tsTwin.indexLookupMany(index, indexEntries, targets, slots));
    bench("indexSearch.wasm.single", () => {
      nextTarget = (nextTarget + 1) % lookupCount;
      return do_not_optimize(wasm.indexLookup(index, indexEntries, targets[nextTarget]!));
    });
    bench("indexSearch.ts.single", () => {
      nextTarget = (nextTarget + 1) % lookupCount;
      return do_not_optimize(tsTwin.indexLookup(index, indexEntries, targets[nextTarget]!));
    });
  });
});

group("scanBatches 1 MiB of 16 KiB batches (CRC, dense, assign)", () => {
  summary(() => {
    bench("scanBatches.wasm", () => do_not_optimize(wasm.scanBatches(batches, produceScan)));
    bench("scanBatches.ts", () => do_not_optimize(tsTwin.scanBatches(batches, produceScan)));
    bench("scanBatches.native", () => do_not_optimize(nativeScan(batches, produceScan)));
  });
});

group("scanBatches 1 MiB of 16 KiB batches (no CRC: storage append, assign)", () => {
  summary(() => {
    bench("scanBatchesNoCrc.wasm", () => do_not_optimize(wasm.scanBatches(batches, appendScan)));
    bench("scanBatchesNoCrc.ts", () => do_not_optimize(tsTwin.scanBatches(batches, appendScan)));
  });
});

const { benchmarks } = await run({ format: "mitata" });

// ---- results ----------------------------------------------------------------------------
const medianNs = new Map<string, number>();
for (const trial of benchmarks) {
  const first = trial.runs[0];
  if (first?.stats === undefined) throw new Error(`bench: ${trial.alias} has no stats`);
  medianNs.set(trial.alias, first.stats.p50);
}
function ns(name: string): number {
  const v = medianNs.get(name);
  if (v === undefined) throw new Error(`bench: no result for ${name}`);
  return v;
}
const gbps = (bytes: number, t: number): number => bytes / t;
const mops = (values: number, t: number): number => (values / t) * 1000;
const round = (v: number): number => Math.round(v * 1000) / 1000;

const results: Record<string, number> = {};
for (const impl of ["wasm", "ts", "native", "noders"]) {
  for (const [size, input] of Object.entries(crcInputs)) {
    results[`crc32c.${impl}.${size}.GBps`] = gbps(input.length, ns(`crc32c.${impl}.${size}`));
  }
}
for (const bits of ["32", "64"]) {
  for (const impl of ["wasm", "ts"]) {
    const enc = ns(`varint${bits}.encode.${impl}`);
    const dec = ns(`varint${bits}.decode.${impl}`);
    results[`varint${bits}.encode.${impl}.Mops`] = mops(varintCount, enc);
    results[`varint${bits}.decode.${impl}.Mops`] = mops(varintCount, dec);
    // One value encoded and decoded: the round trip's rate.
    results[`varint${bits}.${impl}.Mops`] = mops(varintCount, enc + dec);
  }
}
results["indexSearch.wasm.bulk.nsPerLookup"] = ns(`indexSearch.wasm.bulk x${lookupCount}`) / lookupCount;
results["indexSearch.ts.bulk.nsPerLookup"] = ns(`indexSearch.ts.bulk x${lookupCount}`) / lookupCount;
results["indexSearch.wasm.single.nsPerLookup"] = ns("indexSearch.wasm.single");
results["indexSearch.ts.nsPerLookup"] = ns("indexSearch.ts.single");
results["scanBatches.wasm.GBps"] = gbps(batches.length, ns("scanBatches.wasm"));
results["scanBatches.ts.GBps"] = gbps(batches.length, ns("scanBatches.ts"));
results["scanBatches.native.GBps"] = gbps(batches.length, ns("scanBatches.native"));
results["scanBatches.noCrc.wasm.usPerMiB"] = ns("scanBatchesNoCrc.wasm") / 1000;
results["scanBatches.noCrc.ts.usPerMiB"] = ns("scanBatchesNoCrc.ts") / 1000;
for (const k of Object.keys(results)) results[k] = round(results[k]!);

const ratio = (a: string, b: string): string => ((results[a] ?? Number.NaN) / (results[b] ?? Number.NaN)).toFixed(2);
console.log("\nmedians:");
console.table(results);
console.log(`crc32c 1 MiB wasm/ts: ${ratio("crc32c.wasm.1MiB.GBps", "crc32c.ts.1MiB.GBps")}x (bar: >= 1.5x and >= 2.5 GB/s)`);
console.log(`crc32c 1 KiB wasm/ts: ${ratio("crc32c.wasm.1KiB.GBps", "crc32c.ts.1KiB.GBps")}x`);
console.log(`varint64 wasm/ts: ${ratio("varint64.wasm.Mops", "varint64.ts.Mops")}x (bar: >= 2x)`);
console.log(`varint32 wasm/ts: ${ratio("varint32.wasm.Mops", "varint32.ts.Mops")}x`);
console.log(`scanBatches wasm/ts: ${ratio("scanBatches.wasm.GBps", "scanBatches.ts.GBps")}x`);
console.log(`crc32c 1 MiB native/wasm: ${ratio("crc32c.native.1MiB.GBps", "crc32c.wasm.1MiB.GBps")}x`);
console.log(`crc32c 64 B native/ts: ${ratio("crc32c.native.64B.GBps", "crc32c.ts.64B.GBps")}x`);
console.log(`scanBatches native/wasm: ${ratio("scanBatches.native.GBps", "scanBatches.wasm.GBps")}x`);

const out = resolve(import.meta.dir, "results", "micro.json");
mkdirSync(resolve(import.meta.dir, "results"), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${out}`);
