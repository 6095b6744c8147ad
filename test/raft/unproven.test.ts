/**
 * The unproven-voter rule of static quorums (raft-core.ts, `#onVoteRequest`) on one core, and
 * the `quorum-unproven` marker's format (unproven.ts). The quorum-wide behaviour (no committed
 * record lost over thousands of wipes) is the simulator's: simulation.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { ZERO_UUID_TEXT } from "../../src/protocol/codec/uuid.ts";
import type { FetchRequest, ReplicaKey, VoteResponse } from "../../src/raft/messages.ts";
import { QuorumStateError } from "../../src/raft/quorum-state.ts";
import {
  decodeUnprovenMarker,
  encodeUnprovenMarker,
  readUnprovenMarker,
  type UnprovenMarker,
  unprovenPath,
  unprovenVotesMax,
  withUnprovenVote,
} from "../../src/raft/unproven.ts";
import { advance, ask, beginRequest, crashAndReopen, drain, metadataDir, openNode, sentOfType, voteRequest, votersOf } from "./helpers.ts";

const staticVoters: ReplicaKey[] = [0, 1, 2].map((id) => ({ id, directoryId: ZERO_UUID_TEXT }));
const marker = unprovenPath(metadataDir);

function openStatic(): ReturnType<typeof openNode> {
  return openNode({ id: 0, directoryId: ZERO_UUID_TEXT, voters: staticVoters });
}

const staticVote = (over: Parameters<typeof voteRequest>[0]) =>
  voteRequest({ voterDirectoryId: ZERO_UUID_TEXT, candidateDirectoryId: ZERO_UUID_TEXT, ...over });

describe("the quorum-unproven marker", () => {
  test("round trip, one line of JSON", () => {
    const m = { fetchDirectoryId: "AAAAAAAAAAAAAAAAAAAAAQ", votes: [{ epoch: 3, candidateId: 1 }] };
    const bytes = encodeUnprovenMarker(m);
    expect(new TextDecoder().decode(bytes)).toBe('{"fetchDirectoryId":"AAAAAAAAAAAAAAAAAAAAAQ","votes":[[3,1]],"data_version":1}\n');
    expect(decodeUnprovenMarker("m", bytes)).toEqual(m);
  });

  test("a damaged marker is an error, never taken as proven", () => {
    for (const text of ["", "{", "[]", '{"fetchDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","votes":[],"data_version":1}', '{"fetchDirectoryId":"AAAAAAAAAAAAAAAAAAAAAQ","votes":[[0,1]],"data_version":1}', '{"fetchDirectoryId":"AAAAAAAAAAAAAAAAAAAAAQ","votes":[],"data_version":2}']) {
      expect(() => decodeUnprovenMarker("m", new TextEncoder().encode(text))).toThrow(QuorumStateError);
    }
  });

  test("votes are kept once each, the newest unprovenVotesMax", () => {
    let m: UnprovenMarker = { fetchDirectoryId: "AAAAAAAAAAAAAAAAAAAAAQ", votes: [] };
    for (let e = 1; e <= unprovenVotesMax + 3; e++) m = withUnprovenVote(m, { epoch: e, candidateId: 2 });
    expect(withUnprovenVote(m, { epoch: unprovenVotesMax + 3, candidateId: 2 })).toBe(m);
    expect(m.votes.length).toBe(unprovenVotesMax);
    expect(m.votes[0]!.epoch).toBe(4);
  });
});

describe("a static voter (zero directory id)", () => {
  test("opens a new or wiped dir unproven: the marker is written before anything is sent, and outlives a crash", () => {
    const node = openStatic();
    expect(node.core.unproven).toBe(true);
    expect(node.fs.exists(marker)).toBe(true);
    expect(drain(node).filter((o) => o.kind === "provenChanged")).toEqual([{ kind: "provenChanged", proven: false, reason: expect.stringContaining("new or wiped") }]);
    const again = crashAndReopen(node);
    expect(again.core.unproven).toBe(true);
    expect(readUnprovenMarker(again.fs, marker)).toEqual(readUnprovenMarker(node.fs, marker));
  });

  test("a voter keyed with its directory id (KIP-853) or a single static voter never is", () => {
    const kip853 = openNode({ id: 0, voters: votersOf(3) });
    expect(kip853.core.unproven).toBe(false);
    expect(kip853.fs.exists(marker)).toBe(false);
    const single = openNode({ id: 0, directoryId: ZERO_UUID_TEXT, voters: [{ id: 0, directoryId: ZERO_UUID_TEXT }] });
    expect(single.core.unproven).toBe(false);
  });

  test("V1: unproven, it grants votes and pre-votes only to an empty log", () => {
    const node = openStatic();
    const withLog = { lastOffsetEpoch: 2, lastOffset: 5 };
    expect(ask<VoteResponse>(node, 1, staticVote({ preVote: true, candidateEpoch: 3, ...withLog })).voteGranted).toBe(false);
    expect(ask<VoteResponse>(node, 1, staticVote({ candidateEpoch: 3, ...withLog })).voteGranted).toBe(false);
    expect(ask<VoteResponse>(node, 2, staticVote({ candidateId: 2, candidateEpoch: 4 })).voteGranted).toBe(true);
    // The vote is remembered in the marker (for P4).
    expect(readUnprovenMarker(node.fs, marker)!.votes).toEqual([{ epoch: 4, candidateId: 2 }]);
  });

  test("C1: unproven, its fetches name another directory id than its voter key", () => {
    const node = openStatic();
    ask(node, 1, beginRequest({ voterDirectoryId: ZERO_UUID_TEXT, leaderEpoch: 1 }));
    expect(node.core.role.kind).toBe("follower");
    advance(node, 1);
    const fetches = sentOfType(drain(node), "FetchRequest").map((s) => s.message as FetchRequest);
    expect(fetches.length).toBeGreaterThan(0);
    expect(fetches[0]!.replicaDirectoryId).not.toBe(ZERO_UUID_TEXT);
    expect(fetches[0]!.replicaDirectoryId).toBe(readUnprovenMarker(node.fs, marker)!.fetchDirectoryId);
    expect(node.core.unproven).toBe(true); // following a leader it did not vote for proves nothing
  });

  test("V2 + P1: its empty log wins only with every other voter's vote, and winning proves it (marker removed)", () => {
    const node = openStatic();
    advance(node, 2 * node.config.electionTimeoutMs + 1);
    const pre = sentOfType(node.core.takeOutputs(), "VoteRequest");
    expect(pre.map((s) => s.to).sort()).toEqual([1, 2]);
    node.core.receive(1, { type: "VoteResponse", requestId: pre.find((s) => s.to === 1)!.message.requestId, errorCode: 0, leaderId: -1, leaderEpoch: 0, voteGranted: true, preVote: true });
    expect(node.core.role.kind).toBe("prospective"); // a majority is not enough
    node.core.receive(2, { type: "VoteResponse", requestId: pre.find((s) => s.to === 2)!.message.requestId, errorCode: 0, leaderId: -1, leaderEpoch: 0, voteGranted: true, preVote: true });
    expect(node.core.role.kind).toBe("candidate");
    const votes = sentOfType(node.core.takeOutputs(), "VoteRequest");
    const grant = (to: number): void => {
      const req = votes.find((s) => s.to === to)!;
      expect(req.message.preVote).toBe(false);
      node.core.receive(to, { type: "VoteResponse", requestId: req.message.requestId, errorCode: 0, leaderId: -1, leaderEpoch: req.message.candidateEpoch, voteGranted: true, preVote: false });
    };
    grant(1);
    expect(node.core.role.kind).toBe("candidate");
    grant(2);
    expect(node.core.role.kind).toBe("leader");
    expect(node.core.unproven).toBe(false);
    expect(node.fs.exists(marker)).toBe(false);
  });
});
