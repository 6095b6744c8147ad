/**
 * Replication counters, kept out of the replica manager's logic (read by the metrics
 * endpoint, server/metrics/). An ISR shrink or expansion is counted when this node leads a
 * partition across an image change (same leader epoch) and the ISR it sees gets smaller or
 * larger — whether the change came from its own AlterPartition or from the controller
 * (a fenced broker taken out of every ISR), as an operator watching the leader expects.
 */
import type { PartitionState } from "./partition.ts";

export class ReplicaProbe {
  isrShrinks = 0;
  isrExpands = 0;

  /** Called with a partition's state before and after an image was applied to it. */
  noteState(before: PartitionState, after: PartitionState): void {
    if (before.kind !== "leader" || after.kind !== "leader" || before.leaderEpoch !== after.leaderEpoch) return;
    if (after.isr.length < before.isr.length) this.isrShrinks++;
    else if (after.isr.length > before.isr.length) this.isrExpands++;
  }
}
