/**
 * Reassignment and preferred-leader elections in the deterministic node-level simulator (the
 * real startNode on SimNetwork, SimClock and a SimFileSystem per node, seeded): four combined
 * nodes, a topic of three partitions with replication factor 3 on brokers {1,2,3} and
 * min.insync.replicas=2, one acks=all producer per partition writing steadily to its leader.
 * The topic is reassigned to {2,3,4} (each partition keeps its order rotated, so every
 * partition adds broker 4 and removes broker 1) while nodes crash — killed or powered off,
 * only fsynced bytes surviving, one at a time, the first within 0.6 s of the request so the
 * added replicas are still catching up (replica.fetch.max.bytes=256 makes that take many
 * fetches) — at moments the seed picks; ElectLeaders (preferred) is sent every 4 s, and in
 * odd seeds the controller's own preferred-leader balancing runs every 3 s.
 *
 * Checked after every simulator step: at most one node leads a partition per leader epoch
 * (across lives); a leader's high watermark never goes back within its epoch. At the end
 * (producers stopped, every ISR whole): every partition's replicas are the target and no
 * reassignment is listed; every acknowledged record is in the leader's log at the offset it
 * was acknowledged at; the three target replicas hold identical bytes below the high
 * watermark; broker 1 hosts none of the partitions and its partition directories are gone
 * from its disk (deleted as the reassignment completed, or at its restart when it was down
 * then); a preferred election leaves
 * every partition led by its first replica. Besides, the balancing duty alone: a preferred
 * leader killed and back gets its leadership back with auto.leader.rebalance.enable, and not
 * without. A failing seed replays with
 * `bun test test/cluster-sim/reassignment-sim.test.ts -t "seed N"`.
 */
import { describe, expect, test } from "bun:test";
import { NodeClient } from "../../src/client/node-client.ts";
import { isReassigning } from "../../src/metadata/image.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../../src/protocol/messages/create-topics-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultProduceRequest } from "../../src/protocol/messages/produce-request.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { walkBatches } from "../../src/protocol/records/record-batch.ts";
import type { ReplicaManager } from "../../src/replication/replica-manager.ts";
import type { Node } from "../../src/server/node.ts";
import { ClusterSimulation } from "./simulator.ts";

const topic = "moving";
const clientHost = "10.0.2.1";
const recordsPerBatch = 4;
const partitions = 3;
const source = [
  [1, 2, 3],
  [2, 3, 1],
  [3, 1, 2],
];
const target = [
  [2, 3, 4],
  [3, 4, 2],
  [4, 2, 3],
];
const all = [1, 2, 3, 4];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Acked {
  value: string;
  offset: number;
}

class ReassignmentScenario {
  readonly sim: ClusterSimulation;
  readonly client: NodeClient;
  readonly prng: SeededPrng;
  readonly acked: Acked[][] = Array.from({ length: partitions }, () => []);
  /** partition:leaderEpoch → node that led it. */
  readonly leaders = new Map<string, number>();
  /** node:life:partition:epoch → highest HW seen while leading. */
  readonly leaderHw = new Map<string, number>();
  readonly replicas = new Map<number, { handle: Node; replicas: ReplicaManager }>();
  failure: string | null = null;
  producing = false;
  sent = 0;
  errors = new Map<string, number>();
  elections = 0;

  /** Crashes that came while a partition's reassignment was in progress. */
  crashesDuring = 0;

  constructor(seed: number, autoRebalance: boolean) {
    this.sim = new ClusterSimulation({
      seed,
      nodes: 4,
      steps: 0,
      randomFaults: false,
      // Small replica fetches: an added replica catches up over many fetches, so faults land mid-way.
      sets: ["leader.imbalance.check.interval.seconds=3", `auto.leader.rebalance.enable=${autoRebalance}`, "replica.fetch.max.bytes=256"],
    });
    this.prng = new SeededPrng(seed * 13 + 5);
    this.client = new NodeClient({
      network: this.sim.net.host(clientHost),
      clock: this.sim.clock,
      prng: new SeededPrng(seed * 7 + 1),
      config: { clientId: "reassigner", requestTimeoutMs: 8_000, connectionSetupTimeoutMs: 1_000, reconnectBackoffMs: 50, reconnectBackoffMaxMs: 500 },
    });
    for (const n of this.sim.nodes) this.client.setEndpoint(n.id, { host: n.address, port: 9092, listenerName: "PLAINTEXT" });
  }

  /** The partition as the freshest live node's image has it. */
  partitionImage(partition: number) {
    let best: ReturnType<NonNullable<ReturnType<ClusterSimulation["imageOf"]>>["partition"]> = undefined;
    let bestOffset = -2;
    for (const n of this.sim.nodes) {
      const image = this.sim.imageOf(n.id);
      const p = image?.partition(topic, partition);
      if (image !== null && p !== undefined && image.offset > bestOffset) {
        best = p;
        bestOffset = image.offset;
      }
    }
    return best;
  }

  leaderOf(partition: number): number {
    return this.partitionImage(partition)?.leader ?? -1;
  }

  liveNode(): number {
    const live = this.sim.nodes.filter((n) => n.handle !== null && n.proc?.state !== "dead");
    return live[this.prng.nextU32() % live.length]?.id ?? 1;
  }

  async step(): Promise<void> {
    await this.sim.step();
    this.check();
  }

  async runUntil(cond: () => boolean, msMax: number): Promise<boolean> {
    const end = this.sim.clock.monotonicMs() + msMax;
    while (!cond()) {
      if (this.sim.clock.monotonicMs() >= end) return false;
      await this.step();
    }
    return true;
  }

  async runFor(ms: number): Promise<void> {
    const end = this.sim.clock.monotonicMs() + ms;
    while (this.sim.clock.monotonicMs() < end) await this.step();
  }

  check(): void {
    for (const n of this.sim.nodes) {
      const handle = n.handle;
      if (handle === null || n.proc?.state === "dead") {
        this.replicas.delete(n.id);
        continue;
      }
      const known = this.replicas.get(n.id);
      if (known === undefined || known.handle !== handle) {
        void handle.ready.then((s) => {
          if (n.handle === handle) this.replicas.set(n.id, { handle, replicas: s.replicas });
        });
        continue;
      }
      for (let i = 0; i < partitions; i++) {
        const p = known.replicas.getPartition(topic, i);
        if (p === undefined || !p.isLeader) continue;
        const epochKey = `${i}:${p.leaderEpoch}`;
        const led = this.leaders.get(epochKey);
        if (led !== undefined && led !== n.id) this.failure ??= `two leaders of ${topic}-${i} epoch ${p.leaderEpoch}: n${led} and n${n.id}`;
        this.leaders.set(epochKey, n.id);
        const key = `${n.id}:${n.life}:${epochKey}`;
        const before = this.leaderHw.get(key) ?? -1;
        if (p.log.highWatermark < before) this.failure ??= `n${n.id} HW of ${topic}-${i} went back from ${before} to ${p.log.highWatermark} in epoch ${p.leaderEpoch}`;
        this.leaderHw.set(key, Math.max(before, p.log.highWatermark));
      }
    }
  }

  /** Sends `send` until it resolves true or `msMax` passes. */
  async until(what: () => Promise<boolean>, msMax: number): Promise<boolean> {
    const end = this.sim.clock.monotonicMs() + msMax;
    while (this.sim.clock.monotonicMs() < end) {
      let done: boolean | null = null;
      void what().then(
        (ok) => (done = ok),
        () => (done = false),
      );
      await this.runUntil(() => done !== null, 12_000);
      if (done === true) return true;
      await this.runFor(300);
    }
    return false;
  }

  createTopic(): Promise<boolean> {
    const body = defaultCreateTopicsRequest();
    body.timeoutMs = 10_000;
    body.topics = [
      {
        name: topic,
        numPartitions: -1,
        replicationFactor: -1,
        assignments: source.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds, _unknownTaggedFields: undefined })),
        configs: [{ name: "min.insync.replicas", value: "2", _unknownTaggedFields: undefined }],
        _unknownTaggedFields: undefined,
      },
    ];
    return this.until(async () => {
      const r = await this.client.send(this.liveNode(), ApiKeys.CreateTopics, body, { timeoutMs: 10_000 });
      const code = r.ok ? r.body.topics[0]?.errorCode : -1;
      return code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS;
    }, 30_000);
  }

  reassign(): Promise<boolean> {
    const body = { timeoutMs: 10_000, topics: [{ name: topic, partitions: target.map((replicas, partitionIndex) => ({ partitionIndex, replicas })) }] };
    return this.until(async () => {
      const r = await this.client.send(this.liveNode(), ApiKeys.AlterPartitionReassignments, body, { timeoutMs: 10_000 });
      return r.ok && r.body.errorCode === ErrorCode.NONE && r.body.responses.every((t) => t.partitions.every((p) => p.errorCode === ErrorCode.NONE));
    }, 40_000);
  }

  /** ElectLeaders (preferred) for every partition of the topic; true when each one is led by its preferred replica after it. */
  async electPreferred(): Promise<boolean> {
    const r = await this.client.send(this.liveNode(), ApiKeys.ElectLeaders, { electionType: 0, topicPartitions: [{ topic, partitions: [0, 1, 2] }], timeoutMs: 10_000 }, { timeoutMs: 10_000 });
    if (!r.ok || r.body.errorCode !== ErrorCode.NONE) return false;
    const codes = r.body.replicaElectionResults.flatMap((t) => t.partitionResult.map((p) => p.errorCode));
    this.elections += codes.filter((c) => c === ErrorCode.NONE).length;
    return codes.length === partitions && codes.every((c) => c === ErrorCode.NONE || c === ErrorCode.ELECTION_NOT_NEEDED);
  }

  /** One acks=all producer for a partition: a batch at a time to the leader the metadata names. */
  async produce(partition: number): Promise<void> {
    while (this.producing) {
      const leader = this.leaderOf(partition);
      if (leader < 0) {
        await this.sleep(50);
        continue;
      }
      const values = Array.from({ length: recordsPerBatch }, (_, i) => `p${partition}-v${this.sent}-${i}`);
      this.sent++;
      const batch = buildRecordBatch(values.map((v) => ({ key: null, value: encoder.encode(v), timestamp: 1_700_000_000_000 })));
      const req = { ...defaultProduceRequest(), acks: -1, timeoutMs: 3_000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] };
      const r = await this.client.send(leader, ApiKeys.Produce, req, { timeoutMs: 5_000, waitForConnection: false });
      if (!r.ok) {
        this.errors.set(r.error.kind, (this.errors.get(r.error.kind) ?? 0) + 1);
        await this.sleep(100);
        continue;
      }
      const pr = r.body.responses[0]?.partitionResponses[0];
      if (pr === undefined) throw new Error("produce answer without the partition");
      if (pr.errorCode !== ErrorCode.NONE) {
        this.errors.set(`code ${pr.errorCode}`, (this.errors.get(`code ${pr.errorCode}`) ?? 0) + 1);
        await this.sleep(100);
        continue;
      }
      values.forEach((value, i) => this.acked[partition]!.push({ value, offset: pr.baseOffset + i }));
      await this.sleep(25);
    }
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sim.clock.schedule(ms, resolve));
  }

  /** Every record of a node's replica below `end`, as (offset, value), and the raw bytes. */
  logOf(id: number, partition: number, end: number): { records: Map<number, string>; bytes: Uint8Array } {
    const p = this.replicas.get(id)?.replicas.getPartition(topic, partition);
    if (p === undefined) throw new Error(`n${id} hosts no ${topic}-${partition}`);
    const r = p.log.read(0, 64 << 20, end, true);
    if (r.kind !== "ok") throw new Error(`n${id} read: ${r.kind}`);
    const records = new Map<number, string>();
    for (const b of walkBatches(r.records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: r.records.length }).batches) {
      b.inflate({ maxBytes: 1 << 20 }).records.forEach((rec) => records.set(b.baseOffset + rec.offsetDelta, decoder.decode(rec.value!)));
    }
    return { records, bytes: r.records };
  }

  done(): boolean {
    for (let i = 0; i < partitions; i++) {
      const p = this.partitionImage(i);
      if (p === undefined || isReassigning(p) || p.replicas.join() !== target[i]!.join() || p.isr.length !== 3) return false;
    }
    return true;
  }
}

/**
 * `crashes`: how many nodes the seed crashes while the reassignment runs (at random moments,
 * random nodes, killed or powered off for 2-12 s: some past the session timeout).
 */
async function runReassignment(seed: number, crashes: number, node1DownMs = 0): Promise<void> {
  // Odd seeds: the controller's balancing duty runs too; even seeds: only ElectLeaders moves leaders back.
  const s = new ReassignmentScenario(seed, seed % 2 === 1);
  const sim = s.sim;
  sim.begin();
  sim.stopWorkload();
  expect(await s.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === 4), 30_000)).toBe(true);
  expect(await s.createTopic()).toBe(true);
  expect(await s.runUntil(() => source.every((replicas, i) => replicas.every((id) => s.replicas.get(id)?.replicas.getPartition(topic, i) !== undefined)), 15_000)).toBe(true);
  s.producing = true;
  const producers = Array.from({ length: partitions }, (_, i) => s.produce(i));
  await s.runFor(6_000);
  expect(s.acked.every((a) => a.length > 0)).toBe(true);

  const node1Life = sim.nodes[0]!.life;
  let node1Restarted = false;
  // The first crash early (the added replicas still catching up), the others anywhere in 12 s.
  const crashTimes = Array.from({ length: crashes }, (_, k) => (k === 0 ? 20 + (s.prng.nextU32() % 600) : 500 + (s.prng.nextU32() % 12_000))).sort((a, b) => a - b);
  const started = sim.clock.monotonicMs();
  let crashed = 0;
  let lastElection = started;
  let reassigned = false;
  void s.reassign().then((ok) => (reassigned = ok));
  // Broker 1 powered off as the reassignment starts: it completes without it, and broker 1
  // finds its logs reassigned away when it comes back.
  if (node1DownMs > 0) sim.crashNode(1, "power", node1DownMs);
  const ok = await s.runUntil(() => {
    const t = sim.clock.monotonicMs() - started;
    const nextCrash = crashTimes[crashed];
    if (nextCrash !== undefined && t >= nextCrash && t > node1DownMs) {
      crashed++;
      // One node down at a time, so min.insync.replicas=2 can still be met.
      if (sim.nodes.every((n) => n.handle !== null && n.proc?.state !== "dead")) {
        const victim = all[s.prng.nextU32() % all.length]!;
        const mode = s.prng.nextU32() % 2 === 0 ? "kill" : "power";
        const downMs = 2_000 + (s.prng.nextU32() % 10_000);
        if ([0, 1, 2].some((i) => { const p = s.partitionImage(i); return p !== undefined && isReassigning(p); })) s.crashesDuring++;
        sim.crashNode(victim, mode, downMs);
      }
    }
    if (t - (lastElection - started) >= 4_000) {
      lastElection = sim.clock.monotonicMs();
      void s.electPreferred();
    }
    return crashed === crashTimes.length && reassigned && s.done();
  }, 120_000);
  expect(s.failure).toBeNull();
  expect(sim.failure).toBeNull();
  expect(ok).toBe(true);

  // Everyone back; the producers write a while longer on the new replicas.
  expect(await s.runUntil(() => sim.nodes.every((n) => n.handle !== null && n.proc?.state !== "dead") && s.done(), 60_000)).toBe(true);
  const ackedAfter = s.acked.map((a) => a.length);
  expect(await s.runUntil(() => s.acked.every((a, i) => a.length > ackedAfter[i]! + 8), 20_000)).toBe(true);
  s.producing = false;
  await s.runFor(6_000);
  await Promise.all(producers);
  // A preferred election puts every partition's first replica in the lead (the balancing duty may have done it already).
  expect(await s.until(() => s.electPreferred(), 30_000)).toBe(true);
  expect(await s.runUntil(() => [0, 1, 2].every((i) => s.leaderOf(i) === target[i]![0] && s.replicas.get(target[i]![0]!)?.replicas.getPartition(topic, i)?.isLeader === true), 10_000)).toBe(true);
  await s.runFor(2_000);
  expect(s.failure).toBeNull();
  expect(sim.failure).toBeNull();

  let listed: unknown = null;
  expect(
    await s.until(async () => {
      const r = await s.client.send(s.liveNode(), ApiKeys.ListPartitionReassignments, { timeoutMs: 5_000, topics: null }, { timeoutMs: 5_000 });
      if (r.ok) listed = r.body.topics;
      return r.ok;
    }, 10_000),
  ).toBe(true);
  expect(listed).toEqual([]);

  for (let i = 0; i < partitions; i++) {
    const leader = s.leaderOf(i);
    const lp = s.replicas.get(leader)!.replicas.getPartition(topic, i)!;
    const hw = lp.log.highWatermark;
    expect(hw).toBe(lp.log.logEndOffset);
    const reference = s.logOf(leader, i, hw);
    for (const a of s.acked[i]!) expect(reference.records.get(a.offset)).toBe(a.value);
    for (const id of target[i]!) {
      expect(s.replicas.get(id)!.replicas.getPartition(topic, i)!.log.logEndOffset).toBe(hw);
      expect(Buffer.from(s.logOf(id, i, hw).bytes).equals(Buffer.from(reference.bytes))).toBe(true);
    }
    // Broker 1 is no replica any more: it hosts nothing of the topic, and its directories went
    // with the reassignment (or, down when it completed, at its restart).
    expect(s.replicas.get(1)!.replicas.getPartition(topic, i)).toBeUndefined();
    expect(sim.nodes[0]!.fs.exists(`/data/${topic}-${i}`)).toBe(false);
  }
  node1Restarted = sim.nodes[0]!.life !== node1Life;
  console.log(
    `seed ${seed}${node1Restarted ? " (broker 1 restarted)" : ""}: ${s.acked.map((a) => a.length).join("+")} records acknowledged of ${s.sent * recordsPerBatch} sent, ${crashed} crash(es), ${s.crashesDuring} during the reassignment, ` +
      `${s.elections} preferred elections by ElectLeaders, leader epochs ${[...s.leaders].map(([e, n]) => `${e}:n${n}`).join(" ")}, errors ${JSON.stringify(Object.fromEntries(s.errors))}`,
  );
  sim.end();
  s.client.close();
}

/**
 * The controller's preferred-leader balancing alone (no ElectLeaders): partition 0's preferred
 * leader (broker 1) is killed, the leadership moves, broker 1 comes back and rejoins the ISR;
 * with auto.leader.rebalance.enable the leadership returns to it within a few check intervals
 * (3 s here), without it, it stays where it went.
 */
async function runBalancing(seed: number, autoRebalance: boolean): Promise<void> {
  const s = new ReassignmentScenario(seed, autoRebalance);
  const sim = s.sim;
  sim.begin();
  sim.stopWorkload();
  expect(await s.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === 4), 30_000)).toBe(true);
  expect(await s.createTopic()).toBe(true);
  expect(await s.runUntil(() => [0, 1, 2].every((i) => s.partitionImage(i)?.isr.length === 3 && s.leaderOf(i) === source[i]![0]), 15_000)).toBe(true);
  s.producing = true;
  const producers = Array.from({ length: partitions }, (_, i) => s.produce(i));
  await s.runFor(2_000);
  sim.crashNode(1, "kill", 3_000);
  expect(await s.runUntil(() => s.leaderOf(0) !== 1 && s.leaderOf(0) > 0, 15_000)).toBe(true);
  const moved = s.leaderOf(0);
  expect(await s.runUntil(() => s.partitionImage(0)?.isr.includes(1) === true, 30_000)).toBe(true);
  const back = await s.runUntil(() => s.leaderOf(0) === 1, 12_000);
  s.producing = false;
  await s.runFor(2_000);
  await Promise.all(producers);
  expect(s.failure).toBeNull();
  expect(sim.failure).toBeNull();
  expect(back).toBe(autoRebalance);
  if (!autoRebalance) expect(s.leaderOf(0)).toBe(moved);
  sim.end();
  s.client.close();
}

describe("preferred-leader balancing in the cluster simulator", () => {
  test("seed 21: auto.leader.rebalance.enable moves partition 0's leadership back to broker 1 once it is in the ISR again", () => runBalancing(21, true), 120_000);
  test("seed 22: without auto.leader.rebalance.enable it stays where it moved", () => runBalancing(22, false), 120_000);
});

describe("reassignment in the cluster simulator", () => {
  test("seed 1: {1,2,3} → {2,3,4} under acks=all load, no faults: nothing acknowledged lost, replicas identical, broker 1's logs deleted", () => runReassignment(1, 0), 180_000);
  for (const seed of [10, 11]) {
    test(`seed ${seed}: broker 1 down through the whole reassignment: it deletes the partitions moved away at its restart`, () => runReassignment(seed, 0, 15_000), 180_000);
  }
  for (const seed of [2, 3, 4, 5, 6, 7, 8, 9]) {
    test(`seed ${seed}: {1,2,3} → {2,3,4} under acks=all load with crashes: nothing acknowledged lost, replicas identical`, () => runReassignment(seed, 2), 180_000);
  }
});
