/**
 * Partition reassignment on real processes: three combined nodes and a fourth, broker-only
 * node on 127.0.0.1; a topic of three partitions with replication factor 3 on brokers {1,2,3}
 * and min.insync.replicas=2; one confluent-kafka-python producer per partition
 * (enable.idempotence, acks=all) writing steadily while kafkajs's admin client reassigns the
 * topic to {2,3,4} (AlterPartitionReassignments) and polls ListPartitionReassignments until
 * nothing is in progress.
 *
 * Checked: every partition ends with replicas and ISR {2,3,4} and a leader among them; every
 * acknowledged record is read back (Fetch from the leader) at the offset it was acknowledged
 * at, and none appears twice; the `.log` segment files of every partition are byte-identical
 * on brokers 2, 3 and 4; broker 1 deleted its partition directories. Printed: records
 * acknowledged and lost (the bar: 0), and how long the reassignment took.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { NodeClient } from "../../src/client/node-client.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic } from "../../src/protocol/messages/fetch-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { walkBatches } from "../../src/protocol/records/record-batch.ts";
import type { BrokerProcess } from "./broker-process.ts";
import { pollUntil } from "./broker-process.ts";
import { ClusterProcess } from "./cluster-process.ts";
import { startProducer } from "./replication-producer.ts";

setDefaultTimeout(240_000);

const topic = "reassigned";
const partitions = [0, 1, 2];
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
let cluster: ClusterProcess;
let observer: BrokerProcess;

beforeAll(async () => {
  cluster = new ClusterProcess({ nodes: 3, name: "reassign", sets: { "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500" } });
  await cluster.start();
  observer = await cluster.addObserver(4);
});

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

function broker(id: number): BrokerProcess {
  return id === 4 ? observer : cluster.node(id);
}

function kafka(): Kafka {
  const brokers = [...cluster.bootstrap().split(","), observer.bootstrap];
  return new Kafka({ clientId: "bunka-reassign-test", brokers, logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 }, connectionTimeout: 2000, requestTimeout: 10_000 });
}

async function partitionStates(): Promise<{ partitionId: number; leader: number; replicas: number[]; isr: number[] }[]> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const m = await admin.fetchTopicMetadata({ topics: [topic] });
    return m.topics[0]!.partitions.map((p) => ({ partitionId: p.partitionId, leader: p.leader, replicas: [...p.replicas].sort(), isr: [...p.isr].sort() })).sort((a, b) => a.partitionId - b.partitionId);
  } finally {
    await admin.disconnect();
  }
}

/** Every record of a partition (offset, value), fetched from its leader up to the HW. */
async function readAll(leaderPort: number, partition: number): Promise<{ offset: number; value: string }[]> {
  const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(3) });
  client.setEndpoint(0, { host: "127.0.0.1", port: leaderPort, listenerName: "PLAINTEXT" });
  const out: { offset: number; value: string }[] = [];
  const decoder = new TextDecoder();
  try {
    let offset = 0;
    for (;;) {
      const body = defaultFetchRequest();
      body.maxWaitMs = 0;
      body.minBytes = 0;
      body.maxBytes = 4 << 20;
      body.topics = [{ ...defaultFetchTopic(), topic, partitions: [{ ...defaultFetchPartition(), partition, fetchOffset: offset, partitionMaxBytes: 4 << 20 }] }];
      const r = await client.send(0, ApiKeys.Fetch, body, { timeoutMs: 10_000, maxVersion: 12 });
      if (!r.ok) throw r.error;
      const pd = r.body.responses[0]!.partitions[0]!;
      expect(pd.errorCode).toBe(ErrorCode.NONE);
      const records = pd.records ?? new Uint8Array(0);
      if (records.length === 0) {
        if (offset >= pd.highWatermark) return out;
        throw new Error(`no records at ${offset} below the HW ${pd.highWatermark}`);
      }
      for (const b of walkBatches(records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: records.length }).batches) {
        for (const rec of b.inflate({ maxBytes: 16 << 20 }).records) {
          const o = b.baseOffset + rec.offsetDelta;
          if (o >= offset) out.push({ offset: o, value: decoder.decode(rec.value!) });
        }
        offset = b.lastOffset + 1;
      }
    }
  } finally {
    client.close();
  }
}

function segments(id: number, partition: number): Map<string, Buffer> {
  const dir = join(broker(id).dataDir, `${topic}-${partition}`);
  return new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f))]),
  );
}

test("a 3-partition RF=3 topic reassigned from {1,2,3} to {2,3,4} under acks=all load: no acknowledged record lost, replicas identical, broker 1's logs deleted", async () => {
  const admin = kafka().admin();
  await admin.connect();
  try {
    await pollUntil("four brokers", 20_000, async () => ((await admin.describeCluster()).brokers.length === 4 ? true : undefined), 200);
    expect(
      await admin.createTopics({
        topics: [{ topic, replicaAssignment: source.map((replicas, partition) => ({ partition, replicas })), configEntries: [{ name: "min.insync.replicas", value: "2" }] }],
        waitForLeaders: false,
      }),
    ).toBe(true);
    await pollUntil("every ISR whole", 20_000, async () => ((await partitionStates().catch(() => undefined))?.every((p) => p.isr.length === 3) === true ? true : undefined), 200);

    const bootstrap = [cluster.bootstrap(), observer.bootstrap].join(",");
    const producers = partitions.map((p) => startProducer(bootstrap, topic, 100, p));
    await Bun.sleep(4_000);

    const startedAt = performance.now();
    await admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: target.map((replicas, partition) => ({ partition, replicas })) }] });
    await pollUntil("the reassignment done", 60_000, async () => {
      const listed = await admin.listPartitionReassignments({}).catch(() => undefined);
      if (listed === undefined || listed.topics.length > 0) return undefined;
      const states = await partitionStates().catch(() => undefined);
      return states?.every((s) => s.replicas.join() === [...target[s.partitionId]!].sort().join() && s.isr.length === 3 && target[s.partitionId]!.includes(s.leader)) === true ? true : undefined;
    }, 200);
    const tookMs = performance.now() - startedAt;
    await Bun.sleep(3_000);
    const results = await Promise.all(producers.map((p) => p.stop()));

    const states = await partitionStates();
    let acknowledged = 0;
    let lostTotal = 0;
    for (const p of partitions) {
      const { deliveries, sent, undelivered } = results[p]!;
      const acked = deliveries.filter((d) => d.e === null);
      expect(undelivered).toBe(0);
      expect(deliveries.filter((d) => d.e !== null)).toEqual([]);
      expect(acked.length).toBe(sent);
      acknowledged += acked.length;
      const state = states[p]!;
      expect(state.isr).toEqual([...target[p]!].sort());
      const records = await readAll(broker(state.leader).port, p);
      const byValue = new Map<string, number[]>();
      for (const r of records) byValue.set(r.value, [...(byValue.get(r.value) ?? []), r.offset]);
      expect([...byValue].filter(([, offsets]) => offsets.length > 1)).toEqual([]);
      const lost = acked.filter((d) => byValue.get(d.v)?.[0] !== d.o);
      lostTotal += lost.length;
      expect(lost).toEqual([]);
      await pollUntil(`identical segment files of partition ${p}`, 30_000, () => {
        const [a, b, c] = target[p]!.map((id) => segments(id, p));
        const same = (x: Map<string, Buffer>, y: Map<string, Buffer>) => x.size === y.size && [...x].every(([f, bytes]) => y.get(f)?.equals(bytes) === true);
        return same(a!, b!) && same(a!, c!) ? true : undefined;
      }, 200);
      await pollUntil(`broker 1 deleting partition ${p}`, 10_000, () => (existsSync(join(broker(1).dataDir, `${topic}-${p}`)) ? undefined : true), 200);
    }
    console.log(`reassignment {1,2,3} → {2,3,4} of 3 partitions: ${acknowledged} records acknowledged (acks=all, idempotent), ${lostTotal} lost; reassignment done in ${Math.round(tookMs)} ms`);
  } finally {
    await admin.disconnect();
  }
});
