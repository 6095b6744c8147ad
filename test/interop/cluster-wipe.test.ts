/**
 * A voter of a static quorum (controller.quorum.voters, no directory ids) whose disk is wiped,
 * on three combined nodes as real processes (the unproven-voter rule: src/raft/raft-core.ts,
 * `#onVoteRequest`; the marker: src/raft/unproven.ts):
 *
 * 1. A fresh cluster opens unproven on every node and is proven by its first election (every
 *    voter's log is empty, so that election takes all three).
 * 2. A follower stopped, its whole data dir deleted, restarted with the same settings (the
 *    cluster id comes from cluster.id): it writes `quorum-unproven` (log line), catches up,
 *    is proven once a record commits after it caught up (marker removed, log line), and lists
 *    every topic.
 * 3. The sharp case: a topic committed on two voters while the third is down; both holders go
 *    down; one comes back with its `__cluster_metadata-0` deleted, beside the lagging voter.
 *    Plain Raft would let the lagging voter win with the wiped one's vote and lose the topic.
 *    Here neither of the two leads for several election timeouts (their quorum-state files
 *    never name a leader, the wiped one keeps its marker); once the other holder is back, it
 *    leads, and every node lists every topic.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { type BrokerProcess, guard, pollUntil } from "./broker-process.ts";
import { ClusterProcess } from "./cluster-process.ts";

setDefaultTimeout(180_000);

/** Kafka's default election timeout (ms): how long the sharp case waits per "round". */
const electionTimeoutMs = 1000;

let cluster: ClusterProcess;

beforeAll(async () => {
  cluster = new ClusterProcess({ nodes: 3, name: "wipe" });
  await cluster.start();
});

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

function metadataDir(n: BrokerProcess): string {
  return join(n.dataDir, "__cluster_metadata-0");
}

function hasMarker(n: BrokerProcess): boolean {
  return existsSync(join(metadataDir(n), "quorum-unproven"));
}

interface QuorumStateFile {
  leaderId: number;
  leaderEpoch: number;
  votedId: number;
}

function quorumState(n: BrokerProcess): QuorumStateFile | null {
  const path = join(metadataDir(n), "quorum-state");
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, "utf8")) as QuorumStateFile;
}

/** The broker's stderr since its latest start. */
function lastRun(n: BrokerProcess): string {
  const all = n.stderr();
  return all.slice(all.lastIndexOf("--- start #"));
}

function kafka(bootstrap: string): Kafka {
  return new Kafka({
    clientId: "bunka-wipe-test",
    brokers: bootstrap.split(","),
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 },
    connectionTimeout: 2000,
    requestTimeout: 10_000,
  });
}

async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  try {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false })).toBe(true);
  } finally {
    await admin.disconnect();
  }
}

async function listsTopics(via: BrokerProcess, topics: string[]): Promise<void> {
  await pollUntil(`${via.name} to list ${topics.join(", ")}`, 60_000, async () => {
    const md = await cluster.kcatMetadata(via);
    const names = new Set(md.topics.map((t) => t.topic));
    return topics.every((t) => names.has(t)) ? true : undefined;
  }, 250);
}

async function activeController(via: BrokerProcess): Promise<number> {
  return pollUntil("an active controller", 30_000, async () => {
    const q = await cluster.describeQuorum(via).catch(() => null);
    const leader = q?.errorCode === ErrorCode.NONE ? q.topics[0]?.partitions[0]?.leaderId : undefined;
    return leader !== undefined && leader >= 0 ? leader : undefined;
  }, 200);
}

/** Removes a stopped node's whole data dir (meta.properties included) and leaves it empty. */
function wipeDataDir(n: BrokerProcess): void {
  expect(n.alive()).toBe(false);
  rmSync(n.dataDir, { recursive: true, force: true });
  mkdirSync(n.dataDir);
}

const g = (body: () => Promise<void>) => guard(() => cluster.live()[0], body);
const topicsSoFar: string[] = [];

describe("a wiped voter of a static quorum (real processes)", () => {
  test(
    "a fresh cluster opens unproven on every node, and its first election proves them all",
    g(async () => {
      await pollUntil("every node to list three brokers", 30_000, async () => {
        const all = await Promise.all(cluster.nodes.map((n) => cluster.kcatMetadata(n)));
        return all.every((md) => md.brokers.length === 3) ? true : undefined;
      }, 200);
      await pollUntil("every marker gone", 20_000, () => (cluster.nodes.some(hasMarker) ? undefined : true), 100);
      for (const n of cluster.nodes) {
        expect(lastRun(n)).toContain("quorum voter unproven");
        expect(lastRun(n)).toContain("no quorum-state and an empty metadata log");
        expect(lastRun(n)).toContain("quorum voter proven");
      }
      await createTopic(cluster.bootstrap(), "w-first");
      topicsSoFar.push("w-first");
    }),
  );

  test(
    "a follower whose data dir is deleted comes back unproven, catches up, is proven by the next commit, and lists every topic",
    g(async () => {
      await createTopic(cluster.bootstrap(), "w-before-1");
      await createTopic(cluster.bootstrap(), "w-before-2");
      topicsSoFar.push("w-before-1", "w-before-2");
      const leader = await activeController(cluster.node(1));
      const victim = cluster.nodes.find((n) => n !== cluster.node(leader))!;
      for (const n of cluster.nodes) await listsTopics(n, topicsSoFar);

      expect(await victim.stop()).toBe(0);
      wipeDataDir(victim);
      // No cluster.id left on disk: the node formats its dir again from the cluster.id setting.
      await victim.restart();
      const unprovenLine = await pollUntil("the unproven log line", 20_000, () => lastRun(victim).split("\n").find((l) => l.includes("quorum voter unproven")), 50);
      expect(unprovenLine).toContain("no quorum-state and an empty metadata log");
      expect(existsSync(join(victim.dataDir, "meta.properties"))).toBe(true);

      // A record committed after it caught up proves it (an idle quorum would leave it unproven).
      const others = cluster.nodes.filter((n) => n !== victim);
      await createTopic(others.map((n) => n.bootstrap).join(","), "w-after");
      topicsSoFar.push("w-after");
      await pollUntil("the victim proven (marker removed)", 30_000, () => (!hasMarker(victim) && lastRun(victim).includes("quorum voter proven") ? true : undefined), 100);
      const provenLine = lastRun(victim)
        .split("\n")
        .find((l) => l.includes("quorum voter proven"))!;
      // P3: it followed the leader it found (no election: it had no vote to give) and saw a commit past its catch-up.
      expect(provenLine).toContain("caught up with leader");
      expect(lastRun(victim).indexOf("quorum voter unproven")).toBeLessThan(lastRun(victim).indexOf("quorum voter proven"));
      await listsTopics(victim, topicsSoFar);

      // It counts again: DescribeQuorum lists it among the voters (its real key), caught up.
      const q = await cluster.describeQuorum(victim);
      const p = q.topics[0]!.partitions[0]!;
      await pollUntil("the victim among the caught-up voters", 20_000, async () => {
        const now = (await cluster.describeQuorum(victim)).topics[0]!.partitions[0]!;
        const v = now.currentVoters.find((x) => x.replicaId === cluster.nodes.indexOf(victim) + 1);
        return v !== undefined && v.logEndOffset >= p.highWatermark ? true : undefined;
      }, 200);
    }),
  );

  test(
    "a wiped voter beside a lagging one elects nobody and commits nothing; with the up-to-date voter back, no topic is lost",
    g(async () => {
      const [lagging, wiped, keeper] = cluster.nodes as [BrokerProcess, BrokerProcess, BrokerProcess];
      // 1. The lagging voter misses a topic that the other two commit.
      await lagging.kill();
      await createTopic([wiped, keeper].map((n) => n.bootstrap).join(","), "w-only-on-two");
      topicsSoFar.push("w-only-on-two");
      await listsTopics(wiped, topicsSoFar);
      await listsTopics(keeper, topicsSoFar);
      // 2. Both holders go down; one loses its metadata log (partition dirs and meta.properties stay).
      await keeper.kill();
      await wiped.kill();
      rmSync(metadataDir(wiped), { recursive: true, force: true });
      const epochBefore = Math.max(...[lagging, keeper].map((n) => quorumState(n)!.leaderEpoch));
      // 3. The wiped voter and the lagging one: plain Raft would elect the lagging one. A node
      // prints its ready line only once it has registered with a controller, so these starts
      // complete only after step 4 (within the helper's 30 s).
      const starting = [lagging.restart(), wiped.restart()];
      for (const s of starting) s.catch(() => {});
      await pollUntil("the marker in the wiped voter's dir", 20_000, () => (hasMarker(wiped) ? true : undefined), 50);
      const watchMs = 8 * electionTimeoutMs;
      const until = Date.now() + watchMs;
      let samples = 0;
      while (Date.now() < until) {
        for (const n of [lagging, wiped]) {
          const s = quorumState(n);
          // Nobody leads: no epoch after the ones they knew has a leader (it would be one of them).
          const newLeader = s !== null && s.leaderEpoch > epochBefore ? s.leaderId : -1;
          expect({ node: n.name, newLeader }).toEqual({ node: n.name, newLeader: -1 });
        }
        expect(hasMarker(wiped)).toBe(true);
        expect(lastRun(lagging)).not.toContain("role=leader");
        expect(lastRun(wiped)).not.toContain("role=leader");
        samples++;
        await Bun.sleep(250);
      }
      expect(samples).toBeGreaterThan(watchMs / 250 / 2);
      // The lagging voter did stand (and was refused): its epoch moved on.
      expect(lastRun(lagging)).toContain("quorum role changed");
      expect(lastRun(lagging)).toMatch(/role=(prospective|candidate)/);
      // 4. The other holder is back: it leads, the wiped one catches up, nothing is lost.
      await Promise.all([...starting, keeper.restart()]);
      await createTopic(cluster.bootstrap(), "w-last");
      topicsSoFar.push("w-last");
      for (const n of cluster.nodes) await listsTopics(n, topicsSoFar);
      await pollUntil("the wiped voter proven (marker removed)", 30_000, () => (!hasMarker(wiped) && lastRun(wiped).includes("quorum voter proven") ? true : undefined), 100);
    }),
  );
});
