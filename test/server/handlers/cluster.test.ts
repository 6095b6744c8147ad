/**
 * Metadata, DescribeCluster, CreateTopics and the data path on a broker whose image holds
 * other brokers: racks, fenced and unregistered brokers, a leaderless partition, listeners
 * that only some brokers have, and partitions led elsewhere (Produce/Fetch answer
 * NOT_LEADER_OR_FOLLOWER with the leader and its endpoint).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createTopics } from "../../../src/metadata/controller.ts";
import { ZERO_UUID } from "../../../src/metadata/uuid.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { defaultCreatableTopic, defaultCreateTopicsRequest } from "../../../src/protocol/messages/create-topics-request.ts";
import { defaultListOffsetsPartition, defaultListOffsetsRequest, defaultListOffsetsTopic } from "../../../src/protocol/messages/list-offsets-request.ts";
import { defaultMetadataRequest } from "../../../src/protocol/messages/metadata-request.ts";
import { handlers } from "../../../src/server/handlers/index.ts";
import type { BrokerSettings } from "../../../src/server/services.ts";
import { brokerRecords, endpointOf } from "../../metadata/cluster-image.ts";
import { sender, startTestBroker, testConnectionInfo, type TestBroker } from "../harness.ts";
import { batch, fetched, fetchRequest, produced, produceRequest } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

/**
 * This broker is 1 (no rack, PLAINTEXT 127.0.0.1:9092). Brokers 2-6 on racks r1-r3, 2 also
 * on an INTERNAL listener; 5 fenced from the start, 6 fenced after topic "t" is created.
 * Topic "t" (explicit assignment): p0 [2,3,1] led by 2; p1 [4,5,6] led by 4 with 5 outside
 * the ISR; p2 [6,2,1] whose leader 6 is then fenced; p3 [3,4,1] made leaderless; p4 [1,2,3]
 * led here.
 */
async function cluster(settings: Partial<BrokerSettings> = {}): Promise<TestBroker> {
  b = await startTestBroker({ handlers, settings });
  const br = b;
  await br.metadata.submit(() => ({
    records: brokerRecords([
      { id: 2, rack: "r1", endpoints: [endpointOf(2), { name: "INTERNAL", host: "b2.internal", port: 9102, securityProtocol: "PLAINTEXT" }] },
      { id: 3, rack: "r2" },
      { id: 4, rack: "r1" },
      { id: 5, rack: "r2", fenced: true },
      { id: 6, rack: "r3" },
    ]),
    response: undefined,
  }));
  const assignments = [[2, 3, 1], [4, 5, 6], [6, 2, 1], [3, 4, 1], [1, 2, 3]].map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds }));
  const [created] = await br.metadata.submit((c) => createTopics(c, [{ name: "t", numPartitions: -1, replicationFactor: -1, assignments, configs: [] }], false));
  expect(created!.errorCode).toBe(0);
  const topicId = created!.topicId!;
  await br.metadata.submit(() => ({
    records: [
      { type: "brokerFencing", brokerId: 6, brokerEpoch: 1, fenced: true },
      { type: "partitionChange", topicId, partition: 3, leader: -1 },
    ],
    response: undefined,
  }));
  return br;
}

const metadataRequest = (topics: string[] | null, allowAutoTopicCreation = false) => ({
  ...defaultMetadataRequest(),
  topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
  allowAutoTopicCreation,
});

const onListener = (br: TestBroker, listenerName: string): TestBroker["send"] =>
  sender(br.dispatch, 1000, { ...testConnectionInfo(), listenerName });

describe("Metadata on a multi-broker image", () => {
  test("lists the unfenced brokers with racks; each partition's leader, epoch, replicas, ISR and offline replicas", async () => {
    const br = await cluster();
    const r = (await br.send(ApiKeys.Metadata, 12, metadataRequest(null)))!;
    expect(r.brokers.map((x) => [x.nodeId, x.host, x.port, x.rack])).toEqual([
      [1, "127.0.0.1", 9092, null],
      [2, "b2.test", 9002, "r1"],
      [3, "b3.test", 9003, "r2"],
      [4, "b4.test", 9004, "r1"],
    ]);
    expect(r.controllerId).toBe(1);
    const parts = r.topics.find((t) => t.name === "t")!.partitions.map((p) => ({
      p: p.partitionIndex,
      error: p.errorCode,
      leader: p.leaderId,
      epoch: p.leaderEpoch,
      replicas: p.replicaNodes,
      isr: p.isrNodes,
      offline: p.offlineReplicas,
    }));
    expect(parts).toEqual([
      { p: 0, error: ErrorCode.NONE, leader: 2, epoch: 0, replicas: [2, 3, 1], isr: [2, 3, 1], offline: [] },
      { p: 1, error: ErrorCode.NONE, leader: 4, epoch: 0, replicas: [4, 5, 6], isr: [4, 6], offline: [5, 6] },
      { p: 2, error: ErrorCode.LEADER_NOT_AVAILABLE, leader: -1, epoch: 0, replicas: [6, 2, 1], isr: [6, 2, 1], offline: [6] },
      { p: 3, error: ErrorCode.LEADER_NOT_AVAILABLE, leader: -1, epoch: 1, replicas: [3, 4, 1], isr: [3, 4, 1], offline: [] },
      { p: 4, error: ErrorCode.NONE, leader: 1, epoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3], offline: [] },
    ]);
    // Offline replicas appear from v5; v0 drops unlisted replicas and says so.
    const v4 = (await br.send(ApiKeys.Metadata, 4, metadataRequest(["t"])))!.topics[0]!.partitions[1]!;
    expect([v4.errorCode, v4.offlineReplicas]).toEqual([ErrorCode.NONE, []]);
    const v0 = (await br.send(ApiKeys.Metadata, 0, metadataRequest(["t"], true)))!.topics[0]!.partitions;
    expect(v0.map((p) => [p.errorCode, p.replicaNodes, p.isrNodes])).toEqual([
      [ErrorCode.NONE, [2, 3, 1], [2, 3, 1]],
      [ErrorCode.REPLICA_NOT_AVAILABLE, [4], [4]],
      [ErrorCode.LEADER_NOT_AVAILABLE, [2, 1], [2, 1]],
      [ErrorCode.LEADER_NOT_AVAILABLE, [3, 4, 1], [3, 4, 1]],
      [ErrorCode.NONE, [1, 2, 3], [1, 2, 3]],
    ]);
  });

  test("an unregistered leader is LEADER_NOT_AVAILABLE and an offline replica", async () => {
    const br = await cluster();
    await br.metadata.submit(() => ({ records: [{ type: "unregisterBroker", brokerId: 2, brokerEpoch: 1 }], response: undefined }));
    const p0 = (await br.send(ApiKeys.Metadata, 12, metadataRequest(["t"])))!.topics[0]!.partitions[0]!;
    expect([p0.errorCode, p0.leaderId, p0.offlineReplicas]).toEqual([ErrorCode.LEADER_NOT_AVAILABLE, -1, [2]]);
  });

  test("endpoints of the client's listener: brokers without it are left out, a leader without it is LISTENER_NOT_FOUND (v6+)", async () => {
    const advertised = [
      { name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT" },
      { name: "INTERNAL", host: "127.0.0.1", port: 9192, securityProtocol: "PLAINTEXT" },
    ];
    const br = await cluster({ advertisedListeners: advertised });
    const internal = onListener(br, "INTERNAL");
    const r = (await internal(ApiKeys.Metadata, 12, metadataRequest(["t"])))!;
    expect(r.brokers.map((x) => [x.nodeId, x.host, x.port])).toEqual([[2, "b2.internal", 9102]]);
    // Neither the active controller (this node) nor this node is listed on INTERNAL here.
    expect(r.controllerId).toBe(2);
    const ps = r.topics[0]!.partitions;
    expect([ps[0]!.errorCode, ps[0]!.leaderId]).toEqual([ErrorCode.NONE, 2]);
    expect([ps[1]!.errorCode, ps[1]!.leaderId]).toEqual([ErrorCode.LISTENER_NOT_FOUND, -1]);
    const v5 = (await internal(ApiKeys.Metadata, 5, metadataRequest(["t"])))!.topics[0]!.partitions[1]!;
    expect(v5.errorCode).toBe(ErrorCode.LEADER_NOT_AVAILABLE);

    // A listener this broker does not advertise (a controller listener) is answered as its first one.
    const controller = (await onListener(br, "CONTROLLER")(ApiKeys.Metadata, 12, metadataRequest(null)))!;
    expect(controller.brokers.map((x) => x.nodeId)).toEqual([1, 2, 3, 4]);
  });

  test("the controller named is this broker when it is listed (it forwards), else the active controller", async () => {
    let active = 3;
    const br = await cluster({ activeControllerId: () => active });
    const controllerOf = async (send = br.send) => [
      (await send(ApiKeys.Metadata, 12, metadataRequest([])))!.controllerId,
      (await send(ApiKeys.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 }))!.controllerId,
    ];
    expect(await controllerOf()).toEqual([1, 1]);
    active = -1; // none known
    expect(await controllerOf()).toEqual([1, 1]);
    // On a listener where this broker is not listed, the active controller when it is.
    const advertised = [
      { name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT" },
      { name: "INTERNAL", host: "127.0.0.1", port: 9192, securityProtocol: "PLAINTEXT" },
    ];
    const other = await cluster({ advertisedListeners: advertised, activeControllerId: () => active });
    active = 2;
    expect(await controllerOf(onListener(other, "INTERNAL"))).toEqual([2, 2]);
  });
});

describe("DescribeCluster on a multi-broker image", () => {
  test("lists the unfenced brokers with racks and endpoints of the client's listener", async () => {
    const br = await cluster();
    for (const v of [0, 1]) {
      const r = (await br.send(ApiKeys.DescribeCluster, v, { includeClusterAuthorizedOperations: false, endpointType: 1 }))!;
      expect(r.errorCode).toBe(ErrorCode.NONE);
      expect(r.controllerId).toBe(1);
      expect(r.brokers.map((x) => [x.brokerId, x.host, x.port, x.rack])).toEqual([
        [1, "127.0.0.1", 9092, null],
        [2, "b2.test", 9002, "r1"],
        [3, "b3.test", 9003, "r2"],
        [4, "b4.test", 9004, "r1"],
      ]);
    }
  });
});

describe("CreateTopics over the registered, unfenced brokers", () => {
  const createRequest = (name: string, numPartitions: number, replicationFactor: number) => ({
    ...defaultCreateTopicsRequest(),
    timeoutMs: 1000,
    topics: [{ ...defaultCreatableTopic(), name, numPartitions, replicationFactor }],
  });

  test("spreads leaders evenly and never places a replica on a fenced broker; too large a factor names the numbers", async () => {
    const br = await cluster();
    const ok = (await br.send(ApiKeys.CreateTopics, 7, createRequest("spread", 8, 3)))!.topics[0]!;
    expect([ok.errorCode, ok.numPartitions, ok.replicationFactor]).toEqual([ErrorCode.NONE, 8, 3]);
    const partitions = br.metadata.image.topic("spread")!.partitions;
    const leaders = new Map<number, number>();
    for (const p of partitions) {
      leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
      expect(p.replicas.some((x) => x === 5 || x === 6)).toBe(false);
      expect(p.isr).toEqual(p.replicas);
      expect(p.leader).toBe(p.replicas[0]!);
    }
    expect([...leaders.entries()].sort()).toEqual([[1, 2], [2, 2], [3, 2], [4, 2]]);
    // This broker hosts exactly the partitions it is a replica of.
    const hosted = br.replicas.partitions().filter((p) => p.topic === "spread").map((p) => p.partition).sort();
    expect(hosted).toEqual(partitions.filter((p) => p.replicas.includes(1)).map((p) => p.partition));

    const bad = (await br.send(ApiKeys.CreateTopics, 7, createRequest("wide", 1, 5)))!.topics[0]!;
    expect(bad.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(bad.errorMessage).toBe("replication factor 5 is larger than the number of available brokers, 4 (registered and unfenced; 2 more registered but fenced)");
  });
});

describe("the data path for partitions this broker does not lead", () => {
  test("Produce: NOT_LEADER_OR_FOLLOWER with the current leader and its endpoint (v10+); the local leader takes the write", async () => {
    const br = await cluster();
    const r = (await br.send(ApiKeys.Produce, 10, produceRequest([0, 1, 2, 4].map((partition) => ({ topic: "t", partition, records: batch(1) })))))!;
    const byPartition = (i: number) => produced(r, "t", i);
    expect(byPartition(0).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER); // a follower here
    expect(byPartition(1).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER); // not hosted here
    expect(byPartition(2).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect([byPartition(4).errorCode, byPartition(4).baseOffset]).toEqual([ErrorCode.NONE, 0]);
    const leaders = r.responses[0]!.partitionResponses.map((p) => [p.index, p.currentLeader.leaderId, p.currentLeader.leaderEpoch]);
    expect(leaders).toEqual([[0, 2, 0], [1, 4, 0], [2, 6, 0], [4, -1, -1]]);
    // Fenced broker 6 has no endpoint to give.
    expect(r.nodeEndpoints.map((n) => [n.nodeId, n.host, n.port, n.rack])).toEqual([
      [2, "b2.test", 9002, "r1"],
      [4, "b4.test", 9004, "r1"],
    ]);
    expect(br.replicas.getPartition("t", 1)).toBeUndefined();
  });

  test("Fetch v16 and ListOffsets: NOT_LEADER_OR_FOLLOWER, Fetch with the leader's endpoint", async () => {
    const br = await cluster();
    const topicId = br.metadata.image.topic("t")!.topicId;
    const r = (await br.send(ApiKeys.Fetch, 16, fetchRequest([{ topic: "t", topicId, partition: 1, offset: 0 }, { topic: "t", topicId, partition: 4, offset: 0 }])))!;
    const p1 = fetched(r, 0, 0);
    expect([p1.errorCode, p1.currentLeader.leaderId, p1.currentLeader.leaderEpoch]).toEqual([ErrorCode.NOT_LEADER_OR_FOLLOWER, 4, 0]);
    expect(fetched(r, 0, 1).errorCode).toBe(ErrorCode.NONE);
    expect(r.nodeEndpoints.map((n) => [n.nodeId, n.host, n.port])).toEqual([[4, "b4.test", 9004]]);

    const lo = (await br.send(ApiKeys.ListOffsets, 7, {
      ...defaultListOffsetsRequest(),
      replicaId: -1,
      topics: [{ ...defaultListOffsetsTopic(), name: "t", partitions: [{ ...defaultListOffsetsPartition(), partitionIndex: 1, timestamp: -1 }] }],
    }))!;
    expect(lo.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });
});
