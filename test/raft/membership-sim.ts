/**
 * A deterministic simulator of a dynamic controller quorum (KIP-853) changing its voter set
 * under faults: the real RaftCore and PartitionRaftLog of every node, each on its own
 * simulated disk, one simulated clock, a simulated network (per-message delay, drops,
 * duplicates, partitions of single nodes) and power losses, all driven by one seed.
 *
 * Shape: `nodes` nodes. Node 0 is formatted standalone (the only initial voter); the others
 * have no bootstrap voters (`--no-initial-controllers`) and find the leader through the
 * bootstrap servers (pseudo ids -2.. standing for every node, as an operator lists every controller). An operator asks the leader,
 * every so often, to add a node that is not a voter or to remove a voter (the leader's own
 * rules decide: most attempts are refused while a change is in flight or a node lags).
 * Clients propose records on the leader.
 *
 * Checked after every event:
 * - at most one leader per epoch;
 * - a committed record is never lost or changed: every batch below a node's high watermark
 *   equals the batch the committing leader had there (offset, epoch and CRC);
 * - every log's voter sets change by one voter at a time (no two disjoint majorities), and
 *   the leader never has two changes uncommitted;
 * - after the faults stop, a leader is elected and commits a new record within a bound.
 * A failing seed prints the command that replays it.
 */
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { uuidBytesToText } from "../../src/protocol/codec/uuid.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { walkBatches } from "../../src/protocol/records/record-batch.ts";
import { defaultRaftConfig, type RaftConfig } from "../../src/raft/config.ts";
import type { RaftMessage } from "../../src/raft/messages.ts";
import { RaftCore } from "../../src/raft/raft-core.ts";
import { PartitionRaftLog, raftLogConfig } from "../../src/raft/raft-log.ts";
import { type Voter, voterSetChange, votersInBatches } from "../../src/raft/voter-set.ts";

export interface MembershipSimOptions {
  readonly seed: number;
  /** Fault steps (each a random fault or operator action, then some simulated time). */
  readonly steps: number;
  readonly nodes?: number;
  readonly trace?: (line: string) => void;
}

export interface MembershipSimResult {
  readonly ok: boolean;
  readonly failure: string | null;
  readonly committedOffset: number;
  readonly added: number;
  readonly removed: number;
  readonly leaders: number;
  readonly finalVoters: readonly number[];
  readonly simulatedMs: number;
}

export class MembershipInvariantViolation extends Error {}

const metadataDir = "/data/__cluster_metadata-0";
const clusterId = "membership-sim-AAAAAAAA";
const config: RaftConfig = { ...defaultRaftConfig, electionTimeoutMs: 300, fetchTimeoutMs: 600, electionBackoffMaxMs: 300, requestTimeoutMs: 400, fetchMaxWaitMs: 100 };

interface Node {
  readonly id: number;
  readonly directoryId: string;
  readonly fs: SimFileSystem;
  log: PartitionRaftLog | null;
  core: RaftCore | null;
  /** Down (crashed, not restarted yet) until this time. */
  downUntilMs: number;
  /** Cut off from every other node until this time. */
  isolatedUntilMs: number;
  lives: number;
}

interface InFlight {
  readonly atMs: number;
  readonly seq: number;
  readonly from: number;
  readonly to: number;
  /** How the receiver sees the sender: a bootstrap pseudo id for answers to a request sent to one. */
  readonly fromAs: number;
  readonly message: RaftMessage;
}

function voterOf(n: Node): Voter {
  return { id: n.id, directoryId: n.directoryId, endpoints: [{ name: "CONTROLLER", host: `node-${n.id}`, port: 9093 }] };
}

export function replayMembershipCommand(seed: number, steps: number): string {
  return `bun test/raft/membership-sim-main.ts --seed ${seed} --steps ${steps} --trace`;
}

export function runMembershipSimulation(opts: MembershipSimOptions): MembershipSimResult {
  const prng = new SeededPrng(opts.seed);
  const clock = new SimClock();
  const count = opts.nodes ?? 5;
  const bootstrapIds = Array.from({ length: count }, (_, i) => -2 - i);
  const pseudoToNode = (id: number): number => -id - 2;
  const trace = opts.trace ?? ((): void => {});
  const nodes: Node[] = [];
  for (let id = 0; id < count; id++) {
    const dir = new Uint8Array(16).fill(0x10 + id);
    dir[0] = opts.seed & 0xff;
    nodes.push({ id, directoryId: uuidBytesToText(dir, 0), fs: new SimFileSystem(new SeededPrng(opts.seed * 31 + id), clock), log: null, core: null, downUntilMs: 0, isolatedUntilMs: 0, lives: 0 });
  }
  let queue: InFlight[] = [];
  let seq = 0;
  /** Requests sent to a bootstrap pseudo id: `${sender}:${requestId}` → pseudo id, so the answer comes from it. */
  const viaPseudo = new Map<string, number>();
  const leaderOfEpoch = new Map<number, number>();
  /** Committed batches: base offset → `${last}:${epoch}:${crc}`, as the leader had them. */
  const committed = new Map<number, string>();
  let committedEnd = 0;
  let added = 0;
  let removed = 0;
  let proposals = 0;

  const now = (): number => clock.monotonicMs();
  const fail = (what: string, detail: string): never => {
    throw new MembershipInvariantViolation(`${what}: ${detail}`);
  };

  const open = (n: Node): void => {
    n.lives++;
    n.log = PartitionRaftLog.open({ fs: n.fs, clock, dir: metadataDir, config: raftLogConfig({ segmentBytes: 64 * 1024 }) });
    n.core = RaftCore.open({
      clusterId,
      local: { id: n.id, directoryId: n.directoryId },
      voters: [],
      dynamic: { bootstrapVoters: n.id === 0 ? [voterOf(n)] : null, bootstrapServerIds: bootstrapIds, listenerName: "CONTROLLER" },
      config,
      fs: n.fs,
      metadataDir,
      log: n.log,
      prng: new SeededPrng(opts.seed * 1009 + n.id * 17 + n.lives),
      clock,
      nowMs: now(),
    });
    drainOutputs(n);
  };

  const send = (from: Node, to: number, message: RaftMessage): void => {
    let target = to;
    if (to <= -2) {
      target = pseudoToNode(to);
      viaPseudo.set(`${from.id}:${message.requestId}`, to);
    }
    if (target < 0 || target >= count) return;
    if (prng.int(100) < 3) return; // dropped
    const copies = prng.int(100) < 2 ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let fromAs = from.id;
      if (message.type.endsWith("Response")) {
        const key = `${target}:${message.requestId}`;
        const pseudo = viaPseudo.get(key);
        if (pseudo !== undefined && pseudoToNode(pseudo) === from.id) fromAs = pseudo;
      }
      queue.push({ atMs: now() + 1 + prng.int(15), seq: seq++, from: from.id, to: target, fromAs, message });
    }
  };

  const drainOutputs = (n: Node): void => {
    const core = n.core;
    if (core === null) return;
    for (const o of core.takeOutputs()) {
      switch (o.kind) {
        case "send":
          send(n, o.to, o.message);
          break;
        case "roleChanged":
          trace(`${now()} n${n.id} ${o.role} epoch ${o.epoch} leader ${o.leaderId}: ${o.reason}`);
          if (o.role === "leader") {
            const had = leaderOfEpoch.get(o.epoch);
            if (had !== undefined && had !== n.id) fail("one leader per epoch", `n${n.id} and n${had} lead epoch ${o.epoch}`);
            leaderOfEpoch.set(o.epoch, n.id);
          }
          break;
        case "committed":
          if (o.byLeader) recordCommit(n, o.highWatermark);
          break;
        case "votersChanged":
          trace(`${now()} n${n.id} voters ${o.voters.map((v) => v.id).join(",")}: ${o.reason}`);
          break;
        default:
          break;
      }
    }
  };

  const batchesOf = (log: PartitionRaftLog, from: number, to: number): { base: number; id: string; bytes: Uint8Array }[] => {
    const out: { base: number; id: string; bytes: Uint8Array }[] = [];
    let offset = Math.max(from, log.logStartOffset);
    while (offset < Math.min(to, log.logEndOffset)) {
      const r = log.read(offset, 1 << 20);
      if (r.kind !== "ok") fail("readable log", `${r.detail}`);
      const walk = walkBatches(r.kind === "ok" ? r.records : new Uint8Array(0), { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: 1 << 20 });
      if (walk.batches.length === 0) break;
      for (const b of walk.batches) {
        const last = b.baseOffset + b.lastOffsetDelta;
        if (b.baseOffset >= to) return out;
        out.push({ base: b.baseOffset, id: `${last}:${b.partitionLeaderEpoch}:${b.crc}`, bytes: b.bytes });
        offset = last + 1;
      }
    }
    return out;
  };

  const recordCommit = (leader: Node, hw: number): void => {
    if (hw <= committedEnd) return;
    for (const b of batchesOf(leader.log!, committedEnd, hw)) {
      const had = committed.get(b.base);
      if (had !== undefined && had !== b.id) fail("committed never changes", `n${leader.id} committed ${b.id} at ${b.base}, was ${had}`);
      committed.set(b.base, b.id);
    }
    committedEnd = hw;
  };

  const checkLogs = (): void => {
    for (const n of nodes) {
      const core = n.core;
      const log = n.log;
      if (core === null || log === null) continue;
      const upTo = Math.min(core.highWatermark, committedEnd);
      for (const b of batchesOf(log, log.logStartOffset, upTo)) {
        const want = committed.get(b.base);
        if (want !== undefined && want !== b.id) fail("committed never lost", `n${n.id} has ${b.id} at ${b.base}, committed was ${want}`);
      }
      // Voter sets in the log change by one voter at a time, and at most one is uncommitted.
      let prev: readonly Voter[] | null = null;
      let uncommitted = 0;
      for (const b of batchesOf(log, log.logStartOffset, log.logEndOffset)) {
        for (const f of votersInBatches(b.bytes, b.bytes.length)) {
          // Above what any leader has committed (a node's own high watermark may trail it).
          if (f.offset >= committedEnd && ++uncommitted > 1) {
            fail("one voter change in flight", `n${n.id} (${core.role.kind}): a second uncommitted voter set at ${f.offset} (committed end ${committedEnd})`);
          }
          if (prev !== null && voterSetChange(prev, f.voters).kind === "other") {
            fail("one voter change at a time", `n${n.id}: voters ${prev.map((v) => v.id).join(",")} then ${f.voters.map((v) => v.id).join(",")} at ${f.offset}`);
          }
          prev = f.voters;
        }
      }
    }
  };

  const deliverDue = (untilMs: number): void => {
    for (;;) {
      queue.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
      const next = queue[0];
      if (next === undefined || next.atMs > untilMs) return;
      queue.shift();
      if (next.atMs > now()) clock.advance(next.atMs - now());
      tickAll();
      const to = nodes[next.to]!;
      const from = nodes[next.from]!;
      if (to.core === null || to.isolatedUntilMs > now() || from.isolatedUntilMs > now()) continue;
      to.core.tick(now());
      to.core.receive(next.fromAs, next.message);
      drainOutputs(to);
    }
  };

  const tickAll = (): void => {
    for (const n of nodes) {
      if (n.core === null && n.downUntilMs <= now()) open(n);
      if (n.core === null) continue;
      n.core.tick(now());
      drainOutputs(n);
    }
  };

  const runFor = (ms: number): void => {
    const end = now() + ms;
    while (now() < end) {
      const step = Math.min(5, end - now());
      deliverDue(now() + step);
      clock.advance(Math.max(0, Math.min(step, end - now())));
      tickAll();
      checkLogs();
    }
  };

  const leader = (): Node | null => nodes.find((n) => n.core?.role.kind === "leader") ?? null;

  const propose = (): void => {
    const l = leader();
    if (l === null) return;
    const value = new TextEncoder().encode(`r${proposals++}`);
    l.core!.propose(buildRecordBatch([{ key: null, value, timestamp: clock.nowMs() }]));
    drainOutputs(l);
  };

  const operate = (): void => {
    const l = leader();
    if (l === null) return;
    const voters = l.core!.voterSet;
    const candidates = nodes.filter((n) => !voters.some((v) => v.id === n.id));
    if ((prng.int(2) === 0 || voters.length <= 1) && candidates.length > 0) {
      const n = candidates[prng.int(candidates.length)]!;
      const r = l.core!.addVoter(voterOf(n));
      trace(`${now()} operator: add n${n.id} on n${l.id}: ${r.kind === "appended" ? `appended at ${r.offset}` : r.message}`);
      if (r.kind === "appended") added++;
    } else if (voters.length > 1) {
      const v = voters[prng.int(voters.length)]!;
      const r = l.core!.removeVoter({ id: v.id, directoryId: v.directoryId });
      trace(`${now()} operator: remove n${v.id} on n${l.id}: ${r.kind === "appended" ? `appended at ${r.offset}` : r.message}`);
      if (r.kind === "appended") removed++;
    }
    drainOutputs(l);
  };

  const crash = (n: Node): void => {
    if (n.core === null) return;
    trace(`${now()} n${n.id} power loss`);
    n.log!.partitionLog.closeUnclean();
    n.fs.crash();
    n.core = null;
    n.log = null;
    n.downUntilMs = now() + 50 + prng.int(500);
  };

  let failure: string | null = null;
  try {
    tickAll();
    for (let step = 0; step < opts.steps; step++) {
      const roll = prng.int(100);
      if (roll < 30) propose();
      else if (roll < 55) operate();
      else if (roll < 62) crash(nodes[prng.int(count)]!);
      else if (roll < 67) {
        const n = nodes[prng.int(count)]!;
        n.isolatedUntilMs = now() + 100 + prng.int(1500);
        trace(`${now()} n${n.id} isolated until ${n.isolatedUntilMs}`);
      } else if (roll < 70) {
        const l = leader();
        if (l !== null) crash(l);
      }
      runFor(20 + prng.int(200));
    }
    // Faults stop: heal, restart everyone, and require a commit of a new record within the bound.
    for (const n of nodes) {
      n.isolatedUntilMs = 0;
      n.downUntilMs = Math.min(n.downUntilMs, now());
    }
    const before = committedEnd;
    const deadline = now() + 30_000;
    let done = false;
    while (now() < deadline && !done) {
      propose();
      runFor(200);
      done = committedEnd > before && leader() !== null;
    }
    if (!done) fail("liveness", `no commit within 30 s after the faults stopped (committed end ${committedEnd})`);
  } catch (e) {
    if (!(e instanceof MembershipInvariantViolation)) {
      failure = `crash: ${e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e)}`;
    } else failure = e.message;
  }
  return {
    ok: failure === null,
    failure,
    committedOffset: committedEnd,
    added,
    removed,
    leaders: leaderOfEpoch.size,
    finalVoters: leader()?.core?.voterSet.map((v) => v.id) ?? [],
    simulatedMs: now(),
  };
}
