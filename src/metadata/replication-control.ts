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
 *   live replica leads with ISR = [itself] (data may be lost: that is what unclean means) —
 *   replicas a reassignment is adding come last, as they may hold little.
 * - `electOfflineLeaders`: partitions without a leader get one once an ISR member is live
 *   again (or, unclean, any live replica).
 * - `alterPartition`: a leader's ISR change (KIP-497), validated against the image: the
 *   sender's broker epoch, that it leads the partition at the given leader epoch
 *   (FENCED_LEADER_EPOCH otherwise), the partition epoch (INVALID_UPDATE_VERSION: the
 *   leader's view is stale), a new ISR that holds the leader, only replicas, and no member
 *   joining that is fenced or of another broker epoch (INELIGIBLE_REPLICA).
 *
 * - `electLeaders` / `rebalanceLeaders`: the ElectLeaders API (preferred, unclean) and the
 *   controller's periodic preferred-leader balancing.
 * - `alterPartitionReassignments` / `completeReassignment`: KIP-455 reassignment. Target
 *   replicas are added (they fetch as followers and join the ISR through AlterPartition); the
 *   AlterPartition that brings the last of them into the ISR also ends the reassignment:
 *   replicas become the target, removed ones leave (their brokers delete the partition).
 *
 * Invariants of every record here: leader ∈ isr or leader = -1; isr ⊆ replicas; a leader
 * change bumps the leader epoch (done by the replay of the record, image.ts).
 */
import { ErrorCode } from "../protocol/errors.ts";
import type { ControllerContext, ControllerResult } from "./controller.ts";
import { isReassigning, type MetadataImage, NO_LEADER, type PartitionImage, targetReplicas, type TopicImage } from "./image.ts";
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
 * Candidates for an unclean election, in order: the replicas a reassignment is not adding
 * first (an added replica may hold next to nothing yet), then the added ones.
 */
function uncleanOrder(p: PartitionImage): readonly number[] {
  const adding = p.addingReplicas;
  if (adding === undefined) return p.replicas;
  return [...p.replicas.filter((b) => !adding.includes(b)), ...adding];
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
      const dirty = unclean ? uncleanOrder(p).find((b) => isLive(image, b, removed)) : undefined;
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
      const dirty = uncleanOrder(p).find((b) => isLive(image, b, none, unfenced));
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
    // A reassignment whose target replicas are all in the new ISR completes in the same record.
    const done = completeReassignment(image, p, isr);
    if (done !== null) {
      records.push(done);
      const leader = done.leader ?? p.leader;
      return { ...base, errorCode: ErrorCode.NONE, leaderId: leader, leaderEpoch: leader !== p.leader ? p.leaderEpoch + 1 : p.leaderEpoch, isr: done.isr!, partitionEpoch: p.partitionEpoch + 1 };
    }
    records.push({ type: "partitionChange", topicId: p.topicId, partition: p.partition, isr });
    // The replay bumps the partition epoch by one; the leader and its epoch stay.
    return { ...base, errorCode: ErrorCode.NONE, leaderId: p.leader, leaderEpoch: p.leaderEpoch, isr, partitionEpoch: p.partitionEpoch + 1 };
  });
  return { records, response: { errorCode: ErrorCode.NONE, partitions } };
}

// ---- ElectLeaders (KIP-460) and preferred-leader balancing --------------------------------

/** ElectLeaders' election types, as on the wire. */
export const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

export interface ElectionTarget {
  topic: string;
  partition: number;
}

export interface ElectionOutcome extends ElectionTarget {
  errorCode: number;
  errorMessage: string | null;
}

/**
 * The new leader of one partition for an election of `type`, or an error:
 * - preferred: the first replica (of the target, during a reassignment) leads, when it is in
 *   the ISR and live; ELECTION_NOT_NEEDED when it leads already, PREFERRED_LEADER_NOT_AVAILABLE
 *   otherwise;
 * - unclean: a partition without a leader gets one — a live ISR member when there is one,
 *   else the first live replica with ISR = [itself], whatever `unclean.leader.election.enable`
 *   says (asking for it is the operator's consent); ELECTION_NOT_NEEDED when it has a leader,
 *   ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live.
 */
export function electionFor(image: MetadataImage, p: PartitionImage, type: number): { leader: number; isr: number[] } | { errorCode: number; errorMessage: string } {
  if (type === ElectionType.PREFERRED) {
    const preferred = p.replicas[0]!;
    if (p.leader === preferred) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: "the preferred replica leads already" };
    if (!p.isr.includes(preferred) || !isLive(image, preferred, noBrokers)) {
      return { errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: `preferred replica ${preferred} is ${p.isr.includes(preferred) ? "not live" : "not in the ISR"}` };
    }
    return { leader: preferred, isr: p.isr.slice() };
  }
  if (p.leader !== NO_LEADER) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: "the partition has a leader" };
  const clean = p.replicas.find((b) => p.isr.includes(b) && isLive(image, b, noBrokers));
  if (clean !== undefined) return { leader: clean, isr: p.isr.slice() };
  const dirty = uncleanOrder(p).find((b) => isLive(image, b, noBrokers));
  if (dirty !== undefined) return { leader: dirty, isr: [dirty] };
  return { errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, errorMessage: "no replica is live" };
}

/**
 * ElectLeaders: one outcome per named partition (null: every partition, and then those that
 * needed no election are left out of the answer). Each elected partition is one record; the
 * records stand alone (non-atomic).
 */
export function electLeaders(ctx: ControllerContext, type: number, targets: readonly ElectionTarget[] | null): ControllerResult<ElectionOutcome[]> {
  const image = ctx.image;
  const records: MetadataRecord[] = [];
  const outcomes: ElectionOutcome[] = [];
  const seen = new Set<string>();
  const elect = (topic: TopicImage, p: PartitionImage, all: boolean): void => {
    const r = electionFor(image, p, type);
    if ("errorCode" in r) {
      if (!(all && r.errorCode === ErrorCode.ELECTION_NOT_NEEDED)) outcomes.push({ topic: topic.name, partition: p.partition, errorCode: r.errorCode, errorMessage: r.errorMessage });
      return;
    }
    records.push(change(p, r));
    outcomes.push({ topic: topic.name, partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: null });
  };
  if (targets === null) {
    for (const topic of image.topicsByName.values()) for (const p of topic.partitions) elect(topic, p, true);
    return { records, response: outcomes, atomic: false };
  }
  for (const t of targets) {
    const key = `${t.topic}\u0000${t.partition}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const topic = image.topic(t.topic);
    const p = topic?.partitions[t.partition];
    if (topic === undefined || p === undefined) {
      outcomes.push({ ...t, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `no partition ${t.topic}-${t.partition}` });
      continue;
    }
    elect(topic, p, false);
  }
  return { records, response: outcomes, atomic: false };
}

/**
 * Per broker, how many partitions prefer it (it is their first replica) and how many of those
 * it does not lead: the ratio is its leader imbalance (leader.imbalance.per.broker.percentage).
 */
export function leaderImbalance(image: MetadataImage): Map<number, { preferred: number; notLed: number }> {
  const out = new Map<number, { preferred: number; notLed: number }>();
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions) {
      const preferred = p.replicas[0]!;
      let e = out.get(preferred);
      if (e === undefined) out.set(preferred, (e = { preferred: 0, notLed: 0 }));
      e.preferred++;
      if (p.leader !== preferred) e.notLed++;
    }
  }
  return out;
}

/**
 * The periodic preferred-leader balancing (auto.leader.rebalance.enable): for every broker
 * whose imbalance is above `percentage` percent, each partition preferring it moves its
 * leadership back to it when it is in the ISR and live. Records stand alone.
 */
export function rebalanceLeaders(image: MetadataImage, percentage: number): PartitionChange[] {
  if (!(percentage >= 0)) throw new Error(`leader imbalance percentage ${percentage}`);
  const over = new Set<number>();
  for (const [brokerId, e] of leaderImbalance(image)) if (e.notLed * 100 > e.preferred * percentage) over.add(brokerId);
  if (over.size === 0) return [];
  const out: PartitionChange[] = [];
  for (const topic of image.topicsById.values()) {
    for (const p of topic.partitions) {
      if (!over.has(p.replicas[0]!)) continue;
      const r = electionFor(image, p, ElectionType.PREFERRED);
      if (!("errorCode" in r)) out.push(change(p, r));
    }
  }
  return out;
}

// ---- Reassignment (KIP-455) ---------------------------------------------------------------

export interface ReassignmentItem {
  topic: string;
  partition: number;
  /** The target replicas; null cancels the partition's ongoing reassignment. */
  replicas: number[] | null;
}

export interface ReassignmentOutcome {
  topic: string;
  partition: number;
  errorCode: number;
  errorMessage: string | null;
}

/** Leader for a partition whose ISR becomes `isr`: the current one if it stays, else the first live ISR member in `order`. */
function leaderWithin(image: MetadataImage, p: PartitionImage, order: readonly number[], isr: readonly number[]): number {
  if (p.leader !== NO_LEADER && isr.includes(p.leader) && order.includes(p.leader)) return p.leader;
  return order.find((b) => isr.includes(b) && isLive(image, b, noBrokers)) ?? NO_LEADER;
}

/**
 * The record finishing a reassignment when every target replica is in `isr` (the ISR the
 * partition is about to have): replicas become the target, removed replicas leave the ISR,
 * and the leader moves to the first live target replica in the ISR when it is removed.
 * Null when the reassignment is not done (or none is ongoing).
 */
export function completeReassignment(image: MetadataImage, p: PartitionImage, isr: readonly number[]): PartitionChange | null {
  if (!isReassigning(p)) return null;
  const target = targetReplicas(p);
  if (!target.every((b) => isr.includes(b))) return null;
  const nextIsr = isr.filter((b) => target.includes(b));
  const leader = leaderWithin(image, p, target, nextIsr);
  const r: PartitionChange = { type: "partitionChange", topicId: p.topicId, partition: p.partition, replicas: target.slice(), isr: nextIsr, addingReplicas: [], removingReplicas: [] };
  if (leader !== p.leader) r.leader = leader;
  return r;
}

/**
 * AlterPartitionReassignments: per partition, a record starting (or replacing, or cancelling)
 * a reassignment. Starting one: the original replicas are the current ones without those an
 * earlier reassignment was adding; replicas become target + (original − target), adding =
 * target − original, removing = original − target; the ISR keeps only replicas. A target
 * already wholly in the ISR completes at once (a shrink of the replication factor). Cancelling
 * goes back to the original replicas. Each record stands alone.
 */
export function alterPartitionReassignments(ctx: ControllerContext, items: readonly ReassignmentItem[]): ControllerResult<ReassignmentOutcome[]> {
  const image = ctx.image;
  const records: MetadataRecord[] = [];
  const seen = new Set<string>();
  const response = items.map((item): ReassignmentOutcome => {
    const base = { topic: item.topic, partition: item.partition };
    const fail = (errorCode: number, errorMessage: string): ReassignmentOutcome => ({ ...base, errorCode, errorMessage });
    const key = `${item.topic}\u0000${item.partition}`;
    if (seen.has(key)) return fail(ErrorCode.INVALID_REQUEST, `partition ${item.topic}-${item.partition} appears more than once`);
    seen.add(key);
    const p = image.topic(item.topic)?.partitions[item.partition];
    if (p === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no partition ${item.topic}-${item.partition}`);
    const original = p.replicas.filter((b) => !(p.addingReplicas ?? []).includes(b));
    if (item.replicas === null) {
      if (!isReassigning(p)) return fail(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `no reassignment of ${item.topic}-${item.partition} is in progress`);
      const isr = p.isr.filter((b) => original.includes(b));
      if (isr.length === 0) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "cancelling would leave no original replica in the ISR");
      const r: PartitionChange = { type: "partitionChange", topicId: p.topicId, partition: p.partition, replicas: original, isr, addingReplicas: [], removingReplicas: [] };
      const leader = leaderWithin(image, p, original, isr);
      if (leader !== p.leader) r.leader = leader;
      records.push(r);
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null };
    }
    const target = item.replicas;
    if (target.length === 0) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "empty replica list");
    if (new Set(target).size !== target.length) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `a broker is named twice: [${target.join(",")}]`);
    const unknown = target.find((b) => !image.brokers.has(b));
    if (unknown !== undefined) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `broker ${unknown} is not registered`);
    const sameAsNow = !isReassigning(p) && target.length === p.replicas.length && target.every((b, i) => p.replicas[i] === b);
    if (sameAsNow) return { ...base, errorCode: ErrorCode.NONE, errorMessage: null };
    const removing = original.filter((b) => !target.includes(b));
    const adding = target.filter((b) => !original.includes(b));
    const replicas = [...target, ...removing];
    const isr = p.isr.filter((b) => replicas.includes(b));
    if (isr.length === 0) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "no replica of the new assignment is in the ISR");
    const started: PartitionImage = { ...p, replicas, isr, addingReplicas: adding, removingReplicas: removing };
    const done = adding.length === 0 && removing.length === 0 ? null : completeReassignment(image, { ...started, leader: p.leader }, isr);
    if (done !== null) {
      records.push(done);
    } else {
      const r: PartitionChange = { type: "partitionChange", topicId: p.topicId, partition: p.partition, replicas, isr, addingReplicas: adding, removingReplicas: removing };
      const leader = leaderWithin(image, p, replicas, isr);
      if (leader !== p.leader) r.leader = leader;
      records.push(r);
    }
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null };
  });
  return { records, response, atomic: false };
}

export interface OngoingReassignment {
  topic: string;
  partition: number;
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
}

/** ListPartitionReassignments: the ongoing reassignments among `targets` (null: all); unknown partitions are left out. */
export function listPartitionReassignments(image: MetadataImage, targets: readonly { topic: string; partitions: readonly number[] }[] | null): OngoingReassignment[] {
  const out: OngoingReassignment[] = [];
  const add = (topic: TopicImage, p: PartitionImage | undefined): void => {
    if (p === undefined || !isReassigning(p)) return;
    out.push({ topic: topic.name, partition: p.partition, replicas: p.replicas.slice(), addingReplicas: (p.addingReplicas ?? []).slice(), removingReplicas: (p.removingReplicas ?? []).slice() });
  };
  if (targets === null) {
    for (const topic of image.topicsByName.values()) for (const p of topic.partitions) add(topic, p);
    return out;
  }
  for (const t of targets) {
    const topic = image.topic(t.topic);
    if (topic === undefined) continue;
    for (const i of new Set(t.partitions)) add(topic, topic.partitions[i]);
  }
  return out;
}
