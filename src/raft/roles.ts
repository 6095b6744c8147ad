/**
 * The roles of a Raft node (KIP-595 with KIP-996 pre-vote), as one discriminated union, and
 * the rule deciding which changes of role are allowed (`transitionProblem`). The core
 * (raft-core.ts) changes role in exactly one place, which asks this rule first.
 *
 * Every role carries the durable part of the state — epoch, the leader known in it, the vote
 * cast in it — which is what the quorum-state file holds (quorum-state.ts); the rest
 * (deadlines, requests in flight, vote tallies, replica progress) lives only in memory and
 * starts over after a restart.
 */
import type { ReplicaKey, SnapshotId } from "./messages.ts";
import type { QuorumStateData } from "./quorum-state.ts";
import { ZERO_UUID_TEXT } from "../protocol/codec/uuid.ts";

export type RoleKind = "unattached" | "prospective" | "candidate" | "leader" | "follower" | "resigned";

/** A request this node sent and is waiting for (one per peer and purpose). */
export interface RequestSlot {
  requestId: number;
  sentMs: number;
  /** When to send again: the request timeout, or a retry backoff after an error answer. */
  retryAtMs: number;
}

/** One round of (pre-)vote requests. */
export interface VoteRound {
  readonly requests: Map<number, RequestSlot>;
  readonly granted: Set<number>;
  readonly rejected: Set<number>;
  readonly deadlineMs: number;
}

/** What the leader knows of one replica (a voter, or an observer that fetched). */
export interface ReplicaProgress {
  readonly key: ReplicaKey;
  /** Its fetch offset at its last valid fetch in this epoch: durable on its disk. -1 when unknown. */
  matchOffset: number;
  lastFetchMs: number;
  lastCaughtUpMs: number;
}

/** A Fetch the leader holds until there is something to return or its wait ends. */
export interface ParkedFetch {
  readonly from: number;
  readonly requestId: number;
  readonly fetchOffset: number;
  readonly maxBytes: number;
  readonly deadlineMs: number;
}

interface Durable {
  readonly epoch: number;
  /** The leader of `epoch` this node knows, -1 when none. */
  readonly leaderId: number;
  /** The candidate this node voted for in `epoch`, null when none. */
  readonly votedKey: ReplicaKey | null;
}

/** Knows the epoch, not (yet) its leader; a voter waits for its election timeout. Observers start here. */
export interface Unattached extends Durable {
  readonly kind: "unattached";
  readonly leaderId: -1;
  /** Infinity for observers, which never start elections. */
  readonly electionDeadlineMs: number;
  /** Observers: the Fetch sent to a voter to find the leader. */
  discovery: (RequestSlot & { to: number }) | null;
}

/** Asks the voters whether it could win (pre-vote) without bumping the epoch. */
export interface Prospective extends Durable {
  readonly kind: "prospective";
  round: VoteRound | null;
  /** When `round` is null: the next round starts at this time (election backoff). */
  backoffUntilMs: number;
}

/** Bumped the epoch, voted for itself, asks the voters for their votes. */
export interface Candidate extends Durable {
  readonly kind: "candidate";
  readonly round: VoteRound;
}

export interface Leader extends Durable {
  readonly kind: "leader";
  /** Offset of this epoch's LEADER_CHANGE record: the high watermark moves only past it. */
  readonly epochStartOffset: number;
  /** The voters that elected it (itself included), for the LEADER_CHANGE record. */
  readonly grantingVoters: readonly number[];
  readonly voters: Map<number, ReplicaProgress>;
  readonly observers: Map<string, ReplicaProgress>;
  /** Voters that acknowledged BeginQuorumEpoch or fetched in this epoch. */
  readonly acknowledged: Set<number>;
  readonly beginRequests: Map<number, RequestSlot>;
  /** Check-quorum: the window started at this time; the voters that fetched in it. */
  checkQuorumStartMs: number;
  readonly fetchedInWindow: Set<number>;
  readonly parked: Map<number, ParkedFetch>;
}

export interface Follower extends Durable {
  readonly kind: "follower";
  /** No successful fetch by this time: voters start a pre-vote, observers look for the leader again. */
  fetchDeadlineMs: number;
  fetch: RequestSlot | null;
  /** Earliest time of the next Fetch (a retry backoff after an error). */
  nextFetchMs: number;
  /** Time of the last successful fetch response, null before the first in this epoch. */
  lastFetchOkMs: number | null;
  /** The leader said it resigned (EndQuorumEpoch): pre-votes are granted again. */
  leaderEnded: boolean;
  /**
   * Unproven voters only (raft-core.ts, the unproven-voter rule, P3): the log end offset at
   * which a fetch answer in this role showed the log ending where the leader's did (no
   * records, no divergence, all flushed); null before. A high watermark past it proves the node.
   */
  caughtUpAtOffset: number | null;
  /** The leader's snapshot this follower fetches (FetchSnapshot) instead of the log; null when fetching the log. */
  fetchingSnapshot: SnapshotId | null;
}

/** A leader that stepped down in its epoch (check-quorum, shutdown, or restart); tells the voters. */
export interface Resigned extends Durable {
  readonly kind: "resigned";
  readonly electionDeadlineMs: number;
  readonly preferredCandidates: readonly ReplicaKey[];
  readonly endRequests: Map<number, RequestSlot>;
  readonly acknowledged: Set<number>;
}

export type Role = Unattached | Prospective | Candidate | Leader | Follower | Resigned;

/** The part of a role the transition rule looks at. */
export interface RoleSummary {
  readonly kind: RoleKind;
  readonly epoch: number;
  readonly leaderId: number;
  readonly votedKey: ReplicaKey | null;
}

export interface TransitionContext {
  readonly local: ReplicaKey;
  /** Whether this node (its id and directory id) is in the voter set. */
  readonly isVoter: boolean;
  readonly voterIds: ReadonlySet<number>;
  /** A dynamic quorum: a replica follows a leader its (possibly stale) voter set does not list. */
  readonly dynamic?: boolean;
}

function sameKey(a: ReplicaKey | null, b: ReplicaKey | null): boolean {
  if (a === null || b === null) return a === b;
  return a.id === b.id && a.directoryId === b.directoryId;
}

/**
 * Whether a node may go from role `from` (epoch E) to role `to` (epoch E'): null when it may,
 * else why not. The transition table (rows: from, columns: to; "—" never):
 *
 *              │ unattached        │ prospective       │ candidate       │ leader        │ follower         │ resigned
 * ─────────────┼───────────────────┼───────────────────┼─────────────────┼───────────────┼──────────────────┼──────────────────
 * unattached   │ E' > E; E' = E    │ E' = E: election  │ —               │ —             │ E' ≥ E: leader   │ —
 *              │ granting a vote   │ timeout           │                 │               │ learned          │
 * prospective  │ E' > E; E' = E    │ —                 │ E' = E + 1:     │ —             │ E' ≥ E: leader   │ —
 *              │ granting a vote   │                   │ pre-votes won   │               │ learned; E' = E: │
 *              │                   │                   │                 │               │ pre-vote lost,   │
 *              │                   │                   │                 │               │ back to leader   │
 * candidate    │ E' > E            │ E' = E: election  │ —               │ E' = E: votes │ E' ≥ E: leader   │ —
 *              │                   │ lost              │                 │ won           │ learned          │
 * leader       │ E' > E            │ —                 │ —               │ —             │ E' > E           │ E' = E: check-
 *              │                   │                   │                 │               │                  │ quorum, shutdown
 * follower     │ E' > E; observer  │ E' = E: fetch     │ —               │ —             │ E' > E           │ —
 *              │ E' = E: timeout   │ timeout           │                 │               │                  │
 * resigned     │ E' > E            │ E' = E: election  │ —               │ —             │ E' > E           │ —
 *              │                   │ timeout           │                 │               │                  │
 *
 * And, whatever the row and column:
 * - Observers (not in the voter set) are only ever unattached or followers — but a leader
 *   that removed itself from a dynamic quorum's voter set resigns once that is committed
 *   (leader → resigned, E' = E), and then stays an observer (resigned → unattached, E' = E,
 *   keeping its vote).
 * - Within an epoch a vote, once cast, is never changed or dropped, and a known leader is
 *   never replaced (an observer may forget it when it stops hearing from it).
 * - A follower follows a voter other than itself; a candidate, leader or resigned node has
 *   voted for itself, and a leader or resigned node names itself leader.
 */
export function transitionProblem(from: RoleSummary, to: RoleSummary, ctx: TransitionContext): string | null {
  const E = from.epoch;
  const E2 = to.epoch;
  if (E2 < E) return `epoch ${E2} is below the current ${E}`;
  const removedLeaderResigns = to.kind === "resigned" && from.kind === "leader";
  if (!ctx.isVoter && to.kind !== "unattached" && to.kind !== "follower" && !removedLeaderResigns) return `an observer cannot become ${to.kind}`;
  const self = ctx.local;
  switch (to.kind) {
    case "unattached":
      if (to.leaderId !== -1) return "an unattached node knows no leader";
      break;
    case "prospective":
      break;
    case "candidate":
      if (to.leaderId !== -1) return "a candidate knows no leader in its new epoch";
      break;
    case "leader":
    case "resigned":
      if (to.leaderId !== self.id) return `a ${to.kind} node names itself leader, not ${to.leaderId}`;
      break;
    case "follower":
      if (to.leaderId === self.id) return "a node cannot follow itself";
      // A replica of a dynamic quorum may learn of a leader before its voter set lists it.
      if (ctx.dynamic !== true && !ctx.voterIds.has(to.leaderId)) return `leader ${to.leaderId} is not a voter`;
      break;
  }
  if ((to.kind === "candidate" || to.kind === "leader" || to.kind === "resigned") && !sameKey(to.votedKey, self)) {
    return `a ${to.kind} has voted for itself`;
  }
  if (E2 === E) {
    if (from.votedKey !== null && !sameKey(from.votedKey, to.votedKey)) return `the vote cast in epoch ${E} would change`;
    const forgetsLeader = from.leaderId !== -1 && to.leaderId === -1;
    if (from.leaderId !== -1 && to.leaderId !== from.leaderId && !(forgetsLeader && !ctx.isVoter)) {
      return `the leader of epoch ${E} would change from ${from.leaderId} to ${to.leaderId}`;
    }
  }
  const allowed = ((): boolean => {
    const same = E2 === E;
    switch (to.kind) {
      case "unattached":
        if (!same) return true;
        if (from.kind === "unattached" || from.kind === "prospective") return from.votedKey === null && to.votedKey !== null;
        return (from.kind === "follower" || from.kind === "resigned") && !ctx.isVoter;
      case "prospective":
        return same && (from.kind === "unattached" || from.kind === "candidate" || from.kind === "follower" || from.kind === "resigned");
      case "candidate":
        return from.kind === "prospective" && E2 === E + 1;
      case "leader":
        return from.kind === "candidate" && same;
      case "follower":
        if (!same) return true;
        return from.kind === "unattached" || from.kind === "prospective" || from.kind === "candidate";
      case "resigned":
        return from.kind === "leader" && same;
    }
  })();
  return allowed ? null : `${from.kind} (epoch ${E}) cannot become ${to.kind} (epoch ${E2})`;
}

/** The durable state a role stands for (what quorum-state must hold while in it). */
export function durableStateOf(role: RoleSummary): QuorumStateData {
  return {
    leaderEpoch: role.epoch,
    leaderId: role.leaderId,
    votedId: role.votedKey === null ? -1 : role.votedKey.id,
    votedDirectoryId: role.votedKey === null ? ZERO_UUID_TEXT : role.votedKey.directoryId,
  };
}
