/**
 * The mirror's properties file: MirrorMaker 2's key names and defaults, per-flow overrides of
 * top-level settings, per-cluster client settings, and one `file:line` message for each kind
 * of mistake (unknown key, bad value, missing cluster).
 */
import { expect, test } from "bun:test";
import { parseMirrorConfig, selected } from "../../src/mirror/config.ts";

const base = `clusters = A, B
A.bootstrap.servers = 127.0.0.1:9092
B.bootstrap.servers = 127.0.0.1:9093, 127.0.0.1:9094
A->B.enabled = true
`;

function ok(text: string) {
  const r = parseMirrorConfig(text, "mm2.properties");
  if (!r.ok) throw new Error(r.message);
  return r.config;
}

function bad(text: string): string {
  const r = parseMirrorConfig(text, "mm2.properties");
  if (r.ok) throw new Error("accepted");
  return r.message;
}

test("an MM2 file with defaults: one flow, MM2's default patterns and intervals", () => {
  const c = ok(base);
  expect([...c.clusters.keys()]).toEqual(["A", "B"]);
  expect(c.clusters.get("B")?.bootstrapServers).toBe("127.0.0.1:9093, 127.0.0.1:9094");
  expect(c.flows.length).toBe(1);
  const f = c.flows[0]!;
  expect([f.source, f.target, f.policy, f.separator]).toEqual(["A", "B", "default", "."]);
  expect(f.replicationFactor).toBe(-1);
  expect(f.refreshTopicsIntervalMs).toBe(600_000);
  expect(f.emitCheckpointsIntervalMs).toBe(60_000);
  expect([f.syncTopicConfigs, f.emitHeartbeats, f.emitCheckpoints, f.syncGroupOffsets]).toEqual([true, true, true, false]);
  expect(f.offsetSyncsLocation).toBe("source");
  expect(selected("orders", f.topics, f.topicsExclude)).toBe(true);
  expect(selected("__consumer_offsets", f.topics, f.topicsExclude)).toBe(false);
  expect(selected("mm2-offset-syncs.B.internal", f.topics, f.topicsExclude)).toBe(false);
  expect(selected("console-consumer-123", f.groups, f.groupsExclude)).toBe(false);
});

test("flow keys override top-level ones; Java class names; per-cluster client settings", () => {
  const c = ok(`${base}B->A.enabled = true
topics = orders.*, payments
A->B.topics = inv.*
topics.exclude = .*-tmp
replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy
B->A.replication.policy.class = DefaultReplicationPolicy
replication.policy.separator = _
replication.factor = 3
A->B.sync.topic.configs.enabled = false
refresh.topics.interval.seconds = 0.5
A->B.emit.checkpoints.interval.seconds = 5
sync.group.offsets.enabled = true
A->B.offset-syncs.topic.location = target
A.client.id = from-a
A.consumer.request.timeout.ms = 5000
B.producer.max.in.flight.requests.per.connection = 3
B.security.protocol = PLAINTEXT
tasks.max = 4
`);
  const [ab, ba] = c.flows;
  expect(ab?.policy).toBe("identity");
  expect(ba?.policy).toBe("default");
  expect(selected("inventory", ab!.topics, ab!.topicsExclude)).toBe(true);
  expect(selected("orders", ab!.topics, ab!.topicsExclude)).toBe(false);
  expect(selected("orders-eu", ba!.topics, ba!.topicsExclude)).toBe(true);
  expect(selected("orders-tmp", ba!.topics, ba!.topicsExclude)).toBe(false);
  expect(selected("payments2", ba!.topics, ba!.topicsExclude)).toBe(false);
  expect([ab?.separator, ab?.replicationFactor, ab?.syncTopicConfigs, ba?.syncTopicConfigs]).toEqual(["_", 3, false, true]);
  expect([ab?.refreshTopicsIntervalMs, ab?.emitCheckpointsIntervalMs, ba?.emitCheckpointsIntervalMs]).toEqual([500, 5_000, 60_000]);
  expect([ab?.syncGroupOffsets, ab?.offsetSyncsLocation, ba?.offsetSyncsLocation]).toEqual([true, "target", "source"]);
  expect(c.clusters.get("A")?.client).toEqual({ clientId: "from-a", inflightRequestsMax: 64, requestTimeoutMs: 5000 });
  expect(c.clusters.get("B")?.client).toEqual({ clientId: "bunka-mirror-B", inflightRequestsMax: 3 });
});

test("a flow that is not enabled is not run; none enabled is refused", () => {
  expect(ok(`${base}B->A.enabled = false\nB->A.topics = x`).flows.map((f) => `${f.source}->${f.target}`)).toEqual(["A->B"]);
  expect(bad(base.replace("A->B.enabled = true", "A->B.enabled = false"))).toBe("mm2.properties:1: no flow is enabled (set e.g. A->B.enabled = true)");
});

test("mistakes: one message naming the line", () => {
  expect(bad(`${base}A->B.topics.exlude = x`)).toBe("mm2.properties:5: unknown key A->B.topics.exlude");
  expect(bad(`${base}A.bootstrap.server = x:1`)).toBe("mm2.properties:5: unknown key A.bootstrap.server");
  expect(bad(`${base}replication.polcy.class = x`)).toBe("mm2.properties:5: unknown key replication.polcy.class");
  expect(bad(`${base}A->C.enabled = true`)).toBe("mm2.properties:5: A->C.enabled: A->C names a cluster not in clusters");
  expect(bad(`${base}A->A.enabled = true`)).toBe("mm2.properties:5: A->A.enabled: a flow from A to itself");
  expect(bad(`${base}A->B.replication.policy.class = Fancy`)).toContain("mm2.properties:5: A->B.replication.policy.class = \"Fancy\": DefaultReplicationPolicy or IdentityReplicationPolicy");
  expect(bad(`${base}A->B.emit.heartbeats.enabled = yes`)).toBe('mm2.properties:5: A->B.emit.heartbeats.enabled = "yes" is not true or false');
  expect(bad(`${base}emit.checkpoints.interval.seconds = -1`)).toContain("mm2.properties:5: emit.checkpoints.interval.seconds = \"-1\" must be a number of seconds");
  expect(bad(`${base}replication.factor = 0`)).toBe("mm2.properties:5: replication.factor = 0: -1 (the broker's default) or at least 1");
  expect(bad(`${base}replication.factor = two`)).toContain("mm2.properties:5: replication.factor = \"two\" must be an integer");
  expect(bad(`${base}A->B.topics = orders, (`)).toContain('mm2.properties:5: A->B.topics: "(" is not a regular expression');
  expect(bad(`${base}offset-syncs.topic.location = middle`)).toBe('mm2.properties:5: offset-syncs.topic.location = "middle" must be source or target');
  expect(bad(`${base}A.security.protocol = SSL`)).toBe('mm2.properties:5: A.security.protocol = "SSL": the mirror speaks PLAINTEXT only');
  expect(bad(`${base}A.request.timeout.ms = 0`)).toContain("mm2.properties:5: A.request.timeout.ms = \"0\" must be an integer in [1,");
  expect(bad(`${base}replication.policy.separator = /`)).toContain("replication.policy.separator");
  expect(bad(base.replace("B.bootstrap.servers = 127.0.0.1:9093, 127.0.0.1:9094\n", ""))).toBe("mm2.properties:1: B.bootstrap.servers is not set");
  expect(bad(base.replace("127.0.0.1:9092", "localhost"))).toBe('mm2.properties:2: A.bootstrap.servers: bootstrap.servers entry "localhost" is not host:port');
  expect(bad("clusters = A\nA.bootstrap.servers = h:1")).toBe('mm2.properties:1: clusters = "A" names fewer than two clusters');
  expect(bad("A.bootstrap.servers = h:1")).toBe("mm2.properties: clusters is not set (e.g. clusters = A, B)");
  expect(bad("clusters = A, A")).toBe("mm2.properties:1: clusters names an alias twice");
  expect(bad("clusters = A, B.x")).toContain("mm2.properties:1: cluster alias \"B.x\" must match");
  // A top-level value no flow uses is still checked.
  expect(bad(`${base}A->B.sync.group.offsets.enabled = true\nsync.group.offsets.enabled = maybe`)).toBe('mm2.properties:6: sync.group.offsets.enabled = "maybe" is not true or false');
});
