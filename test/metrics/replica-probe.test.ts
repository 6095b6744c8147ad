import { expect, test } from "bun:test";
import type { PartitionState } from "../../src/replication/partition.ts";
import { ReplicaProbe } from "../../src/replication/probe.ts";

const leader = (isr: number[], leaderEpoch = 3): PartitionState => ({ kind: "leader", leaderEpoch, partitionEpoch: 1, isr, replicas: [1, 2, 3] });

test("ISR shrinks and expansions count only while leading in the same epoch", () => {
  const p = new ReplicaProbe();
  p.noteState(leader([1, 2, 3]), leader([1, 2]));
  p.noteState(leader([1, 2]), leader([1]));
  p.noteState(leader([1]), leader([1, 3]));
  p.noteState(leader([1, 3]), leader([1, 3])); // same size: nothing
  p.noteState(leader([1, 2, 3], 3), leader([1], 4)); // a new epoch is an election, not a shrink
  p.noteState({ kind: "follower", leaderId: 2, leaderEpoch: 4, partitionEpoch: 2, replicas: [1, 2, 3] }, leader([1], 5));
  expect({ shrinks: p.isrShrinks, expands: p.isrExpands }).toEqual({ shrinks: 2, expands: 1 });
});
