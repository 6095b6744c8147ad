import { describe, expect, test } from "bun:test";
import type { GroupCoordinator } from "../../src/coordinator/group-coordinator.ts";
import type { OffsetsTopicLog } from "../../src/coordinator/offsets-log.ts";
import { decodeRecord, type RawRecord } from "../../src/coordinator/records.ts";
import { GroupCoordinator as Coordinator } from "../../src/coordinator/group-coordinator.ts";
import { groupCoordinatorConfigDefaults } from "../../src/coordinator/config.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { commitInput, type Env, joinAlone, joinInput, PARTITIONS, settle, setup, track } from "./helpers.ts";

const E = ErrorCode;

async function loadAll(gc: GroupCoordinator): Promise<void> {
  await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => gc.loadPartition(p)));
}

/** Everything a replay must reproduce: groups (state, generation, protocol, leader, members) and offsets. */
function state(gc: GroupCoordinator, groupIds: string[]): unknown {
  return {
    groups: groupIds.map((id) => {
      const g = gc.group(id);
      return {
        id,
        described: gc.describeGroup(id),
        generation: g?.generationId,
        protocolType: g?.protocolType,
        protocolName: g?.protocolName,
        leader: g?.leaderId,
        statics: g === undefined ? [] : [...g.staticMembers.entries()],
        members:
          g === undefined
            ? []
            : [...g.members.values()].map((m) => ({ id: m.memberId, session: m.sessionTimeoutMs, rebalance: m.rebalanceTimeoutMs, assignment: [...m.assignment] })),
      };
    }),
    offsets: Array.from({ length: PARTITIONS }, (_, p) => [...gc.offsetsSnapshot(p).entries()].map(([g, o]) => [g, [...o.entries()]])),
  };
}

async function twoMemberGroup(env: Env, groupId: string): Promise<{ a: string; b: string; generation: number }> {
  const a = await joinAlone(env, groupId, { groupInstanceId: "ia" });
  const b = track(env.gc.joinGroup(joinInput(groupId, { clientId: "b" })));
  const a2 = track(env.gc.joinGroup(joinInput(groupId, { memberId: a.memberId, groupInstanceId: "ia" })));
  await settle();
  const generation = a2.value().generationId;
  void env.gc.syncGroup({ groupId, generationId: generation, memberId: b.value().memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  await env.gc.syncGroup({
    groupId,
    generationId: generation,
    memberId: a.memberId,
    groupInstanceId: "ia",
    protocolType: null,
    protocolName: null,
    assignments: [
      { memberId: a.memberId, assignment: new Uint8Array([1, 1]) },
      { memberId: b.value().memberId, assignment: new Uint8Array([2, 2]) },
    ],
  });
  await settle();
  return { a: a.memberId, b: b.value().memberId, generation };
}

describe("persistence: a fresh coordinator replaying the records reaches the same state", () => {
  test("groups and offsets after a mix of operations", async () => {
    const env = await setup();
    const g1 = await twoMemberGroup(env, "g1");
    await env.gc.commitOffsets(commitInput("g1", { generationId: g1.generation, memberId: g1.a }, [["t", 0, 100, "a-meta"], ["t", 1, 200, null], ["u", 0, 5, "x"]]));
    await env.gc.commitOffsets(commitInput("g1", { generationId: g1.generation, memberId: g1.b }, [["t", 1, 250, "later"]]));
    // A static member restarts: replaced without a rebalance (persisted).
    const replaced = await env.gc.joinGroup(joinInput("g1", { groupInstanceId: "ia" }));
    expect(replaced.errorCode).toBe(E.NONE);
    // A simple group; one of its offsets deleted.
    await env.gc.commitOffsets(commitInput("simple", {}, [["t", 0, 1, ""], ["t", 2, 3, "m"]]));
    await env.gc.deleteOffsets("simple", [{ name: "t", partitionIndexes: [0] }]);
    // A group that emptied, and one deleted.
    const gone = await joinAlone(env, "emptied");
    env.gc.leaveGroup("emptied", [{ memberId: gone.memberId, groupInstanceId: null }]);
    await env.gc.commitOffsets(commitInput("deleted"));
    await env.gc.deleteGroups(["deleted"]);
    await settle();
    const ids = ["g1", "simple", "emptied", "deleted", "never"];
    const before = state(env.gc, ids);

    const fresh = env.newCoordinator();
    await loadAll(fresh);
    expect(state(fresh, ids)).toEqual(before);
    expect(fresh.describeGroup("g1").state).toBe("Stable");
    expect(fresh.describeGroup("emptied").state).toBe("Empty");
    expect(fresh.describeGroup("deleted").state).toBe("Dead");
    expect(fresh.group("g1")!.staticMembers.get("ia")).toBe(replaced.memberId);
    // The loaded members keep working with the loaded generation.
    expect(fresh.heartbeat({ groupId: "g1", generationId: g1.generation, memberId: g1.b, groupInstanceId: null })).toBe(E.NONE);
    const sync = await fresh.syncGroup({ groupId: "g1", generationId: g1.generation, memberId: g1.b, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    expect([...sync.assignment]).toEqual([2, 2]);
    expect(fresh.fetchOffsets("g1", [{ name: "t", partitionIndexes: [1] }], false).topics[0]!.partitions[0]!.metadata).toBe("later");
  });

  test("loaded members that never come back expire and the group empties", async () => {
    const env = await setup();
    await twoMemberGroup(env, "g");
    const fresh = env.newCoordinator();
    await loadAll(fresh);
    expect(fresh.describeGroup("g").members.length).toBe(2);
    env.clock.advance(10_000);
    await settle();
    expect(fresh.describeGroup("g").state).toBe("Empty");
    // ... and that too is persisted.
    const third = env.newCoordinator();
    await loadAll(third);
    expect(third.describeGroup("g").state).toBe("Empty");
    expect(third.group("g")!.generationId).toBe(fresh.group("g")!.generationId);
  });

  test("records are Kafka's: offsets keyed v1, groups keyed v2, tombstones for deletions", async () => {
    const env = await setup();
    await env.gc.commitOffsets(commitInput("g"));
    await env.gc.deleteGroups(["g"]);
    const p = env.gc.partitionFor("g");
    const decoded = env.log.records(p).map((r) => decodeRecord(r));
    expect(decoded.map((r) => [r.kind, r.kind === "unknown" ? null : r.value === null])).toEqual([
      ["offsetCommit", false],
      ["offsetCommit", true],
      ["groupMetadata", true],
    ]);
    expect([...env.log.records(p)[0]!.key.subarray(0, 2)]).toEqual([0, 1]);
    expect([...env.log.records(p)[2]!.key.subarray(0, 2)]).toEqual([0, 2]);
  });

  test("seeded random commits and deletes replay to the same offsets", async () => {
    const seed = Number(process.env.SEED ?? 0x5eed);
    const prng = new SeededPrng(seed);
    try {
      const env = await setup();
      const groups = ["a", "b", "c", "d", "e"];
      for (let i = 0; i < 300; i++) {
        const group = groups[prng.int(groups.length)]!;
        const op = prng.int(10);
        if (op < 7) {
          const entries: [string, number, number, string | null][] = [];
          for (let k = 0; k <= prng.int(3); k++) entries.push([prng.int(2) === 0 ? "t" : "u", prng.int(3), prng.int(1_000_000), prng.int(3) === 0 ? null : `m${prng.int(100)}`]);
          await env.gc.commitOffsets(commitInput(group, {}, entries));
        } else if (op < 9) {
          await env.gc.deleteOffsets(group, [{ name: "t", partitionIndexes: [prng.int(3)] }]);
        } else {
          await env.gc.deleteGroups([group]);
        }
        if (prng.int(20) === 0) env.clock.advance(prng.int(1000));
      }
      const fresh = env.newCoordinator();
      await loadAll(fresh);
      expect(state(fresh, groups)).toEqual(state(env.gc, groups));
    } catch (e) {
      console.error(`persistence fuzz failed with seed ${seed}; replay with SEED=${seed} bun test test/coordinator/persistence.test.ts`);
      throw e;
    }
  });
});

describe("loading", () => {
  test("a log that cannot be read makes the partition unavailable, not a crash, and the load is retried", async () => {
    let reads = 0;
    const bad: OffsetsTopicLog = {
      append: () => Promise.resolve({ errorCode: E.NONE }),
      async *read(): AsyncIterable<RawRecord> {
        reads++;
        if (reads === 1) yield { key: new Uint8Array([0, 1, 0]), value: null };
      },
    };
    const clock = new SimClock();
    const gc = new Coordinator({
      config: { ...groupCoordinatorConfigDefaults, offsetsTopicNumPartitions: 1 },
      clock,
      prng: new SeededPrng(1),
      log: bad,
      topicPartitions: () => 1,
    });
    await gc.loadPartition(0);
    expect(gc.coordinatorError("g")).toBe(E.COORDINATOR_NOT_AVAILABLE);
    clock.advance(999);
    await settle();
    expect(reads).toBe(1);
    clock.advance(1);
    await settle();
    expect(reads).toBe(2);
    expect(gc.coordinatorError("g")).toBe(E.NONE);
  });

  test("records appended by operations are in the log before the response", async () => {
    const env = await setup();
    const before = env.log.appends;
    await env.gc.commitOffsets(commitInput("g"));
    expect(env.log.appends).toBe(before + 1);
    expect(env.log.records(env.gc.partitionFor("g")).length).toBe(1);
  });
});

describe("loaded consumer groups", () => {
  test("a loaded Stable group knows its subscriptions (OffsetDelete of an unsubscribed topic works)", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g"); // subscribes to "t"
    await env.gc.commitOffsets(commitInput("g", { generationId: a.generationId, memberId: a.memberId }, [["t", 0, 1, null], ["u", 0, 2, null]]));
    const fresh = env.newCoordinator();
    await loadAll(fresh);
    const out = await fresh.deleteOffsets("g", [
      { name: "t", partitionIndexes: [0] },
      { name: "u", partitionIndexes: [0] },
    ]);
    expect(out.topics.map((t) => t.partitions[0]!.errorCode)).toEqual([E.GROUP_SUBSCRIBED_TO_TOPIC, E.NONE]);
  });
});
