/**
 * Dynamic broker configs through the real dispatcher and controller: which keys AlterConfigs /
 * IncrementalAlterConfigs accept on a BROKER resource (per broker and as the cluster default),
 * validateOnly, the precedence DescribeConfigs reports (dynamic per-broker > dynamic default >
 * static > default) and what DELETE restores, the topic defaults that follow, the live effects
 * (produce size limit, disk thresholds, connection counts) and a restart over the same log.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { configNames } from "../../../src/server/config-defs.ts";
import { dynamicEffect, dynamicKeysWithoutEffect } from "../../../src/server/dynamic-config.ts";
import { handlers } from "../../../src/server/handlers/index.ts";
import { batch, produced, produceRequest } from "../handlers/helpers.ts";
import { startTestBroker, type TestBroker } from "../harness.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
const BROKER = 4;

async function start(brokerConfigs: Record<string, string> = {}): Promise<TestBroker> {
  b = await startTestBroker({ handlers, brokerConfigs });
  return b;
}

async function incremental(br: TestBroker, resourceName: string, configs: [string, number, string | null][], validateOnly = false) {
  const r = (await br.send(ApiKeys.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: BROKER, resourceName, configs: configs.map(([name, configOperation, value]) => ({ name, configOperation, value })) }],
    validateOnly,
  }))!;
  return r.responses[0]!;
}

async function describeBroker(br: TestBroker, resourceName = "1", keys: string[] | null = null) {
  const r = (await br.send(ApiKeys.DescribeConfigs, 4, {
    resources: [{ resourceType: BROKER, resourceName, configurationKeys: keys }],
    includeSynonyms: true,
    includeDocumentation: false,
  }))!;
  return r.results[0]!;
}

async function topicConfig(br: TestBroker, topic: string, key: string) {
  const r = (await br.send(ApiKeys.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: topic, configurationKeys: [key] }], includeSynonyms: true, includeDocumentation: false }))!;
  return r.results[0]!.configs[0]!;
}

describe("which broker configs may change", () => {
  test("every key is read-only, or applied live, or listed as accepted without effect, or refused", () => {
    const kinds = new Map<string, number>();
    for (const name of configNames) {
      const kind = dynamicEffect(name)?.kind ?? "read-only";
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    expect([...kinds.keys()].sort()).toEqual(["live", "no-effect", "read-only", "refused"]);
    const without = dynamicKeysWithoutEffect().map((k) => k.name);
    expect(without).toContain("sasl.kerberos.min.time.before.relogin");
    expect(without).toContain("num.io.threads");
    expect(without).not.toContain("message.max.bytes");
    expect(dynamicEffect("log.retention.ms")?.kind).toBe("live");
    expect(dynamicEffect("log.retention.hours")).toBeNull();
  });

  test("a per-broker key by broker id (librdkafka 0081's), through both APIs; the cluster default refuses it", async () => {
    const br = await start();
    const legacy = (await br.send(ApiKeys.AlterConfigs, 1, {
      resources: [{ resourceType: BROKER, resourceName: "1", configs: [{ name: "sasl.kerberos.min.time.before.relogin", value: "58000" }] }],
      validateOnly: false,
    }))!;
    expect([legacy.responses[0]!.errorCode, legacy.responses[0]!.errorMessage]).toEqual([0, null]);
    expect(br.metadata.image.configsOf("broker", "1").get("sasl.kerberos.min.time.before.relogin")).toBe("58000");
    const inc = await incremental(br, "1", [["sasl.kerberos.ticket.renew.jitter", SET, "0.1"]]);
    expect(inc.errorCode).toBe(0);
    const d = await describeBroker(br, "1", ["sasl.kerberos.min.time.before.relogin", "sasl.kerberos.ticket.renew.jitter"]);
    expect(d.configs.map((c) => [c.name, c.value, c.configSource, c.readOnly])).toEqual([
      ["sasl.kerberos.ticket.renew.jitter", "0.1", 2, false],
      ["sasl.kerberos.min.time.before.relogin", "58000", 2, false],
    ]);
    expect(d.configs[1]!.synonyms.map((s) => [s.value, s.source])).toEqual([
      ["58000", 2],
      ["60000", 5],
    ]);
    // Stored and reported, and the log says it changes nothing here.
    expect(br.logLines.lines.some((l) => l.includes("no effect in bunka") && l.includes("sasl.kerberos.min.time.before.relogin"))).toBe(true);
    const atDefault = await incremental(br, "", [["sasl.kerberos.min.time.before.relogin", SET, "58000"]]);
    expect(atDefault.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(atDefault.errorMessage).toContain("per-broker");
  });

  test("refusals: read-only, unknown, listeners, bad values, unknown broker, BROKER_LOGGER, APPEND to a non-list, ratio order", async () => {
    const br = await start();
    const cases: [string, [string, number, string | null][], number, string][] = [
      ["1", [["num.partitions", SET, "3"]], ErrorCode.INVALID_REQUEST, "read-only"],
      ["1", [["log.retention.hours", SET, "3"]], ErrorCode.INVALID_REQUEST, "read-only"],
      ["1", [["no.such.key", SET, "3"]], ErrorCode.INVALID_CONFIG, "unknown broker config"],
      ["1", [["listeners", SET, "PLAINTEXT://:9093"]], ErrorCode.INVALID_REQUEST, "listeners"],
      ["", [["message.max.bytes", SET, "lots"]], ErrorCode.INVALID_REQUEST, "message.max.bytes"],
      ["", [["message.max.bytes", SET, "-1"]], ErrorCode.INVALID_REQUEST, "expected an integer in [0, 2147483647]"],
      ["", [["log.dir.reject.usage.ratio", SET, "0"]], ErrorCode.INVALID_REQUEST, "(0, 1]"],
      ["", [["log.dir.alert.usage.ratio", SET, "0.9"], ["log.dir.cleanup.usage.ratio", SET, "0.5"]], ErrorCode.INVALID_REQUEST, "must not exceed"],
      ["", [["max.connections.per.ip.overrides", SET, "nohost"]], ErrorCode.INVALID_REQUEST, "bad entry"],
      ["", [["message.max.bytes", APPEND, "5"]], ErrorCode.INVALID_CONFIG, "not a list"],
      ["7", [["message.max.bytes", SET, "5000"]], ErrorCode.INVALID_REQUEST, "unknown broker 7"],
    ];
    for (const [name, configs, code, text] of cases) {
      const r = await incremental(br, name, configs);
      expect([configs[0]![0], r.errorCode]).toEqual([configs[0]![0], code]);
      expect(r.errorMessage).toContain(text);
    }
    expect(br.metadata.image.configsOf("broker", "").size + br.metadata.image.configsOf("broker", "1").size).toBe(0);
    const logger = (await br.send(ApiKeys.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 8, resourceName: "1", configs: [{ name: "kafka.server", configOperation: SET, value: "DEBUG" }] }],
      validateOnly: false,
    }))!.responses[0]!;
    expect(logger.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(logger.errorMessage).toContain("logger.level");
    // A list config takes APPEND / SUBTRACT.
    // Unset, the list starts from its default ("delete"), as in Kafka; SUBTRACT gives it back
    // (librdkafka's 0081 does exactly this and then expects DeleteRecords to work).
    expect((await incremental(br, "", [["log.cleanup.policy", APPEND, "compact"]])).errorCode).toBe(0);
    expect(br.metadata.image.configsOf("broker", "").get("log.cleanup.policy")).toBe("delete,compact");
    expect((await incremental(br, "", [["log.cleanup.policy", SUBTRACT, "compact"]])).errorCode).toBe(0);
    expect(br.metadata.image.configsOf("broker", "").get("log.cleanup.policy")).toBe("delete");
  });

  test("validateOnly answers as if applied and writes nothing", async () => {
    const br = await start();
    const offset = br.metadata.image.offset;
    expect((await incremental(br, "1", [["message.max.bytes", SET, "5000"]], true)).errorCode).toBe(0);
    expect((await incremental(br, "1", [["num.partitions", SET, "5"]], true)).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(br.metadata.image.offset).toBe(offset);
    expect((await describeBroker(br, "1", ["message.max.bytes"])).configs[0]).toMatchObject({ value: "1048588", configSource: 5 });
  });
});

describe("precedence and effect", () => {
  test("per-broker > cluster default > static > default, for the broker and for topics without their own value; DELETE restores the level below", async () => {
    const br = await start({ "log.retention.ms": "3600000" });
    await br.createTopic("t", 1);
    await br.createTopic("own", 1, { "retention.ms": "5000" });
    const broker = async () => (await describeBroker(br, "1", ["log.retention.ms"])).configs[0]!;
    const effective = () => br.replicas.topicConfig("t").retentionMs;
    expect(await broker()).toMatchObject({ value: "3600000", configSource: 4 });

    expect((await incremental(br, "", [["log.retention.ms", SET, "7200000"]])).errorCode).toBe(0);
    const atDefault = await broker();
    expect(atDefault).toMatchObject({ value: "7200000", configSource: 3 });
    expect(atDefault.synonyms.map((s) => [s.name, s.value, s.source])).toEqual([
      ["log.retention.ms", "7200000", 3],
      ["log.retention.ms", "3600000", 4],
      ["log.retention.hours", "168", 5],
    ]);
    expect(effective()).toBe(7_200_000);
    expect(br.logs.getLog({ topic: "t", partition: 0 })!.config.retentionMs).toBe(7_200_000);
    expect(await topicConfig(br, "t", "retention.ms")).toMatchObject({ value: "7200000", configSource: 3 });
    // A topic's own value still wins.
    expect(br.replicas.topicConfig("own").retentionMs).toBe(5000);

    expect((await incremental(br, "1", [["log.retention.ms", SET, "1000"]])).errorCode).toBe(0);
    expect(await broker()).toMatchObject({ value: "1000", configSource: 2 });
    expect(effective()).toBe(1000);
    const topicView = await topicConfig(br, "t", "retention.ms");
    expect(topicView).toMatchObject({ value: "1000", configSource: 2 });
    expect(topicView.synonyms.map((s) => [s.name, s.value, s.source])).toEqual([
      ["log.retention.ms", "1000", 2],
      ["log.retention.ms", "7200000", 3],
      ["log.retention.ms", "3600000", 4],
      ["log.retention.ms", "604800000", 5],
    ]);
    // The cluster default lists only what is set at that level.
    expect((await describeBroker(br, "")).configs.map((c) => [c.name, c.value, c.configSource])).toEqual([["log.retention.ms", "7200000", 3]]);

    expect((await incremental(br, "1", [["log.retention.ms", DELETE, null]])).errorCode).toBe(0);
    expect(await broker()).toMatchObject({ value: "7200000", configSource: 3 });
    expect(effective()).toBe(7_200_000);
    expect((await incremental(br, "", [["log.retention.ms", DELETE, null]])).errorCode).toBe(0);
    expect(await broker()).toMatchObject({ value: "3600000", configSource: 4 });
    expect(effective()).toBe(3_600_000);
    expect(br.metadata.image.configsOf("broker", "").size).toBe(0);
  });

  test("a lower message.max.bytes refuses a larger produce at once; removing it lets it through", async () => {
    const br = await start();
    await br.createTopic("t", 1);
    const records = batch(5, "long-enough");
    const produce = async () => produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records }])), "t").errorCode;
    expect(await produce()).toBe(0);
    expect((await incremental(br, "", [["message.max.bytes", SET, "100"]])).errorCode).toBe(0);
    expect(await produce()).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect((await incremental(br, "", [["message.max.bytes", DELETE, null]])).errorCode).toBe(0);
    expect(await produce()).toBe(0);
  });

  test("disk thresholds, cleaner limits and connection counts are applied live; a legacy AlterConfigs replaces the level's whole set", async () => {
    const br = await start();
    expect(br.logs.disk.thresholds.rejectUsageRatio).toBe(0.95);
    const r = await incremental(br, "1", [
      ["log.dir.reject.usage.ratio", SET, "0.99"],
      ["log.dir.min.free.bytes", SET, "4096"],
      ["max.connections.per.ip", SET, "7"],
      ["log.cleaner.backoff.ms", SET, "500"],
    ]);
    expect(r.errorCode).toBe(0);
    expect(br.logs.disk.thresholds).toMatchObject({ rejectUsageRatio: 0.99, minFreeBytes: 4096 });
    expect(br.dynamic.connectionCounts?.connectionsPerIpMax).toBe(7);
    expect(br.logLines.lines.some((l) => l.includes("broker config changed") && l.includes("log.dir.reject.usage.ratio"))).toBe(true);
    // Legacy AlterConfigs: the given set replaces every value of broker 1.
    const legacy = (await br.send(ApiKeys.AlterConfigs, 2, { resources: [{ resourceType: BROKER, resourceName: "1", configs: [{ name: "max.connections.per.ip", value: "9" }] }], validateOnly: false }))!;
    expect(legacy.responses[0]!.errorCode).toBe(0);
    expect([...br.metadata.image.configsOf("broker", "1")]).toEqual([["max.connections.per.ip", "9"]]);
    expect(br.logs.disk.thresholds).toMatchObject({ rejectUsageRatio: 0.95, minFreeBytes: 1048576 });
    expect(br.dynamic.connectionCounts?.connectionsPerIpMax).toBe(9);
    // A mix of levels the node cannot use (default alert above this broker's cleanup) is logged; the thresholds stay.
    expect((await incremental(br, "1", [["log.dir.cleanup.usage.ratio", SET, "0.85"], ["log.dir.reject.usage.ratio", SET, "0.9"]])).errorCode).toBe(0);
    expect(br.logs.disk.thresholds).toMatchObject({ cleanupUsageRatio: 0.85, rejectUsageRatio: 0.9 });
    expect((await incremental(br, "", [["log.dir.alert.usage.ratio", SET, "0.88"]])).errorCode).toBe(0);
    expect(br.logs.disk.thresholds).toMatchObject({ cleanupUsageRatio: 0.85, rejectUsageRatio: 0.9, alertUsageRatio: 0.8 });
    expect(br.logLines.lines.some((l) => l.includes("dynamic config not applied"))).toBe(true);
  });

  test("dynamic values survive a restart (replayed from the metadata log)", async () => {
    let br = await start();
    await br.createTopic("t", 1);
    expect((await incremental(br, "1", [["log.segment.bytes", SET, "1048576"]])).errorCode).toBe(0);
    expect((await incremental(br, "", [["log.retention.bytes", SET, "5000000"]])).errorCode).toBe(0);
    br = b = br.restart();
    expect((await describeBroker(br, "1", ["log.segment.bytes"])).configs[0]).toMatchObject({ value: "1048576", configSource: 2 });
    expect(br.replicas.topicConfig("t")).toMatchObject({ segmentBytes: 1048576, retentionBytes: 5000000 });
    expect(br.logs.getLog({ topic: "t", partition: 0 })!.config.segmentBytes).toBe(1048576);
  });
});
