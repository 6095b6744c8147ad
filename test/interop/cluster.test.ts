/**
 * Three combined nodes on 127.0.0.1, configured as Kafka operators configure a KRaft quorum
 * (node.id, process.roles, controller.quorum.voters, controller.listener.names), as real
 * processes with real clients:
 *
 * 1. The cluster forms: kcat through every node sees the same three brokers, each node naming
 *    itself as the controller clients should use (it forwards); DescribeQuorum names one leader and three voters caught up to its high
 *    watermark; confluent-kafka-python's admin sees one cluster of three brokers.
 * 2. SIGKILL of the active controller: another voter takes over, a CreateTopics through a
 *    survivor succeeds, topics created before and after are listed by both survivors, and the
 *    killed node, restarted on its data, catches up and lists them too.
 * 3. A broker-only node joins as an observer: DescribeQuorum lists it among the observers and
 *    every node's metadata lists four brokers.
 * 4. SIGTERM of a node is a controlled shutdown: it exits 0 and the others stop listing it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Kafka, logLevel } from "kafkajs";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { guard, ok, pollUntil, run, text, type BrokerProcess } from "./broker-process.ts";
import { ClusterProcess } from "./cluster-process.ts";

setDefaultTimeout(120_000);

let cluster: ClusterProcess;

beforeAll(async () => {
  cluster = new ClusterProcess({ nodes: 3, name: "cluster" });
  await cluster.start();
});

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

function kafka(bootstrap: string): Kafka {
  return new Kafka({ clientId: "bunka-cluster-test", brokers: bootstrap.split(","), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 }, connectionTimeout: 2000, requestTimeout: 10_000 });
}

async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: false });
    expect(created).toBe(true);
  } finally {
    await admin.disconnect();
  }
}

async function activeController(via: BrokerProcess): Promise<number> {
  const q = await cluster.describeQuorum(via);
  expect(q.errorCode).toBe(ErrorCode.NONE);
  return q.topics[0]!.partitions[0]!.leaderId;
}

/** Polls until kcat through `via` lists every one of `topics`. */
async function seesTopics(via: BrokerProcess, topics: string[]): Promise<void> {
  await pollUntil(`${via.name} to list ${topics.join(", ")}`, 30_000, async () => {
    const md = await cluster.kcatMetadata(via);
    const names = new Set(md.topics.map((t) => t.topic));
    return topics.every((t) => names.has(t)) ? true : undefined;
  }, 200);
}

const g = (body: () => Promise<void>) => guard(() => cluster.live()[0], body);

describe("a three-node quorum of real processes", () => {
  test(
    "forms one cluster: same brokers and controller through every node, one leader, voters caught up",
    g(async () => {
      // Each node is ready once it is registered and unfenced; the others learn of it as they replay.
      const mds = await pollUntil("every node to list three brokers", 20_000, async () => {
        const all = await Promise.all(cluster.nodes.map((n) => cluster.kcatMetadata(n)));
        return all.every((md) => md.brokers.length === 3) ? all : undefined;
      }, 200);
      mds.forEach((md, i) => {
        expect(md.brokers.map((b) => b.id).sort()).toEqual([1, 2, 3]);
        expect(md.controllerid).toBe(i + 1);
      });
      const q = await pollUntil("every voter caught up", 20_000, async () => {
        const r = await cluster.describeQuorum(cluster.node(2));
        const p = r.topics[0]!.partitions[0]!;
        return p.currentVoters.length === 3 && p.currentVoters.every((v) => v.logEndOffset >= p.highWatermark) ? r : undefined;
      });
      const p = q.topics[0]!.partitions[0]!;
      expect(q.topics[0]!.topicName).toBe("__cluster_metadata");
      expect(p.currentVoters.map((v) => v.replicaId).sort()).toEqual([1, 2, 3]);
      expect([1, 2, 3]).toContain(p.leaderId);
      expect(p.leaderEpoch).toBeGreaterThan(0);
      expect(p.highWatermark).toBeGreaterThan(0);
      // The same answer through every node (forwarded to the active controller).
      for (const n of cluster.nodes) expect(await activeController(n)).toBe(p.leaderId);
    }),
  );

  test(
    "confluent-kafka-python's admin (/usr/bin/python3, apt) sees one cluster of three brokers",
    g(async () => {
      const script = [
        "import json, sys",
        "from confluent_kafka.admin import AdminClient",
        "md = AdminClient({'bootstrap.servers': sys.argv[1]}).list_topics(timeout=15)",
        "print(json.dumps({'cluster': md.cluster_id, 'controller': md.controller_id, 'brokers': sorted(md.brokers)}))",
      ].join("\n");
      const r = ok("confluent admin", await run(["/usr/bin/python3", "-c", script, cluster.node(3).bootstrap], { timeoutMs: 30_000 }));
      const md = JSON.parse(text(r.stdout)) as { cluster: string; controller: number; brokers: number[] };
      expect(md.cluster).toBe(cluster.clusterId);
      expect(md.brokers).toEqual([1, 2, 3]);
      expect(md.controller).toBe(3);
    }),
  );

  test(
    "SIGKILL of the active controller: a survivor takes over and serves CreateTopics; the restarted node catches up",
    g(async () => {
      await createTopic(cluster.bootstrap(), "before-kill");
      const leader = await activeController(cluster.node(1));
      const victim = cluster.node(leader);
      const survivors = cluster.nodes.filter((n) => n !== victim);
      await victim.kill();
      const killedAt = performance.now();
      await createTopic(survivors.map((n) => n.bootstrap).join(","), "after-kill");
      const tookMs = performance.now() - killedAt;
      console.log(`controller failover: CreateTopics through a survivor answered ${tookMs.toFixed(0)} ms after SIGKILL of node ${leader}`);
      const next = await activeController(survivors[0]!);
      expect(next).not.toBe(leader);
      expect(survivors.map((n) => Number(n.name.slice(-1)))).toContain(next);
      for (const s of survivors) await seesTopics(s, ["before-kill", "after-kill"]);
      // The killed voter restarts on its data, rejoins as a follower and catches up.
      await victim.restart();
      await seesTopics(victim, ["before-kill", "after-kill"]);
      const q = await pollUntil("the restarted voter caught up", 20_000, async () => {
        const r = await cluster.describeQuorum(victim);
        const p = r.topics[0]!.partitions[0]!;
        const v = p.currentVoters.find((x) => x.replicaId === leader);
        return v !== undefined && v.logEndOffset >= p.highWatermark ? p : undefined;
      });
      expect(q.leaderId).toBe(next); // pre-vote: the returning node did not depose the leader
      // It lists itself once its new registration is unfenced (a heartbeat after catching up).
      await pollUntil("the restarted node to list three brokers", 20_000, async () => {
        const md = await cluster.kcatMetadata(victim);
        return md.brokers.length === 3 ? true : undefined;
      }, 200);
      expect((await cluster.kcatMetadata(victim)).brokers.map((b) => b.id).sort()).toEqual([1, 2, 3]);
    }),
  );

  test(
    "a broker-only node joins as an observer",
    g(async () => {
      const obs = await cluster.addObserver(4);
      const p = await pollUntil("node 4 among the observers", 20_000, async () => {
        const r = await cluster.describeQuorum(cluster.node(1));
        const part = r.topics[0]!.partitions[0]!;
        return part.observers.some((o) => o.replicaId === 4) ? part : undefined;
      });
      expect(p.currentVoters.map((v) => v.replicaId).sort()).toEqual([1, 2, 3]);
      await createTopic(obs.bootstrap, "via-observer");
      for (const n of [...cluster.nodes, obs]) {
        await seesTopics(n, ["before-kill", "after-kill", "via-observer"]);
        const md = await cluster.kcatMetadata(n);
        expect(md.brokers.map((b) => b.id).sort()).toEqual([1, 2, 3, 4]);
      }
    }),
  );

  test(
    "SIGTERM is a controlled shutdown: exit 0, and the others stop listing the broker",
    g(async () => {
      const obs = cluster.observers[0]!;
      expect(await obs.stop()).toBe(0);
      await pollUntil("node 4 gone from the brokers", 20_000, async () => {
        const md = await cluster.kcatMetadata(cluster.node(1));
        return md.brokers.every((b) => b.id !== 4) ? true : undefined;
      }, 200);
    }),
  );
});
