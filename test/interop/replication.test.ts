/**
 * Partition replication on real processes: three combined nodes on 127.0.0.1 with
 * broker.session.timeout.ms=3000 and broker.heartbeat.interval.ms=500, a topic with
 * replication factor 3 and min.insync.replicas=2, confluent-kafka-python (librdkafka 2.0.2)
 * producing with enable.idempotence and acks=all at a steady rate while the partition's leader
 * is SIGKILLed and, a few seconds later, restarted on its data — three times in a row, each
 * time once the ISR is whole again.
 *
 * Checked: the leader moved to another node; every acknowledged record is read back (Fetch
 * from the leader) exactly once, at the offset it was acknowledged at, in order, and no record
 * appears twice in the log; once the ISR holds the three nodes again, the partition's `.log`
 * segment files are byte-identical on all three brokers. The longest gap between two
 * acknowledgements while the leader was down is printed (the failover stall).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
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
import { pollUntil } from "./broker-process.ts";
import { ClusterProcess } from "./cluster-process.ts";
import { longestStall, startProducer } from "./replication-producer.ts";

setDefaultTimeout(180_000);

const topic = "replicated";
/** Leader kills in one run (each followed by a restart and the ISR whole again). */
const killsPerRun = 3;
let cluster: ClusterProcess;

beforeAll(async () => {
  cluster = new ClusterProcess({ nodes: 3, name: "repl", sets: { "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500" } });
  await cluster.start();
});

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

function kafka(): Kafka {
  return new Kafka({ clientId: "bunka-repl-test", brokers: cluster.bootstrap().split(","), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 }, connectionTimeout: 2000, requestTimeout: 10_000 });
}

async function partitionState(): Promise<{ leader: number; isr: number[] }> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const m = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = m.topics[0]!.partitions.find((x) => x.partitionId === 0)!;
    return { leader: p.leader, isr: [...p.isr].sort() };
  } finally {
    await admin.disconnect();
  }
}

/** Every record of partition 0 (offset → value), fetched from the leader up to its HW. */
async function readAll(leaderPort: number): Promise<{ offset: number; value: string }[]> {
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
      body.topics = [{ ...defaultFetchTopic(), topic, partitions: [{ ...defaultFetchPartition(), partition: 0, fetchOffset: offset, partitionMaxBytes: 4 << 20 }] }];
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

/** The partition's segment files on node `id`, by name. */
function segments(id: number): Map<string, Buffer> {
  const dir = join(cluster.node(id).dataDir, `${topic}-0`);
  return new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f))]),
  );
}

test("RF=3, acks=all, idempotent producer, the leader SIGKILLed and restarted three times: every acknowledged record exactly once, segment files identical", async () => {
  const admin = kafka().admin();
  await admin.connect();
  try {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: "min.insync.replicas", value: "2" }] }], waitForLeaders: false })).toBe(true);
  } finally {
    await admin.disconnect();
  }
  await pollUntil("ISR of three", 20_000, async () => ((await partitionState().catch(() => undefined))?.isr.length === 3 ? true : undefined), 200);
  const before = await partitionState();

  const producer = startProducer(cluster.bootstrap(), topic, 200);
  await Bun.sleep(3_000);
  const kills: string[] = [];
  let leader = before.leader;
  for (let k = 0; k < killsPerRun; k++) {
    const victim = cluster.node(leader);
    const killedAt = performance.now();
    await victim.kill();
    const moved = await pollUntil("a new leader", 20_000, async () => {
      const s = await partitionState().catch(() => undefined);
      return s !== undefined && s.leader !== leader && s.leader > 0 ? s : undefined;
    }, 100);
    kills.push(`n${leader} killed, n${moved.leader} leading ${Math.round(performance.now() - killedAt)} ms later`);
    await Bun.sleep(2_000);
    await victim.restart();
    await pollUntil("the old leader back in the ISR", 30_000, async () => ((await partitionState().catch(() => undefined))?.isr.length === 3 ? true : undefined), 200);
    await Bun.sleep(1_000);
    leader = moved.leader;
  }
  await Bun.sleep(2_000);
  const { deliveries, sent, undelivered } = await producer.stop();

  const acked = deliveries.filter((d) => d.e === null);
  const failed = deliveries.filter((d) => d.e !== null);
  expect(undelivered).toBe(0);
  expect(failed).toEqual([]);
  expect(acked.length).toBe(sent);

  const after = await partitionState();
  const records = await readAll(cluster.node(after.leader).port);
  const byValue = new Map<string, number[]>();
  for (const r of records) byValue.set(r.value, [...(byValue.get(r.value) ?? []), r.offset]);
  const duplicated = [...byValue].filter(([, offsets]) => offsets.length > 1);
  expect(duplicated).toEqual([]);
  const lost = acked.filter((d) => byValue.get(d.v)?.[0] !== d.o);
  expect(lost).toEqual([]);
  // In order: value-n at increasing offsets in n.
  const order = records.map((r) => Number(r.value.slice("value-".length)));
  expect(order).toEqual([...order].sort((a, b) => a - b));

  // Followers catch up to the same bytes.
  const equal = await pollUntil("identical segment files", 30_000, () => {
    const [a, b, c] = [1, 2, 3].map(segments);
    const same = (x: Map<string, Buffer>, y: Map<string, Buffer>) => x.size === y.size && [...x].every(([f, bytes]) => y.get(f)?.equals(bytes) === true);
    return same(a!, b!) && same(a!, c!) ? a! : undefined;
  }, 200);
  const totalBytes = [...equal.values()].reduce((n, b) => n + b.length, 0);
  console.log(
    `replication: ${acked.length} records acknowledged, ${records.length} in the log; ${kills.join("; ")}; ` +
      `longest stall between acknowledgements ${Math.round(longestStall(deliveries))} ms; ${equal.size} segment file(s), ${totalBytes} bytes identical on 3 brokers`,
  );
});
