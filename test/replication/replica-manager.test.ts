import { afterEach, describe, expect, test } from "bun:test";
import { alterConfigs, ConfigOp, createTopics, deleteTopics } from "../../src/metadata/controller.ts";
import { MemoryMetadataStore, MetadataManager } from "../../src/metadata/metadata-manager.ts";
import type { PartitionImage } from "../../src/metadata/image.ts";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { joinPath } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { ReplicaManager } from "../../src/replication/replica-manager.ts";
import { repeatedLogIntervalMs } from "../../src/server/limits.ts";
import { defaultLogManagerConfig } from "../../src/storage/config.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import { Logger, memorySink } from "../../src/util/log.ts";
import type { TestBroker } from "../server/harness.ts";
import { batch, broker, fetched, fetchRequest, produced, produceOk, produceRequest, settle } from "../server/handlers/helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

async function registerBroker2(br: TestBroker): Promise<void> {
  await br.metadata.submit(() => ({
    records: [{ type: "registerBroker", brokerId: 2, incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as Uuid, brokerEpoch: 1, endpoints: [], rack: null, fenced: false }],
    response: undefined,
  }));
}

async function createAssigned(br: TestBroker, name: string, replicas: number[][], configs: { name: string; value: string }[] = []): Promise<void> {
  const [r] = await br.metadata.submit((ctx) =>
    createTopics(ctx, [{ name, numPartitions: -1, replicationFactor: -1, assignments: replicas.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })), configs }], false),
  );
  if (r?.errorCode !== 0) throw new Error(`create ${name}: ${r?.errorMessage}`);
}

describe("ReplicaManager.applyMetadata", () => {
  test("creates logs with the topic id and the topic's config for partitions placed here only", async () => {
    b = await broker();
    await registerBroker2(b);
    await createAssigned(b, "mixed", [[1], [2], [1]], [{ name: "segment.bytes", value: "123456" }]);
    await createAssigned(b, "f", [[2, 1]]);
    const topicId = b.metadata.image.topic("mixed")!.topicId;
    expect(b.replicas.partitions().map((p) => p.key).sort()).toEqual(["f-0", "mixed-0", "mixed-2"]);
    expect(b.logs.topicId({ topic: "mixed", partition: 0 })).toBe(topicId);
    expect(b.logs.getLog({ topic: "mixed", partition: 1 })).toBeNull();
    const p0 = b.replicas.getPartition("mixed", 0)!;
    expect(p0.log.config.segmentBytes).toBe(123456);
    expect(p0.state).toMatchObject({ kind: "leader", leaderEpoch: 0, isr: [1] });
    const f = b.replicas.getPartition("f", 0)!;
    expect(f.state).toMatchObject({ kind: "follower", leaderId: 2, leaderEpoch: 0 });
    expect(b.replicas.lookupLeader("f", 0)).toMatchObject({ kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    expect(b.replicas.lookupLeader("mixed", 2)).toMatchObject({ kind: "ok" });
    expect(b.replicas.lookupLeader("mixed", 1)).toMatchObject({ kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    expect(b.replicas.lookupLeader("mixed", 3)).toMatchObject({ kind: "error", errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  });

  test("deleting a topic deletes its logs and answers waiting fetches; re-creating it starts empty", async () => {
    b = await broker();
    const br = b;
    await br.createTopic("t", 1);
    await produceOk(br, "t", batch(3));
    let result: Awaited<ReturnType<typeof br.send<typeof ApiKeys.Fetch>>> | undefined;
    const pending = br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 3 }], { maxWaitMs: 60_000, minBytes: 1 })).then((r) => (result = r));
    await settle();
    expect(result).toBeUndefined();
    await br.metadata.submit((ctx) => deleteTopics(ctx, [{ name: "t", topicId: null }]));
    await pending;
    expect(fetched(result!).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(br.logs.getLog({ topic: "t", partition: 0 })).toBeNull();
    expect(br.replicas.partitions()).toEqual([]);
    const newId = await br.createTopic("t", 1);
    const p = br.replicas.getPartition("t", 0)!;
    expect([p.topicId, p.log.logEndOffset]).toEqual([newId, 0]);
    expect(br.logs.topicId({ topic: "t", partition: 0 })).toBe(newId);
  });

  test("topic config changes reach live partitions (min.insync.replicas)", async () => {
    b = await broker();
    const br = b;
    await br.createTopic("t", 1);
    const acksAll = async () => produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(1) }], -1)), "t").errorCode;
    expect(await acksAll()).toBe(ErrorCode.NONE);
    await br.metadata.submit((ctx) =>
      alterConfigs(ctx, [{ resourceType: "topic", resourceName: "t", ops: [{ name: "min.insync.replicas", op: ConfigOp.SET, value: "2" }], incremental: true }], false, { check: () => null, checkSet: () => null, isList: () => false }, 1),
    );
    expect(br.replicas.getPartition("t", 0)!.config.minInsyncReplicas).toBe(2);
    expect(await acksAll()).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
  });

  test("broker config values are the fallback of topic configs", async () => {
    b = await broker({ brokerConfigs: { "message.max.bytes": "100" } });
    await b.createTopic("t", 1);
    expect(b.replicas.getPartition("t", 0)!.config.maxMessageBytes).toBe(100);
    const r = produced(await b.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(5, "long-enough") }])), "t");
    expect(r.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  });

  test("stray logs (not in the image) are kept, reported and not served; re-creating the topic replaces them", async () => {
    const clock = new SimClock();
    const prng = new SeededPrng(7);
    const fs = new SimFileSystem(new SeededPrng(8), clock);
    const logs = LogManager.open({ fs, clock, prng, config: defaultLogManagerConfig(["/data"]) });
    logs.getOrCreateLog({ topic: "gone", partition: 0 }, "CCCCCCCCCCCCCCCCCCCCCA");
    const metadata = MetadataManager.open(new MemoryMetadataStore(), prng, { numPartitions: 1, defaultReplicationFactor: 1 });
    await metadata.submit(() => ({
      records: [{ type: "registerBroker", brokerId: 1, incarnationId: "DDDDDDDDDDDDDDDDDDDDDA" as Uuid, brokerEpoch: 1, endpoints: [], rack: null, fenced: false }],
      response: undefined,
    }));
    const sink = memorySink();
    const replicas = new ReplicaManager({ nodeId: 1, logs, clock, log: new Logger({ sink: sink.sink, level: "debug" }), brokerConfigValue: () => undefined });
    replicas.attach(metadata);
    expect(fs.exists(joinPath("/data", "gone-0"))).toBe(true);
    expect(logs.getLog({ topic: "gone", partition: 0 })).not.toBeNull();
    expect(replicas.getPartition("gone", 0)).toBeUndefined();
    expect(sink.records().some((r) => r["msg"]?.startsWith("stray partition log") && r["partition"] === "gone-0")).toBe(true);
    const [created] = await metadata.submit((ctx) => createTopics(ctx, [{ name: "gone", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], false));
    const p = replicas.getPartition("gone", 0)!;
    expect(p.topicId).toBe(created!.topicId!);
    expect(logs.topicId({ topic: "gone", partition: 0 })).toBe(created!.topicId);
    logs.close();
  });
});

describe("Partition", () => {
  test("HW = min LEO over the ISR; followers outside the ISR do not count", async () => {
    b = await broker();
    await registerBroker2(b);
    await createAssigned(b, "r", [[1, 2]]);
    const p = b.replicas.getPartition("r", 0)!;
    await produceOk(b, "r", batch(4));
    expect([p.log.logEndOffset, p.log.highWatermark]).toEqual([4, 0]);
    expect(p.updateFollowerFetchState(3, -1, 4, 0)).toBe(false); // not a replica
    expect(p.updateFollowerFetchState(2, -1, 3, 0)).toBe(true);
    expect(p.log.highWatermark).toBe(3);
    expect(p.updateFollowerFetchState(2, -1, 2, 0)).toBe(false); // never backwards
    expect(p.log.highWatermark).toBe(3);
    // Shrinking the ISR to the leader lets the HW reach the leader's LEO.
    const topicId = b.metadata.image.topic("r")!.topicId;
    await b.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, isr: [1] }], response: undefined }));
    expect(p.log.highWatermark).toBe(4);
  });

  test("a leader epoch going backwards is a bug and throws", async () => {
    b = await broker();
    await b.createTopic("t", 1);
    const p = b.replicas.getPartition("t", 0)!;
    const image = b.metadata.image.partition("t", 0)!;
    const newer: PartitionImage = { ...image, leaderEpoch: 5 };
    expect(p.applyImage(newer)).toBe(true);
    expect(() => p.applyImage(image)).toThrow(/goes back/);
  });

  test("a storage error every produce hits is logged once, then counted per interval", async () => {
    b = await broker({ logManagerConfig: { logDirFailuresMax: 1_000 } });
    await b.createTopic("t", 1);
    const failures = () => b!.logLines.records().filter((r) => r.msg === "append failed");
    for (let i = 0; i < 20; i++) {
      b.sim!.failNext("append", "EIO");
      const r = produced(await b.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(1) }])), "t");
      expect(r.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    }
    expect(failures()).toHaveLength(1);
    expect(failures()[0]).toMatchObject({ level: "error", partition: "t-0" });
    b.clock.advance(repeatedLogIntervalMs);
    expect(failures()).toHaveLength(2);
    expect(failures()[1]).toMatchObject({ partition: "t-0", suppressed: "19" });
  });

  test("a log dir that goes offline makes the partition KAFKA_STORAGE_ERROR", async () => {
    b = await broker({ logManagerConfig: { logDirFailuresMax: 1 } });
    await b.createTopic("t", 1);
    b.sim!.failNext("append", "EIO");
    const r = produced(await b.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(1) }])), "t");
    expect(r.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const again = produced(await b.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(1) }])), "t");
    expect(again.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(fetched(await b.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }]))).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  });
});

describe("internal writers", () => {
  test("appendInternal writes to internal topics with acks=all; readCommitted reads back below the HW", async () => {
    b = await broker();
    await b.createTopic("__consumer_offsets", 2);
    const records = batch(2, "offset-commit");
    const r = await b.replicas.appendInternal("__consumer_offsets", 1, records.slice(), 5000);
    expect(r).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    const again = await b.replicas.appendInternal("__consumer_offsets", 1, batch(1, "more"), 5000);
    expect(again).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    // Clients still may not write there.
    const client = produced(await b.send(ApiKeys.Produce, 9, produceRequest([{ topic: "__consumer_offsets", partition: 1, records: batch(1) }])), "__consumer_offsets", 1);
    expect(client.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const read = b.replicas.readCommitted("__consumer_offsets", 1, 0, 1 << 20);
    expect([read.errorCode, read.nextOffset, read.highWatermark]).toEqual([ErrorCode.NONE, 3, 3]);
    const rest = b.replicas.readCommitted("__consumer_offsets", 1, read.nextOffset, 1 << 20);
    expect([rest.errorCode, rest.records.length, rest.nextOffset]).toEqual([ErrorCode.NONE, 0, 3]);
    expect((await b.replicas.appendInternal("missing", 0, batch(1), 10)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});
