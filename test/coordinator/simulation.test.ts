/**
 * Seeded simulation of the classic group protocol: a few clients (some static) join, sync,
 * heartbeat, commit, leave, go silent and restart against one coordinator while the clock
 * moves and appends sometimes fail. After every step the group's invariants must hold; every
 * SyncGroup answer must carry exactly what the leader assigned in that generation; and once
 * the clients stop, every waiting request must be answered within the group's deadlines (no
 * hang). A failing seed prints the command that replays it.
 */
import { describe, expect, test } from "bun:test";
import type { JoinGroupOutcome, SyncGroupOutcome } from "../../src/coordinator/group.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { commitInput, type Env, joinInput, settle, setup } from "./helpers.ts";

const E = ErrorCode;
const GROUP = "sim";

interface Client {
  name: string;
  instanceId: string | null;
  memberId: string;
  generation: number;
  phase: "idle" | "joining" | "joined" | "syncing" | "stable" | "silent";
  joinedAs: JoinGroupOutcome | null;
  pendingSince: number;
}

async function run(seed: number, steps: number): Promise<void> {
  const prng = new SeededPrng(seed);
  const env: Env = await setup({ groupInitialRebalanceDelayMs: prng.int(2) * 1000 }, { seed });
  const clients: Client[] = Array.from({ length: 4 }, (_, i) => ({
    name: `c${i}`,
    instanceId: i % 2 === 0 ? `inst-${i}` : null,
    memberId: "",
    generation: -1,
    phase: "idle",
    joinedAs: null,
    pendingSince: 0,
  }));
  /** generation → member → assignment the leader sent. */
  const assigned = new Map<number, Map<string, number>>();
  const outstanding = new Set<Promise<unknown>>();
  const now = (): number => env.clock.monotonicMs();

  const watch = <T>(p: Promise<T>, then: (v: T) => void): void => {
    const q = p.then(then);
    outstanding.add(q);
    void q.finally(() => outstanding.delete(q));
  };

  const join = (c: Client): void => {
    c.phase = "joining";
    c.pendingSince = now();
    const req = joinInput(GROUP, {
      memberId: c.memberId,
      groupInstanceId: c.instanceId,
      clientId: c.name,
      sessionTimeoutMs: 6000,
      rebalanceTimeoutMs: 8000,
      requireKnownMemberId: true,
    });
    watch(env.gc.joinGroup(req), (r) => {
      if (c.phase !== "joining") return;
      if (r.errorCode === E.MEMBER_ID_REQUIRED) {
        c.memberId = r.memberId;
        join(c);
        return;
      }
      if (r.errorCode !== E.NONE) {
        if (r.errorCode === E.UNKNOWN_MEMBER_ID || r.errorCode === E.FENCED_INSTANCE_ID) c.memberId = "";
        c.phase = "idle";
        return;
      }
      c.memberId = r.memberId;
      c.generation = r.generationId;
      c.joinedAs = r;
      c.phase = "joined";
    });
  };

  const sync = (c: Client): void => {
    const j = c.joinedAs!;
    const isLeader = j.leader === c.memberId && j.members.length > 0;
    const assignments = isLeader ? j.members.map((m, i) => ({ memberId: m.memberId, assignment: new Uint8Array([j.generationId & 0xff, i]) })) : [];
    c.phase = "syncing";
    c.pendingSince = now();
    watch(env.gc.syncGroup({ groupId: GROUP, generationId: c.generation, memberId: c.memberId, groupInstanceId: c.instanceId, protocolType: null, protocolName: null, assignments }), (r: SyncGroupOutcome) => {
      if (c.phase !== "syncing") return;
      if (r.errorCode !== E.NONE) {
        c.phase = "idle";
        return;
      }
      const expected = assigned.get(c.generation)?.get(c.memberId);
      if (expected !== undefined && !(r.assignment.length === 2 && r.assignment[1] === expected)) {
        throw new Error(`${c.name} generation ${c.generation}: assignment [${[...r.assignment]}], the leader sent index ${expected}`);
      }
      c.phase = "stable";
    });
    if (isLeader) assigned.set(j.generationId, new Map(j.members.map((m, i) => [m.memberId, i])));
  };

  for (let step = 0; step < steps; step++) {
    const c = clients[prng.int(clients.length)]!;
    const action = prng.int(20);
    if (action < 4) {
      if (c.phase === "idle" || c.phase === "stable" || c.phase === "silent") join(c);
    } else if (action < 7) {
      if (c.phase === "joined") sync(c);
    } else if (action < 12) {
      if (c.phase === "stable" || c.phase === "joined") {
        const code = env.gc.heartbeat({ groupId: GROUP, generationId: c.generation, memberId: c.memberId, groupInstanceId: c.instanceId });
        if (code === E.REBALANCE_IN_PROGRESS) join(c);
        else if (code !== E.NONE) {
          if (code === E.UNKNOWN_MEMBER_ID || code === E.FENCED_INSTANCE_ID) c.memberId = "";
          c.phase = "idle";
        }
      }
    } else if (action === 12) {
      if (c.phase === "stable") {
        watch(env.gc.commitOffsets(commitInput(GROUP, { generationId: c.generation, memberId: c.memberId, groupInstanceId: c.instanceId })), () => {});
      }
    } else if (action === 13) {
      if (c.phase !== "idle" && c.instanceId === null) {
        env.gc.leaveGroup(GROUP, [{ memberId: c.memberId, groupInstanceId: c.instanceId }]);
        c.memberId = "";
        c.phase = "idle";
      }
    } else if (action === 14) {
      // Crash: a static member comes back with a new process (no member id), a dynamic one goes silent.
      if (c.instanceId !== null) {
        c.memberId = "";
        c.phase = "idle";
      } else c.phase = "silent";
    } else if (action === 15) {
      env.log.failNext = prng.int(2) === 0 ? E.NOT_ENOUGH_REPLICAS : E.REQUEST_TIMED_OUT;
    } else {
      env.clock.advance(prng.int(2500));
    }
    await settle();
    env.gc.group(GROUP)?.checkInvariants();
  }

  if (process.env.SIM_STATS !== undefined) console.log(`seed ${seed}: generations ${[...assigned.keys()].length}, max gen ${Math.max(-1, ...assigned.keys())}, now ${now()}`);
  // Quiesce: nobody sends anything more; every waiting request must be answered by the deadlines.
  for (const c of clients) c.phase = "silent";
  for (let i = 0; i < 10 && outstanding.size > 0; i++) {
    env.clock.advance(10_000);
    await settle();
  }
  expect(outstanding.size).toBe(0);
  // With no one heartbeating, the group ends up empty.
  env.clock.advance(60_000);
  await settle();
  const g = env.gc.group(GROUP);
  if (g !== undefined) expect(g.size).toBe(0);
}

describe("group protocol simulation", () => {
  test("invariants, assignments and no hangs over seeded runs", async () => {
    const base = Number(process.env.SEED ?? 1);
    const runs = process.env.SEED === undefined ? 40 : 1;
    for (let seed = base; seed < base + runs; seed++) {
      try {
        await run(seed, 400);
      } catch (e) {
        console.error(`group simulation failed with seed ${seed}; replay: SEED=${seed} bun test test/coordinator/simulation.test.ts`);
        throw e;
      }
    }
  });
});
