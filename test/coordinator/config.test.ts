import { describe, expect, test } from "bun:test";
import { groupCoordinatorConfigDefaults, groupCoordinatorConfigFrom } from "../../src/coordinator/config.ts";
import { MemoryMetadataStore, MetadataManager } from "../../src/metadata/metadata-manager.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { OFFSETS_TOPIC_NAME } from "../../src/coordinator/partitioner.ts";
import { ensureOffsetsTopic } from "../../src/coordinator/offsets-topic.ts";
import { setup } from "./helpers.ts";
import { brokerRecords } from "../metadata/cluster-image.ts";
import { Logger, memorySink } from "../../src/util/log.ts";
import type { TestBrokerSpec } from "../metadata/cluster-image.ts";

describe("config", () => {
  test("Kafka names, Kafka defaults, minutes for retention, bad values refused", () => {
    expect(groupCoordinatorConfigFrom(() => undefined)).toEqual(groupCoordinatorConfigDefaults);
    const values: Record<string, string> = { "offsets.retention.minutes": "60", "group.max.size": "3", "offsets.topic.num.partitions": "5" };
    const c = groupCoordinatorConfigFrom((n) => values[n]);
    expect(c.offsetsRetentionMs).toBe(3_600_000);
    expect(c.groupMaxSize).toBe(3);
    expect(c.offsetsTopicNumPartitions).toBe(5);
    expect(() => groupCoordinatorConfigFrom((n) => (n === "group.max.size" ? "0" : undefined))).toThrow(RangeError);
    expect(() => groupCoordinatorConfigFrom((n) => (n === "group.min.session.timeout.ms" ? "x" : undefined))).toThrow(RangeError);
    expect(() => groupCoordinatorConfigFrom((n) => (n === "group.min.session.timeout.ms" ? "9999999" : undefined))).toThrow(/greater|>/);
  });
});

describe("__consumer_offsets creation and leadership", () => {
  test("ensureOffsetsTopic creates the compacted topic once, even for concurrent callers", async () => {
    const prng = new SeededPrng(3);
    const metadata = MetadataManager.open(new MemoryMetadataStore(), prng, { numPartitions: 1, defaultReplicationFactor: 1 });
    await metadata.submit(() => ({
      records: [{ type: "registerBroker", brokerId: 1, incarnationId: randomUuid(prng), brokerEpoch: 1, endpoints: [{ name: "PLAINTEXT", host: "h", port: 1, securityProtocol: "PLAINTEXT" }], rack: null, fenced: false }],
      response: undefined,
    }));
    const [a, b] = await Promise.all([ensureOffsetsTopic(metadata, 7, 1), ensureOffsetsTopic(metadata, 7, 1)]);
    expect(a).toEqual({ kind: "created" });
    expect(b).toEqual({ kind: "created" });
    expect(await ensureOffsetsTopic(metadata, 7, 1)).toEqual({ kind: "exists" });
    const topic = metadata.image.topic(OFFSETS_TOPIC_NAME)!;
    expect(topic.partitions.length).toBe(7);
    expect(metadata.image.configsOf("topic", OFFSETS_TOPIC_NAME).get("cleanup.policy")).toBe("compact");

    // The coordinator follows leadership in the image.
    const env = await setup({ offsetsTopicNumPartitions: 7 }, { load: false });
    env.gc.onMetadataImage(metadata.image, 1);
    expect(env.gc.ownedPartitions()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    env.gc.onMetadataImage(metadata.image, 2);
    expect(env.gc.ownedPartitions()).toEqual([]);
  });
});

describe("the partition count of __consumer_offsets", () => {
  test("an existing topic's count wins over offsets.topic.num.partitions, and stays", async () => {
    const prng = new SeededPrng(4);
    const metadata = MetadataManager.open(new MemoryMetadataStore(), prng, { numPartitions: 1, defaultReplicationFactor: 1 });
    await metadata.submit(() => ({
      records: [{ type: "registerBroker", brokerId: 1, incarnationId: randomUuid(prng), brokerEpoch: 1, endpoints: [{ name: "PLAINTEXT", host: "h", port: 1, securityProtocol: "PLAINTEXT" }], rack: null, fenced: false }],
      response: undefined,
    }));
    await ensureOffsetsTopic(metadata, 3, 1);
    // Configured for 7, but the topic was made with 3: groups must keep mapping onto 3.
    const env = await setup({ offsetsTopicNumPartitions: 7 }, { load: false });
    expect(env.gc.numPartitions).toBe(7);
    env.gc.onMetadataImage(metadata.image, 1);
    expect(env.gc.numPartitions).toBe(3);
    expect(env.gc.ownedPartitions()).toEqual([0, 1, 2]);
    expect(env.gc.partitionFor("hello")).toBe(99162322 % 3);
  });
});

describe("offsets.topic.replication.factor", () => {
  async function clusterOf(brokers: TestBrokerSpec[]): Promise<MetadataManager> {
    const metadata = MetadataManager.open(new MemoryMetadataStore(), new SeededPrng(6), { numPartitions: 1, defaultReplicationFactor: 1 });
    await metadata.submit(() => ({ records: brokerRecords(brokers), response: undefined }));
    return metadata;
  }

  test("capped to the unfenced brokers at first creation, with one warning (also for concurrent callers)", async () => {
    const metadata = await clusterOf([{ id: 1 }, { id: 2 }, { id: 3, fenced: true }]);
    const out = memorySink();
    const log = new Logger({ sink: out.sink, level: "info", nowMs: () => 0 });
    const results = await Promise.all([ensureOffsetsTopic(metadata, 4, 3, log), ensureOffsetsTopic(metadata, 4, 3, log)]);
    expect(results).toEqual([{ kind: "created" }, { kind: "created" }]);
    const topic = metadata.image.topic(OFFSETS_TOPIC_NAME)!;
    expect(topic.partitions.every((p) => p.replicas.length === 2 && !p.replicas.includes(3))).toBe(true);
    expect(out.records().map((r) => [r.level, r.msg])).toEqual([
      ["warn", "offsets.topic.replication.factor is 3 but only 2 broker(s) are available: __consumer_offsets created with replication factor 2"],
    ]);
    expect(await ensureOffsetsTopic(metadata, 4, 3, log)).toEqual({ kind: "exists" });
    expect(out.lines.length).toBe(1);
  });

  test("not capped when enough brokers are available; no broker at all fails with INVALID_REPLICATION_FACTOR", async () => {
    const three = await clusterOf([{ id: 1 }, { id: 2 }, { id: 3 }]);
    const out = memorySink();
    const log = new Logger({ sink: out.sink, level: "info", nowMs: () => 0 });
    expect(await ensureOffsetsTopic(three, 6, 3, log)).toEqual({ kind: "created" });
    expect(three.image.topic(OFFSETS_TOPIC_NAME)!.partitions.every((p) => p.replicas.length === 3)).toBe(true);
    expect(out.lines).toEqual([]);

    const fenced = await clusterOf([{ id: 1, fenced: true }]);
    expect(await ensureOffsetsTopic(fenced, 6, 1, log)).toMatchObject({ kind: "failed", errorCode: 38 });
  });
});
