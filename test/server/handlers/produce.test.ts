import { afterEach, describe, expect, test } from "bun:test";
import { createTopics } from "../../../src/metadata/controller.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { RecordBatchView } from "../../../src/protocol/records/record-batch.ts";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { ProtocolViolation } from "../../../src/server/dispatch.ts";
import type { TestBroker } from "../harness.ts";
import { batch, broker, concatBytes, fetched, fetchRequest, produced, produceRequest, settle, T0 } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

async function withTopic(partitions = 1, configs: Record<string, string> = {}, options: Parameters<typeof broker>[0] = {}): Promise<TestBroker> {
  b = await broker(options);
  await b.createTopic("t", partitions, configs);
  return b;
}

describe("Produce", () => {
  test("advertises v0-v11 and answers v0-v2 per partition with UNSUPPORTED_VERSION, keeping the connection", async () => {
    const br = await withTopic();
    const versions = await br.send(ApiKeys.ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1", _unknownTaggedFields: undefined });
    const produce = versions!.apiKeys.find((k) => k.apiKey === ApiKeys.Produce)!;
    expect([produce.minVersion, produce.maxVersion]).toEqual([0, 11]);
    for (const v of [0, 1, 2]) {
      const r = await br.send(ApiKeys.Produce, v, produceRequest([{ topic: "t", records: batch(1) }, { topic: "t", partition: 7, records: null }]));
      expect(r!.responses[0]!.partitionResponses.map((p) => [p.index, p.errorCode, p.baseOffset])).toEqual([
        [0, ErrorCode.UNSUPPORTED_VERSION, -1],
        [7, ErrorCode.UNSUPPORTED_VERSION, -1],
      ]);
    }
    // Nothing was written.
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(0);
  });

  test("acks=1 assigns offsets from 0 and a fetch returns the stored batch byte for byte (v3 .. v11)", async () => {
    const br = await withTopic();
    const sent: Uint8Array[] = [];
    let next = 0;
    for (let v = 3; v <= 11; v++) {
      const records = batch(3, `v${v}`);
      const r = produced(await br.send(ApiKeys.Produce, v, produceRequest([{ topic: "t", records: records.slice() }])), "t");
      expect(r.errorCode).toBe(ErrorCode.NONE);
      expect(r.baseOffset).toBe(next);
      expect(r.logAppendTimeMs).toBe(-1);
      if (v >= 5) expect(r.logStartOffset).toBe(0);
      // What the log holds: the batch with baseOffset and partitionLeaderEpoch patched.
      const view = RecordBatchView.at(records);
      view.setBaseOffset(next);
      view.setPartitionLeaderEpoch(0);
      sent.push(records);
      next += 3;
    }
    const f = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0, partitionMaxBytes: 1 << 20 }])));
    expect(f.errorCode).toBe(ErrorCode.NONE);
    expect(f.highWatermark).toBe(next);
    expect(f.lastStableOffset).toBe(next);
    expect(f.logStartOffset).toBe(0);
    expect(f.abortedTransactions).toBeNull();
    expect(f.preferredReadReplica).toBe(-1);
    expect(f.records).toEqual(concatBytes(sent));
  });

  test("acks=0 gets no response; acks=0 with a failed partition closes the connection", async () => {
    const br = await withTopic();
    expect(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(2) }], 0))).toBeNull();
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(2);
    await expect(br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "nope", records: batch(2) }], 0))).rejects.toBeInstanceOf(ProtocolViolation);
  });

  test("acks=-1 completes at once on a single-node ISR; invalid acks are INVALID_REQUIRED_ACKS", async () => {
    const br = await withTopic();
    const r = produced(await br.send(ApiKeys.Produce, 11, produceRequest([{ topic: "t", records: batch(2) }], -1)), "t");
    expect([r.errorCode, r.baseOffset]).toEqual([ErrorCode.NONE, 0]);
    for (const acks of [2, -2, 5]) {
      const bad = produced(await br.send(ApiKeys.Produce, 11, produceRequest([{ topic: "t", records: batch(2) }], acks)), "t");
      expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    }
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(2);
  });

  test("acks=-1 with the ISR below min.insync.replicas is NOT_ENOUGH_REPLICAS and appends nothing", async () => {
    const br = await withTopic(1, { "min.insync.replicas": "2" });
    const r = produced(await br.send(ApiKeys.Produce, 11, produceRequest([{ topic: "t", records: batch(2) }], -1)), "t");
    expect(r.errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(r.baseOffset).toBe(-1);
    // acks=1 ignores min.insync.replicas, as in Kafka.
    expect(produced(await br.send(ApiKeys.Produce, 11, produceRequest([{ topic: "t", records: batch(2) }], 1)), "t").errorCode).toBe(ErrorCode.NONE);
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(2);
  });

  test("per-partition errors in one request; other partitions still succeed", async () => {
    const br = await withTopic(2, { "max.message.bytes": "200" });
    const good = batch(1);
    const badCrc = batch(2);
    badCrc[badCrc.length - 1]! ^= 0xff;
    const truncated = batch(2).subarray(0, 70);
    const lying = batch(2);
    new DataView(lying.buffer).setInt32(8, lying.length + 100); // batchLength past the end
    const twoBatches = concatBytes([batch(1), batch(1)]);
    const big = batch(20, "a-long-value-to-pass-two-hundred-bytes");
    const legacy = batch(1);
    legacy[16] = 1;
    const zstd = batch(2, "z", { compression: "zstd", codecs: bunCompression });
    const control = batch(1, "c", { isControl: true });
    const cases: [string, Uint8Array | null, number][] = [
      ["bad crc", badCrc, ErrorCode.CORRUPT_MESSAGE],
      ["truncated", truncated, ErrorCode.CORRUPT_MESSAGE],
      ["lying length", lying, ErrorCode.CORRUPT_MESSAGE],
      ["two batches", twoBatches, ErrorCode.INVALID_RECORD],
      ["null records", null, ErrorCode.INVALID_RECORD],
      ["too large", big, ErrorCode.MESSAGE_TOO_LARGE],
      ["magic 1", legacy, ErrorCode.INVALID_RECORD],
      ["control batch", control, ErrorCode.INVALID_RECORD],
    ];
    for (const [what, records, code] of cases) {
      const r = await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", partition: 0, records }, { topic: "t", partition: 1, records: good.slice() }]));
      const p0 = produced(r, "t", 0);
      expect([what, p0.errorCode, p0.baseOffset]).toEqual([what, code, -1]);
      expect(p0.errorMessage).not.toBeNull();
      expect(produced(r, "t", 1).errorCode).toBe(ErrorCode.NONE);
    }
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(0);
    expect(br.replicas.getPartition("t", 1)!.log.logEndOffset).toBe(cases.length);
    // zstd needs Produce v7.
    expect(produced(await br.send(ApiKeys.Produce, 6, produceRequest([{ topic: "t", records: zstd.slice() }])), "t").errorCode).toBe(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
    );
    expect(produced(await br.send(ApiKeys.Produce, 7, produceRequest([{ topic: "t", records: zstd.slice() }])), "t").errorCode).toBe(ErrorCode.NONE);
  });

  test("a batch larger than segment.bytes is RECORD_LIST_TOO_LARGE", async () => {
    const br = await withTopic(1, { "segment.bytes": "100" });
    const r = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(10, "ten-records") }])), "t");
    expect([r.errorCode, r.baseOffset]).toEqual([ErrorCode.RECORD_LIST_TOO_LARGE, -1]);
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(0);
  });

  test("unknown topic or partition, invalid topic names, internal topics", async () => {
    const br = await withTopic();
    const r = await br.send(
      ApiKeys.Produce,
      9,
      produceRequest([
        { topic: "missing", records: batch(1) },
        { topic: "t", partition: 3, records: batch(1) },
        { topic: "bad/name", records: batch(1) },
        { topic: "__consumer_offsets", records: batch(1) },
      ]),
    );
    expect(produced(r, "missing").errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(produced(r, "t", 3).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(produced(r, "bad/name").errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(produced(r, "__consumer_offsets").errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
  });

  test("a partition hosted elsewhere is NOT_LEADER_OR_FOLLOWER with the current leader (v10+)", async () => {
    b = await broker();
    const br = b;
    // Register broker 2 and place a topic only on it.
    await br.metadata.submit(() => ({
      records: [
        {
          type: "registerBroker",
          brokerId: 2,
          incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as never,
          brokerEpoch: 1,
          endpoints: [],
          rack: null,
          fenced: false,
        },
      ],
      response: undefined,
    }));
    await br.metadata.submit((ctx) =>
      createTopics(ctx, [{ name: "remote", numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [2] }], configs: [] }], false),
    );
    const r = produced(await br.send(ApiKeys.Produce, 10, produceRequest([{ topic: "remote", records: batch(1) }])), "remote");
    expect(r.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const raw = await br.send(ApiKeys.Produce, 10, produceRequest([{ topic: "remote", records: batch(1) }]));
    expect(raw!.responses[0]!.partitionResponses[0]!.currentLeader).toMatchObject({ leaderId: 2, leaderEpoch: 0 });
    expect(br.replicas.getPartition("remote", 0)).toBeUndefined();
  });

  test("LogAppendTime topics: the broker's time is stamped into the batch and returned", async () => {
    const br = await withTopic(1, { "message.timestamp.type": "LogAppendTime" });
    br.clock.advance(5_000);
    const now = br.clock.nowMs();
    const r = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(2) }])), "t");
    expect(r.errorCode).toBe(ErrorCode.NONE);
    expect(r.logAppendTimeMs).toBe(now);
    const f = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }])));
    const view = RecordBatchView.at(f.records!);
    expect(view.timestampType).toBe("LogAppendTime");
    expect(view.maxTimestamp).toBe(now);
    expect(view.verifyCrc()).toBe(true);
    const recs = view.records({ maxBytes: 1 << 20 });
    expect(recs.map((x) => x.timestamp)).toEqual([now, now]);
    expect(now).not.toBe(T0);
  });

  test("a storage failure is KAFKA_STORAGE_ERROR and the next append succeeds", async () => {
    const br = await withTopic();
    br.sim!.failNext("append", "EIO");
    const r = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(2) }])), "t");
    expect(r.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const ok = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(2) }])), "t");
    expect([ok.errorCode, ok.baseOffset]).toEqual([ErrorCode.NONE, 0]);
  });

  test("acks=-1 waits in purgatory while a follower in the ISR lags, and times out with REQUEST_TIMED_OUT", async () => {
    b = await broker();
    const br = b;
    await br.metadata.submit(() => ({
      records: [{ type: "registerBroker", brokerId: 2, incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as never, brokerEpoch: 1, endpoints: [], rack: null, fenced: false }],
      response: undefined,
    }));
    await br.metadata.submit((ctx) =>
      createTopics(ctx, [{ name: "r2", numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }], configs: [] }], false),
    );
    const p = br.replicas.getPartition("r2", 0)!;
    expect(p.state.kind).toBe("leader");
    let done = false;
    const pending = br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "r2", records: batch(2) }], -1, 1000)).then((r) => {
      done = true;
      return r;
    });
    await settle();
    expect(done).toBe(false);
    expect(p.log.logEndOffset).toBe(2);
    expect(p.log.highWatermark).toBe(0);
    // The follower catches up to offset 2: the HW moves and the produce completes.
    p.updateFollowerFetchState(2, -1, 2, 0);
    br.replicas.produceWaits.notify(p.key);
    const r = produced(await pending, "r2");
    expect([r.errorCode, r.baseOffset]).toEqual([ErrorCode.NONE, 0]);
    // A second one times out.
    const late = br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "r2", records: batch(1) }], -1, 1000));
    await settle();
    br.clock.advance(1000);
    const t = produced(await late, "r2");
    expect([t.errorCode, t.baseOffset]).toEqual([ErrorCode.REQUEST_TIMED_OUT, -1]);
  });
});
