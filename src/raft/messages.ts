/**
 * The messages the Raft core exchanges, as typed structs that mirror the fields of Kafka's
 * KRaft RPCs (Vote 52, BeginQuorumEpoch 53, EndQuorumEpoch 54, Fetch 1 on
 * `__cluster_metadata-0`, FetchSnapshot 59, DescribeQuorum 55), so a driver can map each onto the generated
 * codecs in src/protocol/messages/ (vote-request.ts, fetch-request.ts, ...) one field to one
 * field. Only the single partition of the metadata topic is represented: the driver wraps it
 * in Topics[0].Partitions[0].
 *
 * Two things are not Kafka fields, and the driver keeps them in its correlation table:
 * - `requestId`: a response carries the id of the request it answers; the core drops
 *   responses to requests it no longer waits for (stale, duplicated or from a past life).
 * - `VoteResponse.preVote`: whether the answered request was a pre-vote. (Kafka's VoteRequest
 *   v2, KIP-996, adds the PreVote field to the request; the checked-in VoteRequest.json is v1,
 *   so the driver needs v2 codecs before pre-vote reaches the wire.)
 * Errors that Kafka returns at the top level (INCONSISTENT_CLUSTER_ID) travel in `errorCode`
 * too; the driver moves them to the top-level field.
 *
 * Messages are treated as immutable: the core never changes one it received or sent.
 */

import type { SnapshotId } from "./snapshot.ts";

export type { SnapshotId } from "./snapshot.ts";

/** A replica: its node id and the directory id of its metadata log dir (KIP-853). */
export interface ReplicaKey {
  readonly id: number;
  readonly directoryId: string;
}

export interface VoteRequest {
  readonly type: "VoteRequest";
  readonly requestId: number;
  readonly clusterId: string | null;
  /** The voter this request is for, and its directory id. */
  readonly voterId: number;
  readonly voterDirectoryId: string;
  /** For a real vote, the candidate's (bumped) epoch; for a pre-vote, the epoch it would bump to. */
  readonly candidateEpoch: number;
  readonly candidateId: number;
  readonly candidateDirectoryId: string;
  /** Epoch of the last batch of the candidate's log (-1 when empty). */
  readonly lastOffsetEpoch: number;
  /** The candidate's log end offset. */
  readonly lastOffset: number;
  readonly preVote: boolean;
}

export interface VoteResponse {
  readonly type: "VoteResponse";
  readonly requestId: number;
  readonly errorCode: number;
  /** The responder's view: the leader it knows (-1 when none) in its current epoch. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly voteGranted: boolean;
  readonly preVote: boolean;
}

export interface BeginQuorumEpochRequest {
  readonly type: "BeginQuorumEpochRequest";
  readonly requestId: number;
  readonly clusterId: string | null;
  readonly voterId: number;
  readonly voterDirectoryId: string;
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export interface BeginQuorumEpochResponse {
  readonly type: "BeginQuorumEpochResponse";
  readonly requestId: number;
  readonly errorCode: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export interface EndQuorumEpochRequest {
  readonly type: "EndQuorumEpochRequest";
  readonly requestId: number;
  readonly clusterId: string | null;
  /** The resigning leader and its epoch. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
  /** Voters best placed to win the next election, most caught-up first. */
  readonly preferredCandidates: readonly ReplicaKey[];
}

export interface EndQuorumEpochResponse {
  readonly type: "EndQuorumEpochResponse";
  readonly requestId: number;
  readonly errorCode: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export interface FetchRequest {
  readonly type: "FetchRequest";
  readonly requestId: number;
  readonly clusterId: string | null;
  /** ReplicaState.ReplicaId and the replica's directory id (ReplicaDirectoryId). */
  readonly replicaId: number;
  readonly replicaDirectoryId: string;
  readonly currentLeaderEpoch: number;
  /** The replica's log end offset: everything below it is on its disk. */
  readonly fetchOffset: number;
  /** Epoch of the replica's last batch (-1 when its log is empty). */
  readonly lastFetchedEpoch: number;
  readonly maxBytes: number;
  readonly maxWaitMs: number;
}

export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

export interface FetchResponse {
  readonly type: "FetchResponse";
  readonly requestId: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** Set when the replica's log diverges from the leader's: truncate to this, then fetch again. */
  readonly divergingEpoch: EpochEndOffset | null;
  readonly currentLeader: { readonly leaderId: number; readonly leaderEpoch: number };
  /** Whole record batches in wire form, starting at the fetch offset (empty when none). */
  readonly records: Uint8Array;
  /**
   * Where the leader named in `currentLeader` listens for the quorum (Fetch v16+ NodeEndpoints),
   * when the responder knows it: how an observer of a dynamic quorum that found the leader
   * through a bootstrap server reaches it. Absent or null: not given.
   */
  readonly leaderEndpoint?: { readonly host: string; readonly port: number } | null;
  /**
   * Kafka's SnapshotId (Fetch v12+, tagged): set when the fetch offset is below the leader's
   * log start (or its log cannot be checked against the leader's there): fetch this snapshot
   * with FetchSnapshot, then fetch the log from its end offset. Absent or null: none (the
   * wire's -1/-1).
   */
  readonly snapshotId?: SnapshotId | null;
}

/** FetchSnapshot (api 59) for `__cluster_metadata-0`: the driver wraps it in Topics[0].Partitions[0]. */
export interface FetchSnapshotRequest {
  readonly type: "FetchSnapshotRequest";
  readonly requestId: number;
  readonly clusterId: string | null;
  readonly replicaId: number;
  readonly replicaDirectoryId: string;
  readonly currentLeaderEpoch: number;
  readonly snapshotId: SnapshotId;
  /** Byte position in the snapshot file to read from. */
  readonly position: number;
  readonly maxBytes: number;
}

export interface FetchSnapshotResponse {
  readonly type: "FetchSnapshotResponse";
  readonly requestId: number;
  readonly errorCode: number;
  readonly snapshotId: SnapshotId;
  readonly currentLeader: { readonly leaderId: number; readonly leaderEpoch: number };
  /** The snapshot's whole size in bytes (-1 with an error). */
  readonly size: number;
  /** Where `unalignedRecords` starts in the snapshot. */
  readonly position: number;
  /** File bytes from `position`, not aligned on batch boundaries. */
  readonly unalignedRecords: Uint8Array;
}

export type RaftRequest = VoteRequest | BeginQuorumEpochRequest | EndQuorumEpochRequest | FetchRequest | FetchSnapshotRequest;
export type RaftResponse = VoteResponse | BeginQuorumEpochResponse | EndQuorumEpochResponse | FetchResponse | FetchSnapshotResponse;
export type RaftMessage = RaftRequest | RaftResponse;

/** DescribeQuorum's ReplicaState. Times are in the core's clock (what `tick` is given). */
export interface ReplicaDescription {
  readonly replicaId: number;
  readonly replicaDirectoryId: string;
  /** -1 when the leader has not heard from it in this epoch. */
  readonly logEndOffset: number;
  readonly lastFetchTimestamp: number;
  readonly lastCaughtUpTimestamp: number;
}

/** DescribeQuorum's PartitionData. Only the leader answers with NONE. */
export interface QuorumDescription {
  readonly errorCode: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
  readonly currentVoters: readonly ReplicaDescription[];
  readonly observers: readonly ReplicaDescription[];
  /** DescribeQuorum v2 Nodes: the voters' endpoints (a dynamic quorum's; empty otherwise). */
  readonly nodes?: readonly { readonly nodeId: number; readonly listeners: readonly { readonly name: string; readonly host: string; readonly port: number }[] }[];
}

export function isRequest(m: RaftMessage): m is RaftRequest {
  return m.type.endsWith("Request");
}

export function sameReplica(a: ReplicaKey, b: ReplicaKey): boolean {
  return a.id === b.id && a.directoryId === b.directoryId;
}

export function replicaKeyText(k: ReplicaKey): string {
  return `${k.id}:${k.directoryId}`;
}
