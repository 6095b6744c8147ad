/**
 * Soak entry of the dynamic-quorum membership simulator (test/raft/membership-sim.ts).
 *
 *   bun test/raft/membership-sim-main.ts [--seeds N | --seed S] [--first S] [--steps N] [--trace]
 *
 * Prints figures and, per failing seed, the command that replays it; exit 1 when any fails.
 */
import { replayMembershipCommand, runMembershipSimulation } from "./membership-sim.ts";
import { flag, num, seedRange } from "../sim-args.ts";

const { single, first, count } = seedRange(100);
const steps = num("steps", 300);
const trace = flag("trace") && single;
let failures = 0;
let added = 0;
let removed = 0;
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  const r = runMembershipSimulation({ seed, steps, ...(trace ? { trace: (l: string) => console.log(l) } : {}) });
  added += r.added;
  removed += r.removed;
  if (!r.ok) {
    failures++;
    console.log(`seed ${seed} FAILED: ${r.failure}\n  replay: ${replayMembershipCommand(seed, steps)}`);
  }
}
const s = (performance.now() - started) / 1000;
console.log(`membership simulation: ${count} seeds x ${steps} steps in ${s.toFixed(1)} s (${Math.round((count / s) * 60)} seeds/min); voters added ${added}, removed ${removed}; ${failures} failed`);
process.exit(failures > 0 ? 1 : 0);
