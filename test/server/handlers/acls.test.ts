/**
 * CreateAcls / DescribeAcls / DeleteAcls through the real dispatcher and the served handler
 * list (with each API's authorization gate), and enforcement on the request path.
 * `admin` sends as a super user; `send` (the harness connection) as User:ANONYMOUS.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { AclOperation as Op, AclPermission as Perm, PatternType as Pat, ResourceType as Res } from "../../../src/metadata/acl.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { defaultCreateAclsRequest, defaultAclCreation, type AclCreation } from "../../../src/protocol/messages/create-acls-request.ts";
import { defaultDeleteAclsFilter, defaultDeleteAclsRequest, type DeleteAclsFilter } from "../../../src/protocol/messages/delete-acls-request.ts";
import { defaultDescribeAclsRequest, type DescribeAclsRequest } from "../../../src/protocol/messages/describe-acls-request.ts";
import { defaultMetadataRequest, defaultMetadataRequestTopic } from "../../../src/protocol/messages/metadata-request.ts";
import { defaultJoinGroupRequest } from "../../../src/protocol/messages/join-group-request.ts";
import { defaultInitProducerIdRequest } from "../../../src/protocol/messages/init-producer-id-request.ts";
import { defaultDescribeClusterRequest } from "../../../src/protocol/messages/describe-cluster-request.ts";
import { createDispatcher } from "../../../src/server/dispatch.ts";
import { apiGates } from "../../../src/server/handlers/api-gates.ts";
import { controllerHandlers, handlers } from "../../../src/server/handlers/index.ts";
import { sender, startTestBroker, testConnectionInfo, type TestBroker } from "../harness.ts";
import { batch, fetched, fetchRequest, produced, produceRequest } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

const ADMIN = "User:admin";

async function start(authorizer: boolean, allowEveryoneIfNoAclFound = false, autoCreateTopicsEnable = false) {
  b = await startTestBroker({
    handlers,
    settings: { autoCreateTopicsEnable },
    ...(authorizer ? { authorizer: { superUsers: new Set([ADMIN]), allowEveryoneIfNoAclFound } } : {}),
  });
  await b.createTopic("orders", 1);
  await b.createTopic("payments", 1);
  const admin = sender(b.dispatch, 1000, { ...testConnectionInfo(), principal: ADMIN });
  return { br: b, admin };
}

const creation = (over: Partial<AclCreation>): AclCreation => ({
  ...defaultAclCreation(),
  resourceType: Res.TOPIC,
  resourceName: "orders",
  resourcePatternType: Pat.LITERAL,
  principal: "User:ANONYMOUS",
  host: "*",
  operation: Op.WRITE,
  permissionType: Perm.ALLOW,
  ...over,
});

const describeFilter = (over: Partial<DescribeAclsRequest>): DescribeAclsRequest => ({
  ...defaultDescribeAclsRequest(),
  resourceTypeFilter: Res.ANY,
  resourceNameFilter: null,
  patternTypeFilter: Pat.ANY,
  principalFilter: null,
  hostFilter: null,
  operation: Op.ANY,
  permissionType: Perm.ANY,
  ...over,
});

const deleteFilter = (over: Partial<DeleteAclsFilter>): DeleteAclsFilter => ({
  ...defaultDeleteAclsFilter(),
  resourceTypeFilter: Res.ANY,
  resourceNameFilter: null,
  patternTypeFilter: Pat.ANY,
  principalFilter: null,
  hostFilter: null,
  operation: Op.ANY,
  permissionType: Perm.ANY,
  ...over,
});

describe("ACL APIs without an authorizer", () => {
  test("answer SECURITY_DISABLED at every version and enforce nothing", async () => {
    const { br } = await start(false);
    for (let v = 0; v <= 3; v++) {
      const created = await br.send(ApiKeys.CreateAcls, v, { ...defaultCreateAclsRequest(), creations: [creation({})] });
      expect(created!.results.map((r) => r.errorCode)).toEqual([ErrorCode.SECURITY_DISABLED]);
      const described = await br.send(ApiKeys.DescribeAcls, v, describeFilter({ patternTypeFilter: v === 0 ? Pat.LITERAL : Pat.ANY }));
      expect(described!.errorCode).toBe(ErrorCode.SECURITY_DISABLED);
      const deleted = await br.send(ApiKeys.DeleteAcls, v, { ...defaultDeleteAclsRequest(), filters: [deleteFilter({ patternTypeFilter: v === 0 ? Pat.LITERAL : Pat.ANY })] });
      expect(deleted!.filterResults.map((r) => r.errorCode)).toEqual([ErrorCode.SECURITY_DISABLED]);
    }
    expect(br.metadata.image.acls.size).toBe(0);
    expect(produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "orders", records: batch(1) }])), "orders").errorCode).toBe(ErrorCode.NONE);
  });
});

describe("ACL APIs with an authorizer", () => {
  test("CreateAcls validates each creation as Kafka does; duplicates succeed once stored", async () => {
    const { admin, br } = await start(true);
    const r = await admin(ApiKeys.CreateAcls, 3, {
      ...defaultCreateAclsRequest(),
      creations: [
        creation({}),
        creation({}),
        creation({ resourceType: Res.ANY }),
        creation({ resourceType: Res.UNKNOWN }),
        creation({ operation: Op.ANY }),
        creation({ permissionType: Perm.ANY }),
        creation({ resourcePatternType: Pat.MATCH }),
        creation({ principal: "ANONYMOUS" }),
        creation({ resourceName: "" }),
        creation({ resourceType: Res.CLUSTER, resourceName: "my-cluster" }),
        creation({ resourcePatternType: Pat.PREFIXED, resourceName: "pay", operation: Op.READ }),
      ],
    });
    const I = ErrorCode.INVALID_REQUEST;
    expect(r!.results.map((x) => x.errorCode)).toEqual([0, 0, I, I, I, I, I, I, I, I, 0]);
    expect(r!.results[7]!.errorMessage).toContain("Type:name");
    expect(br.metadata.image.acls.size).toBe(2);
    // v0 creations carry no pattern type: LITERAL.
    const v0 = await admin(ApiKeys.CreateAcls, 0, { ...defaultCreateAclsRequest(), creations: [creation({ resourceName: "v0", resourcePatternType: Pat.LITERAL })] });
    expect(v0!.results[0]!.errorCode).toBe(ErrorCode.NONE);
    expect([...br.metadata.image.acls.values()].find((a) => a.resourceName === "v0")!.patternType).toBe(Pat.LITERAL);
  });

  test("DescribeAcls and DeleteAcls filters: exact, ANY and MATCH", async () => {
    const { admin } = await start(true);
    await admin(ApiKeys.CreateAcls, 3, {
      ...defaultCreateAclsRequest(),
      creations: [
        creation({}),
        creation({ resourceName: "*", operation: Op.DESCRIBE }),
        creation({ resourcePatternType: Pat.PREFIXED, resourceName: "ord", operation: Op.READ }),
        creation({ resourcePatternType: Pat.PREFIXED, resourceName: "pay", operation: Op.READ }),
        creation({ resourceType: Res.GROUP, resourceName: "g", operation: Op.READ, principal: "User:bob", permissionType: Perm.DENY }),
      ],
    });
    const names = async (f: Partial<DescribeAclsRequest>, v = 3) => {
      const r = await admin(ApiKeys.DescribeAcls, v, describeFilter(f));
      expect(r!.errorCode).toBe(ErrorCode.NONE);
      return r!.resources.map((x) => `${x.resourceType}/${x.patternType}/${x.resourceName}:${x.acls.map((a) => `${a.principal}@${a.host}/${a.operation}/${a.permissionType}`).join(",")}`);
    };
    expect(await names({})).toHaveLength(5);
    expect(await names({ resourceNameFilter: "orders", patternTypeFilter: Pat.MATCH })).toEqual([
      `2/3/orders:User:ANONYMOUS@*/${Op.WRITE}/3`,
      `2/3/*:User:ANONYMOUS@*/${Op.DESCRIBE}/3`,
      `2/4/ord:User:ANONYMOUS@*/${Op.READ}/3`,
    ]);
    expect(await names({ patternTypeFilter: Pat.PREFIXED })).toHaveLength(2);
    expect(await names({ resourceTypeFilter: Res.GROUP, principalFilter: "User:bob", permissionType: Perm.DENY })).toEqual([`3/3/g:User:bob@*/${Op.READ}/2`]);
    // v0 filters are LITERAL.
    expect(await names({ patternTypeFilter: Pat.LITERAL }, 0)).toHaveLength(3);
    const bad = await admin(ApiKeys.DescribeAcls, 3, describeFilter({ resourceTypeFilter: Res.UNKNOWN }));
    expect(bad!.errorCode).toBe(ErrorCode.INVALID_REQUEST);

    const deleted = await admin(ApiKeys.DeleteAcls, 3, {
      ...defaultDeleteAclsRequest(),
      filters: [deleteFilter({ resourceNameFilter: "orders", patternTypeFilter: Pat.MATCH }), deleteFilter({ operation: Op.UNKNOWN }), deleteFilter({ resourceTypeFilter: Res.GROUP })],
    });
    expect(deleted!.filterResults.map((r) => [r.errorCode, r.matchingAcls.map((a) => a.resourceName)])).toEqual([
      [ErrorCode.NONE, ["orders", "*", "ord"]],
      [ErrorCode.INVALID_REQUEST, []],
      [ErrorCode.NONE, ["g"]],
    ]);
    expect(await names({})).toEqual([`2/4/pay:User:ANONYMOUS@*/${Op.READ}/3`]);
  });

  test("the ACL APIs need CLUSTER ALTER / DESCRIBE", async () => {
    const { br, admin } = await start(true);
    const denied = await br.send(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({})] });
    expect(denied!.results[0]!.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect((await br.send(ApiKeys.DescribeAcls, 3, describeFilter({})))!.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ resourceType: Res.CLUSTER, resourceName: "kafka-cluster", operation: Op.ALTER })] });
    // ALTER implies DESCRIBE.
    expect((await br.send(ApiKeys.DescribeAcls, 3, describeFilter({})))!.errorCode).toBe(ErrorCode.NONE);
    const allowed = await br.send(ApiKeys.DeleteAcls, 3, { ...defaultDeleteAclsRequest(), filters: [deleteFilter({})] });
    expect(allowed!.filterResults[0]!.matchingAcls).toHaveLength(1);
    expect(br.metadata.image.acls.size).toBe(0);
  });

  test("a request that reaches the controller listener (forwarded, already authorized) is decided alike, without a gate", async () => {
    const { br, admin } = await start(true);
    const controller = sender(createDispatcher(controllerHandlers, br.services), 2000, testConnectionInfo());
    const body = { ...defaultCreateAclsRequest(), creations: [creation({}), creation({ principal: "bad" })] };
    const viaBroker = await admin(ApiKeys.CreateAcls, 3, body);
    const viaController = await controller(ApiKeys.CreateAcls, 3, body);
    expect(viaController!.results.map((r) => r.errorCode)).toEqual(viaBroker!.results.map((r) => r.errorCode));
    expect(viaBroker!.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.INVALID_REQUEST]);
    const deleted = await controller(ApiKeys.DeleteAcls, 3, { ...defaultDeleteAclsRequest(), filters: [deleteFilter({})] });
    expect(deleted!.filterResults[0]!.matchingAcls).toHaveLength(1);
  });
});

describe("enforcement", () => {
  test("every API clients reach has a gate, except ApiVersions (a new API must say how it is authorized)", () => {
    const ungated = handlers.filter((h) => h.apiKey !== ApiKeys.ApiVersions && apiGates[h.apiKey] === undefined).map((h) => h.apiKey);
    expect(ungated).toEqual([]);
  });

  test("produce and fetch: refused without an ACL, allowed after CreateAcls, refused after DeleteAcls", async () => {
    const { br, admin } = await start(true);
    const produce = async () => produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "orders", records: batch(1) }])), "orders").errorCode;
    const fetch = async () => fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "orders", partition: 0, offset: 0 }]))).errorCode;
    expect(await produce()).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    expect(await fetch()).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    expect(br.replicas.getPartition("orders", 0)!.log.logEndOffset).toBe(0);
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ operation: Op.WRITE }), creation({ operation: Op.READ })] });
    expect(await produce()).toBe(ErrorCode.NONE);
    expect(await fetch()).toBe(ErrorCode.NONE);
    // Mixed request: the allowed topic is served, the other refused.
    const mixed = await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "orders", records: batch(1) }, { topic: "payments", records: batch(1) }]));
    expect(produced(mixed, "orders").errorCode).toBe(ErrorCode.NONE);
    expect(produced(mixed, "payments").errorCode).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    await admin(ApiKeys.DeleteAcls, 3, { ...defaultDeleteAclsRequest(), filters: [deleteFilter({ resourceNameFilter: "orders" })] });
    expect(await produce()).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  test("Metadata hides undescribable topics and refuses named ones; auto-creation needs CREATE", async () => {
    const { br, admin } = await start(true, false, true);
    const all = await br.send(ApiKeys.Metadata, 12, { ...defaultMetadataRequest(), topics: null });
    expect(all!.topics).toEqual([]);
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ operation: Op.READ })] });
    const some = await br.send(ApiKeys.Metadata, 12, { ...defaultMetadataRequest(), topics: null });
    expect(some!.topics.map((t) => t.name)).toEqual(["orders"]);
    // v0 asks for every topic with an empty list.
    const v0 = await br.send(ApiKeys.Metadata, 0, { ...defaultMetadataRequest(), topics: [] });
    expect(v0!.topics.map((t) => t.name)).toEqual(["orders"]);
    const named = await br.send(ApiKeys.Metadata, 12, {
      ...defaultMetadataRequest(),
      allowAutoTopicCreation: false,
      topics: ["orders", "payments"].map((name) => ({ ...defaultMetadataRequestTopic(), name })),
    });
    expect(named!.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["orders", ErrorCode.NONE],
      ["payments", ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    ]);
    const autoCreate = () => br.send(ApiKeys.Metadata, 12, { ...defaultMetadataRequest(), allowAutoTopicCreation: true, topics: [{ ...defaultMetadataRequestTopic(), name: "fresh" }] });
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ resourceName: "*", operation: Op.DESCRIBE })] });
    expect((await autoCreate())!.topics.map((t) => t.errorCode)).toEqual([ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
    expect(br.metadata.image.topic("fresh")).toBeUndefined();
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ resourceType: Res.CLUSTER, resourceName: "kafka-cluster", operation: Op.CREATE })] });
    await autoCreate();
    expect(br.metadata.image.topic("fresh")).toBeDefined();
  });

  test("group, cluster and idempotence checks", async () => {
    const { br, admin } = await start(true);
    const join = await br.send(ApiKeys.JoinGroup, 5, { ...defaultJoinGroupRequest(), groupId: "g", protocolType: "consumer", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000 });
    expect(join!.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const init = await br.send(ApiKeys.InitProducerId, 4, { ...defaultInitProducerIdRequest(), transactionalId: null, transactionTimeoutMs: 60_000 });
    expect(init!.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect((await br.send(ApiKeys.DescribeCluster, 0, defaultDescribeClusterRequest()))!.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // WRITE on some topic is enough for an idempotent producer (Kafka 3+).
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ operation: Op.WRITE })] });
    const init2 = await br.send(ApiKeys.InitProducerId, 4, { ...defaultInitProducerIdRequest(), transactionalId: null, transactionTimeoutMs: 60_000 });
    expect(init2!.errorCode).toBe(ErrorCode.NONE);
  });

  test("allow.everyone.if.no.acl.found opens resources no ACL names; a DENY closes them", async () => {
    const { br, admin } = await start(true, true);
    const produce = async (topic: string) => produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic, records: batch(1) }])), topic).errorCode;
    expect(await produce("orders")).toBe(ErrorCode.NONE);
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ permissionType: Perm.DENY, principal: "User:*" })] });
    expect(await produce("orders")).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    expect(await produce("payments")).toBe(ErrorCode.NONE);
  });

  test("authorized operations: every operation of the resource without an authorizer, what the ACLs allow with one", async () => {
    const bits = (...ops: number[]) => ops.reduce((n, op) => n | (1 << op), 0);
    const TOPIC_ALL = bits(Op.READ, Op.WRITE, Op.CREATE, Op.DELETE, Op.ALTER, Op.DESCRIBE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS);
    const OMITTED = -2147483648;
    const topicOps = async (include: boolean) =>
      (await b!.send(ApiKeys.Metadata, 12, { ...defaultMetadataRequest(), includeTopicAuthorizedOperations: include, topics: [{ ...defaultMetadataRequestTopic(), name: "orders" }] }))!.topics[0]!.topicAuthorizedOperations;
    await start(false);
    expect(await topicOps(false)).toBe(OMITTED);
    expect(await topicOps(true)).toBe(TOPIC_ALL);
    const cluster = await b!.send(ApiKeys.DescribeCluster, 0, { ...defaultDescribeClusterRequest(), includeClusterAuthorizedOperations: true });
    expect(cluster!.clusterAuthorizedOperations).toBe(bits(Op.CREATE, Op.ALTER, Op.DESCRIBE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE));
    b!.close();
    const { admin } = await start(true);
    // READ implies DESCRIBE; nothing else is granted
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ operation: Op.READ })] });
    expect(await topicOps(true)).toBe(bits(Op.READ, Op.DESCRIBE));
    await admin(ApiKeys.CreateAcls, 3, { ...defaultCreateAclsRequest(), creations: [creation({ operation: Op.ALTER_CONFIGS })] });
    // ALTER_CONFIGS implies DESCRIBE_CONFIGS
    expect(await topicOps(true)).toBe(bits(Op.READ, Op.DESCRIBE, Op.ALTER_CONFIGS, Op.DESCRIBE_CONFIGS));
  });
});
