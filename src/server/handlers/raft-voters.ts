/**
 * AddRaftVoter (80) and RemoveRaftVoter (81): change the voter set of a dynamic controller
 * quorum (KIP-853). Admin APIs: a client sends them to any broker (forwarded to the active
 * controller, index.ts wraps them) or to a controller. The Raft leader decides (raft-core.ts:
 * one change at a time, only after committing in its epoch, a new voter must fetch as an
 * observer with its directory id and be caught up); the answer comes once the change is
 * committed.
 *
 * - While the new voter is not caught up, or another change is not committed yet, the add is
 *   retried every `retryMs` until the request's timeout (at most `waitMsMax`); then
 *   REQUEST_TIMED_OUT with the leader's reason.
 * - A static quorum answers UNSUPPORTED_VERSION; a node that is not the leader
 *   NOT_LEADER_OR_FOLLOWER; a wrong cluster id INCONSISTENT_CLUSTER_ID.
 * - Leadership lost before the change committed: NOT_LEADER_OR_FOLLOWER (the change may
 *   still commit under the next leader; describe the quorum to see).
 * UpdateRaftVoter (82) is not served: voters keep the endpoints they were added with.
 */
import type { Clock } from "../../platform/clock.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import type { VoterChangeResult } from "../../raft/raft-core.ts";
import { voterEndpointsMax } from "../../raft/voter-set.ts";
import type { Quorum } from "../quorum.ts";
import { defineHandler } from "./handler.ts";

/** The longest an AddRaftVoter/RemoveRaftVoter waits, whatever its timeoutMs. */
const waitMsMax = 60_000;
const retryMs = 100;

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(ms, resolve));
}

type Answer = { throttleTimeMs: number; errorCode: number; errorMessage: string | null };

/** Tries `attempt` until it appends or fails with something other than REQUEST_TIMED_OUT, then waits for the commit. */
async function changeAndCommit(quorum: Quorum, clock: Clock, timeoutMs: number, attempt: () => VoterChangeResult): Promise<Answer> {
  const deadline = clock.monotonicMs() + Math.min(Math.max(timeoutMs, 0), waitMsMax);
  let r = attempt();
  while (r.kind === "error" && r.errorCode === ErrorCode.REQUEST_TIMED_OUT && clock.monotonicMs() + retryMs < deadline) {
    await sleep(clock, retryMs);
    r = attempt();
  }
  if (r.kind === "error") return { throttleTimeMs: 0, errorCode: r.errorCode, errorMessage: r.message };
  const core = quorum.core;
  while (core.highWatermark <= r.offset) {
    if (core.epoch !== r.epoch) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: `leadership moved (epoch ${core.epoch}) before the change at ${r.offset} committed` };
    if (clock.monotonicMs() >= deadline) return { throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `the change at offset ${r.offset} is not committed yet` };
    await sleep(clock, 20);
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null };
}

function unavailable(clusterIdOk: boolean): Answer | null {
  if (!clusterIdOk) return { throttleTimeMs: 0, errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, errorMessage: "another cluster id" };
  return null;
}

export const addRaftVoterHandler = defineHandler({
  apiKey: ApiKeys.AddRaftVoter,
  minVersion: 0,
  maxVersion: 0,
  async handle(request, ctx) {
    const quorum = ctx.services.cluster?.quorum;
    if (quorum === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.BROKER_NOT_AVAILABLE, errorMessage: "no controller quorum here" };
    const bad = unavailable(request.clusterId === null || request.clusterId === quorum.core.clusterId);
    if (bad !== null) return bad;
    if (request.listeners.length === 0 || request.listeners.length > voterEndpointsMax) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `a new voter names 1..${voterEndpointsMax} listeners` };
    }
    const voter = { id: request.voterId, directoryId: request.voterDirectoryId, endpoints: request.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })) };
    ctx.logRepeated("info", "add voter", "AddRaftVoter", { voter: voter.id, directoryId: voter.directoryId });
    return await changeAndCommit(quorum, ctx.services.clock, request.timeoutMs, () => quorum.driver.changeVoters({ kind: "add", voter }));
  },
});

export const removeRaftVoterHandler = defineHandler({
  apiKey: ApiKeys.RemoveRaftVoter,
  minVersion: 0,
  maxVersion: 0,
  async handle(request, ctx) {
    const quorum = ctx.services.cluster?.quorum;
    if (quorum === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.BROKER_NOT_AVAILABLE, errorMessage: "no controller quorum here" };
    const bad = unavailable(request.clusterId === null || request.clusterId === quorum.core.clusterId);
    if (bad !== null) return bad;
    const key = { id: request.voterId, directoryId: request.voterDirectoryId };
    ctx.logRepeated("info", "remove voter", "RemoveRaftVoter", { voter: key.id, directoryId: key.directoryId });
    return await changeAndCommit(quorum, ctx.services.clock, 30_000, () => quorum.driver.changeVoters({ kind: "remove", key }));
  },
});
