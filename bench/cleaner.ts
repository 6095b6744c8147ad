/**
 * Log cleaner benchmark on the real filesystem (temp dir): a compacted log of 1 KiB values
 * over a key space a tenth the record count (so ~90% of the records are superseded), written
 * as 100-record batches, uncompressed and zstd; then one full clean driven step by step the
 * way LogCleaner runs it on the Clock. Reports, per codec, the median over runs of: input
 * MB/s (stored bytes of the sealed segments cleaned / wall time of the pass; for zstd that
 * is compressed bytes), records/s (records in those segments / wall time), the longest step
 * (the event-loop stall a clean causes), and output/input bytes.
 *
 * Run: `bun bench/cleaner.ts` (RUNS=3 LOG_MB=256 by default). Writes bench/results/cleaner.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunCompression } from "../src/platform/bun/compression.ts";
import { BunFileSystem } from "../src/platform/bun/fs.ts";
import type { Clock } from "../src/platform/clock.ts";
import { buildRecordBatch } from "../src/protocol/records/builder.ts";
import type { CompressionCodecName } from "../src/protocol/records/compression.ts";
import { LogCleaner } from "../src/storage/cleaner.ts";
import { defaultLogConfig } from "../src/storage/config.ts";
import { FileCache } from "../src/storage/file-cache.ts";
import { LogDirHealth, PartitionLog } from "../src/storage/partition-log.ts";

const runs = Number(process.env.RUNS ?? 3);
const logMb = Number(process.env.LOG_MB ?? 256);
const valueBytes = 1024;
const perBatch = 100;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function once(codec: CompressionCodecName): { mbPerS: number; recordsPerS: number; maxStepMs: number; ratio: number; steps: number } {
  const root = mkdtempSync(join(tmpdir(), "bunka-cleaner-bench-"));
  try {
    const fs = new BunFileSystem();
    const timers: (() => void)[] = [];
    let now = 1_700_000_000_000;
    const clock: Clock = {
      nowMs: () => now,
      monotonicMs: () => now,
      schedule: (_ms, fn) => {
        timers.push(fn);
        return () => {};
      },
    };
    const config = {
      ...defaultLogConfig,
      segmentBytes: 64 * 1024 * 1024,
      cleanupPolicy: { delete: false, compact: true },
      minCleanableDirtyRatio: 0.5,
    };
    const log = PartitionLog.open({
      fs,
      clock,
      dir: join(root, "bench-0"),
      topicPartition: { topic: "bench", partition: 0 },
      config,
      files: new FileCache(fs, 256),
      health: new LogDirHealth(root, 5),
      recoveryPoint: 0,
      logStartOffset: 0,
      highWatermark: 0,
      hadCleanShutdown: false,
    });
    const records = Math.floor((logMb * 1024 * 1024) / (valueBytes + 20));
    const keySpace = Math.max(1, Math.floor(records / 10));
    const enc = new TextEncoder();
    const value = new Uint8Array(valueBytes);
    for (let i = 0; i < valueBytes; i++) value[i] = 97 + ((i * 7) % 26);
    let k = 0;
    for (let b = 0; b * perBatch < records; b++) {
      const recs = [];
      for (let i = 0; i < perBatch; i++) {
        value[0] = 65 + (k % 26);
        recs.push({ key: enc.encode(`key-${(k * 2654435761) % keySpace}`), value: value.slice(), timestamp: now });
        k++;
      }
      const r = log.append(buildRecordBatch(recs, { compression: codec, codecs: bunCompression }), 0);
      if (r.kind !== "ok") throw new Error(`append: ${JSON.stringify(r)}`);
    }
    log.roll();
    const e = log.flush();
    if (e !== null) throw e;
    log.setHighWatermark(log.logEndOffset);
    now += 1000;
    const before = log.sizeBytes();
    const cleaner = new LogCleaner({
      fs,
      clock,
      codecs: bunCompression,
      dedupeBufferBytes: 128 * 1024 * 1024,
      backoffMs: 15_000,
      logDirs: () => [{ path: root, logs: [log] }],
    });
    Bun.gc(true); // the write phase's garbage is not the cleaner's
    cleaner.start();
    let maxStepMs = 0;
    let steps = 0;
    const t0 = performance.now();
    while (cleaner.stats.passes === 0) {
      const fn = timers.shift();
      if (fn === undefined) throw new Error("cleaner stopped scheduling");
      const s = performance.now();
      fn();
      const d = performance.now() - s;
      steps++;
      if (d > maxStepMs) maxStepMs = d;
      if (process.env.TRACE) console.log("step", steps, d.toFixed(1));
    }
    const elapsedMs = performance.now() - t0;
    cleaner.stop();
    if (cleaner.stats.cleaned !== 1) throw new Error(`clean did not complete: ${JSON.stringify(cleaner.stats)}`);
    const after = log.sizeBytes();
    log.close();
    return { mbPerS: before / 1e6 / (elapsedMs / 1000), recordsPerS: k / (elapsedMs / 1000), maxStepMs, ratio: after / before, steps };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const results: Record<string, { inputMbPerS: number; recordsPerS: number; maxStepMs: number; outputOverInput: number; steps: number }> = {};
for (const codec of ["none", "zstd"] as const) {
  const xs = Array.from({ length: runs }, () => once(codec));
  results[codec] = {
    inputMbPerS: Math.round(median(xs.map((x) => x.mbPerS))),
    recordsPerS: Math.round(median(xs.map((x) => x.recordsPerS))),
    maxStepMs: Math.round(median(xs.map((x) => x.maxStepMs)) * 10) / 10,
    outputOverInput: Math.round(median(xs.map((x) => x.ratio)) * 1000) / 1000,
    steps: median(xs.map((x) => x.steps)),
  };
  console.log(codec, results[codec]);
}
const out = resolve(import.meta.dir, "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "cleaner.json"),
  `${JSON.stringify({ bench: "cleaner", logMb, valueBytes, recordsPerBatch: perBatch, runs, date: new Date().toISOString(), results }, null, 2)}\n`,
);
