import { describe, expect, test } from "bun:test";
import {
  alterConfigs,
  allocateProducerIds,
  applyRecords,
  ConfigOp,
  createPartitions,
  createTopics,
  deleteTopics,
  type ControllerContext,
  type CreatableTopic,
} from "../../src/metadata/controller.ts";
import { MetadataImage } from "../../src/metadata/image.ts";
import { resolveTopicConfigEntries, toTopicConfig, validateTopicConfig } from "../../src/metadata/topic-config.ts";
import { topicNameProblem } from "../../src/metadata/topic-name.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { brokersOnRacks, clusterImage } from "./cluster-image.ts";

function clusterOf(brokerIds: number[]): MetadataImage {
  const prng = new SeededPrng(5);
  return applyRecords(
    MetadataImage.EMPTY,
    brokerIds.map((brokerId) => ({ type: "registerBroker" as const, brokerId, incarnationId: randomUuid(prng), brokerEpoch: 1, endpoints: [], rack: null, fenced: false })),
  );
}

function ctxOf(image: MetadataImage, seed = 1): ControllerContext {
  return { image, prng: new SeededPrng(seed), defaults: { numPartitions: 3, defaultReplicationFactor: 1 } };
}

const topic = (name: string, extra: Partial<CreatableTopic> = {}): CreatableTopic => ({
  name,
  numPartitions: -1,
  replicationFactor: -1,
  assignments: [],
  configs: [],
  ...extra,
});

describe("createTopics", () => {
  test("creates topics with defaults, configs and explicit assignments", () => {
    const image = clusterOf([1, 2, 3]);
    const { records, response } = createTopics(
      ctxOf(image),
      [
        topic("a"),
        topic("b", { numPartitions: 2, replicationFactor: 3, configs: [{ name: "retention.ms", value: "1000" }] }),
        topic("c", { assignments: [{ partitionIndex: 0, brokerIds: [2, 1] }, { partitionIndex: 1, brokerIds: [3, 2] }] }),
      ],
      false,
    );
    expect(response.map((r) => r.errorCode)).toEqual([0, 0, 0]);
    expect(response.map((r) => [r.numPartitions, r.replicationFactor])).toEqual([[3, 1], [2, 3], [2, 2]]);
    const next = applyRecords(image, records);
    expect(next.topic("a")?.partitions.length).toBe(3);
    expect(next.topic("b")?.partitions.every((p) => p.replicas.length === 3 && p.isr.length === 3)).toBe(true);
    expect(next.partition("c", 1)).toMatchObject({ replicas: [3, 2], leader: 3, leaderEpoch: 0 });
    expect(next.configsOf("topic", "b").get("retention.ms")).toBe("1000");
    expect(next.topic("a")?.topicId).toBe(response[0]!.topicId!);
  });

  test("validateOnly writes nothing but answers as if created", () => {
    const { records, response } = createTopics(ctxOf(clusterOf([1])), [topic("a")], true);
    expect(records).toEqual([]);
    expect(response[0]!.errorCode).toBe(0);
    expect(response[0]!.numPartitions).toBe(3);
  });

  test("each invalid request item gets Kafka's error code", () => {
    const image = applyRecords(clusterOf([1, 2]), createTopics(ctxOf(clusterOf([1, 2])), [topic("exists"), topic("my.topic")], false).records);
    const cases: [CreatableTopic, number][] = [
      [topic("exists"), ErrorCode.TOPIC_ALREADY_EXISTS],
      [topic("my_topic"), ErrorCode.INVALID_TOPIC_EXCEPTION],
      [topic("bad name!"), ErrorCode.INVALID_TOPIC_EXCEPTION],
      [topic(".."), ErrorCode.INVALID_TOPIC_EXCEPTION],
      [topic("x".repeat(250)), ErrorCode.INVALID_TOPIC_EXCEPTION],
      [topic("p0", { numPartitions: 0 }), ErrorCode.INVALID_PARTITIONS],
      [topic("rf3", { replicationFactor: 3 }), ErrorCode.INVALID_REPLICATION_FACTOR],
      [topic("rf0", { replicationFactor: 0 }), ErrorCode.INVALID_REPLICATION_FACTOR],
      [topic("cfg", { configs: [{ name: "retention.ms", value: "soon" }] }), ErrorCode.INVALID_CONFIG],
      [topic("cfg2", { configs: [{ name: "no.such.config", value: "1" }] }), ErrorCode.INVALID_CONFIG],
      [topic("asg", { assignments: [{ partitionIndex: 0, brokerIds: [1, 1] }] }), ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      [topic("asg2", { assignments: [{ partitionIndex: 0, brokerIds: [7] }] }), ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      [topic("asg3", { assignments: [{ partitionIndex: 1, brokerIds: [1] }] }), ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      [topic("asg4", { numPartitions: 1, assignments: [{ partitionIndex: 0, brokerIds: [1] }] }), ErrorCode.INVALID_REQUEST],
      [topic("__cluster_metadata"), ErrorCode.INVALID_REQUEST],
    ];
    for (const [t, code] of cases) {
      const { records, response } = createTopics(ctxOf(image), [t], false);
      expect({ name: t.name.slice(0, 10), code: response[0]!.errorCode }).toEqual({ name: t.name.slice(0, 10), code });
      expect(response[0]!.errorMessage).not.toBeNull();
      expect(records).toEqual([]);
    }
    const dup = createTopics(ctxOf(image), [topic("d"), topic("d")], false);
    expect(dup.response.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
  });
});

describe("partitions per request", () => {
  test("more than 10,000 new partitions in one request fail whole with POLICY_VIOLATION, as Kafka does", () => {
    const image = clusterOf([1]);
    const big = createTopics(ctxOf(image), [topic("a", { numPartitions: 5000 }), topic("b", { numPartitions: 5000 }), topic("c", { numPartitions: 1 })], false);
    expect(big.records).toEqual([]);
    expect(big.response.map((r) => r.errorCode)).toEqual([ErrorCode.POLICY_VIOLATION, ErrorCode.POLICY_VIOLATION, ErrorCode.POLICY_VIOLATION]);
    expect(big.response[0]!.errorMessage).toBe("Excessively large number of partitions per request.");
    const exact = createTopics(ctxOf(image), [topic("a", { numPartitions: 5000 }), topic("b", { numPartitions: 5000 })], false);
    expect(exact.response.map((r) => r.errorCode)).toEqual([0, 0]);
    const next = applyRecords(image, exact.records);
    const grow = createPartitions(ctxOf(next), [{ name: "a", count: 15_001, assignments: null }], false);
    expect(grow.response[0]!.errorCode).toBe(ErrorCode.POLICY_VIOLATION);
    expect(createPartitions(ctxOf(next), [{ name: "a", count: 15_000, assignments: null }], false).response[0]!.errorCode).toBe(0);
  });
});

describe("deleteTopics, createPartitions, alterConfigs, producer ids", () => {
  const base = clusterOf([1, 2]);
  const created = createTopics(ctxOf(base), [topic("t", { numPartitions: 2, replicationFactor: 2 }), topic("__consumer_offsets")], false);
  const image = applyRecords(base, created.records);

  test("delete by name and id; unknown ones and internal topics are refused", () => {
    const id = image.topic("t")!.topicId;
    const { records, response } = deleteTopics(ctxOf(image), [
      { name: "t", topicId: null },
      { name: null, topicId: id },
      { name: "nope", topicId: null },
      { name: null, topicId: randomUuid(new SeededPrng(77)) },
      { name: "__consumer_offsets", topicId: null },
    ]);
    expect(response.map((r) => r.errorCode)).toEqual([0, 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID, ErrorCode.INVALID_TOPIC_EXCEPTION]);
    expect(records.length).toBe(1);
    expect(applyRecords(image, records).topic("t")).toBeUndefined();
  });

  test("createPartitions grows a topic and keeps its replication factor", () => {
    const { records, response } = createPartitions(ctxOf(image), [{ name: "t", count: 5, assignments: null }], false);
    expect(response[0]!.errorCode).toBe(0);
    const next = applyRecords(image, records);
    expect(next.topic("t")!.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4]);
    expect(next.topic("t")!.partitions.every((p) => p.replicas.length === 2)).toBe(true);
    const bad = createPartitions(
      ctxOf(image),
      [
        { name: "t", count: 2, assignments: null },
        { name: "zz", count: 3, assignments: null },
      ],
      false,
    );
    expect(bad.response.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_PARTITIONS, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const asg = createPartitions(ctxOf(image), [{ name: "t", count: 3, assignments: [[1]] }], false);
    expect(asg.response[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  });

  test("incremental and legacy alterConfigs", () => {
    const inc = alterConfigs(
      ctxOf(image),
      [
        {
          resourceType: "topic",
          resourceName: "t",
          incremental: true,
          ops: [
            { name: "retention.ms", op: ConfigOp.SET, value: "5000" },
            { name: "cleanup.policy", op: ConfigOp.APPEND, value: "compact" },
          ],
        },
      ],
      false,
      { check: () => null, checkSet: () => null, isList: () => false },
      1,
    );
    expect(inc.response[0]!.errorCode).toBe(0);
    let next = applyRecords(image, inc.records);
    // APPEND to an unset list starts from its default ("delete"), as Kafka does
    expect(next.configsOf("topic", "t").get("cleanup.policy")).toBe("delete,compact");
    expect(next.configsOf("topic", "t").get("retention.ms")).toBe("5000");
    const legacy = alterConfigs(
      ctxOf(next),
      [{ resourceType: "topic", resourceName: "t", incremental: false, ops: [{ name: "segment.bytes", op: 0, value: "1048576" }] }],
      false,
      { check: () => null, checkSet: () => null, isList: () => false },
      1,
    );
    next = applyRecords(next, legacy.records);
    expect([...next.configsOf("topic", "t").entries()]).toEqual([["segment.bytes", "1048576"]]);
    const bad = alterConfigs(
      ctxOf(next),
      [
        { resourceType: "topic", resourceName: "t", incremental: true, ops: [{ name: "segment.bytes", op: 0, value: "-5" }] },
        { resourceType: "topic", resourceName: "none", incremental: true, ops: [] },
        { resourceType: "topic", resourceName: "t", incremental: true, ops: [{ name: "retention.ms", op: 9, value: "1" }] },
        { resourceType: "broker", resourceName: "1", incremental: true, ops: [{ name: "x", op: 0, value: "1" }] },
      ],
      false,
      { check: (name) => ({ errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `unknown broker config ${name}` }), checkSet: () => null, isList: () => false },
      1,
    );
    expect(bad.response.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_CONFIG, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_CONFIG]);
    expect(bad.records).toEqual([]);
  });

  test("producer id blocks advance", () => {
    const a = allocateProducerIds(ctxOf(image), 1, 1);
    const next = applyRecords(image, a.records);
    const b = allocateProducerIds(ctxOf(next), 1, 1);
    expect(a.response.firstProducerId).toBe(0);
    expect(b.response.firstProducerId).toBe(a.response.size);
  });
});

describe("topic configs", () => {
  test("validation by type and range", () => {
    expect(validateTopicConfig("retention.ms", "-1")).toBeNull();
    expect(validateTopicConfig("retention.ms", "-2")).not.toBeNull();
    expect(validateTopicConfig("retention.ms", "9223372036854775808")).not.toBeNull();
    expect(validateTopicConfig("cleanup.policy", "compact,delete")).toBeNull();
    expect(validateTopicConfig("cleanup.policy", "compress")).not.toBeNull();
    expect(validateTopicConfig("message.timestamp.type", "LogAppendTime")).toBeNull();
    expect(validateTopicConfig("unclean.leader.election.enable", "maybe")).not.toBeNull();
    expect(validateTopicConfig("min.cleanable.dirty.ratio", "1.5")).not.toBeNull();
    expect(validateTopicConfig("nope", "1")).not.toBeNull();
  });

  test("resolution: topic value, else broker value, else Kafka's default", () => {
    const entries = resolveTopicConfigEntries(new Map([["retention.ms", "100"]]), (key) =>
      key === "log.segment.bytes" ? { value: "2048", source: "STATIC_BROKER_CONFIG" } : undefined,
    );
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get("retention.ms")).toEqual({ name: "retention.ms", value: "100", source: "TOPIC_CONFIG" });
    expect(byName.get("segment.bytes")).toEqual({ name: "segment.bytes", value: "2048", source: "STATIC_BROKER_CONFIG" });
    expect(byName.get("cleanup.policy")?.source).toBe("DEFAULT_CONFIG");
    const config = toTopicConfig(entries);
    expect(config.retentionMs).toBe(100);
    expect(config.segmentBytes).toBe(2048);
    expect(config.flushMessages).toBe(Number.MAX_SAFE_INTEGER);
    expect(config.cleanupPolicy).toEqual({ delete: true, compact: false });
  });

  test("topic names", () => {
    expect(topicNameProblem("orders.v1-x_2")).toBeNull();
    expect(topicNameProblem("")).not.toBeNull();
    expect(topicNameProblem("a b")).not.toBeNull();
  });
});

describe("placement over the registered, unfenced brokers", () => {
  const leadersOf = (image: MetadataImage, name: string): number[] => image.topic(name)!.partitions.map((p) => p.leader);

  test("a fresh topic on 3 and 6 brokers spreads leaders evenly; ISR = replicas, leader = first replica, epoch 0", () => {
    for (const [n, racks] of [[3, 0], [6, 2], [6, 3]] as const) {
      const image = clusterImage(brokersOnRacks(n, racks));
      const { records, response } = createTopics(ctxOf(image), [topic("t", { numPartitions: 12, replicationFactor: 3 })], false);
      expect(response[0]).toMatchObject({ errorCode: 0, numPartitions: 12, replicationFactor: 3 });
      const next = applyRecords(image, records);
      const counts = new Map<number, number>();
      for (const l of leadersOf(next, "t")) counts.set(l, (counts.get(l) ?? 0) + 1);
      expect([...counts.values()]).toEqual(Array(n).fill(12 / n));
      for (const p of next.topic("t")!.partitions) {
        expect(p.isr).toEqual(p.replicas);
        expect(p.leader).toBe(p.replicas[0]!);
        expect(p.leaderEpoch).toBe(0);
        if (racks > 0) expect(new Set(p.replicas.map((b) => next.brokers.get(b)!.rack)).size).toBe(Math.min(3, racks));
      }
    }
  });

  test("the default replication factor stays 1", () => {
    const image = clusterImage(brokersOnRacks(3, 0));
    const { response } = createTopics(ctxOf(image), [topic("t")], false);
    expect(response[0]).toMatchObject({ errorCode: 0, replicationFactor: 1 });
  });

  test("fenced brokers take no replicas, and RF above the unfenced count is INVALID_REPLICATION_FACTOR naming both numbers", () => {
    const image = clusterImage([{ id: 1 }, { id: 2 }, { id: 3, fenced: true }]);
    const ok = createTopics(ctxOf(image), [topic("t", { numPartitions: 6, replicationFactor: 2 })], false);
    expect(ok.response[0]!.errorCode).toBe(0);
    const next = applyRecords(image, ok.records);
    expect(next.topic("t")!.partitions.every((p) => !p.replicas.includes(3))).toBe(true);

    const bad = createTopics(ctxOf(image), [topic("u", { numPartitions: 1, replicationFactor: 3 })], false);
    expect(bad.records).toEqual([]);
    expect(bad.response[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(bad.response[0]!.errorMessage).toBe("replication factor 3 is larger than the number of available brokers, 2 (registered and unfenced; 1 more registered but fenced)");

    const grow = createPartitions(ctxOf(next), [{ name: "t", count: 9, assignments: null }], false);
    expect(applyRecords(next, grow.records).topic("t")!.partitions.every((p) => !p.replicas.includes(3))).toBe(true);
    const none = clusterImage([{ id: 1, fenced: true }]);
    const empty = createTopics(ctxOf(none), [topic("v")], false);
    expect(empty.response[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(empty.response[0]!.errorMessage).toContain("available brokers, 0");
    const tooFew = createPartitions(ctxOf(applyRecords(next, [{ type: "brokerFencing", brokerId: 2, brokerEpoch: 1, fenced: true }])), [{ name: "t", count: 7, assignments: null }], false);
    expect(tooFew.response[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
  });

  test("CreatePartitions puts new leaders on brokers that joined since the topic was created", () => {
    const three = clusterImage(brokersOnRacks(3, 0));
    const created = applyRecords(three, createTopics(ctxOf(three), [topic("t", { numPartitions: 3, replicationFactor: 2 })], false).records);
    const six = clusterImage([{ id: 4 }, { id: 5 }, { id: 6 }], created);
    const grown = applyRecords(six, createPartitions(ctxOf(six, 9), [{ name: "t", count: 6, assignments: null }], false).records);
    expect(leadersOf(grown, "t").slice(3).sort()).toEqual([4, 5, 6]);
  });

  test("topics of one request spread as if created one by one", () => {
    const image = clusterImage(brokersOnRacks(3, 0));
    const names = ["a", "b", "c", "d", "e", "f"];
    const { records } = createTopics(ctxOf(image), names.map((n) => topic(n, { numPartitions: 1, replicationFactor: 1 })), false);
    const next = applyRecords(image, records);
    expect(names.map((n) => leadersOf(next, n)[0]!).sort()).toEqual([1, 1, 2, 2, 3, 3]);
  });

  test("explicitly assigned partitions count toward the load of automatic ones in the same request", () => {
    const image = clusterImage(brokersOnRacks(3, 0));
    const manual = topic("m", { assignments: [1, 1, 2, 2].map((b, partitionIndex) => ({ partitionIndex, brokerIds: [b] })) });
    for (let seed = 0; seed < 10; seed++) {
      const { records } = createTopics(ctxOf(image, seed), [manual, topic("a", { numPartitions: 1, replicationFactor: 1 })], false);
      expect(leadersOf(applyRecords(image, records), "a")).toEqual([3]);
    }
  });

  test("explicit assignments: unknown brokers and all-fenced partitions are INVALID_REPLICA_ASSIGNMENT; a fenced replica starts outside the ISR", () => {
    const image = clusterImage([{ id: 1 }, { id: 2 }, { id: 3, fenced: true }]);
    const asg = (...sets: number[][]) => sets.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds }));
    const cases: [number[][], string][] = [
      [[[1, 9]], "partition 0 names broker 9, which is not registered"],
      [[[1, 2], [3]], "partition 1 has 1 replica(s) but the other partitions have 2"],
      [[[3]], "every broker named for partition 0 ([3]) is fenced"],
      [[[2, 2]], "partition 0 names a broker twice: [2,2]"],
      [[[]], "partition 0 has an empty replica list"],
    ];
    for (const [sets, message] of cases) {
      const { records, response } = createTopics(ctxOf(image), [topic("m", { assignments: asg(...sets) })], false);
      expect(response[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: message });
      expect(records).toEqual([]);
    }
    const ok = createTopics(ctxOf(image), [topic("m", { assignments: asg([3, 2], [1, 3]) })], false);
    expect(ok.response[0]!.errorCode).toBe(0);
    const next = applyRecords(image, ok.records);
    expect(next.partition("m", 0)).toMatchObject({ replicas: [3, 2], isr: [2], leader: 2 });
    expect(next.partition("m", 1)).toMatchObject({ replicas: [1, 3], isr: [1], leader: 1 });

    const grow = createPartitions(ctxOf(next), [{ name: "m", count: 3, assignments: [[9, 1]] }], false);
    expect(grow.response[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: "partition 2 names broker 9, which is not registered" });
    const grow2 = createPartitions(ctxOf(next), [{ name: "m", count: 3, assignments: [[2]] }], false);
    expect(grow2.response[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: "partition 2 has 1 replica(s) but the other partitions have 2" });
  });
});
