/**
 * Admin and metadata handlers through the real dispatcher: ApiVersions (incl. the v0
 * UNSUPPORTED_VERSION fallback), Metadata (all/specific/auto-create/ids/errors),
 * CreateTopics, DeleteTopics, CreatePartitions, Describe/Alter/IncrementalAlter configs,
 * DescribeCluster, DescribeLogDirs.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ZERO_UUID } from "../../../src/metadata/uuid.ts";
import { flattenChunks } from "../../../src/protocol/codec/writer.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { decodeResponse, encodeRequest } from "../../../src/protocol/frame.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { defaultCreatableTopic, defaultCreateTopicsRequest } from "../../../src/protocol/messages/create-topics-request.ts";
import { defaultMetadataRequest } from "../../../src/protocol/messages/metadata-request.ts";
import { ProtocolViolation } from "../../../src/server/dispatch.ts";
import { handlers } from "../../../src/server/handlers/index.ts";
import type { BrokerSettings } from "../../../src/server/services.ts";
import { startTestBroker, testConnection, type TestBroker } from "../harness.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

async function start(settings: Partial<BrokerSettings> = {}): Promise<TestBroker> {
  b = await startTestBroker({ handlers, settings, brokerConfigs: { "log.retention.ms": "3600000" } });
  return b;
}

const metadataRequest = (topics: string[] | null, allowAutoTopicCreation = true) => ({
  ...defaultMetadataRequest(),
  topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
  allowAutoTopicCreation,
});

const createRequest = (topics: { name: string; numPartitions?: number; replicationFactor?: number; configs?: Record<string, string> }[], validateOnly = false) => ({
  ...defaultCreateTopicsRequest(),
  timeoutMs: 1000,
  validateOnly,
  topics: topics.map((t) => ({
    ...defaultCreatableTopic(),
    name: t.name,
    numPartitions: t.numPartitions ?? -1,
    replicationFactor: t.replicationFactor ?? -1,
    configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
  })),
});

describe("ApiVersions and dispatch", () => {
  test("every version lists the served APIs; Produce is advertised from v0; v3+ finalizes metadata.version", async () => {
    const br = await start();
    for (let v = 0; v <= 4; v++) {
      const r = (await br.send(ApiKeys.ApiVersions, v, { clientSoftwareName: "t", clientSoftwareVersion: "1" }))!;
      expect(r.errorCode).toBe(ErrorCode.NONE);
      const produce = r.apiKeys.find((k) => k.apiKey === ApiKeys.Produce)!;
      expect([produce.minVersion, produce.maxVersion]).toEqual([0, 11]);
      const fetch = r.apiKeys.find((k) => k.apiKey === ApiKeys.Fetch)!;
      expect(fetch.minVersion).toBeLessThanOrEqual(10);
      expect(fetch.maxVersion).toBeGreaterThanOrEqual(16);
      expect(r.apiKeys.map((k) => k.apiKey)).toEqual(handlers.map((h) => h.apiKey as number).sort((x, y) => x - y));
      if (v >= 3) expect(r.finalizedFeatures.map((f) => f.name)).toEqual(["metadata.version"]);
    }
  });

  test("a newer ApiVersions version gets a v0 response with UNSUPPORTED_VERSION and our ranges", async () => {
    const br = await start();
    // ApiVersions v9 does not exist: header (key 18, version 9, correlation 42, client id "x") and no body.
    const frame = new Uint8Array([0, 18, 0, 9, 0, 0, 0, 42, 0, 1, 120]);
    const out = await br.dispatch(frame, testConnection);
    const { header, body } = decodeResponse(ApiKeys.ApiVersions, 0, flattenChunks(out!));
    expect(header.correlationId).toBe(42);
    expect(body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(body.apiKeys.find((k) => k.apiKey === ApiKeys.ApiVersions)?.maxVersion).toBe(4);
  });

  test("an unserved API, an out-of-range version and malformed bytes close the connection", async () => {
    const br = await start();
    const payload = (apiKey: number, version: number) =>
      flattenChunks(encodeRequest(ApiKeys.ApiVersions, 0, 1, "x", { clientSoftwareName: "", clientSoftwareVersion: "" })).subarray(4).map((x, i) =>
        i === 1 ? apiKey : i === 3 ? version : x,
      );
    // Key 57 (UpdateFeatures) is known to the codec but not served.
    await expect(br.dispatch(payload(57, 0), testConnection)).rejects.toBeInstanceOf(ProtocolViolation);
    // Metadata v13 is beyond the codec; key 200 is unknown.
    await expect(br.dispatch(payload(3, 13), testConnection)).rejects.toBeInstanceOf(ProtocolViolation);
    await expect(br.dispatch(payload(200, 0), testConnection)).rejects.toBeInstanceOf(ProtocolViolation);
    await expect(br.dispatch(new Uint8Array([0, 3, 0, 1, 0, 0]), testConnection)).rejects.toBeInstanceOf(ProtocolViolation);
  });
});

describe("Metadata", () => {
  test("all topics, specific topics, unknown and invalid names, ids from v10", async () => {
    const br = await start();
    const idA = await br.createTopic("alpha", 3);
    await br.createTopic("beta", 1);
    for (const v of [0, 1, 4, 9, 10, 12]) {
      const all = (await br.send(ApiKeys.Metadata, v, metadataRequest(v === 0 ? [] : null, v < 4)))!;
      expect(all.topics.map((t) => t.name)).toEqual(["alpha", "beta"]);
      expect(all.brokers).toEqual([{ ...all.brokers[0]!, nodeId: 1, host: "127.0.0.1", port: 9092 }]);
      const alpha = all.topics[0]!;
      expect(alpha.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes, p.isrNodes, p.errorCode])).toEqual([
        [0, 1, [1], [1], 0],
        [1, 1, [1], [1], 0],
        [2, 1, [1], [1], 0],
      ]);
      expect(alpha.topicId).toBe(v >= 10 ? idA : ZERO_UUID);
      if (v >= 2) expect(all.clusterId).toBe(br.services.settings.clusterId);
    }
    // A v1+ empty list asks for no topics (librdkafka's broker-only refresh).
    expect((await br.send(ApiKeys.Metadata, 9, metadataRequest([], false)))!.topics).toEqual([]);
    const some = (await br.send(ApiKeys.Metadata, 12, metadataRequest(["beta", "nope", "bad name"], false)))!;
    expect(some.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["beta", 0],
      ["nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ["bad name", ErrorCode.INVALID_TOPIC_EXCEPTION],
    ]);
    const byId = (await br.send(ApiKeys.Metadata, 12, { ...defaultMetadataRequest(), topics: [{ topicId: idA, name: null }, { topicId: "AAAAAAAAAAAAAAAAAAAAAQ", name: null }] }))!;
    expect(byId.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["alpha", 0],
      [null, ErrorCode.UNKNOWN_TOPIC_ID],
    ]);
  });

  test("auto-creation follows the request flag and auto.create.topics.enable", async () => {
    const off = await start({ autoCreateTopicsEnable: false });
    expect((await off.send(ApiKeys.Metadata, 9, metadataRequest(["fresh"])))!.topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    off.close();
    const on = await start({ autoCreateTopicsEnable: true, numPartitions: 4 });
    expect((await on.send(ApiKeys.Metadata, 9, metadataRequest(["not-allowed"], false)))!.topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const r = (await on.send(ApiKeys.Metadata, 9, metadataRequest(["fresh", "fresh", "__consumer_offsets", "bad!"])))!;
    expect(r.topics.map((t) => [t.name, t.errorCode, t.partitions.length])).toEqual([
      ["fresh", 0, 4],
      ["fresh", 0, 4],
      ["__consumer_offsets", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
      ["bad!", ErrorCode.INVALID_TOPIC_EXCEPTION, 0],
    ]);
    // v0–v3 have no flag: they always ask for creation.
    expect((await on.send(ApiKeys.Metadata, 3, metadataRequest(["old-client"])))!.topics[0]!.errorCode).toBe(0);
    expect(on.logs.getLog({ topic: "fresh", partition: 3 })).not.toBeNull();
  });
});

describe("CreateTopics, DeleteTopics, CreatePartitions", () => {
  test("create with defaults, configs and validateOnly; v5+ answers the resolved configs", async () => {
    const br = await start({ numPartitions: 2 });
    const dry = (await br.send(ApiKeys.CreateTopics, 7, createRequest([{ name: "d" }], true)))!;
    expect(dry.topics[0]).toMatchObject({ name: "d", errorCode: 0, numPartitions: 2, replicationFactor: 1 });
    expect(br.metadata.image.topic("d")).toBeUndefined();
    const r = (await br.send(ApiKeys.CreateTopics, 7, createRequest([{ name: "c", numPartitions: 3, configs: { "cleanup.policy": "compact" } }])))!;
    const created = r.topics[0]!;
    expect(created).toMatchObject({ name: "c", errorCode: 0, numPartitions: 3, replicationFactor: 1 });
    expect(created.topicId).toBe(br.metadata.image.topic("c")!.topicId);
    const configs = new Map(created.configs!.map((c) => [c.name, c]));
    expect(configs.get("cleanup.policy")).toMatchObject({ value: "compact", configSource: 1 });
    expect(configs.get("retention.ms")).toMatchObject({ value: "3600000", configSource: 4 });
    expect(configs.get("segment.bytes")).toMatchObject({ value: "1073741824", configSource: 5 });
    const again = (await br.send(ApiKeys.CreateTopics, 4, createRequest([{ name: "c" }, { name: "x", replicationFactor: 2 }, { name: "y", configs: { "retention.ms": "x" } }])))!;
    expect(again.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["c", ErrorCode.TOPIC_ALREADY_EXISTS],
      ["x", ErrorCode.INVALID_REPLICATION_FACTOR],
      ["y", ErrorCode.INVALID_CONFIG],
    ]);
    expect(again.topics.every((t) => t.errorMessage !== null)).toBe(true);
    // v0 carries no error message: the decoded field is the schema's default.
    expect((await br.send(ApiKeys.CreateTopics, 0, createRequest([{ name: "c" }])))!.topics[0]).toMatchObject({ errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: "" });
  });

  test("a metadata log that cannot take the change answers every item with an error, not a closed connection", async () => {
    const br = await start();
    await br.createTopic("exists", 1);
    br.store.failNext = true;
    const create = (await br.send(ApiKeys.CreateTopics, 7, createRequest([{ name: "n1" }, { name: "n2" }])))!;
    expect(create.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["n1", ErrorCode.UNKNOWN_SERVER_ERROR],
      ["n2", ErrorCode.UNKNOWN_SERVER_ERROR],
    ]);
    expect(create.topics[0]!.errorMessage).toContain("injected metadata store failure");
    br.store.failNext = true;
    const del = (await br.send(ApiKeys.DeleteTopics, 5, { topics: [], topicNames: ["exists"], timeoutMs: 1000 }))!;
    expect(del.responses[0]!.errorCode).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    expect(br.metadata.image.topic("exists")).toBeDefined();
    // The next change goes through: nothing was left half-applied.
    const again = (await br.send(ApiKeys.CreateTopics, 7, createRequest([{ name: "n1" }])))!;
    expect(again.topics[0]!.errorCode).toBe(0);
    expect(br.logLines.lines.some((l) => l.includes("metadata change failed"))).toBe(true);
  });

  test("a topic of 8,000 partitions is created: its records exceed max.message.bytes but fit one metadata batch", async () => {
    const br = await start();
    const r = (await br.send(ApiKeys.CreateTopics, 7, createRequest([{ name: "wide", numPartitions: 8000 }])))!;
    expect(r.topics[0]).toMatchObject({ name: "wide", errorCode: 0, numPartitions: 8000 });
    expect(br.metadata.image.topic("wide")!.partitions.length).toBe(8000);
    expect(br.logs.getLog({ topic: "wide", partition: 7999 })).not.toBeNull();
  });

  test("delete by name (v1) and by id (v6); the logs go; disabled deletion is refused", async () => {
    const br = await start();
    await br.createTopic("a", 2);
    const idB = await br.createTopic("b", 1);
    const byName = (await br.send(ApiKeys.DeleteTopics, 1, { topics: [], topicNames: ["a", "zz"], timeoutMs: 1000 }))!;
    expect(byName.responses.map((r) => [r.name, r.errorCode])).toEqual([
      ["a", 0],
      ["zz", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    expect(br.logs.getLog({ topic: "a", partition: 1 })).toBeNull();
    const byId = (await br.send(ApiKeys.DeleteTopics, 6, { topics: [{ name: null, topicId: idB }], topicNames: [], timeoutMs: 1000 }))!;
    expect(byId.responses.map((r) => [r.name, r.topicId, r.errorCode])).toEqual([["b", idB, 0]]);
    br.close();
    const locked = await start({ deleteTopicEnable: false });
    await locked.createTopic("keep", 1);
    const refused = (await locked.send(ApiKeys.DeleteTopics, 5, { topics: [], topicNames: ["keep"], timeoutMs: 1000 }))!;
    expect(refused.responses[0]!.errorCode).toBe(ErrorCode.TOPIC_DELETION_DISABLED);
    expect(locked.metadata.image.topic("keep")).toBeDefined();
  });

  test("create partitions grows a topic; shrinking is INVALID_PARTITIONS", async () => {
    const br = await start();
    await br.createTopic("g", 1);
    const r = (await br.send(ApiKeys.CreatePartitions, 3, {
      topics: [
        { name: "g", count: 3, assignments: null },
        { name: "none", count: 2, assignments: null },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    }))!;
    expect(r.results.map((x) => [x.name, x.errorCode])).toEqual([
      ["g", 0],
      ["none", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    expect(br.logs.getLog({ topic: "g", partition: 2 })).not.toBeNull();
    const shrink = (await br.send(ApiKeys.CreatePartitions, 0, { topics: [{ name: "g", count: 2, assignments: null }], timeoutMs: 1000, validateOnly: false }))!;
    expect(shrink.results[0]!.errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
  });
});

describe("configs", () => {
  test("describe a topic's configs with sources and synonyms; alter them incrementally and wholesale", async () => {
    const br = await start();
    await br.createTopic("t", 1, { "retention.ms": "1000" });
    const describe = async (v: number, keys: string[] | null = null, includeSynonyms = v >= 1) =>
      (await br.send(ApiKeys.DescribeConfigs, v, { resources: [{ resourceType: 2, resourceName: "t", configurationKeys: keys }], includeSynonyms, includeDocumentation: false }))!;
    const d = (await describe(4)).results[0]!;
    expect(d.errorCode).toBe(0);
    const retention = d.configs.find((c) => c.name === "retention.ms")!;
    expect(retention).toMatchObject({ value: "1000", configSource: 1, configType: 5, readOnly: false });
    expect(retention.synonyms.map((s) => [s.name, s.value, s.source])).toEqual([
      ["retention.ms", "1000", 1],
      ["log.retention.ms", "3600000", 4],
      ["log.retention.ms", "604800000", 5],
    ]);
    const v0 = (await describe(0, ["segment.bytes"])).results[0]!;
    expect(v0.configs.map((c) => [c.name, c.isDefault])).toEqual([["segment.bytes", true]]);

    const inc = (await br.send(ApiKeys.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 2, resourceName: "t", configs: [{ name: "retention.ms", configOperation: 1, value: null }, { name: "max.message.bytes", configOperation: 0, value: "5000" }] }],
      validateOnly: false,
    }))!;
    expect(inc.responses[0]!.errorCode).toBe(0);
    const after = new Map((await describe(4)).results[0]!.configs.map((c) => [c.name, c]));
    expect(after.get("retention.ms")).toMatchObject({ value: "3600000", configSource: 4 });
    expect(after.get("max.message.bytes")).toMatchObject({ value: "5000", configSource: 1 });

    const legacy = (await br.send(ApiKeys.AlterConfigs, 2, { resources: [{ resourceType: 2, resourceName: "t", configs: [{ name: "segment.ms", value: "60000" }] }], validateOnly: false }))!;
    expect(legacy.responses[0]!.errorCode).toBe(0);
    const replaced = new Map((await describe(4)).results[0]!.configs.map((c) => [c.name, c]));
    expect(replaced.get("max.message.bytes")?.configSource).toBe(5);
    expect(replaced.get("segment.ms")).toMatchObject({ value: "60000", configSource: 1 });

    const bad = (await br.send(ApiKeys.IncrementalAlterConfigs, 0, {
      resources: [
        { resourceType: 2, resourceName: "t", configs: [{ name: "no.such", configOperation: 0, value: "1" }] },
        { resourceType: 2, resourceName: "missing", configs: [] },
        { resourceType: 4, resourceName: "1", configs: [{ name: "log.retention.ms", configOperation: 0, value: "1" }] },
        { resourceType: 8, resourceName: "1", configs: [] },
      ],
      validateOnly: false,
    }))!;
    expect(bad.responses.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_CONFIG, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_REQUEST]);
    const missing = (await br.send(ApiKeys.DescribeConfigs, 1, { resources: [{ resourceType: 2, resourceName: "missing", configurationKeys: null }], includeSynonyms: false, includeDocumentation: false }))!;
    expect(missing.results[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("compression.type and the deprecated topic configs: created, described with their sources, altered", async () => {
    b = await startTestBroker({ handlers, brokerConfigs: { "compression.type": "zstd" } });
    const br = b;
    const created = (await br.send(ApiKeys.CreateTopics, 7, createRequest([{ name: "c", configs: { "compression.type": "lz4", "message.format.version": "0.10.0" } }, { name: "d" }])))!;
    expect(created.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["c", 0],
      ["d", 0],
    ]);
    expect(created.topics[0]!.configs?.find((e) => e.name === "compression.type")).toMatchObject({ value: "lz4", configSource: 1 });
    const describe = async (topic: string) =>
      new Map(
        (await br.send(ApiKeys.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }], includeSynonyms: true, includeDocumentation: false }))!.results[0]!.configs.map(
          (c) => [c.name, c],
        ),
      );
    const c = await describe("c");
    expect(c.get("compression.type")).toMatchObject({ value: "lz4", configSource: 1, configType: 2 });
    expect(c.get("compression.type")!.synonyms.map((s) => [s.name, s.value, s.source])).toEqual([
      ["compression.type", "lz4", 1],
      ["compression.type", "zstd", 4],
      ["compression.type", "producer", 5],
    ]);
    expect(c.get("message.format.version")).toMatchObject({ value: "0.10.0", configSource: 1 });
    const d = await describe("d");
    // The broker's compression.type is the default of topics that set none.
    expect(d.get("compression.type")).toMatchObject({ value: "zstd", configSource: 4 });
    expect(d.get("compression.gzip.level")).toMatchObject({ value: "-1", configSource: 5, configType: 3 });
    expect(d.get("message.format.version")).toMatchObject({ value: "3.0-IV1", configSource: 5 });
    expect(d.get("message.downconversion.enable")).toMatchObject({ value: "true", configType: 1 });
    expect(d.get("leader.replication.throttled.replicas")).toMatchObject({ value: "", configType: 7 });
    expect(d.get("leader.replication.throttled.replicas")!.synonyms.map((s) => [s.name, s.source])).toEqual([["leader.replication.throttled.replicas", 5]]);
    expect(br.replicas.topicConfig("d").compressionType).toBe("zstd");

    // Everything described, written back with one change (librdkafka's test_AlterConfigs_simple).
    const readBack = [...d.values()].map((e) => ({ name: e.name, value: e.value }));
    const legacy = (await br.send(ApiKeys.AlterConfigs, 2, {
      resources: [{ resourceType: 2, resourceName: "d", configs: [...readBack, { name: "compression.type", value: "gzip" }, { name: "message.format.version", value: "0.10.0.0" }] }],
      validateOnly: false,
    }))!;
    expect([legacy.responses[0]!.errorCode, legacy.responses[0]!.errorMessage]).toEqual([0, null]);
    expect((await describe("d")).get("compression.type")).toMatchObject({ value: "gzip", configSource: 1 });
    expect(br.replicas.topicConfig("d").compressionType).toBe("gzip");
    const inc = (await br.send(ApiKeys.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 2, resourceName: "d", configs: [{ name: "compression.type", configOperation: 0, value: "snappy!" }] }],
      validateOnly: false,
    }))!;
    expect(inc.responses[0]!.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(inc.responses[0]!.errorMessage).toContain("compression.type");
  });

  test("describe this broker's configs; another broker id is refused", async () => {
    const br = await start({
      brokerConfigs: () => [{ name: "num.partitions", value: "3", source: "STATIC_BROKER_CONFIG", readOnly: true, sensitive: false, type: "INT" }],
    });
    const r = (await br.send(ApiKeys.DescribeConfigs, 4, {
      resources: [
        { resourceType: 4, resourceName: "1", configurationKeys: null },
        { resourceType: 4, resourceName: "7", configurationKeys: null },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    }))!;
    expect(r.results[0]!.configs.map((c) => [c.name, c.value, c.configSource, c.configType, c.readOnly])).toEqual([["num.partitions", "3", 4, 3, true]]);
    expect(r.results[1]!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });
});

describe("DescribeCluster and DescribeLogDirs", () => {
  test("cluster id, controller and brokers; partition sizes per log dir", async () => {
    const br = await start();
    const cluster = (await br.send(ApiKeys.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 }))!;
    expect(cluster).toMatchObject({ errorCode: 0, clusterId: br.services.settings.clusterId, controllerId: 1, endpointType: 1 });
    expect(cluster.brokers.map((x) => [x.brokerId, x.host, x.port])).toEqual([[1, "127.0.0.1", 9092]]);
    const controllers = (await br.send(ApiKeys.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 }))!;
    expect(controllers.errorCode).toBe(ErrorCode.UNSUPPORTED_ENDPOINT_TYPE);

    await br.createTopic("sized", 2);
    const dirs = (await br.send(ApiKeys.DescribeLogDirs, 4, { topics: [{ topic: "sized", partitions: [1] }] }))!;
    expect(dirs.results.length).toBe(1);
    expect(dirs.results[0]!.errorCode).toBe(0);
    expect(dirs.results[0]!.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([["sized", [1]]]);
    const all = (await br.send(ApiKeys.DescribeLogDirs, 0, { topics: null }))!;
    expect(all.results[0]!.topics.find((t) => t.name === "sized")!.partitions.length).toBe(2);
  });

  test("v4 total and usable bytes come from the disk monitor's sample of the dir's filesystem", async () => {
    const br = await start();
    br.sim!.setCapacity(64 << 20);
    br.sim!.setOtherUsedBytes(16 << 20);
    br.services.logs.disk.sampleAll();
    const dirs = (await br.send(ApiKeys.DescribeLogDirs, 4, { topics: null }))!;
    const r = dirs.results[0]!;
    expect(r.totalBytes).toBe(64 << 20);
    expect(r.usableBytes).toBe(br.sim!.statfs(r.logDir).availableBytes);
    expect(r.usableBytes).toBeLessThanOrEqual(48 << 20);
  });
});
