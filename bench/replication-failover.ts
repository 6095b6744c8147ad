/**
 * Replication failover on real processes (test/interop/cluster-process.ts): a fresh 3-node
 * combined cluster per run with broker.session.timeout.ms=3000 and
 * broker.heartbeat.interval.ms=500, a topic with replication factor 3 and
 * min.insync.replicas=2, the idempotent acks=all Python producer (confluent-kafka-python,
 * test/interop/py/replication_producer.py) at RATE records/s. After 3 s the partition's
 * leader is stopped — SIGKILL ("kill") or SIGTERM, a controlled shutdown ("term") — and the
 * producer runs 8 s more. Figure: the longest gap between two consecutive acknowledgements
 * in the run (before the fault they come every ~1000/RATE ms), per run and the median; every
 * run also checks that nothing was left undelivered.
 *
 * Run: `bun bench/replication-failover.ts` (RUNS=3 RATE=200 MODES=kill,term).
 */
import { Kafka, logLevel } from "kafkajs";
import { pollUntil } from "../test/interop/broker-process.ts";
import { ClusterProcess } from "../test/interop/cluster-process.ts";
import { longestStall, startProducer } from "../test/interop/replication-producer.ts";

const runs = Number(process.env.RUNS ?? 3);
const rate = Number(process.env.RATE ?? 200);
const modes = (process.env.MODES ?? "kill,term").split(",") as ("kill" | "term")[];
const topic = "failover";

async function leaderAndIsr(cluster: ClusterProcess): Promise<{ leader: number; isr: number } | undefined> {
  const kafka = new Kafka({ clientId: "bench", brokers: cluster.bootstrap().split(","), logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100 }, connectionTimeout: 2000 });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const m = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = m.topics[0]?.partitions.find((x) => x.partitionId === 0);
    return p === undefined ? undefined : { leader: p.leader, isr: p.isr.length };
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function once(mode: "kill" | "term"): Promise<{ stallMs: number; acked: number; leaderMovedMs: number }> {
  const cluster = new ClusterProcess({ nodes: 3, name: `failover-${mode}`, sets: { "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500" } });
  try {
    await cluster.start();
    const kafka = new Kafka({ clientId: "bench", brokers: cluster.bootstrap().split(","), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: "min.insync.replicas", value: "2" }] }], waitForLeaders: false });
    await admin.disconnect();
    const before = await pollUntil("ISR of three", 20_000, async () => {
      const s = await leaderAndIsr(cluster);
      return s !== undefined && s.isr === 3 ? s : undefined;
    }, 200);
    const producer = startProducer(cluster.bootstrap(), topic, rate);
    await Bun.sleep(3_000);
    const victim = cluster.node(before.leader);
    const at = performance.now();
    if (mode === "kill") await victim.kill();
    else void victim.stop();
    await pollUntil("a new leader", 20_000, async () => {
      const s = await leaderAndIsr(cluster);
      return s !== undefined && s.leader > 0 && s.leader !== before.leader ? s : undefined;
    }, 50);
    const leaderMovedMs = performance.now() - at;
    await Bun.sleep(Math.max(0, 8_000 - leaderMovedMs));
    const { deliveries, undelivered } = await producer.stop();
    if (undelivered !== 0) throw new Error(`${undelivered} records undelivered`);
    const failed = deliveries.filter((d) => d.e !== null);
    if (failed.length > 0) throw new Error(`${failed.length} deliveries failed: ${failed[0]!.e}`);
    return { stallMs: longestStall(deliveries), acked: deliveries.length, leaderMovedMs };
  } finally {
    await cluster.dispose();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

for (const mode of modes) {
  const stalls: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(mode);
    stalls.push(r.stallMs);
    console.log(`${mode} run ${i + 1}: longest stall between acks ${Math.round(r.stallMs)} ms, new leader seen after ${Math.round(r.leaderMovedMs)} ms, ${r.acked} acked`);
  }
  console.log(`${mode}: median longest stall ${Math.round(median(stalls))} ms over ${runs} runs (max ${Math.round(Math.max(...stalls))} ms)`);
}
