/**
 * Fetch (key 1), v4–v16 (v4 is Kafka 4's floor; zstd needs v10 in the range, DESIGN.md).
 * v0–v3 (message format v0/v1 only) are not advertised; clients from before ApiVersions send
 * them anyway, and every partition is answered UNSUPPORTED_VERSION (Kafka 4 closes the
 * connection, which such clients only retry). Serving them would mean converting every
 * stored v2 batch down on the fetch path; bench/downconvert.ts measured what that costs.
 *
 * Fetch sessions (KIP-227, v7+; replication/fetch-sessions.ts): a full fetch with epoch 0
 * creates a session when the cache (`max.incremental.fetch.session.cache.slots`) has room and
 * answers its id; incremental fetches name only changed partitions (and forgotten ones) and
 * are answered only with partitions whose answer changed; an unknown session is
 * FETCH_SESSION_ID_NOT_FOUND and a wrong epoch INVALID_FETCH_SESSION_EPOCH, at the top level
 * with no partitions. Followers' sessions are privileged in eviction. One cache per broker
 * (per ReplicaManager), made at the first fetch.
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
import { FetchSessionCache, finalSessionEpoch } from "../../replication/fetch-sessions.ts";
import type { BrokerServices } from "../services.ts";
import { ClusterView, type ListedBroker } from "./cluster-view.ts";
import { defineHandler } from "./handler.ts";

/** Fetch v13 names topics by id (KIP-516). */
const FETCH_TOPIC_IDS_MIN = 13;
/** Fetch v4 is the first that carries v2 record batches (and Kafka 4's floor). */
const FETCH_SERVED_MIN = 4;
const READ_COMMITTED = 1;
/** Fetch v7 carries session ids and epochs (KIP-227). */
const FETCH_SESSIONS_MIN = 7;
const SESSION_SLOTS_KEY = "max.incremental.fetch.session.cache.slots";
/** Kafka's default for max.incremental.fetch.session.cache.slots. */
const SESSION_SLOTS_DEFAULT = 1000;
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
    const image = replicas.image;
    const byId = version >= FETCH_TOPIC_IDS_MIN;
    const readCommitted = request.isolationLevel === READ_COMMITTED;
    const replicaId = version >= FETCH_REPLICA_STATE_MIN ? request.replicaState.replicaId : request.replicaId;
    const brokerEpoch = version >= FETCH_REPLICA_STATE_MIN ? request.replicaState.replicaEpoch : -1;

    // What the request names, keyed by topic (id from v13, else name) and partition.
    const named: [string, SessionPartition][] = [];
    for (const t of request.topics) {
      const topicKey = byId ? t.topicId : t.topic;
      for (const p of t.partitions) {
        named.push([
          `${topicKey}:${p.partition}`,
          {
            topicKey,
            partition: p.partition,
            fetchOffset: p.fetchOffset,
            currentLeaderEpoch: p.currentLeaderEpoch,
            lastFetchedEpoch: version >= 12 ? p.lastFetchedEpoch : -1,
            partitionMaxBytes: p.partitionMaxBytes,
          },
        ]);
      }
    }
    const forgotten: string[] = [];
    if (version >= FETCH_SESSIONS_MIN) {
      for (const t of request.forgottenTopicsData) for (const partition of t.partitions) forgotten.push(`${byId ? t.topicId : t.topic}:${partition}`);
    }
    const sessions = sessionCache(ctx.services);
    const session =
      version >= FETCH_SESSIONS_MIN
        ? sessions.begin(request.sessionId, request.sessionEpoch, named, forgotten, replicaId >= 0)
        : sessions.begin(0, finalSessionEpoch, named, [], replicaId >= 0);
    if (session.kind === "error") return { ...defaultFetchResponse(), errorCode: session.errorCode, sessionId: 0 };
    if (session.kind === "full" && session.sessionId !== 0) {
      ctx.logRepeated("info", "fetch session", "fetch session opened", { sessionId: session.sessionId, partitions: session.partitions.length, follower: replicaId >= 0, sessions: sessions.size });
    }

    // One slot per partition to answer, in session order; reads only for resolvable topics.
    type Slot = { key: string; part: SessionPartition; read: number | null };
    const slots: Slot[] = [];
    const reads: FetchPartitionRequest[] = [];
    // Names are resolved at every fetch: a session outlives metadata changes (a topic id this
    // broker learns of later, a deleted topic).
    const names = new Map<string, string | null>();
    for (const [key, part] of session.partitions) {
      let name = names.get(part.topicKey);
      if (name === undefined) {
        const id = byId ? parseUuid(part.topicKey) : null;
        name = byId ? (id === null ? null : (image.topicsById.get(id)?.name ?? null)) : part.topicKey;
        names.set(part.topicKey, name);
      }
      if (name === null) {
        slots.push({ key, part, read: null });
        continue;
      }
      slots.push({ key, part, read: reads.length });
      reads.push({
        topic: name,
        partition: part.partition,
        fetchOffset: part.fetchOffset,
        currentLeaderEpoch: part.currentLeaderEpoch,
        lastFetchedEpoch: part.lastFetchedEpoch,
        partitionMaxBytes: part.partitionMaxBytes,
      });
    }

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
    const topics = new Map<string, FetchableTopicResponse>();
    const withRecords: string[] = [];
    for (const slot of slots) {
      const result: FetchPartitionResult | undefined = slot.read === null ? undefined : results[slot.read];
      const data = partitionData(slot.part.partition, slot.read === null ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.NONE, result, version, readCommitted);
      const hasRecords = data.records !== null && data.records.length > 0;
      if (hasRecords) withRecords.push(slot.key);
      if (!sessions.include(session, slot.key, answerSignature(data), hasRecords, data.errorCode !== ErrorCode.NONE)) continue;
      if (view !== undefined && data.currentLeader.leaderId >= 0) {
        const node = view.leaderNode(data.currentLeader.leaderId);
        if (node !== undefined) leaderNodes.set(node.brokerId, node);
      }
      let t = topics.get(slot.part.topicKey);
      if (t === undefined) {
        t = byId
          ? { topic: "", topicId: slot.part.topicKey, partitions: [], _unknownTaggedFields: undefined }
          : { topic: slot.part.topicKey, topicId: ZERO_UUID, partitions: [], _unknownTaggedFields: undefined };
        topics.set(slot.part.topicKey, t);
      }
      t.partitions.push(data);
    }
    sessions.rotate(session, withRecords);
    return {
      ...defaultFetchResponse(),
      sessionId: session.sessionId,
      responses: [...topics.values()],
      nodeEndpoints: [...leaderNodes.values()].map((b) => ({ ...defaultNodeEndpoint(), nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
    };
  },
});

/** What an incremental answer compares with the last one sent (records aside). */
function answerSignature(d: PartitionData): string {
  return `${d.errorCode},${d.highWatermark},${d.lastStableOffset},${d.logStartOffset},${d.divergingEpoch.epoch},${d.divergingEpoch.endOffset},${d.currentLeader.leaderId},${d.currentLeader.leaderEpoch}`;
}

/** A partition as a fetch (or its session) names it. */
interface SessionPartition {
  /** The topic id (v13+) or name as the client sent it. */
  readonly topicKey: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly currentLeaderEpoch: number;
  readonly lastFetchedEpoch: number;
  readonly partitionMaxBytes: number;
}

const sessionCaches = new WeakMap<BrokerServices["replicas"], FetchSessionCache<SessionPartition>>();

/** The broker's session cache (one per ReplicaManager), sized by max.incremental.fetch.session.cache.slots. */
function sessionCache(services: BrokerServices): FetchSessionCache<SessionPartition> {
  let cache = sessionCaches.get(services.replicas);
  if (cache === undefined) {
    const configured = Number(services.settings.brokerConfigValue(SESSION_SLOTS_KEY)?.value ?? SESSION_SLOTS_DEFAULT);
    const slotsMax = Number.isInteger(configured) && configured >= 0 ? configured : SESSION_SLOTS_DEFAULT;
    cache = new FetchSessionCache<SessionPartition>({ slotsMax, clock: services.clock, prng: services.prng });
    sessionCaches.set(services.replicas, cache);
  }
  return cache;
}

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
