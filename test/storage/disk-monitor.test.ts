import { describe, expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { defaultLogManagerConfig, type LogManagerConfig } from "../../src/storage/config.ts";
import { defaultDiskThresholds, type DiskCrossing, type DiskUsage, levelOf, nextLevel } from "../../src/storage/disk-monitor.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import { simpleBatch, splitBatches } from "./batch-builder.ts";

const MiB = 1024 * 1024;
const t = defaultDiskThresholds;

function usage(ratio: number, total = 100 * MiB): DiskUsage {
  const usedBytes = Math.round(total * ratio);
  return { totalBytes: total, usedBytes, availableBytes: total - usedBytes, usageRatio: ratio, sampledAtMs: 0 };
}

describe("disk levels", () => {
  test("thresholds and the free-bytes floor", () => {
    expect(levelOf(t, 0.5, 50 * MiB)).toBe("normal");
    expect(levelOf(t, 0.8, 20 * MiB)).toBe("alert");
    expect(levelOf(t, 0.9, 10 * MiB)).toBe("cleanup");
    expect(levelOf(t, 0.95, 5 * MiB)).toBe("reject");
    expect(levelOf(t, 0.1, MiB - 1)).toBe("reject");
  });

  test("up at once, down only 2% below the threshold", () => {
    expect(nextLevel(t, "normal", usage(0.96))).toBe("reject");
    expect(nextLevel(t, "reject", usage(0.94))).toBe("reject");
    expect(nextLevel(t, "reject", usage(0.931))).toBe("reject");
    expect(nextLevel(t, "reject", usage(0.92))).toBe("cleanup");
    expect(nextLevel(t, "reject", usage(0.5))).toBe("normal");
    expect(nextLevel(t, "alert", usage(0.79))).toBe("alert");
    expect(nextLevel(t, "alert", usage(0.77))).toBe("normal");
  });
});

function setup(over: Partial<LogManagerConfig> = {}, capacityBytes = 64 * MiB) {
  const clock = new SimClock();
  const fs = new SimFileSystem(new SeededPrng(3), clock);
  fs.setCapacity(capacityBytes);
  const crossings: DiskCrossing[] = [];
  const cleanups: number[] = [];
  const config = { ...defaultLogManagerConfig(["/d1"]), ...over };
  const open = () =>
    LogManager.open({
      fs,
      clock,
      prng: new SeededPrng(9),
      config,
      onDiskCrossing: (c) => crossings.push(c),
      onDiskCleanup: (_d, freed) => cleanups.push(freed),
    });
  return { clock, fs, config, open, crossings, cleanups };
}

describe("DiskMonitor in the log manager", () => {
  test("each crossing is one event; reject refuses user appends, keeps internal ones and reads; writes resume a tick after space is freed", () => {
    const { fs, clock, open, crossings, config } = setup();
    const m = open();
    const user = m.getOrCreateLog({ topic: "t", partition: 0 })!;
    const offsets = m.getOrCreateLog({ topic: "__consumer_offsets", partition: 0 })!;
    expect(user.append(simpleBatch(3, 100, 1), 1).kind).toBe("ok");
    m.startBackgroundTasks();
    expect(crossings).toEqual([]);
    expect(m.logDirs()[0]).toMatchObject({ totalBytes: 64 * MiB, level: "normal" });
    expect(m.logDirs()[0]!.usableBytes).toBeLessThan(64 * MiB);

    const fill = (ratio: number) => {
      fs.setOtherUsedBytes(Math.round(64 * MiB * ratio) - fs.usedBytes());
      clock.advance(config.disk.intervalMs);
    };
    fill(0.85);
    fill(0.86);
    fill(0.92);
    fill(0.97);
    expect(crossings.map((c) => `${c.from}>${c.to}`)).toEqual(["normal>alert", "alert>cleanup", "cleanup>reject"]);
    expect(crossings[2]!.dir).toBe("/d1");
    expect(crossings[2]!.usage.usageRatio).toBeCloseTo(0.97, 2);

    const refused = user.append(simpleBatch(1, 100, 2), 1);
    expect(refused.kind).toBe("logDirFull");
    if (refused.kind === "logDirFull") expect(refused.detail).toContain("log dir /d1 is 97.0% full");
    expect(offsets.append(simpleBatch(1, 100, 3), 1).kind).toBe("ok");
    const read = user.read(0, 1 << 20);
    expect(read.kind === "ok" && splitBatches(read.records).length).toBe(1);

    fill(0.94); // inside the hysteresis band: still refused
    expect(user.append(simpleBatch(1, 100, 4), 1).kind).toBe("logDirFull");
    fill(0.5);
    expect(crossings.map((c) => c.to).slice(3)).toEqual(["normal"]);
    expect(user.append(simpleBatch(1, 100, 5), 1).kind).toBe("ok");
    expect(m.disk.stats.crossings).toBe(4);
    m.close();
  });

  test("the write budget refuses appends before ENOSPC when only appends fill the disk, with no tick in between", () => {
    const { fs, open } = setup({}, 16 * MiB);
    const m = open();
    const log = m.getOrCreateLog({ topic: "t", partition: 0 })!;
    m.startBackgroundTasks();
    let acked = 0;
    let first: string | null = null;
    for (let i = 0; i < 10_000 && first === null; i++) {
      const r = log.append(simpleBatch(4, 4000, i), 1);
      if (r.kind === "ok") acked += 4;
      else first = r.kind === "logDirFull" ? r.detail : r.kind;
    }
    // 16 MiB: the 1 MiB floor (log.dir.min.free.bytes) comes before 95%.
    expect(first).toContain("log dir /d1 is 9");
    expect(fs.statfs("/d1").availableBytes).toBeGreaterThan(512 * 1024);
    expect(log.logEndOffset).toBe(acked);
    m.close();
  });

  test("crossing into cleanup runs retention now and removes deleted segment files without waiting for the delay", () => {
    const logDefaults = { ...defaultLogManagerConfig([]).logDefaults, segmentBytes: 256 * 1024, retentionBytes: 512 * 1024 };
    const { fs, clock, open, cleanups, config } = setup({ retentionCheckIntervalMs: 3_600_000, logDefaults });
    const m = open();
    const log = m.getOrCreateLog({ topic: "t", partition: 0 })!;
    for (let i = 0; i < 80; i++) expect(log.append(simpleBatch(4, 4000, i), 1).kind).toBe("ok");
    log.setHighWatermark(log.logEndOffset);
    m.startBackgroundTasks();
    const before = log.sizeBytes();
    expect(before).toBeGreaterThan(MiB);
    fs.setOtherUsedBytes(Math.round(64 * MiB * 0.91) - fs.usedBytes());
    clock.advance(config.disk.intervalMs);
    expect(log.sizeBytes()).toBeLessThanOrEqual(512 * 1024 + 256 * 1024);
    expect(fs.readdir(log.dir).filter((n) => n.endsWith(".deleted"))).toEqual([]);
    expect(cleanups[0]).toBeGreaterThanOrEqual(before - log.sizeBytes() - 64 * 1024);
    m.close();
  });
});

describe("ENOSPC on the write path", () => {
  test("a torn append is cut back, the dir stays online, and the log reopens with every acknowledged record", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const clock = new SimClock();
      const fs = new SimFileSystem(new SeededPrng(seed), clock);
      // No monitor protection: the thresholds never trigger, so appends run into ENOSPC itself.
      const config = { ...defaultLogManagerConfig(["/d1"]), disk: { ...defaultDiskThresholds, alertUsageRatio: 1, cleanupUsageRatio: 1, rejectUsageRatio: 1, minFreeBytes: 0 } };
      const open = () => LogManager.open({ fs, clock, prng: new SeededPrng(9), config });
      const m = open();
      const log = m.getOrCreateLog({ topic: "t", partition: 0 })!;
      fs.setCapacity(fs.usedBytes() + 300_000 + seed * 777);
      let acked = 0;
      let full = 0;
      for (let i = 0; i < 200; i++) {
        const r = log.append(simpleBatch(2, 5000, i), 1);
        if (r.kind === "ok") acked = r.lastOffset + 1;
        else {
          expect(r.kind).toBe("logDirFull");
          full++;
        }
      }
      expect(full).toBeGreaterThan(10);
      expect(m.logDirs()[0]!.online).toBe(true);
      expect(log.logEndOffset).toBe(acked);
      // SIGKILL with the page cache intact: reopen without a clean close.
      const m2 = open();
      const log2 = m2.getLog({ topic: "t", partition: 0 })!;
      expect(log2.logEndOffset).toBe(acked);
      expect(log2.loadReport.truncatedBytes).toBe(0);
      const r = log2.read(0, 64 * MiB);
      expect(r.kind).toBe("ok");
      if (r.kind === "ok") expect(splitBatches(r.records).reduce((n, b) => n + b.lastOffset - b.baseOffset + 1, 0)).toBe(acked);
      // Space freed: appends go on.
      fs.setCapacity(Number.POSITIVE_INFINITY);
      expect(log2.append(simpleBatch(1, 10, 999), 1).kind).toBe("ok");
      m2.close();
    }
  });
});

describe("the internal reserve", () => {
  test("internal topics write on at reject down to the floor; refused user bytes do not eat into it", () => {
    const { fs, open } = setup({}, 16 * MiB);
    const m = open();
    const user = m.getOrCreateLog({ topic: "t", partition: 0 })!;
    const meta = m.getOrCreateLog({ topic: "__cluster_metadata", partition: 0 })!;
    m.startBackgroundTasks();
    fs.setOtherUsedBytes(Math.round(16 * MiB * 0.96) - fs.usedBytes());
    m.disk.sampleAll();
    for (let i = 0; i < 1000; i++) expect(user.append(simpleBatch(1, 4000, i), 1).kind).toBe("logDirFull");
    let internalOk = 0;
    let last: string = "ok";
    for (let i = 0; i < 1000 && last === "ok"; i++) {
      const r = meta.append(simpleBatch(1, 4000, i), 1);
      last = r.kind;
      if (r.kind === "ok") internalOk++;
    }
    expect(last).toBe("logDirFull");
    // 4% of 16 MiB was left; internal writes used all but the 512 KiB floor (within one batch).
    const available = fs.statfs("/d1").availableBytes;
    expect(available).toBeGreaterThanOrEqual(512 * 1024 - 4100);
    expect(available).toBeLessThan(512 * 1024 + 4100 * 2);
    expect(internalOk).toBeGreaterThan(20);
    m.close();
  });
});
