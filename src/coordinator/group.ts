/**
 * A classic consumer group (the JoinGroup/SyncGroup protocol): its members and the state
 * machine of its rebalances. This file is the model; group-coordinator.ts drives it.
 *
 * States and the one transition function (`transitionTo`), Kafka's table:
 *
 *   state                valid previous states                 meaning
 *   Empty                PreparingRebalance                    no members (may hold offsets)
 *   PreparingRebalance   Empty, Stable, CompletingRebalance    collecting JoinGroups
 *   CompletingRebalance  PreparingRebalance                    joined; waiting for the leader's SyncGroup
 *   Stable               CompletingRebalance                   assignments handed out
 *   Dead                 any                                   being deleted / unloaded
 *
 * A new group starts Empty. Invariants (asserted by `checkInvariants`): every member of a
 * non-Empty group is in `members`; `leaderId` is a member (or null when there are none);
 * `staticMembers` maps each group instance id to the one member holding it; Empty and Dead
 * groups have no members; a group with members has a protocol type.
 *
 * Members are kept in join order (a Map), which is also the order the leader sees them in.
 * The leader is the first member to join (re-elected from the rejoined members when it did
 * not rejoin). The protocol is chosen by vote: among the protocols every member supports,
 * each member votes for the first of its own preference list; most votes wins (ties: the
 * earliest in the leader's list).
 */
import type { CancelTimer } from "../platform/clock.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { GroupMemberValue, GroupMetadataValue } from "./records.ts";

export type GroupStateName = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

/** The group's state; PreparingRebalance says whether it is the initial (delayed) join of an empty group. */
export type GroupState =
  | { readonly kind: "Empty" }
  | { readonly kind: "PreparingRebalance"; readonly initialDelay: boolean }
  | { readonly kind: "CompletingRebalance" }
  | { readonly kind: "Stable" }
  | { readonly kind: "Dead" };

const validPrevious: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  Empty: ["PreparingRebalance"],
  PreparingRebalance: ["Empty", "Stable", "CompletingRebalance"],
  CompletingRebalance: ["PreparingRebalance"],
  Stable: ["CompletingRebalance"],
  Dead: ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"],
};

export const GROUP_STATE_NAMES: readonly GroupStateName[] = ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"];

export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Uint8Array;
}

export interface JoinGroupOutcome {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  /** Non-empty for the leader only: every member with its metadata for the chosen protocol. */
  members: { memberId: string; groupInstanceId: string | null; metadata: Uint8Array }[];
  skipAssignment: boolean;
}

export interface SyncGroupOutcome {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Uint8Array;
}

const EMPTY_BYTES = new Uint8Array(0);
const UNKNOWN_MEMBER_ID = ErrorCode.UNKNOWN_MEMBER_ID;
const FENCED_INSTANCE_ID = ErrorCode.FENCED_INSTANCE_ID;

export class GroupMember {
  memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: readonly GroupProtocol[];
  assignment: Uint8Array = EMPTY_BYTES;
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  awaitingJoin: ((outcome: JoinGroupOutcome) => void) | null = null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  awaitingSync: ((outcome: SyncGroupOutcome) => void) | null = null;
  /** Joined in the current rebalance and not yet through a completed join. */
  isNew = false;
  /** Monotonic ms past which the member's session has expired. */
  heartbeatDeadlineMs = 0;
  cancelHeartbeat: CancelTimer | null = null;

  constructor(init: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    rebalanceTimeoutMs: number;
    sessionTimeoutMs: number;
    protocolType: string;
    protocols: readonly GroupProtocol[];
  }) {
    this.memberId = init.memberId;
    this.groupInstanceId = init.groupInstanceId;
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.sessionTimeoutMs = init.sessionTimeoutMs;
    this.protocolType = init.protocolType;
    this.protocols = init.protocols;
  }

  metadataFor(protocol: string): Uint8Array {
    const p = this.protocols.find((x) => x.name === protocol);
    if (p === undefined) throw new Error(`member ${this.memberId} does not support protocol ${protocol}`);
    return p.metadata;
  }

  /** Same protocols, names and metadata bytes, in the same order. */
  matches(protocols: readonly GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const q = this.protocols[i]!;
      return p.name === q.name && bytesEqual(p.metadata, q.metadata);
    });
  }

  /** Kept alive by a pending join (not a brand-new member) or sync, whatever its heartbeats. */
  shouldKeepAlive(): boolean {
    return (this.awaitingJoin !== null && !this.isNew) || this.awaitingSync !== null;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class ClassicGroup {
  readonly groupId: string;
  #state: GroupState = { kind: "Empty" };
  /** Wall-clock ms at which the group entered its state; null when unknown (loaded from an old record). */
  currentStateTimestampMs: number | null;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, GroupMember>();
  /** group instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** Members told MEMBER_ID_REQUIRED that have not joined yet, with their expiry timers. */
  readonly pendingMembers = new Map<string, CancelTimer>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  /** A member joined during the initial delay: the delay may be extended. */
  newMemberAdded = false;
  /** The join phase's deadline (rebalance timeout or initial delay). */
  cancelJoinTimer: CancelTimer | null = null;
  /** The sync phase's deadline. */
  cancelSyncTimer: CancelTimer | null = null;
  /** Topics the members subscribe to (consumer protocol); null when unknown. */
  subscribedTopics: ReadonlySet<string> | null = null;

  constructor(groupId: string, nowMs: number | null) {
    this.groupId = groupId;
    this.currentStateTimestampMs = nowMs;
  }

  get state(): GroupState {
    return this.#state;
  }

  get stateName(): GroupStateName {
    return this.#state.kind;
  }

  is(kind: GroupStateName): boolean {
    return this.#state.kind === kind;
  }

  /** The one transition function: asserts Kafka's transition table. */
  transitionTo(next: GroupState, nowMs: number): void {
    const allowed = validPrevious[next.kind];
    if (!allowed.includes(this.#state.kind)) {
      throw new Error(`group ${this.groupId}: illegal transition ${this.#state.kind} -> ${next.kind}`);
    }
    this.#state = next;
    this.currentStateTimestampMs = nowMs;
  }

  get size(): number {
    return this.members.size;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  add(member: GroupMember): void {
    if (this.members.has(member.memberId)) throw new Error(`group ${this.groupId}: member ${member.memberId} added twice`);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.leaderId ??= member.memberId;
  }

  remove(memberId: string): GroupMember | undefined {
    const member = this.members.get(memberId);
    if (member === undefined) return undefined;
    this.members.delete(memberId);
    this.pendingSync.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  /** Gives a static member a new member id, keeping its place, assignment and leadership. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): GroupMember {
    const member = this.members.get(oldMemberId);
    if (member === undefined || member.groupInstanceId !== groupInstanceId) {
      throw new Error(`group ${this.groupId}: no static member ${groupInstanceId} with id ${oldMemberId}`);
    }
    const reordered = [...this.members.entries()].map(([id, m]): [string, GroupMember] => (id === oldMemberId ? [newMemberId, m] : [id, m]));
    this.members.clear();
    for (const [id, m] of reordered) this.members.set(id, m);
    member.memberId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    if (this.pendingSync.delete(oldMemberId)) this.pendingSync.add(newMemberId);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    return member;
  }

  staticMemberId(groupInstanceId: string | null): string | undefined {
    return groupInstanceId === null ? undefined : this.staticMembers.get(groupInstanceId);
  }

  /**
   * Kafka's member check for Heartbeat, SyncGroup and OffsetCommit: an instance id must be
   * known and held by this member id (else UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID), and the
   * member id must be a member. Returns an error code (0: valid).
   */
  validateMember(memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const holder = this.staticMembers.get(groupInstanceId);
      if (holder === undefined) return UNKNOWN_MEMBER_ID;
      if (holder !== memberId) return FENCED_INSTANCE_ID;
    }
    return this.members.has(memberId) ? 0 : UNKNOWN_MEMBER_ID;
  }

  /** The instance id is held by another member id: the caller is a fenced zombie. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const holder = this.staticMembers.get(groupInstanceId);
    return holder !== undefined && holder !== memberId;
  }

  /** Protocols every member supports, in the leader's (or first member's) preference order. */
  candidateProtocols(): string[] {
    const members = [...this.members.values()];
    const first = (this.leaderId !== null ? this.members.get(this.leaderId) : undefined) ?? members[0];
    if (first === undefined) return [];
    return first.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  }

  /** Whether a member of this type with these protocols may join. */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = new Set(this.candidateProtocols());
    return protocols.some((p) => candidates.has(p.name));
  }

  /** The vote: each member picks its most preferred candidate; most votes wins. */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    if (candidates.length === 0) throw new Error(`group ${this.groupId}: no protocol supported by all ${this.members.size} members`);
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => votes.has(p.name))!;
      votes.set(choice.name, votes.get(choice.name)! + 1);
    }
    let best = candidates[0]!;
    for (const c of candidates) if (votes.get(c)! > votes.get(best)!) best = c;
    return best;
  }

  numAwaitingJoin(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.awaitingJoin !== null) n++;
    return n;
  }

  hasAllMembersJoined(): boolean {
    return this.numAwaitingJoin() === this.members.size && this.pendingMembers.size === 0;
  }

  /** Largest rebalance timeout over the members: how long the join phase may last. */
  rebalanceTimeoutMs(): number {
    let t = 0;
    for (const m of this.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  /** The persisted snapshot of the group (its GroupMetadataValue). */
  toRecordValue(): GroupMetadataValue {
    const protocol = this.protocolName;
    return {
      protocolType: this.protocolType ?? "",
      generation: this.generationId,
      protocol,
      leader: this.leaderId,
      currentStateTimestampMs: this.currentStateTimestampMs ?? -1,
      members: [...this.members.values()].map(
        (m): GroupMemberValue => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeoutMs: m.rebalanceTimeoutMs,
          sessionTimeoutMs: m.sessionTimeoutMs,
          subscription: protocol === null ? EMPTY_BYTES : (m.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BYTES),
          assignment: m.assignment,
        }),
      ),
    };
  }

  /** A group rebuilt from its snapshot at load: Stable with its members, or Empty. */
  static fromRecordValue(groupId: string, v: GroupMetadataValue): ClassicGroup {
    const g = new ClassicGroup(groupId, v.currentStateTimestampMs === -1 ? null : v.currentStateTimestampMs);
    g.generationId = v.generation;
    g.protocolType = v.protocolType.length === 0 ? null : v.protocolType;
    g.protocolName = v.protocol;
    // Members without a protocol type or chosen protocol cannot be served; Kafka never writes such a snapshot.
    const members = v.protocol !== null && v.protocolType.length > 0 ? v.members : [];
    for (const mv of members) {
      const member = new GroupMember({
        memberId: mv.memberId,
        groupInstanceId: mv.groupInstanceId,
        clientId: mv.clientId,
        clientHost: mv.clientHost,
        rebalanceTimeoutMs: mv.rebalanceTimeoutMs,
        sessionTimeoutMs: mv.sessionTimeoutMs,
        protocolType: v.protocolType,
        protocols: [{ name: v.protocol!, metadata: mv.subscription }],
      });
      member.assignment = mv.assignment;
      g.members.set(member.memberId, member);
      if (member.groupInstanceId !== null) g.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    if (g.members.size > 0) {
      // Loaded groups resume where the snapshot left them: assignments handed out.
      g.#state = { kind: "Stable" };
      g.leaderId = v.leader !== null && g.members.has(v.leader) ? v.leader : (g.members.keys().next().value ?? null);
    }
    g.checkInvariants();
    return g;
  }

  checkInvariants(): void {
    const k = this.#state.kind;
    if ((k === "Empty" || k === "Dead") && this.members.size > 0) {
      throw new Error(`group ${this.groupId}: ${k} with ${this.members.size} members`);
    }
    if (this.members.size > 0 && (this.leaderId === null || !this.members.has(this.leaderId))) {
      throw new Error(`group ${this.groupId}: leader ${this.leaderId} is not a member`);
    }
    if (this.members.size > 0 && this.protocolType === null) throw new Error(`group ${this.groupId}: members but no protocol type`);
    for (const [instanceId, memberId] of this.staticMembers) {
      if (this.members.get(memberId)?.groupInstanceId !== instanceId) {
        throw new Error(`group ${this.groupId}: static member ${instanceId} -> ${memberId} is not a member holding it`);
      }
    }
    for (const [id, m] of this.members) {
      if (id !== m.memberId) throw new Error(`group ${this.groupId}: member keyed ${id} has id ${m.memberId}`);
    }
  }
}

/**
 * Topics of a consumer-protocol subscription (ConsumerProtocolSubscription, any version:
 * int16 version, then [topic string]); null when the bytes are not one.
 */
export function consumerSubscriptionTopics(metadata: Uint8Array): string[] | null {
  const view = new DataView(metadata.buffer, metadata.byteOffset, metadata.byteLength);
  let p = 0;
  if (metadata.length < 6) return null;
  const version = view.getInt16(p);
  p += 2;
  if (version < 0) return null;
  const n = view.getInt32(p);
  p += 4;
  if (n < 0 || n * 2 > metadata.length - p) return null;
  const topics: string[] = [];
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < n; i++) {
    if (p + 2 > metadata.length) return null;
    const len = view.getInt16(p);
    p += 2;
    if (len < 0 || p + len > metadata.length) return null;
    try {
      topics.push(utf8.decode(metadata.subarray(p, p + len)));
    } catch {
      return null;
    }
    p += len;
  }
  return topics;
}
