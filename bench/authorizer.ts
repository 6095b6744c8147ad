/**
 * Micro-benchmark of one authorization decision (metadata/authorizer.ts): the cost a gate
 * adds per topic of a request when an authorizer is configured.
 *
 * The ACL set: 1,000 bindings — 600 LITERAL topic ACLs over 200 topics (READ/WRITE/DESCRIBE
 * for 3 principals), 100 PREFIXED topic ACLs with prefixes of 4–12 characters, 200 group
 * ACLs, a few wildcard (`*`, `User:*`) and cluster ones, and some DENYs. Decisions: an
 * allowed READ by a literal ACL, an implied DESCRIBE, a DENY, a prefix match, a miss (no ACL:
 * falls to allow.everyone), and the "by resource type" question of idempotent producers.
 *
 * Run: `bun bench/authorizer.ts`. Prints mitata's table and the median of each, in ns.
 */
import { bench, do_not_optimize, run, summary } from "mitata";
import { AclOperation as Op, AclPermission as Perm, type AclBinding, PatternType as Pat, ResourceType as Res } from "../src/metadata/acl.ts";
import { AclIndex, authorize, authorizeByResourceType, type AuthorizerConfig } from "../src/metadata/authorizer.ts";
import type { Uuid } from "../src/metadata/uuid.ts";

const acls: AclBinding[] = [];
let n = 0;
const add = (b: Omit<AclBinding, "id" | "host"> & { host?: string }): void => {
  acls.push({ host: "*", ...b, id: `acl-${n++}` as Uuid });
};
const principals = ["User:alice", "User:bob", "User:carol"];
for (let t = 0; t < 200; t++) {
  const p = principals[t % 3]!;
  for (const operation of [Op.READ, Op.WRITE, Op.DESCRIBE]) add({ resourceType: Res.TOPIC, resourceName: `topic-${t}`, patternType: Pat.LITERAL, principal: p, operation, permissionType: Perm.ALLOW });
}
for (let i = 0; i < 100; i++) {
  const prefix = `team-${i}-`.padEnd(4 + (i % 9), "x");
  add({ resourceType: Res.TOPIC, resourceName: prefix, patternType: Pat.PREFIXED, principal: principals[i % 3]!, operation: Op.ALL, permissionType: Perm.ALLOW });
}
for (let i = 0; i < 200; i++) add({ resourceType: Res.GROUP, resourceName: `group-${i}`, patternType: Pat.LITERAL, principal: principals[i % 3]!, operation: Op.READ, permissionType: Perm.ALLOW });
for (let i = 0; i < 95; i++) add({ resourceType: Res.TOPIC, resourceName: `denied-${i}`, patternType: Pat.LITERAL, principal: "User:*", operation: Op.WRITE, permissionType: Perm.DENY });
add({ resourceType: Res.TOPIC, resourceName: "*", patternType: Pat.LITERAL, principal: "User:ops", operation: Op.DESCRIBE, permissionType: Perm.ALLOW });
add({ resourceType: Res.CLUSTER, resourceName: "kafka-cluster", patternType: Pat.LITERAL, principal: "User:ops", operation: Op.ALL, permissionType: Perm.ALLOW });
while (acls.length < 1000) add({ resourceType: Res.TRANSACTIONAL_ID, resourceName: `txn-${acls.length}`, patternType: Pat.LITERAL, principal: "User:alice", operation: Op.WRITE, permissionType: Perm.ALLOW });
if (acls.length !== 1000) throw new Error(`bench: ${acls.length} ACLs`);

const index = new AclIndex(acls);
const config: AuthorizerConfig = { superUsers: new Set(["User:admin"]), allowEveryoneIfNoAclFound: false };
const alice = { principal: "User:alice", host: "10.1.2.3" };

const cases: [string, () => boolean, boolean][] = [
  ["literal ALLOW (READ topic-99)", () => authorize(index, config, alice, Op.READ, Res.TOPIC, "topic-99"), true],
  ["implied DESCRIBE (topic-99)", () => authorize(index, config, alice, Op.DESCRIBE, Res.TOPIC, "topic-99"), true],
  ["DENY via User:* (WRITE denied-7)", () => authorize(index, config, alice, Op.WRITE, Res.TOPIC, "denied-7"), false],
  ["PREFIXED ALLOW (team-0-xyz-events)", () => authorize(index, config, alice, Op.WRITE, Res.TOPIC, "team-0-xyz-events"), true],
  ["no ACL applies (unknown-topic)", () => authorize(index, config, alice, Op.READ, Res.TOPIC, "unknown-topic"), false],
  ["super user", () => authorize(index, config, { principal: "User:admin", host: "h" }, Op.ALTER, Res.CLUSTER, "kafka-cluster"), true],
  ["by resource type (WRITE on some topic)", () => authorizeByResourceType(index, config, alice, Op.WRITE, Res.TOPIC), true],
];
for (const [name, f, expected] of cases) if (f() !== expected) throw new Error(`bench: ${name} decided ${!expected}`);

summary(() => {
  for (const [name, f] of cases) bench(name, () => do_not_optimize(f()));
});
bench("index build (1,000 ACLs)", () => do_not_optimize(new AclIndex(acls)));

const { benchmarks } = await run({ format: "mitata" });
console.log("\nmedians (1,000 ACLs):");
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (stats !== undefined) console.log(`  ${trial.alias}: ${stats.p50.toFixed(1)} ns`);
}
