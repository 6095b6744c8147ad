/**
 * A consumer group survives the loss of its coordinator's broker, on real processes: three
 * combined nodes on 127.0.0.1 with offsets.topic.replication.factor=3 (and
 * broker.session.timeout.ms=3000, broker.heartbeat.interval.ms=500), a topic with replication
 * factor 3, and one kafkajs 2.x consumer (unmodified, manual commits) in a group.
 *
 * The consumer reads the first 200 records and commits up to 150; the group's coordinator (the
 * leader of its `__consumer_offsets` partition, as FindCoordinator names it) is SIGKILLed; 100
 * more records are produced. Checked: FindCoordinator names another broker; the same consumer,
 * still running, goes on to the end — every record consumed, none skipped; records below the
 * committed 150 never again (re-delivery, when the group rejoins, only of uncommitted ones:
 * 150 on); the committed offsets are intact on the new coordinator (150, then the final
 * commit of 300), and still there once the killed broker is back.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { Kafka, logLevel } from "kafkajs";
import { NodeClient } from "../../src/client/node-client.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultFindCoordinatorRequest } from "../../src/protocol/messages/find-coordinator-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { pollUntil } from "./broker-process.ts";
import { ClusterProcess } from "./cluster-process.ts";

setDefaultTimeout(180_000);

const topic = "events";
const groupId = "failover-group";
const firstRecords = 200;
const committedBeforeKill = 150;
const totalRecords = 300;
let cluster: ClusterProcess;

beforeAll(async () => {
  cluster = new ClusterProcess({
    nodes: 3,
    name: "coord-failover",
    sets: {
      "broker.session.timeout.ms": "3000",
      "broker.heartbeat.interval.ms": "500",
      "offsets.topic.replication.factor": "3",
      "offsets.topic.num.partitions": "5",
      "group.initial.rebalance.delay.ms": "0",
    },
  });
  await cluster.start();
});

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

function kafka(clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: cluster.nodes.map((n) => n.bootstrap),
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    connectionTimeout: 2000,
    requestTimeout: 10_000,
  });
}

/** FindCoordinator for the group through a live node: the node id, or undefined (not available yet). */
async function findCoordinator(): Promise<number | undefined> {
  const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(5) });
  const via = cluster.live()[0]!;
  client.setEndpoint(0, { host: "127.0.0.1", port: via.port, listenerName: "PLAINTEXT" });
  try {
    const r = await client.send(0, ApiKeys.FindCoordinator, { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: [groupId] }, { timeoutMs: 5_000 });
    const c = r.ok ? r.body.coordinators[0] : undefined;
    return c !== undefined && c.errorCode === ErrorCode.NONE ? c.nodeId : undefined;
  } finally {
    client.close();
  }
}

async function committedOffset(): Promise<number> {
  const admin = kafka("coord-failover-admin").admin();
  await admin.connect();
  try {
    const r = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Number(r[0]!.partitions.find((p) => p.partition === 0)!.offset);
  } finally {
    await admin.disconnect();
  }
}

test("a consumer group goes on through SIGKILL of its coordinator's broker: nothing skipped, nothing committed re-delivered, offsets intact", async () => {
  const admin = kafka("coord-failover-setup").admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
  await admin.disconnect();
  // Every node knows the topic before a client asks any of them (kafkajs gives up on UNKNOWN_TOPIC_OR_PARTITION at once).
  for (const n of cluster.nodes) {
    await pollUntil(`${topic} on ${n.name}`, 20_000, async () => ((await cluster.kcatMetadata(n)).topics.some((t) => t.topic === topic) ? true : undefined), 100);
  }
  const producer = kafka("coord-failover-producer").producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const produce = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i += 50) {
      const values = Array.from({ length: Math.min(50, to - i) }, (_, k) => ({ value: String(i + k) }));
      await producer.send({ topic, acks: -1, messages: values });
    }
  };
  await produce(0, firstRecords);

  const seen: number[] = [];
  let crashed: unknown = null;
  /** Runs kafkajs restarted itself after a retriable failure (a request to the dead broker that ran out of retries). */
  let restarts = 0;
  const consumer = kafka("coord-failover-consumer").consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    rebalanceTimeout: 10_000,
    maxWaitTimeInMs: 200,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  consumer.on(consumer.events.CRASH, (e) => {
    if (e.payload.restart) restarts++;
    else crashed = e.payload.error;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let committing: Promise<void> = Promise.resolve();
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const v = Number(message.value!.toString());
      seen.push(v);
      // Before the kill: commit at 50, 100, 150 (not at 200, so 150..199 stay uncommitted).
      if (v + 1 <= committedBeforeKill && (v + 1) % 50 === 0) {
        committing = consumer.commitOffsets([{ topic, partition: 0, offset: String(v + 1) }]);
        await committing;
      }
    },
  });
  await pollUntil("the first records consumed", 60_000, () => (seen.length >= firstRecords ? true : undefined), 100);
  await committing;
  expect(await committedOffset()).toBe(committedBeforeKill);

  const coordinator = await pollUntil("a coordinator", 10_000, findCoordinator, 100);
  const victim = cluster.node(coordinator);
  const killedAt = performance.now();
  await victim.kill();
  const next = await pollUntil("another coordinator", 30_000, async () => {
    const id = await findCoordinator().catch(() => undefined);
    return id !== undefined && id !== coordinator ? id : undefined;
  }, 200);
  const movedMs = Math.round(performance.now() - killedAt);
  await produce(firstRecords, totalRecords);
  await pollUntil("every record consumed", 90_000, () => (new Set(seen).size >= totalRecords || crashed !== null ? true : undefined), 200);
  expect(crashed).toBeNull();
  const consumedAt = Math.round(performance.now() - killedAt);

  // Nothing skipped; nothing below the committed offset again; repeats only of 150..199.
  const counts = new Map<number, number>();
  for (const v of seen) counts.set(v, (counts.get(v) ?? 0) + 1);
  const missing = Array.from({ length: totalRecords }, (_, v) => v).filter((v) => !counts.has(v));
  expect(missing).toEqual([]);
  expect(counts.size).toBe(totalRecords);
  // Every record from the committed 150 on is uncommitted until the final commit: a rejoin
  // (kafkajs restarts its consumer after a request to the dead broker ran out of retries)
  // resumes at 150, so any of them may come again; nothing below 150 may.
  const repeated = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
  expect(repeated.filter((v) => v < committedBeforeKill)).toEqual([]);
  // The offsets committed before the kill are on the new coordinator; a commit there works.
  expect(await committedOffset()).toBe(committedBeforeKill);
  await pollUntil("the final commit", 30_000, async () => {
    try {
      await consumer.commitOffsets([{ topic, partition: 0, offset: String(totalRecords) }]);
      return true;
    } catch {
      return undefined;
    }
  }, 500);
  expect(await committedOffset()).toBe(totalRecords);
  await consumer.disconnect();
  await producer.disconnect();

  // The killed broker comes back and follows; the offsets stay.
  await victim.restart();
  await pollUntil("the old coordinator's broker back", 30_000, async () => ((await findCoordinator().catch(() => undefined)) !== undefined ? true : undefined), 200);
  expect(await pollUntil("the committed offset", 30_000, () => committedOffset().catch(() => undefined), 500)).toBe(totalRecords);
  console.log(
    `coordinator n${coordinator} killed; FindCoordinator named n${next} after ${movedMs} ms; all ${totalRecords} records consumed ${consumedAt} ms after the kill; consumer restarts by kafkajs ${restarts}; re-delivered: ${repeated.length === 0 ? "none" : `${repeated.length} (${Math.min(...repeated)}..${Math.max(...repeated)})`}`,
  );
});
