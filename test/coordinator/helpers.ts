/**
 * A group coordinator on a SimClock and an in-memory `__consumer_offsets`, with helpers that
 * play clients: join/sync/heartbeat with sensible defaults. Responses that wait on the log
 * resolve through promise chains, so `settle()` lets them run (no time passes).
 */
import { type GroupCoordinatorConfig, groupCoordinatorConfigDefaults } from "../../src/coordinator/config.ts";
import { GroupCoordinator, type JoinGroupInput, type OffsetCommitInput } from "../../src/coordinator/group-coordinator.ts";
import type { JoinGroupOutcome, SyncGroupOutcome } from "../../src/coordinator/group.ts";
import { MemoryOffsetsTopicLog } from "../../src/coordinator/offsets-log.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";

export const PARTITIONS = 4;

export function consumerSubscription(topics: string[], userData: number[] = []): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [0, 1];
  parts.push(0, 0, 0, topics.length);
  for (const t of topics) {
    const b = enc.encode(t);
    parts.push(b.length >> 8, b.length & 0xff, ...b);
  }
  if (userData.length === 0) parts.push(0xff, 0xff, 0xff, 0xff);
  else parts.push(0, 0, 0, userData.length, ...userData);
  return new Uint8Array(parts);
}

export interface Env {
  gc: GroupCoordinator;
  clock: SimClock;
  log: MemoryOffsetsTopicLog;
  config: GroupCoordinatorConfig;
  topics: Map<string, number>;
  newCoordinator(log?: MemoryOffsetsTopicLog): GroupCoordinator;
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export async function setup(overrides: Partial<GroupCoordinatorConfig> = {}, options: { load?: boolean; seed?: number } = {}): Promise<Env> {
  const clock = new SimClock();
  const log = new MemoryOffsetsTopicLog();
  const config: GroupCoordinatorConfig = { ...groupCoordinatorConfigDefaults, offsetsTopicNumPartitions: PARTITIONS, groupInitialRebalanceDelayMs: 0, ...overrides };
  const topics = new Map<string, number>([
    ["t", 3],
    ["u", 1],
  ]);
  const newCoordinator = (l: MemoryOffsetsTopicLog = log): GroupCoordinator =>
    new GroupCoordinator({ config, clock, prng: new SeededPrng(options.seed ?? 1), log: l, topicPartitions: (name) => topics.get(name) });
  const gc = newCoordinator();
  if (options.load !== false) await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => gc.loadPartition(p)));
  return { gc, clock, log, config, topics, newCoordinator };
}

export function joinInput(groupId: string, o: Partial<JoinGroupInput> = {}): JoinGroupInput {
  return {
    groupId,
    memberId: "",
    groupInstanceId: null,
    clientId: "client",
    clientHost: "/10.0.0.1",
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: consumerSubscription(["t"]) }],
    requireKnownMemberId: false,
    supportsSkipAssignment: false,
    ...o,
  };
}

/** Tracks a pending promise so a test can ask whether it resolved yet. */
export function track<T>(p: Promise<T>): { done: () => boolean; value: () => T; promise: Promise<T> } {
  let result: { v: T } | null = null;
  void p.then((v) => {
    result = { v };
  });
  return {
    done: () => result !== null,
    value: () => {
      if (result === null) throw new Error("not resolved yet");
      return result.v;
    },
    promise: p,
  };
}

/** One member joins a group alone and syncs its own assignment: returns its id and generation. */
export async function joinAlone(env: Env, groupId: string, o: Partial<JoinGroupInput> = {}, assignment = new Uint8Array([9])): Promise<{ memberId: string; generationId: number; join: JoinGroupOutcome; sync: SyncGroupOutcome }> {
  const join = await env.gc.joinGroup(joinInput(groupId, o));
  if (join.errorCode !== 0) throw new Error(`join failed: ${join.errorCode}`);
  const sync = await env.gc.syncGroup({
    groupId,
    generationId: join.generationId,
    memberId: join.memberId,
    groupInstanceId: o.groupInstanceId ?? null,
    protocolType: null,
    protocolName: null,
    assignments: [{ memberId: join.memberId, assignment }],
  });
  if (sync.errorCode !== 0) throw new Error(`sync failed: ${sync.errorCode}`);
  return { memberId: join.memberId, generationId: join.generationId, join, sync };
}

export function commitInput(groupId: string, o: Partial<OffsetCommitInput> = {}, offsets: [string, number, number, string | null][] = [["t", 0, 10, "meta"]]): OffsetCommitInput {
  const byTopic = new Map<string, OffsetCommitInput["topics"][number]["partitions"][number][]>();
  for (const [topic, partition, offset, metadata] of offsets) {
    const list = byTopic.get(topic) ?? [];
    list.push({ partitionIndex: partition, committedOffset: offset, committedLeaderEpoch: 3, commitTimestampMs: -1, committedMetadata: metadata });
    byTopic.set(topic, list);
  }
  return {
    groupId,
    generationId: -1,
    memberId: "",
    groupInstanceId: null,
    retentionTimeMs: -1,
    apiVersion: 8,
    topics: [...byTopic.entries()].map(([name, partitions]) => ({ name, partitions })),
    ...o,
  };
}
