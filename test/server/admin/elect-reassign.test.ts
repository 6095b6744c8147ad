/**
 * ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments through the real
 * dispatcher of one broker (the decisions themselves: test/metadata/replication-control.test.ts;
 * with replicas moving between brokers: test/cluster-sim/reassignment-sim.test.ts).
 */
import { afterEach, expect, test } from "bun:test";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { defaultCreatableTopic, defaultCreateTopicsRequest } from "../../../src/protocol/messages/create-topics-request.ts";
import { handlers } from "../../../src/server/handlers/index.ts";
import { startTestBroker, type TestBroker } from "../harness.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

test("elections and reassignments on one broker: answers per partition, unknown ones refused, nothing ongoing listed", async () => {
  b = await startTestBroker({ handlers });
  const created = (await b.send(ApiKeys.CreateTopics, 5, { ...defaultCreateTopicsRequest(), topics: [{ ...defaultCreatableTopic(), name: "t", numPartitions: 2, replicationFactor: 1 }] }))!;
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);

  for (const version of [0, 1, 2]) {
    const r = (await b.send(ApiKeys.ElectLeaders, version, { electionType: 0, topicPartitions: [{ topic: "t", partitions: [0, 1, 7] }, { topic: "nope", partitions: [0] }], timeoutMs: 1000 }))!;
    const codes = r.replicaElectionResults.flatMap((t) => t.partitionResult.map((p) => `${t.topic}-${p.partitionId}:${p.errorCode}`));
    expect(codes).toEqual([`t-0:${ErrorCode.ELECTION_NOT_NEEDED}`, `t-1:${ErrorCode.ELECTION_NOT_NEEDED}`, `t-7:${ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}`, `nope-0:${ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}`]);
  }
  // All partitions: none needed an election, so none is listed.
  const all = (await b.send(ApiKeys.ElectLeaders, 2, { electionType: 1, topicPartitions: null, timeoutMs: 1000 }))!;
  expect(all).toMatchObject({ errorCode: ErrorCode.NONE, replicaElectionResults: [] });
  const bad = (await b.send(ApiKeys.ElectLeaders, 2, { electionType: 7, topicPartitions: null, timeoutMs: 1000 }))!;
  expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUEST);

  const nodeId = b.nodeId;
  const alter = (replicas: number[] | null) => b!.send(ApiKeys.AlterPartitionReassignments, 0, { timeoutMs: 1000, topics: [{ name: "t", partitions: [{ partitionIndex: 0, replicas }] }] });
  expect((await alter([nodeId]))!.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  expect((await alter([nodeId + 1]))!.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  expect((await alter(null))!.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
  const listed = (await b.send(ApiKeys.ListPartitionReassignments, 0, { timeoutMs: 1000, topics: null }))!;
  expect(listed).toMatchObject({ errorCode: ErrorCode.NONE, topics: [] });
});
