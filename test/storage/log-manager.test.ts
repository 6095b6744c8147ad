import { describe, expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { readOffsetCheckpoint } from "../../src/storage/checkpoint.ts";
import { defaultLogManagerConfig, type LogManagerConfig } from "../../src/storage/config.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import { simpleBatch, splitBatches } from "./batch-builder.ts";

function setup(over: Partial<LogManagerConfig> = {}, seed = 1) {
  const clock = new SimClock();
  const fs = new SimFileSystem(new SeededPrng(seed), clock);
  const config = { ...defaultLogManagerConfig(["/d1", "/d2"]), ...over };
  const offline: string[] = [];
  const open = () => LogManager.open({ fs, clock, prng: new SeededPrng(seed + 100), config, onLogDirOffline: (d) => offline.push(d) });
  return { clock, fs, config, open, offline };
}

describe("LogManager", () => {
  test("creates logs across dirs with partition.metadata; clean shutdown writes checkpoints and the marker", () => {
    const { fs, open } = setup();
    const m = open();
    const topicId = m.newTopicId();
    expect(topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const a = m.getOrCreateLog({ topic: "orders", partition: 0 }, topicId)!;
    const b = m.getOrCreateLog({ topic: "orders", partition: 1 }, topicId)!;
    expect(a.dir.startsWith("/d1/") !== b.dir.startsWith("/d1/")).toBe(true);
    expect(new TextDecoder().decode(fs.readFile(`${a.dir}/partition.metadata`))).toBe(`version: 0\ntopic_id: ${topicId}\n`);
    for (let i = 0; i < 5; i++) a.append(simpleBatch(2, 20, i), 1);
    a.setHighWatermark(6);
    a.deleteRecordsBefore(2);
    m.close();
    const dirA = a.dir.slice(0, 3);
    expect(fs.exists(`${dirA}/.kafka_cleanshutdown`)).toBe(true);
    expect([...readOffsetCheckpoint(fs, `${dirA}/recovery-point-offset-checkpoint`)!]).toEqual([["orders 0", 10]]);
    expect([...readOffsetCheckpoint(fs, `${dirA}/log-start-offset-checkpoint`)!]).toEqual([["orders 0", 2]]);
    expect([...readOffsetCheckpoint(fs, `${dirA}/replication-offset-checkpoint`)!]).toEqual([["orders 0", 6]]);

    const m2 = open();
    expect(fs.exists(`${dirA}/.kafka_cleanshutdown`)).toBe(false);
    const a2 = m2.getLog({ topic: "orders", partition: 0 })!;
    expect(a2.loadReport.segmentsRecovered).toBe(0);
    expect([a2.logStartOffset, a2.highWatermark, a2.logEndOffset]).toEqual([2, 6, 10]);
    expect(m2.topicId({ topic: "orders", partition: 0 })).toBe(topicId);
    m2.close();
  });

  test("an unclean stop recovers from the checkpointed recovery point; a torn checkpoint temp is ignored", () => {
    const { fs, open } = setup();
    const m = open();
    const log = m.getOrCreateLog({ topic: "t", partition: 0 })!;
    for (let i = 0; i < 5; i++) log.append(simpleBatch(2, 20, i), 1);
    log.flush();
    m.checkpointAll();
    fs.corrupt("/d1/recovery-point-offset-checkpoint.tmp", 0, new TextEncoder().encode("0\n1\nt 0 "));
    fs.crash();
    const m2 = open();
    const log2 = m2.getLog({ topic: "t", partition: 0 })!;
    expect(log2.logEndOffset).toBe(10);
    expect(log2.loadReport.segmentsRecovered).toBe(1);
    expect(fs.exists("/d1/recovery-point-offset-checkpoint.tmp")).toBe(false);
    m2.close();
  });

  test("deleting a partition renames its dir to *-delete, then removes it; leftovers are removed at startup", () => {
    const { fs, clock, open } = setup({ logDirs: ["/d1"] });
    const m = open();
    const log = m.getOrCreateLog({ topic: "gone", partition: 3 })!;
    log.append(simpleBatch(1, 10), 1);
    expect(m.deleteLog({ topic: "gone", partition: 3 })).toBe(true);
    // Renamed at once; its files are removed on the next clock tick, off the request.
    expect(fs.readdir("/d1").filter((n) => n.startsWith("gone"))).toEqual([expect.stringMatching(/^gone-3\.[0-9a-f]{32}-delete$/)]);
    expect(m.pendingRemovals).toBe(1);
    clock.advance(0);
    expect(m.pendingRemovals).toBe(0);
    expect(fs.readdir("/d1").filter((n) => n.startsWith("gone"))).toEqual([]);
    expect(m.getLog({ topic: "gone", partition: 3 })).toBeNull();
    fs.mkdirp("/d1/old-0.0123456789abcdef0123456789abcdef-delete");
    fs.corrupt("/d1/old-0.0123456789abcdef0123456789abcdef-delete/00000000000000000000.log", 0, new Uint8Array(3));
    m.close();
    const m2 = open();
    expect(fs.readdir("/d1").filter((n) => n.endsWith("-delete"))).toEqual([]);
    expect(m2.allLogs().length).toBe(0);
    m2.close();
  });

  test("retention runs on the clock; checkpoints are written periodically", () => {
    const { fs, clock, open } = setup({ logDirs: ["/d1"], retentionCheckIntervalMs: 1000, flushOffsetCheckpointIntervalMs: 500 });
    const m = open();
    const log = m.getOrCreateLog({ topic: "r", partition: 0 })!;
    // Tiny segments and a short retention through the log's own config.
    Object.assign(log.config, { segmentBytes: 300, retentionMs: 10_000, fileDeleteDelayMs: 0 });
    for (let i = 0; i < 10; i++) log.append(simpleBatch(2, 40, i, { baseTimestamp: clock.nowMs() }), 1);
    log.setHighWatermark(log.logEndOffset);
    const segments = log.segmentBaseOffsets().length;
    m.startBackgroundTasks();
    clock.advance(5000);
    expect(log.segmentBaseOffsets().length).toBe(segments);
    clock.advance(10_000);
    expect(log.segmentBaseOffsets().length).toBe(1);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets()[0]!);
    expect(readOffsetCheckpoint(fs, "/d1/recovery-point-offset-checkpoint")!.get("r 0")).toBe(log.recoveryPoint);
    m.close();
  });

  test("open file descriptors stay bounded; cold segments reopen on demand", () => {
    const { open } = setup({ logDirs: ["/d1"], openFilesMax: 3 });
    const m = open();
    const logs = [0, 1, 2, 3].map((p) => m.getOrCreateLog({ topic: "fd", partition: p })!);
    for (const log of logs) {
      Object.assign(log.config, { segmentBytes: 300 });
      for (let i = 0; i < 8; i++) log.append(simpleBatch(2, 40, i), 1);
      expect(log.segmentBaseOffsets().length).toBeGreaterThan(3);
    }
    for (const log of logs) {
      for (let off = 0; off < log.logEndOffset; off += 3) {
        const r = log.read(off, 50);
        if (r.kind !== "ok") throw new Error(r.kind);
        const b = splitBatches(r.records)[0]!;
        expect(b.baseOffset <= off && off <= b.lastOffset).toBe(true);
        expect(m.openFileCount()).toBeLessThanOrEqual(3);
      }
    }
    m.close();
  });

  test("a log dir that keeps failing goes offline; the other keeps serving", () => {
    const { fs, open, offline } = setup({ logDirFailuresMax: 2 });
    const m = open();
    const a = m.getOrCreateLog({ topic: "x", partition: 0 })!;
    const b = m.getOrCreateLog({ topic: "x", partition: 1 })!;
    const [failing, healthy] = a.dir.startsWith("/d1") ? [a, b] : [b, a];
    fs.failNext("append", "EIO");
    expect(failing.append(simpleBatch(1, 10), 1).kind).toBe("storageError");
    fs.failNext("append", "EIO");
    expect(failing.append(simpleBatch(1, 10), 1).kind).toBe("storageError");
    expect(offline).toEqual(["/d1"]);
    expect(m.getLog(failing.topicPartition)).toBeNull();
    expect(m.logDirs().map((d) => d.online)).toEqual([false, true]);
    expect(healthy.append(simpleBatch(1, 10), 1).kind).toBe("ok");
    // New partitions go to the online dir.
    expect(m.getOrCreateLog({ topic: "x", partition: 2 })!.dir.startsWith("/d2")).toBe(true);
    m.close();
  });
});
