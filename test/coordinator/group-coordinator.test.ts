import { describe, expect, test } from "bun:test";
import { ClassicGroup, GroupMember } from "../../src/coordinator/group.ts";
import { GroupCoordinator } from "../../src/coordinator/group-coordinator.ts";
import { MemoryOffsetsTopicLog, type OffsetsAppendResult } from "../../src/coordinator/offsets-log.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { Logger, memorySink } from "../../src/util/log.ts";
import { LogLimiter } from "../../src/util/log-limiter.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { commitInput, consumerSubscription, joinAlone, joinInput, settle, setup, track } from "./helpers.ts";

const E = ErrorCode;

describe("group state machine", () => {
  test("transitions follow Kafka's table", () => {
    const g = new ClassicGroup("g", 0);
    expect(g.stateName).toBe("Empty");
    expect(() => g.transitionTo({ kind: "Stable" }, 1)).toThrow(/illegal transition Empty -> Stable/);
    expect(() => g.transitionTo({ kind: "CompletingRebalance" }, 1)).toThrow();
    g.transitionTo({ kind: "PreparingRebalance", initialDelay: false }, 2);
    expect(g.currentStateTimestampMs).toBe(2);
    expect(() => g.transitionTo({ kind: "Stable" }, 3)).toThrow();
    g.transitionTo({ kind: "CompletingRebalance" }, 3);
    g.transitionTo({ kind: "Stable" }, 4);
    expect(() => g.transitionTo({ kind: "Empty" }, 5)).toThrow();
    g.transitionTo({ kind: "PreparingRebalance", initialDelay: false }, 5);
    g.transitionTo({ kind: "Empty" }, 6);
    g.transitionTo({ kind: "Dead" }, 7);
    expect(() => g.transitionTo({ kind: "Empty" }, 8)).toThrow();
  });

  test("protocol selection: a protocol every member supports, by vote", () => {
    const g = new ClassicGroup("g", 0);
    const m = (id: string, names: string[]): GroupMember =>
      new GroupMember({
        memberId: id,
        groupInstanceId: null,
        clientId: "c",
        clientHost: "h",
        rebalanceTimeoutMs: 1,
        sessionTimeoutMs: 1,
        protocolType: "consumer",
        protocols: names.map((name) => ({ name, metadata: new Uint8Array() })),
      });
    g.add(m("a", ["range", "roundrobin", "sticky"]));
    g.add(m("b", ["roundrobin", "range"]));
    g.add(m("c", ["roundrobin", "range", "sticky"]));
    // sticky is not supported by b; roundrobin has 2 votes, range 1.
    expect(g.candidateProtocols()).toEqual(["range", "roundrobin"]);
    expect(g.selectProtocol()).toBe("roundrobin");
    expect(g.leaderId).toBe("a");
    expect(g.supportsProtocols("consumer", [{ name: "sticky", metadata: new Uint8Array() }])).toBe(false);
    expect(g.supportsProtocols("consumer", [{ name: "range", metadata: new Uint8Array() }])).toBe(true);
    expect(g.supportsProtocols("connect", [{ name: "range", metadata: new Uint8Array() }])).toBe(false);
    g.transitionTo({ kind: "PreparingRebalance", initialDelay: false }, 1);
    g.checkInvariants();
    g.remove("a");
    expect(g.leaderId).toBe("b");
    g.checkInvariants();
  });
});

describe("join and sync", () => {
  test("one member: join, become leader, sync its assignment, Stable", async () => {
    const env = await setup();
    const { memberId, generationId, join, sync } = await joinAlone(env, "g1");
    expect(memberId.startsWith("client-")).toBe(true);
    expect(memberId).toMatch(/^client-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(generationId).toBe(1);
    expect(join.leader).toBe(memberId);
    expect(join.protocolName).toBe("range");
    expect(join.members.map((m) => m.memberId)).toEqual([memberId]);
    expect([...sync.assignment]).toEqual([9]);
    expect(env.gc.describeGroup("g1").state).toBe("Stable");
  });

  test("three members: the first is leader, followers wait for the leader's assignment", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    // b joins: the group rebalances; a learns by heartbeat and rejoins.
    const bJoin = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    await settle();
    expect(bJoin.done()).toBe(false);
    expect(env.gc.heartbeat({ groupId: "g", generationId: a.generationId, memberId: a.memberId, groupInstanceId: null })).toBe(E.REBALANCE_IN_PROGRESS);
    const cJoin = track(env.gc.joinGroup(joinInput("g", { clientId: "c" })));
    const aJoin = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    expect(aJoin.done() && bJoin.done() && cJoin.done()).toBe(true);
    const [ja, jb, jc] = [aJoin.value(), bJoin.value(), cJoin.value()];
    expect(ja.generationId).toBe(2);
    expect(jb.generationId).toBe(2);
    expect(ja.leader).toBe(a.memberId);
    expect(jb.leader).toBe(a.memberId);
    expect(ja.members.length).toBe(3);
    expect(jb.members.length).toBe(0);
    expect(jc.members.length).toBe(0);
    expect(env.gc.describeGroup("g").state).toBe("CompletingRebalance");
    // Followers sync first and wait.
    const bSync = track(env.gc.syncGroup({ groupId: "g", generationId: 2, memberId: jb.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] }));
    await settle();
    expect(bSync.done()).toBe(false);
    const aSync = await env.gc.syncGroup({
      groupId: "g",
      generationId: 2,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: "consumer",
      protocolName: "range",
      assignments: [
        { memberId: a.memberId, assignment: new Uint8Array([1]) },
        { memberId: jb.memberId, assignment: new Uint8Array([2]) },
      ],
    });
    await settle();
    expect([...aSync.assignment]).toEqual([1]);
    expect([...bSync.value().assignment]).toEqual([2]);
    // c syncs after: gets its (empty: the leader gave none) assignment at once.
    const cSync = await env.gc.syncGroup({ groupId: "g", generationId: 2, memberId: jc.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    expect(cSync.errorCode).toBe(E.NONE);
    expect(cSync.assignment.length).toBe(0);
    expect(env.gc.describeGroup("g").state).toBe("Stable");
    const described = env.gc.describeGroup("g");
    expect(described.protocolData).toBe("range");
    expect(described.members.map((m) => m.clientId)).toEqual(["client", "b", "c"]);
  });

  test("v4+: a new member gets MEMBER_ID_REQUIRED with its id, then joins with it", async () => {
    const env = await setup();
    const first = await env.gc.joinGroup(joinInput("g", { requireKnownMemberId: true }));
    expect(first.errorCode).toBe(E.MEMBER_ID_REQUIRED);
    expect(first.memberId.startsWith("client-")).toBe(true);
    expect(first.generationId).toBe(-1);
    const second = await env.gc.joinGroup(joinInput("g", { requireKnownMemberId: true, memberId: first.memberId }));
    expect(second.errorCode).toBe(E.NONE);
    expect(second.memberId).toBe(first.memberId);
    expect(second.leader).toBe(first.memberId);
    // An id the coordinator never handed out is unknown.
    const bogus = await env.gc.joinGroup(joinInput("g", { requireKnownMemberId: true, memberId: "client-bogus" }));
    expect(bogus.errorCode).toBe(E.UNKNOWN_MEMBER_ID);
    const unknownGroup = await env.gc.joinGroup(joinInput("nope", { memberId: "x" }));
    expect(unknownGroup.errorCode).toBe(E.UNKNOWN_MEMBER_ID);
  });

  test("a pending member (MEMBER_ID_REQUIRED) that never returns expires after its session timeout", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const pending = await env.gc.joinGroup(joinInput("g", { requireKnownMemberId: true }));
    expect(pending.errorCode).toBe(E.MEMBER_ID_REQUIRED);
    // The pending member does not rebalance the group; it is dropped after its session timeout.
    expect(env.gc.group("g")!.pendingMembers.size).toBe(1);
    env.clock.advance(5000);
    expect(env.gc.heartbeat({ groupId: "g", generationId: a.generationId, memberId: a.memberId, groupInstanceId: null })).toBe(E.NONE);
    expect(env.gc.group("g")!.pendingMembers.size).toBe(1);
    env.clock.advance(5000);
    expect(env.gc.group("g")!.pendingMembers.size).toBe(0);
    expect(env.gc.heartbeat({ groupId: "g", generationId: a.generationId, memberId: a.memberId, groupInstanceId: null })).toBe(E.NONE);
  });

  test("request checks: session timeout bounds, protocol type, common protocol, group id", async () => {
    const env = await setup({ groupMinSessionTimeoutMs: 6000, groupMaxSessionTimeoutMs: 60_000 });
    expect((await env.gc.joinGroup(joinInput("g", { sessionTimeoutMs: 5999 }))).errorCode).toBe(E.INVALID_SESSION_TIMEOUT);
    expect((await env.gc.joinGroup(joinInput("g", { sessionTimeoutMs: 60_001 }))).errorCode).toBe(E.INVALID_SESSION_TIMEOUT);
    expect((await env.gc.joinGroup(joinInput("")).then((r) => r.errorCode))).toBe(E.INVALID_GROUP_ID);
    expect((await env.gc.joinGroup(joinInput("g", { protocols: [] }))).errorCode).toBe(E.INCONSISTENT_GROUP_PROTOCOL);
    await joinAlone(env, "g");
    expect((await env.gc.joinGroup(joinInput("g", { protocolType: "connect" }))).errorCode).toBe(E.INCONSISTENT_GROUP_PROTOCOL);
    expect((await env.gc.joinGroup(joinInput("g", { protocols: [{ name: "sticky", metadata: new Uint8Array() }] }))).errorCode).toBe(E.INCONSISTENT_GROUP_PROTOCOL);
  });

  test("protocol selection across members at join completion", async () => {
    const env = await setup();
    const p = (names: string[]) => names.map((name) => ({ name, metadata: consumerSubscription(["t"]) }));
    const a = track(env.gc.joinGroup(joinInput("g", { protocols: p(["range", "cooperative-sticky"]) })));
    await settle();
    // a alone completes at once (no initial delay here): generation 1 with range.
    expect(a.value().protocolName).toBe("range");
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b", protocols: p(["cooperative-sticky", "range"]) })));
    const c = track(env.gc.joinGroup(joinInput("g", { clientId: "c", protocols: p(["cooperative-sticky"]) })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.value().memberId, protocols: p(["range", "cooperative-sticky"]) })));
    await settle();
    expect(a2.value().protocolName).toBe("cooperative-sticky");
    expect(b.value().protocolName).toBe("cooperative-sticky");
    expect(c.value().generationId).toBe(2);
  });

  test("group.max.size: a member past the limit gets GROUP_MAX_SIZE_REACHED", async () => {
    const env = await setup({ groupMaxSize: 2 });
    const a = await joinAlone(env, "g");
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    expect(b.value().errorCode).toBe(E.NONE);
    expect(a2.value().errorCode).toBe(E.NONE);
    const c = await env.gc.joinGroup(joinInput("g", { clientId: "c" }));
    expect(c.errorCode).toBe(E.GROUP_MAX_SIZE_REACHED);
  });

  test("initial rebalance delay: a new group waits for more members, extended while they arrive", async () => {
    const env = await setup({ groupInitialRebalanceDelayMs: 3000 });
    const a = track(env.gc.joinGroup(joinInput("g", { rebalanceTimeoutMs: 10_000 })));
    await settle();
    expect(a.done()).toBe(false);
    env.clock.advance(2000);
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b", rebalanceTimeoutMs: 10_000 })));
    env.clock.advance(1000); // first delay ends; b arrived, so the delay is extended
    await settle();
    expect(a.done()).toBe(false);
    env.clock.advance(3000);
    await settle();
    expect(a.value().errorCode).toBe(E.NONE);
    expect(b.value().generationId).toBe(1);
    expect(a.value().members.length).toBe(2);
  });

  test("SyncGroup errors: unknown member, illegal generation, rebalance in progress, inconsistent protocol", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const sync = (o: Partial<Parameters<typeof env.gc.syncGroup>[0]>) =>
      env.gc.syncGroup({ groupId: "g", generationId: a.generationId, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [], ...o });
    expect((await sync({ memberId: "who" })).errorCode).toBe(E.UNKNOWN_MEMBER_ID);
    expect((await sync({ groupId: "other" })).errorCode).toBe(E.UNKNOWN_MEMBER_ID);
    expect((await sync({ generationId: 7 })).errorCode).toBe(E.ILLEGAL_GENERATION);
    expect((await sync({ protocolType: "connect" })).errorCode).toBe(E.INCONSISTENT_GROUP_PROTOCOL);
    expect((await sync({ protocolName: "roundrobin" })).errorCode).toBe(E.INCONSISTENT_GROUP_PROTOCOL);
    // Stable: the current assignment again.
    expect([...(await sync({})).assignment]).toEqual([9]);
    void env.gc.joinGroup(joinInput("g", { clientId: "b" }));
    expect((await sync({})).errorCode).toBe(E.REBALANCE_IN_PROGRESS);
  });
});

describe("heartbeats and sessions", () => {
  test("heartbeat errors", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const hb = (o: Partial<Parameters<typeof env.gc.heartbeat>[0]>) => env.gc.heartbeat({ groupId: "g", generationId: a.generationId, memberId: a.memberId, groupInstanceId: null, ...o });
    expect(hb({})).toBe(E.NONE);
    expect(hb({ generationId: 0 })).toBe(E.ILLEGAL_GENERATION);
    expect(hb({ memberId: "x" })).toBe(E.UNKNOWN_MEMBER_ID);
    expect(hb({ groupId: "none" })).toBe(E.UNKNOWN_MEMBER_ID);
    expect(hb({ groupId: "" })).toBe(E.INVALID_GROUP_ID);
    // An instance id the group does not know: the caller is not who it says (Kafka's validateMember).
    expect(hb({ groupInstanceId: "stranger" })).toBe(E.UNKNOWN_MEMBER_ID);
  });

  test("session expiry removes a silent member and rebalances the others", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const bJoin = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    const aJoin = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    const gen = aJoin.value().generationId;
    const bId = bJoin.value().memberId;
    void env.gc.syncGroup({ groupId: "g", generationId: gen, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await env.gc.syncGroup({ groupId: "g", generationId: gen, memberId: bId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await settle();
    // a keeps heartbeating, b goes silent.
    for (let i = 0; i < 4; i++) {
      env.clock.advance(3000);
      expect(env.gc.heartbeat({ groupId: "g", generationId: gen, memberId: a.memberId, groupInstanceId: null })).toBe(i < 3 ? E.NONE : E.REBALANCE_IN_PROGRESS);
    }
    expect(env.gc.group("g")!.has(bId)).toBe(false);
    expect(env.gc.heartbeat({ groupId: "g", generationId: gen, memberId: bId, groupInstanceId: null })).toBe(E.UNKNOWN_MEMBER_ID);
    const again = await env.gc.joinGroup(joinInput("g", { memberId: a.memberId }));
    expect(again.generationId).toBe(gen + 1);
    expect(again.members.length).toBe(1);
  });

  test("the last member's session expiring empties the group (Empty, generation bumped, persisted)", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    env.clock.advance(10_000);
    await settle();
    const g = env.gc.group("g")!;
    expect(g.stateName).toBe("Empty");
    expect(g.generationId).toBe(a.generationId + 1);
    expect(env.gc.heartbeat({ groupId: "g", generationId: a.generationId, memberId: a.memberId, groupInstanceId: null })).toBe(E.UNKNOWN_MEMBER_ID);
  });

  test("rebalance timeout: members that do not rejoin are removed and the rest proceed", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g", { rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 30_000 });
    // b joins; a never rejoins (but keeps heartbeating, so its session does not end it).
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b", rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 30_000 })));
    for (let t = 0; t < 20_000; t += 5000) {
      await settle();
      expect(b.done()).toBe(false);
      env.gc.heartbeat({ groupId: "g", generationId: a.generationId, memberId: a.memberId, groupInstanceId: null });
      env.clock.advance(5000);
    }
    await settle();
    expect(b.value().errorCode).toBe(E.NONE);
    expect(b.value().leader).toBe(b.value().memberId);
    expect(b.value().members.map((m) => m.memberId)).toEqual([b.value().memberId]);
    expect(env.gc.group("g")!.has(a.memberId)).toBe(false);
  });

  test("a member that never sends SyncGroup is removed at the sync deadline", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g", { rebalanceTimeoutMs: 20_000 });
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b", rebalanceTimeoutMs: 20_000 })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId, rebalanceTimeoutMs: 20_000 })));
    await settle();
    const gen = a2.value().generationId;
    // The leader syncs; b never does, but heartbeats keep its session alive.
    await env.gc.syncGroup({ groupId: "g", generationId: gen, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    for (let i = 0; i < 4; i++) {
      env.clock.advance(5000);
      env.gc.heartbeat({ groupId: "g", generationId: gen, memberId: b.value().memberId, groupInstanceId: null });
      env.gc.heartbeat({ groupId: "g", generationId: gen, memberId: a.memberId, groupInstanceId: null });
    }
    expect(env.gc.group("g")!.has(b.value().memberId)).toBe(false);
    expect(env.gc.describeGroup("g").state).toBe("PreparingRebalance");
  });
});

describe("static membership", () => {
  test("rejoin with the same group.instance.id while Stable: new member id, same generation, no rebalance", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g", { groupInstanceId: "inst-a" });
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b", groupInstanceId: "inst-b" })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId, groupInstanceId: "inst-a" })));
    await settle();
    const gen = a2.value().generationId;
    const bId = b.value().memberId;
    const bSync = track(env.gc.syncGroup({ groupId: "g", generationId: gen, memberId: bId, groupInstanceId: "inst-b", protocolType: null, protocolName: null, assignments: [] }));
    await env.gc.syncGroup({
      groupId: "g",
      generationId: gen,
      memberId: a.memberId,
      groupInstanceId: "inst-a",
      protocolType: null,
      protocolName: null,
      assignments: [
        { memberId: a.memberId, assignment: new Uint8Array([1]) },
        { memberId: bId, assignment: new Uint8Array([2]) },
      ],
    });
    await settle();
    expect([...bSync.value().assignment]).toEqual([2]);
    // b restarts (new process, unknown member id, same instance id).
    const rejoin = await env.gc.joinGroup(joinInput("g", { clientId: "b", groupInstanceId: "inst-b" }));
    expect(rejoin.errorCode).toBe(E.NONE);
    expect(rejoin.memberId).not.toBe(bId);
    expect(rejoin.generationId).toBe(gen);
    expect(rejoin.members.length).toBe(0);
    expect(env.gc.describeGroup("g").state).toBe("Stable");
    // The new incarnation gets the old one's assignment; the old one is fenced.
    const s = await env.gc.syncGroup({ groupId: "g", generationId: gen, memberId: rejoin.memberId, groupInstanceId: "inst-b", protocolType: null, protocolName: null, assignments: [] });
    expect([...s.assignment]).toEqual([2]);
    expect(env.gc.heartbeat({ groupId: "g", generationId: gen, memberId: bId, groupInstanceId: "inst-b" })).toBe(E.FENCED_INSTANCE_ID);
    expect(env.gc.heartbeat({ groupId: "g", generationId: gen, memberId: a.memberId, groupInstanceId: "inst-a" })).toBe(E.NONE);
    expect((await env.gc.joinGroup(joinInput("g", { memberId: bId, groupInstanceId: "inst-b" }))).errorCode).toBe(E.FENCED_INSTANCE_ID);
    const commit = await env.gc.commitOffsets(commitInput("g", { generationId: gen, memberId: bId, groupInstanceId: "inst-b" }));
    expect(commit[0]!.partitions[0]!.errorCode).toBe(E.FENCED_INSTANCE_ID);
    // The replacement was persisted: a fresh coordinator sees the new member id.
    const fresh = env.newCoordinator();
    await fresh.loadPartition(fresh.partitionFor("g"));
    expect(fresh.group("g")!.staticMembers.get("inst-b")).toBe(rejoin.memberId);
  });

  test("a static member rejoining with a protocol the group will now select triggers a rebalance", async () => {
    const env = await setup();
    const p = (names: string[]) => names.map((name) => ({ name, metadata: consumerSubscription(["t"]) }));
    const a = await joinAlone(env, "g", { groupInstanceId: "i", protocols: p(["range", "roundrobin"]) });
    expect(a.join.protocolName).toBe("range");
    // Dropping every protocol the group uses is not a rejoin, it is a different group protocol.
    expect((await env.gc.joinGroup(joinInput("g", { groupInstanceId: "i", protocols: p(["sticky"]) }))).errorCode).toBe(E.INCONSISTENT_GROUP_PROTOCOL);
    const rejoin = track(env.gc.joinGroup(joinInput("g", { groupInstanceId: "i", protocols: p(["roundrobin", "range"]) })));
    await settle();
    // Alone in the group, its new protocol wins: a new generation.
    expect(rejoin.value().generationId).toBe(2);
    expect(rejoin.value().protocolName).toBe("roundrobin");
  });

  test("a static leader rejoining while Stable gets the members and skipAssignment (v9)", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g", { groupInstanceId: "leader" });
    const again = await env.gc.joinGroup(joinInput("g", { groupInstanceId: "leader", supportsSkipAssignment: true }));
    expect(again.leader).toBe(again.memberId);
    expect(again.memberId).not.toBe(a.memberId);
    expect(again.skipAssignment).toBe(true);
    expect(again.members.length).toBe(1);
  });

  test("LeaveGroup by instance id alone", async () => {
    const env = await setup();
    await joinAlone(env, "g", { groupInstanceId: "i" });
    const out = env.gc.leaveGroup("g", [{ memberId: "", groupInstanceId: "i" }]);
    expect(out.members[0]!.errorCode).toBe(E.NONE);
    await settle();
    expect(env.gc.describeGroup("g").state).toBe("Empty");
  });
});

describe("rejoining while Stable", () => {
  test("a follower with unchanged metadata gets the current generation; changed metadata rebalances", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    const gen = a2.value().generationId;
    const bId = b.value().memberId;
    void env.gc.syncGroup({ groupId: "g", generationId: gen, memberId: bId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await env.gc.syncGroup({ groupId: "g", generationId: gen, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    await settle();
    const same = await env.gc.joinGroup(joinInput("g", { memberId: bId }));
    expect(same.generationId).toBe(gen);
    expect(env.gc.describeGroup("g").state).toBe("Stable");
    // Cooperative: b rejoins with different owned partitions in its subscription: a new rebalance.
    const changed = track(env.gc.joinGroup(joinInput("g", { memberId: bId, protocols: [{ name: "range", metadata: consumerSubscription(["t"], [1]) }] })));
    await settle();
    expect(changed.done()).toBe(false);
    expect(env.gc.describeGroup("g").state).toBe("PreparingRebalance");
    expect(env.gc.heartbeat({ groupId: "g", generationId: gen, memberId: a.memberId, groupInstanceId: null })).toBe(E.REBALANCE_IN_PROGRESS);
    const a3 = await env.gc.joinGroup(joinInput("g", { memberId: a.memberId }));
    await settle();
    expect(a3.generationId).toBe(gen + 1);
    expect(changed.value().generationId).toBe(gen + 1);
  });
});

describe("LeaveGroup, DescribeGroups, ListGroups, DeleteGroups", () => {
  test("batched leave with per-member errors", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    expect(a2.value().errorCode).toBe(E.NONE);
    const out = env.gc.leaveGroup("g", [
      { memberId: a.memberId, groupInstanceId: null },
      { memberId: b.value().memberId, groupInstanceId: null },
      { memberId: "ghost", groupInstanceId: null },
    ]);
    expect(out.errorCode).toBe(E.NONE);
    expect(out.members.map((m) => m.errorCode)).toEqual([E.NONE, E.NONE, E.UNKNOWN_MEMBER_ID]);
    await settle();
    expect(env.gc.describeGroup("g").state).toBe("Empty");
    expect(env.gc.leaveGroup("none", [{ memberId: "x", groupInstanceId: null }]).members[0]!.errorCode).toBe(E.UNKNOWN_MEMBER_ID);
  });

  test("a member leaving mid-sync: waiting members are told to rejoin", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    const bSync = track(env.gc.syncGroup({ groupId: "g", generationId: a2.value().generationId, memberId: b.value().memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] }));
    await settle();
    env.gc.leaveGroup("g", [{ memberId: a.memberId, groupInstanceId: null }]);
    await settle();
    expect(bSync.value().errorCode).toBe(E.REBALANCE_IN_PROGRESS);
  });

  test("describe, list with filters, delete only empty groups", async () => {
    const env = await setup();
    await joinAlone(env, "busy");
    await env.gc.commitOffsets(commitInput("idle"));
    expect(env.gc.describeGroup("missing")).toMatchObject({ errorCode: E.NONE, state: "Dead", members: [] });
    const busy = env.gc.describeGroup("busy");
    expect(busy.members[0]!.clientHost).toBe("/10.0.0.1");
    expect([...busy.members[0]!.assignment]).toEqual([9]);
    expect(env.gc.listGroups([], []).groups.map((g) => [g.groupId, g.state, g.protocolType])).toEqual([
      ["busy", "Stable", "consumer"],
      ["idle", "Empty", ""],
    ]);
    expect(env.gc.listGroups(["empty"], []).groups.map((g) => g.groupId)).toEqual(["idle"]);
    expect(env.gc.listGroups([], ["consumer"]).groups).toEqual([]);
    expect(env.gc.listGroups([], ["Classic"]).groups.length).toBe(2);
    const deleted = await env.gc.deleteGroups(["busy", "idle", "missing"]);
    expect(deleted.map((d) => d.errorCode)).toEqual([E.NON_EMPTY_GROUP, E.NONE, E.GROUP_ID_NOT_FOUND]);
    expect(env.gc.listGroups([], []).groups.map((g) => g.groupId)).toEqual(["busy"]);
    expect(env.gc.fetchOffsets("idle", [{ name: "t", partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset).toBe(-1);
  });

  test("a log that rejects every append: one error line, then a count per interval", async () => {
    const env = await setup();
    const logs = memorySink();
    const faultLog = new LogLimiter({ clock: env.clock, intervalMs: 10_000, keysMax: 16 });
    class RejectingLog extends MemoryOffsetsTopicLog {
      override append(): Promise<OffsetsAppendResult> {
        return Promise.reject(new Error("EIO"));
      }
    }
    const gc = new GroupCoordinator({
      config: env.config,
      clock: env.clock,
      prng: new SeededPrng(1),
      log: new RejectingLog(),
      topicPartitions: (name) => env.topics.get(name),
      logger: new Logger({ sink: logs.sink, level: "info" }),
      faultLog,
    });
    await Promise.all([0, 1, 2, 3].map((p) => gc.loadPartition(p)));
    for (let i = 0; i < 25; i++) {
      const [r] = await gc.commitOffsets(commitInput("g"));
      expect(r!.partitions[0]!.errorCode).not.toBe(E.NONE);
    }
    const failed = () => logs.records().filter((r) => r.msg === "group coordinator: append failed");
    expect(failed()).toHaveLength(1);
    env.clock.advance(10_000);
    expect(failed().map((r) => r.suppressed)).toEqual([undefined, "24"]);
    gc.shutdown();
  });

  test("a failed delete leaves the group as it was", async () => {
    const env = await setup();
    await env.gc.commitOffsets(commitInput("g"));
    env.log.failNext = E.NOT_ENOUGH_REPLICAS;
    const [r] = await env.gc.deleteGroups(["g"]);
    expect(r!.errorCode).toBe(E.COORDINATOR_NOT_AVAILABLE);
    expect(env.gc.describeGroup("g").state).toBe("Empty");
    expect(env.gc.fetchOffsets("g", null, false).topics.length).toBe(1);
  });
});

describe("offsets", () => {
  test("commits with generation checks", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const commit = (o: Parameters<typeof commitInput>[1]) => env.gc.commitOffsets(commitInput("g", o)).then((r) => r[0]!.partitions[0]!.errorCode);
    expect(await commit({ generationId: a.generationId, memberId: a.memberId })).toBe(E.NONE);
    expect(await commit({ generationId: a.generationId + 1, memberId: a.memberId })).toBe(E.ILLEGAL_GENERATION);
    expect(await commit({ generationId: a.generationId, memberId: "stranger" })).toBe(E.UNKNOWN_MEMBER_ID);
    // A simple commit (no generation, no member) into an active group is refused.
    expect(await commit({})).toBe(E.UNKNOWN_MEMBER_ID);
    // During the sync phase: REBALANCE_IN_PROGRESS.
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    expect(b.done()).toBe(true);
    expect(await commit({ generationId: a2.value().generationId, memberId: a.memberId })).toBe(E.REBALANCE_IN_PROGRESS);
    // Unknown group with a generation: ILLEGAL_GENERATION (v9: GROUP_ID_NOT_FOUND).
    expect((await env.gc.commitOffsets(commitInput("nope", { generationId: 1, memberId: "m" })))[0]!.partitions[0]!.errorCode).toBe(E.ILLEGAL_GENERATION);
    expect((await env.gc.commitOffsets(commitInput("nope", { generationId: 1, memberId: "m", apiVersion: 9 })))[0]!.partitions[0]!.errorCode).toBe(E.GROUP_ID_NOT_FOUND);
  });

  test("simple commits create an Empty group; metadata round-trips; limits per partition", async () => {
    const env = await setup({ offsetMetadataMaxBytes: 8 });
    const r = await env.gc.commitOffsets(
      commitInput("simple", {}, [
        ["t", 0, 5, "12345678"],
        ["t", 1, 6, "123456789"],
        ["t", 2, 7, null],
        ["t", 3, 8, ""],
        ["gone", 0, 1, ""],
      ]),
    );
    expect(r[0]!.partitions.map((p) => p.errorCode)).toEqual([E.NONE, E.OFFSET_METADATA_TOO_LARGE, E.NONE, E.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(r[1]!.partitions[0]!.errorCode).toBe(E.UNKNOWN_TOPIC_OR_PARTITION);
    expect(env.gc.describeGroup("simple").state).toBe("Empty");
    const f = env.gc.fetchOffsets("simple", [{ name: "t", partitionIndexes: [0, 1, 2] }], true);
    expect(f.topics[0]!.partitions.map((p) => [p.committedOffset, p.committedLeaderEpoch, p.metadata])).toEqual([
      [5, 3, "12345678"],
      [-1, -1, ""],
      [7, 3, ""],
    ]);
    // topics null: everything committed.
    expect(env.gc.fetchOffsets("simple", null, false).topics).toEqual([
      {
        name: "t",
        partitions: [
          { partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: 3, metadata: "12345678", errorCode: E.NONE },
          { partitionIndex: 2, committedOffset: 7, committedLeaderEpoch: 3, metadata: "", errorCode: E.NONE },
        ],
      },
    ]);
  });

  test("OffsetFetch of an unknown group: offsets -1, no error", async () => {
    const env = await setup();
    const f = env.gc.fetchOffsets("nobody", [{ name: "t", partitionIndexes: [0] }], false);
    expect(f.errorCode).toBe(E.NONE);
    expect(f.topics[0]!.partitions[0]).toEqual({ partitionIndex: 0, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode: E.NONE });
    expect(env.gc.fetchOffsets("nobody", null, false).topics).toEqual([]);
  });

  test("a commit is answered only after the append is acknowledged, and a failed append is an error", async () => {
    const env = await setup();
    env.log.hold();
    const pending = track(env.gc.commitOffsets(commitInput("g")));
    await settle();
    expect(pending.done()).toBe(false);
    expect(env.gc.fetchOffsets("g", [{ name: "t", partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset).toBe(-1);
    env.log.release();
    await settle();
    expect(pending.value()[0]!.partitions[0]!.errorCode).toBe(E.NONE);
    expect(env.gc.fetchOffsets("g", [{ name: "t", partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset).toBe(10);
    env.log.failNext = E.NOT_LEADER_OR_FOLLOWER;
    const failed = await env.gc.commitOffsets(commitInput("g", {}, [["t", 0, 99, null]]));
    expect(failed[0]!.partitions[0]!.errorCode).toBe(E.NOT_COORDINATOR);
    expect(env.gc.fetchOffsets("g", [{ name: "t", partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset).toBe(10);
    env.log.failNext = E.MESSAGE_TOO_LARGE;
    expect((await env.gc.commitOffsets(commitInput("g")))[0]!.partitions[0]!.errorCode).toBe(E.INVALID_COMMIT_OFFSET_SIZE);
  });

  test("OffsetDelete: refused for subscribed topics of an active consumer group", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g"); // subscribes to "t"
    await env.gc.commitOffsets(commitInput("g", { generationId: a.generationId, memberId: a.memberId }, [["t", 0, 1, null], ["u", 0, 2, null]]));
    const out = await env.gc.deleteOffsets("g", [
      { name: "t", partitionIndexes: [0] },
      { name: "u", partitionIndexes: [0] },
    ]);
    expect(out.errorCode).toBe(E.NONE);
    expect(out.topics.map((t) => t.partitions[0]!.errorCode)).toEqual([E.GROUP_SUBSCRIBED_TO_TOPIC, E.NONE]);
    expect(env.gc.fetchOffsets("g", null, false).topics.map((t) => t.name)).toEqual(["t"]);
    expect((await env.gc.deleteOffsets("nope", [])).errorCode).toBe(E.GROUP_ID_NOT_FOUND);
    // Another protocol type with members: NON_EMPTY_GROUP.
    await joinAlone(env, "connect-group", { protocolType: "connect" });
    expect((await env.gc.deleteOffsets("connect-group", [{ name: "t", partitionIndexes: [0] }])).errorCode).toBe(E.NON_EMPTY_GROUP);
    // Once empty, everything may go.
    env.gc.leaveGroup("g", [{ memberId: a.memberId, groupInstanceId: null }]);
    await settle();
    const after = await env.gc.deleteOffsets("g", [{ name: "t", partitionIndexes: [0] }]);
    expect(after.topics[0]!.partitions[0]!.errorCode).toBe(E.NONE);
    expect(env.gc.fetchOffsets("g", null, false).topics).toEqual([]);
  });

  test("offset expiry: simple groups by commit time, consumer groups from when they became empty", async () => {
    const day = 24 * 60 * 60 * 1000;
    const env = await setup({ offsetsRetentionMs: 7 * day, offsetsRetentionCheckIntervalMs: 60_000 });
    env.gc.start();
    await env.gc.commitOffsets(commitInput("simple"));
    const a = await joinAlone(env, "consumers", { sessionTimeoutMs: 30_000 });
    await env.gc.commitOffsets(commitInput("consumers", { generationId: a.generationId, memberId: a.memberId }));
    // Six days: the consumer group keeps heartbeating... then leaves.
    env.clock.advance(6 * day);
    await settle();
    expect(env.gc.describeGroup("simple").state).toBe("Empty");
    expect(env.gc.leaveGroup("consumers", [{ memberId: a.memberId, groupInstanceId: null }]).members[0]!.errorCode).toBe(E.UNKNOWN_MEMBER_ID);
    // (its session had long expired: the group became empty 30 s after the join)
    env.clock.advance(day);
    await settle();
    // The simple group's offsets are 7 days old: gone, and the group with them.
    expect(env.gc.describeGroup("simple").state).toBe("Dead");
    expect(env.gc.fetchOffsets("simple", null, false).topics).toEqual([]);
    // The consumer group became empty 30 s after its join; 7 days after that it goes too.
    expect(env.gc.describeGroup("consumers").state).toBe("Empty");
    env.clock.advance(60_000);
    await settle();
    expect(env.gc.describeGroup("consumers").state).toBe("Dead");
    // Explicit retention (OffsetCommit v2–v4): expires at its own time.
    await env.gc.commitOffsets(commitInput("short", { retentionTimeMs: 120_000 }));
    env.clock.advance(60_000);
    await settle();
    expect(env.gc.fetchOffsets("short", null, false).topics.length).toBe(1);
    env.clock.advance(60_000);
    await settle();
    expect(env.gc.fetchOffsets("short", null, false).topics).toEqual([]);
    env.gc.shutdown();
  });

  test("offsets of an Empty consumer group are kept while younger than the retention", async () => {
    const day = 24 * 60 * 60 * 1000;
    const env = await setup({ offsetsRetentionMs: 7 * day });
    const a = await joinAlone(env, "g", { sessionTimeoutMs: 30_000 });
    await env.gc.commitOffsets(commitInput("g", { generationId: a.generationId, memberId: a.memberId }));
    env.gc.leaveGroup("g", [{ memberId: a.memberId, groupInstanceId: null }]);
    await settle();
    env.clock.advance(7 * day - 1);
    await env.gc.expireOffsets();
    expect(env.gc.fetchOffsets("g", null, false).topics.length).toBe(1);
    env.clock.advance(1);
    await env.gc.expireOffsets();
    expect(env.gc.fetchOffsets("g", null, false).topics).toEqual([]);
    expect(env.gc.describeGroup("g").state).toBe("Dead");
  });
});

describe("partitions: coordinator ownership and loading", () => {
  test("NOT_COORDINATOR for unowned partitions, COORDINATOR_LOAD_IN_PROGRESS while loading", async () => {
    const env = await setup({}, { load: false });
    const p = env.gc.partitionFor("g");
    expect(env.gc.coordinatorError("g")).toBe(E.NOT_COORDINATOR);
    expect((await env.gc.joinGroup(joinInput("g"))).errorCode).toBe(E.NOT_COORDINATOR);
    // Loading: the log read is async; before it finishes every group call says so.
    const loading = env.gc.loadPartition(p);
    expect(env.gc.isLoading(p)).toBe(true);
    expect(env.gc.coordinatorError("g")).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect(env.gc.heartbeat({ groupId: "g", generationId: 1, memberId: "m", groupInstanceId: null })).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    const sync = env.gc.syncGroup({ groupId: "g", generationId: 1, memberId: "m", groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    const join = env.gc.joinGroup(joinInput("g"));
    const commit = env.gc.commitOffsets(commitInput("g"));
    const deleted = env.gc.deleteGroups(["g"]);
    expect(env.gc.fetchOffsets("g", null, false).errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect(env.gc.listGroups([], []).errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect(env.gc.describeGroup("g").errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect(env.gc.leaveGroup("g", [{ memberId: "m", groupInstanceId: null }]).errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await sync).errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await join).errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await commit)[0]!.partitions[0]!.errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await deleted)[0]!.errorCode).toBe(E.COORDINATOR_LOAD_IN_PROGRESS);
    await loading;
    expect(env.gc.coordinatorError("g")).toBe(E.NONE);
    expect(env.gc.listGroups([], []).errorCode).toBe(E.NONE);
  });

  test("unloading answers waiting joins with NOT_COORDINATOR", async () => {
    const env = await setup();
    await joinAlone(env, "g");
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    await settle();
    env.gc.unloadPartition(env.gc.partitionFor("g"));
    await settle();
    expect(b.value().errorCode).toBe(E.NOT_COORDINATOR);
    expect(env.gc.coordinatorError("g")).toBe(E.NOT_COORDINATOR);
  });
});

describe("limits", () => {
  test("metadata past the record string limit is refused even when offset.metadata.max.bytes allows it", async () => {
    const env = await setup({ offsetMetadataMaxBytes: 1_000_000 });
    const big = "é".repeat(20_000); // 40,000 UTF-8 bytes
    const r = await env.gc.commitOffsets(commitInput("g", {}, [["t", 0, 1, big], ["t", 1, 1, "é".repeat(16_000)]]));
    expect(r[0]!.partitions.map((p) => p.errorCode)).toEqual([E.OFFSET_METADATA_TOO_LARGE, E.NONE]);
  });
});

describe("leader election", () => {
  test("when the leader leaves, the next member to have joined leads the next generation", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g");
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b" })));
    const a2 = track(env.gc.joinGroup(joinInput("g", { memberId: a.memberId })));
    await settle();
    expect(a2.value().leader).toBe(a.memberId);
    const bId = b.value().memberId;
    env.gc.leaveGroup("g", [{ memberId: a.memberId, groupInstanceId: null }]);
    const b2 = await env.gc.joinGroup(joinInput("g", { memberId: bId }));
    expect(b2.leader).toBe(bId);
    expect(b2.members.map((m) => m.memberId)).toEqual([bId]);
  });

  test("a leader that does not rejoin in time is replaced by a member that did", async () => {
    const env = await setup();
    const a = await joinAlone(env, "g", { rebalanceTimeoutMs: 10_000, sessionTimeoutMs: 60_000 });
    const b = track(env.gc.joinGroup(joinInput("g", { clientId: "b", rebalanceTimeoutMs: 10_000, sessionTimeoutMs: 60_000 })));
    env.clock.advance(10_000);
    await settle();
    expect(b.value().leader).toBe(b.value().memberId);
    expect(env.gc.group("g")!.has(a.memberId)).toBe(false);
    // Not Stable: members are listed without metadata or assignments.
    const d = env.gc.describeGroup("g");
    expect(d.state).toBe("CompletingRebalance");
    expect(d.protocolData).toBe("");
    expect(d.members[0]!.metadata.length).toBe(0);
  });
});

describe("snapshots that cannot be served", () => {
  test("a group snapshot with members but no protocol loads as Empty", () => {
    const g = ClassicGroup.fromRecordValue("g", {
      protocolType: "consumer",
      generation: 4,
      protocol: null,
      leader: "m",
      currentStateTimestampMs: 1,
      members: [{ memberId: "m", groupInstanceId: null, clientId: "c", clientHost: "h", rebalanceTimeoutMs: 1, sessionTimeoutMs: 1, subscription: new Uint8Array(), assignment: new Uint8Array() }],
    });
    expect(g.stateName).toBe("Empty");
    expect(g.generationId).toBe(4);
    expect(g.size).toBe(0);
  });
});
