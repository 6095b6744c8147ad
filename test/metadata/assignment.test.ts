import { describe, expect, test } from "bun:test";
import { addLoad, assignReplicas, emptyLoad, type PlacementBroker, rackAlternatedList } from "../../src/metadata/assignment.ts";
import { SeededPrng } from "../../src/platform/prng.ts";

const onRacks = (n: number, racks: number): PlacementBroker[] =>
  Array.from({ length: n }, (_, i) => ({ brokerId: i + 1, rack: racks === 0 ? null : `r${i % racks}` }));

function fresh(brokers: PlacementBroker[], partitions: number, rf: number, seed: number): number[][] {
  return assignReplicas({ brokers, partitionCount: partitions, replicationFactor: rf, existing: [], clusterLoad: emptyLoad() }, new SeededPrng(seed));
}

function spread(counts: Map<number, number>, brokers: readonly PlacementBroker[]): number {
  const values = brokers.map((b) => counts.get(b.brokerId) ?? 0);
  return Math.max(...values) - Math.min(...values);
}

describe("rackAlternatedList", () => {
  test("takes one broker per rack in turn, racks by name, brokers by id, no rack first", () => {
    const list = rackAlternatedList([
      { brokerId: 6, rack: "b" },
      { brokerId: 1, rack: "a" },
      { brokerId: 2, rack: "b" },
      { brokerId: 3, rack: "a" },
      { brokerId: 5, rack: "a" },
      { brokerId: 4, rack: null },
    ]);
    expect(list.map((b) => b.brokerId)).toEqual([4, 1, 2, 3, 6, 5]);
    expect(rackAlternatedList(onRacks(4, 0)).map((b) => b.brokerId)).toEqual([1, 2, 3, 4]);
  });
});

describe("assignReplicas", () => {
  test("a fresh topic on 1, 3 or 6 brokers over 0-3 racks: leaders and replicas per broker differ by at most 1, replicas on distinct racks", () => {
    const shapes: [number, number][] = [[1, 0], [1, 1], [3, 0], [3, 1], [3, 3], [6, 0], [6, 1], [6, 2], [6, 3]];
    for (const [n, racks] of shapes) {
      const brokers = onRacks(n, racks);
      for (let rf = 1; rf <= Math.min(n, 3); rf++) {
        for (let partitions = 1; partitions <= 24; partitions++) {
          for (let seed = 0; seed < 4; seed++) {
            const sets = fresh(brokers, partitions, rf, seed);
            const what = `${n} brokers, ${racks} racks, rf ${rf}, ${partitions} partitions, seed ${seed}`;
            expect({ what, count: sets.length }).toEqual({ what, count: partitions });
            const load = addLoad(emptyLoad(), sets);
            expect({ what, leaders: spread(load.leaders, brokers), replicas: spread(load.replicas, brokers) }).toEqual({ what, leaders: Math.min(1, (partitions % n)), replicas: Math.min(1, (partitions * rf) % n) });
            for (const s of sets) {
              expect(s.length).toBe(rf);
              expect(new Set(s).size).toBe(rf);
              expect(s.every((b) => b >= 1 && b <= n)).toBe(true);
              const racksUsed = new Set(s.map((b) => brokers[b - 1]!.rack)).size;
              expect({ what, racksUsed }).toEqual({ what, racksUsed: Math.min(rf, Math.max(racks, 1)) });
            }
          }
        }
      }
    }
  });

  test("uneven racks: every partition still spans min(rf, racks) racks, leaders stay within 1", () => {
    for (const [n, racks] of [[5, 2], [4, 3], [7, 3]] as const) {
      const brokers = onRacks(n, racks);
      for (let rf = 2; rf <= 3; rf++) {
        for (let seed = 0; seed < 10; seed++) {
          const sets = fresh(brokers, 3 * n + seed, rf, seed);
          for (const s of sets) expect(new Set(s.map((b) => brokers[b - 1]!.rack)).size).toBe(Math.min(rf, racks));
          expect(spread(addLoad(emptyLoad(), sets).leaders, brokers)).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  test("a broker without a rack among racked ones counts as one more rack", () => {
    const brokers: PlacementBroker[] = [
      { brokerId: 1, rack: "a" },
      { brokerId: 2, rack: "a" },
      { brokerId: 3, rack: null },
    ];
    for (const s of fresh(brokers, 6, 2, 3)) expect(s.includes(3)).toBe(true);
  });

  test("deterministic for a Prng state; the start varies with the seed", () => {
    const brokers = onRacks(6, 2);
    expect(fresh(brokers, 10, 3, 42)).toEqual(fresh(brokers, 10, 3, 42));
    const firstLeaders = new Set(Array.from({ length: 20 }, (_, seed) => fresh(brokers, 1, 1, seed)[0]![0]));
    expect(firstLeaders.size).toBeGreaterThan(1);
  });

  test("new partitions of a topic go first to the brokers it uses least (CreatePartitions after brokers joined)", () => {
    const before = onRacks(3, 0);
    const existing = fresh(before, 3, 2, 1);
    const clusterLoad = addLoad(emptyLoad(), existing);
    const after = onRacks(6, 0);
    const added = assignReplicas({ brokers: after, partitionCount: 3, replicationFactor: 2, existing, clusterLoad }, new SeededPrng(9));
    expect(added.map((s) => s[0]).sort()).toEqual([4, 5, 6]);
    const all = addLoad(emptyLoad(), [...existing, ...added]);
    expect(spread(all.leaders, after)).toBe(0);
    expect(spread(all.replicas, after)).toBe(0);
    // The cluster load passed in now holds the new partitions too.
    expect(clusterLoad.replicas.get(4)).toBeGreaterThan(0);
  });

  test("many one-partition topics spread over the cluster through the cluster load", () => {
    const brokers = onRacks(3, 0);
    const clusterLoad = emptyLoad();
    for (let t = 0; t < 9; t++) {
      assignReplicas({ brokers, partitionCount: 1, replicationFactor: 2, existing: [], clusterLoad }, new SeededPrng(7));
    }
    expect(brokers.map((b) => clusterLoad.leaders.get(b.brokerId))).toEqual([3, 3, 3]);
    expect(brokers.map((b) => clusterLoad.replicas.get(b.brokerId))).toEqual([6, 6, 6]);
  });

  test("a replication factor above the broker count is a caller bug", () => {
    expect(() => fresh(onRacks(1, 0), 1, 2, 1)).toThrow(RangeError);
    expect(() => fresh(onRacks(3, 0), 1, 0, 1)).toThrow(RangeError);
    expect(fresh(onRacks(3, 0), 0, 3, 1)).toEqual([]);
  });
});
