/**
 * Controller-quorum benchmarks on real processes (test/interop/cluster-process.ts):
 *
 * 1. Failover: a fresh 3-node combined cluster; SIGKILL the active controller (the Raft
 *    leader, read with DescribeQuorum); from that moment, a CreateTopics of one partition is
 *    sent to a survivor every 50 ms until one is answered without error. Figure: ms from the
 *    kill to that answer, per run, and the median of RUNS runs. Done with default timeouts
 *    and again with tuned ones (TUNED below).
 * 2. Metadata commit latency: CreateTopics of one partition, one at a time, COUNT times,
 *    sent to the active controller's client listener (so no forwarding hop), on a 3-voter
 *    quorum and on a single node in the same run. Figure: median and p99 in ms.
 *
 * Run: `bun bench/cluster.ts` (RUNS=5 COUNT=200; ONLY=failover,tuned,latency). Writes
 * bench/results/cluster.json unless ONLY is set.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { NodeClient } from "../src/client/node-client.ts";
import { systemClock } from "../src/platform/bun/clock.ts";
import { bunNetwork } from "../src/platform/bun/network.ts";
import { SeededPrng } from "../src/platform/prng.ts";
import { ErrorCode } from "../src/protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../src/protocol/messages/create-topics-request.ts";
import { ApiKeys } from "../src/protocol/messages/index.ts";
import { startBroker, type BrokerProcess } from "../test/interop/broker-process.ts";
import { ClusterProcess } from "../test/interop/cluster-process.ts";

const runs = Number(process.env.RUNS ?? 5);
const count = Number(process.env.COUNT ?? 200);
const only = process.env.ONLY?.split(",");
const want = (s: string): boolean => only === undefined || only.includes(s);

const tuned: Record<string, string> = {
  "controller.quorum.election.timeout.ms": "500",
  "controller.quorum.fetch.timeout.ms": "1000",
  "controller.quorum.election.backoff.max.ms": "200",
  "controller.quorum.retry.backoff.ms": "20",
};

function clientFor(node: BrokerProcess): NodeClient {
  const c = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(11), config: { reconnectBackoffMs: 20, reconnectBackoffMaxMs: 100 } });
  c.setEndpoint(0, { host: "127.0.0.1", port: node.port, listenerName: "PLAINTEXT" });
  return c;
}

/** One CreateTopics of one partition; the error code (NONE on success) or -100 on a transport failure. */
async function createOne(client: NodeClient, name: string, timeoutMs = 5000): Promise<number> {
  const r = await client.send(0, ApiKeys.CreateTopics, { ...defaultCreateTopicsRequest(), timeoutMs, topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] }, { timeoutMs: timeoutMs + 1000 });
  if (!r.ok) return -100;
  return r.body.topics[0]?.errorCode ?? -101;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function leaderOf(cluster: ClusterProcess, via: BrokerProcess): Promise<number> {
  for (;;) {
    const q = await cluster.describeQuorum(via).catch(() => null);
    const p = q?.topics[0]?.partitions[0];
    if (q !== null && q.errorCode === 0 && p !== undefined && p.errorCode === 0 && p.leaderId >= 0) return p.leaderId;
    await Bun.sleep(50);
  }
}

async function failoverOnce(sets: Record<string, string>, label: string, run: number): Promise<number> {
  const cluster = new ClusterProcess({ nodes: 3, name: `bench-${label}-${run}`, sets });
  try {
    await cluster.start();
    const leader = await leaderOf(cluster, cluster.node(1));
    const survivor = cluster.nodes.find((_, i) => i + 1 !== leader)!;
    const client = clientFor(survivor);
    if ((await createOne(client, "warm")) !== ErrorCode.NONE) throw new Error("warm-up CreateTopics failed");
    await cluster.node(leader).kill();
    const t0 = performance.now();
    for (let i = 0; ; i++) {
      const code = await createOne(client, `after-${i}`, 2000);
      if (code === ErrorCode.NONE) break;
      if (performance.now() - t0 > 60_000) throw new Error(`no CreateTopics answered within 60 s (last code ${code})`);
      await Bun.sleep(50);
    }
    const ms = performance.now() - t0;
    client.close();
    console.log(`  ${label} run ${run + 1}: ${ms.toFixed(0)} ms (killed node ${leader})`);
    return ms;
  } finally {
    await cluster.dispose();
  }
}

async function latency(bootstrapNode: BrokerProcess, prefix: string): Promise<{ median: number; p99: number; max: number }> {
  const client = clientFor(bootstrapNode);
  const times: number[] = [];
  try {
    for (let i = 0; i < count + 10; i++) {
      const t0 = performance.now();
      const code = await createOne(client, `${prefix}-${i}`);
      const ms = performance.now() - t0;
      if (code !== ErrorCode.NONE) throw new Error(`CreateTopics ${prefix}-${i}: error ${code}`);
      if (i >= 10) times.push(ms); // the first ten warm the connection and the JIT
    }
  } finally {
    client.close();
  }
  return { median: quantile(times, 0.5), p99: quantile(times, 0.99), max: Math.max(...times) };
}

const results: Record<string, unknown> = { date: new Date().toISOString(), runs, count };

if (want("failover")) {
  console.log(`failover, default timeouts (${runs} runs):`);
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) xs.push(await failoverOnce({}, "default", r));
  results.failoverDefaultMs = { runs: xs.map(Math.round), median: Math.round(quantile(xs, 0.5)) };
  console.log(`  median ${quantile(xs, 0.5).toFixed(0)} ms`);
}
if (want("tuned")) {
  console.log(`failover, tuned timeouts ${JSON.stringify(tuned)} (${runs} runs):`);
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) xs.push(await failoverOnce(tuned, "tuned", r));
  results.failoverTunedMs = { settings: tuned, runs: xs.map(Math.round), median: Math.round(quantile(xs, 0.5)) };
  console.log(`  median ${quantile(xs, 0.5).toFixed(0)} ms`);
}
if (want("latency")) {
  const single = await startBroker({ name: "bench-single" });
  let one: { median: number; p99: number; max: number };
  try {
    one = await latency(single, "single");
  } finally {
    await single.dispose();
  }
  const cluster = new ClusterProcess({ nodes: 3, name: "bench-latency" });
  let three: { median: number; p99: number; max: number };
  try {
    await cluster.start();
    const leader = await leaderOf(cluster, cluster.node(1));
    three = await latency(cluster.node(leader), "three");
  } finally {
    await cluster.dispose();
  }
  results.commitLatencyMs = { single: one, threeVoters: three };
  console.log(`CreateTopics (1 partition) answered, ${count} sequential:`);
  console.log(`  single node : median ${one.median.toFixed(2)} ms, p99 ${one.p99.toFixed(2)} ms, max ${one.max.toFixed(2)} ms`);
  console.log(`  3 voters    : median ${three.median.toFixed(2)} ms, p99 ${three.p99.toFixed(2)} ms, max ${three.max.toFixed(2)} ms`);
}

if (only === undefined) {
  const dir = resolve(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cluster.json"), `${JSON.stringify(results, null, 2)}\n`);
}
process.exit(0);
