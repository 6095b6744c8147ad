/**
 * The admin CLI and the metrics endpoint on a real 3-node cluster (combined broker+controller
 * nodes on 127.0.0.1, each with its own metrics.listener):
 *
 * 1. healthy: topics of replication factor 3 created through the CLI, `cluster describe`
 *    lists three brokers and three voters, `cluster health` exits 0, the metrics of the
 *    nodes sum to no under-replicated partition and one active controller;
 * 2. node 3 SIGKILLed: `cluster health` exits 3 naming under-replicated partitions and the
 *    fenced broker, `topics describe --under-replicated` lists the partitions without 3 in
 *    their ISR, and the survivors' metrics move — under-replicated partitions above 0, ISR
 *    shrinks counted, one fenced broker on the active controller; the partitions of a
 *    replication-factor-1 topic that lived on node 3 are offline, in health and in metrics;
 * 3. node 3 restarted on its data: health comes back (exit 0), under-replicated back to 0 and
 *    ISR expansions counted.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { guard, ok, pollUntil, run, type RunResult, text } from "../interop/broker-process.ts";
import { ClusterProcess, freePorts } from "../interop/cluster-process.ts";
import { parsePrometheusText, sampleValue } from "../metrics/prom-parse.ts";

setDefaultTimeout(240_000);

let cluster: ClusterProcess;
const metricsUrls: string[] = [];

beforeAll(async () => {
  // Group offsets replicated on all three, so the loss of one node leaves no partition offline.
  cluster = new ClusterProcess({ nodes: 3, name: "admin-cluster", sets: { "offsets.topic.replication.factor": "3" } });
  const ports = freePorts(3);
  cluster.nodes.forEach((n, i) => {
    metricsUrls.push(`http://127.0.0.1:${ports[i]}/metrics`);
    n.configure({ "metrics.listener": metricsUrls[i]! });
  });
  await cluster.start();
}, 120_000);

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

function bunka(args: readonly string[]): Promise<RunResult> {
  return run(["bun", "src/main.ts", ...args, "--bootstrap-server", cluster.bootstrap(), "--timeout-ms", "15000"], { timeoutMs: 60_000 });
}

async function json<T>(args: readonly string[]): Promise<T> {
  return JSON.parse(text(ok(`bunka ${args.join(" ")}`, await bunka([...args, "--json"])).stdout)) as T;
}

/** Sums of a metric over the live nodes' scrapes. */
async function scrapeSum<N extends string>(names: readonly N[], labels: Record<string, string> = {}): Promise<Record<N, number>> {
  const out = Object.fromEntries(names.map((n) => [n, 0])) as Record<N, number>;
  for (let i = 0; i < cluster.nodes.length; i++) {
    if (!cluster.nodes[i]!.alive()) continue;
    const families = parsePrometheusText(await (await fetch(metricsUrls[i]!)).text());
    for (const n of names) out[n] += sampleValue(families, n, labels) ?? Number.NaN;
  }
  return out;
}

const figures = [
  "kafka_server_replicamanager_underreplicatedpartitions",
  "kafka_server_replicamanager_isrshrinks_total",
  "kafka_server_replicamanager_isrexpands_total",
  "kafka_controller_kafkacontroller_activecontrollercount",
  "kafka_controller_kafkacontroller_fencedbrokercount",
  "kafka_controller_kafkacontroller_offlinepartitionscount",
] as const;

describe("admin CLI and metrics on a 3-node cluster", () => {
  test(
    "healthy, then a broker killed (health fails, figures move), then restarted",
    guard(
      () => cluster.node(3),
      async () => {
        ok("create", await bunka(["topics", "create", "r3", "--partitions", "6", "--replication-factor", "3"]));
        // One replica per partition, spread over the nodes: those on node 3 go offline with it.
        ok("create r1", await bunka(["topics", "create", "r1", "--partitions", "3", "--replication-factor", "1"]));
        await pollUntil("every partition of r3 in sync on three replicas", 60_000, async () => {
          const [t] = await json<{ partitions: { isr: number[] }[] }[]>(["topics", "describe", "r3"]);
          return t!.partitions.length === 6 && t!.partitions.every((p) => p.isr.length === 3) ? true : undefined;
        }, 500);
        const d = await json<{ brokers: { id: number; fenced: boolean }[]; quorum: { leaderId: number; voters: { id: number }[] } }>(["cluster", "describe"]);
        expect(d.brokers.map((b) => [b.id, b.fenced])).toEqual([[1, false], [2, false], [3, false]]);
        expect(d.quorum.voters.map((v) => v.id).sort()).toEqual([1, 2, 3]);
        expect(d.quorum.leaderId).toBeGreaterThan(0);
        await pollUntil("cluster health exits 0", 60_000, async () => ((await bunka(["cluster", "health"])).code === 0 ? true : undefined), 500);
        const [r1] = await json<{ partitions: { partition: number; replicas: number[] }[] }[]>(["topics", "describe", "r1"]);
        const onNode3 = r1!.partitions.filter((p) => p.replicas[0] === 3).map((p) => p.partition);
        expect(onNode3.length).toBeGreaterThan(0); // three partitions, one replica each, three brokers
        const before = await scrapeSum(figures);
        expect(before.kafka_server_replicamanager_underreplicatedpartitions).toBe(0);
        expect(before.kafka_controller_kafkacontroller_activecontrollercount).toBe(1);
        expect(before.kafka_controller_kafkacontroller_fencedbrokercount).toBe(0);
        expect(Object.values(before).some((v) => Number.isNaN(v))).toBe(false); // every node exports every figure

        // Records and groups across the nodes: leaders and the group's coordinator are spread.
        const lines = Array.from({ length: 30 }, (_, i) => `k${i}:v${i}`);
        ok("produce", await run(["bun", "src/main.ts", "produce", "r3", "--key-separator", ":", "--bootstrap-server", cluster.bootstrap()], { stdin: `${lines.join("\n")}\n`, timeoutMs: 60_000 }));
        const consumed = text(ok("consume", await bunka(["consume", "r3", "--key-separator", ":"])).stdout).trimEnd().split("\n");
        expect(consumed.sort()).toEqual([...lines].sort());
        ok("reset", await bunka(["groups", "reset-offsets", "cg", "--topic", "r3", "--to-latest", "--execute"]));
        const g = await json<{ coordinator: number; totalLag: number; offsets: { logEndOffset: number; committed: number }[] }>(["groups", "describe", "cg"]);
        expect(g.offsets.length).toBe(6);
        expect({ lag: g.totalLag, ends: g.offsets.reduce((s, o) => s + o.logEndOffset, 0) }).toEqual({ lag: 0, ends: 30 });
        const dirs = await json<{ broker: number; partitions: { topic: string }[] }[]>(["log-dirs", "describe"]);
        expect(dirs.map((x) => [x.broker, x.partitions.filter((p) => p.topic === "r3").length])).toEqual([[1, 6], [2, 6], [3, 6]]);

        await cluster.node(3).kill();
        const unhealthy = await pollUntil("cluster health reports broker 3 and under-replicated partitions", 90_000, async () => {
          const r = await bunka(["cluster", "health"]);
          return r.code === 3 && r.stderr.includes("broker 3 is fenced or down") && r.stderr.includes("under-replicated partitions: r3") && r.stderr.includes(`offline partitions: r1 ${onNode3.join(",")} `) ? r : undefined;
        }, 1000);
        expect(text(unhealthy.stdout)).toBe("");
        expect(unhealthy.stderr.split("\n").filter((l) => l !== "").every((l) => l.startsWith("unhealthy: "))).toBe(true);
        const h = JSON.parse(text((await bunka(["cluster", "health", "--json"])).stdout)) as { healthy: boolean; problems: string[] };
        expect(h.healthy).toBe(false);
        const [under] = await json<{ partitions: { isr: number[]; replicas: number[]; underReplicated: boolean }[] }[]>(["topics", "describe", "r3", "--under-replicated"]);
        expect(under!.partitions.length).toBe(6);
        expect(under!.partitions.every((p) => p.underReplicated && !p.isr.includes(3) && p.replicas.includes(3))).toBe(true);
        const fenced = await json<{ brokers: { id: number; fenced: boolean }[] }>(["cluster", "describe"]);
        expect(fenced.brokers.map((b) => [b.id, b.fenced])).toEqual([[1, false], [2, false], [3, true]]);

        const during = await pollUntil("the survivors' metrics show the loss", 60_000, async () => {
          const s = await scrapeSum(figures);
          return s.kafka_server_replicamanager_underreplicatedpartitions > 0 && s.kafka_controller_kafkacontroller_fencedbrokercount === 1 && s.kafka_controller_kafkacontroller_offlinepartitionscount > 0 ? s : undefined;
        }, 500);
        // Every r3 partition led by a survivor lost broker 3 from its ISR (plus __consumer_offsets ones).
        expect(during.kafka_server_replicamanager_underreplicatedpartitions).toBeGreaterThanOrEqual(6);
        expect(during.kafka_server_replicamanager_isrshrinks_total).toBeGreaterThan(0);
        expect(during.kafka_controller_kafkacontroller_activecontrollercount).toBe(1);
        expect(during.kafka_controller_kafkacontroller_offlinepartitionscount).toBe(onNode3.length);

        await cluster.node(3).restart();
        await pollUntil("cluster health exits 0 after the restart", 120_000, async () => ((await bunka(["cluster", "health"])).code === 0 ? true : undefined), 1000);
        const after = await pollUntil("under-replicated back to 0 on every node", 60_000, async () => {
          const s = await scrapeSum(figures);
          return s.kafka_server_replicamanager_underreplicatedpartitions === 0 ? s : undefined;
        }, 500);
        expect(after.kafka_server_replicamanager_isrexpands_total).toBeGreaterThan(0);
        expect(after.kafka_controller_kafkacontroller_fencedbrokercount).toBe(0);
        expect(after.kafka_controller_kafkacontroller_offlinepartitionscount).toBe(0);
      },
    ),
  );
});
