/** Shared setup for the Raft unit tests: one RaftCore on a PartitionRaftLog on a SimFileSystem. */
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { uuidBytesToText } from "../../src/protocol/codec/uuid.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { defaultRaftConfig, type RaftConfig } from "../../src/raft/config.ts";
import type {
  BeginQuorumEpochRequest,
  EndQuorumEpochRequest,
  FetchRequest,
  RaftMessage,
  ReplicaKey,
  VoteRequest,
} from "../../src/raft/messages.ts";
import { RaftCore, type RaftOutput } from "../../src/raft/raft-core.ts";
import { PartitionRaftLog, raftLogConfig } from "../../src/raft/raft-log.ts";

export const clusterId = "test-cluster-AAAAAAAAAA";
export const metadataDir = "/data/__cluster_metadata-0";

export function dirId(n: number): string {
  return uuidBytesToText(new Uint8Array(16).fill(n + 1), 0);
}

export function votersOf(count: number): ReplicaKey[] {
  return Array.from({ length: count }, (_, id) => ({ id, directoryId: dirId(id) }));
}

export interface TestNode {
  fs: SimFileSystem;
  clock: SimClock;
  log: PartitionRaftLog;
  core: RaftCore;
  local: ReplicaKey;
  voters: ReplicaKey[];
  config: RaftConfig;
  /** Outputs `ask` took but that were not the answer it waited for. */
  outbox: RaftOutput[];
}

export function openNode(
  opts: { id?: number; directoryId?: string; voters?: ReplicaKey[]; fs?: SimFileSystem; clock?: SimClock; config?: Partial<RaftConfig>; seed?: number } = {},
): TestNode {
  const id = opts.id ?? 0;
  const clock = opts.clock ?? new SimClock();
  const fs = opts.fs ?? new SimFileSystem(new SeededPrng(opts.seed ?? 1), clock);
  const voters = opts.voters ?? votersOf(3);
  const local = { id, directoryId: opts.directoryId ?? dirId(id) };
  const config = { ...defaultRaftConfig, ...opts.config };
  const log = PartitionRaftLog.open({ fs, clock, dir: metadataDir, config: raftLogConfig({ segmentBytes: 16 * 1024 }) });
  const core = RaftCore.open({ clusterId, local, voters, config, fs, metadataDir, log, prng: new SeededPrng(opts.seed ?? 1), clock, nowMs: clock.monotonicMs() });
  return { fs, clock, log, core, local, voters, config, outbox: [] };
}

/** Power loss, then the node starts again on what its disk kept. */
export function crashAndReopen(node: TestNode): TestNode {
  node.log.partitionLog.closeUnclean();
  node.fs.crash();
  return openNode({ id: node.local.id, directoryId: node.local.directoryId, voters: node.voters, fs: node.fs, clock: node.clock, config: node.config, seed: 2 });
}

export function advance(node: TestNode, ms: number): void {
  node.clock.advance(ms);
  node.core.tick(node.clock.monotonicMs());
}

export function sent(outputs: readonly RaftOutput[]): { to: number; message: RaftMessage }[] {
  return outputs.flatMap((o) => (o.kind === "send" ? [{ to: o.to, message: o.message }] : []));
}

export function sentOfType<T extends RaftMessage["type"]>(outputs: readonly RaftOutput[], type: T): { to: number; message: Extract<RaftMessage, { type: T }> }[] {
  return sent(outputs).filter((s): s is { to: number; message: Extract<RaftMessage, { type: T }> } => s.message.type === type);
}

/** Sends `request` to `node` and returns the one response it answers with. */
export function ask<T extends RaftMessage>(node: TestNode, from: number, request: RaftMessage): T {
  node.outbox.push(...node.core.takeOutputs());
  node.core.receive(from, request);
  const outputs = node.core.takeOutputs();
  const isAnswer = (o: RaftOutput): boolean => o.kind === "send" && o.to === from && o.message.requestId === request.requestId && o.message.type !== request.type;
  const answers = outputs.filter(isAnswer);
  node.outbox.push(...outputs.filter((o) => !isAnswer(o)));
  if (answers.length !== 1 || answers[0]!.kind !== "send") throw new Error(`expected one answer to ${request.type}, got ${answers.length}`);
  return answers[0]!.message as T;
}

/** Everything the node output since the last call (including what `ask` set aside). */
export function drain(node: TestNode): RaftOutput[] {
  const out = [...node.outbox, ...node.core.takeOutputs()];
  node.outbox = [];
  return out;
}

export function voteRequest(over: Partial<VoteRequest> = {}): VoteRequest {
  return {
    type: "VoteRequest",
    requestId: 1,
    clusterId,
    voterId: 0,
    voterDirectoryId: dirId(0),
    candidateEpoch: 1,
    candidateId: 1,
    candidateDirectoryId: dirId(1),
    lastOffsetEpoch: -1,
    lastOffset: 0,
    preVote: false,
    ...over,
  };
}

export function beginRequest(over: Partial<BeginQuorumEpochRequest> = {}): BeginQuorumEpochRequest {
  return { type: "BeginQuorumEpochRequest", requestId: 2, clusterId, voterId: 0, voterDirectoryId: dirId(0), leaderId: 1, leaderEpoch: 1, ...over };
}

export function endRequest(over: Partial<EndQuorumEpochRequest> = {}): EndQuorumEpochRequest {
  return { type: "EndQuorumEpochRequest", requestId: 3, clusterId, leaderId: 1, leaderEpoch: 1, preferredCandidates: [], ...over };
}

export function fetchRequest(over: Partial<FetchRequest> = {}): FetchRequest {
  return {
    type: "FetchRequest",
    requestId: 4,
    clusterId,
    replicaId: 1,
    replicaDirectoryId: dirId(1),
    currentLeaderEpoch: 1,
    fetchOffset: 0,
    lastFetchedEpoch: -1,
    maxBytes: 1 << 20,
    maxWaitMs: 0,
    ...over,
  };
}

export function recordBatch(values: string[], timestamp = 0): Uint8Array {
  return buildRecordBatch(values.map((v) => ({ key: null, value: new TextEncoder().encode(v), timestamp })));
}

/**
 * Makes node 0 of a 3-voter quorum leader: election timeout, a pre-vote and a vote granted
 * by voter 1. Returns the epoch.
 */
export function electLeader(node: TestNode): number {
  advance(node, 2 * node.config.electionTimeoutMs + 1);
  const preVote = sentOfType(node.core.takeOutputs(), "VoteRequest").find((s) => s.to === 1);
  if (preVote === undefined || !preVote.message.preVote) throw new Error("no pre-vote request to voter 1");
  node.core.receive(1, { type: "VoteResponse", requestId: preVote.message.requestId, errorCode: 0, leaderId: -1, leaderEpoch: node.core.epoch, voteGranted: true, preVote: true });
  const vote = sentOfType(node.core.takeOutputs(), "VoteRequest").find((s) => s.to === 1);
  if (vote === undefined || vote.message.preVote) throw new Error("no vote request to voter 1");
  node.core.receive(1, { type: "VoteResponse", requestId: vote.message.requestId, errorCode: 0, leaderId: -1, leaderEpoch: vote.message.candidateEpoch, voteGranted: true, preVote: false });
  if (node.core.role.kind !== "leader") throw new Error(`expected leader, is ${node.core.role.kind}`);
  return node.core.epoch;
}
