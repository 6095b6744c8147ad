/**
 * The cluster simulator as a CI test: a few hundred seeds of bounded length, 3 or 5 combined
 * nodes, Kafka's or a ~3x faster timing (test/cluster-sim/simulator.ts lists the faults and
 * the invariants checked after every step; two seeds in five snapshot every few KiB with
 * retention that deletes the log before the newest snapshot). A failing seed prints the one command that
 * replays it with a trace; `bun test/cluster-sim/main.ts --mix --seeds N --steps M` is the
 * longer soak.
 */
import { describe, expect, test } from "bun:test";
import { ClusterSimulation, type ClusterSimOptions, mixedShape, replayCommand, runClusterSimulation } from "./simulator.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";

/** Seeds in the CI run and fault-phase steps per seed. */
export const ciSeeds = 200;
export const ciSteps = 1500;
const chunk = 25;

export function ciOptions(seed: number): ClusterSimOptions {
  return { seed, steps: ciSteps, ...mixedShape(seed) };
}

describe("cluster simulation", () => {
  const totals = {
    steps: 0,
    timers: 0,
    simulatedMs: 0,
    elections: 0,
    crashes: 0,
    pauses: 0,
    partitions: 0,
    fencings: 0,
    acked: 0,
    wallMs: 0,
    recoveryMsMax: 0,
    snapshotsTaken: 0,
    snapshotsLoaded: 0,
    logStartMoves: 0,
    snapshotsChecked: 0,
    reassignments: 0,
    electionsAnswered: 0,
    leadersElected: 0,
  };
  for (let first = 1; first <= ciSeeds; first += chunk) {
    const last = Math.min(ciSeeds, first + chunk - 1);
    test(`seeds ${first}..${last}`, async () => {
      const started = performance.now();
      const failures: string[] = [];
      for (let seed = first; seed <= last; seed++) {
        const options = ciOptions(seed);
        const r = await runClusterSimulation(options);
        totals.steps += r.stats.steps;
        totals.timers += r.stats.timersFired;
        totals.simulatedMs += r.stats.simulatedMs;
        totals.elections += r.stats.elections;
        totals.crashes += r.stats.crashes;
        totals.pauses += r.stats.pauses;
        totals.partitions += r.stats.partitions;
        totals.fencings += r.stats.fencings;
        totals.acked += r.stats.topicsAcked + r.stats.partitionsAcked + r.stats.configsAcked;
        totals.recoveryMsMax = Math.max(totals.recoveryMsMax, r.stats.recoveryMs);
        totals.snapshotsTaken += r.stats.snapshotsTaken;
        totals.snapshotsLoaded += r.stats.snapshotsLoaded;
        totals.logStartMoves += r.stats.logStartMoves;
        totals.snapshotsChecked += r.stats.snapshotsChecked;
        totals.reassignments += r.stats.reassignmentsAcked;
        totals.electionsAnswered += r.stats.electionsAnswered;
        totals.leadersElected += r.stats.leadersElected;
        if (!r.ok) failures.push(`seed ${seed} [${r.invariant}] ${r.failure}\n  replay: ${replayCommand(options)}`);
      }
      totals.wallMs += performance.now() - started;
      if (failures.length > 0) console.error(`cluster simulation failed:\n${failures.join("\n")}`);
      expect(failures).toEqual([]);
    }, 120_000);
  }
  test("figures", () => {
    const s = totals.wallMs / 1000;
    console.log(
      `cluster simulation: ${ciSeeds} seeds x ${ciSteps} fault steps: ${totals.steps} steps (${totals.timers} timers), ${Math.round(totals.simulatedMs / 1000)} s simulated, ` +
        `${totals.elections} elections, ${totals.crashes} crashes, ${totals.pauses} pauses, ${totals.partitions} partitions, ${totals.fencings} fencings, ` +
        `${totals.acked} changes acknowledged, recovery after the faults at most ${totals.recoveryMsMax} ms, ` +
        `${totals.reassignments} reassignments acknowledged, ${totals.electionsAnswered} ElectLeaders answered (${totals.leadersElected} leaders elected), ` +
        `${totals.snapshotsTaken} metadata snapshots taken, ${totals.snapshotsLoaded} installed from the leader (FetchSnapshot), ${totals.logStartMoves} log prefixes deleted, ${totals.snapshotsChecked} checked, ` +
        `in ${s.toFixed(1)} s: ${Math.round(totals.steps / s)} steps/s, ${Math.round((ciSeeds / s) * 60)} seeds/min`,
    );
    expect(totals.elections).toBeGreaterThan(ciSeeds);
    expect(totals.crashes).toBeGreaterThan(ciSeeds);
    expect(totals.reassignments).toBeGreaterThan(ciSeeds / 2);
    expect(totals.electionsAnswered).toBeGreaterThan(ciSeeds / 2);
    // The small-snapshot seeds (two in five) snapshot, delete log prefixes and install snapshots.
    expect(totals.snapshotsTaken).toBeGreaterThan(ciSeeds);
    expect(totals.logStartMoves).toBeGreaterThan(ciSeeds / 2);
    expect(totals.snapshotsLoaded).toBeGreaterThan(ciSeeds / 20);
  });
});

test("a seed replays exactly (same trace digest, node log lines included)", async () => {
  const a = await runClusterSimulation({ ...ciOptions(7), steps: 800 });
  const b = await runClusterSimulation({ ...ciOptions(7), steps: 800 });
  expect(a.ok).toBe(true);
  expect(b.stats).toEqual(a.stats);
  const c = await runClusterSimulation({ ...ciOptions(9), steps: 800 });
  expect(c.stats.traceDigest).not.toBe(a.stats.traceDigest);
}, 60_000);

describe("scenarios (no random faults, no random workload)", () => {
  async function formed(nodes: number, seed: number, extra: Partial<ClusterSimOptions> = {}): Promise<ClusterSimulation> {
    const sim = new ClusterSimulation({ seed, nodes, steps: 0, randomFaults: false, ...extra });
    sim.begin();
    sim.stopWorkload();
    const all = Array.from({ length: nodes }, (_, i) => i + 1);
    expect(await sim.runUntil(() => all.every((id) => sim.imageOf(id)?.liveBrokers().length === nodes), 20_000)).toBe(true);
    return sim;
  }

  test("the active controller cut off: the others elect another and serve CreateTopics; back, it sees the topic", async () => {
    const sim = await formed(3, 21);
    const old = sim.activeControllerId()!;
    expect(old).not.toBeNull();
    sim.isolateNode(old, 10_000);
    const other = (old % 3) + 1;
    expect(await sim.createTopicThrough(other, "after-isolation", 10_000)).toBe(true);
    const now = sim.activeControllerId();
    expect(now).not.toBeNull();
    expect(now).not.toBe(old);
    expect(await sim.runUntil(() => sim.imageOf(old)?.topic("after-isolation") !== undefined, 15_000)).toBe(true);
    expect(sim.failure).toBeNull();
    sim.end();
  }, 30_000);

  test("a broker that loses power past the session timeout is fenced; back on its disk, it registers again and catches up", async () => {
    const sim = await formed(3, 22);
    const controller = sim.activeControllerId()!;
    const victim = (controller % 3) + 1;
    sim.crashNode(victim, "power", 14_000);
    expect(await sim.runUntil(() => sim.imageOf(controller)?.liveBrokers().length === 2, 12_000)).toBe(true);
    expect(await sim.createTopicThrough(controller, "while-down", 10_000)).toBe(true);
    const all = [1, 2, 3];
    expect(await sim.runUntil(() => all.every((id) => sim.imageOf(id)?.topic("while-down") !== undefined && sim.imageOf(id)?.liveBrokers().length === 3), 20_000)).toBe(true);
    const stats = sim.end();
    expect(stats.fencings).toBe(1);
    expect(sim.failure).toBeNull();
  }, 30_000);

  test("a voter down while the others snapshot past its log: back on its disk, it installs the leader's snapshot and sees every topic", async () => {
    const sim = await formed(3, 23, { snapshots: "small" });
    const controller = sim.activeControllerId()!;
    const victim = (controller % 3) + 1;
    sim.crashNode(victim, "power", 15_000);
    const names = Array.from({ length: 40 }, (_, i) => `while-down-${i}`);
    for (const name of names) expect(await sim.createTopicThrough(controller, name, 10_000)).toBe(true);
    expect(await sim.runUntil(() => names.every((name) => sim.imageOf(victim)?.topic(name) !== undefined), 30_000)).toBe(true);
    const stats = sim.end();
    expect(stats.snapshotsLoaded).toBe(1);
    expect(stats.snapshotsTaken).toBeGreaterThan(3);
    expect(stats.logStartMoves).toBeGreaterThan(3);
    expect(stats.snapshotsChecked).toBeGreaterThan(3);
    expect(sim.failure).toBeNull();
  }, 30_000);

  test("dynamic broker configs: a per-broker value for node 2 and a cluster default, sent to another node, reach every image; node 2 describes both with their sources, node 1 only the default", async () => {
    const sim = await formed(3, 23);
    const controller = sim.activeControllerId()!;
    const via = (controller % 3) + 1; // not the controller: the request is forwarded
    type Answer = { errorCode: number; errorMessage: string | null } | null;
    const alter = async (resourceName: string, name: string, value: string): Promise<Answer> => {
      let answer: Answer | undefined;
      void sim.client
        .send(via, ApiKeys.IncrementalAlterConfigs, { resources: [{ resourceType: 4, resourceName, configs: [{ name, configOperation: 0, value }] }], validateOnly: false }, { timeoutMs: 10_000 })
        .then((r) => (answer = r.ok ? r.body.responses[0]! : null));
      await sim.runUntil(() => answer !== undefined, 15_000);
      return answer ?? null;
    };
    expect(await alter("2", "log.retention.ms", "1000")).toMatchObject({ errorCode: 0 });
    expect(await alter("", "log.segment.bytes", "1048576")).toMatchObject({ errorCode: 0 });
    expect(await alter("", "sasl.kerberos.kinit.cmd", "/bin/true")).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST });
    const all = [1, 2, 3];
    expect(await sim.runUntil(() => all.every((id) => sim.imageOf(id)?.configsOf("broker", "2").get("log.retention.ms") === "1000" && sim.imageOf(id)?.configsOf("broker", "").size === 1), 10_000)).toBe(true);
    const describe = async (node: number, keys: string[]) => {
      let result: { name: string; value: string | null; configSource: number }[] | undefined;
      void sim.client
        .send(node, ApiKeys.DescribeConfigs, { resources: [{ resourceType: 4, resourceName: String(node), configurationKeys: keys }], includeSynonyms: false, includeDocumentation: false }, { timeoutMs: 10_000 })
        .then((r) => (result = r.ok ? r.body.results[0]!.configs : []));
      await sim.runUntil(() => result !== undefined, 15_000);
      return (result ?? []).map((c) => [c.name, c.value, c.configSource]);
    };
    expect(await describe(2, ["log.retention.ms", "log.segment.bytes"])).toEqual([
      ["log.segment.bytes", "1048576", 3],
      ["log.retention.ms", "1000", 2],
    ]);
    expect(await describe(1, ["log.retention.ms", "log.segment.bytes"])).toEqual([
      ["log.segment.bytes", "1048576", 3],
      ["log.retention.ms", "604800000", 5],
    ]);
    expect(sim.failure).toBeNull();
    sim.end();
  }, 30_000);
});
