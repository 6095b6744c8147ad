import { describe, expect, test } from "bun:test";
import { CheckpointError, readEpochCheckpoint, readOffsetCheckpoint, writeOffsetCheckpoint } from "../../src/storage/checkpoint.ts";
import type { PartitionLog } from "../../src/storage/partition-log.ts";
import { simpleBatch, splitBatches } from "./batch-builder.ts";
import { openLog, simEnv } from "./helpers.ts";

const seg0 = "/data/topic-0/00000000000000000000";

function readAll(log: PartitionLog): { base: number; last: number }[] {
  const out: { base: number; last: number }[] = [];
  let at = log.logStartOffset;
  while (at < log.logEndOffset) {
    const r = log.read(at, 1 << 20);
    if (r.kind !== "ok") throw new Error(`read ${at}: ${r.kind}`);
    const bs = splitBatches(r.records);
    if (bs.length === 0) throw new Error(`nothing at ${at}`);
    for (const b of bs) out.push({ base: b.baseOffset, last: b.lastOffset });
    at = bs.at(-1)!.lastOffset + 1;
  }
  return out;
}

describe("recovery", () => {
  test("a torn tail is cut after an unclean stop and appends continue", () => {
    const env = simEnv(1);
    const log = openLog(env);
    for (let i = 0; i < 5; i++) log.append(simpleBatch(3, 40, i), 1);
    expect(log.flush()).toBeNull();
    const torn = simpleBatch(2, 100, 9).subarray(0, 70);
    env.sim.corrupt(`${seg0}.log`, env.sim.stat(`${seg0}.log`).size, torn);
    const log2 = openLog(env, { recoveryPoint: 0 });
    expect(log2.loadReport.truncatedBytes).toBe(70);
    expect(log2.logEndOffset).toBe(15);
    expect(log2.append(simpleBatch(1, 10), 2)).toMatchObject({ kind: "ok", firstOffset: 15 });
    expect(readAll(log2).map((b) => b.base)).toEqual([0, 3, 6, 9, 12, 15]);
  });

  test("a batch with a bad CRC ends the log there; a zero-filled tail is cut", () => {
    const env = simEnv(2);
    const log = openLog(env);
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const b = simpleBatch(2, 30, i);
      sizes.push(b.length);
      log.append(b, 1);
    }
    log.flush();
    // Flip a byte inside batch 3's records.
    const pos3 = sizes[0]! + sizes[1]! + sizes[2]!;
    env.sim.corrupt(`${seg0}.log`, pos3 + 70, new Uint8Array([0x5a]));
    const log2 = openLog(env);
    expect(log2.logEndOffset).toBe(6);
    expect(log2.loadReport.reason).toContain("badCrc");
    // Zeros after the valid data (ext4 delayed allocation after a crash).
    env.sim.corrupt(`${seg0}.log`, env.sim.stat(`${seg0}.log`).size, new Uint8Array(4096));
    const log3 = openLog(env);
    expect(log3.loadReport.truncatedBytes).toBe(4096);
    expect(readAll(log3).map((b) => b.base)).toEqual([0, 2, 4]);
  });

  test("after a clean shutdown nothing is rescanned; unclean only from the recovery point's segment", () => {
    const env = simEnv(3, { segmentBytes: 600 });
    const log = openLog(env);
    for (let i = 0; i < 30; i++) log.append(simpleBatch(2, 60, i), 1);
    const segments = log.segmentBaseOffsets().length;
    expect(segments).toBeGreaterThan(4);
    log.close();
    const clean = openLog(env, { recoveryPoint: log.recoveryPoint, hadCleanShutdown: true });
    expect(clean.loadReport.segmentsRecovered).toBe(0);
    expect(clean.logEndOffset).toBe(60);
    clean.closeUnclean();
    const lastBase = log.segmentBaseOffsets().at(-1)!;
    const unclean = openLog(env, { recoveryPoint: lastBase + 1, hadCleanShutdown: false });
    expect(unclean.loadReport.segmentsRecovered).toBe(1);
    expect(readAll(unclean).length).toBe(30);
    const full = openLog(env, { recoveryPoint: 0, hadCleanShutdown: false });
    expect(full.loadReport.segmentsRecovered).toBe(segments);
  });

  test("corrupt or missing index files are rebuilt, never trusted", () => {
    const env = simEnv(4, { segmentBytes: 2000, indexIntervalBytes: 150 });
    const log = openLog(env);
    for (let i = 0; i < 40; i++) log.append(simpleBatch(2, 60, i), 1);
    log.close();
    const bases = log.segmentBaseOffsets();
    const stem = (b: number) => `/data/topic-0/${String(b).padStart(20, "0")}`;
    // Segment 0: index entries pointing past the log and out of order.
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setUint32(0, 5);
    new DataView(bad.buffer).setUint32(4, 999_999);
    new DataView(bad.buffer).setUint32(8, 1);
    new DataView(bad.buffer).setUint32(12, 10);
    env.sim.corrupt(`${stem(bases[0]!)}.index`, 0, bad);
    // Segment 1: index removed; time index torn (not a multiple of 12 bytes).
    env.sim.unlink(`${stem(bases[1]!)}.index`);
    env.sim.corrupt(`${stem(bases[1]!)}.timeindex`, env.sim.stat(`${stem(bases[1]!)}.timeindex`).size, new Uint8Array(5));
    const log2 = openLog(env, { recoveryPoint: 80, hadCleanShutdown: true });
    expect(readAll(log2).length).toBe(40);
    for (let off = 0; off < 80; off += 7) {
      const r = log2.read(off, 100);
      if (r.kind !== "ok") throw new Error(r.kind);
      const b = splitBatches(r.records)[0]!;
      expect(b.baseOffset <= off && off <= b.lastOffset).toBe(true);
    }
    expect(env.sim.stat(`${stem(bases[0]!)}.index`).size % 8).toBe(0);
    expect(env.sim.exists(`${stem(bases[1]!)}.index`)).toBe(true);
    expect(env.sim.stat(`${stem(bases[1]!)}.timeindex`).size % 12).toBe(0);
  });

  test("leftover .tmp and .deleted files and orphan indexes are removed at open", () => {
    const env = simEnv(5);
    const log = openLog(env);
    log.append(simpleBatch(1, 10), 1);
    log.close();
    env.sim.corrupt("/data/topic-0/00000000000000000099.index", 0, new Uint8Array(8));
    env.sim.corrupt("/data/topic-0/00000000000000000000.log.deleted", 0, new Uint8Array(8));
    env.sim.corrupt("/data/topic-0/leader-epoch-checkpoint.tmp", 0, new TextEncoder().encode("0\n1\n5 "));
    const log2 = openLog(env, { hadCleanShutdown: true, recoveryPoint: 1 });
    expect(log2.logEndOffset).toBe(1);
    expect(env.sim.readdir("/data/topic-0").sort()).toEqual([
      "00000000000000000000.index",
      "00000000000000000000.log",
      "00000000000000000000.timeindex",
      "leader-epoch-checkpoint",
    ]);
    expect(log2.leaderEpochCache.entries()).toEqual([{ epoch: 1, startOffset: 0 }]);
  });

  test("a recovered log that lost data below the segment of the next one drops the later segments", () => {
    const env = simEnv(6, { segmentBytes: 500 });
    const log = openLog(env);
    for (let i = 0; i < 12; i++) log.append(simpleBatch(2, 60, i), 1);
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(2);
    log.closeUnclean();
    // Cut the first segment's log in half: offsets after it are unreachable.
    const fd = env.sim.open(`${seg0}.log`, "append");
    env.sim.truncate(fd, Math.floor(env.sim.size(fd) / 2));
    env.sim.close(fd);
    const log2 = openLog(env, { recoveryPoint: 0 });
    expect(log2.segmentBaseOffsets().length).toBe(1);
    expect(log2.logEndOffset).toBeLessThan(bases[1]!);
    expect(log2.loadReport.reason).not.toBeNull();
  });
});

describe("checkpoint files", () => {
  test("round trip, torn temp ignored, torn or corrupt file rejected with CheckpointError", () => {
    const env = simEnv(7);
    env.sim.mkdirp("/data");
    const path = "/data/recovery-point-offset-checkpoint";
    writeOffsetCheckpoint(env.fs, path, [
      ["a.b-c 0", 17],
      ["x 3", 9007199254740991],
    ]);
    expect(new TextDecoder().decode(env.sim.readFile(path))).toBe("0\n2\na.b-c 0 17\nx 3 9007199254740991\n");
    env.sim.corrupt(`${path}.tmp`, 0, new TextEncoder().encode("0\n2\na.b-c 0 1"));
    expect([...readOffsetCheckpoint(env.fs, path)!]).toEqual([
      ["a.b-c 0", 17],
      ["x 3", 9007199254740991],
    ]);
    expect(env.sim.exists(`${path}.tmp`)).toBe(false);
    for (const text of ["0\n2\na 0 17\n", "1\n0\n", "0\n1\na 0 x\n", "0\n1\na 0\n", "", "0\n1\na -1 5\n"]) {
      env.sim.unlink(path);
      env.sim.corrupt(path, 0, new TextEncoder().encode(text));
      expect(() => readOffsetCheckpoint(env.fs, path)).toThrow(CheckpointError);
    }
    expect(readOffsetCheckpoint(env.fs, "/data/none")).toBeNull();
  });

  test("a corrupt leader-epoch-checkpoint is discarded, not trusted, and rebuilt from the batches", () => {
    const env = simEnv(8);
    const log = openLog(env);
    log.append(simpleBatch(1, 10), 3);
    log.append(simpleBatch(1, 10), 5);
    log.close();
    expect(readEpochCheckpoint(env.fs, "/data/topic-0/leader-epoch-checkpoint")).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 5, startOffset: 1 },
    ]);
    env.sim.unlink("/data/topic-0/leader-epoch-checkpoint");
    env.sim.corrupt("/data/topic-0/leader-epoch-checkpoint", 0, new TextEncoder().encode("0\n2\n5 0\n3 1\n"));
    const log2 = openLog(env, { hadCleanShutdown: true, recoveryPoint: 2 });
    expect(log2.leaderEpochCache.entries()).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 5, startOffset: 1 },
    ]);
    expect(log2.loadReport.epochsRebuilt).toBe(2);
  });

  test("a missing leader-epoch-checkpoint is rebuilt from the batch headers, from the log start", () => {
    const env = simEnv(9, { segmentBytes: 300 });
    const log = openLog(env);
    const epochs = [1, 1, 2, 2, 2, 4, 7, 7];
    for (const e of epochs) expect(log.append(simpleBatch(2, 40), e).kind).toBe("ok");
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(2);
    const written = log.leaderEpochCache.entries().map((e) => ({ ...e }));
    expect(written).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 4 },
      { epoch: 4, startOffset: 10 },
      { epoch: 7, startOffset: 12 },
    ]);
    log.setHighWatermark(16);
    expect(log.deleteRecordsBefore(5)).toEqual({ kind: "ok", logStartOffset: 5 });
    log.close();
    env.sim.unlink("/data/topic-0/leader-epoch-checkpoint");
    const log2 = openLog(env, { hadCleanShutdown: true, recoveryPoint: 16, logStartOffset: 5 });
    // The epoch holding the log start begins there, as truncateFromStart leaves it.
    expect(log2.leaderEpochCache.entries()).toEqual([{ epoch: 2, startOffset: 5 }, ...written.slice(2)]);
    expect(log2.endOffsetForLeaderEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 10 });
    expect(log2.endOffsetForLeaderEpoch(5)).toEqual({ leaderEpoch: 4, endOffset: 12 });
    expect(readEpochCheckpoint(env.fs, "/data/topic-0/leader-epoch-checkpoint")).toEqual([...log2.leaderEpochCache.entries()]);
  });

  test("a leader-epoch-checkpoint behind the log (newest epochs lost) is completed from its latest entry on; a current one is left alone", () => {
    const env = simEnv(10);
    const log = openLog(env);
    for (const e of [3, 3, 5]) log.append(simpleBatch(1, 10), e);
    log.flush();
    // A crash after the batches of epochs 8 and 9 were written and before their entries were.
    const stale = readEpochCheckpoint(env.fs, "/data/topic-0/leader-epoch-checkpoint")!;
    for (const e of [8, 8, 9]) log.append(simpleBatch(1, 10), e);
    log.flush();
    log.closeUnclean();
    env.sim.unlink("/data/topic-0/leader-epoch-checkpoint");
    env.sim.corrupt("/data/topic-0/leader-epoch-checkpoint", 0, new TextEncoder().encode(`0\n${stale.length}\n${stale.map((e) => `${e.epoch} ${e.startOffset}`).join("\n")}\n`));
    expect(readEpochCheckpoint(env.fs, "/data/topic-0/leader-epoch-checkpoint")).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 5, startOffset: 2 },
    ]);
    const log2 = openLog(env, { recoveryPoint: 6 });
    expect(log2.leaderEpochCache.entries()).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 5, startOffset: 2 },
      { epoch: 8, startOffset: 3 },
      { epoch: 9, startOffset: 5 },
    ]);
    expect(log2.loadReport.epochsRebuilt).toBe(2);
    log2.close();
    const log3 = openLog(env, { hadCleanShutdown: true, recoveryPoint: 6 });
    expect(log3.loadReport.epochsRebuilt).toBe(0);
    expect(log3.leaderEpochCache.latestEpoch()).toBe(9);
  });
});
