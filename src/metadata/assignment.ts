/**
 * Replica placement for new partitions, rack-unaware, in Kafka's manner: partition p's
 * first replica is broker (start + p) mod n, and the followers follow at a shift that grows
 * every n partitions, so leaders and followers spread evenly over brokers. `start` and the
 * initial shift are random (from the injected Prng) so many small topics do not all lead on
 * the same broker.
 */
import type { Prng } from "../platform/prng.ts";

export function assignReplicas(
  brokerIds: readonly number[],
  partitionCount: number,
  replicationFactor: number,
  firstPartition: number,
  prng: Prng,
): number[][] {
  const n = brokerIds.length;
  if (!(replicationFactor >= 1 && replicationFactor <= n)) {
    throw new RangeError(`assignReplicas: replication factor ${replicationFactor} with ${n} brokers`);
  }
  if (!(partitionCount >= 0 && firstPartition >= 0)) throw new RangeError("assignReplicas: negative partition count");
  const brokers = [...brokerIds].sort((a, b) => a - b);
  const start = prng.int(n);
  let shift = prng.int(n);
  const out: number[][] = [];
  for (let p = firstPartition; p < firstPartition + partitionCount; p++) {
    if (p > 0 && p % n === 0) shift++;
    const first = (p + start) % n;
    const replicas = [brokers[first]!];
    for (let j = 0; j < replicationFactor - 1; j++) {
      const index = (first + 1 + ((shift + j) % (n - 1))) % n;
      replicas.push(brokers[index]!);
    }
    out.push(replicas);
  }
  return out;
}
