/**
 * Fetch (key 1), v4–v16 (v4 is Kafka 4's floor; zstd needs v10 in the range, DESIGN.md).
 * v0–v3 (message format v0/v1 only) are not advertised; clients from before ApiVersions send
 * them anyway, and every partition is answered UNSUPPORTED_VERSION (Kafka 4 closes the
 * connection, which such clients only retry). Serving them would mean converting every
 * stored v2 batch down on the fetch path; bench/downconvert.ts measured what that costs.
 *
 * Sessionless only: every response carries sessionId 0, which tells a client that asked for
 * a session (epoch 0) that none was created, so it keeps sending full fetches. An
 * incremental fetch (sessionEpoch > 0, or any epoch below -1) names a session bunka never
 * created: FETCH_SESSION_ID_NOT_FOUND at the top level, no partitions, as Kafka answers.
 *
 * Topics are named by id from v13 (unknown id: UNKNOWN_TOPIC_ID), by name before. Reads,
 * byte limits (maxBytes, partitionMaxBytes, the first partition's minOneMessage) and the
 * minBytes/maxWaitMs wait are ReplicaManager.fetch; records leave as the stored bytes.
 * READ_COMMITTED reads up to the last stable offset (= HW while bunka has no transactions)
 * and gets an empty abortedTransactions list; READ_UNCOMMITTED gets null, as Kafka sends.
 * A follower's fetch (replicaId, or from v15 ReplicaState with its broker epoch) reads up
 * to the log end and reports the follower's progress to the leader (ReplicaManager.fetch).
 * A partition this broker does not lead is NOT_LEADER_OR_FOLLOWER with currentLeader (v12+)
 * and, from v16, the leader's endpoint in nodeEndpoints (KIP-951).
 */
import { parseUuid, ZERO_UUID } from "../../metadata/uuid.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultEpochEndOffset,
  defaultFetchResponse,
  defaultLeaderIdAndEpoch,
  defaultNodeEndpoint,
  defaultPartitionData,
  type FetchableTopicResponse,
  type PartitionData,
} from "../../protocol/messages/fetch-response.ts";
import type { FetchPartitionRequest, FetchPartitionResult } from "../../replication/replica-manager.ts";
import { ClusterView, type ListedBroker } from "./cluster-view.ts";
import { defineHandler } from "./handler.ts";

/** Fetch v13 names topics by id (KIP-516). */
const FETCH_TOPIC_IDS_MIN = 13;
/** Fetch v4 is the first that carries v2 record batches (and Kafka 4's floor). */
const FETCH_SERVED_MIN = 4;
const READ_COMMITTED = 1;
/** Fetch v15 names the follower in ReplicaState (KIP-903). */
const FETCH_REPLICA_STATE_MIN = 15;
/** Fetch v16 carries the endpoints of leaders it names (KIP-951). */
const FETCH_NODE_ENDPOINTS_MIN = 16;

export const fetchHandler = defineHandler({
  apiKey: ApiKeys.Fetch,
  minVersion: FETCH_SERVED_MIN,
  maxVersion: 16,
  refusedMinVersion: 0,
  async handle(request, ctx) {
    const version = ctx.apiVersion;
    const { replicas } = ctx.services;
    if (version < FETCH_SERVED_MIN) {
      ctx.logRepeated("warn", "unsupported version", "refused an old Fetch version (message format v2 only): the client needs upgrading", { servedMin: FETCH_SERVED_MIN });
      const responses = request.topics.map((t) => ({
        topic: t.topic,
        topicId: ZERO_UUID,
        partitions: t.partitions.map((p) => partitionData(p.partition, ErrorCode.UNSUPPORTED_VERSION, undefined, version, false)),
        _unknownTaggedFields: undefined,
      }));
      return { ...defaultFetchResponse(), responses };
    }
    if (request.sessionEpoch > 0 || request.sessionEpoch < -1) {
      return { ...defaultFetchResponse(), errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0 };
    }
    const image = replicas.image;
    const byId = version >= FETCH_TOPIC_IDS_MIN;
    const readCommitted = request.isolationLevel === READ_COMMITTED;

    // One slot per requested partition, in request order; reads only for resolvable topics.
    type Slot = { topicIndex: number; partition: number; read: number | null; errorCode: number };
    const slots: Slot[] = [];
    const reads: FetchPartitionRequest[] = [];
    const topics: FetchableTopicResponse[] = request.topics.map((t, topicIndex) => {
      const id = byId ? parseUuid(t.topicId) : null;
      const name = byId ? (id === null ? null : (image.topicsById.get(id)?.name ?? null)) : t.topic;
      for (const p of t.partitions) {
        if (name === null) {
          slots.push({ topicIndex, partition: p.partition, read: null, errorCode: ErrorCode.UNKNOWN_TOPIC_ID });
          continue;
        }
        slots.push({ topicIndex, partition: p.partition, read: reads.length, errorCode: ErrorCode.NONE });
        reads.push({
          topic: name,
          partition: p.partition,
          fetchOffset: p.fetchOffset,
          currentLeaderEpoch: p.currentLeaderEpoch,
          lastFetchedEpoch: version >= 12 ? p.lastFetchedEpoch : -1,
          partitionMaxBytes: p.partitionMaxBytes,
        });
      }
      return byId ? { topic: "", topicId: t.topicId, partitions: [], _unknownTaggedFields: undefined } : { topic: t.topic, topicId: ZERO_UUID, partitions: [], _unknownTaggedFields: undefined };
    });

    const replicaId = version >= FETCH_REPLICA_STATE_MIN ? request.replicaState.replicaId : request.replicaId;
    const brokerEpoch = version >= FETCH_REPLICA_STATE_MIN ? request.replicaState.replicaEpoch : -1;
    const results = await replicas.fetch(reads, {
      maxWaitMs: request.maxWaitMs,
      minBytes: request.minBytes,
      maxBytes: request.maxBytes,
      isolation: readCommitted ? "readCommitted" : "readUncommitted",
      ...(replicaId >= 0 ? { replica: { replicaId, brokerEpoch } } : {}),
    });

    const probe = ctx.services.probe;
    if (probe !== undefined) for (let i = 0; i < reads.length; i++) probe.fetched(reads[i]!.topic, results[i]!.records.length, replicaId >= 0);

    // Leaders named in leadership errors, sent as nodeEndpoints (v16+, KIP-951). The view
    // is built only when there is one to send: the fetch hot path stays without it.
    const namesLeader = version >= FETCH_NODE_ENDPOINTS_MIN && results.some((r) => r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || r.errorCode === ErrorCode.FENCED_LEADER_EPOCH);
    const view = namesLeader ? ClusterView.of(ctx) : undefined;
    const leaderNodes = new Map<number, ListedBroker>();
    for (const slot of slots) {
      const result: FetchPartitionResult | undefined = slot.read === null ? undefined : results[slot.read];
      const data = partitionData(slot.partition, slot.errorCode, result, version, readCommitted);
      if (view !== undefined && data.currentLeader.leaderId >= 0) {
        const node = view.leaderNode(data.currentLeader.leaderId);
        if (node !== undefined) leaderNodes.set(node.brokerId, node);
      }
      topics[slot.topicIndex]!.partitions.push(data);
    }
    return {
      ...defaultFetchResponse(),
      sessionId: 0,
      responses: topics,
      nodeEndpoints: [...leaderNodes.values()].map((b) => ({ ...defaultNodeEndpoint(), nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
    };
  },
});

function partitionData(partition: number, slotError: number, r: FetchPartitionResult | undefined, version: number, readCommitted: boolean): PartitionData {
  const data: PartitionData = {
    ...defaultPartitionData(),
    partitionIndex: partition,
    errorCode: slotError,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: readCommitted ? [] : null,
    records: new Uint8Array(0),
  };
  if (r === undefined) return data;
  data.errorCode = r.errorCode;
  data.highWatermark = r.highWatermark;
  data.lastStableOffset = r.lastStableOffset;
  data.logStartOffset = r.logStartOffset;
  data.records = r.records;
  if (version >= 12) {
    if (r.divergingEpoch !== null) data.divergingEpoch = { ...defaultEpochEndOffset(), epoch: r.divergingEpoch.epoch, endOffset: r.divergingEpoch.endOffset };
    if (r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || r.errorCode === ErrorCode.FENCED_LEADER_EPOCH) {
      data.currentLeader = { ...defaultLeaderIdAndEpoch(), leaderId: r.leaderId, leaderEpoch: r.leaderEpoch };
    }
  }
  return data;
}
