import { describe, expect, test } from "bun:test";
import {
  AclOperation as Op,
  AclPermission as Perm,
  type AclBinding,
  type AclBindingData,
  aclBindingProblem,
  aclFilterMatches,
  type AclBindingFilter,
  createAcls,
  deleteAcls,
  PatternType as Pat,
  ResourceType as Res,
} from "../../src/metadata/acl.ts";
import { AclIndex, allowImplies, authorize, authorizeByResourceType, type AuthorizerConfig, StandardAuthorizer } from "../../src/metadata/authorizer.ts";
import { applyRecords } from "../../src/metadata/controller.ts";
import { MetadataImage } from "../../src/metadata/image.ts";
import { decodeMetadataRecord, encodeMetadataRecord } from "../../src/metadata/records.ts";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";

let nextId = 0;
function acl(over: Partial<AclBindingData>): AclBinding {
  return {
    id: `id-${nextId++}` as Uuid,
    resourceType: Res.TOPIC,
    resourceName: "orders",
    patternType: Pat.LITERAL,
    principal: "User:alice",
    host: "*",
    operation: Op.READ,
    permissionType: Perm.ALLOW,
    ...over,
  };
}

const strict: AuthorizerConfig = { superUsers: new Set(), allowEveryoneIfNoAclFound: false };
const open: AuthorizerConfig = { superUsers: new Set(), allowEveryoneIfNoAclFound: true };
const alice = { principal: "User:alice", host: "10.0.0.1" };
const bob = { principal: "User:bob", host: "10.0.0.2" };

function can(acls: AclBinding[], subject: { principal: string; host: string }, op: number, name = "orders", type: number = Res.TOPIC, config = strict): boolean {
  return authorize(new AclIndex(acls), config, subject, op, type, name);
}

describe("authorize", () => {
  test("no ACL: denied, unless allow.everyone.if.no.acl.found", () => {
    expect(can([], alice, Op.READ)).toBe(false);
    expect(can([], alice, Op.READ, "orders", Res.TOPIC, open)).toBe(true);
  });

  test("an ACL for someone else closes the resource to everyone else, even with allow.everyone", () => {
    const acls = [acl({ principal: "User:bob" })];
    expect(can(acls, alice, Op.READ, "orders", Res.TOPIC, open)).toBe(false);
    expect(can(acls, bob, Op.READ, "orders", Res.TOPIC, open)).toBe(true);
    // Another resource has no ACL: still open.
    expect(can(acls, alice, Op.READ, "payments", Res.TOPIC, open)).toBe(true);
  });

  test("ALLOW grants the operation it names, and only on its resource and type", () => {
    const acls = [acl({})];
    expect(can(acls, alice, Op.READ)).toBe(true);
    expect(can(acls, alice, Op.WRITE)).toBe(false);
    expect(can(acls, alice, Op.READ, "orders2")).toBe(false);
    expect(can(acls, alice, Op.READ, "orders", Res.GROUP)).toBe(false);
    expect(can(acls, bob, Op.READ)).toBe(false);
  });

  test("DENY beats ALLOW, including ALL and wildcards", () => {
    expect(can([acl({}), acl({ permissionType: Perm.DENY })], alice, Op.READ)).toBe(false);
    expect(can([acl({ operation: Op.ALL }), acl({ permissionType: Perm.DENY, operation: Op.WRITE })], alice, Op.READ)).toBe(true);
    expect(can([acl({ operation: Op.ALL }), acl({ permissionType: Perm.DENY, operation: Op.WRITE })], alice, Op.WRITE)).toBe(false);
    expect(can([acl({}), acl({ permissionType: Perm.DENY, operation: Op.ALL, principal: "User:*", resourceName: "*" })], alice, Op.READ)).toBe(false);
    expect(can([acl({}), acl({ permissionType: Perm.DENY, patternType: Pat.PREFIXED, resourceName: "ord" })], alice, Op.READ)).toBe(false);
  });

  test("implications: READ/WRITE/DELETE/ALTER imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS, ALLOW only", () => {
    for (const granted of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER, Op.DESCRIBE, Op.ALL]) expect(can([acl({ operation: granted })], alice, Op.DESCRIBE)).toBe(true);
    for (const granted of [Op.CREATE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE]) {
      expect(can([acl({ operation: granted })], alice, Op.DESCRIBE)).toBe(false);
    }
    expect(can([acl({ operation: Op.ALTER_CONFIGS })], alice, Op.DESCRIBE_CONFIGS)).toBe(true);
    expect(can([acl({ operation: Op.DESCRIBE_CONFIGS })], alice, Op.ALTER_CONFIGS)).toBe(false);
    expect(can([acl({ operation: Op.DESCRIBE })], alice, Op.READ)).toBe(false);
    // A DENY of READ does not deny DESCRIBE that a WRITE allows.
    expect(can([acl({ operation: Op.WRITE }), acl({ operation: Op.READ, permissionType: Perm.DENY })], alice, Op.DESCRIBE)).toBe(true);
    expect(allowImplies(Op.ALL, Op.IDEMPOTENT_WRITE)).toBe(true);
  });

  test("PREFIXED patterns match names that start with them", () => {
    const acls = [acl({ patternType: Pat.PREFIXED, resourceName: "ord" })];
    expect(can(acls, alice, Op.READ, "ord")).toBe(true);
    expect(can(acls, alice, Op.READ, "orders")).toBe(true);
    expect(can(acls, alice, Op.READ, "or")).toBe(false);
    expect(can(acls, alice, Op.READ, "xorders")).toBe(false);
    // Several prefix lengths of one type.
    const more = [...acls, acl({ patternType: Pat.PREFIXED, resourceName: "payments-eu", operation: Op.WRITE })];
    expect(can(more, alice, Op.WRITE, "payments-eu-1")).toBe(true);
    expect(can(more, alice, Op.WRITE, "payments-us-1")).toBe(false);
  });

  test("nested prefixes on one path all apply; a DENY on the longer one wins", () => {
    const acls = [acl({ patternType: Pat.PREFIXED, resourceName: "a", operation: Op.ALL }), acl({ patternType: Pat.PREFIXED, resourceName: "abc", permissionType: Perm.DENY, operation: Op.WRITE })];
    expect(can(acls, alice, Op.WRITE, "ab")).toBe(true);
    expect(can(acls, alice, Op.WRITE, "abc")).toBe(false);
    expect(can(acls, alice, Op.WRITE, "abcd")).toBe(false);
    expect(can(acls, alice, Op.READ, "abcd")).toBe(true);
    expect(can(acls, alice, Op.READ, "b")).toBe(false);
  });

  test("the index agrees with a plain scan of every binding (seeded random ACL sets)", () => {
    const prng = new SeededPrng(801);
    const pick = <T>(xs: readonly T[]): T => xs[prng.int(xs.length)]!;
    const names = ["a", "ab", "abc", "b", "ba", "*", "orders", "ord"];
    const principals = ["User:alice", "User:bob", "User:*"];
    const ops = [Op.ALL, Op.READ, Op.WRITE, Op.DESCRIBE, Op.ALTER, Op.ALTER_CONFIGS, Op.DESCRIBE_CONFIGS];
    const reference = (acls: AclBinding[], config: AuthorizerConfig, subject: { principal: string; host: string }, op: number, type: number, name: string): boolean => {
      if (config.superUsers.has(subject.principal)) return true;
      const applies = acls.filter(
        (b) => b.resourceType === type && (b.patternType === Pat.LITERAL ? b.resourceName === name || b.resourceName === "*" : name.startsWith(b.resourceName)),
      );
      const mine = applies.filter((b) => (b.principal === subject.principal || b.principal === "User:*") && (b.host === "*" || b.host === subject.host));
      if (mine.some((b) => b.permissionType === Perm.DENY && (b.operation === op || b.operation === Op.ALL))) return false;
      if (mine.some((b) => b.permissionType === Perm.ALLOW && allowImplies(b.operation, op))) return true;
      return applies.length === 0 && config.allowEveryoneIfNoAclFound;
    };
    for (let round = 0; round < 200; round++) {
      const acls = Array.from({ length: prng.int(12) }, () =>
        acl({
          resourceType: pick([Res.TOPIC, Res.GROUP]),
          resourceName: pick(names),
          patternType: pick([Pat.LITERAL, Pat.PREFIXED]),
          principal: pick(principals),
          host: pick(["*", "10.0.0.1", "10.0.0.2"]),
          operation: pick(ops),
          permissionType: pick([Perm.ALLOW, Perm.DENY]),
        }),
      );
      const index = new AclIndex(acls);
      const config = pick([strict, open]);
      for (let q = 0; q < 50; q++) {
        const subject = pick([alice, bob]);
        const op = pick([Op.READ, Op.WRITE, Op.DESCRIBE, Op.ALTER, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS]);
        const type = pick([Res.TOPIC, Res.GROUP]);
        const name = pick([...names, "abcd", "orders-1", "x"]);
        expect(authorize(index, config, subject, op, type, name)).toBe(reference(acls, config, subject, op, type, name));
      }
    }
  });

  test("wildcard resource, principal User:* and host *", () => {
    expect(can([acl({ resourceName: "*" })], alice, Op.READ, "anything")).toBe(true);
    expect(can([acl({ principal: "User:*" })], bob, Op.READ)).toBe(true);
    expect(can([acl({ principal: "User:*" })], { principal: "Group:ops", host: "h" }, Op.READ)).toBe(false);
    expect(can([acl({ host: "10.0.0.1" })], alice, Op.READ)).toBe(true);
    expect(can([acl({ host: "10.0.0.9" })], alice, Op.READ)).toBe(false);
    // A literal "*" topic name is only the wildcard binding, not a name to match literally twice.
    expect(can([acl({ resourceName: "*" })], alice, Op.READ, "*")).toBe(true);
  });

  test("super users are allowed everything, even under a DENY", () => {
    const config = { superUsers: new Set(["User:admin"]), allowEveryoneIfNoAclFound: false };
    const acls = [acl({ principal: "User:*", permissionType: Perm.DENY, operation: Op.ALL, resourceName: "*" })];
    expect(can(acls, { principal: "User:admin", host: "x" }, Op.DELETE, "orders", Res.TOPIC, config)).toBe(true);
    expect(can(acls, alice, Op.DELETE, "orders", Res.TOPIC, config)).toBe(false);
  });

  test("cluster resource", () => {
    const acls = [acl({ resourceType: Res.CLUSTER, resourceName: "kafka-cluster", operation: Op.ALTER })];
    expect(can(acls, alice, Op.ALTER, "kafka-cluster", Res.CLUSTER)).toBe(true);
    expect(can(acls, alice, Op.DESCRIBE, "kafka-cluster", Res.CLUSTER)).toBe(true);
    expect(can(acls, alice, Op.CREATE, "kafka-cluster", Res.CLUSTER)).toBe(false);
  });

  test("authorizeByResourceType: WRITE on some topic, unless a DENY covers it", () => {
    const byType = (acls: AclBinding[], config = strict) => authorizeByResourceType(new AclIndex(acls), config, alice, Op.WRITE, Res.TOPIC);
    expect(byType([])).toBe(false);
    expect(byType([], open)).toBe(true);
    expect(byType([acl({ operation: Op.WRITE })])).toBe(true);
    expect(byType([acl({ operation: Op.WRITE }), acl({ operation: Op.WRITE, permissionType: Perm.DENY })])).toBe(false);
    expect(byType([acl({ operation: Op.WRITE, patternType: Pat.PREFIXED, resourceName: "ord" }), acl({ operation: Op.ALL, permissionType: Perm.DENY, patternType: Pat.PREFIXED, resourceName: "o" })])).toBe(false);
    expect(byType([acl({ operation: Op.WRITE }), acl({ operation: Op.WRITE, permissionType: Perm.DENY, resourceName: "*" })])).toBe(false);
    expect(byType([acl({ operation: Op.READ })])).toBe(false);
  });

  test("StandardAuthorizer rebuilds its index when the ACL map changes", () => {
    let acls = new Map<Uuid, AclBinding>();
    const authorizer = new StandardAuthorizer(strict, () => acls);
    expect(authorizer.authorize(alice, Op.READ, Res.TOPIC, "orders")).toBe(false);
    const b = acl({});
    acls = new Map([[b.id, b]]);
    expect(authorizer.authorize(alice, Op.READ, Res.TOPIC, "orders")).toBe(true);
    expect(authorizer.index()).toBe(authorizer.index());
  });
});

describe("ACL bindings, filters and decisions", () => {
  const valid: AclBindingData = { resourceType: Res.TOPIC, resourceName: "t", patternType: Pat.LITERAL, principal: "User:a", host: "*", operation: Op.READ, permissionType: Perm.ALLOW };

  test("validation refuses what Kafka refuses", () => {
    expect(aclBindingProblem(valid)).toBeNull();
    expect(aclBindingProblem({ ...valid, resourceType: Res.ANY })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, resourceType: Res.UNKNOWN })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, patternType: Pat.MATCH })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, patternType: Pat.ANY })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, operation: Op.ANY })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, operation: Op.UNKNOWN })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, permissionType: Perm.ANY })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, principal: "alice" })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, principal: ":alice" })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, resourceName: "" })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, resourceType: Res.CLUSTER, resourceName: "c" })).not.toBeNull();
    expect(aclBindingProblem({ ...valid, resourceType: Res.CLUSTER, resourceName: "kafka-cluster" })).toBeNull();
  });

  const filter = (over: Partial<AclBindingFilter>): AclBindingFilter => ({
    resourceType: Res.ANY,
    resourceName: null,
    patternType: Pat.ANY,
    principal: null,
    host: null,
    operation: Op.ANY,
    permissionType: Perm.ANY,
    ...over,
  });

  test("filters: ANY, exact and MATCH patterns", () => {
    const literal = { ...valid, resourceName: "orders" };
    const wildcard = { ...valid, resourceName: "*" };
    const prefixed = { ...valid, resourceName: "ord", patternType: Pat.PREFIXED };
    const other = { ...valid, resourceName: "pay", patternType: Pat.PREFIXED };
    const all = [literal, wildcard, prefixed, other];
    const picked = (f: AclBindingFilter) => all.filter((b) => aclFilterMatches(f, b));
    expect(picked(filter({}))).toEqual(all);
    expect(picked(filter({ resourceName: "orders", patternType: Pat.MATCH }))).toEqual([literal, wildcard, prefixed]);
    expect(picked(filter({ resourceName: "orders" }))).toEqual([literal]);
    expect(picked(filter({ patternType: Pat.PREFIXED }))).toEqual([prefixed, other]);
    expect(picked(filter({ patternType: Pat.LITERAL, resourceName: "ord" }))).toEqual([]);
    expect(picked(filter({ resourceType: Res.GROUP }))).toEqual([]);
    expect(picked(filter({ principal: "User:b" }))).toEqual([]);
    expect(picked(filter({ operation: Op.READ, permissionType: Perm.ALLOW }))).toEqual(all);
  });

  test("createAcls writes one record per new binding; duplicates and invalid ones write none", () => {
    const ctx = { image: MetadataImage.EMPTY, prng: new SeededPrng(1), defaults: { numPartitions: 1, defaultReplicationFactor: 1 } };
    const { records, response } = createAcls(ctx, [valid, valid, { ...valid, principal: "nope" }]);
    expect(response.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.INVALID_REQUEST]);
    expect(records.length).toBe(1);
    const image = applyRecords(MetadataImage.EMPTY, records);
    expect([...image.acls.values()].map(({ id: _, ...b }) => b)).toEqual([valid]);
    const again = createAcls({ ...ctx, image }, [valid]);
    expect(again.records).toEqual([]);
    // Records survive their wire form.
    for (const r of records) expect(decodeMetadataRecord(encodeMetadataRecord(r).value)).toEqual({ ok: true, record: r });
  });

  test("deleteAcls removes what each filter matches, once; UNKNOWN filters are refused", () => {
    const ctx0 = { image: MetadataImage.EMPTY, prng: new SeededPrng(2), defaults: { numPartitions: 1, defaultReplicationFactor: 1 } };
    const created = createAcls(ctx0, [valid, { ...valid, resourceName: "u" }, { ...valid, resourceType: Res.GROUP }]);
    const image = applyRecords(MetadataImage.EMPTY, created.records);
    const { records, response } = deleteAcls({ ...ctx0, image }, [filter({ resourceType: Res.TOPIC }), filter({ resourceName: "t" }), filter({ operation: Op.UNKNOWN })]);
    expect(response.map((r) => [r.errorCode, r.deleted.length])).toEqual([
      [ErrorCode.NONE, 2],
      [ErrorCode.NONE, 2],
      [ErrorCode.INVALID_REQUEST, 0],
    ]);
    expect(records.length).toBe(3);
    expect(applyRecords(image, records).acls.size).toBe(0);
  });

  test("replay refuses a duplicate id, an unknown removal and an invalid binding", () => {
    const ctx = { image: MetadataImage.EMPTY, prng: new SeededPrng(3), defaults: { numPartitions: 1, defaultReplicationFactor: 1 } };
    const { records } = createAcls(ctx, [valid]);
    const image = applyRecords(MetadataImage.EMPTY, records);
    expect(() => applyRecords(image, records)).toThrow(/exists/);
    expect(() => applyRecords(MetadataImage.EMPTY, [{ type: "removeAcl", id: records[0]!.type === "acl" ? records[0]!.id : ("x" as Uuid) }])).toThrow(/unknown acl/);
    const bad = { ...records[0]!, principal: "nocolon" } as (typeof records)[0];
    expect(() => applyRecords(MetadataImage.EMPTY, [bad])).toThrow(/Type:name/);
  });
});
