/**
 * Metadata snapshots (KIP-630) on a real three-node quorum plus a broker-only observer, with
 * small snapshot and retention settings: a snapshot every 4 KiB of metadata log, retention
 * that keeps only the log after the newest snapshot, 16 KiB metadata log segments.
 *
 * 1. One voter (a follower) is stopped. Topics are created until the leader has snapshotted
 *    and deleted the log the stopped voter still needs (its oldest snapshot ends past the
 *    stopped voter's log end). Every running node, the observer too, has snapshot files.
 * 2. FetchSnapshot against the leader's real snapshot, and bad ones: wrong cluster id, an
 *    unknown snapshot id, a position past the end, a stale epoch, to a follower — each its
 *    Kafka error code; a request for another topic, and a frame too large, close the
 *    connection. Nothing changes: same leader and epoch, nobody crashed.
 * 3. The stopped voter restarts: the leader answers its Fetch with its snapshot id, it
 *    fetches the snapshot (FetchSnapshot), logs the install, has the snapshot file in its
 *    `__cluster_metadata-0` dir, and lists every topic through kcat.
 * 4. More changes: every node snapshots again (the one that installed the leader's snapshot
 *    too) and its metadata dir stays bounded: no segment lies wholly below the log start (the
 *    oldest snapshot's end), at most two snapshots are kept, the leader's first segments are
 *    gone.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { NodeClient } from "../../src/client/node-client.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../../src/protocol/messages/create-topics-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import type { FetchSnapshotResponse, RaftRequest, SnapshotId } from "../../src/raft/messages.ts";
import { raftRequestToWire, raftRequestVersions, raftResponseFromWire } from "../../src/raft/wire.ts";
import { type BrokerProcess, guard, pollUntil } from "./broker-process.ts";
import { ClusterProcess } from "./cluster-process.ts";

setDefaultTimeout(180_000);

const zeroDir = "AAAAAAAAAAAAAAAAAAAAAA";
const metadataDirName = "__cluster_metadata-0";
const topicsPerRequest = 10;
const topicsMax = 400;

let cluster: ClusterProcess;
let observer: BrokerProcess;
let leader = -1;
let epoch = -1;
let stopped = -1;
/** The stopped voter's metadata log end when it stopped. */
let stoppedLogEnd = -1;
const created: string[] = [];

/** Snapshot ids in a node's metadata dir (from the file names), oldest first. */
function snapshotsIn(dataDir: string): SnapshotId[] {
  const out: SnapshotId[] = [];
  for (const name of readdirSync(join(dataDir, metadataDirName))) {
    const m = /^([0-9]{20})-([0-9]{10})\.checkpoint$/.exec(name);
    if (m !== null) out.push({ endOffset: Number(m[1]), epoch: Number(m[2]) });
  }
  return out.sort((a, b) => a.endOffset - b.endOffset);
}

/** Base offsets of the metadata log's segment files, ascending. */
function segmentsIn(dataDir: string): number[] {
  return readdirSync(join(dataDir, metadataDirName))
    .filter((n) => /^[0-9]{20}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

function metadataDirBytes(dataDir: string): number {
  const dir = join(dataDir, metadataDirName);
  return readdirSync(dir).reduce((n, name) => n + statSync(join(dir, name)).size, 0);
}

async function quorum(): Promise<{ leader: number; epoch: number; voters: { replicaId: number; logEndOffset: number }[]; highWatermark: number }> {
  const via = cluster.live().find((n) => n.alive())!;
  const q = await cluster.describeQuorum(via);
  const p = q.topics[0]!.partitions[0]!;
  return { leader: p.leaderId, epoch: p.leaderEpoch, voters: p.currentVoters.map((v) => ({ replicaId: v.replicaId, logEndOffset: v.logEndOffset })), highWatermark: p.highWatermark };
}

/** One CreateTopics of `names` (1 partition, replication factor 1) through node `via`'s client listener. */
async function createTopics(via: BrokerProcess, names: string[]): Promise<void> {
  const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(5), config: { clientId: "snapshot-test" } });
  client.setEndpoint(0, { host: "127.0.0.1", port: via.port, listenerName: "PLAINTEXT" });
  try {
    const r = await client.send(
      0,
      ApiKeys.CreateTopics,
      { ...defaultCreateTopicsRequest(), timeoutMs: 10_000, topics: names.map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })) },
      { timeoutMs: 15_000 },
    );
    if (!r.ok) throw r.error;
    for (const t of r.body.topics) expect({ name: t.name, errorCode: t.errorCode, message: t.errorMessage }).toEqual({ name: t.name, errorCode: ErrorCode.NONE, message: null });
  } finally {
    client.close();
  }
}

/** Sends one raft request to node `to`'s controller listener and decodes the answer. */
async function askSnapshot(to: number, request: RaftRequest): Promise<FetchSnapshotResponse> {
  const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(3), config: { clientId: "snapshot-bad-input" } });
  client.setEndpoint(to, { host: "127.0.0.1", port: cluster.controllerPorts[to - 1]!, listenerName: "CONTROLLER" });
  try {
    const wire = raftRequestToWire(request);
    const r = await client.send(to, wire.apiKey, wire.body as never, { minVersion: raftRequestVersions[wire.apiKey], timeoutMs: 10_000 });
    if (!r.ok) throw r.error;
    const decoded = raftResponseFromWire(request, r.body);
    if (!decoded.ok) throw new Error(`undecodable FetchSnapshot answer: ${JSON.stringify(decoded)}`);
    expect(decoded.value.type).toBe("FetchSnapshotResponse");
    return decoded.value as FetchSnapshotResponse;
  } finally {
    client.close();
  }
}

/** Writes `bytes` on a raw connection to a controller listener; resolves once the node closes it. */
async function rawUntilClosed(to: number, bytes: Uint8Array): Promise<"closed" | "open"> {
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  const socket = await Bun.connect({ hostname: "127.0.0.1", port: cluster.controllerPorts[to - 1]!, socket: { data() {}, close: () => closed(), error: () => closed() } });
  socket.write(bytes);
  socket.flush();
  const outcome = await Promise.race([done.then(() => "closed" as const), Bun.sleep(10_000).then(() => "open" as const)]);
  socket.end();
  return outcome;
}

beforeAll(async () => {
  cluster = new ClusterProcess({
    nodes: 3,
    name: "snapshot",
    sets: {
      "metadata.log.max.record.bytes.between.snapshots": "4096",
      "metadata.max.retention.bytes": "0",
      "metadata.log.segment.bytes": "16384",
    },
  });
  await cluster.start();
  observer = await cluster.addObserver(4);
  await pollUntil("a settled quorum", 30_000, async () => {
    const q = await quorum();
    return q.voters.length === 3 && q.voters.every((v) => v.logEndOffset >= q.highWatermark) ? true : undefined;
  });
});

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

const g = (body: () => Promise<void>) => guard(() => (leader > 0 ? cluster.node(leader) : cluster.node(1)), body);

describe("metadata snapshots on a real quorum", () => {
  test(
    "a stopped voter falls behind the leader's log start: the leader snapshotted and deleted the log it needs",
    g(async () => {
      ({ leader, epoch } = await quorum());
      stopped = [1, 2, 3].find((id) => id !== leader)!;
      expect(await cluster.node(stopped).stop()).toBe(0);
      // What it last fetched, as the leader saw it.
      stoppedLogEnd = (await quorum()).voters.find((v) => v.replicaId === stopped)!.logEndOffset;
      expect(stoppedLogEnd).toBeGreaterThan(0);
      const via = cluster.node(leader);
      const started = performance.now();
      while (created.length < topicsMax) {
        const names = Array.from({ length: topicsPerRequest }, (_, i) => `snap-${created.length + i}`);
        await createTopics(via, names);
        created.push(...names);
        const oldest = snapshotsIn(via.dataDir)[0];
        if (oldest !== undefined && oldest.endOffset > stoppedLogEnd && created.length >= 100) break;
      }
      const snapshots = snapshotsIn(via.dataDir);
      console.log(
        `snapshots: ${created.length} topics created in ${(performance.now() - started).toFixed(0)} ms; leader n${leader} keeps ${snapshots.map((s) => `${s.endOffset}-${s.epoch}`).join(", ")}, ` +
          `segments from ${segmentsIn(via.dataDir).join(", ")}; the stopped voter n${stopped} ended at ${stoppedLogEnd}`,
      );
      expect(snapshots[0]!.endOffset).toBeGreaterThan(stoppedLogEnd);
      // Every running node snapshots its own image, the broker-only observer too.
      for (const n of [...cluster.live(), observer]) {
        await pollUntil(`${n.name} has a snapshot`, 10_000, () => (snapshotsIn(n.dataDir).length > 0 ? true : undefined));
        expect(n.stderr()).toContain('msg="metadata snapshot taken"');
      }
    }),
  );

  test(
    "FetchSnapshot: the leader serves its snapshot; bad requests get Kafka error codes or a closed connection, and change nothing",
    g(async () => {
      const latest = snapshotsIn(cluster.node(leader).dataDir).at(-1)!;
      const follower = [1, 2, 3].find((id) => id !== leader && id !== stopped)!;
      const request = (o: Partial<Extract<RaftRequest, { type: "FetchSnapshotRequest" }>>): RaftRequest => ({
        type: "FetchSnapshotRequest",
        requestId: 1,
        clusterId: cluster.clusterId,
        replicaId: 99,
        replicaDirectoryId: zeroDir,
        currentLeaderEpoch: epoch,
        snapshotId: latest,
        position: 0,
        maxBytes: 0x7fff_ffff,
        ...o,
      });
      const served = await askSnapshot(leader, request({}));
      expect(served.errorCode).toBe(ErrorCode.NONE);
      expect(served.size).toBe(statSync(join(cluster.node(leader).dataDir, metadataDirName, `${String(latest.endOffset).padStart(20, "0")}-${String(latest.epoch).padStart(10, "0")}.checkpoint`)).size);
      // One chunk is at most the fetch limit, which a 16 KiB metadata segment caps (quorum.ts).
      expect(served.unalignedRecords.length).toBe(Math.min(served.size, 16384));
      const tail = await askSnapshot(leader, request({ position: served.size - 10, maxBytes: 4 }));
      expect({ errorCode: tail.errorCode, position: tail.position, bytes: tail.unalignedRecords.length }).toEqual({ errorCode: ErrorCode.NONE, position: served.size - 10, bytes: 4 });

      expect((await askSnapshot(leader, request({ clusterId: "AAAAAAAAAAAAAAAAAAAAAB" }))).errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
      expect((await askSnapshot(leader, request({ snapshotId: { endOffset: latest.endOffset + 1, epoch: latest.epoch } }))).errorCode).toBe(ErrorCode.SNAPSHOT_NOT_FOUND);
      expect((await askSnapshot(leader, request({ snapshotId: { endOffset: 1, epoch: 0 } }))).errorCode).toBe(ErrorCode.SNAPSHOT_NOT_FOUND);
      expect((await askSnapshot(leader, request({ position: served.size }))).errorCode).toBe(ErrorCode.POSITION_OUT_OF_RANGE);
      expect((await askSnapshot(leader, request({ currentLeaderEpoch: epoch - 1 }))).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
      expect((await askSnapshot(leader, request({ currentLeaderEpoch: epoch + 3 }))).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
      expect((await askSnapshot(follower, request({}))).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);

      // Another topic than the metadata log's: a protocol violation, the connection closes.
      const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(4), config: { clientId: "snapshot-bad-input" } });
      client.setEndpoint(leader, { host: "127.0.0.1", port: cluster.controllerPorts[leader - 1]!, listenerName: "CONTROLLER" });
      try {
        const wire = raftRequestToWire(request({}));
        const body = wire.body as { topics: { name: string }[] };
        const r = await client.send(leader, ApiKeys.FetchSnapshot, { ...body, topics: body.topics.map((t) => ({ ...t, name: "other" })) } as never, { minVersion: 1, timeoutMs: 10_000 });
        expect(r.ok).toBe(false);
      } finally {
        client.close();
      }
      // A FetchSnapshot frame announcing 200 MB (past socket.request.max.bytes): closed.
      const frame = new Uint8Array(16);
      const dv = new DataView(frame.buffer);
      dv.setInt32(0, 200_000_000);
      dv.setInt16(4, ApiKeys.FetchSnapshot);
      dv.setInt16(6, 1);
      dv.setInt32(8, 7);
      expect(await rawUntilClosed(leader, frame)).toBe("closed");
      await pollUntil("the leader's close lines", 5_000, () => {
        const lines = cluster.node(leader).stderr().split("\n").filter((l) => /listener=CONTROLLER/.test(l) && /closing connection/.test(l));
        return lines.some((l) => /malformed quorum request/.test(l) || /protocol violation/.test(l)) && lines.some((l) => /invalid request frame size/.test(l)) ? true : undefined;
      });

      const after = await quorum();
      expect({ leader: after.leader, epoch: after.epoch }).toEqual({ leader, epoch });
      expect(cluster.live().length).toBe(2);
    }),
  );

  test(
    "the stopped voter restarts: it installs the leader's snapshot (FetchSnapshot), then lists every topic",
    g(async () => {
      const node = cluster.node(stopped);
      const leaderStart = snapshotsIn(cluster.node(leader).dataDir)[0]!.endOffset;
      const started = performance.now();
      await node.restart();
      const loadedLine = await pollUntil("the restarted voter installs the leader's snapshot", 30_000, () =>
        node
          .stderr()
          .split("\n")
          .find((l) => l.includes('msg="metadata snapshot loaded from the leader"')),
      );
      const installed = snapshotsIn(node.dataDir);
      expect(installed.length).toBeGreaterThan(0);
      expect(installed.at(-1)!.endOffset).toBeGreaterThanOrEqual(leaderStart);
      await pollUntil("kcat through the restarted voter lists every topic", 30_000, async () => {
        const listed = new Set((await cluster.kcatMetadata(node)).topics.map((t) => t.topic));
        return created.every((t) => listed.has(t)) ? true : undefined;
      });
      console.log(`snapshots: n${stopped} restarted, installed ${installed.map((s) => `${s.endOffset}-${s.epoch}`).join(",")} and listed ${created.length} topics in ${(performance.now() - started).toFixed(0)} ms (${loadedLine.slice(loadedLine.indexOf("msg="))})`);
      // The observer lists them too (it kept up, from its own log).
      const listed = new Set((await cluster.kcatMetadata(observer)).topics.map((t) => t.topic));
      expect(created.filter((t) => !listed.has(t))).toEqual([]);
    }),
  );

  test(
    "the long-running leader's metadata dir stays bounded: no segment below the oldest snapshot, at most two snapshots",
    g(async () => {
      // More changes, so every node (the one that installed the leader's snapshot too)
      // snapshots again and retention runs again.
      const before = Math.max(...[...cluster.nodes, observer].map((n) => snapshotsIn(n.dataDir).at(-1)!.endOffset));
      for (let i = 0; i < 5; i++) {
        const names = Array.from({ length: topicsPerRequest }, (_, j) => `more-${i * topicsPerRequest + j}`);
        await createTopics(cluster.node(leader), names);
        created.push(...names);
      }
      for (const n of [...cluster.nodes, observer]) {
        await pollUntil(`${n.name} snapshots past ${before}`, 10_000, () => (snapshotsIn(n.dataDir)[0]!.endOffset > before ? true : undefined));
        const snapshots = snapshotsIn(n.dataDir);
        const segments = segmentsIn(n.dataDir);
        const logStart = snapshots[0]!.endOffset;
        expect(snapshots.length).toBeLessThanOrEqual(2);
        // Only the first segment may start below the log start (it holds it); none lies wholly below.
        expect(segments.slice(1).every((base) => base > logStart)).toBe(true);
        console.log(`snapshots: ${n.name}: ${snapshots.length} snapshot(s) from ${logStart}, ${segments.length} segment(s) from ${segments[0]}, ${metadataDirBytes(n.dataDir)} bytes in ${metadataDirName}`);
      }
      // The leader's first segments (from offset 0) are gone.
      expect(segmentsIn(cluster.node(leader).dataDir)[0]).toBeGreaterThan(0);
      expect(metadataDirBytes(cluster.node(leader).dataDir)).toBeLessThan(1024 * 1024);
    }),
  );
});
