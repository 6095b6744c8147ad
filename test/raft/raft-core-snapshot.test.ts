/** The core's snapshot paths: createSnapshot, a Fetch below the log start, FetchSnapshot answers and their errors, a follower's download and install. */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/errors.ts";
import type { FetchResponse, FetchSnapshotRequest, FetchSnapshotResponse } from "../../src/raft/messages.ts";
import { advance, ask, dirId, drain, electLeader, fetchRequest, openNode, recordBatch, sentOfType, type TestNode } from "./helpers.ts";

/** A leader (node 0) with 20 committed one-record batches and a snapshot at 12. */
function leaderWithSnapshot(): { leader: TestNode; epoch: number } {
  const leader = openNode({ id: 0 });
  const epoch = electLeader(leader);
  for (let i = 0; i < 20; i++) leader.core.propose(recordBatch([`v${i}`]));
  advance(leader, 1); // flush
  const end = leader.log.logEndOffset;
  ask<FetchResponse>(leader, 1, fetchRequest({ requestId: 10, currentLeaderEpoch: epoch, fetchOffset: end, lastFetchedEpoch: epoch }));
  expect(leader.core.highWatermark).toBe(end);
  expect(leader.core.createSnapshot(end + 1, recordBatch(["x"]))).toMatchObject({ kind: "rejected" });
  expect(leader.core.createSnapshot(12, recordBatch(["state at 12"]))).toMatchObject({ kind: "ok", snapshotId: { endOffset: 12, epoch }, logStartOffset: 12 });
  expect(leader.core.createSnapshot(12, recordBatch(["again"]))).toMatchObject({ kind: "rejected" });
  return { leader, epoch };
}

function fetchSnapshot(over: Partial<FetchSnapshotRequest>): FetchSnapshotRequest {
  return {
    type: "FetchSnapshotRequest",
    requestId: 20,
    clusterId: null,
    replicaId: 2,
    replicaDirectoryId: dirId(2),
    currentLeaderEpoch: 1,
    snapshotId: { endOffset: 12, epoch: 1 },
    position: 0,
    maxBytes: 1 << 20,
    ...over,
  };
}

describe("snapshots in the core", () => {
  test("a fetch below the log start, or at it in another epoch, is answered with the latest snapshot id", () => {
    const { leader, epoch } = leaderWithSnapshot();
    const below = ask<FetchResponse>(leader, 2, fetchRequest({ requestId: 11, replicaId: 2, replicaDirectoryId: dirId(2), currentLeaderEpoch: epoch, fetchOffset: 3, lastFetchedEpoch: epoch }));
    expect(below).toMatchObject({ errorCode: 0, snapshotId: { endOffset: 12, epoch }, records: new Uint8Array(0) });
    const otherEpoch = ask<FetchResponse>(leader, 2, fetchRequest({ requestId: 12, replicaId: 2, replicaDirectoryId: dirId(2), currentLeaderEpoch: epoch, fetchOffset: 12, lastFetchedEpoch: 0 }));
    expect(otherEpoch.snapshotId).toEqual({ endOffset: 12, epoch });
    const fine = ask<FetchResponse>(leader, 2, fetchRequest({ requestId: 13, replicaId: 2, replicaDirectoryId: dirId(2), currentLeaderEpoch: epoch, fetchOffset: 15, lastFetchedEpoch: epoch }));
    expect(fine.snapshotId ?? null).toBeNull();
    expect(fine.records.length).toBeGreaterThan(0);
  });

  test("FetchSnapshot: chunks, SNAPSHOT_NOT_FOUND, POSITION_OUT_OF_RANGE, fencing", () => {
    const { leader, epoch } = leaderWithSnapshot();
    const first = ask<FetchSnapshotResponse>(leader, 2, fetchSnapshot({ currentLeaderEpoch: epoch, maxBytes: 50 }));
    expect(first).toMatchObject({ errorCode: 0, position: 0, currentLeader: { leaderId: 0, leaderEpoch: epoch } });
    expect(first.unalignedRecords.length).toBe(50);
    expect(first.size).toBeGreaterThan(50);
    const rest = ask<FetchSnapshotResponse>(leader, 2, fetchSnapshot({ requestId: 21, currentLeaderEpoch: epoch, position: 50 }));
    expect(rest.unalignedRecords.length).toBe(first.size - 50);
    expect(ask<FetchSnapshotResponse>(leader, 2, fetchSnapshot({ requestId: 22, currentLeaderEpoch: epoch, snapshotId: { endOffset: 11, epoch } })).errorCode).toBe(ErrorCode.SNAPSHOT_NOT_FOUND);
    expect(ask<FetchSnapshotResponse>(leader, 2, fetchSnapshot({ requestId: 23, currentLeaderEpoch: epoch, position: first.size })).errorCode).toBe(ErrorCode.POSITION_OUT_OF_RANGE);
    expect(ask<FetchSnapshotResponse>(leader, 2, fetchSnapshot({ requestId: 24, currentLeaderEpoch: epoch - 1 })).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(ask<FetchSnapshotResponse>(leader, 2, fetchSnapshot({ requestId: 25, currentLeaderEpoch: epoch + 1 })).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect(ask<FetchSnapshotResponse>(leader, 2, fetchSnapshot({ requestId: 26, currentLeaderEpoch: epoch, clusterId: "other" })).errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
  });

  test("a new follower downloads the snapshot in chunks, installs it (snapshotLoaded), then fetches the log after it", () => {
    const { leader, epoch } = leaderWithSnapshot();
    const follower = openNode({ id: 2, config: { fetchBytesMax: 64 } });
    // Learn the leader.
    follower.core.receive(0, { type: "BeginQuorumEpochRequest", requestId: 1, clusterId: null, voterId: 2, voterDirectoryId: dirId(2), leaderId: 0, leaderEpoch: epoch });
    let pending = drain(follower);
    let loaded = 0;
    for (let round = 0; round < 50 && follower.log.logEndOffset < leader.log.logEndOffset; round++) {
      if (round > 0) advance(follower, 1);
      const outputs = round > 0 ? drain(follower) : pending;
      pending = [];
      loaded += outputs.filter((o) => o.kind === "snapshotLoaded").length;
      const requests = [...sentOfType(outputs, "FetchRequest"), ...sentOfType(outputs, "FetchSnapshotRequest")];
      for (const { message } of requests) {
        leader.core.receive(2, message);
        for (const o of drain(leader)) if (o.kind === "send" && o.to === 2 && o.message.type.endsWith("Response")) follower.core.receive(0, o.message);
      }
    }
    expect(loaded).toBe(1);
    expect(follower.log.logStartOffset).toBe(12);
    expect(follower.log.logEndOffset).toBe(leader.log.logEndOffset);
    expect(follower.core.latestSnapshot()).toEqual({ endOffset: 12, epoch });
    expect(new TextDecoder().decode(follower.core.readSnapshot({ endOffset: 12, epoch }).subarray(-10))).toContain("at 12");
  });
});
