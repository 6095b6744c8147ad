/** FetchSnapshot wire mapping (src/raft/wire-snapshot.ts): round trips through the generated codecs, and bad input refused. */
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/protocol/codec/reader.ts";
import { Writer } from "../../src/protocol/codec/writer.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { decodeFetchSnapshotRequest, encodeFetchSnapshotRequest } from "../../src/protocol/messages/fetch-snapshot-request.ts";
import { decodeFetchSnapshotResponse, encodeFetchSnapshotResponse } from "../../src/protocol/messages/fetch-snapshot-response.ts";
import { fetchSnapshotBytesMax } from "../../src/raft/config.ts";
import type { FetchSnapshotRequest, FetchSnapshotResponse } from "../../src/raft/messages.ts";
import { fetchSnapshotRequestFromWire, fetchSnapshotRequestToWire, fetchSnapshotResponseFromWire, fetchSnapshotResponseToWire } from "../../src/raft/wire-snapshot.ts";
import { clusterId, dirId } from "./helpers.ts";

const request: FetchSnapshotRequest = {
  type: "FetchSnapshotRequest",
  requestId: 77,
  clusterId,
  replicaId: 2,
  replicaDirectoryId: dirId(2),
  currentLeaderEpoch: 5,
  snapshotId: { endOffset: 1234, epoch: 4 },
  position: 4096,
  maxBytes: 8192,
};

const response: FetchSnapshotResponse = {
  type: "FetchSnapshotResponse",
  requestId: 77,
  errorCode: 0,
  snapshotId: { endOffset: 1234, epoch: 4 },
  currentLeader: { leaderId: 1, leaderEpoch: 5 },
  size: 10_000,
  position: 4096,
  unalignedRecords: new Uint8Array([1, 2, 3, 4, 5]),
};

function throughRequestCodec(r: FetchSnapshotRequest, version: number) {
  const w = new Writer();
  encodeFetchSnapshotRequest(w, fetchSnapshotRequestToWire(r), version);
  return decodeFetchSnapshotRequest(new Reader(w.flatten()), version);
}

function throughResponseCodec(r: FetchSnapshotResponse, version: number) {
  const w = new Writer();
  encodeFetchSnapshotResponse(w, fetchSnapshotResponseToWire(r), version);
  return decodeFetchSnapshotResponse(new Reader(w.flatten()), version);
}

describe("FetchSnapshot wire mapping", () => {
  test("request round trip (v1 carries the directory id; v0 does not)", () => {
    expect(fetchSnapshotRequestFromWire(throughRequestCodec(request, 1), 77)).toEqual({ ok: true, value: request });
    const v0 = fetchSnapshotRequestFromWire(throughRequestCodec(request, 0), 77);
    expect(v0.ok && v0.value.replicaDirectoryId).toBe("AAAAAAAAAAAAAAAAAAAAAA");
  });

  test("response round trip, errors with no bytes, and a top-level error", () => {
    for (const version of [0, 1]) {
      const back = fetchSnapshotResponseFromWire(throughResponseCodec(response, version), request);
      expect(back.ok && { ...back.value, unalignedRecords: [...back.value.unalignedRecords] }).toEqual({ ...response, unalignedRecords: [1, 2, 3, 4, 5] });
    }
    const notFound = { ...response, errorCode: ErrorCode.SNAPSHOT_NOT_FOUND, size: -1, position: -1, unalignedRecords: new Uint8Array(0) };
    expect(fetchSnapshotResponseFromWire(throughResponseCodec(notFound, 1), request)).toMatchObject({ ok: true, value: { errorCode: ErrorCode.SNAPSHOT_NOT_FOUND } });
    const cluster = { ...notFound, errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID };
    const wire = fetchSnapshotResponseToWire(cluster);
    expect(wire.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    expect(fetchSnapshotResponseFromWire(throughResponseCodec(cluster, 1), request)).toMatchObject({ ok: true, value: { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, snapshotId: request.snapshotId } });
  });

  test("bad requests are refused: other topics or partitions, bad ids, sizes and positions", () => {
    const base = fetchSnapshotRequestToWire(request);
    const part = base.topics[0]!.partitions[0]!;
    const bad = [
      { ...base, topics: [] },
      { ...base, topics: [base.topics[0]!, base.topics[0]!] },
      { ...base, topics: [{ ...base.topics[0]!, name: "other" }] },
      { ...base, topics: [{ ...base.topics[0]!, partitions: [{ ...part, partition: 1 }] }] },
      { ...base, topics: [{ ...base.topics[0]!, partitions: [part, part] }] },
      { ...base, replicaId: -1 },
      { ...base, maxBytes: 0 },
      { ...base, topics: [{ ...base.topics[0]!, partitions: [{ ...part, position: -1 }] }] },
      { ...base, topics: [{ ...base.topics[0]!, partitions: [{ ...part, snapshotId: { endOffset: -1, epoch: 0 } }] }] },
      { ...base, topics: [{ ...base.topics[0]!, partitions: [{ ...part, snapshotId: { endOffset: 5, epoch: -1 } }] }] },
    ];
    for (const w of bad) expect(fetchSnapshotRequestFromWire(w, 1).ok).toBe(false);
  });

  test("bad responses are refused: sizes out of bounds, a chunk past the size or too large, bytes with an error", () => {
    const base = fetchSnapshotResponseToWire(response);
    const part = base.topics[0]!.partitions[0]!;
    const withPart = (over: Partial<typeof part>) => ({ ...base, topics: [{ ...base.topics[0]!, partitions: [{ ...part, ...over }] }] });
    const bad = [
      { ...base, topics: [] },
      withPart({ index: 3 }),
      withPart({ size: 0 }),
      withPart({ size: 2 ** 40 }),
      withPart({ position: -1 }),
      withPart({ position: 10_000 }),
      withPart({ position: 9_998 }),
      withPart({ unalignedRecords: new Uint8Array(fetchSnapshotBytesMax + 1), size: 2 * fetchSnapshotBytesMax, position: 0 }),
      withPart({ errorCode: ErrorCode.POSITION_OUT_OF_RANGE }),
      withPart({ snapshotId: { endOffset: 5, epoch: -3 } }),
      withPart({ currentLeader: { leaderId: -7, leaderEpoch: 1 } }),
    ];
    for (const w of bad) expect(fetchSnapshotResponseFromWire(w, request).ok).toBe(false);
  });
});
