/**
 * A consumer group outlives its coordinator's broker, in the deterministic cluster simulator
 * (test/cluster-sim: the real startNode on SimNetwork, SimClock and a SimFileSystem per node):
 * three combined nodes, `__consumer_offsets` with replication factor 3, a group with one
 * member (JoinGroup, SyncGroup) committing offsets; right after the last commit is answered
 * the coordinator's broker loses power (only fsynced bytes survive) for longer than the
 * session timeout, so the controller fences it and elects new leaders.
 *
 * Checked: FindCoordinator, asked of a surviving node, names another broker — the new leader
 * of the group's offsets partition — which answers OffsetFetch with the last acknowledged
 * commit (no older value: the followers' high watermark trailed the dead leader's, and the
 * load waits for it), takes the member's heartbeats at the same generation (the group was
 * loaded with its member), and takes further commits. When the old broker is back, it follows
 * and the group stays where it is.
 * A failing seed replays with `bun test test/coordinator/failover-sim.test.ts -t "seed N"`.
 */
import { describe, expect, test } from "bun:test";
import { NodeClient } from "../../src/client/node-client.ts";
import { offsetsTopicCreation } from "../../src/coordinator/offsets-topic.ts";
import { OFFSETS_TOPIC_NAME, offsetsPartitionFor } from "../../src/coordinator/partitioner.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode, errorName } from "../../src/protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../../src/protocol/messages/create-topics-request.ts";
import { defaultFindCoordinatorRequest } from "../../src/protocol/messages/find-coordinator-request.ts";
import { defaultHeartbeatRequest } from "../../src/protocol/messages/heartbeat-request.ts";
import { ApiKeys, type ApiKey, type RequestBodies } from "../../src/protocol/messages/index.ts";
import { defaultJoinGroupRequest } from "../../src/protocol/messages/join-group-request.ts";
import { defaultOffsetCommitRequest } from "../../src/protocol/messages/offset-commit-request.ts";
import { defaultOffsetFetchRequest } from "../../src/protocol/messages/offset-fetch-request.ts";
import { defaultSyncGroupRequest } from "../../src/protocol/messages/sync-group-request.ts";
import type { RequestResult } from "../../src/client/errors.ts";
import type { ReplicaManager } from "../../src/replication/replica-manager.ts";
import { ClusterSimulation } from "../cluster-sim/simulator.ts";

const clientHost = "10.0.3.1";
const topic = "orders";
const groupId = "failover-group";
const offsetsPartitions = 5;
const all = [1, 2, 3];

class FailoverScenario {
  readonly sim: ClusterSimulation;
  readonly client: NodeClient;

  constructor(seed: number) {
    this.sim = new ClusterSimulation({ seed, nodes: 3, steps: 0, randomFaults: false });
    this.client = new NodeClient({
      network: this.sim.net.host(clientHost),
      clock: this.sim.clock,
      prng: new SeededPrng(seed * 11 + 3),
      config: { clientId: "consumer", requestTimeoutMs: 8_000, connectionSetupTimeoutMs: 1_000, reconnectBackoffMs: 50, reconnectBackoffMaxMs: 500 },
    });
    for (const n of this.sim.nodes) this.client.setEndpoint(n.id, { host: n.address, port: 9092, listenerName: "PLAINTEXT" });
  }

  /** One request, stepping the simulation until it is answered (or fails). */
  async call<K extends ApiKey>(node: number, apiKey: K, body: RequestBodies[K], timeoutMs = 10_000): Promise<RequestResult<K>> {
    let result: RequestResult<K> | null = null;
    void this.client.send(node, apiKey, body, { timeoutMs, waitForConnection: false }).then((r) => {
      result = r;
    });
    await this.sim.runUntil(() => result !== null, timeoutMs + 5_000);
    if (result === null) throw new Error(`no answer to api ${apiKey} from n${node}`);
    return result;
  }

  async createTopic(name: string, partitions: number, configs: readonly { name: string; value: string | null }[]): Promise<number> {
    const body = defaultCreateTopicsRequest();
    body.timeoutMs = 10_000;
    body.topics = [{ name, numPartitions: partitions, replicationFactor: 3, assignments: [], configs: configs.map((c) => ({ ...c, _unknownTaggedFields: undefined })), _unknownTaggedFields: undefined }];
    const r = await this.call(1, ApiKeys.CreateTopics, body);
    return r.ok ? (r.body.topics[0]?.errorCode ?? -1) : -1;
  }

  /** FindCoordinator through `via` until it names a node: the node, or -1 after `msMax`. */
  async findCoordinator(via: number, msMax: number): Promise<number> {
    const end = this.sim.clock.monotonicMs() + msMax;
    while (this.sim.clock.monotonicMs() < end) {
      const r = await this.call(via, ApiKeys.FindCoordinator, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: [groupId] });
      const c = r.ok ? r.body.coordinators[0] : undefined;
      if (c !== undefined && c.errorCode === ErrorCode.NONE) return c.nodeId;
      await this.sim.runFor(200);
    }
    return -1;
  }

  async commit(node: number, generationId: number, memberId: string, offset: number): Promise<number> {
    const r = await this.call(node, ApiKeys.OffsetCommit, {
      ...defaultOffsetCommitRequest(),
      groupId,
      generationIdOrMemberEpoch: generationId,
      memberId,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: "", _unknownTaggedFields: undefined }], _unknownTaggedFields: undefined }],
    });
    if (!r.ok) return -1;
    return r.body.topics[0]?.partitions[0]?.errorCode ?? -1;
  }

  /** OffsetFetch of orders-0: [error code, committed offset]. */
  async fetchOffset(node: number): Promise<[number, number]> {
    const r = await this.call(node, ApiKeys.OffsetFetch, {
      ...defaultOffsetFetchRequest(),
      groups: [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: topic, partitionIndexes: [0], _unknownTaggedFields: undefined }], _unknownTaggedFields: undefined }],
    });
    if (!r.ok) return [-1, -1];
    const g = r.body.groups[0];
    if (g !== undefined) {
      const p = g.topics[0]?.partitions[0];
      return [g.errorCode !== ErrorCode.NONE ? g.errorCode : (p?.errorCode ?? -1), p?.committedOffset ?? -1];
    }
    const p = r.body.topics[0]?.partitions[0];
    return [r.body.errorCode !== ErrorCode.NONE ? r.body.errorCode : (p?.errorCode ?? -1), p?.committedOffset ?? -1];
  }

  /** OffsetFetch at `node` until it answers as the coordinator (not NOT_COORDINATOR, not loading). */
  async awaitServing(node: number, msMax = 15_000): Promise<boolean> {
    const end = this.sim.clock.monotonicMs() + msMax;
    while (this.sim.clock.monotonicMs() < end) {
      const [errorCode] = await this.fetchOffset(node);
      if (errorCode === ErrorCode.NONE) return true;
      await this.sim.runFor(100);
    }
    return false;
  }

  async heartbeat(node: number, generationId: number, memberId: string): Promise<number> {
    const r = await this.call(node, ApiKeys.Heartbeat, { ...defaultHeartbeatRequest(), groupId, generationId, memberId });
    return r.ok ? r.body.errorCode : -1;
  }

  /** JoinGroup (with the member id round of v4+) and SyncGroup as the only member: [generation, member id]. */
  async joinAndSync(node: number): Promise<[number, string]> {
    const join = (memberId: string): Promise<RequestResult<typeof ApiKeys.JoinGroup>> =>
      this.call(node, ApiKeys.JoinGroup, {
        ...defaultJoinGroupRequest(),
        groupId,
        memberId,
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: 10_000,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]), _unknownTaggedFields: undefined }],
      }, 20_000);
    let r = await join("");
    if (!r.ok) throw new Error(`join: ${r.error.kind}`);
    if (r.body.errorCode === ErrorCode.MEMBER_ID_REQUIRED) r = await join(r.body.memberId);
    if (!r.ok || r.body.errorCode !== ErrorCode.NONE) throw new Error(`join: ${r.ok ? errorName(r.body.errorCode) : r.error.kind}`);
    const { generationId, memberId } = r.body;
    expect(r.body.leader).toBe(memberId);
    const s = await this.call(node, ApiKeys.SyncGroup, {
      ...defaultSyncGroupRequest(),
      groupId,
      generationId,
      memberId,
      protocolType: "consumer",
      protocolName: "range",
      assignments: [{ memberId, assignment: new Uint8Array([0, 1]), _unknownTaggedFields: undefined }],
    });
    if (!s.ok || s.body.errorCode !== ErrorCode.NONE) throw new Error(`sync: ${s.ok ? errorName(s.body.errorCode) : s.error.kind}`);
    return [generationId, memberId];
  }
}

async function runFailover(seed: number): Promise<void> {
  const s = new FailoverScenario(seed);
  const sim = s.sim;
  sim.begin();
  sim.stopWorkload();
  expect(await sim.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === 3), 20_000)).toBe(true);
  expect(await s.createTopic(topic, 1, [])).toBe(ErrorCode.NONE);
  // What FindCoordinator would create with offsets.topic.replication.factor=3, fewer partitions.
  const offsets = offsetsTopicCreation(offsetsPartitions, 3);
  expect(await s.createTopic(OFFSETS_TOPIC_NAME, offsets.numPartitions, offsets.configs)).toBe(ErrorCode.NONE);
  const partition = offsetsPartitionFor(groupId, offsetsPartitions);

  const coordinator = await s.findCoordinator(1, 20_000);
  expect(coordinator).toBeGreaterThanOrEqual(1);
  // The named broker may not have applied the image that makes it leader yet (NOT_COORDINATOR), then loads.
  expect(await s.awaitServing(coordinator)).toBe(true);
  expect(sim.imageOf(1)!.partition(OFFSETS_TOPIC_NAME, partition)!.replicas.length).toBe(3);
  const [generationId, memberId] = await s.joinAndSync(coordinator);
  let committed = -1;
  for (let i = 1; i <= 10; i++) {
    expect(await s.commit(coordinator, generationId, memberId, i * 10)).toBe(ErrorCode.NONE);
    committed = i * 10;
  }
  expect(await s.fetchOffset(coordinator)).toEqual([ErrorCode.NONE, committed]);
  // Once more, and the broker dies the moment the ISR has the commit: its high watermark passed
  // the record, the followers have not heard so yet (their HW trails by one fetch).
  const replicasOf = async (id: number): Promise<ReplicaManager> => (await sim.nodes.find((n) => n.id === id)!.handle!.ready).replicas;
  const leaderLog = (await replicasOf(coordinator)).getPartition(OFFSETS_TOPIC_NAME, partition)!.log;
  const target = leaderLog.logEndOffset + 1;
  void s.commit(coordinator, generationId, memberId, 111);
  committed = 111;
  expect(await sim.runUntil(() => leaderLog.highWatermark >= target, 10_000)).toBe(true);
  const followerHws: number[] = [];
  for (const id of all) if (id !== coordinator) followerHws.push((await replicasOf(id)).getPartition(OFFSETS_TOPIC_NAME, partition)!.log.highWatermark);
  sim.crashNode(coordinator, "power", 15_000);

  const survivor = all.find((id) => id !== coordinator)!;
  // Until the controller fences the dead broker, FindCoordinator may still name it.
  let next = -1;
  const end = sim.clock.monotonicMs() + 30_000;
  while (sim.clock.monotonicMs() < end) {
    next = await s.findCoordinator(survivor, 5_000);
    if (next >= 1 && next !== coordinator) break;
    await sim.runFor(500);
  }
  expect(next).not.toBe(coordinator);
  expect(next).toBeGreaterThanOrEqual(1);
  expect(sim.imageOf(survivor)!.partition(OFFSETS_TOPIC_NAME, partition)!.leader).toBe(next);

  // Loading (COORDINATOR_LOAD_IN_PROGRESS) ends; the last acknowledged commit is there.
  let fetched: [number, number] = [-1, -1];
  const loadEnd = sim.clock.monotonicMs() + 15_000;
  while (sim.clock.monotonicMs() < loadEnd) {
    fetched = await s.fetchOffset(next);
    if (fetched[0] !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) break;
    await sim.runFor(100);
  }
  expect(fetched).toEqual([ErrorCode.NONE, committed]);
  console.log(`seed ${seed}: coordinator n${coordinator} -> n${next}; commit at offset ${target - 1}, followers' HW at the crash ${followerHws.join(", ")}`);
  // The group came back with its member, at the same generation.
  expect(errorName(await s.heartbeat(next, generationId, memberId))).toBe(errorName(ErrorCode.NONE));
  expect(await s.commit(next, generationId, memberId, 222)).toBe(ErrorCode.NONE);
  expect(await s.fetchOffset(next)).toEqual([ErrorCode.NONE, 222]);
  // The old broker answers NOT_COORDINATOR once it is back and follows (or the same coordinator, if it leads again).
  expect(await sim.runUntil(() => sim.imageOf(coordinator)?.liveBrokers().length === 3, 30_000)).toBe(true);
  const now = await s.findCoordinator(coordinator, 10_000);
  expect(now).toBeGreaterThanOrEqual(1);
  if (now !== coordinator) expect(await s.commit(coordinator, generationId, memberId, 333)).toBe(ErrorCode.NOT_COORDINATOR);
  let again: [number, number] = [-1, -1];
  const againEnd = sim.clock.monotonicMs() + 15_000;
  while (sim.clock.monotonicMs() < againEnd) {
    again = await s.fetchOffset(await s.findCoordinator(coordinator, 10_000));
    if (again[0] === ErrorCode.NONE) break;
    await sim.runFor(200);
  }
  expect(again).toEqual([ErrorCode.NONE, 222]);
  expect(sim.failure).toBeNull();
  sim.end();
  s.client.close();
}

describe("group coordinator failover in the cluster simulator", () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: offsets RF=3, the coordinator's broker dies: another coordinates, committed offsets and the group intact`, () => runFailover(seed), 120_000);
  }
});
