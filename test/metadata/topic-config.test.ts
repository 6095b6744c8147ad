import { describe, expect, test } from "bun:test";
import { alterConfigs, applyRecords, ConfigOp, createTopics, type ControllerContext } from "../../src/metadata/controller.ts";
import { MetadataImage } from "../../src/metadata/image.ts";
import {
  IGNORED_TOPIC_CONFIGS,
  kafkaVersionProblem,
  resolveTopicConfigEntries,
  TOPIC_CONFIG_DEFS,
  TOPIC_CONFIGS,
  topicConfigSetProblem,
  toTopicConfig,
  validateTopicConfig,
} from "../../src/metadata/topic-config.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { logConfigOf } from "../../src/replication/topic-log-config.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";

/** Every topic-level config Kafka 3.x documents (3.8+ adds the compression levels, 3.9 remote.log.*). */
const KAFKA_3_TOPIC_CONFIGS = [
  "cleanup.policy",
  "compression.gzip.level",
  "compression.lz4.level",
  "compression.type",
  "compression.zstd.level",
  "delete.retention.ms",
  "file.delete.delay.ms",
  "flush.messages",
  "flush.ms",
  "follower.replication.throttled.replicas",
  "index.interval.bytes",
  "leader.replication.throttled.replicas",
  "local.retention.bytes",
  "local.retention.ms",
  "max.compaction.lag.ms",
  "max.message.bytes",
  "message.downconversion.enable",
  "message.format.version",
  "message.timestamp.after.max.ms",
  "message.timestamp.before.max.ms",
  "message.timestamp.difference.max.ms",
  "message.timestamp.type",
  "min.cleanable.dirty.ratio",
  "min.compaction.lag.ms",
  "min.insync.replicas",
  "preallocate",
  "remote.log.copy.disable",
  "remote.log.delete.on.disable",
  "remote.storage.enable",
  "retention.bytes",
  "retention.ms",
  "segment.bytes",
  "segment.index.bytes",
  "segment.jitter.ms",
  "segment.ms",
  "unclean.leader.election.enable",
];

const valid = (name: string, value: string): boolean => validateTopicConfig(name, value) === null;

describe("the topic config set", () => {
  test("is exactly Kafka 3.x's topic-level configs, each with a valid default", () => {
    expect(TOPIC_CONFIG_DEFS.map((d) => d.name).sort()).toEqual([...KAFKA_3_TOPIC_CONFIGS].sort());
    for (const d of TOPIC_CONFIG_DEFS) expect([d.name, validateTopicConfig(d.name, d.defaultValue)]).toEqual([d.name, null]);
  });

  test("configs without effect say why; the rest are honoured", () => {
    expect(IGNORED_TOPIC_CONFIGS.map((c) => c.name).sort()).toEqual(
      [
        "compression.lz4.level",
        "follower.replication.throttled.replicas",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "message.downconversion.enable",
        "message.format.version",
        "preallocate",
        "remote.log.copy.disable",
        "remote.log.delete.on.disable",
        "remote.storage.enable",
        "segment.jitter.ms",
      ].sort(),
    );
    for (const c of IGNORED_TOPIC_CONFIGS) expect(c.why.length).toBeGreaterThan(20);
    expect(TOPIC_CONFIGS.get("compression.type")!.effect.kind).toBe("honoured");
    expect(TOPIC_CONFIGS.get("unclean.leader.election.enable")!.effect.kind).toBe("honoured");
  });

  test("a full read-back set (what DescribeConfigs shows) is accepted as an AlterConfigs set", () => {
    // librdkafka's test_AlterConfigs_simple writes every described value back.
    const entries = resolveTopicConfigEntries(new Map(), () => undefined);
    for (const e of entries) expect([e.name, validateTopicConfig(e.name, e.value)]).toEqual([e.name, null]);
    expect(topicConfigSetProblem(new Map(entries.map((e) => [e.name, e.value])))).toBeNull();
  });
});

describe("value validation, as Kafka's LogConfig", () => {
  test("compression.type and levels", () => {
    for (const v of ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer", " gzip "]) expect(valid("compression.type", v)).toBe(true);
    for (const v of ["none", "GZIP", "", "brotli"]) expect(valid("compression.type", v)).toBe(false);
    for (const v of ["-1", "1", "9"]) expect(valid("compression.gzip.level", v)).toBe(true);
    for (const v of ["0", "10", "-2", "x"]) expect(valid("compression.gzip.level", v)).toBe(false);
    for (const v of ["1", "17"]) expect(valid("compression.lz4.level", v)).toBe(true);
    for (const v of ["0", "18"]) expect(valid("compression.lz4.level", v)).toBe(false);
    for (const v of ["-131072", "0", "22"]) expect(valid("compression.zstd.level", v)).toBe(true);
    for (const v of ["-131073", "23"]) expect(valid("compression.zstd.level", v)).toBe(false);
  });

  test("message.format.version takes Kafka version strings", () => {
    for (const v of ["0.8.2", "0.10.0", "0.10.0.0", "0.10.0-IV1", "0.11.0.3", "1.0", "2.8", "2.8.1", "2.8-IV1", "3.0-IV1", "3.9"]) {
      expect([v, kafkaVersionProblem(v)]).toEqual([v, null]);
    }
    for (const v of ["", "abc", "0.7.0", "0.10", "3.0-foo", "3.0-IV1-IV2", "5.0", "3.x"]) expect(kafkaVersionProblem(v)).not.toBeNull();
    expect(valid("message.format.version", "0.10.0.0")).toBe(true);
    expect(valid("message.downconversion.enable", "FALSE")).toBe(true);
    expect(valid("message.downconversion.enable", "no")).toBe(false);
  });

  test("timestamps, throttled replicas, tiered storage, compaction lag, jitter", () => {
    for (const n of ["message.timestamp.before.max.ms", "message.timestamp.after.max.ms", "message.timestamp.difference.max.ms"]) {
      expect(valid(n, "0")).toBe(true);
      expect(valid(n, "9223372036854775807")).toBe(true);
      expect(valid(n, "-1")).toBe(false);
    }
    for (const n of ["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"]) {
      for (const v of ["", "*", "0:1", "0:1, 1:2"]) expect([v, valid(n, v)]).toEqual([v, true]);
      for (const v of ["a:b", "*,0:1", "0", "0:1:2"]) expect([v, valid(n, v)]).toEqual([v, false]);
    }
    expect(valid("remote.storage.enable", "false")).toBe(true);
    expect(validateTopicConfig("remote.storage.enable", "true")).toContain("tiered storage");
    expect(valid("remote.log.copy.disable", "true")).toBe(true);
    expect(valid("local.retention.ms", "-2")).toBe(true);
    expect(valid("local.retention.bytes", "-3")).toBe(false);
    expect(valid("max.compaction.lag.ms", "0")).toBe(false);
    expect(valid("segment.jitter.ms", "-1")).toBe(false);
    expect(valid("segment.index.bytes", "4")).toBe(true);
    expect(valid("preallocate", "true")).toBe(true);
  });

  test("min.compaction.lag.ms may not exceed max.compaction.lag.ms", () => {
    expect(topicConfigSetProblem(new Map([["max.compaction.lag.ms", "1000"]]))).toBeNull();
    expect(topicConfigSetProblem(new Map([["min.compaction.lag.ms", "1000"], ["max.compaction.lag.ms", "1000"]]))).toBeNull();
    expect(topicConfigSetProblem(new Map([["min.compaction.lag.ms", "1001"], ["max.compaction.lag.ms", "1000"]]))).toContain("min.compaction.lag.ms");
  });
});

describe("typed topic config", () => {
  const typed = (values: [string, string][], broker: Record<string, string> = {}) =>
    toTopicConfig(
      resolveTopicConfigEntries(new Map(values), (key) => (broker[key] === undefined ? undefined : { value: broker[key]!, source: "STATIC_BROKER_CONFIG" })),
    );

  test("compression: the topic's value, else the broker's compression.type, else producer", () => {
    expect(typed([]).compressionType).toBe("producer");
    expect(typed([], { "compression.type": "zstd" }).compressionType).toBe("zstd");
    expect(typed([["compression.type", "uncompressed"]], { "compression.type": "zstd" }).compressionType).toBe("uncompressed");
    expect(typed([]).compressionGzipLevel).toBe(-1);
    expect(typed([["compression.zstd.level", "-5"]]).compressionZstdLevel).toBe(-5);
  });

  test("max.compaction.lag.ms reaches the log config; Long.MAX_VALUE is no bound", () => {
    expect(logConfigOf(typed([])).maxCompactionLagMs).toBe(Number.POSITIVE_INFINITY);
    expect(logConfigOf(typed([], { "log.cleaner.max.compaction.lag.ms": "3600000" })).maxCompactionLagMs).toBe(3600000);
    expect(logConfigOf(typed([["max.compaction.lag.ms", "60000"]])).maxCompactionLagMs).toBe(60000);
  });

  test("timestamp bounds fall back to message.timestamp.difference.max.ms while unset", () => {
    const none = typed([]);
    expect([none.messageTimestampBeforeMaxMs, none.messageTimestampAfterMaxMs]).toEqual([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    const diff = typed([["message.timestamp.difference.max.ms", "5000"]]);
    expect([diff.messageTimestampBeforeMaxMs, diff.messageTimestampAfterMaxMs]).toEqual([5000, 5000]);
    const both = typed([
      ["message.timestamp.difference.max.ms", "5000"],
      ["message.timestamp.after.max.ms", "100"],
    ]);
    expect([both.messageTimestampBeforeMaxMs, both.messageTimestampAfterMaxMs]).toEqual([5000, 100]);
    const broker = typed([], { "log.message.timestamp.before.max.ms": "60000" });
    expect(broker.messageTimestampBeforeMaxMs).toBe(60000);
  });
});

describe("the controller with the full config set", () => {
  const prng = new SeededPrng(3);
  const cluster = applyRecords(MetadataImage.EMPTY, [
    { type: "registerBroker", brokerId: 1, incarnationId: randomUuid(prng), brokerEpoch: 1, endpoints: [], rack: null, fenced: false },
  ]);
  const ctx = (image: MetadataImage): ControllerContext => ({ image, prng: new SeededPrng(1), defaults: { numPartitions: 1, defaultReplicationFactor: 1 } });
  const create = (configs: { name: string; value: string | null }[]) =>
    createTopics(ctx(cluster), [{ name: "t", numPartitions: 1, replicationFactor: 1, assignments: [], configs }], false);

  test("CreateTopics takes compression.type and deprecated configs, refuses bad values", () => {
    const ok = create([
      { name: "compression.type", value: "lz4" },
      { name: "message.format.version", value: "2.8" },
      { name: "message.downconversion.enable", value: "false" },
      { name: "delete.retention.ms", value: "900" },
    ]);
    expect(ok.response[0]).toMatchObject({ errorCode: ErrorCode.NONE });
    const image = applyRecords(cluster, ok.records);
    expect(image.configsOf("topic", "t").get("compression.type")).toBe("lz4");
    for (const bad of [
      [{ name: "compression.type", value: "brotli" }],
      [{ name: "remote.storage.enable", value: "true" }],
      [
        { name: "min.compaction.lag.ms", value: "10" },
        { name: "max.compaction.lag.ms", value: "5" },
      ],
    ]) {
      expect(create(bad).response[0]!.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    }
  });

  test("legacy AlterConfigs: a repeated key takes its last value; incremental refuses it; APPEND works on any list config", () => {
    const image = applyRecords(cluster, create([]).records);
    const legacy = alterConfigs(
      ctx(image),
      [
        {
          resourceType: "topic",
          resourceName: "t",
          incremental: false,
          ops: [
            { name: "message.format.version", op: 0, value: "3.0-IV1" },
            { name: "message.format.version", op: 0, value: "0.10.0.0" },
          ],
        },
      ],
      false,
      { check: () => null, checkSet: () => null, isList: () => false },
      1,
    );
    expect(legacy.response[0]!.errorCode).toBe(ErrorCode.NONE);
    const next = applyRecords(image, legacy.records);
    expect(next.configsOf("topic", "t").get("message.format.version")).toBe("0.10.0.0");

    const twice = alterConfigs(
      ctx(next),
      [
        {
          resourceType: "topic",
          resourceName: "t",
          incremental: true,
          ops: [
            { name: "retention.ms", op: ConfigOp.SET, value: "1" },
            { name: "retention.ms", op: ConfigOp.SET, value: "2" },
          ],
        },
      ],
      false,
      { check: () => null, checkSet: () => null, isList: () => false },
      1,
    );
    expect(twice.response[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST);

    const append = alterConfigs(
      ctx(next),
      [{ resourceType: "topic", resourceName: "t", incremental: true, ops: [{ name: "leader.replication.throttled.replicas", op: ConfigOp.APPEND, value: "0:1" }] }],
      false,
      { check: () => null, checkSet: () => null, isList: () => false },
      1,
    );
    expect(append.response[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(applyRecords(next, append.records).configsOf("topic", "t").get("leader.replication.throttled.replicas")).toBe("0:1");
    const notList = alterConfigs(
      ctx(next),
      [{ resourceType: "topic", resourceName: "t", incremental: true, ops: [{ name: "compression.type", op: ConfigOp.APPEND, value: "gzip" }] }],
      false,
      { check: () => null, checkSet: () => null, isList: () => false },
      1,
    );
    expect(notList.response[0]!.errorCode).toBe(ErrorCode.INVALID_CONFIG);
  });
});
