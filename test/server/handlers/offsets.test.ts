import { afterEach, describe, expect, test } from "bun:test";
import { createTopics } from "../../../src/metadata/controller.ts";
import type { Uuid } from "../../../src/metadata/uuid.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { defaultListOffsetsPartition, defaultListOffsetsRequest, type ListOffsetsPartition, type ListOffsetsRequest } from "../../../src/protocol/messages/list-offsets-request.ts";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { buildRecordBatch } from "../../../src/protocol/records/builder.ts";
import type { TestBroker } from "../harness.ts";
import { batch, broker, bumpLeaderEpoch, produceOk, T0 } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

async function withTopic(partitions = 1, configs: Record<string, string> = {}): Promise<TestBroker> {
  b = await broker();
  await b.createTopic("t", partitions, configs);
  return b;
}

function listOffsets(parts: readonly { topic?: string; partition?: number; timestamp: number; currentLeaderEpoch?: number }[], over: Partial<ListOffsetsRequest> = {}): ListOffsetsRequest {
  const topics = new Map<string, ListOffsetsPartition[]>();
  for (const p of parts) {
    const name = p.topic ?? "t";
    topics.set(name, [
      ...(topics.get(name) ?? []),
      { ...defaultListOffsetsPartition(), partitionIndex: p.partition ?? 0, timestamp: p.timestamp, currentLeaderEpoch: p.currentLeaderEpoch ?? -1 },
    ]);
  }
  return { ...defaultListOffsetsRequest(), replicaId: -1, ...over, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
}

async function listOne(br: TestBroker, version: number, timestamp: number, over: Partial<ListOffsetsRequest> = {}, currentLeaderEpoch = -1) {
  const r = await br.send(ApiKeys.ListOffsets, version, listOffsets([{ timestamp, currentLeaderEpoch }], over));
  return r!.topics[0]!.partitions[0]!;
}

/** Three batches: [0,1] at T0+100..105, [2,3] at T0+200..300, [4] at T0+150. */
async function seed(br: TestBroker): Promise<void> {
  await produceOk(br, "t", batch(2, "a", { timestamps: [T0 + 100, T0 + 105] }));
  await produceOk(br, "t", batch(2, "b", { timestamps: [T0 + 200, T0 + 300] }));
  await produceOk(br, "t", batch(1, "c", { timestamps: [T0 + 150] }));
}

describe("ListOffsets", () => {
  test("timestamp lookups find the exact record inside compressed batches", async () => {
    const br = await withTopic();
    for (const compression of ["gzip", "zstd", "lz4", "snappy"] as const) {
      const start = br.logs.getLog({ topic: "t", partition: 0 })!.logEndOffset;
      const base = T0 + 10_000 * (start + 1);
      await produceOk(br, "t", batch(4, compression, { compression, codecs: bunCompression, timestamps: [base, base + 10, base + 20, base + 30] }));
      const at = await listOne(br, 9, base + 11);
      expect([compression, at.offset, at.timestamp]).toEqual([compression, start + 2, base + 20]);
      const max = await listOne(br, 9, -3);
      expect([compression, max.offset, max.timestamp]).toEqual([compression, start + 3, base + 30]);
    }
  });

  test("v0 (advertised) answers latest and earliest as a one-offset array; other timestamps are UNSUPPORTED_VERSION", async () => {
    const br = await withTopic();
    await seed(br);
    const versions = await br.send(ApiKeys.ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1", _unknownTaggedFields: undefined });
    const range = versions!.apiKeys.find((k) => k.apiKey === ApiKeys.ListOffsets)!;
    expect([range.minVersion, range.maxVersion]).toEqual([0, 10]);
    const parts = (timestamp: number, maxNumOffsets: number, partition = 0) => ({ ...defaultListOffsetsPartition(), partitionIndex: partition, timestamp, maxNumOffsets });
    const r = await br.send(ApiKeys.ListOffsets, 0, {
      ...defaultListOffsetsRequest(),
      replicaId: -1,
      topics: [{ name: "t", partitions: [parts(-1, 1), parts(-1, 1, 3)] }],
    });
    expect(r!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode, p.oldStyleOffsets])).toEqual([
      [0, ErrorCode.NONE, [5]],
      [3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, []],
    ]);
    const one = async (timestamp: number, maxNumOffsets = 1) => {
      const res = await br.send(ApiKeys.ListOffsets, 0, { ...defaultListOffsetsRequest(), replicaId: -1, topics: [{ name: "t", partitions: [parts(timestamp, maxNumOffsets)] }] });
      const p = res!.topics[0]!.partitions[0]!;
      return [p.errorCode, p.oldStyleOffsets];
    };
    expect(await one(-1)).toEqual([ErrorCode.NONE, [5]]);
    expect(await one(-2, 5)).toEqual([ErrorCode.NONE, [0]]);
    expect(await one(-1, 0)).toEqual([ErrorCode.NONE, []]);
    expect(await one(T0 + 150)).toEqual([ErrorCode.UNSUPPORTED_VERSION, []]);
    expect(await one(-3)).toEqual([ErrorCode.UNSUPPORTED_VERSION, []]);
  });

  test("earliest, latest, max timestamp and timestamp lookups (v1..v10)", async () => {
    const br = await withTopic();
    await seed(br);
    for (let v = 1; v <= 10; v++) {
      const latest = await listOne(br, v, -1);
      expect([v, latest.errorCode, latest.offset, latest.timestamp]).toEqual([v, ErrorCode.NONE, 5, -1]);
      expect(latest.leaderEpoch).toBe(v >= 4 ? 0 : -1);
      const earliest = await listOne(br, v, -2);
      expect([earliest.errorCode, earliest.offset]).toEqual([ErrorCode.NONE, 0]);
      // Exact records inside batches: offset 1 is the first record with timestamp >= T0+101.
      const at = await listOne(br, v, T0 + 101);
      expect([at.offset, at.timestamp]).toEqual([1, T0 + 105]);
      const first = await listOne(br, v, T0 + 100);
      expect([first.offset, first.timestamp]).toEqual([0, T0 + 100]);
      const later = await listOne(br, v, T0 + 250);
      expect([later.offset, later.timestamp]).toEqual([3, T0 + 300]);
      const none = await listOne(br, v, T0 + 1000);
      expect([none.errorCode, none.offset, none.timestamp, none.leaderEpoch]).toEqual([ErrorCode.NONE, -1, -1, -1]);
    }
    const max = await listOne(br, 7, -3);
    expect([max.errorCode, max.offset, max.timestamp, max.leaderEpoch]).toEqual([ErrorCode.NONE, 3, T0 + 300, 0]);
    expect((await listOne(br, 6, -3)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect((await listOne(br, 8, -4)).offset).toBe(0);
    expect((await listOne(br, 7, -4)).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(await listOne(br, 9, -5)).toMatchObject({ errorCode: ErrorCode.NONE, offset: -1, timestamp: -1 });
    expect((await listOne(br, 8, -1, { isolationLevel: 1 })).offset).toBe(5);
  });

  test("earliest follows DeleteRecords; leader epochs are checked and reported", async () => {
    const br = await withTopic();
    await seed(br);
    await br.send(ApiKeys.DeleteRecords, 2, { topics: [{ name: "t", partitions: [{ partitionIndex: 0, offset: 3 }] }], timeoutMs: 1000 });
    expect((await listOne(br, 8, -2)).offset).toBe(3);
    expect((await listOne(br, 8, T0 + 101)).offset).toBe(3); // the first batch at or past the log start
    await bumpLeaderEpoch(br, "t");
    await produceOk(br, "t", batch(1, "d", { timestamps: [T0 + 500] }));
    const latest = await listOne(br, 8, -1);
    expect([latest.offset, latest.leaderEpoch]).toEqual([6, 2]);
    const found = await listOne(br, 8, T0 + 400);
    expect([found.offset, found.leaderEpoch]).toEqual([5, 2]);
    expect((await listOne(br, 8, -1, {}, 0)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect((await listOne(br, 8, -1, {}, 3)).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect((await listOne(br, 8, -1, {}, 2)).errorCode).toBe(ErrorCode.NONE);
  });

  test("unknown topics and partitions; a partition named twice is INVALID_REQUEST", async () => {
    const br = await withTopic();
    const r = await br.send(
      ApiKeys.ListOffsets,
      7,
      listOffsets([{ topic: "nope", timestamp: -1 }, { partition: 9, timestamp: -1 }, { partition: 0, timestamp: -1 }, { partition: 0, timestamp: -2 }]),
    );
    const flat = r!.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.errorCode, p.offset]));
    expect(flat).toEqual([
      ["nope", 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1],
      ["t", 9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1],
      ["t", 0, ErrorCode.INVALID_REQUEST, -1],
      ["t", 0, ErrorCode.INVALID_REQUEST, -1],
    ]);
  });

  test("latest is the HW for consumers and the log end for replicas; lookups see only below the HW", async () => {
    b = await broker();
    const br = b;
    await br.metadata.submit(() => ({
      records: [{ type: "registerBroker", brokerId: 2, incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as Uuid, brokerEpoch: 1, endpoints: [], rack: null, fenced: false }],
      response: undefined,
    }));
    await br.metadata.submit((ctx) =>
      createTopics(ctx, [{ name: "t", numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }], configs: [] }], false),
    );
    await produceOk(br, "t", batch(2, "a", { timestamps: [T0, T0 + 1] }));
    expect((await listOne(br, 8, -1)).offset).toBe(0);
    expect((await listOne(br, 8, -1, { replicaId: 2 })).offset).toBe(2);
    expect((await listOne(br, 8, T0)).offset).toBe(-1);
    expect((await listOne(br, 8, T0, { replicaId: 2 })).offset).toBe(0);
  });
});

describe("OffsetForLeaderEpoch", () => {
  async function epochEnd(br: TestBroker, version: number, leaderEpoch: number, currentLeaderEpoch = -1, topic = "t") {
    const r = await br.send(ApiKeys.OffsetForLeaderEpoch, version, {
      replicaId: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch }] }],
    });
    return r!.topics[0]!.partitions[0]!;
  }

  test("end offsets per epoch (v2..v4), fencing, unknown epochs and topics", async () => {
    const br = await withTopic();
    // Leadership at epoch 0 is recorded at once: the epoch ends at the (empty) log end.
    expect(await epochEnd(br, 4, 0)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 0 });
    await produceOk(br, "t", batch(3));
    await bumpLeaderEpoch(br, "t");
    await produceOk(br, "t", batch(2));
    for (let v = 2; v <= 4; v++) {
      expect(await epochEnd(br, v, 0)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 3 });
      expect(await epochEnd(br, v, 1)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 3 });
      expect(await epochEnd(br, v, 2)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 2, endOffset: 5 });
      expect(await epochEnd(br, v, 3)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 });
    }
    expect(await epochEnd(br, 4, 0, 1)).toMatchObject({ errorCode: ErrorCode.FENCED_LEADER_EPOCH, leaderEpoch: -1, endOffset: -1 });
    expect(await epochEnd(br, 4, 0, 7)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH });
    expect(await epochEnd(br, 4, 0, 2)).toMatchObject({ errorCode: ErrorCode.NONE, endOffset: 3 });
    expect(await epochEnd(br, 4, 0, -1, "nope")).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  });
});

describe("DeleteRecords", () => {
  async function del(br: TestBroker, version: number, offset: number, topic = "t") {
    const r = await br.send(ApiKeys.DeleteRecords, version, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset }] }], timeoutMs: 1000 });
    return r!.topics[0]!.partitions[0]!;
  }

  test("moves the low watermark (v0..v2); -1 means the HW; beyond the HW is OFFSET_OUT_OF_RANGE", async () => {
    const br = await withTopic();
    await produceOk(br, "t", batch(4));
    await produceOk(br, "t", batch(4));
    expect(await del(br, 0, 2)).toMatchObject({ errorCode: ErrorCode.NONE, lowWatermark: 2 });
    expect(await del(br, 1, 1)).toMatchObject({ errorCode: ErrorCode.NONE, lowWatermark: 2 }); // never backwards
    expect(await del(br, 2, 9)).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 });
    expect(await del(br, 2, -2)).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 });
    expect(await del(br, 2, -1)).toMatchObject({ errorCode: ErrorCode.NONE, lowWatermark: 8 });
    expect(br.replicas.getPartition("t", 0)!.log.logStartOffset).toBe(8);
    expect(await del(br, 2, 0, "nope")).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, lowWatermark: -1 });
    expect(await del(br, 2, 0, "__consumer_offsets")).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
  });

  test("a compact-only topic is POLICY_VIOLATION", async () => {
    const br = await withTopic(1, { "cleanup.policy": "compact" });
    const keyed = buildRecordBatch([0, 1].map((i) => ({ key: new TextEncoder().encode(`k${i}`), value: new TextEncoder().encode(`v${i}`), timestamp: T0 + i })));
    await produceOk(br, "t", keyed);
    expect(await del(br, 2, 1)).toMatchObject({ errorCode: ErrorCode.POLICY_VIOLATION });
    expect(br.replicas.getPartition("t", 0)!.log.logStartOffset).toBe(0);
  });
});
