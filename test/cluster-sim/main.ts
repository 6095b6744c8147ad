/**
 * Entry of the cluster simulator (test/cluster-sim/simulator.ts) for soaks and replays.
 *
 *   bun test/cluster-sim/main.ts [--seeds N | --seed S] [--first S] [--steps N] [--nodes 3|5]
 *                                [--observers N] [--timing kafka|fast] [--snapshots kafka|small]
 *                                [--mix] [--disk-faults]
 *                                [--trace]
 *
 * `--seeds N` runs seeds first..first+N-1 (default 20 from 1); `--seed S` runs one (with
 * `--trace`, printing every event and every node's log line); `--mix` gives each seed the CI
 * shape (3 or 5 voters, an observer every third seed, Kafka's or the fast timing, small
 * snapshot settings in two seeds of five);
 * `--disk-faults` adds EIO on appends and fsyncs (not in CI). Prints figures (steps/s, seeds/min) and, per failing seed, the one
 * command that replays it. Exit code 1 when any seed fails.
 */
import { mixedShape, replayCommand, runClusterSimulation, type ClusterSimOptions } from "./simulator.ts";
import { arg, flag, num, seedRange } from "../sim-args.ts";

const { single, first, count } = seedRange(20);
const steps = num("steps", 3000);
const mix = flag("mix");
const diskFaults = flag("disk-faults");
const trace = flag("trace") && single;
/** Recoveries slower than this are listed (the bound that fails a seed is livenessBoundMs). */
const slowRecoveryMs = 5_000;

let failures = 0;
let totalSteps = 0;
let totalSimMs = 0;
let fatalStops = 0;
const snapshots = { taken: 0, loaded: 0, logStartMoves: 0, checked: 0 };
const recoveries: number[] = [];
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  const shape: Pick<ClusterSimOptions, "nodes" | "observers" | "timing" | "snapshots"> = mix
    ? mixedShape(seed)
    : { nodes: num("nodes", 3), observers: num("observers", 0), timing: arg("timing") === "fast" ? "fast" : "kafka", snapshots: arg("snapshots") === "small" ? "small" : "kafka" };
  const options: ClusterSimOptions = { seed, steps, ...shape, diskFaults, ...(trace ? { trace: (l: string) => console.log(l) } : {}) };
  const r = await runClusterSimulation(options);
  totalSteps += r.stats.steps;
  totalSimMs += r.stats.simulatedMs;
  snapshots.taken += r.stats.snapshotsTaken;
  snapshots.loaded += r.stats.snapshotsLoaded;
  snapshots.logStartMoves += r.stats.logStartMoves;
  snapshots.checked += r.stats.snapshotsChecked;
  fatalStops += r.stats.fatalStops;
  if (r.ok) recoveries.push(r.stats.recoveryMs);
  if (r.ok && r.stats.recoveryMs > slowRecoveryMs) console.log(`slow recovery: seed ${seed} took ${r.stats.recoveryMs} ms (${replayCommand({ seed, steps, ...shape, diskFaults })})`);
  if (!r.ok) {
    failures++;
    console.log(`FAIL seed ${seed} [${r.invariant}] ${r.failure}`);
    if (!trace) for (const line of r.recent.slice(-30)) console.log(`    ${line}`);
    console.log(`  replay: ${replayCommand({ seed, steps, ...shape, diskFaults })}`);
  } else if (single) {
    console.log(`ok seed ${seed}: ${JSON.stringify(r.stats)}`);
  }
}
const seconds = (performance.now() - started) / 1000;
recoveries.sort((a, b) => a - b);
console.log(
  `${count} seeds, ${failures} failed, ${totalSteps} steps, ${(totalSimMs / 1000).toFixed(0)} s simulated in ${seconds.toFixed(1)} s: ` +
    `${Math.round(totalSteps / seconds)} steps/s, ${Math.round((count / seconds) * 60)} seeds/min; ` +
    `recovery after the faults: median ${recoveries[recoveries.length >> 1] ?? 0} ms, max ${recoveries.at(-1) ?? 0} ms; ` +
    `metadata snapshots: ${snapshots.taken} taken, ${snapshots.loaded} installed from the leader, ${snapshots.logStartMoves} log prefixes deleted, ${snapshots.checked} checked${diskFaults ? `; nodes stopped on a metadata-log write failure: ${fatalStops}` : ""}`,
);
process.exit(failures > 0 ? 1 : 0);
