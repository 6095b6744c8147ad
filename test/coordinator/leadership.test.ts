/**
 * The group coordinator following `__consumer_offsets` leadership on a real ReplicaManager
 * (test broker harness: SimClock, SimFileSystem, in-memory metadata): a follower that becomes
 * leader loads the partition only once its high watermark reaches its log end at the
 * election — a follower's HW trails the old leader's, and a commit the old leader had
 * acknowledged sits between the two —, answering COORDINATOR_LOAD_IN_PROGRESS meanwhile; a
 * leader that becomes follower unloads, answering NOT_COORDINATOR to waiting and later
 * requests.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { groupCoordinatorConfigDefaults } from "../../src/coordinator/config.ts";
import { GroupCoordinator } from "../../src/coordinator/group-coordinator.ts";
import { encodeOffsetsBatch } from "../../src/coordinator/offsets-log.ts";
import { OFFSETS_TOPIC_NAME } from "../../src/coordinator/partitioner.ts";
import { encodeRecord, offsetCommitRecord } from "../../src/coordinator/records.ts";
import { ReplicaOffsetsTopicLog } from "../../src/coordinator/replica-offsets-log.ts";
import { createTopics } from "../../src/metadata/controller.ts";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import type { TestBroker } from "../server/harness.ts";
import { broker } from "../server/handlers/helpers.ts";
import { settle } from "./helpers.ts";

let b: TestBroker | null = null;
let gc: GroupCoordinator | null = null;
afterEach(() => {
  gc?.shutdown();
  gc = null;
  b?.close();
  b = null;
});

const group = "g";

function commitBatch(offset: number): Uint8Array {
  const value = { offset, leaderEpoch: -1, metadata: "", commitTimestampMs: 1_700_000_000_000, expireTimestampMs: -1 };
  return encodeOffsetsBatch([encodeRecord(offsetCommitRecord(group, "orders", 0, value))], 1_700_000_000_000);
}

/** Node 1 with broker 2 registered, `__consumer_offsets` (one partition) on replicas [2, 1], and a coordinator following it. */
async function setup(): Promise<{ br: TestBroker; groups: GroupCoordinator; topicId: Uuid }> {
  const br = await broker();
  b = br;
  await br.metadata.submit(() => ({
    records: [{ type: "registerBroker", brokerId: 2, incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as Uuid, brokerEpoch: 1, endpoints: [], rack: null, fenced: false }],
    response: undefined,
  }));
  const [r] = await br.metadata.submit((ctx) =>
    createTopics(ctx, [{ name: OFFSETS_TOPIC_NAME, numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [2, 1] }], configs: [] }], false),
  );
  expect(r?.errorCode).toBe(ErrorCode.NONE);
  const groups = new GroupCoordinator({
    config: { ...groupCoordinatorConfigDefaults, offsetsTopicNumPartitions: 1 },
    clock: br.clock,
    prng: br.prng,
    log: new ReplicaOffsetsTopicLog(br.replicas, { commitTimeoutMs: 1000 }),
    topicPartitions: (name) => br.metadata.image.topic(name)?.partitions.length,
  });
  gc = groups;
  br.metadata.onChange((next) => groups.onMetadataImage(next, br.nodeId));
  groups.onMetadataImage(br.metadata.image, br.nodeId);
  return { br, groups, topicId: br.metadata.image.topic(OFFSETS_TOPIC_NAME)!.topicId };
}

const fetched = (groups: GroupCoordinator): [number, number] => {
  const r = groups.fetchOffsets(group, [{ name: "orders", partitionIndexes: [0] }], false);
  const p = r.topics[0]!.partitions[0]!;
  return [r.errorCode !== ErrorCode.NONE ? r.errorCode : p.errorCode, p.committedOffset];
};

describe("group coordinator and __consumer_offsets leadership", () => {
  test("a new leader loads only once its HW reaches its log end at the election (a commit above a trailing HW is kept)", async () => {
    const { br, groups, topicId } = await setup();
    const p = br.replicas.getPartition(OFFSETS_TOPIC_NAME, 0)!;
    expect(p.isLeader).toBe(false);
    expect(groups.coordinatorError(group)).toBe(ErrorCode.NOT_COORDINATOR);
    // As a follower: two commits replicated, the HW heard from the leader covers the first only.
    expect(p.log.append(commitBatch(10), 0).kind).toBe("ok");
    expect(p.log.append(commitBatch(20), 0).kind).toBe("ok");
    p.log.setHighWatermark(1);
    // The leader (broker 2) dies; this node is elected with the ISR [1, 2].
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, leader: 1, isr: [1, 2] }], response: undefined }));
    await settle();
    expect(p.isLeader).toBe(true);
    expect([p.log.highWatermark, p.leaderEpochStartOffset]).toEqual([1, 2]);
    expect(groups.coordinatorError(group)).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(fetched(groups)[0]).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    // Broker 2 is gone for good: the ISR shrinks to this node, the HW reaches the log end, the load runs.
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, isr: [1] }], response: undefined }));
    await settle();
    expect(p.log.highWatermark).toBe(2);
    expect(groups.coordinatorError(group)).toBe(ErrorCode.NONE);
    expect(fetched(groups)).toEqual([ErrorCode.NONE, 20]);
  });

  test("the HW reached by a follower's fetch ends the wait too", async () => {
    const { br, groups, topicId } = await setup();
    const p = br.replicas.getPartition(OFFSETS_TOPIC_NAME, 0)!;
    expect(p.log.append(commitBatch(10), 0).kind).toBe("ok");
    expect(p.log.append(commitBatch(20), 0).kind).toBe("ok");
    p.log.setHighWatermark(1);
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, leader: 1, isr: [1, 2] }], response: undefined }));
    await settle();
    expect(groups.coordinatorError(group)).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    // Rounds of waiting go on while this node leads at the same epoch.
    br.clock.advance(12_000);
    await settle();
    expect(groups.coordinatorError(group)).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    // Broker 2 fetches from offset 2 as a follower of the new epoch: it has everything.
    await br.replicas.fetch([{ topic: OFFSETS_TOPIC_NAME, partition: 0, fetchOffset: 2, currentLeaderEpoch: p.leaderEpoch, lastFetchedEpoch: 0, partitionMaxBytes: 1 << 20 }], {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolation: "readUncommitted",
      replica: { replicaId: 2, brokerEpoch: 1 },
    });
    await settle();
    expect(p.log.highWatermark).toBe(2);
    expect(fetched(groups)).toEqual([ErrorCode.NONE, 20]);
  });

  test("leadership lost: the partition is unloaded, a commit in flight and later requests get NOT_COORDINATOR", async () => {
    const { br, groups, topicId } = await setup();
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, leader: 1, isr: [1] }], response: undefined }));
    await settle();
    expect(groups.coordinatorError(group)).toBe(ErrorCode.NONE);
    const commit = (offset: number) =>
      groups.commitOffsets({
        groupId: group,
        generationId: -1,
        memberId: "",
        groupInstanceId: null,
        retentionTimeMs: -1,
        apiVersion: 8,
        topics: [{ name: OFFSETS_TOPIC_NAME, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestampMs: -1, committedMetadata: null }] }],
      });
    expect((await commit(5))[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    // ISR [1, 2]: the next commit waits for broker 2, which never fetches; leadership moves to it meanwhile.
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, isr: [1, 2] }], response: undefined }));
    let answer = null as number | null;
    void commit(6).then((r) => (answer = r[0]!.partitions[0]!.errorCode));
    await settle();
    expect(answer).toBeNull();
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, leader: 2 }], response: undefined }));
    await settle();
    expect(answer).toBe(ErrorCode.NOT_COORDINATOR);
    expect(groups.ownedPartitions()).toEqual([]);
    expect(groups.coordinatorError(group)).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await commit(7))[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  test("leadership lost and won back within one image change: the partition is loaded again (another leader may have written)", async () => {
    const { br, groups, topicId } = await setup();
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, leader: 1, isr: [1] }], response: undefined }));
    await settle();
    const p = br.replicas.getPartition(OFFSETS_TOPIC_NAME, 0)!;
    // A record under the shard's back: an image that keeps the leader epoch does not reload.
    expect(p.log.append(commitBatch(10), p.leaderEpoch).kind).toBe("ok");
    p.maybeIncrementHighWatermark();
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, isr: [1] }], response: undefined }));
    await settle();
    expect(fetched(groups)).toEqual([ErrorCode.NONE, -1]);
    const epoch = p.leaderEpoch;
    // What broker 2 wrote as leader of the next epoch, which this node's image skipped.
    expect(p.log.append(commitBatch(30), epoch + 1).kind).toBe("ok");
    await br.metadata.submit(() => ({
      records: [
        { type: "partitionChange", topicId, partition: 0, leader: 2, isr: [1, 2] },
        { type: "partitionChange", topicId, partition: 0, leader: 1, isr: [1] },
      ],
      response: undefined,
    }));
    await settle();
    expect(p.leaderEpoch).toBe(epoch + 2);
    expect(fetched(groups)).toEqual([ErrorCode.NONE, 30]);
  });

  test("an acks=all commit that the ISR does not take in time is COORDINATOR_NOT_AVAILABLE (Kafka's mapping of REQUEST_TIMED_OUT)", async () => {
    const { br, groups, topicId } = await setup();
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, leader: 1, isr: [1, 2] }], response: undefined }));
    await settle();
    // Broker 2 fetches once (the HW reaches the log end: the load can run), then stops.
    await br.replicas.fetch([{ topic: OFFSETS_TOPIC_NAME, partition: 0, fetchOffset: 0, currentLeaderEpoch: 1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }], {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolation: "readUncommitted",
      replica: { replicaId: 2, brokerEpoch: 1 },
    });
    await settle();
    expect(groups.coordinatorError(group)).toBe(ErrorCode.NONE);
    let answer = null as number | null;
    void groups
      .commitOffsets({
        groupId: group,
        generationId: -1,
        memberId: "",
        groupInstanceId: null,
        retentionTimeMs: -1,
        apiVersion: 8,
        topics: [{ name: OFFSETS_TOPIC_NAME, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, commitTimestampMs: -1, committedMetadata: null }] }],
      })
      .then((r) => (answer = r[0]!.partitions[0]!.errorCode));
    await settle();
    expect(answer).toBeNull();
    br.clock.advance(1000);
    await settle();
    expect(answer).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(fetched(groups)).toEqual([ErrorCode.NONE, -1]);
  });
});
