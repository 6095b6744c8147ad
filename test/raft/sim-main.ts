/**
 * Soak entry of the Raft simulator (test/raft/simulator.ts).
 *
 *   bun test/raft/sim-main.ts [--seeds N | --seed S] [--first S] [--steps N] [--voters 3|5]
 *                             [--observers N] [--timing kafka|fast] [--static] [--mix]
 *                             [--no-unproven-rule] [--trace]
 *
 * `--seeds N` runs seeds first..first+N-1 (default 100 from 1); `--seed S` runs one (with
 * `--trace`, printing every event); `--mix` gives each seed the CI test's shape (3 or 5
 * voters, an observer every third seed, fast timing in half, static voters in two of five);
 * `--static` keys every voter with the zero directory id (with `--mix`: in every seed; wiped voters come back as
 * themselves); `--no-unproven-rule` runs the cores without the rule that protects static
 * voters from a wipe (to count the seeds that fail without it). Prints figures (steps/s, seeds/min) and, per failing seed, the
 * one-line command that replays it. Exit code 1 when any seed fails.
 */
import { mixedShape, replayCommand, runSimulation, type SimOptions } from "./simulator.ts";
import { arg, flag, num, seedRange } from "../sim-args.ts";

const { single, first, count } = seedRange(100);
const steps = num("steps", 3000);
const mix = flag("mix");
const trace = flag("trace") && single;

const timing: "fast" | "kafka" = arg("timing") === "fast" ? "fast" : "kafka";
const unprovenRule = !flag("no-unproven-rule");
function shapeOf(seed: number): Pick<SimOptions, "voters" | "observers" | "timing" | "staticVoters" | "unprovenRule"> {
  const shape = mix ? mixedShape(seed) : { voters: num("voters", 3), observers: num("observers", 0), timing, staticVoters: flag("static") };
  return { ...shape, ...(flag("static") ? { staticVoters: true } : {}), unprovenRule };
}

let failures = 0;
let totalSteps = 0;
let totalSimMs = 0;
let totalWipes = 0;
let totalReproven = 0;
const recoveries: number[] = [];
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  const shape = shapeOf(seed);
  const options: SimOptions = { seed, steps, ...shape, ...(trace ? { trace: (l: string) => console.log(l) } : {}) };
  const r = runSimulation(options);
  totalSteps += r.stats.steps;
  totalSimMs += r.stats.simulatedMs;
  totalWipes += r.stats.wipes;
  totalReproven += r.stats.reproven;
  if (r.ok) recoveries.push(r.stats.recoveryMs);
  if (!r.ok) {
    failures++;
    console.log(`FAIL seed ${seed} [${r.invariant}] ${r.failure}`);
    if (!trace) for (const line of r.recent.slice(-25)) console.log(`    ${line}`);
    console.log(`  replay: ${replayCommand({ seed, steps, ...shape })}`);
  } else if (single) {
    console.log(`ok seed ${seed}: ${JSON.stringify(r.stats)}`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${count} seeds, ${failures} failed, ${totalSteps} steps, ${(totalSimMs / 1000).toFixed(0)} s simulated, ${totalWipes} disk wipes (${totalReproven} voters proven again) in ${seconds.toFixed(1)} s: ` +
    `${Math.round(totalSteps / seconds)} steps/s, ${Math.round((count / seconds) * 60)} seeds/min; ` +
    `recovery after the faults: median ${recoveries.sort((a, b) => a - b)[recoveries.length >> 1] ?? 0} ms, max ${recoveries.at(-1) ?? 0} ms`,
);
process.exit(failures > 0 ? 1 : 0);
