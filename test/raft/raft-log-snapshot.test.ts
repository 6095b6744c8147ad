/**
 * The Raft log with snapshots (raft-log.ts): the log start at the oldest snapshot kept,
 * retention, epochs at the log start, install, and a crash in the middle of an install.
 */
import { describe, expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { PartitionRaftLog, raftLogConfig } from "../../src/raft/raft-log.ts";
import { metadataDir, recordBatch } from "./helpers.ts";

const noRetention = { retentionBytes: -1, retentionMs: -1, nowMs: 0 };

function openLog(fs: SimFileSystem, clock: SimClock): PartitionRaftLog {
  return PartitionRaftLog.open({ fs, clock, dir: metadataDir, config: raftLogConfig({ segmentBytes: 300 }) });
}

/** A log of `batches` one-record batches: the first half in epoch 1, the rest in epoch 2; all flushed and committed. */
function filled(seed: number, batches: number): { fs: SimFileSystem; clock: SimClock; log: PartitionRaftLog } {
  const clock = new SimClock();
  const fs = new SimFileSystem(new SeededPrng(seed), clock);
  const log = openLog(fs, clock);
  for (let i = 0; i < batches; i++) log.appendAsLeader(recordBatch([`v${i}`]), i < batches / 2 ? 1 : 2);
  log.flush();
  log.setHighWatermark(log.logEndOffset);
  return { fs, clock, log };
}

const content = recordBatch(["state"]);

describe("PartitionRaftLog snapshots", () => {
  test("the log starts at the oldest snapshot kept; at most two are kept; segments below go; epochs at the start come from the snapshot", () => {
    const { fs, clock, log } = filled(1, 40);
    const segmentsBefore = log.partitionLog.segmentBaseOffsets().length;
    expect(log.snapshotEpochAt(10)).toEqual({ kind: "ok", epoch: 1 });
    expect(log.snapshotEpochAt(0).kind).toBe("error");
    log.createSnapshot({ endOffset: 10, epoch: 1 }, content, 0);
    expect(log.logStartOffset).toBe(10);
    log.createSnapshot({ endOffset: 25, epoch: 2 }, content, 0);
    expect(log.maybeDeleteBeforeSnapshots(noRetention)).toBe(false);
    log.createSnapshot({ endOffset: 30, epoch: 2 }, content, 0);
    expect(log.maybeDeleteBeforeSnapshots(noRetention)).toBe(true);
    expect(log.snapshots()).toEqual([
      { endOffset: 25, epoch: 2 },
      { endOffset: 30, epoch: 2 },
    ]);
    expect(log.logStartOffset).toBe(25);
    expect(log.partitionLog.segmentBaseOffsets().length).toBeLessThan(segmentsBefore);
    expect(log.partitionLog.segmentBaseOffsets()[0]!).toBeLessThanOrEqual(25);
    expect(log.read(24, 100).kind).toBe("error");
    // Epoch 1 is gone from the log: asking for it finds nothing; epoch 2 starts at the snapshot.
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: -1, endOffset: 25 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 40 });
    // A restart derives the same log start from the snapshots.
    log.partitionLog.closeUnclean();
    fs.crash();
    const again = openLog(fs, clock);
    expect(again.logStartOffset).toBe(25);
    expect(again.logEndOffset).toBe(40);
    expect(again.snapshots().length).toBe(2);
    // Retention by bytes keeps only the newest.
    expect(again.maybeDeleteBeforeSnapshots({ retentionBytes: 1, retentionMs: -1, nowMs: 0 })).toBe(true);
    expect(again.snapshots()).toEqual([{ endOffset: 30, epoch: 2 }]);
    expect(again.logStartOffset).toBe(30);
    // And a restart with one snapshot inside the first segment keeps the log after it.
    again.partitionLog.closeUnclean();
    fs.crash();
    const third = openLog(fs, clock);
    expect([third.logStartOffset, third.logEndOffset, third.lastFetchedEpoch()]).toEqual([30, 40, 2]);
    expect(third.partitionLog.segmentBaseOffsets()[0]!).toBeLessThan(30);
  });

  test("install: the log is emptied at the snapshot's end, other snapshots go, the last epoch is the snapshot's", () => {
    const leader = filled(2, 30);
    leader.log.createSnapshot({ endOffset: 20, epoch: 2 }, content, 0);
    const bytes = leader.fs.readFile(leader.log.snapshotStore.path({ endOffset: 20, epoch: 2 }));
    const follower = filled(3, 8); // its own history, all in epoch 1
    follower.log.createSnapshot({ endOffset: 4, epoch: 1 }, content, 0);
    follower.log.beginSnapshotDownload({ endOffset: 20, epoch: 2 }, bytes.length);
    follower.log.appendSnapshotDownload(bytes.subarray(0, 100));
    follower.log.appendSnapshotDownload(bytes.subarray(100));
    expect(follower.log.finishSnapshotDownload()).toMatchObject({ kind: "ok", id: { endOffset: 20, epoch: 2 } });
    expect([follower.log.logStartOffset, follower.log.logEndOffset, follower.log.lastFetchedEpoch()]).toEqual([20, 20, 2]);
    expect(follower.log.snapshots()).toEqual([{ endOffset: 20, epoch: 2 }]);
    expect(follower.log.endOffsetForEpoch(5)).toEqual({ epoch: 2, endOffset: 20 });
  });

  test("a crash between the snapshot's rename and the log's truncation: open finishes the install (never old log + new snapshot)", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const leader = filled(100 + seed, 30);
      leader.log.createSnapshot({ endOffset: 20, epoch: 2 }, content, 0);
      const bytes = leader.fs.readFile(leader.log.snapshotStore.path({ endOffset: 20, epoch: 2 }));
      // The follower's log diverges: 25 records, all epoch 1 (so its record 19 is not the leader's).
      const follower = filled(200 + seed, 0);
      for (let i = 0; i < 25; i++) follower.log.appendAsLeader(recordBatch([`x${i}`]), 1);
      follower.log.flush();
      const store = follower.log.snapshotStore;
      store.beginDownload({ endOffset: 20, epoch: 2 }, bytes.length);
      store.appendDownload(bytes);
      store.finishDownload(); // durable; the log is not cut yet
      follower.log.partitionLog.closeUnclean();
      follower.fs.crash();
      const reopened = openLog(follower.fs, follower.clock);
      expect([reopened.logStartOffset, reopened.logEndOffset, reopened.lastFetchedEpoch()]).toEqual([20, 20, 2]);
      expect(reopened.snapshots()).toEqual([{ endOffset: 20, epoch: 2 }]);
    }
  });

  test("a crash mid-download leaves the old state whole", () => {
    const leader = filled(4, 30);
    leader.log.createSnapshot({ endOffset: 20, epoch: 2 }, content, 0);
    const bytes = leader.fs.readFile(leader.log.snapshotStore.path({ endOffset: 20, epoch: 2 }));
    const follower = filled(5, 8);
    follower.log.beginSnapshotDownload({ endOffset: 20, epoch: 2 }, bytes.length);
    follower.log.appendSnapshotDownload(bytes.subarray(0, 100));
    follower.log.partitionLog.closeUnclean();
    follower.fs.crash();
    const reopened = openLog(follower.fs, follower.clock);
    expect([reopened.logStartOffset, reopened.logEndOffset, reopened.snapshots().length]).toEqual([0, 8, 0]);
  });
});
