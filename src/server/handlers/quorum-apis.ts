/**
 * The Raft RPCs of the controller quorum, served on the controller listener only: Vote,
 * BeginQuorumEpoch, EndQuorumEpoch, Fetch and FetchSnapshot of `__cluster_metadata-0`. Each
 * request is checked for shape here (wire.ts, wire-snapshot.ts: the metadata topic, one
 * partition; for FetchSnapshot also ids, epochs and positions in range) and handed to the Raft
 * driver, which answers with the core's response; the core checks cluster id, voter key and
 * epochs and changes nothing for a request that fails them. A request of the wrong shape is
 * a protocol violation: the connection is closed with a log line.
 *
 * They take the quorum, not the broker's services: a quorum must form before the broker's
 * start-up can end.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import type { BeginQuorumEpochResponse, EndQuorumEpochResponse, FetchResponse, FetchSnapshotResponse, RaftRequest, VoteResponse } from "../../raft/messages.ts";
import {
  beginQuorumEpochRequestFromWire,
  type Decoded,
  endQuorumEpochRequestFromWire,
  quorumEpochResponseToWire,
  raftFetchRequestFromWire,
  raftFetchResponseToWire,
  raftRequestSender,
  voteRequestFromWire,
  voteResponseToWire,
} from "../../raft/wire.ts";
import { fetchSnapshotRequestFromWire, fetchSnapshotResponseToWire } from "../../raft/wire-snapshot.ts";
import { ProtocolViolation } from "../dispatch.ts";
import type { Quorum } from "../quorum.ts";
import { type ApiHandler, defineHandler } from "./handler.ts";

export function quorumHandlers(quorum: Quorum): ApiHandler[] {
  const decodeFirst = <T extends RaftRequest>(d: Decoded<T>): T => {
    if (!d.ok) throw new ProtocolViolation(`malformed quorum request: ${d.reason}`, "malformed quorum request");
    return d.value;
  };
  const vote = defineHandler({
    apiKey: ApiKeys.Vote,
    minVersion: 0,
    maxVersion: 2,
    async handle(request) {
      const probe = decodeFirst(voteRequestFromWire(request, 0));
      const r = (await quorum.driver.handle(raftRequestSender(probe), (id) => ({ ...probe, requestId: id }))) as VoteResponse;
      return voteResponseToWire(r);
    },
  });
  const begin = defineHandler({
    apiKey: ApiKeys.BeginQuorumEpoch,
    minVersion: 0,
    maxVersion: 1,
    async handle(request) {
      const probe = decodeFirst(beginQuorumEpochRequestFromWire(request, 0));
      const r = (await quorum.driver.handle(raftRequestSender(probe), (id) => ({ ...probe, requestId: id }))) as BeginQuorumEpochResponse;
      return quorumEpochResponseToWire(r);
    },
  });
  const end = defineHandler({
    apiKey: ApiKeys.EndQuorumEpoch,
    minVersion: 0,
    maxVersion: 1,
    async handle(request) {
      const probe = decodeFirst(endQuorumEpochRequestFromWire(request, 0));
      const r = (await quorum.driver.handle(raftRequestSender(probe), (id) => ({ ...probe, requestId: id }))) as EndQuorumEpochResponse;
      return quorumEpochResponseToWire(r);
    },
  });
  const fetch = defineHandler({
    apiKey: ApiKeys.Fetch,
    minVersion: 12,
    maxVersion: 17,
    async handle(request, ctx) {
      const probe = decodeFirst(raftFetchRequestFromWire(request, ctx.apiVersion, 0));
      const r = (await quorum.driver.handle(raftRequestSender(probe), (id) => ({ ...probe, requestId: id }))) as FetchResponse;
      return raftFetchResponseToWire(r);
    },
  });
  const fetchSnapshot = defineHandler({
    apiKey: ApiKeys.FetchSnapshot,
    minVersion: 0,
    maxVersion: 1,
    async handle(request) {
      const d = fetchSnapshotRequestFromWire(request, 0);
      const probe = decodeFirst(d.ok ? d : { ok: false, errorCode: ErrorCode.INVALID_REQUEST, reason: d.detail });
      const r = (await quorum.driver.handle(raftRequestSender(probe), (id) => ({ ...probe, requestId: id }))) as FetchSnapshotResponse;
      return fetchSnapshotResponseToWire(r);
    },
  });
  return [vote, begin, end, fetch, fetchSnapshot] as ApiHandler[];
}
