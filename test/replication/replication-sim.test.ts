/**
 * Partition replication in the deterministic node-level simulator (test/cluster-sim: the real
 * startNode on SimNetwork, SimClock and a SimFileSystem per node, seeded): three combined
 * nodes, a topic with replication factor 3 and min.insync.replicas=2, one producer with
 * acks=all writing steadily to the partition's leader, and the leader killed (only fsynced
 * bytes survive) and restarted on its disk.
 *
 * Checked after every simulator step: at most one node leads the partition per leader epoch
 * (across lives); a leader's high watermark never goes back within its epoch. At the end (the
 * producer stopped, the ISR whole again): every acknowledged record is in the leader's log at
 * the offset it was acknowledged at, and all three logs hold identical bytes below the high
 * watermark. A failing seed replays with `bun test test/replication/replication-sim.test.ts -t "seed N"`.
 */
import { describe, expect, test } from "bun:test";
import { NodeClient } from "../../src/client/node-client.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../../src/protocol/messages/create-topics-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultProduceRequest } from "../../src/protocol/messages/produce-request.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { walkBatches } from "../../src/protocol/records/record-batch.ts";
import type { ReplicaManager } from "../../src/replication/replica-manager.ts";
import type { Node } from "../../src/server/node.ts";
import { type ClusterSimOptions, ClusterSimulation } from "../cluster-sim/simulator.ts";

const topic = "replicated";
const producerHost = "10.0.2.1";
const recordsPerBatch = 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Acked {
  value: string;
  offset: number;
}

class ReplicationScenario {
  readonly sim: ClusterSimulation;
  readonly client: NodeClient;
  readonly acked: Acked[] = [];
  /** (leader epoch) → node that led it. */
  readonly leaders = new Map<number, number>();
  /** node:life:epoch → highest HW seen while leading. */
  readonly leaderHw = new Map<string, number>();
  readonly replicas = new Map<number, { handle: Node; replicas: ReplicaManager }>();
  failure: string | null = null;
  producing = false;
  sent = 0;
  errors = new Map<string, number>();
  /** Simulated ms between two acknowledgements, longest. */
  longestStallMs = 0;
  #lastAckMs = 0;

  readonly topicConfigs: { name: string; value: string }[];

  constructor(seed: number, topicConfigs: { name: string; value: string }[] = [], simOptions: Partial<ClusterSimOptions> = {}) {
    this.topicConfigs = topicConfigs;
    this.sim = new ClusterSimulation({ seed, nodes: 3, steps: 0, randomFaults: false, ...simOptions });
    this.client = new NodeClient({
      network: this.sim.net.host(producerHost),
      clock: this.sim.clock,
      prng: new SeededPrng(seed * 7 + 1),
      config: { clientId: "producer", requestTimeoutMs: 8_000, connectionSetupTimeoutMs: 1_000, reconnectBackoffMs: 50, reconnectBackoffMaxMs: 500 },
    });
    for (const n of this.sim.nodes) this.client.setEndpoint(n.id, { host: n.address, port: 9092, listenerName: "PLAINTEXT" });
  }

  leaderOf(): number {
    for (const n of this.sim.nodes) {
      const p = this.sim.imageOf(n.id)?.partition(topic, 0);
      if (p !== undefined && p.leader >= 0) return p.leader;
    }
    return -1;
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
      const p = known.replicas.getPartition(topic, 0);
      if (p === undefined || !p.isLeader) continue;
      const led = this.leaders.get(p.leaderEpoch);
      if (led !== undefined && led !== n.id) this.failure ??= `two leaders of epoch ${p.leaderEpoch}: n${led} and n${n.id}`;
      this.leaders.set(p.leaderEpoch, n.id);
      const key = `${n.id}:${n.life}:${p.leaderEpoch}`;
      const before = this.leaderHw.get(key) ?? -1;
      if (p.log.highWatermark < before) this.failure ??= `n${n.id} HW went back from ${before} to ${p.log.highWatermark} in epoch ${p.leaderEpoch}`;
      this.leaderHw.set(key, Math.max(before, p.log.highWatermark));
    }
  }

  async createTopic(): Promise<boolean> {
    const body = defaultCreateTopicsRequest();
    body.timeoutMs = 10_000;
    body.topics = [{ name: topic, numPartitions: 1, replicationFactor: 3, assignments: [], configs: [{ name: "min.insync.replicas", value: "2" }, ...this.topicConfigs].map((c) => ({ ...c, _unknownTaggedFields: undefined })), _unknownTaggedFields: undefined }];
    let done: boolean | null = null;
    void this.client.send(1, ApiKeys.CreateTopics, body, { timeoutMs: 10_000 }).then((r) => {
      done = r.ok && r.body.topics[0]?.errorCode === ErrorCode.NONE;
    });
    await this.runUntil(() => done !== null, 15_000);
    return done === true;
  }

  /** The producer: one acks=all batch at a time to the leader the metadata names. */
  async produce(): Promise<void> {
    this.producing = true;
    this.#lastAckMs = this.sim.clock.monotonicMs();
    while (this.producing) {
      const leader = this.leaderOf();
      if (leader < 0) {
        await this.sleep(50);
        continue;
      }
      const values = Array.from({ length: recordsPerBatch }, (_, i) => `v${this.sent}-${i}`);
      this.sent++;
      const batch = buildRecordBatch(values.map((v) => ({ key: null, value: encoder.encode(v), timestamp: 1_700_000_000_000 })));
      const req = { ...defaultProduceRequest(), acks: -1, timeoutMs: 3_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] };
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
      const now = this.sim.clock.monotonicMs();
      this.longestStallMs = Math.max(this.longestStallMs, now - this.#lastAckMs);
      this.#lastAckMs = now;
      values.forEach((value, i) => this.acked.push({ value, offset: pr.baseOffset + i }));
      await this.sleep(20);
    }
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sim.clock.schedule(ms, resolve));
  }

  /** Every record of a node's log below `end`, as (offset, value), and the raw bytes. */
  logOf(id: number, end: number): { records: Map<number, string>; bytes: Uint8Array } {
    const p = this.replicas.get(id)?.replicas.getPartition(topic, 0);
    if (p === undefined) throw new Error(`n${id} hosts no ${topic}-0`);
    const records = new Map<number, string>();
    const parts: Uint8Array[] = [];
    // One read returns one segment's batches at most: read on to `end`.
    for (let from = p.log.logStartOffset; from < end; ) {
      const r = p.log.read(from, 64 << 20, end, true);
      if (r.kind !== "ok") throw new Error(`n${id} read: ${r.kind}`);
      if (r.records.length === 0) break;
      parts.push(r.records.slice());
      for (const b of walkBatches(r.records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: r.records.length }).batches) {
        b.inflate({ maxBytes: 1 << 20 }).records.forEach((rec) => records.set(b.baseOffset + rec.offsetDelta, decoder.decode(rec.value!)));
      }
      from = r.lastOffset + 1;
    }
    return { records, bytes: Buffer.concat(parts) };
  }
}

/**
 * `downMs` below the session timeout (9 s here): the leader is back before it is fenced, and its
 * new registration moves the leadership; above it: it is fenced first.
 */
async function runScenario(seed: number, mode: "kill" | "power", downMs: number, kills = 1): Promise<void> {
  const s = new ReplicationScenario(seed);
  const sim = s.sim;
  sim.begin();
  sim.stopWorkload();
  const all = [1, 2, 3];
  expect(await s.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === 3), 20_000)).toBe(true);
  expect(await s.createTopic()).toBe(true);
  expect(await s.runUntil(() => all.every((id) => s.replicas.get(id)?.replicas.getPartition(topic, 0) !== undefined), 10_000)).toBe(true);
  const producer = s.produce();
  await s.runFor(3_000);
  const ackedBefore = s.acked.length;
  expect(ackedBefore).toBeGreaterThan(0);

  // The leader dies, with only what it fsynced surviving; it comes back `downMs` later; again
  // with the next leader, `kills` times.
  for (let k = 0; k < kills; k++) {
    const victim = s.leaderOf();
    const epochBefore = sim.imageOf(victim)!.partition(topic, 0)!.leaderEpoch;
    const ackedBefore = s.acked.length;
    sim.crashNode(victim, mode, downMs);
    const other = all.find((id) => id !== victim)!;
    expect(await s.runUntil(() => (sim.imageOf(other)?.partition(topic, 0)?.leaderEpoch ?? -1) > epochBefore, 15_000)).toBe(true);
    const newLeader = sim.imageOf(other)!.partition(topic, 0)!.leader;
    expect(newLeader).not.toBe(victim);
    expect(newLeader).toBeGreaterThanOrEqual(1);
    expect(await s.runUntil(() => s.acked.length > ackedBefore + 20, 15_000)).toBe(true);
    // Back, the old leader truncates where it diverged, catches up and rejoins the ISR.
    expect(await s.runUntil(() => sim.imageOf(other)?.partition(topic, 0)?.isr.length === 3, 30_000)).toBe(true);
    await s.runFor(2_000);
  }
  s.producing = false;
  await s.runUntil(() => false, 6_000);
  await producer;
  expect(s.failure).toBeNull();
  expect(sim.failure).toBeNull();

  // Settled: every log equal below the leader's HW, every acknowledged record there.
  const leader = s.leaderOf();
  const leaderPartition = s.replicas.get(leader)!.replicas.getPartition(topic, 0)!;
  const hw = leaderPartition.log.highWatermark;
  expect(hw).toBe(leaderPartition.log.logEndOffset);
  const reference = s.logOf(leader, hw);
  for (const a of s.acked) expect(reference.records.get(a.offset)).toBe(a.value);
  for (const id of all) {
    const p = s.replicas.get(id)!.replicas.getPartition(topic, 0)!;
    expect(p.log.logEndOffset).toBe(hw);
    expect(Buffer.from(s.logOf(id, hw).bytes).equals(Buffer.from(reference.bytes))).toBe(true);
  }
  // Idle followers (KIP-227): each fetcher holds a fetch session with the leader, and while
  // nothing is written its fetches name no partition.
  const followerIds = all.filter((id) => id !== leader);
  const statsOf = (id: number) => s.replicas.get(id)!.replicas.fetcherManager!.fetchers().filter((f) => f.leaderId === leader);
  const before = new Map(followerIds.map((id) => [id, statsOf(id)[0]!]));
  await s.runFor(3_000);
  for (const id of followerIds) {
    const [now] = statsOf(id);
    const then = before.get(id)!;
    expect(now!.sessionId).toBeGreaterThan(0);
    expect(now!.fetches - then.fetches).toBeGreaterThanOrEqual(3);
    expect(now!.fetchesNamingNone - then.fetchesNamingNone).toBe(now!.fetches - then.fetches);
  }
  // DeleteRecords on the leader: the followers' log start follows at their next fetch.
  const target = Math.floor(hw / 2);
  expect(s.replicas.get(leader)!.replicas.deleteRecords(leaderPartition, target)).toEqual({ errorCode: ErrorCode.NONE, lowWatermark: target });
  expect(await s.runUntil(() => all.every((id) => s.replicas.get(id)!.replicas.getPartition(topic, 0)!.log.logStartOffset === target), 5_000)).toBe(true);
  console.log(
    `seed ${seed}: ${s.acked.length} records acknowledged of ${s.sent * recordsPerBatch} sent, HW ${hw}, leader epochs ${[...s.leaders].map(([e, n]) => `${e}:n${n}`).join(" ")}, ` +
      `longest stall between acks ${s.longestStallMs} ms (simulated), errors ${JSON.stringify(Object.fromEntries(s.errors))}`,
  );
  sim.end();
  s.client.close();
}

/**
 * KIP-101/279: the leader is cut off from everyone right after appending a batch no follower
 * fetched (a produce that reached it just before). The others elect a new leader (fenced
 * after the session timeout) and take more writes; back, the deposed leader fetches with its
 * last epoch, hears where that epoch ended on the new leader, and truncates its unreplicated
 * tail there — so the logs agree, and the batch never acknowledged is gone.
 */
async function runDivergence(seed: number, fetchVersionMax: number | null = null): Promise<void> {
  const truncations: string[] = [];
  const s = new ReplicationScenario(seed, [], {
    traceNodeLogs: true,
    trace: (line) => {
      if (line.includes("truncating to the leader's log")) truncations.push(line);
    },
  });
  const sim = s.sim;
  sim.begin();
  sim.stopWorkload();
  const all = [1, 2, 3];
  expect(await s.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === 3), 20_000)).toBe(true);
  expect(await s.createTopic()).toBe(true);
  expect(await s.runUntil(() => all.every((id) => s.replicas.get(id)?.replicas.getPartition(topic, 0) !== undefined), 10_000)).toBe(true);
  // Followers of an older inter-broker protocol: no lastFetchedEpoch, truncation by OffsetForLeaderEpoch.
  if (fetchVersionMax !== null) for (const id of all) s.replicas.get(id)!.replicas.fetcherManager!.setFetchVersionMax(fetchVersionMax);
  const producer = s.produce();
  await s.runFor(2_000);
  s.producing = false;
  await s.runFor(1_000);
  await producer;
  const victim = s.leaderOf();
  const old = s.replicas.get(victim)!.replicas;
  const tail = buildRecordBatch([{ key: null, value: encoder.encode("never-acknowledged"), timestamp: 1_700_000_000_000 }]);
  sim.isolateNode(victim, 15_000);
  const appended = old.appendRecords(topic, 0, tail, { requiredAcks: -1, allowZstd: true, internalTopicsAllowed: false });
  expect(appended.kind).toBe("appended");
  const tailOffset = appended.kind === "appended" ? appended.firstOffset : -1;
  const other = all.find((id) => id !== victim)!;
  expect(await s.runUntil(() => (sim.imageOf(other)?.partition(topic, 0)?.leader ?? victim) !== victim, 15_000)).toBe(true);
  const again = s.produce();
  await s.runFor(3_000);
  // Healed: the deposed leader follows, truncates, catches up and rejoins.
  expect(await s.runUntil(() => sim.imageOf(other)?.partition(topic, 0)?.isr.length === 3, 30_000)).toBe(true);
  s.producing = false;
  await s.runFor(3_000);
  await again;
  expect(s.failure).toBeNull();
  const leader = s.leaderOf();
  const hw = s.replicas.get(leader)!.replicas.getPartition(topic, 0)!.log.highWatermark;
  const reference = s.logOf(leader, hw);
  expect(reference.records.get(tailOffset)).not.toBe("never-acknowledged");
  expect([...reference.records.values()]).not.toContain("never-acknowledged");
  for (const a of s.acked) expect(reference.records.get(a.offset)).toBe(a.value);
  for (const id of all) expect(Buffer.from(s.logOf(id, hw).bytes).equals(Buffer.from(reference.bytes))).toBe(true);
  // The deposed leader cut its tail by the path its Fetch version allows.
  const how = fetchVersionMax !== null && fetchVersionMax < 12 ? "(offset for leader epoch)" : "(diverging epoch)";
  expect(truncations.filter((l) => l.startsWith(`n${victim} `) || l.includes(` n${victim} |`)).some((l) => l.includes(how))).toBe(true);
  sim.end();
  s.client.close();
}

/**
 * An idempotent producer's retry after failover: the leader appends its batches and the
 * followers copy them (their producer state replays each one), more records push those
 * batches out of the active segment (segment.bytes is small), then the leader is killed. The
 * retry of the producer's last batch, sent to the new leader, is answered with its original
 * offset and appends nothing; the next sequence is appended; a gap is OUT_OF_ORDER.
 */
async function runIdempotentFailover(seed: number): Promise<void> {
  const s = new ReplicationScenario(seed, [{ name: "segment.bytes", value: "2048" }]);
  const sim = s.sim;
  sim.begin();
  sim.stopWorkload();
  const all = [1, 2, 3];
  expect(await s.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === 3), 20_000)).toBe(true);
  expect(await s.createTopic()).toBe(true);
  expect(await s.runUntil(() => all.every((id) => s.replicas.get(id)?.replicas.getPartition(topic, 0) !== undefined), 10_000)).toBe(true);
  const producerId = 4242;
  const idempotent = (seq: number): Uint8Array =>
    buildRecordBatch(
      Array.from({ length: recordsPerBatch }, (_, i) => ({ key: null, value: encoder.encode(`idem-${seq + i}`), timestamp: 1_700_000_000_000 })),
      { producerId, producerEpoch: 0, baseSequence: seq },
    );
  const sendTo = async (node: number, batch: Uint8Array): Promise<{ errorCode: number; baseOffset: number } | null> => {
    const req = { ...defaultProduceRequest(), acks: -1, timeoutMs: 3_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] };
    let answer: { errorCode: number; baseOffset: number } | null = null;
    let done = false;
    void s.client.send(node, ApiKeys.Produce, req, { timeoutMs: 5_000, waitForConnection: false }).then((r) => {
      done = true;
      const pr = r.ok ? r.body.responses[0]?.partitionResponses[0] : undefined;
      answer = pr === undefined ? null : { errorCode: pr.errorCode, baseOffset: Number(pr.baseOffset) };
    });
    await s.runUntil(() => done, 10_000);
    return answer;
  };
  const first = s.leaderOf();
  const offsets: number[] = [];
  for (const seq of [0, 4, 8]) {
    const r = await sendTo(first, idempotent(seq));
    expect(r?.errorCode).toBe(ErrorCode.NONE);
    offsets.push(r!.baseOffset);
  }
  const producer = s.produce();
  await s.runFor(2_000);
  s.producing = false;
  await s.runFor(500);
  await producer;
  const leaderLog = s.replicas.get(first)!.replicas.getPartition(topic, 0)!.log;
  const end = leaderLog.logEndOffset;
  expect(await s.runUntil(() => all.every((id) => s.replicas.get(id)!.replicas.getPartition(topic, 0)!.log.logEndOffset === end), 10_000)).toBe(true);
  const followers = all.filter((id) => id !== first);
  for (const id of followers) {
    const p = s.replicas.get(id)!.replicas.getPartition(topic, 0)!;
    expect(p.isLeader).toBe(false);
    // What a rebuild from the active segment could not have found: the batches are older.
    expect(p.log.segmentBaseOffsets().at(-1)!).toBeGreaterThan(offsets[2]! + recordsPerBatch);
    expect(p.producers.batchesOf(producerId).map((b) => b.firstOffset)).toEqual(offsets);
  }

  const epochBefore = sim.imageOf(first)!.partition(topic, 0)!.leaderEpoch;
  sim.crashNode(first, "kill", 6_000);
  const other = followers[0]!;
  expect(await s.runUntil(() => (sim.imageOf(other)?.partition(topic, 0)?.leaderEpoch ?? -1) > epochBefore && s.leaderOf() !== first, 15_000)).toBe(true);
  const next = s.leaderOf();
  expect(followers).toContain(next);
  const nextPartition = (): ReturnType<ReplicaManager["getPartition"]> => s.replicas.get(next)!.replicas.getPartition(topic, 0);
  expect(await s.runUntil(() => nextPartition()?.isLeader === true, 10_000)).toBe(true);
  const endBefore = nextPartition()!.log.logEndOffset;
  // The producer retries its last batch (its acknowledgement was lost with the old leader).
  let retried = await sendTo(next, idempotent(8));
  for (let i = 0; i < 20 && retried?.errorCode !== ErrorCode.NONE; i++) {
    // NOT_ENOUGH_REPLICAS while the ISR shrinks to the live pair, or a leader still settling.
    expect<number[]>([ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.REQUEST_TIMED_OUT]).toContain(retried?.errorCode ?? ErrorCode.REQUEST_TIMED_OUT);
    await s.runFor(500);
    retried = await sendTo(next, idempotent(8));
  }
  expect(retried).toEqual({ errorCode: ErrorCode.NONE, baseOffset: offsets[2]! });
  expect(nextPartition()!.log.logEndOffset).toBe(endBefore);
  const older = await sendTo(next, idempotent(4));
  expect(older).toEqual({ errorCode: ErrorCode.NONE, baseOffset: offsets[1]! });
  const fresh = await sendTo(next, idempotent(12));
  expect(fresh).toEqual({ errorCode: ErrorCode.NONE, baseOffset: endBefore });
  const gap = await sendTo(next, idempotent(20));
  expect(gap?.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  const hw = nextPartition()!.log.highWatermark;
  const values = [...s.logOf(next, hw).records.values()].filter((v) => v.startsWith("idem-"));
  expect(values).toEqual(Array.from({ length: 16 }, (_, i) => `idem-${i}`));
  expect(s.failure).toBeNull();
  sim.end();
  s.client.close();
}

/**
 * The follower settings as they reach the fetchers: num.replica.fetchers=3 spreads a leader's
 * partitions over up to three fetchers by hash(topic, partition) (each with its own session;
 * as in Kafka, round-robin leaders and a partition-number hash share residues, so the spread
 * shows across topics); replica.fetch.wait.max.ms
 * bounds an idle fetch's wait (about one fetch per 100 ms when nothing is written);
 * replica.fetch.max.bytes and replica.fetch.response.max.bytes of 1 byte still copy a whole
 * batch per fetch, and no more, so a follower that missed K batches needs at least K fetches.
 */
async function runFetcherSettings(seed: number): Promise<void> {
  const s = new ReplicationScenario(seed, [], {
    sets: ["num.replica.fetchers=3", "replica.fetch.wait.max.ms=100", "replica.fetch.max.bytes=1", "replica.fetch.response.max.bytes=1", "replica.fetch.min.bytes=1"],
  });
  const sim = s.sim;
  sim.begin();
  sim.stopWorkload();
  const all = [1, 2, 3];
  expect(await s.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === 3), 20_000)).toBe(true);
  expect(await s.createTopic()).toBe(true);
  // Eight more partitions in a second topic, so every leader has several to spread.
  const body = defaultCreateTopicsRequest();
  body.timeoutMs = 10_000;
  body.topics = [{ name: "spread", numPartitions: 8, replicationFactor: 3, assignments: [], configs: [], _unknownTaggedFields: undefined }];
  let created: boolean | null = null;
  void s.client.send(1, ApiKeys.CreateTopics, body, { timeoutMs: 10_000 }).then((r) => {
    created = r.ok && r.body.topics[0]?.errorCode === ErrorCode.NONE;
  });
  expect(await s.runUntil(() => created !== null, 15_000)).toBe(true);
  expect(created as boolean | null).toBe(true);
  expect(await s.runUntil(() => all.every((id) => s.replicas.get(id)?.replicas.getPartition("spread", 7) !== undefined && s.replicas.get(id)?.replicas.getPartition(topic, 0) !== undefined), 10_000)).toBe(true);
  await s.runFor(2_000);
  let spreadOver3 = false; // some leader's partitions go to more than one fetcher // some leader's partitions go to more than one fetcher
  for (const id of all) {
    const rm = s.replicas.get(id)!.replicas;
    const followed = rm.partitions().filter((p) => !p.isLeader);
    const fetchers = rm.fetcherManager!.fetchers();
    for (const leader of all.filter((l) => l !== id)) {
      const mine = fetchers.filter((f) => f.leaderId === leader);
      const led = followed.filter((p) => p.leaderId === leader).length;
      expect(mine.length).toBeLessThanOrEqual(3);
      expect(mine.reduce((n, f) => n + f.partitions, 0)).toBe(led);
      if (mine.length >= 2) spreadOver3 = true;
      for (const f of mine) expect(f.sessionId).toBeGreaterThan(0);
    }
  }
  expect(spreadOver3).toBe(true);
  // Idle: each fetcher fetches about every replica.fetch.wait.max.ms (the default 500 would give ~6).
  const idleBefore = new Map(all.map((id) => [id, s.replicas.get(id)!.replicas.fetcherManager!.fetchers()]));
  await s.runFor(3_000);
  for (const id of all) {
    for (const f of s.replicas.get(id)!.replicas.fetcherManager!.fetchers()) {
      const then = idleBefore.get(id)!.find((g) => g.key === f.key);
      if (then === undefined) continue;
      expect(f.fetches - then.fetches).toBeGreaterThanOrEqual(15);
      expect(f.fetches - then.fetches).toBeLessThanOrEqual(45);
    }
  }
  // One follower cut off while 20 batches are acknowledged by the other: back, it needs a fetch per batch.
  // (The producer writes to the "replicated" topic only.)
  const leader = s.leaderOf();
  const lagging = all.find((id) => id !== leader)!;
  const fetcherOf = (): { fetches: number } =>
    s.replicas.get(lagging)!.replicas.fetcherManager!.fetchers().filter((f) => f.leaderId === leader).reduce((acc, f) => ({ fetches: acc.fetches + f.fetches }), { fetches: 0 });
  // Cut off longer than the ISR takes to shrink without it (acks=all waits for that).
  sim.isolateNode(lagging, 60_000);
  const ackedBefore = s.acked.length;
  const producer = s.produce();
  expect(await s.runUntil(() => s.acked.length >= ackedBefore + 20 * recordsPerBatch, 55_000)).toBe(true);
  s.producing = false;
  let stopped = false;
  void producer.then(() => {
    stopped = true;
  });
  expect(await s.runUntil(() => stopped, 10_000)).toBe(true);
  const end = s.replicas.get(leader)!.replicas.getPartition(topic, 0)!.log.logEndOffset;
  const laggingLog = (): number => s.replicas.get(lagging)!.replicas.getPartition(topic, 0)!.log.logEndOffset;
  const behind = (end - laggingLog()) / recordsPerBatch;
  expect(behind).toBeGreaterThanOrEqual(20);
  const fetchesBefore = fetcherOf().fetches;
  expect(await s.runUntil(() => laggingLog() === end, 60_000)).toBe(true);
  expect(fetcherOf().fetches - fetchesBefore).toBeGreaterThanOrEqual(behind);
  expect(s.failure).toBeNull();
  sim.end();
  s.client.close();
}

describe("replication in the cluster simulator", () => {
  for (const seed of [15]) {
    test(`seed ${seed}: num.replica.fetchers and replica.fetch.* reach the followers' fetchers`, () => runFetcherSettings(seed), 120_000);
  }
  for (const seed of [11, 12]) {
    test(`seed ${seed}: an idempotent producer's retry reaching the new leader after failover is deduped at its original offset`, () => runIdempotentFailover(seed), 120_000);
  }
  for (const seed of [7, 8]) {
    test(`seed ${seed}: a deposed leader's unreplicated tail is truncated by leader epoch (KIP-101/279)`, () => runDivergence(seed), 120_000);
  }
  for (const seed of [13, 14]) {
    test(`seed ${seed}: followers fetching below v12 (no lastFetchedEpoch): the deposed leader truncates by OffsetForLeaderEpoch`, () => runDivergence(seed, 11), 120_000);
  }
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: RF=3, acks=all, the leader killed and back within the session timeout: nothing acknowledged lost, replicas identical`, () => runScenario(seed, "kill", 6_000), 120_000);
  }
  for (const seed of [9, 10]) {
    test(`seed ${seed}: RF=3, acks=all, three leaders killed one after the other: nothing acknowledged lost, replicas identical`, () => runScenario(seed, "kill", 4_000, 3), 120_000);
  }
  for (const seed of [4, 5, 6]) {
    test(`seed ${seed}: RF=3, acks=all, the leader's machine down past the session timeout: nothing acknowledged lost, replicas identical`, () => runScenario(seed, "power", 12_000), 120_000);
  }
});
