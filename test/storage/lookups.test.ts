import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { defaultLogConfig } from "../../src/storage/config.ts";
import { FileCache } from "../../src/storage/file-cache.ts";
import { undefinedEpoch } from "../../src/storage/leader-epoch-cache.ts";
import { LogDirHealth, PartitionLog } from "../../src/storage/partition-log.ts";
import { buildBatch, concat, simpleBatch, splitBatches } from "./batch-builder.ts";
import { openLog, simEnv } from "./helpers.ts";

const t0 = 1_700_000_000_000;

describe("offsetForTimestamp", () => {
  test("finds the first batch with maxTimestamp >= target across segments; specials", () => {
    const env = simEnv(1, { segmentBytes: 700, indexIntervalBytes: 100 });
    const log = openLog(env);
    // Batch i (2 records) has timestamps t0 + 10i, t0 + 10i + 1; batch 7 goes back in time.
    for (let i = 0; i < 20; i++) {
      const ts = i === 7 ? t0 + 5 : t0 + 10 * i;
      log.append(simpleBatch(2, 50, i, { baseTimestamp: ts }), 1);
    }
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(3);
    expect(log.offsetForTimestamp(t0)).toEqual({ offset: 0, timestamp: t0 + 1 });
    expect(log.offsetForTimestamp(t0 + 2)).toEqual({ offset: 2, timestamp: t0 + 11 });
    expect(log.offsetForTimestamp(t0 + 61)).toEqual({ offset: 12, timestamp: t0 + 61 });
    expect(log.offsetForTimestamp(t0 + 62)).toEqual({ offset: 16, timestamp: t0 + 81 });
    expect(log.offsetForTimestamp(t0 + 191)).toEqual({ offset: 38, timestamp: t0 + 191 });
    expect(log.offsetForTimestamp(t0 + 192)).toBeNull();
    expect(log.offsetForTimestamp(-2)).toEqual({ offset: 0, timestamp: -1 });
    expect(log.offsetForTimestamp(-1)).toEqual({ offset: 40, timestamp: -1 });
    expect(log.offsetForTimestamp(-3)).toEqual({ offset: 38, timestamp: t0 + 191 });
    // Same answers after a clean reopen (sealed segments served from their time indexes).
    const probes = [t0, t0 + 2, t0 + 61, t0 + 62, t0 + 191, t0 + 192, -3];
    const expected = probes.map((ts) => log.offsetForTimestamp(ts));
    log.close();
    const log2 = openLog(env, { hadCleanShutdown: true, recoveryPoint: 40 });
    expect(probes.map((ts) => log2.offsetForTimestamp(ts))).toEqual(expected);
    // Log start bounds the answer.
    log2.setHighWatermark(40);
    log2.deleteRecordsBefore(13);
    expect(log2.offsetForTimestamp(t0)).toEqual({ offset: 13, timestamp: t0 + 61 });
    expect(log2.offsetForTimestamp(-2)).toEqual({ offset: 13, timestamp: -1 });
  });
});

describe("leader epochs", () => {
  test("endOffsetForLeaderEpoch follows Kafka's semantics and truncation", () => {
    const env = simEnv(2, { segmentBytes: 500 });
    const log = openLog(env);
    const epochs = [2, 2, 2, 4, 4, 7, 7, 7];
    for (const e of epochs) log.append(simpleBatch(3, 40), e);
    // Offsets: epoch 2 at 0..8, epoch 4 at 9..14, epoch 7 at 15..23.
    expect(log.leaderEpochCache.entries()).toEqual([
      { epoch: 2, startOffset: 0 },
      { epoch: 4, startOffset: 9 },
      { epoch: 7, startOffset: 15 },
    ]);
    expect(log.endOffsetForLeaderEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 9 });
    expect(log.endOffsetForLeaderEpoch(3)).toEqual({ leaderEpoch: 2, endOffset: 9 });
    expect(log.endOffsetForLeaderEpoch(4)).toEqual({ leaderEpoch: 4, endOffset: 15 });
    expect(log.endOffsetForLeaderEpoch(7)).toEqual({ leaderEpoch: 7, endOffset: 24 });
    expect(log.endOffsetForLeaderEpoch(8)).toEqual({ leaderEpoch: undefinedEpoch, endOffset: -1 });
    expect(log.endOffsetForLeaderEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 0 });
    expect(log.endOffsetForLeaderEpoch(-1)).toEqual({ leaderEpoch: undefinedEpoch, endOffset: -1 });
    // Truncate into the middle of epoch 4 (across a segment boundary).
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(2);
    log.truncateTo(12);
    expect(log.logEndOffset).toBe(12);
    expect(log.endOffsetForLeaderEpoch(4)).toEqual({ leaderEpoch: 4, endOffset: 12 });
    expect(log.endOffsetForLeaderEpoch(7)).toEqual({ leaderEpoch: undefinedEpoch, endOffset: -1 });
    log.append(simpleBatch(1, 10), 9);
    expect(log.endOffsetForLeaderEpoch(4)).toEqual({ leaderEpoch: 4, endOffset: 12 });
    expect(log.endOffsetForLeaderEpoch(7)).toEqual({ leaderEpoch: 4, endOffset: 12 });
    expect(log.endOffsetForLeaderEpoch(9)).toEqual({ leaderEpoch: 9, endOffset: 13 });
    const r = log.read(12, 1000);
    if (r.kind !== "ok") throw new Error(r.kind);
    expect(splitBatches(r.records)[0]!.leaderEpoch).toBe(9);
  });
});

describe("truncation across segment boundaries", () => {
  test("truncateTo into a sealed segment, a batch's middle, and the log start", () => {
    const env = simEnv(3, { segmentBytes: 400, indexIntervalBytes: 50 });
    const log = openLog(env);
    for (let i = 0; i < 30; i++) log.append(simpleBatch(2, 40, i), 1);
    const before = log.segmentBaseOffsets();
    const target = before[2]! - 2; // inside segment 1
    log.truncateTo(target);
    expect(log.logEndOffset).toBe(target);
    expect(log.segmentBaseOffsets()).toEqual(before.slice(0, 2));
    // Mid-batch: the straddling batch goes whole.
    log.truncateTo(target - 3);
    expect(log.logEndOffset).toBe(target - 4);
    expect(log.append(simpleBatch(3, 40), 2)).toMatchObject({ kind: "ok", firstOffset: target - 4 });
    for (let off = 0; off < log.logEndOffset; off++) {
      const r = log.read(off, 1);
      if (r.kind !== "ok") throw new Error(r.kind);
      const b = splitBatches(r.records)[0]!;
      expect(b.baseOffset <= off && off <= b.lastOffset).toBe(true);
    }
    log.close();
    const log2 = openLog(env, { hadCleanShutdown: true, recoveryPoint: log.logEndOffset });
    expect(log2.logEndOffset).toBe(target - 1);
    // truncateTo below the log start empties the log and starts there.
    log2.setHighWatermark(log2.logEndOffset);
    expect(log2.deleteRecordsBefore(4)).toEqual({ kind: "ok", logStartOffset: 4 });
    log2.truncateTo(2);
    expect(log2.logStartOffset).toBe(2);
    expect(log2.logEndOffset).toBe(2);
    expect(log2.append(simpleBatch(1, 1), 3)).toMatchObject({ kind: "ok", firstOffset: 2 });
    log2.truncateFullyAndStartAt(100);
    expect([log2.logStartOffset, log2.logEndOffset, log2.highWatermark]).toEqual([100, 100, 100]);
    expect(log2.leaderEpochCache.entries()).toEqual([]);
    expect(log2.append(simpleBatch(1, 1), 4)).toMatchObject({ kind: "ok", firstOffset: 100 });
  });

  test("on the real filesystem: truncation into a memory-mapped sealed segment is safe", () => {
    const root = mkdtempSync(join(tmpdir(), "bunka-trunc-"));
    try {
      const fs = new BunFileSystem();
      const clock = new SimClock();
      const mk = (clean: boolean, rp: number) =>
        PartitionLog.open({
          fs,
          clock,
          dir: join(root, "t-0"),
          topicPartition: { topic: "t", partition: 0 },
          config: { ...defaultLogConfig, segmentBytes: 4000, indexIntervalBytes: 100 },
          files: new FileCache(fs, 8),
          health: new LogDirHealth(root, 5),
          recoveryPoint: rp,
          logStartOffset: 0,
          highWatermark: 0,
          hadCleanShutdown: clean,
        });
      const log = mk(false, 0);
      for (let i = 0; i < 60; i++) log.append(simpleBatch(3, 60, i), 1);
      log.close();
      const log2 = mk(true, log.logEndOffset);
      // Map every sealed index by reading through them.
      for (let off = 0; off < log2.logEndOffset; off += 5) expect(log2.read(off, 100).kind).toBe("ok");
      log2.truncateTo(20); // the batch 18..20 goes whole
      expect(log2.logEndOffset).toBe(18);
      for (let i = 0; i < 40; i++) log2.append(simpleBatch(3, 60, i), 2);
      for (let off = 0; off < log2.logEndOffset; off += 3) {
        const r = log2.read(off, 100);
        if (r.kind !== "ok") throw new Error(r.kind);
        const b = splitBatches(r.records)[0]!;
        expect(b.baseOffset <= off && off <= b.lastOffset).toBe(true);
        expect(b.leaderEpoch).toBe(off < 18 ? 1 : 2);
      }
      log2.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("append validation and faults", () => {
  test("corrupt, too large, empty, and follower offset checks", () => {
    const env = simEnv(4, { maxMessageBytes: 500 });
    const log = openLog(env);
    const bad = simpleBatch(2, 10);
    bad[bad.length - 1]! ^= 1;
    expect(log.append(bad, 1).kind).toBe("corruptMessage");
    expect(log.append(simpleBatch(1, 600), 1).kind).toBe("messageTooLarge");
    expect(log.append(new Uint8Array(0), 1).kind).toBe("corruptMessage");
    expect(log.append(simpleBatch(2, 10).subarray(0, 40), 1).kind).toBe("corruptMessage");
    expect(log.logEndOffset).toBe(0);
    const f1 = buildBatch([{ value: new Uint8Array(3) }, { value: null }], { baseOffset: 5, leaderEpoch: 3 });
    expect(log.appendAsFollower(f1)).toMatchObject({ kind: "ok", firstOffset: 5, lastOffset: 6 });
    expect(log.logEndOffset).toBe(7);
    expect(log.appendAsFollower(buildBatch([{ value: null }], { baseOffset: 6, leaderEpoch: 3 })).kind).toBe("invalidOffsets");
    const two = concat([buildBatch([{ value: null }], { baseOffset: 7, leaderEpoch: 4 }), buildBatch([{ value: null }], { baseOffset: 7, leaderEpoch: 4 })]);
    expect(log.appendAsFollower(two).kind).toBe("invalidOffsets");
    expect(log.appendAsFollower(buildBatch([{ value: null }], { baseOffset: 7, leaderEpoch: 4 })).kind).toBe("ok");
    expect(log.leaderEpochCache.entries()).toEqual([
      { epoch: 3, startOffset: 5 },
      { epoch: 4, startOffset: 7 },
    ]);
  });

  test("ENOSPC/EIO leave nothing visible; appends succeed once space is back; a dir that keeps failing goes offline", () => {
    const env = simEnv(5);
    const offline: string[] = [];
    env.health = new LogDirHealth("/data", 3, (d) => offline.push(d));
    const log = openLog(env);
    expect(log.append(simpleBatch(2, 50), 1).kind).toBe("ok");
    env.sim.setCapacity(env.sim.usedBytes() + 30);
    const r = log.append(simpleBatch(2, 50), 1);
    // A full disk is its own condition (retriable, never counted toward taking the dir offline).
    expect(r.kind).toBe("logDirFull");
    if (r.kind === "logDirFull") expect(r.detail).toContain("ENOSPC");
    expect(log.logEndOffset).toBe(2);
    env.sim.setCapacity(Number.POSITIVE_INFINITY);
    expect(log.append(simpleBatch(1, 50, 3), 1)).toMatchObject({ kind: "ok", firstOffset: 2 });
    const all = log.read(0, 1 << 20);
    if (all.kind !== "ok") throw new Error(all.kind);
    expect(splitBatches(all.records).map((b) => b.baseOffset)).toEqual([0, 2]);
    // Flush failure is reported and the recovery point does not move.
    env.sim.failNext("fsync", "EIO");
    expect(log.flush()?.code).toBe("EIO");
    expect(log.recoveryPoint).toBe(0);
    expect(log.flush()).toBeNull();
    expect(log.recoveryPoint).toBe(3);
    for (let i = 0; i < 3; i++) {
      env.sim.failNext("append", "EIO");
      expect(log.append(simpleBatch(1, 5), 1).kind).toBe("storageError");
    }
    expect(offline).toEqual(["/data"]);
    expect(log.append(simpleBatch(1, 5), 1).kind).toBe("logDirOffline");
  });
});

describe("flushing", () => {
  test("flush.messages: group commit, one fsync for many appends, tickets resolve after it", async () => {
    const env = simEnv(6, { flushMessages: 5 });
    const log = openLog(env);
    const tickets: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      const r = log.append(simpleBatch(2, 10), 1);
      if (r.kind !== "ok" || r.flushed === null) throw new Error("expected a flush ticket");
      tickets.push(r.flushed);
    }
    const fsyncsBefore = env.sim.stats.fsyncs;
    expect(log.recoveryPoint).toBe(0);
    env.clock.advance(0);
    expect(env.sim.stats.fsyncs - fsyncsBefore).toBe(1);
    expect(log.recoveryPoint).toBe(8);
    expect(await Promise.all(tickets)).toEqual([null, null, null, null]);
  });

  test("flush.ms flushes on the clock; default policy never flushes but flushTicket forces one", async () => {
    const env = simEnv(7, { flushMs: 1000 });
    const log = openLog(env);
    const r = log.append(simpleBatch(1, 10), 1);
    if (r.kind !== "ok" || r.flushed === null) throw new Error("expected a flush ticket");
    env.clock.advance(999);
    expect(log.recoveryPoint).toBe(0);
    env.clock.advance(1);
    expect(log.recoveryPoint).toBe(1);
    expect(await r.flushed).toBeNull();

    const env2 = simEnv(8);
    const log2 = openLog(env2);
    const r2 = log2.append(simpleBatch(1, 10), 1);
    expect(r2.kind === "ok" && r2.flushed === null).toBe(true);
    env2.clock.advance(10_000_000);
    expect(log2.recoveryPoint).toBe(0);
    const t = log2.flushTicket();
    env2.sim.failNext("fsync", "EIO");
    env2.clock.advance(0);
    expect((await t)?.code).toBe("EIO");
    const t2 = log2.flushTicket();
    env2.clock.advance(0);
    expect(await t2).toBeNull();
    expect(log2.recoveryPoint).toBe(1);
  });
});

describe("retention and deleteRecordsBefore", () => {
  test("deletes whole old segments by time and size, moves log start, removes files after the delay", () => {
    const env = simEnv(9, { segmentBytes: 500, retentionMs: 60_000, fileDeleteDelayMs: 1000 });
    const log = openLog(env);
    for (let i = 0; i < 20; i++) log.append(simpleBatch(2, 50, i, { baseTimestamp: env.clock.nowMs() - 120_000 + i * 5000 }), 1);
    log.setHighWatermark(log.logEndOffset);
    const bases = log.segmentBaseOffsets();
    const deleted = log.applyRetention(env.clock.nowMs());
    expect(deleted).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets()[0]!);
    expect(log.segmentBaseOffsets()).toEqual(bases.slice(deleted));
    const names = () => env.sim.readdir("/data/topic-0");
    expect(names().some((n) => n.endsWith(".deleted"))).toBe(true);
    env.clock.advance(1000);
    expect(names().some((n) => n.endsWith(".deleted"))).toBe(false);
    expect(log.read(0, 100).kind).toBe("offsetOutOfRange");
    // Every remaining segment holds a timestamp within retention (or is the active one).
    const env2 = simEnv(10, { segmentBytes: 500, retentionMs: -1, retentionBytes: 1000 });
    const log2 = openLog(env2);
    for (let i = 0; i < 20; i++) log2.append(simpleBatch(2, 50, i), 1);
    log2.setHighWatermark(log2.logEndOffset);
    log2.applyRetention(env2.clock.nowMs());
    expect(log2.sizeBytes()).toBeLessThanOrEqual(1000 + 500);
    expect(log2.logStartOffset).toBeGreaterThan(0);
    // deleteRecordsBefore: bounded by the high watermark; whole segments below go.
    const before = log2.segmentBaseOffsets();
    expect(log2.deleteRecordsBefore(log2.highWatermark + 1).kind).toBe("offsetOutOfRange");
    expect(log2.deleteRecordsBefore(before[1]! + 1)).toEqual({ kind: "ok", logStartOffset: before[1]! + 1 });
    expect(log2.segmentBaseOffsets()[0]).toBe(before[1]!);
    const r = log2.read(before[1]! + 1, 1);
    if (r.kind !== "ok") throw new Error(r.kind);
    expect(splitBatches(r.records)[0]!.baseOffset).toBe(before[1]!);
  });
});
