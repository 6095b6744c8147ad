/**
 * ListOffsets (key 2), v0–v10. Kafka 4 serves 1+; bunka keeps v0 for latest and earliest
 * only, because Burrow before 1.9.4 sends v0 for every partition's end offset whatever
 * Kafka version it is configured for, and with v0 served Burrow 1.2.1 (Debian) computes lag
 * against bunka (its consumer reads __consumer_offsets with Fetch v4+ when configured for
 * Kafka 0.11 or later). v0 answers OldStyleOffsets: [offset] for -1/-2 ([] when
 * maxNumOffsets is 0); any other timestamp asked for segment offsets before a time (not
 * kept by bunka) and is UNSUPPORTED_VERSION.
 *
 * Per partition, on the leader (currentLeaderEpoch checked from v4): the special timestamps
 * -2 earliest (log start), -1 latest (the last fetchable offset: HW for READ_UNCOMMITTED, the
 * last stable offset — HW without transactions — for READ_COMMITTED, the log end for
 * replicas), -3 max timestamp (v7+), -4 earliest local (v8+; = log start, no tiered
 * storage), -5 latest tiered (v9+; -1, nothing is tiered); any other value is the first
 * batch whose max timestamp is >= it, visible only below the last fetchable offset, else
 * offset/timestamp -1. A special timestamp older than its version is UNSUPPORTED_VERSION;
 * a partition named twice is INVALID_REQUEST for both, as Kafka answers.
 *
 * Storage answers at batch granularity: a timestamp lookup returns the base offset of the
 * batch holding the first qualifying record, and -3 the base offset of the batch with the
 * largest timestamp (Kafka finds the record inside the batch). Consumers seek from there
 * and skip earlier records by timestamp, so the difference is only the offset reported.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultListOffsetsPartitionResponse,
  defaultListOffsetsResponse,
  type ListOffsetsPartitionResponse,
} from "../../protocol/messages/list-offsets-response.ts";
import type { Compression } from "../../platform/compression.ts";
import { StorageError } from "../../platform/fs.ts";
import { walkBatches } from "../../protocol/records/record-batch.ts";
import type { Partition } from "../../replication/replica-manager.ts";
import { defineHandler } from "./handler.ts";

const EARLIEST = -2;
const LATEST = -1;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;
const CONSUMER_REPLICA_ID = -1;
const READ_COMMITTED = 1;
/** ListOffsets v1 replaced v0's offsets array with one offset and its timestamp. */
const LIST_OFFSETS_SINGLE_OFFSET_MIN = 1;

/** The version that introduced each special timestamp. */
const specialSince = new Map<number, number>([
  [MAX_TIMESTAMP, 7],
  [EARLIEST_LOCAL, 8],
  [LATEST_TIERED, 9],
]);

export const listOffsetsHandler = defineHandler({
  apiKey: ApiKeys.ListOffsets,
  minVersion: 0,
  maxVersion: 10,
  handle(request, ctx) {
    const version = ctx.apiVersion;
    const { replicas } = ctx.services;
    const isConsumer = request.replicaId === CONSUMER_REPLICA_ID;
    const readCommitted = version >= 2 && request.isolationLevel === READ_COMMITTED;
    const seen = new Map<string, number>();
    for (const t of request.topics) for (const p of t.partitions) seen.set(`${t.name}\u0000${p.partitionIndex}`, (seen.get(`${t.name}\u0000${p.partitionIndex}`) ?? 0) + 1);

    const topics = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((req): ListOffsetsPartitionResponse => {
        const answer = (fields: Partial<ListOffsetsPartitionResponse>): ListOffsetsPartitionResponse => ({
          ...defaultListOffsetsPartitionResponse(),
          partitionIndex: req.partitionIndex,
          timestamp: -1,
          offset: -1,
          leaderEpoch: -1,
          ...fields,
          ...(version < 4 ? { leaderEpoch: -1 } : {}),
        });
        if ((seen.get(`${t.name}\u0000${req.partitionIndex}`) ?? 0) > 1) return answer({ errorCode: ErrorCode.INVALID_REQUEST });
        const since = specialSince.get(req.timestamp);
        if (since !== undefined && version < since) return answer({ errorCode: ErrorCode.UNSUPPORTED_VERSION });
        const oldStyle = version < LIST_OFFSETS_SINGLE_OFFSET_MIN;
        if (oldStyle && req.timestamp !== LATEST && req.timestamp !== EARLIEST) return answer({ errorCode: ErrorCode.UNSUPPORTED_VERSION });
        const lookup = replicas.lookupLeader(t.name, req.partitionIndex, version >= 4 ? req.currentLeaderEpoch : -1);
        if (lookup.kind === "error") return answer({ errorCode: lookup.errorCode });
        try {
          const found = offsetFor(lookup.partition, req.timestamp, isConsumer, readCommitted, ctx.services.compression);
          if (!oldStyle) return answer(found);
          if (found.offset === undefined) throw new Error(`list offsets: no offset for timestamp ${req.timestamp}`);
          return answer({ oldStyleOffsets: req.maxNumOffsets > 0 ? [found.offset] : [] });
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          ctx.logRepeated("error", "storage error", "list offsets failed", { topic: t.name, partition: req.partitionIndex, error: e });
          return answer({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR });
        }
      }),
    }));
    return { ...defaultListOffsetsResponse(), topics };
  },
});

function offsetFor(p: Partition, timestamp: number, isConsumer: boolean, readCommitted: boolean, compression: Compression): Partial<ListOffsetsPartitionResponse> {
  const log = p.log;
  // No transactions yet: the last stable offset is the high watermark.
  const lastFetchable = !isConsumer ? log.logEndOffset : readCommitted ? lastStableOffset(p) : log.highWatermark;
  const epochAt = (offset: number): number => log.leaderEpochCache.epochForOffset(offset);
  switch (timestamp) {
    case LATEST:
      return { offset: lastFetchable, timestamp: -1, leaderEpoch: p.leaderEpoch };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: log.logStartOffset, timestamp: -1, leaderEpoch: epochAt(log.logStartOffset) };
    case LATEST_TIERED:
      return { offset: -1, timestamp: -1, leaderEpoch: -1 };
    default: {
      const found = log.offsetForTimestamp(timestamp);
      if (found === null || found.offset >= lastFetchable) return { offset: -1, timestamp: -1, leaderEpoch: -1 };
      // The index finds the batch; Kafka answers the exact record inside it.
      const exact = recordInBatch(p, found.offset, timestamp, compression) ?? found;
      if (exact.offset >= lastFetchable) return { offset: -1, timestamp: -1, leaderEpoch: -1 };
      return { offset: exact.offset, timestamp: exact.timestamp, leaderEpoch: epochAt(exact.offset) };
    }
  }
}

/** Records of one batch inflated at most (a batch is at most message.max.bytes compressed). */
const INFLATED_BATCH_BYTES_MAX = 64 * 1024 * 1024;

/**
 * The exact record for a timestamp query inside the batch that holds `batchOffset`: the first
 * record with timestamp >= `timestamp`, or for -3 the first record carrying the batch's
 * max timestamp. Null when the batch cannot be read (the caller keeps the batch's offset).
 */
function recordInBatch(p: Partition, batchOffset: number, timestamp: number, compression: Compression): { offset: number; timestamp: number } | null {
  const read = p.log.read(batchOffset, 1, p.log.logEndOffset);
  if (read.kind !== "ok" || read.records.length === 0) return null;
  const walk = walkBatches(read.records, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes: read.records.length });
  const batch = walk.batches[0];
  if (batch === undefined || batch.isControl) return null;
  let records;
  try {
    records = batch.records({ maxBytes: INFLATED_BATCH_BYTES_MAX, compression });
  } catch {
    return null;
  }
  const target = timestamp === MAX_TIMESTAMP ? batch.maxTimestamp : timestamp;
  for (const r of records) {
    if (r.offset >= batchOffset && (timestamp === MAX_TIMESTAMP ? r.timestamp === target : r.timestamp >= target)) {
      return { offset: r.offset, timestamp: r.timestamp };
    }
  }
  return null;
}

/** No transactions yet: nothing is pending, so the last stable offset is the high watermark. */
function lastStableOffset(p: Partition): number {
  return p.log.highWatermark;
}
