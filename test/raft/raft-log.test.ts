/**
 * The Raft log over PartitionLog: Kafka raft's endOffsetForEpoch, the flushed offset, follower
 * appends that must start at the log end, truncation, the epoch cache repaired at open, and the
 * LEADER_CHANGE record.
 */
import { describe, expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { RecordBatchView } from "../../src/protocol/records/record-batch.ts";
import { decodeLeaderChange, encodeLeaderChange, leaderChangeBatch } from "../../src/raft/leader-change.ts";
import { MetadataLogFailure, PartitionRaftLog } from "../../src/raft/raft-log.ts";
import { DiskMonitor, defaultDiskThresholds, diskInternalFloorBytes } from "../../src/storage/disk-monitor.ts";
import { metadataDir, recordBatch } from "./helpers.ts";

function openLog(fs?: SimFileSystem): { fs: SimFileSystem; clock: SimClock; log: PartitionRaftLog } {
  const clock = new SimClock();
  const f = fs ?? new SimFileSystem(new SeededPrng(3), clock);
  return { fs: f, clock, log: PartitionRaftLog.open({ fs: f, clock, dir: metadataDir }) };
}

describe("PartitionRaftLog", () => {
  test("endOffsetForEpoch: the largest epoch <= the one asked and where it ends", () => {
    const { log } = openLog();
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: -1, endOffset: 0 });
    expect(log.lastFetchedEpoch()).toBe(-1);
    log.appendAsLeader(recordBatch(["a", "b"]), 2); // 0..1
    log.appendAsLeader(recordBatch(["c"]), 4); // 2
    log.appendAsLeader(recordBatch(["d", "e", "f"]), 5); // 3..5
    expect(log.lastFetchedEpoch()).toBe(5);
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: -1, endOffset: 0 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 2 });
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 2, endOffset: 2 });
    expect(log.endOffsetForEpoch(4)).toEqual({ epoch: 4, endOffset: 3 });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 6 });
    expect(log.endOffsetForEpoch(9)).toEqual({ epoch: 5, endOffset: 6 });
  });

  test("appends are not durable until flushed; flushedOffset says how far they are", () => {
    const { fs, log } = openLog();
    log.appendAsLeader(recordBatch(["a"]), 1);
    expect(log.flushedOffset).toBe(0);
    log.flush();
    expect(log.flushedOffset).toBe(1);
    log.appendAsLeader(recordBatch(["b"]), 1);
    expect(log.flushedOffset).toBe(1);
    log.partitionLog.closeUnclean();
    fs.crash();
    const reopened = openLog(fs).log;
    expect(reopened.logEndOffset).toBeGreaterThanOrEqual(1);
    expect(reopened.flushedOffset).toBe(reopened.logEndOffset);
  });

  test("a failed fsync or write throws MetadataLogFailure and is never retried into a success", () => {
    const { fs, log } = openLog();
    log.appendAsLeader(recordBatch(["a"]), 1);
    fs.failNext("fsync", "EIO");
    expect(() => log.flush()).toThrow(MetadataLogFailure);
    expect(log.flushedOffset).toBe(0);
    // The dir is offline now: nothing more is written there, every write is as fatal.
    expect(() => log.appendAsLeader(recordBatch(["b"]), 1)).toThrow(MetadataLogFailure);

  });

  test("ENOSPC on a write is a refusal, not a failure; EIO on a write is fatal", () => {
    const { fs, log } = openLog();
    fs.failNext("append", "ENOSPC");
    expect(log.appendAsLeader(recordBatch(["b"]), 1).kind).toBe("error");
    expect(log.appendAsLeader(recordBatch(["b"]), 1).kind).toBe("ok");
    fs.failNext("append", "EIO");
    expect(() => log.appendAsLeader(recordBatch(["c"]), 1)).toThrow(MetadataLogFailure);
  });

  test("a follower append must start at the log end and must not go back in epoch", () => {
    const { log } = openLog();
    log.appendAsLeader(recordBatch(["a"]), 3);
    const early = recordBatch(["x"]);
    expect(log.appendAsFollower(early).kind).toBe("error"); // base offset 0, log ends at 1
    const stale = recordBatch(["y"]);
    const v = RecordBatchView.at(stale);
    v.setBaseOffset(1);
    v.setPartitionLeaderEpoch(2);
    expect(log.appendAsFollower(stale)).toMatchObject({ kind: "error", detail: expect.stringContaining("below") });
    v.setPartitionLeaderEpoch(3);
    expect(log.appendAsFollower(stale)).toEqual({ kind: "ok", firstOffset: 1, lastOffset: 1 });
  });

  test("truncation drops the epochs past the cut", () => {
    const { log } = openLog();
    log.appendAsLeader(recordBatch(["a"]), 1);
    log.appendAsLeader(recordBatch(["b"]), 2);
    log.truncateTo(1);
    expect(log.logEndOffset).toBe(1);
    expect(log.lastFetchedEpoch()).toBe(1);
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 1, endOffset: 1 });
  });

  test("open restores an epoch the checkpoint lost (a kill between the append and the checkpoint)", () => {
    const { fs, log } = openLog();
    log.appendAsLeader(recordBatch(["a"]), 1);
    log.appendAsLeader(recordBatch(["b"]), 2);
    log.flush();
    log.partitionLog.close();
    // The checkpoint as it was before epoch 2 was recorded.
    fs.unlink(`${metadataDir}/leader-epoch-checkpoint`);
    fs.corrupt(`${metadataDir}/leader-epoch-checkpoint`, 0, new TextEncoder().encode("0\n1\n1 0\n"));
    const reopened = openLog(fs).log;
    expect(reopened.partitionLog.leaderEpochCache.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 1 },
    ]);
    expect(reopened.lastFetchedEpoch()).toBe(2);
  });
});

describe("the metadata log on a full log dir", () => {
  test("with the dir's disk gate it writes on at reject as an internal topic and stops at the reserve's floor, before ENOSPC", () => {
    const MiB = 1024 * 1024;
    const clock = new SimClock();
    const fs = new SimFileSystem(new SeededPrng(3), clock);
    fs.setCapacity(16 * MiB);
    const logDir = metadataDir.slice(0, metadataDir.lastIndexOf("/"));
    const monitor = new DiskMonitor({ fs, clock, thresholds: defaultDiskThresholds });
    const space = monitor.space(logDir);
    const log = PartitionRaftLog.open({ fs, clock, dir: metadataDir, space });
    fs.setOtherUsedBytes(Math.round(16 * MiB * 0.96) - fs.usedBytes());
    monitor.sampleAll();
    expect(space.level).toBe("reject");

    const value = "x".repeat(4000);
    let written = 0;
    let last: { kind: string; detail?: string } = { kind: "ok" };
    for (let i = 0; i < 1000 && last.kind === "ok"; i++) {
      last = log.appendAsLeader(recordBatch([value]), 1);
      if (last.kind === "ok") written++;
    }
    expect(last.kind).toBe("error");
    expect(last.detail).toContain(`log dir ${logDir}`);
    expect(last.detail).toContain(`internal topics stop below ${diskInternalFloorBytes} bytes available`);
    // 4% of 16 MiB was left: the log took all but the floor (within one batch), never ENOSPC.
    const available = fs.statfs(logDir).availableBytes;
    expect(available).toBeGreaterThanOrEqual(diskInternalFloorBytes - 4200);
    expect(available).toBeLessThan(diskInternalFloorBytes + 2 * 4200);
    expect(written).toBeGreaterThan(20);
  });
});

describe("LEADER_CHANGE record", () => {
  test("value round trip, and the control batch", () => {
    const m = { leaderId: 2, voters: [0, 1, 2], grantingVoters: [1, 2] };
    const bytes = encodeLeaderChange(m);
    expect(decodeLeaderChange(bytes)).toEqual(m);
    expect(decodeLeaderChange(bytes.subarray(0, bytes.length - 1))).toBeNull();
    const batch = RecordBatchView.at(leaderChangeBatch(m, 1000));
    expect(batch.isControl).toBe(true);
    expect(batch.recordCount).toBe(1);
    const [record] = batch.records({ maxBytes: 1 << 20 });
    expect([...record!.key!]).toEqual([0, 0, 0, 2]);
    expect(decodeLeaderChange(record!.value!)).toEqual(m);
  });
});
