/**
 * The Raft messages through Kafka's wire and back (raft/wire.ts with the generated codecs):
 * what the core sends is what the peer's core reads.
 */
import { expect, test } from "bun:test";
import { Reader } from "../../src/protocol/codec/reader.ts";
import { Writer } from "../../src/protocol/codec/writer.ts";
import { ApiKeys, decodeResponseBody, encodeResponseBody } from "../../src/protocol/messages/index.ts";
import type { FetchRequest, FetchResponse } from "../../src/raft/messages.ts";
import { raftFetchResponseToWire, raftRequestVersions, raftResponseFromWire } from "../../src/raft/wire.ts";

const fetchRequest: FetchRequest = {
  type: "FetchRequest",
  requestId: 7,
  clusterId: null,
  replicaId: 1,
  replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA",
  currentLeaderEpoch: 2,
  fetchOffset: 1,
  lastFetchedEpoch: 1,
  maxBytes: 1024,
  maxWaitMs: 500,
};

function throughTheWire(m: FetchResponse): FetchResponse {
  const w = new Writer(64);
  encodeResponseBody(ApiKeys.Fetch, w, raftFetchResponseToWire(m), raftRequestVersions[ApiKeys.Fetch]);
  const body = decodeResponseBody(ApiKeys.Fetch, new Reader(w.flatten()), raftRequestVersions[ApiKeys.Fetch]);
  const decoded = raftResponseFromWire(fetchRequest, body);
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.value as FetchResponse;
}

function fetchResponse(divergingEpoch: FetchResponse["divergingEpoch"]): FetchResponse {
  return {
    type: "FetchResponse",
    requestId: 7,
    errorCode: 0,
    highWatermark: 14,
    logStartOffset: 0,
    divergingEpoch,
    currentLeader: { leaderId: 3, leaderEpoch: 2 },
    records: new Uint8Array(0),
  };
}

test("a Fetch answer's diverging epoch survives the wire, also 'no epoch in common' (epoch -1, the leader's log start)", () => {
  // The leader of epoch 2 has no epoch <= 1 (the follower's last): everything from its log
  // start diverges. Dropped on the way, the follower kept its uncommitted epoch-1 batch under
  // the leader's high watermark (found by the cluster simulator, seed 100).
  for (const d of [{ epoch: -1, endOffset: 0 }, { epoch: 1, endOffset: 0 }, { epoch: 4, endOffset: 12 }, null]) {
    expect(throughTheWire(fetchResponse(d)).divergingEpoch).toEqual(d);
  }
});
