/**
 * Group APIs end to end through the real dispatcher and codecs, on the handler harness: the
 * group coordinator persists into `__consumer_offsets` through the ReplicaManager
 * (ReplicaOffsetsTopicLog), FindCoordinator creates that topic, and a restarted broker loads
 * the groups and offsets back from its log.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { GroupCoordinator } from "../../../src/coordinator/group-coordinator.ts";
import { OFFSETS_TOPIC_NAME } from "../../../src/coordinator/partitioner.ts";
import { startGroupCoordinator } from "../../../src/coordinator/start.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { defaultDeleteGroupsRequest } from "../../../src/protocol/messages/delete-groups-request.ts";
import { defaultDeleteTopicsRequest } from "../../../src/protocol/messages/delete-topics-request.ts";
import { defaultDescribeGroupsRequest } from "../../../src/protocol/messages/describe-groups-request.ts";
import { defaultFindCoordinatorRequest } from "../../../src/protocol/messages/find-coordinator-request.ts";
import { defaultHeartbeatRequest } from "../../../src/protocol/messages/heartbeat-request.ts";
import { defaultJoinGroupRequest, defaultJoinGroupRequestProtocol } from "../../../src/protocol/messages/join-group-request.ts";
import { defaultLeaveGroupRequest, defaultMemberIdentity } from "../../../src/protocol/messages/leave-group-request.ts";
import { defaultListGroupsRequest } from "../../../src/protocol/messages/list-groups-request.ts";
import { defaultMetadataRequest, defaultMetadataRequestTopic } from "../../../src/protocol/messages/metadata-request.ts";
import {
  defaultOffsetCommitRequest,
  defaultOffsetCommitRequestPartition,
  defaultOffsetCommitRequestTopic,
} from "../../../src/protocol/messages/offset-commit-request.ts";
import { defaultOffsetDeleteRequest } from "../../../src/protocol/messages/offset-delete-request.ts";
import {
  defaultOffsetFetchRequest,
  defaultOffsetFetchRequestGroup,
  defaultOffsetFetchRequestTopic,
  defaultOffsetFetchRequestTopics,
} from "../../../src/protocol/messages/offset-fetch-request.ts";
import { defaultSyncGroupRequest, defaultSyncGroupRequestAssignment } from "../../../src/protocol/messages/sync-group-request.ts";
import { handlers } from "../../../src/server/handlers/index.ts";
import { flattenChunks } from "../../../src/protocol/codec/writer.ts";
import { decodeResponse, encodeRequest } from "../../../src/protocol/frame.ts";
import { ProtocolViolation } from "../../../src/server/dispatch.ts";
import { startTestBroker, testConnection, type TestBroker } from "../harness.ts";

const E = ErrorCode;
const PARTITIONS = 3;
const open: TestBroker[] = [];

afterEach(() => {
  for (const b of open.splice(0)) {
    b.services.groups?.shutdown();
    b.close();
  }
});

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Gives the harness broker a group coordinator wired as the broker does (startGroupCoordinator). */
function withGroups(b: TestBroker): GroupCoordinator {
  const values: Record<string, string> = { "offsets.topic.num.partitions": String(PARTITIONS), "group.initial.rebalance.delay.ms": "0" };
  const gc = startGroupCoordinator({
    nodeId: b.nodeId,
    metadata: b.metadata,
    replicas: b.replicas,
    clock: b.clock,
    prng: b.prng,
    logger: b.services.log,
    configValue: (name) => values[name],
  });
  (b.services as { groups?: GroupCoordinator }).groups = gc;
  open.push(b);
  return gc;
}

async function start(): Promise<{ b: TestBroker; gc: GroupCoordinator }> {
  const b = await startTestBroker({ handlers });
  const gc = withGroups(b);
  await b.createTopic("t", 2);
  return { b, gc };
}

async function findCoordinator(b: TestBroker, group: string): Promise<number> {
  const r = await b.send(ApiKeys.FindCoordinator, 3, { ...defaultFindCoordinatorRequest(), key: group, keyType: 0 });
  return r!.errorCode;
}

async function joinAndSync(b: TestBroker, group: string, version = 5): Promise<{ memberId: string; generationId: number }> {
  const join = (memberId: string) =>
    b.send(ApiKeys.JoinGroup, version, {
      ...defaultJoinGroupRequest(),
      groupId: group,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 30_000,
      memberId,
      protocolType: "consumer",
      protocols: [{ ...defaultJoinGroupRequestProtocol(), name: "range", metadata: new Uint8Array([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0xff, 0xff, 0xff, 0xff]) }],
    });
  const first = await join("");
  expect(first!.errorCode).toBe(E.MEMBER_ID_REQUIRED);
  const second = await join(first!.memberId);
  expect(second!.errorCode).toBe(E.NONE);
  expect(second!.leader).toBe(first!.memberId);
  expect(second!.members.length).toBe(1);
  const sync = await b.send(ApiKeys.SyncGroup, version, {
    ...defaultSyncGroupRequest(),
    groupId: group,
    generationId: second!.generationId,
    memberId: second!.memberId,
    protocolType: version >= 5 ? "consumer" : null,
    protocolName: version >= 5 ? "range" : null,
    assignments: [{ ...defaultSyncGroupRequestAssignment(), memberId: second!.memberId, assignment: new Uint8Array([7, 7]) }],
  });
  expect(sync!.errorCode).toBe(E.NONE);
  expect([...sync!.assignment]).toEqual([7, 7]);
  return { memberId: second!.memberId, generationId: second!.generationId };
}

function commitRequest(group: string, generationId: number, memberId: string, offsets: [number, number, string | null][]) {
  return {
    ...defaultOffsetCommitRequest(),
    groupId: group,
    generationIdOrMemberEpoch: generationId,
    memberId,
    topics: [
      {
        ...defaultOffsetCommitRequestTopic(),
        name: "t",
        partitions: offsets.map(([partitionIndex, committedOffset, committedMetadata]) => ({ ...defaultOffsetCommitRequestPartition(), partitionIndex, committedOffset, committedMetadata })),
      },
    ],
  };
}

describe("group APIs through the dispatcher", () => {
  test("FindCoordinator creates __consumer_offsets and answers this broker; transactions are not available", async () => {
    const { b, gc } = await start();
    expect(b.metadata.image.topic(OFFSETS_TOPIC_NAME)).toBeUndefined();
    const r = await b.send(ApiKeys.FindCoordinator, 3, { ...defaultFindCoordinatorRequest(), key: "g", keyType: 0 });
    expect(r!.errorCode).toBe(E.NONE);
    expect([r!.nodeId, r!.host, r!.port]).toEqual([b.nodeId, "127.0.0.1", 9092]);
    const topic = b.metadata.image.topic(OFFSETS_TOPIC_NAME)!;
    expect(topic.partitions.length).toBe(PARTITIONS);
    expect(b.metadata.image.configsOf("topic", OFFSETS_TOPIC_NAME).get("cleanup.policy")).toBe("compact");
    await settle();
    expect(gc.ownedPartitions()).toEqual([0, 1, 2]);
    const batched = await b.send(ApiKeys.FindCoordinator, 4, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: ["a", "b"] });
    expect(batched!.coordinators.map((c) => [c.key, c.errorCode, c.nodeId])).toEqual([
      ["a", E.NONE, b.nodeId],
      ["b", E.NONE, b.nodeId],
    ]);
    const txn = await b.send(ApiKeys.FindCoordinator, 4, { ...defaultFindCoordinatorRequest(), keyType: 1, coordinatorKeys: ["tx"] });
    expect(txn!.coordinators[0]!.errorCode).toBe(E.COORDINATOR_NOT_AVAILABLE);
    const v0 = await b.send(ApiKeys.FindCoordinator, 0, { ...defaultFindCoordinatorRequest(), key: "g" });
    expect(v0!.nodeId).toBe(b.nodeId);
  });

  test("join, sync, heartbeat, commit, fetch (v1, v7, v8 groups), describe, list, leave, delete", async () => {
    const { b } = await start();
    expect(await findCoordinator(b, "g")).toBe(E.NONE);
    await settle();
    const { memberId, generationId } = await joinAndSync(b, "g");
    const hb = await b.send(ApiKeys.Heartbeat, 4, { ...defaultHeartbeatRequest(), groupId: "g", generationId, memberId });
    expect(hb!.errorCode).toBe(E.NONE);
    const stale = await b.send(ApiKeys.Heartbeat, 4, { ...defaultHeartbeatRequest(), groupId: "g", generationId: generationId + 1, memberId });
    expect(stale!.errorCode).toBe(E.ILLEGAL_GENERATION);

    const commit = await b.send(ApiKeys.OffsetCommit, 8, commitRequest("g", generationId, memberId, [[0, 42, "hello"], [1, 7, null], [5, 1, null]]));
    expect(commit!.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([E.NONE, E.NONE, E.UNKNOWN_TOPIC_OR_PARTITION]);
    const unknownTopic = await b.send(ApiKeys.OffsetCommit, 2, { ...commitRequest("g", generationId, memberId, [[0, 1, null]]), topics: [{ ...defaultOffsetCommitRequestTopic(), name: "nope", partitions: [{ ...defaultOffsetCommitRequestPartition(), partitionIndex: 0, committedOffset: 1 }] }] });
    expect(unknownTopic!.topics[0]!.partitions[0]!.errorCode).toBe(E.UNKNOWN_TOPIC_OR_PARTITION);

    const v1 = await b.send(ApiKeys.OffsetFetch, 1, { ...defaultOffsetFetchRequest(), groupId: "g", topics: [{ ...defaultOffsetFetchRequestTopic(), name: "t", partitionIndexes: [0, 1] }] });
    expect(v1!.topics[0]!.partitions.map((p) => [p.committedOffset, p.metadata])).toEqual([
      [42, "hello"],
      [7, ""],
    ]);
    const v7all = await b.send(ApiKeys.OffsetFetch, 7, { ...defaultOffsetFetchRequest(), groupId: "g", topics: null, requireStable: true });
    expect(v7all!.errorCode).toBe(E.NONE);
    expect(v7all!.topics[0]!.partitions.map((p) => p.partitionIndex)).toEqual([0, 1]);
    const v8 = await b.send(ApiKeys.OffsetFetch, 8, {
      ...defaultOffsetFetchRequest(),
      groups: [
        { ...defaultOffsetFetchRequestGroup(), groupId: "g", topics: [{ ...defaultOffsetFetchRequestTopics(), name: "t", partitionIndexes: [0] }] },
        { ...defaultOffsetFetchRequestGroup(), groupId: "unknown", topics: [{ ...defaultOffsetFetchRequestTopics(), name: "t", partitionIndexes: [0] }] },
        { ...defaultOffsetFetchRequestGroup(), groupId: "g", topics: null },
      ],
    });
    expect(v8!.groups.map((g) => [g.groupId, g.errorCode, g.topics[0]?.partitions[0]?.committedOffset])).toEqual([
      ["g", E.NONE, 42],
      ["unknown", E.NONE, -1],
      ["g", E.NONE, 42],
    ]);

    const described = await b.send(ApiKeys.DescribeGroups, 5, { ...defaultDescribeGroupsRequest(), groups: ["g", "missing"], includeAuthorizedOperations: true });
    expect(described!.groups.map((g) => [g.groupId, g.groupState, g.protocolData, g.members.length])).toEqual([
      ["g", "Stable", "range", 1],
      ["missing", "Dead", "", 0],
    ]);
    expect(described!.groups[0]!.members[0]!.clientId).toBe("harness");
    expect(described!.groups[0]!.authorizedOperations).not.toBe(-2147483648);
    const listed = await b.send(ApiKeys.ListGroups, 4, { ...defaultListGroupsRequest(), statesFilter: ["stable"] });
    expect(listed!.groups.map((g) => [g.groupId, g.groupState, g.protocolType])).toEqual([["g", "Stable", "consumer"]]);
    const listedV0 = await b.send(ApiKeys.ListGroups, 0, defaultListGroupsRequest());
    expect(listedV0!.groups.map((g) => g.groupId)).toEqual(["g"]);

    const busy = await b.send(ApiKeys.DeleteGroups, 2, { ...defaultDeleteGroupsRequest(), groupsNames: ["g"] });
    expect(busy!.results[0]!.errorCode).toBe(E.NON_EMPTY_GROUP);
    const subscribed = await b.send(ApiKeys.OffsetDelete, 0, { ...defaultOffsetDeleteRequest(), groupId: "g", topics: [{ name: "t", partitions: [{ partitionIndex: 0 }] }] });
    expect(subscribed!.topics[0]!.partitions[0]!.errorCode).toBe(E.GROUP_SUBSCRIBED_TO_TOPIC);

    const leave = await b.send(ApiKeys.LeaveGroup, 3, { ...defaultLeaveGroupRequest(), groupId: "g", members: [{ ...defaultMemberIdentity(), memberId }, { ...defaultMemberIdentity(), memberId: "ghost" }] });
    expect(leave!.members.map((m) => m.errorCode)).toEqual([E.NONE, E.UNKNOWN_MEMBER_ID]);
    const leaveV0 = await b.send(ApiKeys.LeaveGroup, 0, { ...defaultLeaveGroupRequest(), groupId: "g", memberId: "ghost" });
    expect(leaveV0!.errorCode).toBe(E.UNKNOWN_MEMBER_ID);
    await settle();
    const deleted = await b.send(ApiKeys.DeleteGroups, 2, { ...defaultDeleteGroupsRequest(), groupsNames: ["g", "missing"] });
    expect(deleted!.results.map((r) => r.errorCode)).toEqual([E.NONE, E.GROUP_ID_NOT_FOUND]);
  });

  test("older versions: JoinGroup v0 (no member id round trip), SyncGroup v0, OffsetCommit v0 simple commit", async () => {
    const { b } = await start();
    await findCoordinator(b, "old");
    await settle();
    const join = await b.send(ApiKeys.JoinGroup, 0, {
      ...defaultJoinGroupRequest(),
      groupId: "old",
      sessionTimeoutMs: 10_000,
      memberId: "",
      protocolType: "consumer",
      protocols: [{ ...defaultJoinGroupRequestProtocol(), name: "range", metadata: new Uint8Array([1]) }],
    });
    expect(join!.errorCode).toBe(E.NONE);
    expect(join!.protocolName).toBe("range");
    const sync = await b.send(ApiKeys.SyncGroup, 0, {
      ...defaultSyncGroupRequest(),
      groupId: "old",
      generationId: join!.generationId,
      memberId: join!.memberId,
      assignments: [{ ...defaultSyncGroupRequestAssignment(), memberId: join!.memberId, assignment: new Uint8Array([3]) }],
    });
    expect([...sync!.assignment]).toEqual([3]);
    // v0 commit: no generation; the group has a member, so it is refused; a fresh group takes it.
    const refused = await b.send(ApiKeys.OffsetCommit, 0, { ...commitRequest("old", -1, "", [[0, 1, null]]) });
    expect(refused!.topics[0]!.partitions[0]!.errorCode).toBe(E.UNKNOWN_MEMBER_ID);
    await findCoordinator(b, "fresh");
    const simple = await b.send(ApiKeys.OffsetCommit, 0, { ...commitRequest("fresh", -1, "", [[1, 9, "x"]]) });
    expect(simple!.topics[0]!.partitions[0]!.errorCode).toBe(E.NONE);
  });

  test("a restarted broker loads groups and offsets from __consumer_offsets", async () => {
    const { b } = await start();
    await findCoordinator(b, "g");
    await settle();
    const { memberId, generationId } = await joinAndSync(b, "g");
    await b.send(ApiKeys.OffsetCommit, 8, commitRequest("g", generationId, memberId, [[0, 42, "kept"], [1, 8, null]]));
    await findCoordinator(b, "simple");
    await b.send(ApiKeys.OffsetCommit, 8, commitRequest("simple", -1, "", [[1, 3, "s"]]));

    open.splice(open.indexOf(b), 1);
    b.services.groups?.shutdown();
    const b2 = b.restart();
    const gc2 = withGroups(b2);
    // Loading is asynchronous: a request meanwhile may see COORDINATOR_LOAD_IN_PROGRESS.
    for (let i = 0; i < 100 && gc2.ownedPartitions().some((p) => gc2.isLoading(p)); i++) await settle();
    expect(gc2.ownedPartitions()).toEqual([0, 1, 2]);
    const fetched = await b2.send(ApiKeys.OffsetFetch, 8, {
      ...defaultOffsetFetchRequest(),
      groups: [
        { ...defaultOffsetFetchRequestGroup(), groupId: "g", topics: null },
        { ...defaultOffsetFetchRequestGroup(), groupId: "simple", topics: null },
      ],
    });
    expect(fetched!.groups[0]!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([
      [0, 42, "kept"],
      [1, 8, ""],
    ]);
    expect(fetched!.groups[1]!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([[1, 3, "s"]]);
    // The member is still there with its generation and assignment.
    const hb = await b2.send(ApiKeys.Heartbeat, 4, { ...defaultHeartbeatRequest(), groupId: "g", generationId, memberId });
    expect(hb!.errorCode).toBe(E.NONE);
    const described = await b2.send(ApiKeys.DescribeGroups, 5, { ...defaultDescribeGroupsRequest(), groups: ["g"] });
    expect([...described!.groups[0]!.members[0]!.memberAssignment]).toEqual([7, 7]);
  });

  test("a deleted topic's committed offsets go with it (also across a restart and a re-create); Metadata answers UNKNOWN_TOPIC_OR_PARTITION without re-creating it for a consumer", async () => {
    const b = await startTestBroker({ handlers, settings: { autoCreateTopicsEnable: true } });
    withGroups(b);
    await b.createTopic("t", 2);
    await b.createTopic("u", 1);
    await findCoordinator(b, "g");
    await settle();
    const { memberId, generationId } = await joinAndSync(b, "g");
    const commit = commitRequest("g", generationId, memberId, [[0, 42, null], [1, 7, null]]);
    const commitU = { ...defaultOffsetCommitRequestTopic(), name: "u", partitions: [{ ...defaultOffsetCommitRequestPartition(), partitionIndex: 0, committedOffset: 5 }] };
    const committed = await b.send(ApiKeys.OffsetCommit, 8, { ...commit, topics: [...commit.topics, commitU] });
    expect(committed!.topics.flatMap((t) => t.partitions.map((p) => p.errorCode))).toEqual([E.NONE, E.NONE, E.NONE]);
    const committedTopics = async (br: TestBroker) => {
      const all = await br.send(ApiKeys.OffsetFetch, 7, { ...defaultOffsetFetchRequest(), groupId: "g", topics: null });
      expect(all!.errorCode).toBe(E.NONE);
      return all!.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]);
    };
    expect(await committedTopics(b)).toEqual([
      ["t", [[0, 42], [1, 7]]],
      ["u", [[0, 5]]],
    ]);

    const deleted = await b.send(ApiKeys.DeleteTopics, 5, { ...defaultDeleteTopicsRequest(), topicNames: ["u"], timeoutMs: 1000 });
    expect(deleted!.responses.map((r) => [r.name, r.errorCode])).toEqual([["u", E.NONE]]);
    await settle();
    // librdkafka's consumer asks with allow_auto_topic_creation=false: the topic stays deleted.
    const md = await b.send(ApiKeys.Metadata, 4, { ...defaultMetadataRequest(), topics: [{ ...defaultMetadataRequestTopic(), name: "u" }, { ...defaultMetadataRequestTopic(), name: "t" }], allowAutoTopicCreation: false });
    expect(md!.topics.map((t) => [t.name, t.errorCode, t.partitions.length])).toEqual([
      ["u", E.UNKNOWN_TOPIC_OR_PARTITION, 0],
      ["t", E.NONE, 2],
    ]);
    expect(b.metadata.image.topic("u")).toBeUndefined();
    // Kafka deletes the offsets of a deleted topic's partitions in every group (tombstones).
    expect(await committedTopics(b)).toEqual([["t", [[0, 42], [1, 7]]]]);
    const fetchU = await b.send(ApiKeys.OffsetFetch, 7, { ...defaultOffsetFetchRequest(), groupId: "g", topics: [{ ...defaultOffsetFetchRequestTopic(), name: "u", partitionIndexes: [0] }] });
    expect(fetchU!.topics[0]!.partitions.map((p) => [p.committedOffset, p.errorCode])).toEqual([[-1, E.NONE]]);
    // The group and its member are untouched.
    const hb = await b.send(ApiKeys.Heartbeat, 4, { ...defaultHeartbeatRequest(), groupId: "g", generationId, memberId });
    expect(hb!.errorCode).toBe(E.NONE);

    // A topic created again under the name starts without the old topic's offsets, also after a restart.
    await b.createTopic("u", 1);
    open.splice(open.indexOf(b), 1);
    b.services.groups?.shutdown();
    const b2 = b.restart();
    const gc2 = withGroups(b2);
    for (let i = 0; i < 100 && gc2.ownedPartitions().some((p) => gc2.isLoading(p)); i++) await settle();
    expect(await committedTopics(b2)).toEqual([["t", [[0, 42], [1, 7]]]]);
  });

  test("group errors in each version's shape: OffsetFetch v1 per partition, v2+ top level, v8 per group; LeaveGroup v0 top level", async () => {
    const { b, gc } = await start();
    await findCoordinator(b, "g");
    await settle();
    gc.unloadPartition(gc.partitionFor("g"));
    const v1 = await b.send(ApiKeys.OffsetFetch, 1, { ...defaultOffsetFetchRequest(), groupId: "g", topics: [{ ...defaultOffsetFetchRequestTopic(), name: "t", partitionIndexes: [0] }] });
    expect(v1!.topics[0]!.partitions[0]!.errorCode).toBe(E.NOT_COORDINATOR);
    const v3 = await b.send(ApiKeys.OffsetFetch, 3, { ...defaultOffsetFetchRequest(), groupId: "g", topics: [{ ...defaultOffsetFetchRequestTopic(), name: "t", partitionIndexes: [0] }] });
    expect(v3!.errorCode).toBe(E.NOT_COORDINATOR);
    expect(v3!.topics).toEqual([]);
    const v8 = await b.send(ApiKeys.OffsetFetch, 8, { ...defaultOffsetFetchRequest(), groups: [{ ...defaultOffsetFetchRequestGroup(), groupId: "g", topics: null }] });
    expect(v8!.groups[0]!.errorCode).toBe(E.NOT_COORDINATOR);
    const leave = await b.send(ApiKeys.LeaveGroup, 0, { ...defaultLeaveGroupRequest(), groupId: "g", memberId: "m" });
    expect(leave!.errorCode).toBe(E.NOT_COORDINATOR);
    const join = await b.send(ApiKeys.JoinGroup, 9, { ...defaultJoinGroupRequest(), groupId: "g", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: "consumer", protocols: [{ ...defaultJoinGroupRequestProtocol(), name: "range", metadata: new Uint8Array() }] });
    expect(join!.errorCode).toBe(E.NOT_COORDINATOR);
    expect(join!.protocolName).toBeNull();
  });

  test("JoinGroup v9: a static leader restarting while Stable is told to skip the assignment", async () => {
    const { b } = await start();
    await findCoordinator(b, "s");
    await settle();
    const join = () =>
      b.send(ApiKeys.JoinGroup, 9, {
        ...defaultJoinGroupRequest(),
        groupId: "s",
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: "",
        groupInstanceId: "leader-1",
        protocolType: "consumer",
        protocols: [{ ...defaultJoinGroupRequestProtocol(), name: "range", metadata: new Uint8Array([5]) }],
      });
    const first = await join();
    expect(first!.errorCode).toBe(E.NONE);
    expect(first!.skipAssignment).toBe(false);
    const sync = await b.send(ApiKeys.SyncGroup, 5, {
      ...defaultSyncGroupRequest(),
      groupId: "s",
      generationId: first!.generationId,
      memberId: first!.memberId,
      groupInstanceId: "leader-1",
      protocolType: "consumer",
      protocolName: "range",
      assignments: [{ ...defaultSyncGroupRequestAssignment(), memberId: first!.memberId, assignment: new Uint8Array([1]) }],
    });
    expect(sync!.protocolName).toBe("range");
    const again = await join();
    expect(again!.errorCode).toBe(E.NONE);
    expect(again!.skipAssignment).toBe(true);
    expect(again!.generationId).toBe(first!.generationId);
    expect(again!.members.map((m) => [m.memberId, m.groupInstanceId])).toEqual([[again!.memberId, "leader-1"]]);
  });

  test("without a coordinator the group APIs answer COORDINATOR_NOT_AVAILABLE", async () => {
    const b = await startTestBroker({ handlers });
    open.push(b);
    const hb = await b.send(ApiKeys.Heartbeat, 4, { ...defaultHeartbeatRequest(), groupId: "g", generationId: 1, memberId: "m" });
    expect(hb!.errorCode).toBe(E.COORDINATOR_NOT_AVAILABLE);
    const fc = await b.send(ApiKeys.FindCoordinator, 3, { ...defaultFindCoordinatorRequest(), key: "g" });
    expect(fc!.errorCode).toBe(E.COORDINATOR_NOT_AVAILABLE);
  });
});

describe("requests from librdkafka with bytes after the body", () => {
  test("Metadata v9+ of all topics with librdkafka 2.12's placeholder is served as Kafka serves it", async () => {
    const { b } = await start();
    // The frame librdkafka 2.12.0 sent (captured): header v2 with client id "0113_cooperative_rebalance",
    // then 00 00 00 00 (the unshrunk topics-count placeholder, read as null topics, false, false,
    // no tags) and 01 00 00 after the body.
    const clientId = new TextEncoder().encode("0113_cooperative_rebalance");
    const frame = new Uint8Array([0, 3, 0, 12, 0, 0, 0, 3, 0, clientId.length, ...clientId, 0, 0, 0, 0, 0, 1, 0, 0]);
    const decoded = decodeResponse(ApiKeys.Metadata, 12, flattenChunks((await b.dispatch(frame, testConnection))!));
    expect(decoded.header.correlationId).toBe(3);
    expect(decoded.body.brokers.length).toBeGreaterThan(0);
    // with one byte more than the placeholder leaves, and before v9, it is still malformed
    const v8 = flattenChunks(encodeRequest(ApiKeys.Metadata, 8, 4, "x", { ...defaultMetadataRequest(), topics: null })).subarray(4);
    await expect(b.dispatch(new Uint8Array([...v8, 0]), testConnection)).rejects.toBeInstanceOf(ProtocolViolation);
  });

  test("ListGroups v3+ and OffsetFetch v6+ are served (Kafka ignores such bytes); other requests with trailing bytes still close", async () => {
    const { b } = await start();
    for (const version of [3, 4]) {
      const payload = flattenChunks(encodeRequest(ApiKeys.ListGroups, version, 7, "rdkafka", { ...defaultListGroupsRequest(), statesFilter: [] })).subarray(4);
      const withExtraTags = new Uint8Array([...payload, 0]);
      const response = await b.dispatch(withExtraTags, testConnection);
      const decoded = decodeResponse(ApiKeys.ListGroups, version, flattenChunks(response!));
      expect([decoded.header.correlationId, decoded.body.errorCode]).toEqual([7, E.NONE]);
    }
    await findCoordinator(b, "g");
    await settle();
    // OffsetFetch v6+ of a whole group: librdkafka leaves the 4-byte placeholder of the null
    // topics array (Kafka reads null topics, requireStable 0, no tags, and ignores the rest).
    for (const version of [6, 7]) {
      const payload = flattenChunks(encodeRequest(ApiKeys.OffsetFetch, version, 10, "rdkafka", { ...defaultOffsetFetchRequest(), groupId: "g", topics: null })).subarray(4);
      const response = await b.dispatch(new Uint8Array([...payload, 0, 0, 0]), testConnection);
      const decoded = decodeResponse(ApiKeys.OffsetFetch, version, flattenChunks(response!));
      expect([decoded.header.correlationId, decoded.body.errorCode]).toEqual([10, E.NONE]);
    }
    const v2 = flattenChunks(encodeRequest(ApiKeys.ListGroups, 2, 8, "x", defaultListGroupsRequest())).subarray(4);
    await expect(b.dispatch(new Uint8Array([...v2, 0]), testConnection)).rejects.toBeInstanceOf(ProtocolViolation);
    const heartbeat = flattenChunks(encodeRequest(ApiKeys.Heartbeat, 4, 9, "x", { ...defaultHeartbeatRequest(), groupId: "g" })).subarray(4);
    await expect(b.dispatch(new Uint8Array([...heartbeat, 0]), testConnection)).rejects.toBeInstanceOf(ProtocolViolation);
  });
});
