/**
 * Crash fuzz at the log manager level: several partitions in two log dirs, random appends,
 * flushes, rolls, truncations, deleteRecords, clock advances (periodic checkpoints and
 * retention), crashes and clean restarts on the simulated filesystem. After every restart:
 * each partition holds a prefix of what was appended to it, everything its recovery point
 * covered survives, and the log start never moves past the high watermark.
 *
 * Replay: SEED=<n> bun test test/storage/log-manager-fuzz.test.ts
 */
import { expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { defaultLogManagerConfig } from "../../src/storage/config.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import type { PartitionLog } from "../../src/storage/partition-log.ts";
import { simpleBatch, splitBatches } from "./batch-builder.ts";

const partitions = 4;

function readAllBytes(log: PartitionLog): Map<number, string> {
  const out = new Map<number, string>();
  let at = log.logStartOffset;
  while (at < log.logEndOffset) {
    const r = log.read(at, 4096);
    if (r.kind !== "ok") throw new Error(`read ${at}: ${r.kind}`);
    const bs = splitBatches(r.records);
    if (bs.length === 0) throw new Error(`nothing at ${at} below ${log.logEndOffset}`);
    for (const b of bs) out.set(b.baseOffset, Buffer.from(b.bytes).toString("hex"));
    at = bs.at(-1)!.lastOffset + 1;
  }
  return out;
}

async function runSeed(seed: number, steps: number): Promise<void> {
  const rnd = new SeededPrng(seed);
  const clock = new SimClock();
  const fs = new SimFileSystem(new SeededPrng(seed * 7 + 1), clock);
  const config = {
    ...defaultLogManagerConfig(["/a", "/b"]),
    retentionCheckIntervalMs: 5000,
    flushOffsetCheckpointIntervalMs: 2000,
    flushStartOffsetCheckpointIntervalMs: 2000,
    highWatermarkCheckpointIntervalMs: 1000,
    openFilesMax: 6,
  };
  const topicConfig = () => ({ segmentBytes: 1500, retentionBytes: rnd.int(2) === 0 ? 4000 : -1, fileDeleteDelayMs: 500 });
  const openManager = (): LogManager => {
    const m = LogManager.open({ fs, clock, prng: new SeededPrng(seed), config, topicConfig });
    m.startBackgroundTasks();
    return m;
  };
  let m = openManager();
  const tp = (p: number) => ({ topic: "f", partition: p });
  for (let p = 0; p < partitions; p++) m.getOrCreateLog(tp(p), null);
  // Model per partition: every batch ever appended and not truncated, by base offset.
  const model = Array.from({ length: partitions }, () => new Map<number, string>());
  const durable = new Array<number>(partitions).fill(0);
  const where = (step: number, msg: string) => `seed ${seed} step ${step}: ${msg}\nreplay: SEED=${seed} bun test test/storage/log-manager-fuzz.test.ts`;

  const verify = (step: number): void => {
    for (let p = 0; p < partitions; p++) {
      const log = m.getLog(tp(p));
      if (log === null) throw new Error(where(step, `partition ${p} missing`));
      if (log.logEndOffset < durable[p]!) throw new Error(where(step, `partition ${p} lost durable data: LEO ${log.logEndOffset} < ${durable[p]}`));
      if (log.logStartOffset > log.highWatermark) throw new Error(where(step, `partition ${p} log start past HW`));
      for (const [base, hex] of readAllBytes(log)) {
        if (model[p]!.get(base) !== hex) throw new Error(where(step, `partition ${p} batch ${base} differs from what was appended`));
      }
      for (const base of [...model[p]!.keys()]) if (base >= log.logEndOffset) model[p]!.delete(base);
    }
  };

  for (let step = 1; step <= steps; step++) {
    const p = rnd.int(partitions);
    const log = m.getLog(tp(p))!;
    const dice = rnd.int(100);
    if (dice < 50) {
      const b = simpleBatch(1 + rnd.int(4), rnd.int(100), rnd.nextU32(), { baseTimestamp: clock.nowMs() });
      const r = log.append(b, 1);
      if (r.kind !== "ok") throw new Error(where(step, `append: ${r.kind}`));
      model[p]!.set(r.firstOffset, Buffer.from(b).toString("hex"));
      log.setHighWatermark(log.logEndOffset - rnd.int(3));
    } else if (dice < 58) {
      log.flush();
    } else if (dice < 62) {
      log.roll();
    } else if (dice < 66) {
      log.truncateTo(Math.max(log.highWatermark, log.logEndOffset - rnd.int(5)));
    } else if (dice < 70) {
      log.deleteRecordsBefore(log.logStartOffset + rnd.int(log.highWatermark - log.logStartOffset + 1));
    } else if (dice < 85) {
      clock.advance(rnd.int(3000));
      await new Promise((resolve) => setImmediate(resolve));
    } else if (dice < 93) {
      // Crash: whatever each log promised as durable must come back.
      for (let q = 0; q < partitions; q++) durable[q] = Math.max(durable[q]!, m.getLog(tp(q))!.recoveryPoint);
      if (rnd.int(2) === 0) fs.crash(); // else only the process died
      for (const l of m.allLogs()) l.closeUnclean();
      m = openManager();
      verify(step);
      continue;
    } else {
      m.close();
      for (let q = 0; q < partitions; q++) durable[q] = m.getLog(tp(q))?.logEndOffset ?? durable[q]!;
      m = openManager();
      for (let q = 0; q < partitions; q++) {
        if (m.getLog(tp(q))!.loadReport.segmentsRecovered !== 0) throw new Error(where(step, "a clean restart rescanned segments"));
      }
    }
    for (let q = 0; q < partitions; q++) durable[q] = Math.min(durable[q]!, m.getLog(tp(q))!.logEndOffset);
    verify(step);
  }
  m.close();
}

const envSeed = process.env.SEED;
const seeds = envSeed !== undefined ? [Number(envSeed)] : Array.from({ length: Number(process.env.FUZZ_SEEDS ?? 12) }, (_, i) => i + 1);
const steps = Number(process.env.FUZZ_STEPS ?? 200);

test(`LogManager crash fuzz: ${seeds.length} seeds x ${steps} steps`, async () => {
  for (const seed of seeds) await runSeed(seed, steps);
  expect(seeds.length).toBeGreaterThan(0);
}, 3_600_000);
