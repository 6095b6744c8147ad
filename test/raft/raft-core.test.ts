/**
 * RaftCore, one node at a time: elections, votes on disk before they are sent, the
 * up-to-date rule, pre-vote, check-quorum, the high watermark, divergence, restarts, and
 * requests that must be refused with an error code and no change of state.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { RecordBatchView } from "../../src/protocol/records/record-batch.ts";
import { decodeLeaderChange } from "../../src/raft/leader-change.ts";
import type { BeginQuorumEpochResponse, EndQuorumEpochResponse, FetchResponse, RaftMessage, VoteResponse } from "../../src/raft/messages.ts";
import { QuorumStateError, quorumStatePath, readQuorumState, writeQuorumState } from "../../src/raft/quorum-state.ts";
import {
  advance,
  ask,
  beginRequest,
  clusterId,
  crashAndReopen,
  dirId,
  drain,
  electLeader,
  endRequest,
  fetchRequest,
  metadataDir,
  openNode,
  recordBatch,
  sentOfType,
  type TestNode,
  voteRequest,
  votersOf,
} from "./helpers.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimClock } from "../../src/platform/clock.ts";

const E = ErrorCode;
const statePath = quorumStatePath(metadataDir);

/** A node whose disk already says it is in `epoch` (leader, vote as given). */
function nodeAt(epoch: number, leaderId = -1, votedId = -1, over: Parameters<typeof openNode>[0] = {}): TestNode {
  const clock = new SimClock();
  const fs = new SimFileSystem(new SeededPrng(5), clock);
  fs.mkdirp(metadataDir);
  writeQuorumState(fs, statePath, { leaderEpoch: epoch, leaderId, votedId, votedDirectoryId: votedId < 0 ? "AAAAAAAAAAAAAAAAAAAAAA" : dirId(votedId) });
  return openNode({ fs, clock, ...over });
}

describe("elections", () => {
  test("a single voter elects itself at once, and its proposals commit once flushed", () => {
    const node = openNode({ voters: votersOf(1) });
    // Nobody to wait for: it stands when it opens, without an election timeout.
    expect(node.core.role).toMatchObject({ kind: "leader", epoch: 1, leaderId: 0 });
    expect(readQuorumState(node.fs, statePath)).toMatchObject({ leaderEpoch: 1, leaderId: 0, votedId: 0 });
    // The LEADER_CHANGE record is appended but counts only once flushed (at the next tick).
    expect(node.log.logEndOffset).toBe(1);
    expect(node.core.highWatermark).toBe(0);
    advance(node, 0);
    expect(node.core.highWatermark).toBe(1);
    const r = node.core.propose(recordBatch(["a", "b"]));
    expect(r).toEqual({ kind: "ok", firstOffset: 1, lastOffset: 2, epoch: 1 });
    expect(node.core.highWatermark).toBe(1);
    node.core.takeOutputs();
    advance(node, 0);
    expect(node.core.highWatermark).toBe(3);
    expect(node.core.takeOutputs()).toContainEqual({ kind: "committed", highWatermark: 3, epoch: 1, byLeader: true });
  });

  test("pre-vote, then vote, then leader; BeginQuorumEpoch goes to every other voter", () => {
    const node = openNode();
    const epoch = electLeader(node);
    expect(epoch).toBe(1);
    const begins = sentOfType(node.core.takeOutputs(), "BeginQuorumEpochRequest");
    expect(begins.map((b) => b.to).sort()).toEqual([1, 2]);
    expect(begins[0]!.message).toMatchObject({ leaderId: 0, leaderEpoch: 1, clusterId });
    // The epoch opens with a LEADER_CHANGE record naming the voters that elected it.
    const read = node.log.read(0, 1 << 20);
    if (read.kind !== "ok") throw new Error(read.detail);
    const batch = RecordBatchView.at(read.records);
    expect([batch.isControl, batch.partitionLeaderEpoch, batch.baseOffset]).toEqual([true, 1, 0]);
    expect(decodeLeaderChange(batch.records({ maxBytes: 1 << 20 })[0]!.value!)).toEqual({ leaderId: 0, voters: [0, 1, 2], grantingVoters: [0, 1] });
  });

  test("a pre-vote does not bump the epoch; losing it backs off without bumping either", () => {
    const node = openNode();
    advance(node, 2001);
    expect(node.core.role).toMatchObject({ kind: "prospective", epoch: 0 });
    const reqs = sentOfType(node.core.takeOutputs(), "VoteRequest");
    expect(reqs.every((r) => r.message.preVote && r.message.candidateEpoch === 1)).toBe(true);
    for (const r of reqs) {
      node.core.receive(r.to, { type: "VoteResponse", requestId: r.message.requestId, errorCode: 0, leaderId: -1, leaderEpoch: 0, voteGranted: false, preVote: true });
    }
    expect(node.core.role).toMatchObject({ kind: "prospective", epoch: 0 });
    expect(readQuorumState(node.fs, statePath)).toBeNull();
  });

  test("check-quorum: a leader without fetches from a majority resigns and says so", () => {
    const node = openNode();
    electLeader(node);
    node.core.takeOutputs();
    advance(node, node.config.fetchTimeoutMs - 1);
    expect(node.core.role.kind).toBe("leader");
    // One voter fetching is a majority with the leader: the window renews.
    node.core.receive(1, fetchRequest({ currentLeaderEpoch: 1, fetchOffset: 0 }));
    advance(node, node.config.fetchTimeoutMs - 1);
    expect(node.core.role.kind).toBe("leader");
    advance(node, 2);
    expect(node.core.role).toMatchObject({ kind: "resigned", epoch: 1, leaderId: 0 });
    const ends = sentOfType(node.core.takeOutputs(), "EndQuorumEpochRequest");
    expect(ends.map((e) => e.to).sort()).toEqual([1, 2]);
    expect(ends[0]!.message.preferredCandidates[0]).toEqual({ id: 1, directoryId: dirId(1) });
  });
});

describe("votes", () => {
  test("a vote is on disk before the answer leaves, and survives a crash", () => {
    let node = openNode();
    const answer = ask<VoteResponse>(node, 1, voteRequest({ candidateEpoch: 1 }));
    expect(answer).toMatchObject({ errorCode: E.NONE, voteGranted: true, leaderEpoch: 1 });
    expect(readQuorumState(node.fs, statePath)).toEqual({ leaderEpoch: 1, leaderId: -1, votedId: 1, votedDirectoryId: dirId(1) });
    node = crashAndReopen(node);
    expect(node.core.role).toMatchObject({ kind: "unattached", epoch: 1, votedKey: { id: 1, directoryId: dirId(1) } });
    const other = ask<VoteResponse>(node, 2, voteRequest({ candidateEpoch: 1, candidateId: 2, candidateDirectoryId: dirId(2) }));
    expect(other.voteGranted).toBe(false);
    const again = ask<VoteResponse>(node, 1, voteRequest({ candidateEpoch: 1, requestId: 9 }));
    expect(again.voteGranted).toBe(true);
  });

  test("only for a candidate whose log is at least as up to date (last epoch, then end offset)", () => {
    const node = nodeAt(2, -1, -1);
    const r = node.log.appendAsLeader(recordBatch(["x", "y"]), 2);
    expect(r.kind).toBe("ok");
    node.log.flush();
    const cases: [number, number, boolean][] = [
      [-1, 0, false],
      [1, 10, false],
      [2, 1, false],
      [2, 2, true],
    ];
    let epoch = 3;
    for (const [lastOffsetEpoch, lastOffset, granted] of cases) {
      const answer = ask<VoteResponse>(node, 1, voteRequest({ candidateEpoch: epoch, lastOffsetEpoch, lastOffset }));
      expect({ lastOffsetEpoch, lastOffset, granted: answer.voteGranted }).toEqual({ lastOffsetEpoch, lastOffset, granted });
      // A refused vote still moves the node to the candidate's epoch, without a vote.
      expect(node.core.role).toMatchObject({ epoch, votedKey: granted ? { id: 1 } : null });
      epoch++;
    }
    const later = ask<VoteResponse>(node, 2, voteRequest({ candidateEpoch: epoch, candidateId: 2, candidateDirectoryId: dirId(2), lastOffsetEpoch: 3, lastOffset: 0 }));
    expect(later.voteGranted).toBe(true);
  });

  test("a pre-vote changes nothing, and a follower that hears from its leader refuses it", () => {
    const node = nodeAt(3, 1, -1);
    expect(node.core.role).toMatchObject({ kind: "follower", leaderId: 1, epoch: 3 });
    const before = node.fs.readFile(statePath);
    // Before its first successful fetch the follower does not vouch for the leader.
    const early = ask<VoteResponse>(node, 2, voteRequest({ candidateEpoch: 4, candidateId: 2, candidateDirectoryId: dirId(2), preVote: true }));
    expect(early).toMatchObject({ voteGranted: true, preVote: true, leaderEpoch: 3, leaderId: 1 });
    const pending = sentOfType(drain(node), "FetchRequest")[0]!;
    const ok: FetchResponse = {
      type: "FetchResponse",
      requestId: pending.message.requestId,
      errorCode: 0,
      highWatermark: 0,
      logStartOffset: 0,
      divergingEpoch: null,
      currentLeader: { leaderId: 1, leaderEpoch: 3 },
      records: new Uint8Array(0),
    };
    node.core.receive(1, ok);
    const late = ask<VoteResponse>(node, 2, voteRequest({ candidateEpoch: 4, candidateId: 2, candidateDirectoryId: dirId(2), preVote: true, requestId: 8 }));
    expect(late.voteGranted).toBe(false);
    expect(node.core.role).toMatchObject({ kind: "follower", epoch: 3, leaderId: 1 });
    expect(node.fs.readFile(statePath)).toEqual(before);
  });
});

describe("requests that are refused change nothing", () => {
  type Case = { name: string; request: RaftMessage; errorCode: number };
  const other = { candidateId: 2, candidateDirectoryId: dirId(2) };
  const cases: Case[] = [
    { name: "Vote: wrong cluster id", request: voteRequest({ ...other, candidateEpoch: 9, clusterId: "other" }), errorCode: E.INCONSISTENT_CLUSTER_ID },
    { name: "Vote: unknown candidate", request: voteRequest({ candidateEpoch: 9, candidateId: 7, candidateDirectoryId: dirId(7) }), errorCode: E.INCONSISTENT_VOTER_SET },
    { name: "Vote: candidate with another directory id", request: voteRequest({ ...other, candidateEpoch: 9, candidateDirectoryId: dirId(8) }), errorCode: E.INCONSISTENT_VOTER_SET },
    { name: "Vote: addressed to another directory id", request: voteRequest({ ...other, candidateEpoch: 9, voterDirectoryId: dirId(8) }), errorCode: E.INVALID_VOTER_KEY },
    { name: "Vote: stale epoch", request: voteRequest({ ...other, candidateEpoch: 4 }), errorCode: E.FENCED_LEADER_EPOCH },
    { name: "pre-vote: stale epoch", request: voteRequest({ ...other, candidateEpoch: 5, preVote: true }), errorCode: E.FENCED_LEADER_EPOCH },
    { name: "BeginQuorumEpoch: wrong cluster id", request: beginRequest({ leaderId: 2, leaderEpoch: 9, clusterId: "other" }), errorCode: E.INCONSISTENT_CLUSTER_ID },
    { name: "BeginQuorumEpoch: unknown leader", request: beginRequest({ leaderId: 7, leaderEpoch: 9 }), errorCode: E.INCONSISTENT_VOTER_SET },
    { name: "BeginQuorumEpoch: addressed to another directory id", request: beginRequest({ leaderId: 2, leaderEpoch: 9, voterDirectoryId: dirId(8) }), errorCode: E.INVALID_VOTER_KEY },
    { name: "BeginQuorumEpoch: stale epoch", request: beginRequest({ leaderId: 2, leaderEpoch: 4 }), errorCode: E.FENCED_LEADER_EPOCH },
    { name: "EndQuorumEpoch: wrong cluster id", request: endRequest({ leaderId: 1, leaderEpoch: 9, clusterId: "other" }), errorCode: E.INCONSISTENT_CLUSTER_ID },
    { name: "EndQuorumEpoch: unknown leader", request: endRequest({ leaderId: 7, leaderEpoch: 9 }), errorCode: E.INCONSISTENT_VOTER_SET },
    { name: "EndQuorumEpoch: stale epoch", request: endRequest({ leaderId: 1, leaderEpoch: 4 }), errorCode: E.FENCED_LEADER_EPOCH },
    { name: "Fetch: wrong cluster id", request: fetchRequest({ currentLeaderEpoch: 5, clusterId: "other" }), errorCode: E.INCONSISTENT_CLUSTER_ID },
    { name: "Fetch: stale epoch", request: fetchRequest({ currentLeaderEpoch: 4 }), errorCode: E.FENCED_LEADER_EPOCH },
    { name: "Fetch: future epoch", request: fetchRequest({ currentLeaderEpoch: 6 }), errorCode: E.UNKNOWN_LEADER_EPOCH },
    { name: "Fetch: not the leader", request: fetchRequest({ currentLeaderEpoch: 5 }), errorCode: E.NOT_LEADER_OR_FOLLOWER },
    { name: "Fetch: negative offset", request: fetchRequest({ currentLeaderEpoch: 5, fetchOffset: -1 }), errorCode: E.INVALID_REQUEST },
  ];
  for (const c of cases) {
    test(c.name, () => {
      // Epoch 5, following leader 1, voted for 1.
      const node = nodeAt(5, 1, 1);
      node.core.takeOutputs();
      const roleBefore = node.core.role;
      const fileBefore = node.fs.readFile(statePath);
      const answer = ask<VoteResponse | BeginQuorumEpochResponse | EndQuorumEpochResponse | FetchResponse>(node, 2, c.request);
      expect(answer.errorCode).toBe(c.errorCode);
      if (answer.type === "VoteResponse") expect(answer.voteGranted).toBe(false);
      expect(node.core.role).toEqual(roleBefore);
      expect(node.fs.readFile(statePath)).toEqual(fileBefore);
    });
  }

  test("a node that is not a voter (new directory id) refuses votes and never stands", () => {
    const node = openNode({ directoryId: dirId(9) });
    expect(node.core.isVoter).toBe(false);
    const answer = ask<VoteResponse>(node, 1, voteRequest());
    expect(answer).toMatchObject({ errorCode: E.INVALID_VOTER_KEY, voteGranted: false });
    advance(node, 10_000);
    const out = node.core.takeOutputs();
    expect(sentOfType(out, "VoteRequest")).toEqual([]);
    // It looks for the leader with a Fetch instead, as an observer.
    expect(sentOfType(out, "FetchRequest").length).toBeGreaterThan(0);
    expect(node.core.role.kind).toBe("unattached");
  });
});

describe("the leader's log and high watermark", () => {
  test("the high watermark is what a majority has on disk, and moves only past the epoch's first record", () => {
    const node = openNode();
    electLeader(node);
    advance(node, 0); // flushes the LEADER_CHANGE record at offset 0
    expect(node.core.highWatermark).toBe(0);
    node.core.takeOutputs();
    // Voter 1 at offset 0 has nothing of this epoch yet: it gets the record, nothing commits.
    const first = ask<FetchResponse>(node, 1, fetchRequest({ currentLeaderEpoch: 1, fetchOffset: 0, lastFetchedEpoch: -1 }));
    expect(first.records.length).toBeGreaterThan(0);
    expect(node.core.highWatermark).toBe(0);
    // An observer's fetch does not count.
    ask<FetchResponse>(node, 5, fetchRequest({ requestId: 5, replicaId: 5, replicaDirectoryId: dirId(5), currentLeaderEpoch: 1, fetchOffset: 1, lastFetchedEpoch: 1 }));
    expect(node.core.highWatermark).toBe(0);
    // Voter 1 with it on disk: leader + 1 is a majority of 3.
    const second = ask<FetchResponse>(node, 1, fetchRequest({ requestId: 6, currentLeaderEpoch: 1, fetchOffset: 1, lastFetchedEpoch: 1 }));
    expect(node.core.highWatermark).toBe(1);
    expect(second.highWatermark).toBe(1);
    const quorum = node.core.describeQuorum();
    expect(quorum).toMatchObject({ errorCode: E.NONE, leaderId: 0, leaderEpoch: 1, highWatermark: 1 });
    expect(quorum.currentVoters.map((v) => [v.replicaId, v.logEndOffset])).toEqual([
      [0, 1],
      [1, 1],
      [2, -1],
    ]);
    expect(quorum.observers.map((o) => o.replicaId)).toEqual([5]);
  });

  test("a Fetch with nothing to return waits until there is (new records or a new high watermark)", () => {
    const node = openNode();
    electLeader(node);
    advance(node, 0);
    node.core.takeOutputs();
    node.core.receive(1, fetchRequest({ requestId: 11, currentLeaderEpoch: 1, fetchOffset: 1, lastFetchedEpoch: 1, maxWaitMs: 500 }));
    // It moved the high watermark to 1, so it is answered at once.
    expect(sentOfType(node.core.takeOutputs(), "FetchResponse")[0]!.message.highWatermark).toBe(1);
    node.core.receive(1, fetchRequest({ requestId: 12, currentLeaderEpoch: 1, fetchOffset: 1, lastFetchedEpoch: 1, maxWaitMs: 500 }));
    expect(sentOfType(node.core.takeOutputs(), "FetchResponse")).toEqual([]);
    node.core.propose(recordBatch(["p"]));
    const answered = sentOfType(node.core.takeOutputs(), "FetchResponse");
    expect(answered.map((a) => a.message.requestId)).toEqual([12]);
    expect(answered[0]!.message.records.length).toBeGreaterThan(0);
    node.core.receive(1, fetchRequest({ requestId: 13, currentLeaderEpoch: 1, fetchOffset: 2, lastFetchedEpoch: 1, maxWaitMs: 500 }));
    // (voter 1 already has offset 1 on disk; the leader flushes it at its next tick → HW 2)
    const atFlush = (advance(node, 0), sentOfType(node.core.takeOutputs(), "FetchResponse"));
    expect(atFlush.map((a) => [a.message.requestId, a.message.highWatermark])).toEqual([[13, 2]]);
  });

  test("a replica whose log diverges is told where to truncate", () => {
    const node = nodeAt(2, -1, -1);
    node.log.appendAsLeader(recordBatch(["a", "b"]), 2);
    node.log.flush();
    const epoch = electLeader(node);
    expect(epoch).toBe(3);
    // The replica has offsets 0..3 with last epoch 1, unknown to this leader before epoch 2.
    const a = ask<FetchResponse>(node, 1, fetchRequest({ currentLeaderEpoch: 3, fetchOffset: 4, lastFetchedEpoch: 1 }));
    expect(a.divergingEpoch).toEqual({ epoch: -1, endOffset: 0 });
    // Last epoch 2 but more of it than the leader has.
    const b = ask<FetchResponse>(node, 1, fetchRequest({ requestId: 7, currentLeaderEpoch: 3, fetchOffset: 5, lastFetchedEpoch: 2 }));
    expect(b.divergingEpoch).toEqual({ epoch: 2, endOffset: 2 });
    // In step with the leader: records, no divergence.
    const c = ask<FetchResponse>(node, 1, fetchRequest({ requestId: 8, currentLeaderEpoch: 3, fetchOffset: 2, lastFetchedEpoch: 2 }));
    expect(c.divergingEpoch).toBeNull();
    expect(c.records.length).toBeGreaterThan(0);
  });

  test("a follower truncates to the divergence point, appends, and learns the high watermark", () => {
    const node = nodeAt(2, -1, -1);
    node.log.appendAsLeader(recordBatch(["stale-1", "stale-2"]), 2);
    node.log.flush();
    node.core.takeOutputs();
    ask<BeginQuorumEpochResponse>(node, 1, beginRequest({ leaderId: 1, leaderEpoch: 4 }));
    expect(node.core.role).toMatchObject({ kind: "follower", epoch: 4, leaderId: 1 });
    let fetch = sentOfType(drain(node), "FetchRequest")[0]!;
    expect(fetch.message).toMatchObject({ fetchOffset: 2, lastFetchedEpoch: 2, currentLeaderEpoch: 4 });
    const answer = (over: Partial<FetchResponse>): FetchResponse => ({
      type: "FetchResponse",
      requestId: fetch.message.requestId,
      errorCode: 0,
      highWatermark: 0,
      logStartOffset: 0,
      divergingEpoch: null,
      currentLeader: { leaderId: 1, leaderEpoch: 4 },
      records: new Uint8Array(0),
      ...over,
    });
    node.core.receive(1, answer({ divergingEpoch: { epoch: 1, endOffset: 1 } }));
    expect(node.log.logEndOffset).toBe(0);
    fetch = sentOfType(node.core.takeOutputs(), "FetchRequest")[0]!;
    expect(fetch.message).toMatchObject({ fetchOffset: 0, lastFetchedEpoch: -1 });
    const leaderBatch = recordBatch(["l1"]);
    new DataView(leaderBatch.buffer).setInt32(12, 4); // partitionLeaderEpoch 4 (outside the CRC)
    node.core.receive(1, answer({ records: leaderBatch, highWatermark: 1 }));
    expect(node.log.logEndOffset).toBe(1);
    expect(node.log.flushedOffset).toBe(1);
    expect(node.core.highWatermark).toBe(1);
    // A duplicate of an answer already taken is dropped.
    node.core.receive(1, answer({ records: leaderBatch, highWatermark: 1 }));
    expect(node.log.logEndOffset).toBe(1);
  });
});

describe("restarts", () => {
  test("a leader comes back resigned in its epoch and tells the voters", () => {
    const node = nodeAt(4, 0, 0);
    expect(node.core.role).toMatchObject({ kind: "resigned", epoch: 4, leaderId: 0 });
    expect(sentOfType(node.core.takeOutputs(), "EndQuorumEpochRequest").map((e) => e.to).sort()).toEqual([1, 2]);
    // It does not lead, and names no leader to fetchers.
    const answer = ask<FetchResponse>(node, 1, fetchRequest({ currentLeaderEpoch: 4 }));
    expect(answer).toMatchObject({ errorCode: E.NOT_LEADER_OR_FOLLOWER, currentLeader: { leaderId: -1, leaderEpoch: 4 } });
  });

  test("a missing quorum-state beside a non-empty log, or one older than the log, refuses to start", () => {
    const node = nodeAt(2, -1, -1);
    node.log.appendAsLeader(recordBatch(["a"]), 2);
    node.log.flush();
    node.log.partitionLog.close();
    node.fs.unlink(statePath);
    expect(() => openNode({ fs: node.fs, clock: node.clock })).toThrow(QuorumStateError);
    writeQuorumState(node.fs, statePath, { leaderEpoch: 1, leaderId: -1, votedId: -1, votedDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA" });
    expect(() => openNode({ fs: node.fs, clock: node.clock })).toThrow(/below the metadata log's last epoch 2/);
  });

  test("EndQuorumEpoch makes a follower stand sooner the higher the leader ranked it", () => {
    const node = nodeAt(3, 1, -1);
    const answer = ask<EndQuorumEpochResponse>(node, 1, endRequest({ leaderId: 1, leaderEpoch: 3, preferredCandidates: [{ id: 0, directoryId: dirId(0) }] }));
    expect(answer.errorCode).toBe(E.NONE);
    advance(node, node.config.retryBackoffMs);
    expect(node.core.role).toMatchObject({ kind: "prospective", epoch: 3 });
  });
});
