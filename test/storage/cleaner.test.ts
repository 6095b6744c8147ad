/**
 * The log cleaner (src/storage/cleaner.ts, cleaner-swap.ts): latest value per key with
 * offsets and the log end unchanged, tombstones and their delete horizon on the Clock, the
 * dirty-ratio and compaction-lag rules, the active segment, compressed batches, the cleaner
 * checkpoint and scheduling through LogManager, and power loss at every step of a swap.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { cleanerOffsetCheckpointName, completeInterruptedSwaps, swapLogPath } from "../../src/storage/cleaner-swap.ts";
import { LogCleaner } from "../../src/storage/cleaner.ts";
import { defaultLogManagerConfig } from "../../src/storage/config.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import { core } from "../../src/wasm/index.ts";
import {
  appendKV,
  type CleanerEnv,
  cleanerEnv,
  enc,
  filesOf,
  type KV,
  partitionDir,
  PowerLoss,
  type ReadRecord,
  readAll,
  rollAndFlush,
} from "./cleaner-helpers.ts";

/** Latest value per key, from records in offset order. */
function latest(records: readonly ReadRecord[]): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const r of records) if (r.key !== null) m.set(r.key, r.value);
  return m;
}

/** Every record read is the record written at its offset; offsets ascend. */
function expectFaithful(read: readonly ReadRecord[], written: ReadonlyMap<number, KV>): void {
  let prev = -1;
  for (const r of read) {
    expect(r.offset).toBeGreaterThan(prev);
    prev = r.offset;
    expect(written.get(r.offset)).toEqual({ key: r.key, value: r.value });
  }
}

/** Appends `batches` of records and returns offset → record. */
function fill(env: CleanerEnv, batches: KV[][], written = new Map<number, KV>()): Map<number, KV> {
  for (const b of batches) {
    const { first } = appendKV(env, b);
    b.forEach((r, i) => written.set(first + i, r));
  }
  return written;
}

const kv = (key: string, value: string | null): KV => ({ key, value });

describe("compaction", () => {
  test("keeps the latest value per key; offsets, batch bounds and the log end stay; the active segment is untouched", () => {
    const env = cleanerEnv(1);
    const written = fill(env, [
      [kv("a", "a1"), kv("b", "b1"), kv("c", "c1")],
      [kv("a", "a2"), kv("d", "d1")],
    ]);
    rollAndFlush(env);
    fill(env, [[kv("b", "b2"), kv("c", "c2")], [kv("a", "a3")]], written);
    rollAndFlush(env);
    fill(env, [[kv("a", "a4"), kv("e", "e1")]], written); // active segment
    const before = readAll(env.log);
    const leo = env.log.logEndOffset;
    const activeBase = env.log.segmentBaseOffsets().at(-1)!;

    const out = env.cleaner.cleanLog(env.log);
    expect(out.kind).toBe("cleaned");
    const after = readAll(env.log);
    expect(env.log.logEndOffset).toBe(leo);
    expectFaithful(after.records, written);
    expect(latest(after.records)).toEqual(latest(before.records));
    // Below the active segment each key appears once; the active segment is as written.
    const below = after.records.filter((r) => r.offset < activeBase);
    expect(below.map((r) => `${r.key}=${r.value}@${r.offset}`)).toEqual(["d=d1@4", "b=b2@5", "c=c2@6", "a=a3@7"]);
    expect(after.records.filter((r) => r.offset >= activeBase)).toEqual(before.records.filter((r) => r.offset >= activeBase));
    // The first batch lost every record and was not its group's last: gone. Others keep their bounds.
    expect(after.batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual([
      [3, 4],
      [5, 6],
      [7, 7],
      [8, 9],
    ]);
    // The two sealed segments were merged into one with the first one's base.
    expect(env.log.segmentBaseOffsets()).toEqual([0, activeBase]);
    expect(filesOf(env.sim).filter((f) => f.includes(".cleaned") || f.includes(".swap") || f.endsWith(".deleted"))).toEqual([]);
    // A second pass has nothing dirty.
    expect(env.cleaner.cleanLog(env.log).kind).toBe("notNeeded");
    // Restart (unclean: recovery rescans every segment) sees the same.
    env.reopen(false);
    expect(readAll(env.log).records).toEqual(after.records);
    expect(env.log.logEndOffset).toBe(leo);
  });

  test("a batch emptied at a group's end stays as an empty batch, so the segment still ends where the next begins", () => {
    const env = cleanerEnv(2);
    fill(env, [[kv("a", "1")], [kv("b", "1")], [kv("a", "2")]]);
    rollAndFlush(env);
    fill(env, [[kv("a", "3")]]);
    rollAndFlush(env);
    fill(env, [[kv("b", "2")]]);
    // Two segments [0,3) and [3,4), merged; then b=1 is superseded only by the active segment's b=2.
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    const { batches, records } = readAll(env.log);
    expect(records.map((r) => r.offset)).toEqual([1, 3, 4]);
    expect(batches.map((b) => [b.baseOffset, b.recordCount])).toEqual([
      [1, 1],
      [3, 1],
      [4, 1],
    ]);
    rollAndFlush(env);
    fill(env, [[kv("c", "1")]]);
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("cleaned");
    // b=1 (offset 1) now goes; a=3 (offset 3) stays; b=2 (offset 4) ends the second sealed segment.
    const again = readAll(env.log);
    expect(again.records.map((r) => `${r.key}=${r.value}`)).toEqual(["a=3", "b=2", "c=1"]);
    env.reopen(false);
    expect(readAll(env.log).records).toEqual(again.records);
    expect(env.log.logEndOffset).toBe(6);
  });

  test("the last batch of a group keeps its last offset even when every record in it goes (empty batch)", () => {
    const env = cleanerEnv(3);
    fill(env, [[kv("x", "1"), kv("y", "1")]]);
    rollAndFlush(env);
    fill(env, [[kv("x", "2"), kv("y", "2")]]); // supersedes the whole first segment
    rollAndFlush(env);
    fill(env, [[kv("z", "1")]]);
    // Clean only the first segment: the second is the map but not cleanable? Both are; make the
    // first its own group with a small segment.bytes.
    env.log.updateConfig({ ...env.config, segmentBytes: 100 });
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    const { batches, records } = readAll(env.log);
    expect(batches[0]).toMatchObject({ baseOffset: 0, lastOffset: 1, recordCount: 0, compression: "none" });
    expect(records.map((r) => r.offset)).toEqual([2, 3, 4]);
    // A fetch there never answers with the record-less batch alone (kafkajs would refetch it
    // forever): the read goes on into the next segment.
    const r = env.log.read(0, 1 << 20);
    expect(r.kind === "ok" ? [r.firstOffset, r.lastOffset] : null).toEqual([0, 3]);
    // Unless nothing else is below the bound yet.
    const bounded = env.log.read(0, 1 << 20, 2);
    expect(bounded.kind === "ok" ? [bounded.firstOffset, bounded.lastOffset] : null).toEqual([0, 1]);
    env.reopen(false);
    expect(env.log.logEndOffset).toBe(5);
    expect(readAll(env.log).records.map((r) => r.offset)).toEqual([2, 3, 4]);
  });

  for (const codec of ["gzip", "zstd", "lz4", "snappy"] as const) {
    test(`${codec} batches are cleaned and re-compressed with their codec`, () => {
      const env = cleanerEnv(4);
      const written = new Map<number, KV>();
      const add = (recs: KV[]): void => {
        const { first } = appendKV(env, recs, codec);
        recs.forEach((r, i) => written.set(first + i, r));
      };
      add([kv("k1", "v1".repeat(50)), kv("k2", "v1".repeat(50)), kv("k3", "v1")]);
      add([kv("k1", "v2".repeat(50)), kv("k4", null)]);
      rollAndFlush(env);
      add([kv("k2", "v3")]);
      const before = readAll(env.log);
      expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
      const after = readAll(env.log);
      expectFaithful(after.records, written);
      expect(latest(after.records)).toEqual(latest(before.records));
      expect(after.records.filter((r) => r.offset < 5).map((r) => r.key)).toEqual(["k2", "k3", "k1", "k4"]);
      expect(after.batches.slice(0, 2).map((b) => b.compression)).toEqual([codec, codec]);
      // The tombstone's batch got a delete horizon.
      expect(after.batches[1]!.deleteHorizonMs).toBe(env.clock.nowMs() + env.config.deleteRetentionMs);
    });
  }

  test("tombstones are kept until delete.retention.ms after the clean that first saw them, then dropped", () => {
    const env = cleanerEnv(5, { deleteRetentionMs: 60_000 });
    fill(env, [[kv("a", "1"), kv("b", "1")], [kv("a", null)]]);
    rollAndFlush(env);
    fill(env, [[kv("c", "1")]]);
    const t0 = env.clock.nowMs();
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    let r = readAll(env.log);
    expect(r.records.map((x) => `${x.key}=${x.value}`)).toEqual(["b=1", "a=null", "c=1"]);
    expect(r.batches[1]!.deleteHorizonMs).toBe(t0 + 60_000);
    // Nothing dirty and the horizon not reached: no clean.
    env.clock.advance(59_999);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("notNeeded");
    expect(readAll(env.log).records.length).toBe(3);
    // At the horizon the log is eligible again without new data, and the tombstone goes.
    env.clock.advance(1);
    const out = env.cleaner.cleanLog(env.log);
    expect(out).toMatchObject({ kind: "cleaned", tombstonesRemoved: 1 });
    r = readAll(env.log);
    expect(r.records.map((x) => `${x.key}=${x.value}`)).toEqual(["b=1", "c=1"]);
    // The tombstone batch was its group's last: an empty batch keeps offset 2 accounted for.
    expect(r.batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount])).toEqual([
      [0, 1, 1],
      [2, 2, 0],
      [3, 3, 1],
    ]);
  });

  test("the horizon survives a restart (read back from batch headers)", () => {
    const env = cleanerEnv(6, { deleteRetentionMs: 10_000 });
    fill(env, [[kv("a", "1")], [kv("a", null)], [kv("b", "1")]]);
    rollAndFlush(env);
    fill(env, [[kv("c", "1")]]);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    env.reopen(true);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("notNeeded");
    env.clock.advance(10_000);
    expect(env.cleaner.cleanLog(env.log)).toMatchObject({ kind: "cleaned", tombstonesRemoved: 1 });
    expect(readAll(env.log).records.map((x) => x.key)).toEqual(["b", "c"]);
  });

  test("min.cleanable.dirty.ratio: nothing happens below it; the checkpoint marks what is clean", () => {
    const env = cleanerEnv(7, { minCleanableDirtyRatio: 0.5 });
    for (let i = 0; i < 10; i++) fill(env, [[kv(`k${i}`, "x".repeat(100))]]);
    rollAndFlush(env);
    fill(env, [[kv("z", "1")]]);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned"); // all dirty: ratio 1
    expect(env.cleaner.firstDirtyOffset(env.log)).toBe(10);
    fill(env, [[kv("k0", "y")]]);
    rollAndFlush(env);
    fill(env, [[kv("z", "2")]]);
    // Dirty: two small batches against ten large ones.
    const out = env.cleaner.cleanLog(env.log);
    expect(out.kind).toBe("notNeeded");
    expect(readAll(env.log).records.filter((r) => r.key === "k0").length).toBe(2);
    // Forced, it cleans; the checkpoint file holds Kafka's format.
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("cleaned");
    expect(readAll(env.log).records.filter((r) => r.key === "k0").map((r) => r.value)).toEqual(["y"]);
    const text = new TextDecoder().decode(env.sim.readFile(`/data/${cleanerOffsetCheckpointName}`));
    expect(text).toBe("0\n1\ncompacted 0 12\n");
  });

  test("a truncation after a clean makes the whole log dirty again (the checkpoint cannot be trusted)", () => {
    const env = cleanerEnv(13);
    fill(env, [[kv("a", "1")], [kv("a", "2")]]);
    rollAndFlush(env);
    fill(env, [[kv("b", "1")], [kv("b", "2")]]);
    rollAndFlush(env);
    fill(env, [[kv("c", "1")]]);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    expect(env.cleaner.firstDirtyOffset(env.log)).toBe(4);
    expect(env.log.truncateTo(3)).toBe(true);
    expect(env.cleaner.firstDirtyOffset(env.log)).toBe(0);
    fill(env, [[kv("b", "3")]]);
    rollAndFlush(env);
    fill(env, [[kv("d", "1")]]);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    expect(readAll(env.log).records.map((r) => `${r.key}=${r.value}`)).toEqual(["a=2", "b=3", "d=1"]);
    expect(env.cleaner.firstDirtyOffset(env.log)).toBe(4);
  });

  test("log.cleaner.dedupe.buffer.size: a full offset map ends the clean there; later passes go on", () => {
    // 1024 bytes hold 15 two-byte keys (64 bytes of overhead each).
    const env = cleanerEnv(14, {}, new SimClock(), null, 1024);
    const written = new Map<number, KV>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) fill(env, [[kv(`${String.fromCharCode(65 + (i % 26))}${i >= 26 ? "x" : ""}`, `r${round}`)]], written);
      rollAndFlush(env);
    }
    fill(env, [[kv("end", "1")]], written);
    const before = readAll(env.log).records;
    const first = env.cleaner.cleanLog(env.log);
    expect(first.kind).toBe("cleaned");
    const endOffset = first.kind === "cleaned" ? first.endOffset : -1;
    expect(endOffset).toBe(15);
    expect(env.cleaner.firstDirtyOffset(env.log)).toBe(15);
    for (let i = 0; i < 20 && env.cleaner.cleanLog(env.log).kind === "cleaned"; i++);
    expect(env.cleaner.firstDirtyOffset(env.log)).toBe(120);
    const after = readAll(env.log).records;
    expectFaithful(after, written);
    expect(latest(after)).toEqual(latest(before));
    expect(after.filter((r) => r.offset < 120).length).toBe(40);
  });

  test("a batch whose keys alone overflow the offset map leaves the log uncleaned (failed, not retried)", () => {
    const env = cleanerEnv(15, {}, new SimClock(), null, 1024);
    fill(env, [Array.from({ length: 30 }, (_, i) => kv(`key-${i}`, "v"))]);
    rollAndFlush(env);
    fill(env, [[kv("z", "1")]]);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("failed");
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("notNeeded");
    expect(readAll(env.log).records.length).toBe(31);
  });

  test("a stored batch the cleaner cannot decode (timestamp beyond 2^53) fails the clean and leaves the log as it was", () => {
    const env = cleanerEnv(16);
    fill(env, [[kv("a", "1")]]);
    const odd = buildRecordBatch([{ key: enc.encode("a"), value: enc.encode("2"), timestamp: 0 }]);
    new DataView(odd.buffer).setUint32(27, 0x4000_0000); // baseTimestamp 2^62
    new DataView(odd.buffer).setUint32(17, core.crc32c(odd.subarray(21)) >>> 0);
    expect(env.log.append(odd, 0).kind).toBe("ok");
    env.log.setHighWatermark(env.log.logEndOffset);
    rollAndFlush(env);
    fill(env, [[kv("b", "1")]]);
    const before = filesOf(env.sim);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("failed");
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("notNeeded");
    expect(filesOf(env.sim)).toEqual(before);
    expect(env.log.read(0, 1 << 20).kind).toBe("ok");
  });

  test("min.compaction.lag.ms: segments whose newest record is younger are not cleaned", () => {
    const env = cleanerEnv(8, { minCompactionLagMs: 60_000 });
    fill(env, [[kv("a", "1")], [kv("a", "2")]]);
    rollAndFlush(env);
    fill(env, [[kv("b", "1")]]);
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("notNeeded");
    env.clock.advance(60_001);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    expect(readAll(env.log).records.map((r) => `${r.key}=${r.value}`)).toEqual(["a=2", "b=1"]);
  });

  test("max.compaction.lag.ms: a dirty batch older than it is cleaned below the dirty ratio; the active segment rolls by then", () => {
    const env = cleanerEnv(9, { minCleanableDirtyRatio: 0.99, maxCompactionLagMs: 60_000 });
    for (let i = 0; i < 10; i++) fill(env, [[kv(`k${i}`, "x".repeat(100))]]);
    rollAndFlush(env);
    fill(env, [[kv("z", "1")]]);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    env.clock.advance(1_000);
    fill(env, [[kv("k0", "y")]]);
    rollAndFlush(env);
    fill(env, [[kv("z", "2")]]);
    // A small dirty section: below the ratio, and its batch is younger than the lag.
    expect(env.cleaner.cleanLog(env.log).kind).toBe("notNeeded");
    env.clock.advance(59_000);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("notNeeded");
    env.clock.advance(1);
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
    expect(readAll(env.log).records.filter((r) => r.key === "k0").map((r) => r.value)).toEqual(["y"]);

    // segment.ms is a week, but a compacted log's active segment rolls at the lag.
    const sealed = env.log.sealedSegments().length;
    env.clock.advance(60_000);
    fill(env, [[kv("after", "1")]]);
    expect(env.log.sealedSegments().length).toBe(sealed + 1);
  });

  test("max.compaction.lag.ms does not roll delete-only logs", () => {
    const env = cleanerEnv(10, { cleanupPolicy: { delete: true, compact: false }, maxCompactionLagMs: 1_000 });
    fill(env, [[kv("a", "1")]]);
    env.clock.advance(5_000);
    fill(env, [[kv("b", "1")]]);
    expect(env.log.sealedSegments().length).toBe(0);
  });

  test("only below the high watermark and the recovery point; delete-only logs are never cleaned", () => {
    const env = cleanerEnv(9);
    fill(env, [[kv("a", "1")], [kv("a", "2")]]);
    rollAndFlush(env);
    fill(env, [[kv("b", "1")]]);
    env.log.setHighWatermark(1);
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("notNeeded");
    env.log.setHighWatermark(env.log.logEndOffset);
    env.log.updateConfig({ ...env.config, cleanupPolicy: { delete: true, compact: false } });
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("notNeeded");
    env.log.updateConfig({ ...env.config, cleanupPolicy: { delete: true, compact: true } });
    expect(env.cleaner.cleanLog(env.log).kind).toBe("cleaned");
  });

  test("compact,delete: retention still deletes old segments; compact-only logs are not deleted by retention", () => {
    const env = cleanerEnv(10, { retentionMs: 1000, cleanupPolicy: { delete: false, compact: true } });
    fill(env, [[kv("a", "1")]]);
    rollAndFlush(env);
    fill(env, [[kv("b", "1")]]);
    env.clock.advance(5000);
    expect(env.log.applyRetention(env.clock.nowMs())).toBe(0);
    env.log.updateConfig({ ...env.config, cleanupPolicy: { delete: true, compact: true } });
    expect(env.log.applyRetention(env.clock.nowMs())).toBe(1);
    expect(readAll(env.log).records.map((r) => r.key)).toEqual(["b"]);
    expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("notNeeded");
  });

  test("keyless records (written before the produce check) are removed; control batches are kept", () => {
    const env = cleanerEnv(11);
    fill(env, [[{ key: null, value: "orphan" }, kv("a", "1")]]);
    const marker = buildRecordBatch([{ key: new Uint8Array([0, 0, 0, 1]), value: new Uint8Array([0, 0, 0, 0, 0, 0]), timestamp: env.clock.nowMs() }], {
      producerId: 7,
      producerEpoch: 0,
      isTransactional: true,
      isControl: true,
    });
    expect(env.log.append(marker, 0).kind).toBe("ok");
    fill(env, [[kv("a", "2")]]);
    rollAndFlush(env);
    fill(env, [[kv("b", "1")]]);
    env.log.setHighWatermark(env.log.logEndOffset);
    expect(env.cleaner.cleanLog(env.log)).toMatchObject({ kind: "cleaned", recordsRemoved: 2 });
    const { batches, records } = readAll(env.log);
    expect(batches.map((b) => [b.baseOffset, b.recordCount])).toEqual([
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
    expect(records.map((r) => r.offset)).toEqual([2, 3, 4]);
  });

  test("a clean the log changed under (truncation, retention) is abandoned and leaves no files", () => {
    const env = cleanerEnv(12, { cleanupPolicy: { delete: true, compact: true }, retentionMs: 1000 });
    for (let i = 0; i < 3; i++) {
      fill(env, [[kv("a", `${i}`)]]);
      rollAndFlush(env);
    }
    fill(env, [[kv("b", "1")]]);
    // A cleaner on a clock whose timers run one at a time, by hand.
    const timers: (() => void)[] = [];
    const stepClock = { nowMs: () => env.clock.nowMs(), monotonicMs: () => 0, schedule: (_ms: number, fn: () => void) => (timers.push(fn), () => {}) };
    const cleaner = new LogCleaner({ fs: env.fs, clock: stepClock, codecs: bunCompression, dedupeBufferBytes: 1 << 20, backoffMs: 1000, logDirs: () => [{ path: "/data", logs: [env.log] }] });
    cleaner.start();
    timers.shift()!(); // first turn: plan, then the map over the first dirty segment
    timers.shift()!(); // the map over the second
    env.log.applyRetention(env.clock.nowMs() + 10_000);
    for (let i = 0; i < 20 && timers.length > 0 && cleaner.stats.passes === 0; i++) timers.shift()!();
    expect(cleaner.stats).toMatchObject({ passes: 1, abandoned: 1, cleaned: 0 });
    expect(filesOf(env.sim).filter((f) => f.includes(".cleaned") || f.includes(".swap"))).toEqual([]);
    // Truncation too: the next pass starts, then the log is truncated under it.
    fill(env, [[kv("a", "x")]]);
    rollAndFlush(env);
    fill(env, [[kv("a", "y")]]);
    rollAndFlush(env);
    fill(env, [[kv("c", "1")]]);
    timers.length = 0;
    cleaner.stop();
    cleaner.start();
    timers.shift()!();
    expect(env.log.truncateTo(env.log.logEndOffset - 1)).toBe(true);
    for (let i = 0; i < 20 && timers.length > 0 && cleaner.stats.passes === 1; i++) timers.shift()!();
    expect(cleaner.stats).toMatchObject({ passes: 2, abandoned: 2 });
    cleaner.stop();
  });
});

describe("on the real filesystem", () => {
  test("clean, swap, restart: same records, no leftover files, indexes serve lookups", () => {
    const root = mkdtempSync(join(tmpdir(), "bunka-cleaner-"));
    try {
      const env = cleanerEnv(30, { segmentBytes: 2000, indexIntervalBytes: 100 }, new SimClock(), { fs: new BunFileSystem(), root });
      const written = new Map<number, KV>();
      for (let i = 0; i < 300; i++) {
        const recs = [kv(`k${i % 17}`, `v${i}`), kv(`k${(i * 7) % 23}`, i % 11 === 0 ? null : `w${i}`)];
        const { first } = appendKV(env, recs, (["none", "gzip", "zstd"] as const)[i % 3]);
        recs.forEach((r, j) => written.set(first + j, r));
        if (i % 40 === 39) rollAndFlush(env);
      }
      const before = readAll(env.log).records;
      const leo = env.log.logEndOffset;
      // A reader holding bytes from before the swap keeps valid bytes.
      const early = env.log.read(0, 1 << 20);
      expect(env.cleaner.cleanLog(env.log)).toMatchObject({ kind: "cleaned" });
      expect(early.kind === "ok" && early.records.length > 0).toBe(true);
      const after = readAll(env.log).records;
      expectFaithful(after, written);
      expect(latest(after)).toEqual(latest(before));
      expect(after.length).toBeLessThan(before.length);
      // Lookups from every offset land on the batch holding it (or the next kept one).
      for (let o = 0; o < leo; o += 13) {
        const r = env.log.read(o, 1);
        expect(r.kind).toBe("ok");
      }
      const names = readdirSync(join(root, "compacted-0"));
      expect(names.filter((n) => n.endsWith(".cleaned") || n.endsWith(".swap") || n.endsWith(".deleted"))).toEqual([]);
      env.reopen(false);
      expect(readAll(env.log).records).toEqual(after);
      expect(env.log.logEndOffset).toBe(leo);
      env.log.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("LogManager runs the cleaner", () => {
  const setup = (cleanerEnable: boolean) => {
    const clock = new SimClock();
    const sim = new SimFileSystem(new SeededPrng(3), clock);
    const config = { ...defaultLogManagerConfig(["/logs"]), cleanerEnable, cleanerBackoffMs: 15_000 };
    const topicConfig = (topic: string) =>
      topic.startsWith("compacted")
        ? { cleanupPolicy: { delete: false, compact: true }, minCleanableDirtyRatio: 0.1, segmentBytes: 4096 }
        : { segmentBytes: 4096 };
    const outcomes: string[] = [];
    const mgr = LogManager.open({
      fs: sim,
      clock,
      prng: new SeededPrng(1),
      config,
      topicConfig,
      compression: bunCompression,
      onCleanerOutcome: (tp, o) => outcomes.push(`${tp.topic}-${tp.partition} ${o.kind}`),
    });
    return { clock, sim, mgr, outcomes };
  };
  const keyed = (key: string, value: string, now: number) =>
    buildRecordBatch([{ key: enc.encode(key), value: enc.encode(value), timestamp: now }], { compression: "zstd", codecs: bunCompression });

  for (const enabled of [true, false]) {
    test(`log.cleaner.enable=${enabled}`, () => {
      const { clock, mgr, sim, outcomes } = setup(enabled);
      const log = mgr.getOrCreateLog({ topic: "compacted", partition: 0 })!;
      const plain = mgr.getOrCreateLog({ topic: "plain", partition: 0 })!;
      for (let i = 0; i < 400; i++) {
        for (const l of [log, plain]) {
          expect(l.append(keyed(`k${i % 10}`, `v${i}`, clock.nowMs()), 0).kind).toBe("ok");
          l.setHighWatermark(l.logEndOffset);
        }
      }
      for (const l of [log, plain]) l.flush();
      const segments = log.segmentBaseOffsets().length;
      const bytes = log.sizeBytes();
      expect(segments).toBeGreaterThan(3);
      mgr.startBackgroundTasks();
      for (let i = 0; i < 200; i++) clock.advance(1000);
      if (enabled) {
        expect(mgr.cleaner.stats.cleaned).toBeGreaterThanOrEqual(1);
        expect(outcomes[0]).toBe("compacted-0 cleaned");
        expect(outcomes.every((o) => o.startsWith("compacted-0 "))).toBe(true);
        // Every sealed segment shrank to its keys' latest values (full segments cannot merge
        // in the first pass: groups are bounded by the segments' sizes before cleaning).
        expect(log.sizeBytes()).toBeLessThan(bytes / 3);
        expect(sim.exists(`/logs/${cleanerOffsetCheckpointName}`)).toBe(true);
      } else {
        expect(mgr.cleaner.stats.passes).toBe(0);
        expect(log.segmentBaseOffsets().length).toBe(segments);
      }
      expect(plain.segmentBaseOffsets().length).toBeGreaterThan(3);
      const before = readAll(log).records;
      expect(latest(before).get("k3")).toBe("v393");
      mgr.close();
      const again = LogManager.open({
        fs: sim,
        clock,
        prng: new SeededPrng(1),
        config: { ...defaultLogManagerConfig(["/logs"]), cleanerEnable: enabled },
        compression: bunCompression,
      });
      expect(readAll(again.getLog({ topic: "compacted", partition: 0 })!).records).toEqual(before);
      if (enabled) {
        // A deleted partition leaves the cleaner checkpoint.
        const text = () => new TextDecoder().decode(sim.readFile(`/logs/${cleanerOffsetCheckpointName}`));
        expect(text()).toContain("compacted 0 ");
        expect(again.deleteLog({ topic: "compacted", partition: 0 })).toBe(true);
        expect(text()).not.toContain("compacted 0 ");
      }
      again.close();
    });
  }
});

describe("power loss during a clean", () => {
  /** Three sealed segments with overwrites and a tombstone, plus an active one. */
  const scenario = (seed: number): CleanerEnv => {
    // segment.bytes 400: each sealed segment (~350 bytes) is its own group of the clean.
    const env = cleanerEnv(seed, { segmentBytes: 400, deleteRetentionMs: 24 * 3600 * 1000 });
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < 4; i++) fill(env, [[kv(`k${(s + i) % 5}`, `s${s}i${i}`), kv(`k${i}`, i === 3 && s === 2 ? null : `t${s}${i}`)]]);
      rollAndFlush(env);
    }
    fill(env, [[kv("active", "1")]]);
    return env;
  };

  test("at every mutating step, recovery yields exactly the old or the new segments", () => {
    // Reference: the clean without faults.
    const ref = scenario(20);
    const old = readAll(ref.log).records;
    const leo = ref.log.logEndOffset;
    expect(ref.cleaner.cleanLog(ref.log).kind).toBe("cleaned");
    const cleaned = readAll(ref.log).records;
    expect(cleaned).not.toEqual(old);
    const outcomes = { old: 0, cleaned: 0, partial: 0 };
    let finished = false;
    for (let budget = 0; !finished; budget++) {
      expect(budget).toBeLessThan(500);
      for (const seed of [1, 2, 3]) {
        const env = scenario(20);
        env.sim.crash(); // sync point: everything so far durable or not, as a real disk may
        env.reopen(false);
        const base = readAll(env.log).records;
        // Every scenario write was flushed before the crash, so it all survived.
        expect(base).toEqual(old);
        env.fs.ops = 0;
        env.fs.budget = budget;
        let crashed = false;
        try {
          env.cleaner.cleanLog(env.log);
        } catch (e) {
          if (!(e instanceof PowerLoss)) throw e;
          crashed = true;
        }
        env.fs.budget = Number.POSITIVE_INFINITY;
        if (!crashed) {
          finished = true;
          expect(readAll(env.log).records).toEqual(cleaned);
          continue;
        }
        // Each crash resolves directory changes differently (seeded).
        for (let i = 0; i < seed; i++) env.sim.crash();
        env.reopen(false);
        const got = readAll(env.log).records;
        expect(env.log.logEndOffset).toBe(leo);
        const latestGot = latest(got);
        // Never a loss: the latest value of every key is there (tombstones may be gone).
        for (const [k, v] of latest(old)) if (v !== null) expect(latestGot.get(k)).toBe(v);
        if (JSON.stringify(got) === JSON.stringify(old)) outcomes.old++;
        else if (JSON.stringify(got) === JSON.stringify(cleaned)) outcomes.cleaned++;
        else {
          // Groups swap one at a time: a prefix of groups cleaned, the rest old, is a valid state.
          outcomes.partial++;
          let prev = -1;
          for (const r of got) {
            expect(r.offset).toBeGreaterThan(prev);
            prev = r.offset;
          }
          // Every record is one of the old log's, at the same offset.
          const byOffset = new Map(old.map((r) => [r.offset, r]));
          for (const r of got) expect(byOffset.get(r.offset)).toEqual(r);
        }
        expect(filesOf(env.sim).filter((f) => f.includes(".cleaned") || f.includes(".swap"))).toEqual([]);
        // And the cleaner finishes the job after the restart.
        expect(env.cleaner.cleanLog(env.log, { force: true }).kind).toBe("cleaned");
        expect(readAll(env.log).records).toEqual(cleaned);
      }
    }
    // Both sides of the commit point were hit, and the in-between states of a multi-group clean.
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.cleaned).toBeGreaterThan(0);
    expect(outcomes.partial).toBeGreaterThan(0);
  });

  test("a committed swap is completed at open; a .cleaned file is deleted", () => {
    const env = cleanerEnv(21);
    fill(env, [[kv("a", "1")], [kv("a", "2")]]);
    rollAndFlush(env);
    fill(env, [[kv("b", "1")]]);
    env.log.close();
    // Hand-made swap: the cleaned form of segment 0 (one batch ending at offset 1).
    const batch = buildRecordBatch([{ key: enc.encode("a"), value: enc.encode("2"), timestamp: 0 }], { baseOffset: 1 });
    const fd = env.sim.open(swapLogPath(partitionDir, 0), "write");
    env.sim.append(fd, batch);
    env.sim.close(fd);
    const stray = env.sim.open(`${partitionDir}/00000000000000000002.log.cleaned`, "write");
    env.sim.close(stray);
    expect(completeInterruptedSwaps(env.sim, partitionDir)).toBe(1);
    expect(filesOf(env.sim).filter((f) => f.includes(".cleaned") || f.includes(".swap"))).toEqual([]);
    env.reopen(false);
    expect(readAll(env.log).records.map((r) => `${r.key}=${r.value}@${r.offset}`)).toEqual(["a=2@1", "b=1@2"]);
  });
});
