/**
 * Replication control on the active controller (Kafka's ReplicationControlManager, in part):
 * pure decisions over a MetadataImage that return `partitionChange` records, never mutating.
 * The caller commits the records before anyone acts on them.
 *
 * - `removeBrokerFromPartitions`: a broker was fenced (session expired), asked for a
 *   controlled shutdown, or registered a new incarnation (its old life is gone). Every ISR it
 *   is in loses it; every partition it led gets a new leader: the first replica in assignment
 *   order that is in the remaining ISR and live (registered, unfenced, not being removed).
 *   With no such replica the partition goes offline (leader -1) and keeps the removed broker
 *   as its only ISR member, so that broker can lead again once it is back (its log holds
 *   everything committed); unless unclean election is allowed for the topic, then the first
 *   live replica leads with ISR = [itself] (data may be lost: that is what unclean means).
 * - `electOfflineLeaders`: partitions without a leader get one once an ISR member is live
 *   again (or, unclean, any live replica).
 * - `alterPartition`: a leader's ISR change (KIP-497), validated against the image: the
 *   sender's broker epoch, that it leads the partition at the given leader epoch
 *   (FENCED_LEADER_EPOCH otherwise), the partition epoch (INVALID_UPDATE_VERSION: the
 *   leader's view is stale), a new ISR that holds the leader, only replicas, and no member
 *   joining that is fenced or of another broker epoch (INELIGIBLE_REPLICA).
 *
 * Invariants of every record here: leader ∈ isr or leader = -1; isr ⊆ replicas; a leader
 * change bumps the leader epoch (done by the replay of the record, image.ts).
 */
import { ErrorCode } from "../protocol/errors.ts";
import type { ControllerContext, ControllerResult } from "./controller.ts";
import { type MetadataImage, NO_LEADER, type PartitionImage, type TopicImage } from "./image.ts";
import type { MetadataRecord } from "./records.ts";
import type { Uuid } from "./uuid.ts";

/** Whether unclean leader election is allowed for a topic (topic config, else the cluster's). */
export type UncleanPolicy = (topic: TopicImage) => boolean;

export const UNCLEAN_LEADER_ELECTION = "unclean.leader.election.enable";

/**
 * The topic's `unclean.leader.election.enable`, else the cluster-wide dynamic value (broker
 * resource ""), else `brokerDefault` (the controller's static config).
 */
export function uncleanPolicy(image: MetadataImage, brokerDefault: boolean): UncleanPolicy {
  const cluster = image.configsOf("broker", "").get(UNCLEAN_LEADER_ELECTION);
  const fallback = cluster === undefined ? brokerDefault : cluster.toLowerCase() === "true";
  return (topic) => {
    const v = image.configsOf("topic", topic.name).get(UNCLEAN_LEADER_ELECTION);
    return v === undefined ? fallback : v.toLowerCase() === "true";
  };
}

const noBrokers: ReadonlySet<number> = new Set();

type PartitionChange = Extract<MetadataRecord, { type: "partitionChange" }>;

function isLive(image: MetadataImage, brokerId: number, removed: ReadonlySet<number>, unfenced: ReadonlySet<number> = noBrokers): boolean {
  if (removed.has(brokerId)) return false;
  if (unfenced.has(brokerId)) return true;
  const b = image.brokers.get(brokerId);
  return b !== undefined && !b.fenced;
}

/**
 * The leader and ISR a partition gets when the brokers in `removed` go away (and every fenced
 * broker is not eligible), or null when nothing changes.
 */
export function partitionAfterRemoval(
  image: MetadataImage,
  p: PartitionImage,
  removed: ReadonlySet<number>,
  unclean: boolean,
): { leader: number; isr: number[] } | null {
  const touchesIsr = p.isr.some((b) => removed.has(b));
  const leaderGone = p.leader !== NO_LEADER && removed.has(p.leader);
  if (!touchesIsr && !leaderGone) return null;
  const remaining = p.isr.filter((b) => !removed.has(b));
  let leader = p.leader;
  let isr = remaining;
  if (leaderGone || leader === NO_LEADER) {
    const clean = p.replicas.find((b) => remaining.includes(b) && isLive(image, b, removed));
    if (clean !== undefined) {
      leader = clean;
    } else {
      const dirty = unclean ? p.replicas.find((b) => isLive(image, b, removed)) : undefined;
      if (dirty !== undefined) {
        leader = dirty;
        isr = [dirty];
      } else {
        leader = NO_LEADER;
        // The last ISR members stay: one of them holds everything committed (KIP-966's reason
        // for not emptying the ISR), and may lead again when it returns.
        isr = remaining.length > 0 ? remaining : p.isr.slice();
      }
    }
  }
  if (leader !== NO_LEADER && !isr.includes(leader)) throw new Error(`election: leader ${leader} not in isr [${isr.join(",")}]`);
  if (leader === p.leader && sameMembers(isr, p.isr)) return null;
  return { leader, isr };
}

function change(p: PartitionImage, next: { leader: number; isr: number[] }): PartitionChange {
  const r: PartitionChange = { type: "partitionChange", topicId: p.topicId, partition: p.partition, isr: next.isr };
  if (next.leader !== p.leader) r.leader = next.leader;
  return r;
}

/** Records that take `brokerId` out of every ISR and give the partitions it led a new leader. */
export function removeBrokerFromPartitions(image: MetadataImage, brokerId: number, unclean: UncleanPolicy): PartitionChange[] {
  const removed = new Set([brokerId]);
  const out: PartitionChange[] = [];
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions) {
      if (!p.replicas.includes(brokerId)) continue;
      const next = partitionAfterRemoval(image, p, removed, unclean(topic));
      if (next !== null) out.push(change(p, next));
    }
  }
  return out;
}

/**
 * Records giving a leader to partitions that have none, from live ISR members (or, unclean,
 * any live replica). `unfenced`: brokers being unfenced in the same decision (live already).
 */
export function electOfflineLeaders(image: MetadataImage, unclean: UncleanPolicy, unfenced: ReadonlySet<number> = noBrokers): PartitionChange[] {
  const none = noBrokers;
  const out: PartitionChange[] = [];
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions) {
      if (p.leader !== NO_LEADER) continue;
      const clean = p.replicas.find((b) => p.isr.includes(b) && isLive(image, b, none, unfenced));
      if (clean !== undefined) {
        out.push(change(p, { leader: clean, isr: p.isr.slice() }));
        continue;
      }
      if (!unclean(topic)) continue;
      const dirty = p.replicas.find((b) => isLive(image, b, none, unfenced));
      if (dirty !== undefined) out.push(change(p, { leader: dirty, isr: [dirty] }));
    }
  }
  return out;
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

// ---- AlterPartition -----------------------------------------------------------------------

export interface AlterPartitionItem {
  /** Null when named by topic name (AlterPartition < v2). */
  topicId: Uuid | null;
  topicName: string | null;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  /** The proposed ISR, with each member's broker epoch (-1: not given, AlterPartition < v3). */
  newIsr: { brokerId: number; brokerEpoch: number }[];
}

export interface AlterPartitionOutcome {
  topicId: Uuid | null;
  topicName: string | null;
  partition: number;
  errorCode: number;
  leaderId: number;
  leaderEpoch: number;
  isr: number[];
  partitionEpoch: number;
}

export function alterPartition(
  ctx: ControllerContext,
  brokerId: number,
  brokerEpoch: number,
  items: readonly AlterPartitionItem[],
): ControllerResult<{ errorCode: number; partitions: AlterPartitionOutcome[] }> {
  const image = ctx.image;
  const sender = image.brokers.get(brokerId);
  const failAll = (errorCode: number): ControllerResult<{ errorCode: number; partitions: AlterPartitionOutcome[] }> => ({ records: [], response: { errorCode, partitions: [] } });
  if (sender === undefined || sender.brokerEpoch !== brokerEpoch) return failAll(ErrorCode.STALE_BROKER_EPOCH);
  const records: MetadataRecord[] = [];
  const touched = new Set<string>();
  const partitions = items.map((item): AlterPartitionOutcome => {
    const topic = item.topicId !== null ? image.topicsById.get(item.topicId) : item.topicName !== null ? image.topic(item.topicName) : undefined;
    const base = { topicId: item.topicId, topicName: item.topicName, partition: item.partition };
    const fail = (errorCode: number): AlterPartitionOutcome => ({ ...base, errorCode, leaderId: -1, leaderEpoch: -1, isr: [], partitionEpoch: -1 });
    if (topic === undefined) return fail(item.topicId !== null ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const p = topic.partitions[item.partition];
    if (p === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const key = `${topic.topicId}:${item.partition}`;
    if (touched.has(key)) return fail(ErrorCode.INVALID_REQUEST);
    touched.add(key);
    if (p.leader !== brokerId) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (item.leaderEpoch !== p.leaderEpoch) return fail(ErrorCode.FENCED_LEADER_EPOCH);
    if (item.partitionEpoch !== p.partitionEpoch) return fail(ErrorCode.INVALID_UPDATE_VERSION);
    const isr = item.newIsr.map((m) => m.brokerId);
    if (new Set(isr).size !== isr.length || !isr.includes(brokerId) || isr.some((b) => !p.replicas.includes(b))) return fail(ErrorCode.INVALID_REQUEST);
    for (const m of item.newIsr) {
      if (p.isr.includes(m.brokerId)) continue;
      const b = image.brokers.get(m.brokerId);
      if (b === undefined || b.fenced || (m.brokerEpoch !== -1 && m.brokerEpoch !== b.brokerEpoch)) return fail(ErrorCode.INELIGIBLE_REPLICA);
    }
    if (sameMembers(isr, p.isr)) {
      return { ...base, errorCode: ErrorCode.NONE, leaderId: p.leader, leaderEpoch: p.leaderEpoch, isr: p.isr.slice(), partitionEpoch: p.partitionEpoch };
    }
    records.push({ type: "partitionChange", topicId: p.topicId, partition: p.partition, isr });
    // The replay bumps the partition epoch by one; the leader and its epoch stay.
    return { ...base, errorCode: ErrorCode.NONE, leaderId: p.leader, leaderEpoch: p.leaderEpoch, isr, partitionEpoch: p.partitionEpoch + 1 };
  });
  return { records, response: { errorCode: ErrorCode.NONE, partitions } };
}
