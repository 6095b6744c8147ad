/**
 * The leader's voter-change rules of a dynamic quorum (raft-core.ts: addVoter, removeVoter),
 * one at a time, on a standalone voter and observers driven by hand.
 */
import { describe, expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { RecordBatchView } from "../../src/protocol/records/record-batch.ts";
import { defaultRaftConfig } from "../../src/raft/config.ts";
import type { FetchResponse } from "../../src/raft/messages.ts";
import { RaftCore } from "../../src/raft/raft-core.ts";
import { PartitionRaftLog, raftLogConfig } from "../../src/raft/raft-log.ts";
import type { Voter } from "../../src/raft/voter-set.ts";
import { clusterId, dirId, fetchRequest, metadataDir, openNode, recordBatch, sentOfType } from "./helpers.ts";

const voter = (id: number): Voter => ({ id, directoryId: dirId(id), endpoints: [{ name: "CONTROLLER", host: `h${id}`, port: 9093 }] });

function openStandalone(fs = new SimFileSystem(new SeededPrng(1), new SimClock()), clock = new SimClock()) {
  const log = PartitionRaftLog.open({ fs, clock, dir: metadataDir, config: raftLogConfig({ segmentBytes: 16 * 1024 }) });
  const core = RaftCore.open({
    clusterId,
    local: { id: 0, directoryId: dirId(0) },
    voters: [],
    dynamic: { bootstrapVoters: [voter(0)], bootstrapServerIds: [], listenerName: "CONTROLLER" },
    config: defaultRaftConfig,
    fs,
    metadataDir,
    log,
    prng: new SeededPrng(3),
    clock,
    nowMs: clock.monotonicMs(),
  });
  return { core, log, fs, clock };
}

/** Observer `id` fetches at offset `at` (in the leader's epoch); returns the answer. */
function fetchAt(core: RaftCore, id: number, at: number, lastEpoch: number): FetchResponse {
  core.receive(id, fetchRequest({ replicaId: id, replicaDirectoryId: dirId(id), currentLeaderEpoch: core.epoch, fetchOffset: at, lastFetchedEpoch: lastEpoch, requestId: 100 + at }));
  const answer = sentOfType(core.takeOutputs(), "FetchResponse").find((s) => s.to === id);
  expect(answer).toBeDefined();
  return answer!.message;
}

describe("voter changes on the leader of a dynamic quorum", () => {
  test("a standalone voter leads at once and puts its bootstrap voters in the log", () => {
    const { core, log } = openStandalone();
    core.tick(1);
    expect(core.role.kind).toBe("leader");
    expect(core.voterSet.map((v) => v.id)).toEqual([0]);
    // LEADER_CHANGE, KRAFT_VERSION, KRAFT_VOTERS; all committed by the only voter's flush.
    expect(log.logEndOffset).toBe(3);
    expect(core.highWatermark).toBe(3);
    const d = core.describeQuorum();
    expect(d.nodes).toEqual([{ nodeId: 0, listeners: voter(0).endpoints }]);
  });

  test("add: only a caught-up observer with its directory id; one change at a time; takes effect on append", () => {
    const { core, log } = openStandalone();
    core.tick(1);
    const epoch = core.epoch;
    const notFetching = core.addVoter(voter(1));
    expect(notFetching).toMatchObject({ kind: "error", errorCode: ErrorCode.REQUEST_TIMED_OUT });
    // Node 1 fetches from the start: not caught up yet.
    fetchAt(core, 1, 0, -1);
    expect(core.addVoter(voter(1))).toMatchObject({ kind: "error", errorCode: ErrorCode.REQUEST_TIMED_OUT });
    // Caught up: the change is appended and in force before it commits.
    fetchAt(core, 1, log.logEndOffset, epoch);
    const appended = core.addVoter(voter(1));
    expect(appended).toMatchObject({ kind: "appended", epoch });
    expect(core.voterSet.map((v) => v.id)).toEqual([0, 1]);
    core.tick(2);
    expect(core.highWatermark).toBeLessThanOrEqual((appended as { offset: number }).offset); // two voters now: node 1 must have it
    // A second change waits for the first.
    fetchAt(core, 2, log.logEndOffset, epoch);
    expect(core.addVoter(voter(2))).toMatchObject({ kind: "error", errorCode: ErrorCode.REQUEST_TIMED_OUT });
    expect(core.removeVoter({ id: 1, directoryId: dirId(1) })).toMatchObject({ kind: "error", errorCode: ErrorCode.REQUEST_TIMED_OUT });
    // Node 1 fetches past it: committed by the new majority {0, 1}.
    fetchAt(core, 1, log.logEndOffset, epoch);
    expect(core.highWatermark).toBe(log.logEndOffset);
    expect(core.addVoter(voter(1))).toMatchObject({ kind: "error", errorCode: ErrorCode.DUPLICATE_VOTER });
    // A wiped node 1 (another directory id) is not voter 1.
    expect(core.removeVoter({ id: 1, directoryId: dirId(9) })).toMatchObject({ kind: "error", errorCode: ErrorCode.VOTER_NOT_FOUND });
    expect(core.removeVoter({ id: 1, directoryId: dirId(1) })).toMatchObject({ kind: "appended" });
    expect(core.voterSet.map((v) => v.id)).toEqual([0]);
  });

  test("the leader removing itself leads without counting itself until the change commits, then resigns and stays an observer", () => {
    const { core, log } = openStandalone();
    core.tick(1);
    const epoch = core.epoch;
    fetchAt(core, 1, log.logEndOffset, epoch);
    core.addVoter(voter(1));
    fetchAt(core, 1, log.logEndOffset, epoch);
    core.tick(2);
    expect(core.highWatermark).toBe(log.logEndOffset);
    const r = core.removeVoter({ id: 0, directoryId: dirId(0) });
    expect(r.kind).toBe("appended");
    core.tick(3);
    expect(core.role.kind).toBe("leader"); // its own flush does not count any more
    expect(core.isVoter).toBe(false);
    core.takeOutputs();
    fetchAt(core, 1, log.logEndOffset, epoch);
    expect(core.role.kind === "resigned" || core.role.kind === "unattached").toBe(true);
    core.tick(10_000);
    expect(core.role.kind).toBe("unattached");
    expect(core.removeVoter({ id: 1, directoryId: dirId(1) })).toMatchObject({ kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
  });

  test("a static quorum refuses voter changes; the last voter cannot be removed", () => {
    const node = openNode({ voters: [{ id: 0, directoryId: dirId(0) }] });
    node.core.tick(1);
    expect(node.core.role.kind).toBe("leader");
    expect(node.core.addVoter(voter(1))).toMatchObject({ kind: "error", errorCode: ErrorCode.UNSUPPORTED_VERSION });
    const { core } = openStandalone();
    core.tick(1);
    expect(core.removeVoter({ id: 0, directoryId: dirId(0) })).toMatchObject({ kind: "error", errorCode: ErrorCode.INVALID_REQUEST });
  });

  test("a snapshot carries the voter set (before the state machine's content, which gets its own back)", () => {
    const clock = new SimClock();
    const fs = new SimFileSystem(new SeededPrng(1), clock);
    const { core, log } = openStandalone(fs, clock);
    core.tick(1);
    fetchAt(core, 1, log.logEndOffset, core.epoch);
    core.addVoter(voter(1));
    fetchAt(core, 1, log.logEndOffset, core.epoch);
    core.propose(recordBatch(["a"]));
    core.tick(2);
    fetchAt(core, 1, log.logEndOffset, core.epoch);
    const end = core.highWatermark;
    const snap = core.createSnapshot(end, recordBatch(["state"]));
    expect(snap.kind).toBe("ok");
    // The state machine gets its own content back, without the voters batch.
    const id = core.latestSnapshot()!;
    const content = log.readSnapshotContent(id);
    expect(content.length).toBe(recordBatch(["state"]).length);
    const [record] = RecordBatchView.at(content, 0).records({ maxBytes: 1 << 20 });
    expect(new TextDecoder().decode(record!.value!)).toBe("state");
    expect(log.readSnapshotVoters(id)?.map((v) => v.id)).toEqual([0, 1]);
  });
});
