import { describe, expect, test } from "bun:test";
import { groupCoordinatorConfigDefaults, groupCoordinatorConfigFrom } from "../../src/coordinator/config.ts";
import { MemoryMetadataStore, MetadataManager } from "../../src/metadata/metadata-manager.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { OFFSETS_TOPIC_NAME } from "../../src/coordinator/partitioner.ts";
import { ensureOffsetsTopic } from "../../src/coordinator/offsets-topic.ts";
import { setup } from "./helpers.ts";

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
