/**
 * Replication policies: target names under both policies and separators, and the topics a
 * flow never copies (remote topics under the Default policy, the mirror's and Kafka's own).
 */
import { expect, test } from "bun:test";
import { parseMirrorConfig } from "../../src/mirror/config.ts";
import { checkpointsTopic, offsetSyncsTopic, shouldMirrorTopic, targetTopicName, upstreamAlias } from "../../src/mirror/policy.ts";

function flow(extra: string) {
  const r = parseMirrorConfig(`clusters = A, B, C\nA.bootstrap.servers = h:1\nB.bootstrap.servers = h:2\nC.bootstrap.servers = h:3\nA->B.enabled = true\n${extra}`, "f");
  if (!r.ok) throw new Error(r.message);
  return r.config.flows[0]!;
}
const aliases = new Set(["A", "B", "C"]);

test("Default policy: prefixed names, remote topics never copied (no A.B.x, nothing sent home)", () => {
  const f = flow("");
  expect(targetTopicName(f, "orders")).toBe("A.orders");
  expect(shouldMirrorTopic(f, "orders", aliases)).toBe(true);
  expect(shouldMirrorTopic(f, "B.orders", aliases)).toBe(false); // B's copy on A: home is B
  expect(shouldMirrorTopic(f, "C.orders", aliases)).toBe(false); // would become A.C.orders
  expect(shouldMirrorTopic(f, "D.orders", aliases)).toBe(true); // D is no cluster alias
  expect(upstreamAlias("B.orders", ".", aliases)).toBe("B");
  expect(upstreamAlias("orders", ".", aliases)).toBeNull();
  const underscored = flow("replication.policy.separator = _");
  expect(targetTopicName(underscored, "orders")).toBe("A_orders");
  expect(shouldMirrorTopic(underscored, "B_orders", aliases)).toBe(false);
  expect(shouldMirrorTopic(underscored, "B.orders", aliases)).toBe(true);
});

test("Identity policy keeps names; internal and heartbeat topics are never data", () => {
  const f = flow("replication.policy.class = IdentityReplicationPolicy\ntopics.exclude =");
  expect(targetTopicName(f, "orders")).toBe("orders");
  expect(shouldMirrorTopic(f, "B.orders", aliases)).toBe(true); // names say nothing under identity
  for (const t of ["__consumer_offsets", "heartbeats", "B.heartbeats", offsetSyncsTopic("B", "."), checkpointsTopic("A", "."), "bunka-mirror-producers.internal"]) {
    expect({ t, copied: shouldMirrorTopic(f, t, aliases) }).toEqual({ t, copied: false });
  }
  const only = flow("A->B.topics = orders.*\nA->B.topics.exclude = orders-tmp");
  expect([shouldMirrorTopic(only, "orders-eu", aliases), shouldMirrorTopic(only, "orders-tmp", aliases), shouldMirrorTopic(only, "payments", aliases)]).toEqual([true, false, false]);
});
