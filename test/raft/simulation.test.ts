/**
 * The Raft simulator as a CI test: a few hundred seeds of bounded length, alternating 3 and 5
 * voters, with an observer in every third seed and Kafka's or 3x shorter timeouts (test/raft/simulator.ts lists the faults and
 * the invariants checked after every step). A failing seed prints the one-line command that
 * replays it with a trace. `bun test/raft/sim-main.ts` is the longer soak.
 */
import { describe, expect, test } from "bun:test";
import { mixedShape, replayCommand, runSimulation, type SimOptions } from "./simulator.ts";

/** Seeds in the CI run and fault-phase steps per seed. */
export const ciSeeds = 300;
export const ciSteps = 2000;
const chunk = 50;

export function ciOptions(seed: number): SimOptions {
  return { seed, steps: ciSteps, ...mixedShape(seed) };
}

describe("raft simulation", () => {
  const totals = { steps: 0, simulatedMs: 0, elections: 0, crashes: 0, wipes: 0, committed: 0, wallMs: 0, recoveryMsMax: 0 };
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
        `${totals.elections} elections, ${totals.crashes} crashes (${totals.wipes} disk wipes), ${totals.committed} offsets committed, ` +
        `recovery after the faults at most ${totals.recoveryMsMax} ms, ` +
        `in ${s.toFixed(1)} s: ${Math.round(totals.steps / s)} steps/s, ${Math.round((ciSeeds / s) * 60)} seeds/min`,
    );
    expect(totals.elections).toBeGreaterThan(ciSeeds);
  });
});

test("a seed replays exactly", () => {
  const a = runSimulation({ ...ciOptions(7), steps: 500 });
  const b = runSimulation({ ...ciOptions(7), steps: 500 });
  expect(a.ok).toBe(true);
  expect(b.stats).toEqual(a.stats);
}, 30_000);
