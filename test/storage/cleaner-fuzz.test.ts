/**
 * Seeded fuzz of the log cleaner against a model (every record written, by offset).
 *
 * Each seed runs random appends (keyed records, tombstones, none/gzip/zstd batches), rolls,
 * cleans (by the ratio rule or forced), clock jumps across delete.retention.ms, high
 * watermark moves and truncations above it, power loss in the middle of a clean, power loss
 * at rest, and clean restarts. After every step:
 * - every record read is the record written at its offset, offsets ascending (so no key ever
 *   shows an older value after a newer one);
 * - for every key, the last record read is the last one written, or — only when that is a
 *   tombstone — the key is gone entirely (a removed tombstone never resurrects a value);
 * - the log end offset is the model's; nothing at or above the bound of every clean so far
 *   (min of high watermark, recovery point and active segment base) is missing.
 *
 * Replay a failure: SEED=<n> bun test test/storage/cleaner-fuzz.test.ts
 * Longer run: FUZZ_SEEDS=300 FUZZ_STEPS=400 bun test test/storage/cleaner-fuzz.test.ts
 */
import { describe, expect, test } from "bun:test";
import { SeededPrng } from "../../src/platform/prng.ts";
import type { CompressionCodecName } from "../../src/protocol/records/compression.ts";
import { appendKV, type CleanerEnv, cleanerEnv, type KV, PowerLoss, readAll, rollAndFlush } from "./cleaner-helpers.ts";

const seedsEnv = process.env.SEED;
const seeds = seedsEnv !== undefined ? [Number(seedsEnv)] : Array.from({ length: Number(process.env.FUZZ_SEEDS ?? 25) }, (_, i) => i + 1);
const steps = Number(process.env.FUZZ_STEPS ?? 150);
const retentionMs = 50_000;

class Failure extends Error {}

function check(env: CleanerEnv, written: Map<number, KV>, leo: number, cleanBound: number, where: string): void {
  const fail = (msg: string): never => {
    throw new Failure(`${where}: ${msg}`);
  };
  if (env.log.logEndOffset !== leo) fail(`log end ${env.log.logEndOffset}, model ${leo}`);
  const { records } = readAll(env.log);
  let prev = -1;
  const lastRead = new Map<string, KV>();
  for (const r of records) {
    if (r.offset <= prev) fail(`offset ${r.offset} after ${prev}`);
    prev = r.offset;
    const w = written.get(r.offset);
    if (w === undefined || w.key !== r.key || w.value !== r.value) fail(`offset ${r.offset} reads ${r.key}=${r.value}, wrote ${JSON.stringify(w)}`);
    if (r.key !== null) lastRead.set(r.key, { key: r.key, value: r.value });
  }
  const lastWritten = new Map<string, KV>();
  for (const o of [...written.keys()].sort((a, b) => a - b)) {
    const w = written.get(o)!;
    if (w.key !== null) lastWritten.set(w.key, w);
  }
  for (const [k, w] of lastWritten) {
    const r = lastRead.get(k);
    if (r === undefined) {
      if (w.value !== null) fail(`key ${k} lost (latest ${w.value})`);
    } else if (r.value !== w.value) fail(`key ${k} reads ${r.value} last, latest written ${w.value}`);
  }
  // Nothing at or above any clean's bound (the active segment included) was removed.
  const present = new Set(records.map((r) => r.offset));
  for (const [o] of written) {
    if (o >= cleanBound && !present.has(o)) fail(`offset ${o} (at or above every clean's bound: never cleanable) is missing`);
  }
}

async function runSeed(seed: number): Promise<void> {
  const rnd = new SeededPrng(seed);
  const env = cleanerEnv(
    seed,
    {
      segmentBytes: 600 + rnd.int(2000),
      deleteRetentionMs: retentionMs,
      minCleanableDirtyRatio: [0.01, 0.3, 0.6][rnd.int(3)]!,
    },
    undefined,
    null,
    // Some seeds with an offset map of only a few keys: cleans that stop where the map is full.
    rnd.int(3) === 0 ? 1024 : 1024 * 1024,
  );
  const written = new Map<number, KV>();
  let leo = 0;
  let durable = 0;
  let cleans = 0;
  /**
   * The highest bound any clean ran under: min(high watermark, recovery point, active segment
   * base). Nothing
   * at or above it was ever cleaned; truncation stays at or above it.
   */
  let cleanBound = 0;
  const codecs: CompressionCodecName[] = ["none", "gzip", "zstd"];
  const truncateModel = (): void => {
    if (env.log.logEndOffset < durable) throw new Failure(`flushed data lost: log end ${env.log.logEndOffset} < ${durable}`);
    for (const o of [...written.keys()]) if (o >= env.log.logEndOffset) written.delete(o);
    leo = env.log.logEndOffset;
  };
  for (let step = 0; step < steps; step++) {
    const roll = rnd.int(100);
    let op: string;
    if (roll < 45) {
      op = "append";
      const n = 1 + rnd.int(5);
      const recs: KV[] = [];
      for (let i = 0; i < n; i++) recs.push({ key: `k${rnd.int(12)}`, value: rnd.int(7) === 0 ? null : `v${step}.${i}` });
      const { first, last } = appendKV(env, recs, codecs[rnd.int(3)]!);
      recs.forEach((r, i) => written.set(first + i, r));
      leo = last + 1;
    } else if (roll < 58) {
      op = "roll";
      rollAndFlush(env);
      durable = leo;
    } else if (roll < 75) {
      op = "clean";
      cleanBound = Math.max(cleanBound, Math.min(env.log.highWatermark, env.log.recoveryPoint, env.log.segmentBaseOffsets().at(-1)!));
      if (env.cleaner.cleanLog(env.log, { force: rnd.int(2) === 0 }).kind === "cleaned") cleans++;
    } else if (roll < 80) {
      op = "clock";
      env.clock.advance(rnd.int(retentionMs * 2));
    } else if (roll < 83) {
      // Truncation (a follower after a leader change) never goes below a high watermark a
      // clean ran under: the cleaner stays below the HW for exactly that reason.
      op = "lower hw / truncate";
      const low = Math.max(env.log.logStartOffset, cleanBound);
      if (leo < low) {
        // Power loss took unflushed records below the bound: nothing was cleaned there.
      } else if (rnd.int(2) === 0) env.log.setHighWatermark(low + rnd.int(leo - low + 1));
      else if (leo > low) {
        env.log.truncateTo(low + rnd.int(leo - low));
        for (const o of [...written.keys()]) if (o >= env.log.logEndOffset) written.delete(o);
        leo = env.log.logEndOffset;
        durable = Math.min(durable, leo);
      }
    } else if (roll < 91) {
      op = "crash during clean";
      cleanBound = Math.max(cleanBound, Math.min(env.log.highWatermark, env.log.recoveryPoint, env.log.segmentBaseOffsets().at(-1)!));
      env.fs.ops = 0;
      env.fs.budget = rnd.int(40);
      try {
        env.cleaner.cleanLog(env.log, { force: true });
      } catch (e) {
        if (!(e instanceof PowerLoss)) throw e;
      }
      env.fs.budget = Number.POSITIVE_INFINITY;
      env.sim.crash();
      env.reopen(false);
      truncateModel();
    } else if (roll < 96) {
      op = "crash";
      env.sim.crash();
      env.reopen(false);
      truncateModel();
    } else {
      op = "restart";
      env.reopen(true);
      durable = leo;
    }
    // Let the background flush of a roll settle (it moves the recovery point).
    await Promise.resolve();
    try {
      check(env, written, leo, cleanBound, `seed ${seed} step ${step} (${op})`);
    } catch (e) {
      if (e instanceof Failure) throw new Error(`${e.message}\nreplay: SEED=${seed} bun test test/storage/cleaner-fuzz.test.ts`);
      throw e;
    }
  }
  // The run compacted something (else the fuzz proves little).
  expect(cleans).toBeGreaterThan(0);
}

describe("log cleaner fuzz", () => {
  for (const seed of seeds) {
    test(`seed ${seed}`, async () => {
      try {
        await runSeed(seed);
      } catch (e) {
        if (e instanceof Error && !e.message.includes("replay:")) e.message += `\nreplay: SEED=${seed} bun test test/storage/cleaner-fuzz.test.ts`;
        throw e;
      }
    });
  }
});
