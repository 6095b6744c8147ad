/**
 * The Raft messages (messages.ts) on Kafka's wire: each maps one field to one field onto the
 * generated codecs of Vote (52), BeginQuorumEpoch (53), EndQuorumEpoch (54), Fetch (1) on
 * `__cluster_metadata-0`, FetchSnapshot (59, whose fields wire-snapshot.ts maps) and
 * DescribeQuorum (55). Pure functions, no I/O.
 *
 * - Requests are built at the versions bunka's quorum needs (`raftRequestVersions`: Vote v2
 *   for pre-vote, directory ids from BeginQuorumEpoch/EndQuorumEpoch/FetchSnapshot v1 and
 *   Fetch v17), and a peer that cannot speak them is not a usable voter.
 * - A Fetch response carries the leader's SnapshotId (tagged field 2 of the partition) when
 *   the fetch offset is below its log start; -1/-1 on the wire is "none" (null here).
 * - Decoding a request checks its shape (one topic, the metadata topic, one partition 0) and
 *   answers INVALID_REQUEST with a reason otherwise; the core checks everything else (cluster
 *   id, voter key, epochs). Sizes need no bounding here: the codecs bound every length
 *   against the frame, and record bytes stay a view of it.
 * - The two things a Kafka message lacks travel beside it: the request id the core matches
 *   answers with (the driver's correlation table keeps it), and for a Vote response whether
 *   the answered request was a pre-vote (taken from the request sent).
 * - Errors Kafka returns at the top level (INCONSISTENT_CLUSTER_ID, INVALID_REQUEST) are
 *   put there; the rest per partition. Reading a response, a top-level error wins.
 */
import { ErrorCode } from "../protocol/errors.ts";
import { ApiKeys } from "../protocol/messages/index.ts";
import type { BeginQuorumEpochRequest as WireBeginRequest } from "../protocol/messages/begin-quorum-epoch-request.ts";
import type { BeginQuorumEpochResponse as WireBeginResponse } from "../protocol/messages/begin-quorum-epoch-response.ts";
import type { DescribeQuorumResponse as WireDescribeQuorumResponse } from "../protocol/messages/describe-quorum-response.ts";
import type { EndQuorumEpochRequest as WireEndRequest } from "../protocol/messages/end-quorum-epoch-request.ts";
import type { EndQuorumEpochResponse as WireEndResponse } from "../protocol/messages/end-quorum-epoch-response.ts";
import { defaultFetchRequest, type FetchRequest as WireFetchRequest } from "../protocol/messages/fetch-request.ts";
import { defaultFetchResponse, type FetchResponse as WireFetchResponse } from "../protocol/messages/fetch-response.ts";
import type { VoteRequest as WireVoteRequest } from "../protocol/messages/vote-request.ts";
import type { FetchSnapshotRequest as WireFetchSnapshotRequest } from "../protocol/messages/fetch-snapshot-request.ts";
import type { FetchSnapshotResponse as WireFetchSnapshotResponse } from "../protocol/messages/fetch-snapshot-response.ts";
import type { VoteResponse as WireVoteResponse } from "../protocol/messages/vote-response.ts";
import type {
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  FetchRequest,
  FetchResponse,
  QuorumDescription,
  RaftRequest,
  RaftResponse,
  ReplicaDescription,
  VoteRequest,
  VoteResponse,
} from "./messages.ts";
import { metadataPartition, metadataTopic } from "./raft-log.ts";
import type { SnapshotId } from "./snapshot.ts";
import { fetchSnapshotRequestToWire, fetchSnapshotResponseFromWire } from "./wire-snapshot.ts";

/** The metadata topic's fixed id (Kafka's, so Fetch v13+ names it by id). */
export const metadataTopicId = "AAAAAAAAAAAAAAAAAAAAAQ";

/** Lowest request versions a quorum peer must speak. */
export const raftRequestVersions = {
  [ApiKeys.Vote]: 2,
  [ApiKeys.BeginQuorumEpoch]: 1,
  [ApiKeys.EndQuorumEpoch]: 1,
  [ApiKeys.Fetch]: 17,
  [ApiKeys.FetchSnapshot]: 1,
} as const;

export type RaftApiKey = typeof ApiKeys.Vote | typeof ApiKeys.BeginQuorumEpoch | typeof ApiKeys.EndQuorumEpoch | typeof ApiKeys.Fetch | typeof ApiKeys.FetchSnapshot;

export type WireRaftRequest =
  | { readonly apiKey: typeof ApiKeys.Vote; readonly body: WireVoteRequest }
  | { readonly apiKey: typeof ApiKeys.BeginQuorumEpoch; readonly body: WireBeginRequest }
  | { readonly apiKey: typeof ApiKeys.EndQuorumEpoch; readonly body: WireEndRequest }
  | { readonly apiKey: typeof ApiKeys.Fetch; readonly body: WireFetchRequest }
  | { readonly apiKey: typeof ApiKeys.FetchSnapshot; readonly body: WireFetchSnapshotRequest };

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errorCode: number; readonly reason: string };

const bad = (reason: string): Decoded<never> => ({ ok: false, errorCode: ErrorCode.INVALID_REQUEST, reason });
const topLevel = (code: number) => code === ErrorCode.INCONSISTENT_CLUSTER_ID || code === ErrorCode.INVALID_REQUEST;

/** The single partition of a Raft request: the metadata topic (by name or id), partition 0. */
function onePartition<P extends { partitionIndex?: number; partition?: number }>(
  topics: readonly { topicName?: string | undefined; topic?: string | undefined; topicId?: string | undefined; partitions: readonly P[] }[],
): Decoded<P> {
  if (topics.length !== 1) return bad(`${topics.length} topics in a quorum request (one expected)`);
  const t = topics[0]!;
  const name = t.topicName ?? t.topic ?? "";
  const byId = t.topicId !== undefined && t.topicId === metadataTopicId;
  if (name !== metadataTopic && !byId) return bad(`quorum request for topic "${name}" (${metadataTopic} expected)`);
  if (t.partitions.length !== 1) return bad(`${t.partitions.length} partitions in a quorum request (one expected)`);
  const p = t.partitions[0]!;
  const index = p.partitionIndex ?? p.partition;
  if (index !== metadataPartition) return bad(`quorum request for partition ${index} (${metadataPartition} expected)`);
  return { ok: true, value: p };
}

// ---------------------------------------------------------------------------------------
// Requests: core → wire (sending) and wire → core (receiving)

export function raftRequestToWire(m: RaftRequest): WireRaftRequest {
  switch (m.type) {
    case "VoteRequest":
      return {
        apiKey: ApiKeys.Vote,
        body: {
          clusterId: m.clusterId,
          voterId: m.voterId,
          topics: [
            {
              topicName: metadataTopic,
              partitions: [
                {
                  partitionIndex: metadataPartition,
                  candidateEpoch: m.candidateEpoch,
                  candidateId: m.candidateId,
                  candidateDirectoryId: m.candidateDirectoryId,
                  voterDirectoryId: m.voterDirectoryId,
                  lastOffsetEpoch: m.lastOffsetEpoch,
                  lastOffset: m.lastOffset,
                  preVote: m.preVote,
                },
              ],
            },
          ],
        },
      };
    case "BeginQuorumEpochRequest":
      return {
        apiKey: ApiKeys.BeginQuorumEpoch,
        body: {
          clusterId: m.clusterId,
          voterId: m.voterId,
          topics: [{ topicName: metadataTopic, partitions: [{ partitionIndex: metadataPartition, voterDirectoryId: m.voterDirectoryId, leaderId: m.leaderId, leaderEpoch: m.leaderEpoch }] }],
          leaderEndpoints: [],
        },
      };
    case "EndQuorumEpochRequest":
      return {
        apiKey: ApiKeys.EndQuorumEpoch,
        body: {
          clusterId: m.clusterId,
          topics: [
            {
              topicName: metadataTopic,
              partitions: [
                {
                  partitionIndex: metadataPartition,
                  leaderId: m.leaderId,
                  leaderEpoch: m.leaderEpoch,
                  preferredSuccessors: [],
                  preferredCandidates: m.preferredCandidates.map((c) => ({ candidateId: c.id, candidateDirectoryId: c.directoryId })),
                },
              ],
            },
          ],
          leaderEndpoints: [],
        },
      };
    case "FetchRequest": {
      const body = defaultFetchRequest();
      body.clusterId = m.clusterId;
      body.replicaState = { replicaId: m.replicaId, replicaEpoch: -1 };
      body.maxWaitMs = m.maxWaitMs;
      body.minBytes = 0;
      body.maxBytes = m.maxBytes;
      body.topics = [
        {
          topic: metadataTopic,
          topicId: metadataTopicId,
          partitions: [
            {
              partition: metadataPartition,
              currentLeaderEpoch: m.currentLeaderEpoch,
              fetchOffset: m.fetchOffset,
              lastFetchedEpoch: m.lastFetchedEpoch,
              logStartOffset: -1,
              partitionMaxBytes: m.maxBytes,
              replicaDirectoryId: m.replicaDirectoryId,
            },
          ],
        },
      ];
      return { apiKey: ApiKeys.Fetch, body };
    }
    case "FetchSnapshotRequest":
      return { apiKey: ApiKeys.FetchSnapshot, body: fetchSnapshotRequestToWire(m) };
  }
}

/** The sender of a received request, as the core's `receive(from, ...)` wants it. */
export function raftRequestSender(m: RaftRequest): number {
  switch (m.type) {
    case "VoteRequest":
      return m.candidateId;
    case "BeginQuorumEpochRequest":
    case "EndQuorumEpochRequest":
      return m.leaderId;
    case "FetchRequest":
    case "FetchSnapshotRequest":
      return m.replicaId;
  }
}

export function voteRequestFromWire(body: WireVoteRequest, requestId: number): Decoded<VoteRequest> {
  const p = onePartition(body.topics);
  if (!p.ok) return p;
  const v = p.value;
  return {
    ok: true,
    value: {
      type: "VoteRequest",
      requestId,
      clusterId: body.clusterId,
      voterId: body.voterId,
      voterDirectoryId: v.voterDirectoryId,
      candidateEpoch: v.candidateEpoch,
      candidateId: v.candidateId,
      candidateDirectoryId: v.candidateDirectoryId,
      lastOffsetEpoch: v.lastOffsetEpoch,
      lastOffset: v.lastOffset,
      preVote: v.preVote,
    },
  };
}

export function beginQuorumEpochRequestFromWire(body: WireBeginRequest, requestId: number): Decoded<BeginQuorumEpochRequest> {
  const p = onePartition(body.topics);
  if (!p.ok) return p;
  const v = p.value;
  return {
    ok: true,
    value: { type: "BeginQuorumEpochRequest", requestId, clusterId: body.clusterId, voterId: body.voterId, voterDirectoryId: v.voterDirectoryId, leaderId: v.leaderId, leaderEpoch: v.leaderEpoch },
  };
}

export function endQuorumEpochRequestFromWire(body: WireEndRequest, requestId: number): Decoded<EndQuorumEpochRequest> {
  const p = onePartition(body.topics);
  if (!p.ok) return p;
  const v = p.value;
  if (v.preferredCandidates.length > 64) return bad(`${v.preferredCandidates.length} preferred candidates`);
  return {
    ok: true,
    value: {
      type: "EndQuorumEpochRequest",
      requestId,
      clusterId: body.clusterId,
      leaderId: v.leaderId,
      leaderEpoch: v.leaderEpoch,
      preferredCandidates: v.preferredCandidates.map((c) => ({ id: c.candidateId, directoryId: c.candidateDirectoryId })),
    },
  };
}

/** A Fetch of the metadata partition by a voter or an observer. */
export function raftFetchRequestFromWire(body: WireFetchRequest, apiVersion: number, requestId: number): Decoded<FetchRequest> {
  const p = onePartition(body.topics.map((t) => ({ topic: apiVersion <= 12 ? t.topic : undefined, topicId: apiVersion >= 13 ? t.topicId : undefined, partitions: t.partitions })));
  if (!p.ok) return p;
  const v = p.value;
  const replicaId = apiVersion >= 15 ? body.replicaState.replicaId : body.replicaId;
  if (replicaId < 0) return bad(`a metadata Fetch without a replica id (${replicaId})`);
  return {
    ok: true,
    value: {
      type: "FetchRequest",
      requestId,
      clusterId: body.clusterId,
      replicaId,
      replicaDirectoryId: v.replicaDirectoryId,
      currentLeaderEpoch: v.currentLeaderEpoch,
      fetchOffset: v.fetchOffset,
      lastFetchedEpoch: v.lastFetchedEpoch,
      maxBytes: Math.min(body.maxBytes, v.partitionMaxBytes),
      maxWaitMs: body.maxWaitMs,
    },
  };
}

// ---------------------------------------------------------------------------------------
// Responses: core → wire (answering) and wire → core (receiving an answer)

export function voteResponseToWire(m: VoteResponse): WireVoteResponse {
  const top = topLevel(m.errorCode) ? m.errorCode : ErrorCode.NONE;
  return {
    errorCode: top,
    topics: [
      {
        topicName: metadataTopic,
        partitions: [{ partitionIndex: metadataPartition, errorCode: top === ErrorCode.NONE ? m.errorCode : ErrorCode.NONE, leaderId: m.leaderId, leaderEpoch: m.leaderEpoch, voteGranted: m.voteGranted }],
      },
    ],
    nodeEndpoints: [],
  };
}

export function quorumEpochResponseToWire(m: BeginQuorumEpochResponse | EndQuorumEpochResponse): WireBeginResponse & WireEndResponse {
  const top = topLevel(m.errorCode) ? m.errorCode : ErrorCode.NONE;
  return {
    errorCode: top,
    topics: [{ topicName: metadataTopic, partitions: [{ partitionIndex: metadataPartition, errorCode: top === ErrorCode.NONE ? m.errorCode : ErrorCode.NONE, leaderId: m.leaderId, leaderEpoch: m.leaderEpoch }] }],
    nodeEndpoints: [],
  };
}

export function raftFetchResponseToWire(m: FetchResponse): WireFetchResponse {
  const top = topLevel(m.errorCode) ? m.errorCode : ErrorCode.NONE;
  const body = defaultFetchResponse();
  body.errorCode = top;
  body.responses = [
    {
      topic: metadataTopic,
      topicId: metadataTopicId,
      partitions: [
        {
          partitionIndex: metadataPartition,
          errorCode: top === ErrorCode.NONE ? m.errorCode : ErrorCode.NONE,
          highWatermark: m.highWatermark,
          lastStableOffset: m.highWatermark,
          logStartOffset: m.logStartOffset,
          divergingEpoch: m.divergingEpoch === null ? { epoch: -1, endOffset: -1 } : { epoch: m.divergingEpoch.epoch, endOffset: m.divergingEpoch.endOffset },
          currentLeader: { leaderId: m.currentLeader.leaderId, leaderEpoch: m.currentLeader.leaderEpoch },
          snapshotId: m.snapshotId === undefined || m.snapshotId === null ? { endOffset: -1, epoch: -1 } : { endOffset: m.snapshotId.endOffset, epoch: m.snapshotId.epoch },
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: m.records,
        },
      ],
    },
  ];
  const e = m.leaderEndpoint ?? null;
  if (e !== null && m.currentLeader.leaderId >= 0) body.nodeEndpoints = [{ nodeId: m.currentLeader.leaderId, host: e.host, port: e.port, rack: null }];
  return body;
}

/** A peer's answer to `sent`, as the core reads it. */
export function raftResponseFromWire(sent: RaftRequest, body: unknown): Decoded<RaftResponse> {
  switch (sent.type) {
    case "VoteRequest": {
      const b = body as WireVoteResponse;
      const p = responsePartition(b.topics, b.errorCode);
      if (!p.ok) return p;
      const v = p.value.partition;
      return {
        ok: true,
        value: { type: "VoteResponse", requestId: sent.requestId, errorCode: p.value.errorCode, leaderId: v?.leaderId ?? -1, leaderEpoch: v?.leaderEpoch ?? -1, voteGranted: v?.voteGranted === true && p.value.errorCode === ErrorCode.NONE, preVote: sent.preVote },
      };
    }
    case "BeginQuorumEpochRequest":
    case "EndQuorumEpochRequest": {
      const b = body as WireBeginResponse;
      const p = responsePartition(b.topics, b.errorCode);
      if (!p.ok) return p;
      const v = p.value.partition;
      const type = sent.type === "BeginQuorumEpochRequest" ? "BeginQuorumEpochResponse" : "EndQuorumEpochResponse";
      return { ok: true, value: { type, requestId: sent.requestId, errorCode: p.value.errorCode, leaderId: v?.leaderId ?? -1, leaderEpoch: v?.leaderEpoch ?? -1 } };
    }
    case "FetchRequest": {
      const b = body as WireFetchResponse;
      const p = responsePartition(
        b.responses.map((t) => ({ topicName: t.topicId === metadataTopicId ? metadataTopic : t.topic, partitions: t.partitions })),
        b.errorCode,
      );
      if (!p.ok) return p;
      const v = p.value.partition;
      return {
        ok: true,
        value: {
          type: "FetchResponse",
          requestId: sent.requestId,
          errorCode: p.value.errorCode,
          highWatermark: v?.highWatermark ?? -1,
          logStartOffset: v?.logStartOffset ?? -1,
          // Kafka's "none" is the field's default (-1, -1). A leader with no epoch in common
          // with the follower says so as epoch -1 with its log start offset: a divergence too.
          divergingEpoch:
            v !== null && (v.divergingEpoch.epoch >= 0 || v.divergingEpoch.endOffset >= 0) ? { epoch: v.divergingEpoch.epoch, endOffset: v.divergingEpoch.endOffset } : null,
          currentLeader: { leaderId: v?.currentLeader.leaderId ?? -1, leaderEpoch: v?.currentLeader.leaderEpoch ?? -1 },
          records: v?.records ?? new Uint8Array(0),
          snapshotId: v === null ? null : snapshotIdFromWire(v.snapshotId),
          leaderEndpoint: leaderEndpointFromWire(b.nodeEndpoints, v?.currentLeader.leaderId ?? -1),
        },
      };
    }
    case "FetchSnapshotRequest": {
      const decoded = fetchSnapshotResponseFromWire(body as WireFetchSnapshotResponse, sent);
      return decoded.ok ? decoded : bad(decoded.detail);
    }
  }
}

/** The leader's endpoint among a Fetch response's NodeEndpoints, or null. */
function leaderEndpointFromWire(endpoints: readonly { nodeId: number; host: string; port: number }[], leaderId: number): { host: string; port: number } | null {
  if (leaderId < 0) return null;
  const e = endpoints.find((n) => n.nodeId === leaderId);
  return e === undefined || e.host === "" || !(e.port > 0 && e.port <= 0xffff) ? null : { host: e.host, port: e.port };
}

/** A Fetch response's SnapshotId: -1/-1 (Kafka's default) is none; a half-set id is none too (the core refuses bad ids anyway). */
function snapshotIdFromWire(id: { endOffset: number; epoch: number }): SnapshotId | null {
  return id.endOffset >= 0 && id.epoch >= 0 ? { endOffset: id.endOffset, epoch: id.epoch } : null;
}

/** The partition of a response and its effective error (top level first); a top-level error may come without partitions. */
function responsePartition<P extends { partitionIndex: number; errorCode: number }>(
  topics: readonly { topicName: string; partitions: readonly P[] }[],
  topError: number,
): Decoded<{ errorCode: number; partition: P | null }> {
  if (topError !== ErrorCode.NONE) return { ok: true, value: { errorCode: topError, partition: topics[0]?.partitions[0] ?? null } };
  const p = onePartition(topics);
  if (!p.ok) return p;
  return { ok: true, value: { errorCode: p.value.errorCode, partition: p.value } };
}

// ---------------------------------------------------------------------------------------
// DescribeQuorum

export function describeQuorumToWire(d: QuorumDescription, nodes: readonly { nodeId: number; listeners: readonly { name: string; host: string; port: number }[] }[], apiVersion: number): WireDescribeQuorumResponse {
  const replica = (r: ReplicaDescription) => ({
    replicaId: r.replicaId,
    replicaDirectoryId: r.replicaDirectoryId,
    logEndOffset: r.logEndOffset,
    lastFetchTimestamp: r.lastFetchTimestamp,
    lastCaughtUpTimestamp: r.lastCaughtUpTimestamp,
  });
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topics: [
      {
        topicName: metadataTopic,
        partitions: [
          {
            partitionIndex: metadataPartition,
            errorCode: d.errorCode,
            errorMessage: null,
            leaderId: d.leaderId,
            leaderEpoch: d.leaderEpoch,
            highWatermark: d.highWatermark,
            currentVoters: d.currentVoters.map(replica),
            observers: d.observers.map(replica),
          },
        ],
      },
    ],
    nodes: apiVersion >= 2 ? nodes.map((n) => ({ nodeId: n.nodeId, listeners: n.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })) })) : [],
  };
}

export type { RaftResponse };
