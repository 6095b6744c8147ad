/**
 * The classic group protocol over one shard's groups: JoinGroup (member ids, static
 * membership, the initial delay, the rebalance timeout, protocol selection), SyncGroup (the
 * leader's assignment persisted, then handed out), Heartbeat and session expiry, LeaveGroup,
 * and the pending-sync deadline. Kafka's GroupMetadataManager for classic groups; the state
 * machine itself is group.ts. The coordinator resolves the shard (NOT_COORDINATOR, loading)
 * before calling in.
 *
 * Every deadline is a Clock timer that re-checks, when it fires, that its shard, group and
 * member are still current (`ShardRuntime.live`).
 */
import type { Prng } from "../platform/prng.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { DescribedGroupInfo, HeartbeatInput, JoinGroupInput, LeaveGroupOutcome, SyncGroupInput } from "./api.ts";
import { NEW_MEMBER_JOIN_TIMEOUT_MS } from "./config.ts";
import { ClassicGroup, consumerSubscriptionTopics, GroupMember, type JoinGroupOutcome, type SyncGroupOutcome } from "./group.ts";
import { type CoordinatorRecord, groupMetadataRecord, offsetCommitRecord } from "./records.ts";
import type { CommittedOffset, Shard, ShardRuntime } from "./shard.ts";

export const CONSUMER_PROTOCOL_TYPE = "consumer";

const EMPTY_BYTES = new Uint8Array(0);

export class ClassicGroupManager {
  readonly #rt: ShardRuntime;
  readonly #prng: Prng;

  constructor(rt: ShardRuntime, prng: Prng) {
    this.#rt = rt;
    this.#prng = prng;
  }

  /** Cancels a group's timers and answers its waiting members. */
  abandonGroup(group: ClassicGroup, errorCode: number): void {
    group.cancelJoinTimer?.();
    group.cancelJoinTimer = null;
    group.cancelSyncTimer?.();
    group.cancelSyncTimer = null;
    for (const cancel of group.pendingMembers.values()) cancel();
    group.pendingMembers.clear();
    for (const m of group.members.values()) {
      m.cancelHeartbeat?.();
      m.cancelHeartbeat = null;
      const join = m.awaitingJoin;
      m.awaitingJoin = null;
      join?.(joinError(errorCode, m.memberId));
      const sync = m.awaitingSync;
      m.awaitingSync = null;
      sync?.(syncError(errorCode));
    }
  }

  // ---------------------------------------------------------------- timers

  scheduleHeartbeat(shard: Shard, group: ClassicGroup, member: GroupMember, timeoutMs: number): void {
    member.cancelHeartbeat?.();
    member.heartbeatDeadlineMs = this.#rt.clock.monotonicMs() + timeoutMs;
    member.cancelHeartbeat = this.#rt.clock.schedule(timeoutMs, () => {
      member.cancelHeartbeat = null;
      if (!this.#rt.live(shard, group) || group.members.get(member.memberId) !== member) return;
      // A member waiting in a join or sync is answered by that phase's own deadline.
      if (member.shouldKeepAlive()) return;
      this.#rt.logger?.info("group coordinator: member session expired", { group: group.groupId, member: member.memberId });
      this.#removeMemberAndUpdateGroup(shard, group, member);
    });
  }

  #schedulePendingMember(shard: Shard, group: ClassicGroup, memberId: string, timeoutMs: number): void {
    group.pendingMembers.get(memberId)?.();
    const cancel = this.#rt.clock.schedule(timeoutMs, () => {
      if (!this.#rt.live(shard, group) || group.pendingMembers.get(memberId) !== cancel) return;
      group.pendingMembers.delete(memberId);
      this.#maybeCompleteJoin(shard, group);
    });
    group.pendingMembers.set(memberId, cancel);
  }

  // ---------------------------------------------------------------- JoinGroup

  joinGroup(shard: Shard, req: JoinGroupInput): Promise<JoinGroupOutcome> {
    if (req.sessionTimeoutMs < this.#rt.config.groupMinSessionTimeoutMs || req.sessionTimeoutMs > this.#rt.config.groupMaxSessionTimeoutMs) {
      return Promise.resolve(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    if (req.protocolType === "" || req.protocols.length === 0) return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    let group = shard.groups.get(req.groupId);
    if (group === undefined) {
      if (req.memberId !== "") return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
      group = new ClassicGroup(req.groupId, this.#rt.clock.nowMs());
      shard.groups.set(req.groupId, group);
    }
    if (group.is("Dead")) return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (!group.supportsProtocols(req.protocolType, req.protocols)) {
      return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    if (!this.#acceptJoiningMember(group, req.memberId)) return Promise.resolve(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, req.memberId));
    const g = group;
    return new Promise<JoinGroupOutcome>((resolve) => {
      if (req.memberId === "") this.#newMemberJoin(shard, g, req, resolve);
      else this.#currentMemberJoin(shard, g, req, resolve);
      g.checkInvariants();
    });
  }

  #acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.#rt.config.groupMaxSize;
    switch (group.stateName) {
      case "Empty":
      case "Dead":
        return true;
      case "PreparingRebalance":
        return (group.members.get(memberId)?.awaitingJoin ?? null) !== null || group.numAwaitingJoin() < max;
      case "CompletingRebalance":
      case "Stable":
        return group.has(memberId) || group.size < max;
    }
  }

  #newMemberId(clientId: string): string {
    const b = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) {
      const v = this.#prng.nextU32();
      b[i] = v >>> 24;
      b[i + 1] = (v >>> 16) & 0xff;
      b[i + 2] = (v >>> 8) & 0xff;
      b[i + 3] = v & 0xff;
    }
    b[6] = (b[6]! & 0x0f) | 0x40; // version 4
    b[8] = (b[8]! & 0x3f) | 0x80; // IETF variant
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${clientId}-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  #newMemberJoin(shard: Shard, group: ClassicGroup, req: JoinGroupInput, resolve: (o: JoinGroupOutcome) => void): void {
    const memberId = this.#newMemberId(req.clientId);
    if (req.groupInstanceId !== null) {
      this.#staticMemberJoin(shard, group, req, memberId, resolve);
    } else if (req.requireKnownMemberId) {
      // The member must come back with this id; until then it only counts for completing the join.
      this.#schedulePendingMember(shard, group, memberId, req.sessionTimeoutMs);
      resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId));
    } else {
      this.#addMemberAndRebalance(shard, group, req, memberId, resolve);
    }
  }

  #staticMemberJoin(shard: Shard, group: ClassicGroup, req: JoinGroupInput, newMemberId: string, resolve: (o: JoinGroupOutcome) => void): void {
    const instanceId = req.groupInstanceId!;
    const oldMemberId = group.staticMemberId(instanceId);
    if (oldMemberId === undefined) {
      this.#addMemberAndRebalance(shard, group, req, newMemberId, resolve);
      return;
    }
    const member = group.members.get(oldMemberId)!;
    // The old incarnation is fenced: its waiting requests are answered now.
    const oldJoin = member.awaitingJoin;
    member.awaitingJoin = null;
    oldJoin?.(joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId));
    const oldSync = member.awaitingSync;
    member.awaitingSync = null;
    oldSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    const old = { protocols: member.protocols, rebalanceTimeoutMs: member.rebalanceTimeoutMs, sessionTimeoutMs: member.sessionTimeoutMs };
    group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    switch (group.stateName) {
      case "Stable": {
        if (group.selectProtocol() !== group.protocolName) {
          // The next generation's protocol changes: the assignor must run again.
          member.awaitingJoin = resolve;
          this.#maybePrepareRebalance(shard, group);
          this.#maybeCompleteJoin(shard, group);
          return;
        }
        // Same protocol: the new incarnation takes the old one's place and assignment, no rebalance.
        this.scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        const isLeader = group.isLeader(newMemberId);
        const generation = group.generationId;
        const ok: JoinGroupOutcome = {
          errorCode: ErrorCode.NONE,
          generationId: group.generationId,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          leader: group.leaderId ?? "",
          memberId: newMemberId,
          members: isLeader ? this.#memberMetadata(group) : [],
          skipAssignment: isLeader && req.supportsSkipAssignment,
        };
        void this.#rt.write(shard, { records: [groupMetadataRecord(group.groupId, group.toRecordValue())], response: ok }, (errorCode) => {
          // Not persisted: put the old incarnation back, as if this join never happened.
          if (this.#rt.live(shard, group) && group.generationId === generation && group.members.get(newMemberId) === member) {
            group.replaceStaticMember(instanceId, newMemberId, oldMemberId);
            member.protocols = old.protocols;
            member.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
            member.sessionTimeoutMs = old.sessionTimeoutMs;
          }
          return joinError(errorCode, newMemberId);
        }).then(resolve);
        return;
      }
      case "CompletingRebalance":
        // The leader may already hold the old member id in its assignment: rebalance again.
        member.awaitingJoin = resolve;
        this.#maybePrepareRebalance(shard, group);
        this.#maybeCompleteJoin(shard, group);
        return;
      case "PreparingRebalance":
        member.awaitingJoin = resolve;
        this.#maybeCompleteJoin(shard, group);
        return;
      case "Empty":
      case "Dead":
        throw new Error(`group ${group.groupId}: static member ${instanceId} in a ${group.stateName} group`);
    }
  }

  #addMemberAndRebalance(shard: Shard, group: ClassicGroup, req: JoinGroupInput, memberId: string, resolve: (o: JoinGroupOutcome) => void): void {
    const member = new GroupMember({
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
    });
    member.isNew = true;
    member.awaitingJoin = resolve;
    // A join during the initial delay of a new group may extend the delay.
    if (group.is("PreparingRebalance") && group.generationId === 0) group.newMemberAdded = true;
    group.pendingMembers.get(memberId)?.();
    group.pendingMembers.delete(memberId);
    group.add(member);
    this.scheduleHeartbeat(shard, group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.#maybePrepareRebalance(shard, group);
    this.#maybeCompleteJoin(shard, group);
  }

  #currentMemberJoin(shard: Shard, group: ClassicGroup, req: JoinGroupInput, resolve: (o: JoinGroupOutcome) => void): void {
    const memberId = req.memberId;
    if (group.pendingMembers.has(memberId)) {
      this.#addMemberAndRebalance(shard, group, req, memberId, resolve);
      return;
    }
    if (group.isStaticMemberFenced(memberId, req.groupInstanceId)) {
      resolve(joinError(ErrorCode.FENCED_INSTANCE_ID, memberId));
      return;
    }
    const member = group.members.get(memberId);
    if (member === undefined) {
      resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
      return;
    }
    switch (group.stateName) {
      case "PreparingRebalance":
        this.#updateMemberAndRebalance(shard, group, member, req, resolve);
        return;
      case "CompletingRebalance":
        if (member.matches(req.protocols)) {
          // A retried JoinGroup of this generation: answer it again.
          resolve(this.#joinResponse(group, member));
        } else {
          this.#updateMemberAndRebalance(shard, group, member, req, resolve);
        }
        return;
      case "Stable":
        if (group.isLeader(memberId) || !member.matches(req.protocols)) {
          // The leader rejoining, or changed metadata (new subscription, cooperative revocation done): rebalance.
          this.#updateMemberAndRebalance(shard, group, member, req, resolve);
        } else {
          resolve(this.#joinResponse(group, member));
        }
        return;
      case "Empty":
      case "Dead":
        resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
        return;
    }
  }

  #updateMemberAndRebalance(shard: Shard, group: ClassicGroup, member: GroupMember, req: JoinGroupInput, resolve: (o: JoinGroupOutcome) => void): void {
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    const previous = member.awaitingJoin;
    member.awaitingJoin = resolve;
    previous?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    this.#maybePrepareRebalance(shard, group);
    this.#maybeCompleteJoin(shard, group);
  }

  #memberMetadata(group: ClassicGroup): JoinGroupOutcome["members"] {
    const protocol = group.protocolName;
    if (protocol === null) return [];
    return [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(protocol) }));
  }

  #joinResponse(group: ClassicGroup, member: GroupMember): JoinGroupOutcome {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? "",
      memberId: member.memberId,
      members: group.isLeader(member.memberId) ? this.#memberMetadata(group) : [],
      skipAssignment: false,
    };
  }

  #maybePrepareRebalance(shard: Shard, group: ClassicGroup): void {
    if (group.is("Stable") || group.is("CompletingRebalance") || group.is("Empty")) this.#prepareRebalance(shard, group);
  }

  #prepareRebalance(shard: Shard, group: ClassicGroup): void {
    if (group.is("CompletingRebalance")) this.#resetAndPropagateAssignmentWithError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    group.cancelSyncTimer?.();
    group.cancelSyncTimer = null;
    group.pendingSync.clear();
    const delayMs = this.#rt.config.groupInitialRebalanceDelayMs;
    const initial = group.is("Empty") && delayMs > 0;
    group.transitionTo({ kind: "PreparingRebalance", initialDelay: initial }, this.#rt.clock.nowMs());
    group.cancelJoinTimer?.();
    if (initial) {
      group.newMemberAdded = false;
      this.#scheduleInitialJoin(shard, group, delayMs, Math.max(group.rebalanceTimeoutMs() - delayMs, 0));
    } else {
      group.cancelJoinTimer = this.#rt.clock.schedule(group.rebalanceTimeoutMs(), () => {
        group.cancelJoinTimer = null;
        if (this.#rt.live(shard, group)) this.#completeJoin(shard, group);
      });
    }
  }

  /** The initial delay of a new group: extended while members keep arriving, up to the rebalance timeout. */
  #scheduleInitialJoin(shard: Shard, group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.cancelJoinTimer = this.#rt.clock.schedule(delayMs, () => {
      group.cancelJoinTimer = null;
      if (!this.#rt.live(shard, group) || !group.is("PreparingRebalance")) return;
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false;
        const next = Math.min(this.#rt.config.groupInitialRebalanceDelayMs, remainingMs);
        this.#scheduleInitialJoin(shard, group, next, remainingMs - next);
      } else {
        this.#completeJoin(shard, group);
      }
    });
  }

  #maybeCompleteJoin(shard: Shard, group: ClassicGroup): void {
    const state = group.state;
    if (state.kind === "PreparingRebalance" && !state.initialDelay && group.hasAllMembersJoined()) this.#completeJoin(shard, group);
  }

  /** Ends the join phase: drops members that did not rejoin, starts the next generation, answers the joins. */
  #completeJoin(shard: Shard, group: ClassicGroup): void {
    group.cancelJoinTimer?.();
    group.cancelJoinTimer = null;
    if (!group.is("PreparingRebalance")) return;
    const now = this.#rt.clock.nowMs();
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin !== null) continue;
      member.cancelHeartbeat?.();
      member.cancelHeartbeat = null;
      group.remove(member.memberId);
    }
    if (group.size > 0 && group.candidateProtocols().length === 0) {
      // Members changed protocols until none is common: nobody can be served; all must rejoin.
      for (const member of [...group.members.values()]) {
        const join = member.awaitingJoin;
        member.awaitingJoin = null;
        member.cancelHeartbeat?.();
        group.remove(member.memberId);
        join?.(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, member.memberId));
      }
    }
    if (group.size === 0) {
      group.generationId++;
      group.protocolName = null;
      group.subscribedTopics = null;
      group.transitionTo({ kind: "Empty" }, now);
      group.checkInvariants();
      const generation = group.generationId;
      void this.#rt.write(shard, { records: [groupMetadataRecord(group.groupId, group.toRecordValue())], response: ErrorCode.NONE as number }, (e) => e).then((errorCode) => {
        if (errorCode !== ErrorCode.NONE) {
          this.#rt.logger?.warn("group coordinator: could not persist the empty group", { group: group.groupId, generation, errorCode });
        }
      });
      return;
    }
    group.generationId++;
    group.protocolName = group.selectProtocol();
    group.subscribedTopics = this.subscribedTopics(group);
    group.transitionTo({ kind: "CompletingRebalance" }, now);
    group.pendingSync.clear();
    for (const id of group.members.keys()) group.pendingSync.add(id);
    group.checkInvariants();
    for (const member of group.members.values()) {
      const join = member.awaitingJoin!;
      member.awaitingJoin = null;
      member.isNew = false;
      this.scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
      join(this.#joinResponse(group, member));
    }
    const generation = group.generationId;
    group.cancelSyncTimer = this.#rt.clock.schedule(group.rebalanceTimeoutMs(), () => {
      group.cancelSyncTimer = null;
      if (!this.#rt.live(shard, group) || group.generationId !== generation) return;
      if (!(group.is("CompletingRebalance") || group.is("Stable")) || group.pendingSync.size === 0) return;
      // Members that never sent SyncGroup: drop them and rebalance without them.
      for (const id of [...group.pendingSync]) {
        const member = group.members.get(id);
        if (member !== undefined) this.#removeMemberAndUpdateGroup(shard, group, member);
      }
    });
  }

  subscribedTopics(group: ClassicGroup): ReadonlySet<string> | null {
    if (group.protocolType !== CONSUMER_PROTOCOL_TYPE || group.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of group.members.values()) {
      const t = consumerSubscriptionTopics(m.metadataFor(group.protocolName));
      if (t === null) return null;
      for (const x of t) topics.add(x);
    }
    return topics;
  }

  #resetAndPropagateAssignmentWithError(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) {
      m.assignment = EMPTY_BYTES;
      const sync = m.awaitingSync;
      m.awaitingSync = null;
      sync?.(syncError(errorCode));
    }
  }

  #removeMemberAndUpdateGroup(shard: Shard, group: ClassicGroup, member: GroupMember): void {
    member.cancelHeartbeat?.();
    member.cancelHeartbeat = null;
    const join = member.awaitingJoin;
    member.awaitingJoin = null;
    const sync = member.awaitingSync;
    member.awaitingSync = null;
    group.remove(member.memberId);
    join?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    sync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    switch (group.stateName) {
      case "Dead":
      case "Empty":
        break;
      case "Stable":
      case "CompletingRebalance":
        this.#maybePrepareRebalance(shard, group);
        this.#maybeCompleteJoin(shard, group);
        break;
      case "PreparingRebalance":
        this.#maybeCompleteJoin(shard, group);
        break;
    }
    group.checkInvariants();
  }

  // ---------------------------------------------------------------- SyncGroup

  syncGroup(shard: Shard, req: SyncGroupInput): Promise<SyncGroupOutcome> {
    const group = shard.groups.get(req.groupId);
    if (group === undefined) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is("Dead")) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const invalid = group.validateMember(req.memberId, req.groupInstanceId);
    if (invalid !== ErrorCode.NONE) return Promise.resolve(syncError(invalid));
    const member = group.members.get(req.memberId)!;
    if (req.generationId !== group.generationId) return Promise.resolve(syncError(ErrorCode.ILLEGAL_GENERATION));
    if ((req.protocolType !== null && req.protocolType !== group.protocolType) || (req.protocolName !== null && req.protocolName !== group.protocolName)) {
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    switch (group.stateName) {
      case "Empty":
      case "Dead":
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case "PreparingRebalance":
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case "Stable":
        group.pendingSync.delete(member.memberId);
        this.scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        return Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
      case "CompletingRebalance":
        return new Promise<SyncGroupOutcome>((resolve) => {
          const previous = member.awaitingSync;
          member.awaitingSync = resolve;
          previous?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
          group.pendingSync.delete(member.memberId);
          this.scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
          if (group.isLeader(member.memberId)) this.#storeAssignment(shard, group, req.assignments);
        });
    }
  }

  /** The leader's assignment: persisted with the group, then handed to every waiting member. */
  #storeAssignment(shard: Shard, group: ClassicGroup, assignments: SyncGroupInput["assignments"]): void {
    const byMember = new Map<string, Uint8Array>();
    for (const a of assignments) if (group.has(a.memberId)) byMember.set(a.memberId, a.assignment);
    const snapshot = group.toRecordValue();
    for (const m of snapshot.members) m.assignment = byMember.get(m.memberId) ?? EMPTY_BYTES;
    const generation = group.generationId;
    void this.#rt.write(shard, { records: [groupMetadataRecord(group.groupId, snapshot)], response: ErrorCode.NONE as number }, (e) => e).then((errorCode) => {
      if (!this.#rt.live(shard, group) || !group.is("CompletingRebalance") || group.generationId !== generation) return;
      if (errorCode !== ErrorCode.NONE) {
        this.#resetAndPropagateAssignmentWithError(group, errorCode);
        this.#maybePrepareRebalance(shard, group);
        return;
      }
      for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY_BYTES;
      group.transitionTo({ kind: "Stable" }, this.#rt.clock.nowMs());
      for (const m of group.members.values()) {
        const sync = m.awaitingSync;
        m.awaitingSync = null;
        sync?.({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: m.assignment });
      }
      group.checkInvariants();
    });
  }

  // ---------------------------------------------------------------- Heartbeat, LeaveGroup

  heartbeat(shard: Shard, req: HeartbeatInput): number {
    const group = shard.groups.get(req.groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const invalid = group.validateMember(req.memberId, req.groupInstanceId);
    if (invalid !== ErrorCode.NONE) return invalid;
    const member = group.members.get(req.memberId)!;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.stateName) {
      case "Empty":
      case "Dead":
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case "PreparingRebalance":
        this.scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case "CompletingRebalance":
      case "Stable":
        this.scheduleHeartbeat(shard, group, member, member.sessionTimeoutMs);
        return ErrorCode.NONE;
    }
  }

  /**
   * Removes members (LeaveGroup v3+ batches them). A member is named by member id, or by
   * group instance id alone (member id ""). Per-member errors; the top level only for the group.
   */
  leaveGroup(shard: Shard, groupId: string, members: readonly { memberId: string; groupInstanceId: string | null }[]): LeaveGroupOutcome {
    const perMember = (errorCode: number): LeaveGroupOutcome["members"] => members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode }));
    const group = shard.groups.get(groupId);
    if (group === undefined) return { errorCode: ErrorCode.NONE, members: perMember(ErrorCode.UNKNOWN_MEMBER_ID) };
    if (group.is("Dead")) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const out: LeaveGroupOutcome["members"] = [];
    for (const m of members) {
      const answer = (errorCode: number): void => {
        out.push({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
      };
      if (m.memberId === "" && m.groupInstanceId !== null) {
        const id = group.staticMemberId(m.groupInstanceId);
        const member = id === undefined ? undefined : group.members.get(id);
        if (member === undefined) answer(ErrorCode.UNKNOWN_MEMBER_ID);
        else {
          this.#removeMemberAndUpdateGroup(shard, group, member);
          answer(ErrorCode.NONE);
        }
        continue;
      }
      if (group.isStaticMemberFenced(m.memberId, m.groupInstanceId)) {
        answer(ErrorCode.FENCED_INSTANCE_ID);
        continue;
      }
      if (group.pendingMembers.has(m.memberId)) {
        group.pendingMembers.get(m.memberId)!();
        group.pendingMembers.delete(m.memberId);
        this.#maybeCompleteJoin(shard, group);
        answer(ErrorCode.NONE);
        continue;
      }
      const member = group.members.get(m.memberId);
      if (member === undefined) {
        answer(ErrorCode.UNKNOWN_MEMBER_ID);
        continue;
      }
      this.#removeMemberAndUpdateGroup(shard, group, member);
      answer(ErrorCode.NONE);
    }
    return { errorCode: ErrorCode.NONE, members: out };
  }

  // ---------------------------------------------------------------- DescribeGroups, DeleteGroups

  describeGroup(shard: Shard, groupId: string): DescribedGroupInfo {
    const group = shard.groups.get(groupId);
    if (group === undefined || group.is("Dead")) return describedGroupError(groupId, ErrorCode.NONE, "Dead");
    const stable = group.is("Stable");
    const protocol = group.protocolName;
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      state: group.stateName,
      protocolType: group.protocolType ?? "",
      protocolData: stable ? (protocol ?? "") : "",
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable && protocol !== null ? m.metadataFor(protocol) : EMPTY_BYTES,
        assignment: stable ? m.assignment : EMPTY_BYTES,
      })),
    };
  }

  /** Marks an Empty group Dead and writes tombstones for `offsets` and the group; restores it if the write fails. */
  deleteEmptyGroup(shard: Shard, group: ClassicGroup, offsets: readonly CommittedOffset[]): Promise<number> {
    if (!group.is("Empty")) throw new Error(`group ${group.groupId}: deleting a ${group.stateName} group`);
    const snapshot = group.toRecordValue();
    group.transitionTo({ kind: "Dead" }, this.#rt.clock.nowMs());
    const records: CoordinatorRecord[] = offsets.map((o) => offsetCommitRecord(group.groupId, o.topic, o.partition, null));
    records.push(groupMetadataRecord(group.groupId, null));
    return this.#rt.write(shard, { records, response: ErrorCode.NONE as number }, (errorCode) => {
      if (this.#rt.owns(shard) && shard.groups.get(group.groupId) === group) {
        shard.groups.set(group.groupId, ClassicGroup.fromRecordValue(group.groupId, snapshot));
      }
      return errorCode;
    });
  }
}

export function describedGroupError(groupId: string, errorCode: number, state: string): DescribedGroupInfo {
  return { groupId, errorCode, state, protocolType: "", protocolData: "", members: [] };
}

export function joinError(errorCode: number, memberId: string): JoinGroupOutcome {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: "", memberId, members: [], skipAssignment: false };
}

export function syncError(errorCode: number): SyncGroupOutcome {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}
