import { describe, expect, test } from "bun:test";
import { buildBatch, concat, simpleBatch, splitBatches } from "./batch-builder.ts";
import { openLog, simEnv } from "./helpers.ts";

describe("PartitionLog basics", () => {
  test("append assigns dense offsets and patches epoch; read returns whole batches", () => {
    const env = simEnv(1);
    const log = openLog(env);
    const r1 = log.append(simpleBatch(3, 10), 5);
    expect(r1).toMatchObject({ kind: "ok", firstOffset: 0, lastOffset: 2, recordCount: 3 });
    const r2 = log.append(concat([simpleBatch(2, 10, 1), simpleBatch(4, 10, 2)]), 5);
    expect(r2).toMatchObject({ kind: "ok", firstOffset: 3, lastOffset: 8, batchCount: 2 });
    expect(log.logEndOffset).toBe(9);
    const read = log.read(4, 1 << 20);
    if (read.kind !== "ok") throw new Error(read.kind);
    const batches = splitBatches(read.records);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.leaderEpoch])).toEqual([
      [3, 4, 5],
      [5, 8, 5],
    ]);
    expect(log.read(0, 1, 9).kind).toBe("ok");
    const one = log.read(0, 1);
    if (one.kind !== "ok") throw new Error(one.kind);
    expect(splitBatches(one.records).length).toBe(1);
    expect(log.read(10, 100).kind).toBe("offsetOutOfRange");
  });

  test("rolls segments and reads across them", () => {
    const env = simEnv(2, { segmentBytes: 1000, indexIntervalBytes: 100 });
    const log = openLog(env);
    for (let i = 0; i < 50; i++) expect(log.append(simpleBatch(2, 50, i), 1).kind).toBe("ok");
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(5);
    for (let off = 0; off < 100; off++) {
      const r = log.read(off, 300);
      if (r.kind !== "ok") throw new Error(r.kind);
      const b = splitBatches(r.records);
      expect(b[0]!.baseOffset).toBeLessThanOrEqual(off);
      expect(b[0]!.lastOffset).toBeGreaterThanOrEqual(off);
    }
  });

  test("rolls on segment.ms, on a full index, and before relative offsets overflow", () => {
    const env = simEnv(3, { segmentMs: 60_000 });
    const log = openLog(env);
    log.append(simpleBatch(1, 10), 1);
    env.clock.advance(59_999);
    log.append(simpleBatch(1, 10), 1);
    expect(log.segmentBaseOffsets()).toEqual([0]);
    env.clock.advance(1);
    log.append(simpleBatch(1, 10), 1);
    expect(log.segmentBaseOffsets()).toEqual([0, 2]);

    const env2 = simEnv(4, { segmentIndexBytes: 24, indexIntervalBytes: 0 });
    const log2 = openLog(env2);
    for (let i = 0; i < 12; i++) log2.append(simpleBatch(1, 10), 1);
    // 3 entries per index; the first batch of a segment gets none: a roll every 4 batches.
    expect(log2.segmentBaseOffsets()).toEqual([0, 4, 8]);

    const env3 = simEnv(5);
    const log3 = openLog(env3);
    expect(log3.appendAsFollower(buildBatch([{ value: null }], { baseOffset: 0, leaderEpoch: 1 })).kind).toBe("ok");
    const far = 2 ** 31 + 10;
    expect(log3.appendAsFollower(buildBatch([{ value: null }], { baseOffset: far, leaderEpoch: 1 }))).toMatchObject({ kind: "ok", firstOffset: far });
    expect(log3.segmentBaseOffsets()).toEqual([0, far]);
    const r = log3.read(1, 1000);
    if (r.kind !== "ok") throw new Error(r.kind);
    expect(splitBatches(r.records)[0]!.baseOffset).toBe(far);
  });

  test("a rolled segment is fsynced in the background; the recovery point moves past it", async () => {
    const env = simEnv(6);
    const log = openLog(env);
    log.append(simpleBatch(2, 40), 1);
    log.roll();
    log.append(simpleBatch(2, 40), 1);
    expect(log.recoveryPoint).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.recoveryPoint).toBe(2);
    // A truncation racing with a background fsync does not let the recovery point jump.
    log.roll();
    log.truncateTo(3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.recoveryPoint).toBe(2);
    expect(log.logEndOffset).toBe(2);
  });
});
