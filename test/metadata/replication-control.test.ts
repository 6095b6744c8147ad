import { describe, expect, test } from "bun:test";
import { brokerHeartbeat, fenceExpiredBroker, registerBroker } from "../../src/metadata/broker-lifecycle.ts";
import { applyRecords, type ControllerContext, createPartitions } from "../../src/metadata/controller.ts";
import type { MetadataImage } from "../../src/metadata/image.ts";
import type { MetadataRecord } from "../../src/metadata/records.ts";
import {
  alterPartition,
  alterPartitionReassignments,
  electLeaders,
  ElectionType,
  electOfflineLeaders,
  leaderImbalance,
  listPartitionReassignments,
  rebalanceLeaders,
  removeBrokerFromPartitions,
  uncleanPolicy,
} from "../../src/metadata/replication-control.ts";
import { imageFromRecords, imageRecords } from "../../src/metadata/image-snapshot.ts";
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

describe("ElectLeaders", () => {
  test("preferred: the first replica takes the lead when it is in the ISR and live; otherwise a per-partition error", () => {
    const img = image(
      [
        { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 2 }, // elected
        { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }, // not needed
        { replicas: [3, 2], isr: [2], leader: 2 }, // 3 not in the ISR
        { replicas: [4, 2], isr: [4, 2], leader: 2 }, // 4 fenced
      ],
      [4],
    );
    const targets = [0, 1, 2, 3, 9].map((partition) => ({ topic: "t", partition }));
    const r = electLeaders(ctx(img), ElectionType.PREFERRED, targets);
    expect(r.response.map((o) => o.errorCode)).toEqual([
      ErrorCode.NONE,
      ErrorCode.ELECTION_NOT_NEEDED,
      ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
      ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ]);
    expect(r.records).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [1, 2, 3], leader: 1 }]);
    expect(applyRecords(img, r.records).partition("t", 0)).toMatchObject({ leader: 1, leaderEpoch: 1, partitionEpoch: 1 });
    // Every partition: those needing no election are left out of the answer.
    const all = electLeaders(ctx(img), ElectionType.PREFERRED, null);
    expect(all.response.map((o) => `${o.partition}:${o.errorCode}`)).toEqual([`0:${ErrorCode.NONE}`, `2:${ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE}`, `3:${ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE}`]);
  });

  test("unclean: an offline partition gets a live ISR member, else any live replica with ISR = [itself], whatever the config says", () => {
    const img = image(
      [
        { replicas: [1, 2], isr: [1], leader: 1 }, // has a leader
        { replicas: [1, 2], isr: [1], leader: 1 }, // goes offline: 1 fenced, 2 out of sync
        { replicas: [3, 1], isr: [1, 3], leader: 1 }, // goes offline? no: 3 in the ISR and live
        { replicas: [1, 4], isr: [1], leader: 1 }, // goes offline, 4 fenced: nothing eligible
      ],
      [4],
    );
    const down = applyRecords(img, [
      { type: "brokerFencing", brokerId: 1, brokerEpoch: 1, fenced: true },
      { type: "partitionChange", topicId, partition: 1, leader: -1 },
      { type: "partitionChange", topicId, partition: 2, leader: -1, isr: [1, 3] },
      { type: "partitionChange", topicId, partition: 3, leader: -1 },
      { type: "partitionChange", topicId, partition: 0, leader: 2, isr: [2] },
    ]);
    const r = electLeaders(ctx(down), ElectionType.UNCLEAN, [0, 1, 2, 3].map((partition) => ({ topic: "t", partition })));
    expect(r.response.map((o) => o.errorCode)).toEqual([ErrorCode.ELECTION_NOT_NEEDED, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]);
    expect(r.records).toEqual([
      { type: "partitionChange", topicId, partition: 1, isr: [2], leader: 2 },
      { type: "partitionChange", topicId, partition: 2, isr: [1, 3], leader: 3 },
    ]);
    expect(r.atomic).toBe(false);
  });

  test("leader balancing moves leadership back to preferred replicas of brokers above the imbalance percentage", () => {
    // Broker 1 prefers 4 partitions and leads 1 (75% imbalance); broker 2 prefers 2, leads both.
    const img = image(
      [
        { replicas: [1, 2], isr: [1, 2], leader: 1 },
        { replicas: [1, 2], isr: [1, 2], leader: 2 },
        { replicas: [1, 2], isr: [2], leader: 2 }, // 1 not in the ISR: stays
        { replicas: [1, 3], isr: [1, 3], leader: 3 },
        { replicas: [2, 1], isr: [2, 1], leader: 2 },
        { replicas: [2, 1], isr: [2, 1], leader: 2 },
      ],
    );
    expect(leaderImbalance(img).get(1)).toEqual({ preferred: 4, notLed: 3 });
    expect(leaderImbalance(img).get(2)).toEqual({ preferred: 2, notLed: 0 });
    const records = rebalanceLeaders(img, 10);
    expect(records).toEqual([
      { type: "partitionChange", topicId, partition: 1, isr: [1, 2], leader: 1 },
      { type: "partitionChange", topicId, partition: 3, isr: [1, 3], leader: 1 },
    ]);
    expect(rebalanceLeaders(img, 75)).toEqual([]); // 75% is not above 75%
    expect(rebalanceLeaders(applyRecords(img, records), 10)).toEqual([]); // 1 of 4 is left: 25% > 10%, but not electable
  });
});

describe("partition reassignment (KIP-455)", () => {
  const at = (img: MetadataImage) => img.partition("t", 0)!;
  const reassign = (img: MetadataImage, replicas: number[] | null) => alterPartitionReassignments(ctx(img), [{ topic: "t", partition: 0, replicas }]);
  const expand = (img: MetadataImage, leader: number, isr: number[]) =>
    alterPartition(ctx(img), leader, 1, [{ topicId, topicName: null, partition: 0, leaderEpoch: at(img).leaderEpoch, partitionEpoch: at(img).partitionEpoch, newIsr: isr.map((brokerId) => ({ brokerId, brokerEpoch: 1 })) }]);

  test("{1,2,3} → {2,3,4}: 4 is added, joins the ISR through AlterPartition, then 1 leaves and the leadership moves off it", () => {
    const img = image([{ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }]);
    const started = reassign(img, [2, 3, 4]);
    expect(started.response[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(started.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [2, 3, 4, 1], isr: [1, 2, 3], addingReplicas: [4], removingReplicas: [1] }]);
    const moving = applyRecords(img, started.records);
    expect(at(moving)).toMatchObject({ replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
    expect(listPartitionReassignments(moving, null)).toEqual([{ topic: "t", partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }]);
    // A snapshot keeps the reassignment.
    expect(at(imageFromRecords(imageRecords(moving), moving.offset))).toEqual(at(moving));
    // 4 caught up: the leader (1) adds it; the same record ends the reassignment and elects 2.
    const joined = expand(moving, 1, [1, 2, 3, 4]);
    expect(joined.response.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: 2, leaderEpoch: 1, isr: [2, 3, 4], partitionEpoch: 2 });
    expect(joined.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [2, 3, 4], isr: [2, 3, 4], addingReplicas: [], removingReplicas: [], leader: 2 }]);
    const done = applyRecords(moving, joined.records);
    expect(at(done)).toEqual({ topicId, partition: 0, replicas: [2, 3, 4], isr: [2, 3, 4], leader: 2, leaderEpoch: 1, partitionEpoch: 2 });
    expect(listPartitionReassignments(done, null)).toEqual([]);
  });

  test("an ISR change short of the target keeps the reassignment going; the leader stays when it is kept", () => {
    const img = image([{ replicas: [1, 2], isr: [1, 2], leader: 1 }]);
    const moving = applyRecords(img, reassign(img, [1, 3, 4]).records);
    expect(at(moving)).toMatchObject({ replicas: [1, 3, 4, 2], addingReplicas: [3, 4], removingReplicas: [2] });
    const partly = expand(moving, 1, [1, 2, 3]);
    expect(partly.records).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [1, 2, 3] }]);
    const done = expand(applyRecords(moving, partly.records), 1, [1, 2, 3, 4]);
    expect(done.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [1, 3, 4], isr: [1, 3, 4], addingReplicas: [], removingReplicas: [] }]);
    expect(done.response.partitions[0]).toMatchObject({ leaderId: 1, leaderEpoch: 0 });
  });

  test("the replication factor changes: a shrink within the ISR completes at once, a growth adds a replica", () => {
    const img = image([{ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }]);
    const shrink = reassign(img, [2, 3]);
    expect(shrink.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [2, 3], isr: [2, 3], addingReplicas: [], removingReplicas: [], leader: 2 }]);
    expect(at(applyRecords(img, shrink.records))).toEqual({ topicId, partition: 0, replicas: [2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
    const grow = reassign(img, [1, 2, 3, 4]);
    expect(grow.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [1, 2, 3, 4], isr: [1, 2, 3], addingReplicas: [4], removingReplicas: [] }]);
    // The same assignment again, with nothing ongoing: nothing to do.
    expect(reassign(img, [1, 2, 3])).toMatchObject({ records: [], response: [{ errorCode: ErrorCode.NONE }] });
  });

  test("cancelling goes back to the original replicas (added ones leave the ISR); a new target replaces an ongoing one from the original", () => {
    const img = image([{ replicas: [1, 2, 3], isr: [1, 2], leader: 1 }]); // 3 out of sync
    expect(reassign(img, null).response[0]!.errorCode).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
    const moving = applyRecords(img, reassign(img, [2, 3, 4]).records);
    // 4 joins; 3 has not: the reassignment goes on.
    const withFour = applyRecords(moving, expand(moving, 1, [1, 2, 4]).records);
    expect(at(withFour)).toMatchObject({ isr: [1, 2, 4], addingReplicas: [4], removingReplicas: [1] });
    const cancel = reassign(withFour, null);
    // The original replicas in the reassignment's order (the target's first).
    expect(cancel.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [2, 3, 1], isr: [1, 2], addingReplicas: [], removingReplicas: [] }]);
    const back = at(applyRecords(withFour, cancel.records));
    expect(back).toMatchObject({ replicas: [2, 3, 1], isr: [1, 2], leader: 1 });
    expect(back.addingReplicas).toBeUndefined();
    // Replaced: {2,3,4} → {1,4}: the original {1,2,3} is the base again.
    const replaced = reassign(moving, [1, 4]);
    expect(replaced.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [1, 4, 2, 3], isr: [1, 2], addingReplicas: [4], removingReplicas: [2, 3] }]);
    // Where 4 is in the ISR already, the replacement {1,4} is complete at once.
    const finished = reassign(withFour, [1, 4]);
    expect(finished.records).toEqual([{ type: "partitionChange", topicId, partition: 0, replicas: [1, 4], isr: [1, 4], addingReplicas: [], removingReplicas: [] }]);
  });

  test("CreatePartitions on a topic being reassigned takes the target's replication factor, with replicas for the new partitions", () => {
    const img = image([{ replicas: [1, 2], isr: [1, 2], leader: 1 }]);
    const moving = applyRecords(img, reassign(img, [2, 3, 4]).records);
    expect(at(moving).replicas.length).toBe(4);
    const grown = createPartitions(ctx(moving), [{ name: "t", count: 3, assignments: null }], false);
    expect(grown.response[0]!.errorCode).toBe(ErrorCode.NONE);
    const next = applyRecords(moving, grown.records);
    for (const p of next.topic("t")!.partitions.slice(1)) {
      expect(p.replicas.length).toBe(3);
      expect(p.isr).toEqual(p.replicas);
      expect(p.leader).toBe(p.replicas[0]!);
    }
  });

  test("an unclean election prefers a replica the reassignment is not adding", () => {
    const img = image([{ replicas: [1, 2], isr: [1], leader: 1 }]);
    // [3, 2] with 3 added: replicas [3, 2, 1]; 1 (the only ISR member) goes away.
    const moving = applyRecords(img, reassign(img, [3, 2]).records);
    expect(at(moving)).toMatchObject({ replicas: [3, 2, 1], addingReplicas: [3], removingReplicas: [1] });
    const on = uncleanPolicy(moving, true);
    expect(removeBrokerFromPartitions(moving, 1, on)).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [2], leader: 2 }]);
    const fenced2 = applyRecords(moving, [{ type: "brokerFencing", brokerId: 2, brokerEpoch: 1, fenced: true }]);
    expect(removeBrokerFromPartitions(fenced2, 1, on)).toEqual([{ type: "partitionChange", topicId, partition: 0, isr: [3], leader: 3 }]);
  });

  test("bad targets are refused per partition without records", () => {
    const img = image([{ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }]);
    const r = alterPartitionReassignments(ctx(img), [
      { topic: "t", partition: 0, replicas: [] },
      { topic: "t", partition: 0, replicas: [1, 2] },
      { topic: "t", partition: 3, replicas: [1] },
      { topic: "nope", partition: 0, replicas: [1] },
    ]);
    expect(r.records).toEqual([]);
    expect(r.response.map((o) => o.errorCode)).toEqual([ErrorCode.INVALID_REPLICA_ASSIGNMENT, ErrorCode.INVALID_REQUEST, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(reassign(img, [1, 1]).response[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(reassign(img, [1, 9]).response[0]!.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  });
});
