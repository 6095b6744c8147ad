/**
 * FetchSnapshot (api 59) between the Raft core's structs (messages.ts) and the generated
 * codec types (src/protocol/messages/fetch-snapshot-request.ts, -response.ts): pure
 * functions, no I/O. The core speaks of the one metadata partition; the wire wraps it in
 * Topics[0] = `__cluster_metadata`, Partitions[0] = partition 0.
 *
 * Decoding checks what the codec cannot: one topic, the metadata topic, one partition 0;
 * ids, epochs, positions and sizes in range; a chunk no larger than `fetchSnapshotBytesMax`
 * and inside the announced size, which is at most `snapshotBytesMax`. What fails is an
 * error result (the driver answers INVALID_REQUEST or drops the response), never a throw.
 *
 * Errors Kafka returns at the top level (INCONSISTENT_CLUSTER_ID) go there on encode and come
 * back into the struct's `errorCode` on decode, as for the other Raft messages. `requestId`
 * is not on the wire: the driver keeps it in its correlation table and passes it in.
 */
import { ErrorCode } from "../protocol/errors.ts";
import type { FetchSnapshotRequest as WireFetchSnapshotRequest } from "../protocol/messages/fetch-snapshot-request.ts";
import type { FetchSnapshotResponse as WireFetchSnapshotResponse } from "../protocol/messages/fetch-snapshot-response.ts";
import { fetchSnapshotBytesMax, snapshotBytesMax } from "./config.ts";
import type { FetchSnapshotRequest, FetchSnapshotResponse, SnapshotId } from "./messages.ts";
import { metadataPartition, metadataTopic } from "./raft-log.ts";

export type WireDecodeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly detail: string };

const topLevelErrors: ReadonlySet<number> = new Set([ErrorCode.INCONSISTENT_CLUSTER_ID]);
const int32Max = 0x7fff_ffff;

function isInt(v: number, min: number, max: number): boolean {
  return Number.isSafeInteger(v) && v >= min && v <= max;
}

function snapshotIdProblem(id: SnapshotId): string | null {
  if (!isInt(id.endOffset, 0, Number.MAX_SAFE_INTEGER)) return `snapshot end offset ${id.endOffset}`;
  if (!isInt(id.epoch, 0, int32Max)) return `snapshot epoch ${id.epoch}`;
  return null;
}

/** The one partition of a one-topic array, if it is the metadata partition. */
function onlyPartition<P>(topics: readonly { name: string; partitions: readonly P[] }[], index: (p: P) => number): P | string {
  if (topics.length !== 1) return `${topics.length} topics, expected only ${metadataTopic}`;
  const t = topics[0]!;
  if (t.name !== metadataTopic) return `topic ${JSON.stringify(t.name)}, expected ${metadataTopic}`;
  if (t.partitions.length !== 1) return `${t.partitions.length} partitions, expected only ${metadataPartition}`;
  const p = t.partitions[0]!;
  if (index(p) !== metadataPartition) return `partition ${index(p)}, expected ${metadataPartition}`;
  return p;
}

export function fetchSnapshotRequestToWire(r: FetchSnapshotRequest): WireFetchSnapshotRequest {
  return {
    clusterId: r.clusterId,
    replicaId: r.replicaId,
    maxBytes: r.maxBytes,
    topics: [
      {
        name: metadataTopic,
        partitions: [
          {
            partition: metadataPartition,
            currentLeaderEpoch: r.currentLeaderEpoch,
            snapshotId: { endOffset: r.snapshotId.endOffset, epoch: r.snapshotId.epoch },
            position: r.position,
            replicaDirectoryId: r.replicaDirectoryId,
          },
        ],
      },
    ],
  };
}

export function fetchSnapshotRequestFromWire(w: WireFetchSnapshotRequest, requestId: number): WireDecodeResult<FetchSnapshotRequest> {
  const p = onlyPartition(w.topics, (x) => x.partition);
  if (typeof p === "string") return { ok: false, detail: p };
  if (!isInt(w.replicaId, 0, int32Max)) return { ok: false, detail: `replica id ${w.replicaId}` };
  if (!isInt(w.maxBytes, 1, int32Max)) return { ok: false, detail: `max bytes ${w.maxBytes}` };
  if (!isInt(p.currentLeaderEpoch, -1, int32Max)) return { ok: false, detail: `current leader epoch ${p.currentLeaderEpoch}` };
  if (!isInt(p.position, 0, snapshotBytesMax)) return { ok: false, detail: `position ${p.position}` };
  const problem = snapshotIdProblem(p.snapshotId);
  if (problem !== null) return { ok: false, detail: problem };
  return {
    ok: true,
    value: {
      type: "FetchSnapshotRequest",
      requestId,
      clusterId: w.clusterId,
      replicaId: w.replicaId,
      replicaDirectoryId: p.replicaDirectoryId,
      currentLeaderEpoch: p.currentLeaderEpoch,
      snapshotId: { endOffset: p.snapshotId.endOffset, epoch: p.snapshotId.epoch },
      position: p.position,
      maxBytes: w.maxBytes,
    },
  };
}

export function fetchSnapshotResponseToWire(r: FetchSnapshotResponse): WireFetchSnapshotResponse {
  const topLevel = topLevelErrors.has(r.errorCode);
  return {
    throttleTimeMs: 0,
    errorCode: topLevel ? r.errorCode : ErrorCode.NONE,
    topics: topLevel
      ? []
      : [
          {
            name: metadataTopic,
            partitions: [
              {
                index: metadataPartition,
                errorCode: r.errorCode,
                snapshotId: { endOffset: r.snapshotId.endOffset, epoch: r.snapshotId.epoch },
                currentLeader: { leaderId: r.currentLeader.leaderId, leaderEpoch: r.currentLeader.leaderEpoch },
                size: r.size,
                position: r.position,
                unalignedRecords: r.unalignedRecords,
              },
            ],
          },
        ],
    nodeEndpoints: [],
  };
}

/**
 * The core's response to `request` from its wire form. A top-level error comes back as a
 * response with that error, the request's snapshot id and no leader (-1, -1).
 */
export function fetchSnapshotResponseFromWire(w: WireFetchSnapshotResponse, request: FetchSnapshotRequest): WireDecodeResult<FetchSnapshotResponse> {
  if (w.errorCode !== ErrorCode.NONE) {
    return {
      ok: true,
      value: {
        type: "FetchSnapshotResponse",
        requestId: request.requestId,
        errorCode: w.errorCode,
        snapshotId: request.snapshotId,
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        size: -1,
        position: -1,
        unalignedRecords: new Uint8Array(0),
      },
    };
  }
  const p = onlyPartition(w.topics, (x) => x.index);
  if (typeof p === "string") return { ok: false, detail: p };
  if (!isInt(p.errorCode, -1, 0x7fff)) return { ok: false, detail: `error code ${p.errorCode}` };
  if (!isInt(p.currentLeader.leaderId, -1, int32Max) || !isInt(p.currentLeader.leaderEpoch, -1, int32Max)) {
    return { ok: false, detail: `current leader ${p.currentLeader.leaderId} in epoch ${p.currentLeader.leaderEpoch}` };
  }
  const chunk = p.unalignedRecords;
  if (p.errorCode === ErrorCode.NONE) {
    const problem = snapshotIdProblem(p.snapshotId);
    if (problem !== null) return { ok: false, detail: problem };
    if (!isInt(p.size, 1, snapshotBytesMax)) return { ok: false, detail: `snapshot size ${p.size}, must be 1..${snapshotBytesMax}` };
    if (!isInt(p.position, 0, p.size - 1)) return { ok: false, detail: `position ${p.position} outside a snapshot of ${p.size} bytes` };
    if (chunk.length > fetchSnapshotBytesMax) return { ok: false, detail: `a chunk of ${chunk.length} bytes, more than ${fetchSnapshotBytesMax}` };
    if (p.position + chunk.length > p.size) return { ok: false, detail: `a chunk of ${chunk.length} bytes at ${p.position} past the size ${p.size}` };
  } else if (chunk.length > 0) {
    return { ok: false, detail: `${chunk.length} bytes with error ${p.errorCode}` };
  }
  return {
    ok: true,
    value: {
      type: "FetchSnapshotResponse",
      requestId: request.requestId,
      errorCode: p.errorCode,
      snapshotId: { endOffset: p.snapshotId.endOffset, epoch: p.snapshotId.epoch },
      currentLeader: { leaderId: p.currentLeader.leaderId, leaderEpoch: p.currentLeader.leaderEpoch },
      size: p.size,
      position: p.position,
      unalignedRecords: chunk,
    },
  };
}
