/**
 * Reading and writing one partition through its leader, for tools that are Kafka clients
 * (backup, mirror): ListOffsets, Fetch and Produce with record batches kept in wire form.
 * Works against Apache Kafka as well as bunka: only public APIs at versions both serve
 * (Fetch v4+ and Produce v3+, message format v2).
 *
 * Leaders come from the cluster client's last Metadata answer; a partition-level
 * NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE / UNKNOWN_TOPIC_OR_PARTITION refreshes the
 * metadata and tries again, up to `leaderRetriesMax` times. Other Kafka error codes are
 * returned in the value (conditions for the caller), transport failures as the client's
 * `ClientError` (errors.ts).
 *
 * A Fetch answer may end with a partial batch (the broker cut it at the byte limit) and may
 * begin with a batch that starts before the offset asked for (a fetch inside a batch returns
 * the whole batch): `completeBatches` keeps the whole batches and says where the next fetch
 * starts. Nothing here decompresses or re-encodes a batch.
 */
import { ErrorCode, errorName } from "../protocol/errors.ts";
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic } from "../protocol/messages/fetch-request.ts";
import { ApiKeys } from "../protocol/messages/index.ts";
import { defaultListOffsetsPartition, defaultListOffsetsRequest, defaultListOffsetsTopic } from "../protocol/messages/list-offsets-request.ts";
import { defaultPartitionProduceData, defaultProduceRequest, defaultTopicProduceData } from "../protocol/messages/produce-request.ts";
import { type RecordBatchView, walkBatches } from "../protocol/records/record-batch.ts";
import type { ClusterClient } from "./bootstrap.ts";
import { ClientError } from "./errors.ts";

/** Fetch v4 is the first to carry v2 record batches and the last stable offset. */
export const fetchVersionMin = 4;
/** Produce v3 is the first that carries v2 record batches. */
export const produceVersionMin = 3;
/** ListOffsets v1 is the first with one offset per partition (v0 answers a list). */
export const listOffsetsVersionMin = 1;
/** Leader changes survived by one call before giving up. */
export const leaderRetriesMax = 5;

/** ListOffsets' special timestamps (Kafka's). */
export const OffsetSpec = { latest: -1, earliest: -2 } as const;
/** Fetch isolation levels. */
export const IsolationLevel = { readUncommitted: 0, readCommitted: 1 } as const;

export interface PartitionRef {
  readonly topic: string;
  /** Kafka's topic id (base64 UUID) when known; Fetch v13+ addresses topics by id. */
  readonly topicId?: string;
  readonly partition: number;
}

export interface KafkaFailure {
  readonly errorCode: number;
  readonly message: string;
}

export type PartitionResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ClientError | KafkaFailure };

export function describeFailure(error: ClientError | KafkaFailure): string {
  return error instanceof ClientError ? `${error.kind}: ${error.message}` : `${errorName(error.errorCode)} (${error.errorCode})${error.message === "" ? "" : `: ${error.message}`}`;
}

const leaderChangeCodes: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
]);

/** The partition's leader in the cluster client's last metadata, or null. */
export function leaderOf(cluster: ClusterClient, topic: string, partition: number): number | null {
  const t = cluster.metadata.topics.find((x) => x.name === topic);
  const p = t?.partitions.find((x) => x.partitionIndex === partition);
  return p === undefined || p.leaderId < 0 ? null : p.leaderId;
}

/**
 * Runs `attempt` against the partition's leader, refreshing metadata and retrying when the
 * leader is unknown or moved.
 */
async function withLeader<T>(
  cluster: ClusterClient,
  ref: PartitionRef,
  attempt: (leaderId: number) => Promise<PartitionResult<T>>,
): Promise<PartitionResult<T>> {
  let last: ClientError | KafkaFailure = { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, message: `no leader known for ${ref.topic}-${ref.partition}` };
  for (let tries = 0; tries <= leaderRetriesMax; tries++) {
    const leader = leaderOf(cluster, ref.topic, ref.partition);
    if (leader !== null) {
      const r = await attempt(leader);
      if (r.ok) return r;
      last = r.error;
      const retry = r.error instanceof ClientError ? r.error.kind === "disconnected" && !r.error.sent : leaderChangeCodes.has(r.error.errorCode);
      if (!retry) return r;
    }
    const refreshed = await cluster.refreshMetadata([ref.topic]);
    if (!refreshed.ok) return { ok: false, error: refreshed.error };
  }
  return { ok: false, error: last };
}

/**
 * One offset of a partition: `OffsetSpec.earliest` (log start), `latest` (high watermark for
 * read_uncommitted, last stable offset for read_committed), or the first offset whose
 * timestamp is ≥ a time in ms.
 */
export function listOffset(cluster: ClusterClient, ref: PartitionRef, spec: number, isolationLevel: number = IsolationLevel.readUncommitted): Promise<PartitionResult<number>> {
  return withLeader(cluster, ref, async (leader) => {
    const body = {
      ...defaultListOffsetsRequest(),
      replicaId: -1,
      isolationLevel,
      topics: [{ ...defaultListOffsetsTopic(), name: ref.topic, partitions: [{ ...defaultListOffsetsPartition(), partitionIndex: ref.partition, timestamp: spec }] }],
    };
    const r = await cluster.send(leader, ApiKeys.ListOffsets, body, { minVersion: isolationLevel === IsolationLevel.readCommitted ? 2 : listOffsetsVersionMin });
    if (!r.ok) return r;
    const p = r.body.topics.find((t) => t.name === ref.topic)?.partitions.find((x) => x.partitionIndex === ref.partition);
    if (p === undefined) return { ok: false, error: { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: `ListOffsets answer lacks ${ref.topic}-${ref.partition}` } };
    if (p.errorCode !== ErrorCode.NONE) return { ok: false, error: { errorCode: p.errorCode, message: "" } };
    return { ok: true, value: p.offset };
  });
}

export interface FetchedPartition {
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  /** The records bytes as the broker sent them (possibly ending with a partial batch). */
  readonly records: Uint8Array;
}

export interface FetchOptions {
  readonly fetchOffset: number;
  /** Bytes asked for this partition (the broker returns at least one whole batch). */
  readonly maxBytes: number;
  /** 0: answer at once. */
  readonly maxWaitMs?: number;
  readonly isolationLevel?: number;
}

/** One Fetch of one partition from its leader. */
export function fetchPartition(cluster: ClusterClient, ref: PartitionRef, options: FetchOptions): Promise<PartitionResult<FetchedPartition>> {
  if (!(Number.isSafeInteger(options.fetchOffset) && options.fetchOffset >= 0)) throw new RangeError(`fetchPartition: offset ${options.fetchOffset}`);
  if (!(Number.isInteger(options.maxBytes) && options.maxBytes > 0)) throw new RangeError(`fetchPartition: maxBytes ${options.maxBytes}`);
  const maxWaitMs = options.maxWaitMs ?? 0;
  return withLeader(cluster, ref, async (leader) => {
    const body = {
      ...defaultFetchRequest(),
      replicaId: -1,
      maxWaitMs,
      minBytes: 1,
      maxBytes: options.maxBytes,
      isolationLevel: options.isolationLevel ?? IsolationLevel.readUncommitted,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          ...defaultFetchTopic(),
          topic: ref.topic,
          ...(ref.topicId === undefined ? {} : { topicId: ref.topicId }),
          partitions: [{ ...defaultFetchPartition(), partition: ref.partition, fetchOffset: options.fetchOffset, partitionMaxBytes: options.maxBytes }],
        },
      ],
    };
    // Without a topic id, stay below v13 (where topics are named by id only).
    const maxVersion = ref.topicId === undefined ? 12 : undefined;
    const timeoutMs = cluster.nodes.config.requestTimeoutMs + maxWaitMs;
    const r = await cluster.send(leader, ApiKeys.Fetch, body, { minVersion: fetchVersionMin, timeoutMs, ...(maxVersion === undefined ? {} : { maxVersion }) });
    if (!r.ok) return r;
    if (r.body.errorCode !== ErrorCode.NONE) return { ok: false, error: { errorCode: r.body.errorCode, message: "Fetch failed" } };
    const t = r.body.responses.find((x) => (r.version >= 13 ? x.topicId === ref.topicId : x.topic === ref.topic));
    const p = t?.partitions.find((x) => x.partitionIndex === ref.partition);
    if (p === undefined) return { ok: false, error: { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: `Fetch answer lacks ${ref.topic}-${ref.partition}` } };
    if (p.errorCode !== ErrorCode.NONE) return { ok: false, error: { errorCode: p.errorCode, message: "" } };
    return {
      ok: true,
      value: { highWatermark: p.highWatermark, lastStableOffset: p.lastStableOffset, logStartOffset: p.logStartOffset, records: p.records ?? new Uint8Array(0) },
    };
  });
}

export interface CompleteBatches {
  /** Whole batches whose last offset is ≥ the fetch offset, in order (views, no copy). */
  readonly batches: RecordBatchView[];
  /** Where the next fetch starts: after the last whole batch, or the fetch offset when none. */
  readonly nextOffset: number;
  /** Set when bytes before the trailing cut were not a valid batch (not a mere partial tail). */
  readonly problem: string | null;
}

/**
 * The whole batches of a fetch answer. A trailing partial batch (cut at the byte limit) is
 * dropped silently; any other defect is reported. CRCs are checked (`verifyCrc`).
 */
export function completeBatches(records: Uint8Array, fetchOffset: number, maxBatchBytes: number): CompleteBatches {
  const walk = walkBatches(records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes });
  const batches: RecordBatchView[] = [];
  let nextOffset = fetchOffset;
  for (const b of walk.batches) {
    if (b.lastOffset < fetchOffset) continue;
    batches.push(b);
    nextOffset = b.nextOffset;
  }
  const problem = walk.problem === null || walk.problem === "truncated" ? null : `${walk.problem} at byte ${walk.validBytes} of ${records.length}`;
  return { batches, nextOffset, problem };
}

export interface ProduceOptions {
  /** -1 (all in-sync replicas, the default), 1 or 0 is not offered: a tool wants the offset. */
  readonly acks?: -1 | 1;
  readonly timeoutMs?: number;
}

/** Produces one v2 record batch to a partition's leader; resolves with its base offset. */
export function produceBatch(cluster: ClusterClient, ref: PartitionRef, batch: Uint8Array, options: ProduceOptions = {}): Promise<PartitionResult<number>> {
  const acks = options.acks ?? -1;
  const timeoutMs = options.timeoutMs ?? 30_000;
  return withLeader(cluster, ref, async (leader) => {
    const body = {
      ...defaultProduceRequest(),
      transactionalId: null,
      acks,
      timeoutMs,
      topicData: [{ ...defaultTopicProduceData(), name: ref.topic, partitionData: [{ ...defaultPartitionProduceData(), index: ref.partition, records: batch }] }],
    };
    // v7+ carries zstd batches; v12 (KIP-890) would need transaction verification fields.
    const r = await cluster.send(leader, ApiKeys.Produce, body, { minVersion: produceVersionMin, maxVersion: 11, timeoutMs: cluster.nodes.config.requestTimeoutMs + timeoutMs });
    if (!r.ok) return r;
    const p = r.body.responses.find((t) => t.name === ref.topic)?.partitionResponses.find((x) => x.index === ref.partition);
    if (p === undefined) return { ok: false, error: { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: `Produce answer lacks ${ref.topic}-${ref.partition}` } };
    if (p.errorCode !== ErrorCode.NONE) return { ok: false, error: { errorCode: p.errorCode, message: p.errorMessage ?? "" } };
    return { ok: true, value: p.baseOffset };
  });
}

