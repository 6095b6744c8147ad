import { expect, test } from "bun:test";
import { configDefs, configNames, envVarName, type ConfigDef } from "../../src/server/config-defs.ts";
import { loadConfig, type BrokerConfig, type ConfigSources } from "../../src/server/config.ts";

function ok(sources: ConfigSources): BrokerConfig {
  const r = loadConfig(sources);
  if (!r.ok) throw new Error(r.error.message);
  return r.config;
}
function err(sources: ConfigSources): string {
  const r = loadConfig(sources);
  if (r.ok) throw new Error("expected a config error");
  return r.error.message;
}

test("defaults: Kafka's, with bunka's single-node choices", () => {
  const c = ok({});
  expect(c.nodeId).toBe(1);
  expect(c.listeners).toEqual([{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT" }]);
  expect(c.advertisedListeners).toBeNull();
  expect(c.logDirs).toEqual(["./data"]);
  expect(c.get("socket.request.max.bytes")).toBe(104857600);
  expect(c.get("connections.max.idle.ms")).toBe(600000);
  expect(c.get("message.max.bytes")).toBe(1048588);
  expect(c.get("num.partitions")).toBe(1);
  expect(c.get("auto.create.topics.enable")).toBe(true);
  expect(c.get("log.segment.bytes")).toBe(1073741824);
  expect(c.get("log.cleanup.policy")).toEqual(["delete"]);
  expect(c.get("process.roles")).toEqual(["broker", "controller"]);
  expect(c.get("compression.type")).toBe("producer");
  expect(c.get("fetch.max.bytes")).toBe(57671680);
  expect(c.get("group.initial.rebalance.delay.ms")).toBe(3000);
  expect(c.get("offsets.retention.minutes")).toBe(10080);
  expect(c.logRetentionMs).toBe(168 * 3600 * 1000);
  expect(c.logRollMs).toBe(168 * 3600 * 1000);
  expect(c.get("log.flush.interval.messages")).toBe(Number.MAX_SAFE_INTEGER);
  expect(c.logFlushIntervalMs).toBe(Number.MAX_SAFE_INTEGER);
  expect(c.queuedRequestBytesMax).toBe(1024 * 1024 * 1024);
  expect(c.connectionLimits()).toEqual({
    requestFrameBytesMax: 104857600,
    inflightRequestsMax: 128,
    inflightRequestBytesMax: 64 * 1024 * 1024,
    queuedResponseBytesMax: 16 * 1024 * 1024,
    idleTimeoutMs: 600000,
  });
  // Every default passes its own schema (the defaults table cannot rot).
  for (const name of configNames) {
    const d: ConfigDef<unknown> = configDefs[name];
    if (d.defaultText !== null) expect(d.schema.safeParse(d.defaultText).success).toBe(true);
  }
});

test("precedence: defaults < file < env < --set (later --set wins)", () => {
  const file = { path: "server.properties", text: "num.partitions=2\nlog.segment.bytes=1000\nlog.dirs=/file\nmessage.max.bytes=5\n" };
  const env = { BUNKA_NUM_PARTITIONS: "3", BUNKA_LOG_DIRS: "/env", PATH: "/usr/bin", BUNKA_TEST_SEED: "1" };
  const c = ok({ file, env, sets: ["num.partitions=4", "num.partitions=5"] });
  expect(c.get("num.partitions")).toBe(5);
  expect(c.origin("num.partitions")).toEqual({ kind: "set", index: 1 });
  expect(c.logDirs).toEqual(["/env"]);
  expect(c.origin("log.dirs")).toEqual({ kind: "env", variable: "BUNKA_LOG_DIRS" });
  expect(c.get("log.segment.bytes")).toBe(1000);
  expect(c.origin("log.segment.bytes")).toEqual({ kind: "file", path: "server.properties", line: 2 });
  expect(c.get("default.replication.factor")).toBe(1);
  expect(c.origin("default.replication.factor")).toEqual({ kind: "default" });
  expect(ok({ file, env }).get("num.partitions")).toBe(3);
  expect(ok({ file }).get("num.partitions")).toBe(2);
  expect(envVarName("log.retention.check.interval.ms")).toBe("BUNKA_LOG_RETENTION_CHECK_INTERVAL_MS");
});

test("an unknown key stops start-up naming the key and its source, with a suggestion", () => {
  expect(err({ sets: ["log.segmnt.bytes=10"] })).toBe('config error: unknown key "log.segmnt.bytes" (from --set (argument 1)); did you mean "log.segment.bytes"?');
  expect(err({ file: { path: "/etc/bunka.properties", text: "# c\nnum.partitions=1\nzookeeper.connect=x:2181\n" } })).toBe(
    'config error: unknown key "zookeeper.connect" (from /etc/bunka.properties:3)',
  );
  expect(err({ env: { BUNKA_LOG_DIRZ: "/x" } })).toContain("environment variable BUNKA_LOG_DIRZ names no bunka config key (did you mean BUNKA_LOG_DIRS?)");
  expect(err({ sets: ["novalue"] })).toContain('--set "novalue": expected key=value');
});

test("the runtime switches and the tools' BUNKA_ variables are not taken for config keys", () => {
  const env = { BUNKA_WASM: "off", BUNKA_NATIVE_CRC: "off", BUNKA_BROKER_CMD: "bun src/main.ts broker", BUNKA_FUZZ_SEED: "7", BUNKA_NUM_PARTITIONS: "4" };
  const c = ok({ env });
  expect(c.get("num.partitions")).toBe(4);
  // a near miss of a switch is still an error: only the listed names are skipped
  expect(err({ env: { BUNKA_WASMM: "off" } })).toContain("environment variable BUNKA_WASMM names no bunka config key");
});

test("a bad value names the key, the source and the accepted form", () => {
  expect(err({ sets: ["num.partitions=abc"] })).toBe(
    'config error: num.partitions = "abc" (from --set (argument 1)) is invalid (not an integer): expected an integer in [1, 2147483647]',
  );
  expect(err({ file: { path: "s.properties", text: "a.b=1\n".replace("a.b=1\n", "") + "\n\nsocket.request.max.bytes = 10\n" } })).toContain(
    "socket.request.max.bytes = \"10\" (from s.properties:3)",
  );
  expect(err({ env: { BUNKA_AUTO_CREATE_TOPICS_ENABLE: "yes" } })).toBe(
    'config error: auto.create.topics.enable = "yes" (from environment variable BUNKA_AUTO_CREATE_TOPICS_ENABLE) is invalid (Invalid enum value. Expected \'true\' | \'false\', received \'yes\'): expected true or false',
  );
  expect(err({ sets: ["compression.type=brotli"] })).toContain("expected one of uncompressed, zstd, lz4, snappy, gzip, producer");
  expect(err({ sets: ["log.retention.bytes=99999999999999999999"] })).toContain("expected an integer in [-1, 2^63-1]");
  expect(err({ sets: ["logger.level=loud"] })).toContain("expected one of debug, info, warn, error");
  expect(err({ file: { path: "p", text: "x=\\uZZZZ" } })).toBe('config error: p:1: malformed \\uXXXX escape in the value of "x"');
});

test("typed parsing: trimming, booleans in any case, lists, Long.MAX_VALUE clamps with its text kept", () => {
  const c = ok({
    sets: [
      "auto.create.topics.enable= FALSE ",
      "log.cleanup.policy=compact, delete",
      "log.flush.interval.messages=9223372036854775807",
      "log.retention.bytes=1099511627776",
      "node.id= 7",
    ],
  });
  expect(c.get("auto.create.topics.enable")).toBe(false);
  expect(c.get("log.cleanup.policy")).toEqual(["compact", "delete"]);
  expect(c.get("log.flush.interval.messages")).toBe(Number.MAX_SAFE_INTEGER);
  expect(c.describeOne("log.flush.interval.messages")?.value).toBe("9223372036854775807");
  expect(c.get("log.retention.bytes")).toBe(1099511627776);
  expect(c.nodeId).toBe(7);
});

test("retention, roll and flush precedence like Kafka", () => {
  expect(ok({ sets: ["log.retention.hours=1"] }).logRetentionMs).toBe(3600000);
  expect(ok({ sets: ["log.retention.hours=1", "log.retention.minutes=2"] }).logRetentionMs).toBe(120000);
  expect(ok({ sets: ["log.retention.hours=1", "log.retention.minutes=2", "log.retention.ms=5"] }).logRetentionMs).toBe(5);
  expect(ok({ sets: ["log.retention.ms=-1"] }).logRetentionMs).toBe(-1);
  expect(ok({ sets: ["log.retention.hours=-1"] }).logRetentionMs).toBe(-1);
  expect(ok({ sets: ["log.roll.hours=2"] }).logRollMs).toBe(7200000);
  expect(ok({ sets: ["log.roll.hours=2", "log.roll.ms=100"] }).logRollMs).toBe(100);
  expect(ok({ sets: ["log.flush.scheduler.interval.ms=500"] }).logFlushIntervalMs).toBe(500);
  expect(ok({ sets: ["log.flush.scheduler.interval.ms=500", "log.flush.interval.ms=20"] }).logFlushIntervalMs).toBe(20);
  expect(ok({ sets: ["log.dir=/one"] }).logDirs).toEqual(["/one"]);
  expect(ok({ sets: ["log.dir=/one", "log.dirs=/a,/b"] }).logDirs).toEqual(["/a", "/b"]);
});

test("node.id and broker.id; listeners; cross-key checks", () => {
  expect(ok({ sets: ["broker.id=4"] }).nodeId).toBe(4);
  expect(ok({ sets: ["broker.id=4", "node.id=4"] }).nodeId).toBe(4);
  expect(err({ sets: ["broker.id=4", "node.id=5"] })).toContain("broker.id = \"4\" (from --set (argument 1)): differs from node.id 5");

  const c = ok({
    sets: [
      "listeners=PLAINTEXT://:9092,CONTROLLER://[::1]:0",
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
      "advertised.listeners=PLAINTEXT://kafka.example.com:19092",
    ],
  });
  expect(c.listeners).toEqual([
    { name: "PLAINTEXT", host: "", port: 9092, securityProtocol: "PLAINTEXT" },
    { name: "CONTROLLER", host: "::1", port: 0, securityProtocol: "PLAINTEXT" },
  ]);
  expect(c.advertisedListeners).toEqual([{ name: "PLAINTEXT", host: "kafka.example.com", port: 19092, securityProtocol: "PLAINTEXT" }]);

  expect(err({ sets: ["listeners=PLAINTEXT//x:1"] })).toContain('bad listener "PLAINTEXT//x:1"; expected NAME://host:port');
  expect(err({ sets: ["listeners=PLAINTEXT://x:70000"] })).toContain("port 70000");
  expect(err({ sets: ["listeners=FOO://x:1"] })).toContain("listener name FOO is not in listener.security.protocol.map");
  expect(err({ sets: ["listeners=SSL://x:1"] })).toContain("uses SSL, which bunka does not serve yet");
  expect(err({ sets: ["listeners=PLAINTEXT://a:1,PLAINTEXT://b:2"] })).toContain("appears twice");
  expect(err({ sets: ["advertised.listeners=OTHER://a:1", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"] })).toContain(
    "listener OTHER is not in listeners",
  );
  expect(err({ sets: ["advertised.listeners=PLAINTEXT://a:0"] })).toContain("port 0");
  expect(err({ sets: ["process.roles=controller"] })).toContain("process.roles");
  expect(err({ sets: ["group.min.session.timeout.ms=10", "group.max.session.timeout.ms=5"] })).toContain("exceeds group.max.session.timeout.ms");
  expect(err({ sets: ["queued.max.request.bytes=10"] })).toContain("-1 or an integer ≥ 1048576");
  expect(err({ sets: ["log.dir.alert.usage.ratio=0.95"] })).toContain("exceeds log.dir.cleanup.usage.ratio 0.9; expected a value ≤ log.dir.cleanup.usage.ratio");
  expect(err({ sets: ["log.dir.reject.usage.ratio=0.85"] })).toContain("log.dir.cleanup.usage.ratio");
  expect(err({ sets: ["log.dir.alert.usage.ratio=0"] })).toContain("0 would refuse or clean up on an empty disk");
  expect(err({ sets: ["cluster.id=short"] })).toContain("22 base64url characters");
  expect(ok({ sets: ["max.connections.per.ip.overrides=10.0.0.1:5,[::1]:2"] }).connectionsPerIpOverrides).toEqual(
    new Map([
      ["10.0.0.1", 5],
      ["::1", 2],
    ]),
  );
  expect(err({ sets: ["max.connections.per.ip.overrides=nope"] })).toContain("bad entry");
});

test("multi-node quorum configurations: what is accepted and what is refused", () => {
  const lst = ["listeners=PLAINTEXT://:9092,CONTROLLER://:9093", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"];
  const three = ["node.id=1", "controller.quorum.voters=1@localhost:9093,2@localhost:9094,3@localhost:9095"];
  // A voter of a multi-node quorum must say which listener the other voters reach it on.
  expect(err({ sets: three })).toContain("controller.listener.names");
  const c = ok({ sets: [...three, ...lst, "controller.listener.names=CONTROLLER"] });
  expect(c.voters.map((v) => v.id)).toEqual([1, 2, 3]);
  expect(c.controllerListenerNames).toEqual(["CONTROLLER"]);
  expect(err({ sets: [...three, "listeners=CONTROLLER://:9093", "listener.security.protocol.map=CONTROLLER:PLAINTEXT", "controller.listener.names=CONTROLLER"] })).toContain("every listener is a controller listener");
  expect(err({ sets: [...three, ...lst, "controller.listener.names=OTHER"] })).toContain("listener OTHER is not in listeners");
  expect(err({ sets: ["controller.quorum.voters=2@localhost:9093"] })).toContain("does not name this node (1)");
  expect(err({ sets: ["controller.quorum.voters=1@h:1,1@h:2"] })).toContain("node 1 is listed twice");
  expect(err({ sets: ["controller.quorum.voters=one@h:1"] })).toContain('bad voter "one@h:1"');
  // Broker-only nodes: need the controllers, may not be one of them, and must know their listener.
  expect(err({ sets: ["process.roles=broker"] })).toContain("a broker-only node needs controller.quorum.voters");
  expect(err({ sets: ["process.roles=broker", "node.id=4", "controller.quorum.voters=4@h:9093"] })).toContain("names this node (4), whose process.roles has no controller");
  expect(err({ sets: ["process.roles=broker", "node.id=4", "controller.quorum.voters=1@h:9093"] })).toContain("a broker-only node must know which listener name");
  const observer = ok({ sets: ["process.roles=broker", "node.id=4", "controller.quorum.voters=1@h:9093", "controller.listener.names=CONTROLLER"] });
  expect(observer.nodeId).toBe(4);
  // A dynamic quorum (bootstrap servers on other nodes, KIP-853) needs the controller listener name.
  expect(err({ sets: ["controller.quorum.bootstrap.servers=other:9093", ...lst] })).toContain("unset on a controller of a multi-node quorum");
  expect(ok({ sets: ["controller.quorum.bootstrap.servers=other:9093", ...lst, "controller.listener.names=CONTROLLER"] }).bootstrapServers).toEqual([{ host: "other", port: 9093 }]);
  expect(err({ sets: ["controller.quorum.bootstrap.servers=other", ...lst, "controller.listener.names=CONTROLLER"] })).toContain('bad server "other"');
  // A quorum of this node alone, named either way, is a single node.
  expect(ok({ sets: ["node.id=4", "controller.quorum.voters=4@localhost:9093"] }).nodeId).toBe(4);
  expect(ok({ sets: ["controller.quorum.bootstrap.servers=localhost:9093", ...lst] }).nodeId).toBe(1);
});

test("describe() lists every key with value, source, type and read-only flag", () => {
  const c = ok({ file: { path: "f", text: "num.partitions=3\n" } });
  const all = c.describe();
  expect(all.length).toBe(configNames.length);
  const np = all.find((d) => d.name === "num.partitions");
  expect(np).toMatchObject({ value: "3", source: "STATIC_BROKER_CONFIG", type: "INT", readOnly: true, sensitive: false });
  expect(c.describeOne("message.max.bytes")).toMatchObject({ value: "1048588", source: "DEFAULT_CONFIG", readOnly: false });
  expect(c.describeOne("log.retention.ms")?.value).toBeNull();
  expect(c.describeOne("no.such.key")).toBeUndefined();
  expect(c.brokerConfigValue("num.partitions")).toEqual({ value: "3", source: "STATIC_BROKER_CONFIG" });
  expect(c.brokerConfigValue("log.retention.ms")).toEqual({ value: "604800000", source: "DEFAULT_CONFIG" });
  expect(ok({ sets: ["log.retention.hours=1"] }).brokerConfigValue("log.retention.ms")).toEqual({ value: "3600000", source: "STATIC_BROKER_CONFIG" });
  expect(c.brokerConfigValue("log.flush.interval.ms")).toEqual({ value: "9223372036854775807", source: "DEFAULT_CONFIG" });
  expect(c.brokerConfigValue("broker.rack")).toBeUndefined();
  expect(ok({ sets: ["log.cleaner.min.cleanable.ratio=0.25"] }).get("log.cleaner.min.cleanable.ratio")).toBe(0.25);
  expect(err({ sets: ["log.cleaner.min.cleanable.ratio=2"] })).toContain("expected a number in [0, 1]");
});

test("a typical KRaft combined-mode server.properties loads (ignored keys accepted)", () => {
  const text = [
    "############################# Server Basics #############################",
    "process.roles=broker,controller",
    "node.id=1",
    "controller.quorum.bootstrap.servers=localhost:9093",
    "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
    "inter.broker.listener.name=PLAINTEXT",
    "advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
    "controller.listener.names=CONTROLLER",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    "num.network.threads=3",
    "num.io.threads=8",
    "socket.send.buffer.bytes=102400",
    "socket.receive.buffer.bytes=102400",
    "socket.request.max.bytes=104857600",
    "log.dirs=/tmp/kraft-combined-logs",
    "num.partitions=1",
    "num.recovery.threads.per.data.dir=1",
    "offsets.topic.replication.factor=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "log.retention.hours=168",
    "log.segment.bytes=1073741824",
    "log.retention.check.interval.ms=300000",
  ].join("\n");
  const c = ok({ file: { path: "server.properties", text } });
  expect(c.listeners.map((l) => `${l.name}:${l.host}:${l.port}`)).toEqual(["PLAINTEXT::9092", "CONTROLLER::9093"]);
  expect(c.logDirs).toEqual(["/tmp/kraft-combined-logs"]);
  expect(c.explicitlySet()).toContain("num.io.threads");
  expect((configDefs["num.io.threads"] as ConfigDef<unknown>).ignored).toBe(true);
});

test("broker defaults of topic configs: compression and timestamp bounds take effect, deprecated ones load and are ignored", () => {
  const c = ok({
    sets: [
      "compression.type=zstd",
      "compression.gzip.level=9",
      "compression.zstd.level=-5",
      "log.message.timestamp.after.max.ms=3600000",
      "log.message.format.version=2.8",
      "log.preallocate=true",
    ],
  });
  expect(c.brokerConfigValue("compression.type")).toEqual({ value: "zstd", source: "STATIC_BROKER_CONFIG" });
  expect(c.get("compression.zstd.level")).toBe(-5);
  expect(c.get("log.message.timestamp.after.max.ms")).toBe(3600000);
  expect(c.brokerConfigValue("log.message.timestamp.before.max.ms")).toEqual({ value: "9223372036854775807", source: "DEFAULT_CONFIG" });
  for (const ignoredKey of ["log.message.format.version", "log.preallocate", "compression.lz4.level"] as const) {
    expect((configDefs[ignoredKey] as ConfigDef<unknown>).ignored).toBe(true);
  }
  expect(ok({}).get("compression.gzip.level")).toBe(-1);
  expect(err({ sets: ["compression.gzip.level=0"] })).toContain("compression.gzip.level");
  expect(err({ sets: ["compression.zstd.level=23"] })).toContain("compression.zstd.level");
});

test("metadata snapshot and retention settings: Kafka's names, defaults and ranges", () => {
  const c = ok({});
  expect(c.get("metadata.log.max.record.bytes.between.snapshots")).toBe(20 * 1024 * 1024);
  expect(c.get("metadata.log.max.snapshot.interval.ms")).toBe(3_600_000);
  expect(c.get("metadata.max.retention.bytes")).toBe(100 * 1024 * 1024);
  expect(c.get("metadata.max.retention.ms")).toBe(604_800_000);
  expect(c.get("metadata.log.segment.bytes")).toBe(1024 * 1024 * 1024);
  expect(c.get("metadata.log.segment.ms")).toBe(604_800_000);
  const set = ok({
    sets: [
      "metadata.log.max.record.bytes.between.snapshots=1",
      "metadata.log.max.snapshot.interval.ms=0",
      "metadata.max.retention.bytes=-1",
      "metadata.max.retention.ms=-5",
      "metadata.log.segment.bytes=16384",
    ],
  });
  expect(set.get("metadata.log.max.record.bytes.between.snapshots")).toBe(1);
  expect(set.get("metadata.log.max.snapshot.interval.ms")).toBe(0);
  expect(set.get("metadata.max.retention.bytes")).toBe(-1);
  // No validator in Kafka: any negative is no limit.
  expect(set.get("metadata.max.retention.ms")).toBe(-5);
  expect(err({ sets: ["metadata.log.max.record.bytes.between.snapshots=0"] })).toContain("metadata.log.max.record.bytes.between.snapshots");
  expect(err({ sets: ["metadata.log.max.snapshot.interval.ms=-1"] })).toContain("metadata.log.max.snapshot.interval.ms");
  expect(err({ sets: ["metadata.max.retention.bytes=lots"] })).toContain("metadata.max.retention.bytes");
  expect(err({ sets: ["metadata.log.segment.bytes=1024"] })).toContain("metadata.log.segment.bytes");
  expect(configDefs["metadata.max.retention.ms"].type).toBe("LONG");
});

test("scheduled backups: off by default; bad values refuse start-up naming the key", () => {
  const c = ok({});
  expect(c.get("backup.dir")).toBe("");
  expect(c.get("backup.interval.ms")).toBe(3_600_000);
  expect(c.get("backup.compression.type")).toBe("zstd");
  expect(c.get("backup.retention.days")).toBe(7);
  expect(c.get("backup.encryption.key.file")).toBeNull();
  const set = ok({ sets: ["backup.dir=/b", "backup.topics=orders-.*|audit", "backup.retention.days=-1", "backup.compression.type=lz4", "backup.interval.ms=60000"] });
  expect(set.get("backup.topics")).toBe("orders-.*|audit");
  expect(set.get("backup.retention.days")).toBe(-1);
  expect(err({ sets: ["backup.topics=orders-(["] })).toContain("backup.topics");
  expect(err({ sets: ["backup.groups=*"] })).toContain("backup.groups");
  expect(err({ sets: ["backup.retention.days=0"] })).toContain("backup.retention.days");
  expect(err({ sets: ["backup.compression.type=snappy"] })).toContain("backup.compression.type");
  expect(err({ sets: ["backup.interval.ms=10"] })).toContain("backup.interval.ms");
});
