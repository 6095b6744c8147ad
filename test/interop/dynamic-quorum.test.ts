/**
 * A dynamic controller quorum (KIP-853) formed on real processes, as an operator forms one
 * with `bunka storage format` and `bunka quorum`, all on 127.0.0.1:
 *
 * 1. Node 1 is formatted `--standalone`, nodes 2 and 3 `--no-initial-controllers`; all three
 *    name every controller in `controller.quorum.bootstrap.servers`. Node 1 alone is the
 *    quorum; 2 and 3 come up as observers (found the leader through the bootstrap servers).
 * 2. `bunka quorum add-controller` adds 2 then 3: DescribeQuorum lists three voters with
 *    their directory ids and endpoints.
 * 3. SIGKILL of the leader: another voter leads and a topic created through a survivor
 *    commits (the quorum of three still has a majority).
 * 4. `bunka quorum remove-controller` removes the dead voter: two voters remain, and the
 *    quorum still commits; the old node, restarted, follows as an observer.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { Kafka, logLevel } from "kafkajs";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { BrokerProcess, guard, pollUntil, repoRoot, run, text } from "./broker-process.ts";
import { freePorts, newClusterId } from "./cluster-process.ts";
import { NodeClient } from "../../src/client/node-client.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import type { DescribeQuorumResponse } from "../../src/protocol/messages/describe-quorum-response.ts";

setDefaultTimeout(180_000);

const mainPath = join(repoRoot, "src/main.ts");
const clusterId = newClusterId();
const ports = freePorts(6);
const clientPorts = ports.slice(0, 3);
const controllerPorts = ports.slice(3);
const bootstrapServers = controllerPorts.map((p) => `127.0.0.1:${p}`).join(",");
const nodes: BrokerProcess[] = [];

function settings(i: number): Record<string, string> {
  return {
    "node.id": String(i + 1),
    "process.roles": "broker,controller",
    "cluster.id": clusterId,
    "controller.quorum.bootstrap.servers": bootstrapServers,
    "controller.quorum.election.timeout.ms": "500",
    "controller.quorum.fetch.timeout.ms": "1000",
  };
}

/** Every setting of node i as a properties file (the CLI's add-controller reads the new controller's config). */
function propertiesFile(i: number): string {
  const n = nodes[i]!;
  const lines = [
    ...Object.entries(settings(i)).map(([k, v]) => `${k}=${v}`),
    `listeners=PLAINTEXT://127.0.0.1:${clientPorts[i]},CONTROLLER://127.0.0.1:${controllerPorts[i]}`,
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "controller.listener.names=CONTROLLER",
    `log.dirs=${n.dataDir}`,
  ];
  const path = join(n.dataDir, "..", `${n.name}.properties`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

async function bunka(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const r = await run(["bun", mainPath, ...args], { timeoutMs: 90_000 });
  return { code: r.code, out: text(r.stdout), err: r.stderr };
}

async function describeQuorum(via: BrokerProcess): Promise<DescribeQuorumResponse> {
  const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(7) });
  client.setEndpoint(0, { host: "127.0.0.1", port: via.port, listenerName: "PLAINTEXT" });
  try {
    const r = await client.send(0, ApiKeys.DescribeQuorum, { topics: [{ topicName: "__cluster_metadata", partitions: [{ partitionIndex: 0 }] }] }, { timeoutMs: 10_000 });
    if (!r.ok) throw r.error;
    return r.body;
  } finally {
    client.close();
  }
}

function votersOf(q: DescribeQuorumResponse): number[] {
  return (q.topics[0]?.partitions[0]?.currentVoters ?? []).map((v) => v.replicaId).sort((a, b) => a - b);
}

async function createTopic(via: BrokerProcess, topic: string): Promise<void> {
  const kafka = new Kafka({ clientId: "bunka-dq-test", brokers: [via.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 }, requestTimeout: 10_000 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
    const listed = await admin.listTopics();
    expect(listed).toContain(topic);
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++) nodes.push(new BrokerProcess({ name: `dq-n${i + 1}`, port: clientPorts[i]!, controllerPort: controllerPorts[i]!, sets: settings(i) }));
});

afterAll(async () => {
  const crashes = nodes.flatMap((n) => n.crashLines().map((l) => `${n.name}: ${l}`));
  for (const n of nodes) await n.dispose();
  expect(crashes).toEqual([]);
});

describe("a dynamic controller quorum on real processes", () => {
  let directoryIds: string[] = [];

  test(
    "formatted standalone, two more controllers added with bunka quorum add-controller",
    guard(
      () => nodes[0],
      async () => {
        // Bad flags are one line and a non-zero exit.
        const bad = await bunka(["storage", "format", "--cluster-id", clusterId, "--config", propertiesFile(0), "--initial-controllers", "1@127.0.0.1:1"]);
        expect(bad.code).toBe(2);
        expect(bad.err.trim().split("\n").length).toBe(1);
        for (let i = 0; i < 3; i++) {
          const f = await bunka(["storage", "format", "--cluster-id", clusterId, "--config", propertiesFile(i), i === 0 ? "--standalone" : "--no-initial-controllers"]);
          expect(f.code, f.err).toBe(0);
        }
        for (const n of nodes) await n.start();
        await pollUntil("node 1 alone to lead", 30_000, async () => {
          const q = await describeQuorum(nodes[0]!);
          return q.errorCode === ErrorCode.NONE && votersOf(q).join() === "1" && (q.topics[0]?.partitions[0]?.observers.length ?? 0) === 2 ? q : undefined;
        });
        for (const i of [1, 2]) {
          const via = i === 1 ? ["--bootstrap-server", nodes[0]!.bootstrap] : ["--bootstrap-controller", `127.0.0.1:${controllerPorts[0]}`];
          const added = await bunka(["quorum", "add-controller", ...via, "--config", propertiesFile(i)]);
          expect(added.code, added.err).toBe(0);
          expect(added.out).toContain(`added controller ${i + 1}`);
        }
        const q = await describeQuorum(nodes[1]!);
        expect(votersOf(q)).toEqual([1, 2, 3]);
        expect(q.nodes.map((n) => n.nodeId).sort()).toEqual([1, 2, 3]);
        expect(q.nodes.find((n) => n.nodeId === 3)!.listeners[0]!.port).toBe(controllerPorts[2]!);
        directoryIds = [1, 2, 3].map((id) => q.topics[0]!.partitions[0]!.currentVoters.find((v) => v.replicaId === id)!.replicaDirectoryId);
        const described = await bunka(["quorum", "describe", "--bootstrap-server", nodes[2]!.bootstrap]);
        expect(described.code, described.err).toBe(0);
        expect(described.out).toContain(`3@${directoryIds[2]}`);
        // Through a controller that does not lead: the tool goes on to the leader it names.
        const viaController = await bunka(["quorum", "describe", "--bootstrap-controller", `127.0.0.1:${controllerPorts[2]}`]);
        expect(viaController.code, viaController.err).toBe(0);
        expect(viaController.out).toMatch(/LeaderId:\s+1\n/);
        await createTopic(nodes[2]!, "dq-before");
      },
    ),
  );

  test(
    "SIGKILL of the leader: another voter leads and commits; the dead voter is removed; the rest still commits",
    guard(
      () => nodes[1],
      async () => {
        const leader = (await describeQuorum(nodes[1]!)).topics[0]!.partitions[0]!.leaderId;
        const victim = nodes[leader - 1]!;
        await victim.kill();
        const survivors = nodes.filter((n) => n !== victim);
        const q = await pollUntil("a new leader", 30_000, async () => {
          const d = await describeQuorum(survivors[0]!).catch(() => undefined);
          const id = d?.topics[0]?.partitions[0]?.leaderId ?? -1;
          return d !== undefined && d.errorCode === ErrorCode.NONE && id > 0 && id !== leader ? d : undefined;
        });
        expect(votersOf(q)).toEqual([1, 2, 3]);
        await createTopic(survivors[1]!, "dq-after-kill");
        const removed = await bunka(["quorum", "remove-controller", "--bootstrap-server", survivors[0]!.bootstrap, "--controller-id", String(leader), "--controller-directory-id", directoryIds[leader - 1]!]);
        expect(removed.code, removed.err).toBe(0);
        expect(votersOf(await describeQuorum(survivors[1]!))).toEqual([1, 2, 3].filter((id) => id !== leader));
        // Removing it again: VOTER_NOT_FOUND, one line, exit 1.
        const again = await bunka(["quorum", "remove-controller", "--bootstrap-server", survivors[0]!.bootstrap, "--controller-id", String(leader), "--controller-directory-id", directoryIds[leader - 1]!]);
        expect(again.code).toBe(1);
        expect(again.err).toContain("VOTER_NOT_FOUND");
        await createTopic(survivors[0]!, "dq-after-remove");
        // The removed node, restarted on its data, follows as an observer.
        await victim.start();
        await pollUntil("the removed node among the observers", 30_000, async () => {
          const d = await describeQuorum(survivors[0]!).catch(() => undefined);
          return d?.topics[0]?.partitions[0]?.observers.some((o) => o.replicaId === leader) === true ? d : undefined;
        });
      },
    ),
  );
});
