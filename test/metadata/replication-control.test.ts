import { describe, expect, test } from "bun:test";
import { brokerHeartbeat, fenceExpiredBroker, registerBroker } from "../../src/metadata/broker-lifecycle.ts";
import { applyRecords, type ControllerContext } from "../../src/metadata/controller.ts";
import type { MetadataImage } from "../../src/metadata/image.ts";
import type { MetadataRecord } from "../../src/metadata/records.ts";
import { alterPartition, electOfflineLeaders, removeBrokerFromPartitions, uncleanPolicy } from "../../src/metadata/replication-control.ts";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { clusterImage } from "./cluster-image.ts";

const topicId = "AAAAAAAAAAAAAAAAAAAAAQ" as Uuid;

/** Brokers 1..4 (those in `fenced` fenced) and topic t with one partition per replica list. */
function image(partitions: { replicas: number[]; isr: number[]; leader: number }[], fenced: number[] = [], configs: MetadataRecord[] = []): MetadataImage {
  const base = clusterImage([1, 2, 3, 4].map((id) => ({ id, fenced: fenced.includes(id) })));
  return applyRecords(base, [
    { type: "topic", name: "t", topicId },
    ...partitions.map((p, partition): MetadataRecord => ({ type: "partition", topicId, partition, replicas: p.replicas, isr: p.isr, leader: p.leader, leaderEpoch: 0, partitionEpoch: 0 })),
    ...configs,
  ]);
}

function ctx(img: MetadataImage): ControllerContext {
  return { image: img, prng: new SeededPrng(1), defaults: { numPartitions: 1, defaultReplicationFactor: 1 } };
}

const never = () => false;

describe("elections when a broker goes away", () => {
  test("the leader's partitions get the first live ISR member in assignment order; every ISR loses it; epochs bump", () => {
    const img = image([
      { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 },
      { replicas: [2, 3, 1], isr: [2, 3, 1], leader: 2 },
      { replicas: [3, 4, 1], isr: [3, 1], leader: 3 }, // 4 out of sync
      { replicas: [2, 3, 4], isr: [2, 3, 4], leader: 2 }, // 1 not a replica
    ]);
    const records = removeBrokerFromPartitions(img, 1, never);
    expect(records).toEqual([
      { type: "partitionChange", topicId, partition: 0, isr: [2, 3], leader: 2 },
      { type: "partitionChange", topicId, partition: 1, isr: [2, 3] },
      { type: "partitionChange", topicId, partition: 2, isr: [3] },
    ]);
    const next = applyRecords(img, records);
    expect(next.partition("t", 0)).toMatchObject({ leader: 2, leaderEpoch: 1, partitionEpoch: 1, isr: [2, 3] });
    expect(next.partition("t", 1)).toMatchObject({ leader: 2, leaderEpoch: 0, partitionEpoch: 1 });
  });

  test("fenced ISR members are skipped; no live ISR member: offline, the last members kept", () => {
    const img = image(
      [
        { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }, // 2 fenced: 3 leads
        { replicas: [1, 4], isr: [1], leader: 1 }, // 4 live but out of sync
      ],
      [2],
    );
    const records = removeBrokerFromPartitions(img, 1, never);
    expect(records).toEqual([
      { type: "partitionChange", topicId, partition: 0, isr: [2, 3], leader: 3 },
      { type: "partitionChange", topicId, partition: 1, isr: [1], leader: -1 },
    ]);
    const next = applyRecords(img, [{ type: "brokerFencing", brokerId: 1, brokerEpoch: 1, fenced: true }, ...records]);
    expect(next.partition("t", 1)).toMatchObject({ leader: -1, isr: [1], leaderEpoch: 1 });
    // Broker 1 back and unfenced: it leads again (it holds everything committed).
    expect(electOfflineLeaders(next, never, new Set([1]))).toEqual([{ type: "partitionChange", topicId, partition: 1, isr: [1], leader: 1 }]);
    // Only 4: no clean leader.
    expect(electOfflineLeaders(next, never)).toEqual([]);
  });

  test("unclean.leader.election.enable (topic over cluster over the static default) lets a live out-of-sync replica lead", () => {
    const img = image([{ replicas: [1, 4], isr: [1], leader: 1 }], [], [{ type: "config", resourceType: "topic", resourceName: "t", name: "unclean.leader.election.enable", value: "true" }]);
    expect(removeBrokerFromPartitions(img, 1, uncleanPolicy(img, false))).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [4], leader: 4 }]);
    const plain = image([{ replicas: [1, 4], isr: [1], leader: 1 }]);
    expect(removeBrokerFromPartitions(plain, 1, uncleanPolicy(plain, true))).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [4], leader: 4 }]);
    const off = image([{ replicas: [1, 4], isr: [1], leader: 1 }], [], [{ type: "config", resourceType: "topic", resourceName: "t", name: "unclean.leader.election.enable", value: "false" }]);
    expect(removeBrokerFromPartitions(off, 1, uncleanPolicy(off, true))).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [1], leader: -1 }]);
  });

  test("fencing on session expiry, controlled shutdown and a new incarnation all move leadership in the same batch", () => {
    const img = image([{ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }]);
    const fenced = fenceExpiredBroker(ctx(img), 1, 1);
    expect(fenced.records.map((r) => r.type)).toEqual(["brokerFencing", "partitionChange"]);
    expect(applyRecords(img, fenced.records).partition("t", 0)).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1 });

    const shutdown = brokerHeartbeat(ctx(img), { brokerId: 1, brokerEpoch: 1, currentMetadataOffset: img.offset, wantFence: false, wantShutDown: true });
    expect(shutdown.response.shouldShutDown).toBe(true);
    expect(applyRecords(img, shutdown.records).partition("t", 0)).toMatchObject({ leader: 2, isr: [2, 3] });

    const again = registerBroker(ctx(img), { brokerId: 1, incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as Uuid, endpoints: [], rack: null });
    expect(again.records.map((r) => r.type)).toEqual(["registerBroker", "partitionChange"]);
    const after = applyRecords(img, again.records);
    expect(after.partition("t", 0)).toMatchObject({ leader: 2, isr: [2, 3] });
    expect(after.brokers.get(1)?.fenced).toBe(true);
  });

  test("unfencing a broker elects it where it is the last ISR member of an offline partition", () => {
    const offline = applyRecords(image([{ replicas: [1, 2], isr: [1], leader: 1 }]), [{ type: "brokerFencing", brokerId: 1, brokerEpoch: 1, fenced: true }, { type: "partitionChange", topicId, partition: 0, leader: -1 }]);
    expect(offline.partition("t", 0)).toMatchObject({ leader: -1, isr: [1] });
    const beat = brokerHeartbeat(ctx(offline), { brokerId: 1, brokerEpoch: 1, currentMetadataOffset: offline.offset, wantFence: false, wantShutDown: false });
    expect(beat.response.isFenced).toBe(false);
    expect(applyRecords(offline, beat.records).partition("t", 0)).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 2 });
  });
});

describe("AlterPartition validation", () => {
  const img = image([{ replicas: [1, 2, 3], isr: [1, 2], leader: 1 }], [4]);
  const item = (over: Partial<Parameters<typeof alterPartition>[3][number]> = {}) => ({
    topicId,
    topicName: null,
    partition: 0,
    leaderEpoch: 0,
    partitionEpoch: 0,
    newIsr: [1, 2, 3].map((brokerId) => ({ brokerId, brokerEpoch: 1 })),
    ...over,
  });

  test("an expansion by the leader at the current epochs is committed, the partition epoch bumped", () => {
    const r = alterPartition(ctx(img), 1, 1, [item()]);
    expect(r.response.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: 1, leaderEpoch: 0, isr: [1, 2, 3], partitionEpoch: 1 });
    expect(r.records).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [1, 2, 3] }]);
    expect(applyRecords(img, r.records).partition("t", 0)).toMatchObject({ isr: [1, 2, 3], partitionEpoch: 1, leaderEpoch: 0 });
  });

  test("stale or wrong senders and proposals are refused without records", () => {
    const code = (brokerId: number, brokerEpoch: number, over: Parameters<typeof item>[0]) => {
      const r = alterPartition(ctx(img), brokerId, brokerEpoch, [item(over)]);
      expect(r.records).toEqual([]);
      return r.response.errorCode !== ErrorCode.NONE ? r.response.errorCode : r.response.partitions[0]!.errorCode;
    };
    expect(code(1, 7, {})).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect(code(2, 1, {})).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(code(1, 1, { leaderEpoch: 1 })).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(code(1, 1, { partitionEpoch: 3 })).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    expect(code(1, 1, { newIsr: [{ brokerId: 2, brokerEpoch: 1 }] })).toBe(ErrorCode.INVALID_REQUEST); // without the leader
    expect(code(1, 1, { newIsr: [{ brokerId: 1, brokerEpoch: 1 }, { brokerId: 4, brokerEpoch: 1 }] })).toBe(ErrorCode.INVALID_REQUEST); // not a replica
    expect(code(1, 1, { newIsr: [1, 2, 3].map((brokerId) => ({ brokerId, brokerEpoch: brokerId === 3 ? 9 : 1 })) })).toBe(ErrorCode.INELIGIBLE_REPLICA);
    expect(code(1, 1, { topicId: "AAAAAAAAAAAAAAAAAAAAAg" as Uuid })).toBe(ErrorCode.UNKNOWN_TOPIC_ID);
    expect(code(1, 1, { partition: 5 })).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("a joining member that is fenced is INELIGIBLE_REPLICA; a shrink to the leader is fine", () => {
    const fenced3 = image([{ replicas: [1, 2, 3], isr: [1, 2], leader: 1 }], [3]);
    expect(alterPartition(ctx(fenced3), 1, 1, [item()]).response.partitions[0]!.errorCode).toBe(ErrorCode.INELIGIBLE_REPLICA);
    const shrink = alterPartition(ctx(img), 1, 1, [item({ newIsr: [{ brokerId: 1, brokerEpoch: 1 }] })]);
    expect(shrink.response.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, isr: [1], partitionEpoch: 1 });
  });
});
