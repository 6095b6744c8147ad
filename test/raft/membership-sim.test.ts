/**
 * The dynamic-quorum membership simulator (membership-sim.ts) as a CI test: a standalone
 * voter grows and shrinks its voter set through AddRaftVoter/RemoveRaftVoter on the leader
 * while nodes lose power, get isolated, messages drop and duplicate. Every seed checks one
 * leader per epoch, committed records never lost, one voter change at a time, and a commit
 * after the faults stop. Soak: `bun test/raft/membership-sim-main.ts --seeds 500`.
 */
import { expect, test } from "bun:test";
import { replayMembershipCommand, runMembershipSimulation } from "./membership-sim.ts";

const ciSeeds = 12;
const ciSteps = 120;

test(`membership changes under faults: ${ciSeeds} seeds x ${ciSteps} steps`, () => {
  const failures: string[] = [];
  let added = 0;
  let removed = 0;
  for (let seed = 1; seed <= ciSeeds; seed++) {
    const r = runMembershipSimulation({ seed, steps: ciSteps });
    added += r.added;
    removed += r.removed;
    if (!r.ok) failures.push(`seed ${seed}: ${r.failure}\n  replay: ${replayMembershipCommand(seed, ciSteps)}`);
  }
  expect(failures).toEqual([]);
  // The runs did change the voter set, both ways.
  expect(added).toBeGreaterThan(ciSeeds);
  expect(removed).toBeGreaterThan(ciSeeds);
}, 600_000);
