/**
 * Compression benchmark: Kafka's four codecs as bunka frames them (src/protocol/records/
 * compression.ts over src/platform/bun/compression.ts), compress and decompress of 1 MiB of
 * JSON log lines, plus the candidate libraries the snappy/lz4 choice was made from when they
 * are installed (they are not dependencies: `bun add -d snappyjs lz4js lz4-wasm-nodejs` to
 * re-run the comparison; absent ones are reported as skipped), plus the batch builder.
 *
 * Run: `bun run bench:compression` (= `bun bench/compression.ts`). Prints mitata's table and
 * writes bench/results/compression.json: medians as MB/s (1e6 bytes of uncompressed data per
 * second, both directions) and compression ratios.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import * as lz4 from "lz4-napi";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import * as snappy from "snappy";
import { bunCompression } from "../src/platform/bun/compression.ts";
import { buildRecordBatch } from "../src/protocol/records/builder.ts";
import { type CompressionCodecName, compressRecords, decompressRecords } from "../src/protocol/records/compression.ts";
import { RecordBatchView } from "../src/protocol/records/record-batch.ts";
import { logLines } from "../test/protocol/records/fixtures.ts";

const MiB = 1024 * 1024;
const data = logLines(MiB, 20261121);
const limit = 2 * MiB;
const codecs: CompressionCodecName[] = ["gzip", "snappy", "lz4", "zstd"];
const packed = new Map<string, Uint8Array>();
for (const codec of codecs) packed.set(codec, compressRecords(codec, data, bunCompression));

// ---- optional candidates ------------------------------------------------------------------
type Fn = (...args: unknown[]) => unknown;
async function loadFns(spec: string, names: string[]): Promise<Record<string, Fn> | null> {
  let mod: unknown;
  try {
    mod = await import(spec);
  } catch {
    return null;
  }
  const out: Record<string, Fn> = {};
  for (const name of names) {
    const f = (mod as Record<string, unknown>)[name] ?? ((mod as { default?: Record<string, unknown> }).default ?? {})[name];
    if (typeof f !== "function") return null;
    out[name] = f as Fn;
  }
  return out;
}
const asBytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new Error("bench: candidate returned no bytes");
  return v;
};
const buf = Buffer.from(data);
const skipped: string[] = [];

group("framed codecs (bunka), 1 MiB JSON log lines", () => {
  for (const codec of codecs) {
    const p = packed.get(codec)!;
    bench(`${codec}.compress`, () => do_not_optimize(compressRecords(codec, data, bunCompression)));
    bench(`${codec}.decompress`, () => do_not_optimize(decompressRecords(codec, p, limit, bunCompression)));
  }
});

group("snappy candidates (raw block, 1 MiB)", () => {
  const raw = snappy.compressSync(buf);
  summary(() => {
    bench("snappy-napi.copy.compress", () => do_not_optimize(snappy.compressSync(buf, { copyOutputData: true })));
    bench("snappy-napi.copy.decompress", () => do_not_optimize(snappy.uncompressSync(raw, { asBuffer: true, copyOutputData: true })));
    bench("snappy-napi.external.compress", () => do_not_optimize(snappy.compressSync(buf)));
    bench("snappy-napi.external.decompress", () => do_not_optimize(snappy.uncompressSync(raw, { asBuffer: true })));
  });
});

const snappyjs = await loadFns("snappyjs", ["compress", "uncompress"]);
const lz4js = await loadFns("lz4js", ["compress", "decompress"]);
const lz4wasm = await loadFns("lz4-wasm-nodejs", ["compress", "decompress"]);
group("pure-JS / WASM candidates (when installed)", () => {
  if (snappyjs !== null) {
    const c = asBytes(snappyjs.compress!(buf));
    bench("snappyjs.compress", () => do_not_optimize(snappyjs.compress!(buf)));
    bench("snappyjs.decompress", () => do_not_optimize(snappyjs.uncompress!(c)));
  } else skipped.push("snappyjs");
  if (lz4js !== null) {
    const c = asBytes(lz4js.compress!(data));
    bench("lz4js.compress", () => do_not_optimize(lz4js.compress!(data)));
    bench("lz4js.decompress", () => do_not_optimize(lz4js.decompress!(c)));
  } else skipped.push("lz4js");
  if (lz4wasm !== null) {
    const c = asBytes(lz4wasm.compress!(data));
    bench("lz4-wasm.compress", () => do_not_optimize(lz4wasm.compress!(data)));
    bench("lz4-wasm.decompress", () => do_not_optimize(lz4wasm.decompress!(c)));
  } else skipped.push("lz4-wasm-nodejs");
});

group("lz4-napi frame API (not used: unbounded, 256 KiB blocks)", () => {
  const frame = lz4.compressFrameSync(buf);
  bench("lz4-napi.frame.compress", () => do_not_optimize(lz4.compressFrameSync(buf)));
  bench("lz4-napi.frame.decompress", () => do_not_optimize(lz4.decompressFrameSync(frame)));
});

// The builder: 1,000 records of ~1 KiB, uncompressed (varints written inline in TS).
const enc = new TextEncoder();
const builderRecords = Array.from({ length: 1000 }, (_, i) => ({
  key: enc.encode(`key-${i}`),
  value: data.subarray(i * 1000, i * 1000 + 1000),
  headers: [{ key: "trace", value: enc.encode("abc") }],
  timestamp: 1_700_000_000_000 + i,
}));
const builtBatch = buildRecordBatch(builderRecords);
group("batch builder / record decode, 1,000 × 1 KiB records", () => {
  bench("builder.none", () => do_not_optimize(buildRecordBatch(builderRecords)));
  bench("records.decode.none", () => do_not_optimize(RecordBatchView.at(builtBatch).records({ maxBytes: limit })));
});

const { benchmarks } = await run({ format: "mitata" });

// ---- results ------------------------------------------------------------------------------
const results: Record<string, number | string | string[]> = {};
const mbps = (bytes: number, ns: number): number => Math.round((bytes / ns) * 1000 * 10) / 10;
for (const trial of benchmarks) {
  const first = trial.runs[0];
  if (first?.stats === undefined) throw new Error(`bench: ${trial.alias} has no stats`);
  const bytes = trial.alias.startsWith("builder") || trial.alias.startsWith("records") ? builtBatch.length : data.length;
  results[`${trial.alias}.MBps`] = mbps(bytes, first.stats.p50);
}
for (const codec of codecs) results[`${codec}.ratio`] = Math.round((data.length / packed.get(codec)!.length) * 100) / 100;
results.input = "1 MiB JSON log lines (test/protocol/records/fixtures.ts logLines, seed 20261121); medians";
results.skipped = skipped;
console.log("\nmedians (MB/s of uncompressed data):");
console.table(results);

const out = resolve(import.meta.dir, "results", "compression.json");
mkdirSync(resolve(import.meta.dir, "results"), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${out}`);
