/**
 * The Raft simulator as a CI test: a few hundred seeds of bounded length, alternating 3 and 5
 * voters, with an observer in every third seed and Kafka's or 3x shorter timeouts, and in
 * two seeds of five a static quorum (zero directory ids) whose wiped voters come back as
 * themselves, unproven (test/raft/simulator.ts lists the faults and
 * the invariants checked after every step). A failing seed prints the one-line command that
 * replays it with a trace. `bun test/raft/sim-main.ts` is the longer soak.
 */
import { describe, expect, test } from "bun:test";
import { mixedShape, replayCommand, runSimulation, type SimOptions, Simulation } from "./simulator.ts";

/** Seeds in the CI run and fault-phase steps per seed. */
export const ciSeeds = 350;
export const ciSteps = 2000;
const chunk = 50;

export function ciOptions(seed: number): SimOptions {
  return { seed, steps: ciSteps, ...mixedShape(seed) };
}

describe("raft simulation", () => {
  const totals = { steps: 0, simulatedMs: 0, elections: 0, crashes: 0, wipes: 0, staticWipes: 0, reproven: 0, committed: 0, wallMs: 0, recoveryMsMax: 0 };
  for (let first = 1; first <= ciSeeds; first += chunk) {
    const last = Math.min(ciSeeds, first + chunk - 1);
    test(`seeds ${first}..${last}`, () => {
      const started = performance.now();
      const failures: string[] = [];
      for (let seed = first; seed <= last; seed++) {
        const options = ciOptions(seed);
        const r = runSimulation(options);
        totals.steps += r.stats.steps;
        totals.simulatedMs += r.stats.simulatedMs;
        totals.elections += r.stats.elections;
        totals.crashes += r.stats.crashes;
        totals.wipes += r.stats.wipes;
        if (options.staticVoters === true) totals.staticWipes += r.stats.wipes;
        totals.reproven += r.stats.reproven;
        totals.committed += r.stats.committedOffset;
        totals.recoveryMsMax = Math.max(totals.recoveryMsMax, r.stats.recoveryMs);
        if (!r.ok) failures.push(`seed ${seed} [${r.invariant}] ${r.failure}\n  replay: ${replayCommand(options)}`);
      }
      totals.wallMs += performance.now() - started;
      if (failures.length > 0) console.error(`raft simulation failed:\n${failures.join("\n")}`);
      expect(failures).toEqual([]);
    }, 120_000);
  }
  test("figures", () => {
    const s = totals.wallMs / 1000;
    console.log(
      `raft simulation: ${ciSeeds} seeds x ${ciSteps} fault steps: ${totals.steps} steps, ${Math.round(totals.simulatedMs / 1000)} s simulated, ` +
        `${totals.elections} elections, ${totals.crashes} crashes (${totals.wipes} disk wipes, ${totals.staticWipes} of static voters, ${totals.reproven} proven again), ${totals.committed} offsets committed, ` +
        `recovery after the faults at most ${totals.recoveryMsMax} ms, ` +
        `in ${s.toFixed(1)} s: ${Math.round(totals.steps / s)} steps/s, ${Math.round((ciSeeds / s) * 60)} seeds/min`,
    );
    expect(totals.elections).toBeGreaterThan(ciSeeds);
    // Static voters are wiped often enough to matter, and the wiped ones catch up.
    expect(totals.staticWipes).toBeGreaterThan(ciSeeds / 2);
    expect(totals.reproven).toBeGreaterThan(totals.staticWipes / 2);
  });
});

test("a seed replays exactly", () => {
  const a = runSimulation({ ...ciOptions(7), steps: 500 });
  const b = runSimulation({ ...ciOptions(7), steps: 500 });
  expect(a.ok).toBe(true);
  expect(b.stats).toEqual(a.stats);
}, 30_000);

describe("scenarios (no random faults)", () => {
  test("a voter cut off from the leader only, or from everyone, does not depose it (pre-vote)", () => {
    for (const [voters, partial] of [
      [3, true],
      [5, true],
      [3, false],
    ] as const) {
      const sim = new Simulation({ seed: 11, steps: 0, voters, observers: 1, randomFaults: false });
      sim.runFor(5000);
      const [leader] = sim.leaders();
      expect(leader).toBeDefined();
      const cutOff = (leader!.id + 1) % voters;
      // No new records: the cut-off voter's log stays as up to date as anyone's, so only the
      // voters' refusal to pre-vote while they hear from the leader keeps it from standing.
      sim.setProposals(false);
      sim.runFor(1000);
      // Partial: it still reaches the other voters, which hear from the leader and refuse it pre-votes.
      if (partial) sim.cutBetween(cutOff, leader!.id, 10_000);
      else sim.isolate(cutOff, 10_000);
      for (let t = 0; t < 10_000; t += 500) {
        sim.runFor(500);
        expect({ voters, partial, leaders: sim.leaders() }).toEqual({ voters, partial, leaders: [leader!] });
        expect(sim.roleOf(cutOff)!.epoch).toBe(leader!.epoch);
      }
      sim.setProposals(true);
      sim.runFor(3000);
      expect(sim.leaders()).toEqual([leader!]);
      expect(sim.roleOf(cutOff)).toMatchObject({ kind: "follower", epoch: leader!.epoch, leaderId: leader!.id });
      expect(sim.roleOf(cutOff)!.highWatermark).toBeGreaterThan(0);
    }
  }, 30_000);

  test("a leader cut off from the majority resigns (check-quorum) and the majority elects another", () => {
    const sim = new Simulation({ seed: 12, steps: 0, voters: 3, observers: 0, randomFaults: false });
    sim.runFor(5000);
    const [old] = sim.leaders();
    expect(old).toBeDefined();
    const committedBefore = sim.committedOffset;
    sim.isolate(old!.id, 8000);
    sim.runFor(2 * 2000 + 100);
    expect(sim.roleOf(old!.id)!.kind).not.toBe("leader");
    const now = sim.leaders();
    expect(now.length).toBe(1);
    expect(now[0]!.epoch).toBeGreaterThan(old!.epoch);
    sim.runFor(8000);
    expect(sim.committedOffset).toBeGreaterThan(committedBefore);
    expect(sim.roleOf(old!.id)).toMatchObject({ kind: "follower", leaderId: now[0]!.id });
  }, 30_000);
});
