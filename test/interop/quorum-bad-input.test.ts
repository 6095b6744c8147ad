/**
 * Hostile and stale input on the controller listener of a real three-node quorum. Every
 * request below is one the quorum must refuse: a Vote, BeginQuorumEpoch or EndQuorumEpoch
 * from a node that is not a voter, a stale epoch, a wrong cluster id, a Fetch to a follower
 * or in an epoch that does not exist yet, and bytes that are not Kafka at all. Each gets its
 * Kafka error code, or a closed connection and a log line; afterwards the quorum has the
 * same leader and epoch, every voter's quorum-state file is byte for byte what it was, and
 * no process crashed.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NodeClient } from "../../src/client/node-client.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import type { RaftRequest, RaftResponse } from "../../src/raft/messages.ts";
import { raftRequestToWire, raftRequestVersions, raftResponseFromWire } from "../../src/raft/wire.ts";
import { guard, pollUntil } from "./broker-process.ts";
import { ClusterProcess } from "./cluster-process.ts";

setDefaultTimeout(120_000);

const zeroDir = "AAAAAAAAAAAAAAAAAAAAAA";
let cluster: ClusterProcess;
let leader = -1;
let epoch = -1;
let follower = -1;
const stateBefore = new Map<number, string>();

function quorumStateOf(id: number): string {
  return readFileSync(join(cluster.node(id).dataDir, "__cluster_metadata-0", "quorum-state"), "utf8");
}

async function leaderAndEpoch(): Promise<{ leader: number; epoch: number }> {
  const q = await cluster.describeQuorum(cluster.node(1));
  const p = q.topics[0]!.partitions[0]!;
  return { leader: p.leaderId, epoch: p.leaderEpoch };
}

beforeAll(async () => {
  cluster = new ClusterProcess({ nodes: 3, name: "quorum-bad" });
  await cluster.start();
  // Wait until the quorum is settled: one leader, every voter caught up to the high watermark.
  await pollUntil("a settled quorum", 20_000, async () => {
    const q = await cluster.describeQuorum(cluster.node(1));
    const p = q.topics[0]!.partitions[0]!;
    return p.currentVoters.length === 3 && p.currentVoters.every((v) => v.logEndOffset >= p.highWatermark) ? true : undefined;
  });
  ({ leader, epoch } = await leaderAndEpoch());
  follower = [1, 2, 3].find((id) => id !== leader)!;
  for (const id of [1, 2, 3]) stateBefore.set(id, quorumStateOf(id));
});

afterAll(async () => {
  if (cluster === undefined) return;
  expect(await cluster.dispose()).toEqual([]);
});

/** Sends one raft request to node `to`'s controller listener and decodes the answer. */
async function ask(to: number, request: RaftRequest): Promise<RaftResponse> {
  const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(3), config: { clientId: "bad-input-test" } });
  client.setEndpoint(to, { host: "127.0.0.1", port: cluster.controllerPorts[to - 1]!, listenerName: "CONTROLLER" });
  try {
    const wire = raftRequestToWire(request);
    const r = await client.send(to, wire.apiKey, wire.body as never, { minVersion: raftRequestVersions[wire.apiKey], timeoutMs: 10_000 });
    if (!r.ok) throw r.error;
    const decoded = raftResponseFromWire(request, r.body);
    if (!decoded.ok) return { type: "VoteResponse", requestId: request.requestId, errorCode: decoded.errorCode, leaderId: -1, leaderEpoch: -1, voteGranted: false, preVote: false };
    return decoded.value;
  } finally {
    client.close();
  }
}

/** Opens a raw TCP connection to a controller listener, writes `bytes`, and resolves once the node closes it. */
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

const g = (body: () => Promise<void>) => guard(() => cluster.node(leader), body);

const vote = (o: Partial<Extract<RaftRequest, { type: "VoteRequest" }>>): RaftRequest => ({
  type: "VoteRequest",
  requestId: 1,
  clusterId: cluster.clusterId,
  voterId: follower,
  voterDirectoryId: zeroDir,
  candidateEpoch: epoch + 5,
  candidateId: leader,
  candidateDirectoryId: zeroDir,
  lastOffsetEpoch: epoch + 4,
  lastOffset: 1_000_000,
  preVote: false,
  ...o,
});

describe("bad input on the controller listener", () => {
  test(
    "Vote: unknown candidate, wrong cluster id, stale epoch, wrong voter",
    g(async () => {
      expect((await ask(follower, vote({ candidateId: 99 }))).errorCode).toBe(ErrorCode.INCONSISTENT_VOTER_SET);
      expect((await ask(follower, vote({ candidateId: 99, preVote: true }))).errorCode).toBe(ErrorCode.INCONSISTENT_VOTER_SET);
      expect((await ask(follower, vote({ clusterId: "AAAAAAAAAAAAAAAAAAAAAB" }))).errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
      const stale = await ask(follower, vote({ candidateEpoch: epoch - 1, lastOffsetEpoch: epoch - 1 }));
      expect(stale.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
      expect(stale.type === "VoteResponse" && stale.voteGranted).toBe(false);
      expect((await ask(follower, vote({ voterId: leader }))).errorCode).toBe(ErrorCode.INVALID_VOTER_KEY);
    }),
  );

  test(
    "BeginQuorumEpoch and EndQuorumEpoch: unknown leader, stale epoch, wrong cluster id",
    g(async () => {
      const other = [1, 2, 3].find((id) => id !== leader && id !== follower)!;
      const begin = (o: Partial<Extract<RaftRequest, { type: "BeginQuorumEpochRequest" }>>): RaftRequest => ({
        type: "BeginQuorumEpochRequest",
        requestId: 2,
        clusterId: cluster.clusterId,
        voterId: follower,
        voterDirectoryId: zeroDir,
        leaderId: 99,
        leaderEpoch: epoch + 3,
        ...o,
      });
      expect((await ask(follower, begin({}))).errorCode).toBe(ErrorCode.INCONSISTENT_VOTER_SET);
      expect((await ask(follower, begin({ leaderId: other, leaderEpoch: epoch - 1 }))).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
      expect((await ask(follower, begin({ leaderId: other, clusterId: "AAAAAAAAAAAAAAAAAAAAAB" }))).errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
      const end = (o: Partial<Extract<RaftRequest, { type: "EndQuorumEpochRequest" }>>): RaftRequest => ({
        type: "EndQuorumEpochRequest",
        requestId: 3,
        clusterId: cluster.clusterId,
        leaderId: 99,
        leaderEpoch: epoch,
        preferredCandidates: [],
        ...o,
      });
      expect((await ask(follower, end({}))).errorCode).toBe(ErrorCode.INCONSISTENT_VOTER_SET);
      expect((await ask(follower, end({ leaderId: leader, leaderEpoch: epoch - 1 }))).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
      expect((await ask(follower, end({ leaderId: leader, clusterId: "AAAAAAAAAAAAAAAAAAAAAB" }))).errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    }),
  );

  test(
    "Fetch: wrong cluster id, stale and future epochs, to a follower",
    g(async () => {
      const fetch = (o: Partial<Extract<RaftRequest, { type: "FetchRequest" }>>): RaftRequest => ({
        type: "FetchRequest",
        requestId: 4,
        clusterId: cluster.clusterId,
        replicaId: 99,
        replicaDirectoryId: zeroDir,
        currentLeaderEpoch: epoch,
        fetchOffset: 0,
        lastFetchedEpoch: -1,
        maxBytes: 1024,
        maxWaitMs: 0,
        ...o,
      });
      expect((await ask(leader, fetch({ clusterId: "AAAAAAAAAAAAAAAAAAAAAB" }))).errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
      expect((await ask(leader, fetch({ currentLeaderEpoch: epoch - 1 }))).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
      expect((await ask(leader, fetch({ currentLeaderEpoch: epoch + 7 }))).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
      expect((await ask(follower, fetch({}))).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      // A fetch from a non-voter (an observer) in the right epoch is served: records from offset 0.
      const served = await ask(leader, fetch({}));
      expect(served.errorCode).toBe(ErrorCode.NONE);
      expect(served.type === "FetchResponse" && served.records.length).toBeGreaterThan(0);
    }),
  );

  test(
    "bytes that are not Kafka close the connection with a log line",
    g(async () => {
      const huge = new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
      expect(await rawUntilClosed(follower, huge)).toBe("closed");
      const junk = new Uint8Array(64);
      new DataView(junk.buffer).setInt32(0, 60);
      for (let i = 4; i < junk.length; i++) junk[i] = (i * 37) & 0xff;
      expect(await rawUntilClosed(follower, junk)).toBe("closed");
      // The process writes its log line as it closes; the pipe to this test may deliver it a
      // moment after the close, so read until both lines are there (or the deadline passes).
      const closesOf = () =>
        cluster
          .node(follower)
          .stderr()
          .split("\n")
          .filter((l) => /listener=CONTROLLER/.test(l) && /level=warn/.test(l) && /closing connection/.test(l));
      const sawSize = (ls: string[]) => ls.some((l) => /invalid request frame size/.test(l) && /size=2147483647/.test(l));
      const sawApi = (ls: string[]) => ls.some((l) => /protocol violation/.test(l) && /unknown api key/.test(l));
      const closes = await pollUntil("both close lines in the follower's log", 5_000, () => {
        const ls = closesOf();
        return sawSize(ls) && sawApi(ls) ? ls : undefined;
      }).catch(() => closesOf());
      expect(sawSize(closes)).toBe(true);
      expect(sawApi(closes)).toBe(true);
    }),
  );

  test(
    "afterwards: same leader and epoch, quorum-state files unchanged, every node alive",
    g(async () => {
      expect(await leaderAndEpoch()).toEqual({ leader, epoch });
      for (const id of [1, 2, 3]) {
        expect(cluster.node(id).alive()).toBe(true);
        expect(quorumStateOf(id)).toBe(stateBefore.get(id)!);
      }
    }),
  );
});
