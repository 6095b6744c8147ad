/**
 * A sans-I/O KRaft node: the Raft protocol of Kafka's controller quorum (KIP-595, pull-based
 * replication; KIP-996 pre-vote; KIP-853 directory ids) over one metadata log.
 *
 * Inputs: `tick(nowMs)` (time moved; flushes the log and fires deadlines), `receive(from,
 * message)`, `propose(batches)`. Outputs, taken with `takeOutputs()`: messages to send,
 * "committed" notices (the high watermark moved), role changes. The core never touches the
 * network or a timer; its disk work (the Raft log, the quorum-state file) is synchronous on
 * the injected FileSystem. Every input runs to completion without awaiting, so no state can
 * change under it (STYLE habit 3 holds trivially: there is no await to re-check after).
 *
 * Roles and their changes: roles.ts (the transition table). Rules enforced here:
 * - Durable before visible: the quorum-state file is rewritten before the state it records
 *   is acted on — before a vote is granted, before a request goes out in a new epoch. Only
 *   flushed offsets count toward the high watermark: the leader's own is its flushed offset
 *   (it flushes on `tick`, a group commit of everything proposed since the last one), a
 *   follower's is its fetch offset, which it sends only after flushing what it appended.
 * - A disk failure is fatal: an input that fails to write the quorum-state file (StorageError)
 *   or the log (MetadataLogFailure), or that trips an assertion, throws, and leaves the core
 *   in a state nobody may rely on; its runner (driver.ts) stops using it and the node stops.
 *   A full disk is not a failure: the append is refused and may be retried.
 * - The leader's high watermark is the largest offset a majority of voters has on disk,
 *   and moves only past this epoch's LEADER_CHANGE record (Raft counts replicas only for
 *   records of the leader's own epoch). It never goes back, on any node.
 * - Votes go only to voters whose log is at least as up to date ((last epoch, end offset),
 *   compared in that order), at most one per epoch. Pre-votes change no state, and are
 *   refused by a leader and by a follower that heard from its leader within the fetch
 *   timeout, so a node back from a partition cannot depose a healthy leader.
 * - Requests are checked in this order, and a failed check answers an error and changes
 *   nothing: cluster id (INCONSISTENT_CLUSTER_ID; null is accepted, as Kafka does), that the
 *   receiver is the voter addressed (INVALID_VOTER_KEY), that the sender is a voter
 *   (INCONSISTENT_VOTER_SET), the epoch (FENCED_LEADER_EPOCH when stale,
 *   UNKNOWN_LEADER_EPOCH for a Fetch from the future, NOT_LEADER_OR_FOLLOWER).
 * - A replica is the pair (node id, directory id). A node whose metadata dir was wiped and
 *   formatted again has a new directory id, so it is not the voter it was: it follows as an
 *   observer, never votes, and its fetches do not count toward the high watermark. So a
 *   voter that lost its disk cannot make the quorum forget a committed record or a vote.
 * - A static quorum keys every voter with the zero directory id, so there a wiped voter
 *   comes back as the voter it was. It opens unproven and counts for nothing — no vote but
 *   among empty logs, which need every voter; fetches counted as an observer's — until it
 *   has caught up with a leader (the unproven-voter rule, at `#onVoteRequest`).
 * - Check-quorum: a leader that has not had a Fetch from a majority of voters (itself
 *   included) within the fetch timeout resigns.
 * - Responses are matched to the request they answer (`requestId`, per role instance):
 *   answers to requests of an earlier role, round or life are dropped.
 *
 * - Snapshots (KIP-630): the state machine above hands the core its state at a committed
 *   offset (`createSnapshot`); the log then starts at the oldest snapshot kept (raft-log.ts).
 *   A replica whose fetch offset is below the leader's log start, or whose last epoch cannot
 *   be checked there, is answered with the leader's latest SnapshotId; it then fetches that
 *   snapshot in chunks (FetchSnapshot), installs it (its log is emptied at the snapshot's
 *   end) and outputs "snapshotLoaded" so the state machine reloads. The core never reads
 *   the content. A change of role drops a download in progress. At open the high watermark
 *   starts at the latest snapshot's end (a snapshot holds committed records only).
 *
 * - Dynamic quorum (KIP-853, `dynamic` option): the voter set is not configuration but the
 *   metadata log's (voter-set.ts): the last KRAFT_VOTERS record appended — committed or not
 *   (a change takes effect when appended; a truncation takes it back) —, else the one the
 *   latest snapshot carries, else the local bootstrap checkpoint's. The first leader of a
 *   log without one appends the bootstrap voters after its LEADER_CHANGE record. The leader
 *   adds or removes one voter at a time (`addVoter`, `removeVoter`): only once it has
 *   committed in its epoch, with no other change uncommitted, and a new voter only once it
 *   fetches as an observer with its directory id and has caught up with the high
 *   watermark. So two voter sets in force at once always share a majority. A leader that
 *   removed itself leads (without counting itself) until that change commits, then resigns
 *   and stays an observer. Observers that know no voter find the leader through the
 *   bootstrap servers (`controller.quorum.bootstrap.servers`), and a Fetch answer names the
 *   leader's endpoint so they can reach it.
 */
import type { Clock } from "../platform/clock.ts";
import { type FileSystem, StorageError } from "../platform/fs.ts";
import type { Prng } from "../platform/prng.ts";
import { ZERO_UUID_TEXT } from "../protocol/codec/uuid.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { RecordsError } from "../protocol/records/records-error.ts";
import { walkBatches } from "../protocol/records/record-batch.ts";
import { assert } from "./assert.ts";
import { fetchSnapshotBytesMax, observerSessionMs, observersMax, type RaftConfig, raftConfigProblem, snapshotBytesMax, votersMax } from "./config.ts";
import { leaderChangeBatch } from "./leader-change.ts";
import type {
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  EpochEndOffset,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  QuorumDescription,
  RaftMessage,
  ReplicaDescription,
  ReplicaKey,
  SnapshotId,
  VoteRequest,
  VoteResponse,
} from "./messages.ts";
import { replicaKeyText, sameReplica } from "./messages.ts";
import { emptyQuorumState, type QuorumStateData, QuorumStateError, quorumStatePath, readQuorumState, sameQuorumState, writeQuorumState } from "./quorum-state.ts";
import type { RaftLog } from "./raft-log.ts";
import { sameSnapshotId, SnapshotError, snapshotIdProblem, snapshotIdText } from "./snapshot.ts";
import {
  type Candidate,
  durableStateOf,
  type Follower,
  type Leader,
  type Prospective,
  type ReplicaProgress,
  type RequestSlot,
  type Resigned,
  type Role,
  type RoleKind,
  type TransitionContext,
  transitionProblem,
  type Unattached,
  type VoteRound,
} from "./roles.ts";
import { kraftVersionBatch, kraftVersionDynamic, type Voter, type VoterEndpoint, type VotersAt, votersBatch, votersInBatches, voterSetProblem } from "./voter-set.ts";
import { newUnprovenMarker, readUnprovenMarker, removeUnprovenMarker, type UnprovenMarker, unprovenPath, withUnprovenVote, writeUnprovenMarker } from "./unproven.ts";

export interface RaftCoreOptions {
  clusterId: string;
  /** This node: its id and the directory id of its metadata log dir. */
  local: ReplicaKey;
  /** The voter set of a static quorum (ignored when `dynamic` is given). */
  voters: readonly ReplicaKey[];
  /** A dynamic quorum (KIP-853): the voter set comes from the log (see the module doc). */
  dynamic?: DynamicQuorumOptions;
  config: RaftConfig;
  fs: FileSystem;
  /** `<log dir>/__cluster_metadata-0`: holds `quorum-state`. */
  metadataDir: string;
  log: RaftLog;
  prng: Prng;
  /** Wall-clock time for record timestamps only; deadlines use the time given to `tick`. */
  clock: Clock;
  /** The time at open, in the timebase `tick` will use (monotonic). */
  nowMs: number;
  /**
   * Test only: true turns the unproven-voter rule off (see `#onVoteRequest`), so the
   * simulator can show what a wiped voter does without it. Never set outside tests.
   */
  testOnlyDisableUnprovenRule?: boolean;
}

export interface DynamicQuorumOptions {
  /** The voters of the bootstrap checkpoint (`storage format --standalone | --initial-controllers`), null when none (a node that joins later). */
  readonly bootstrapVoters: readonly Voter[] | null;
  /** Node ids (negative, -2 down) standing for `controller.quorum.bootstrap.servers`: an observer asks them who leads. */
  readonly bootstrapServerIds: readonly number[];
  /** The listener whose endpoint a Fetch answer names for the leader. */
  readonly listenerName: string;
}

/** What `addVoter` / `removeVoter` did: appended the change (committed once the high watermark passes `offset` in `epoch`), or refused it. */
export type VoterChangeResult =
  | { readonly kind: "appended"; readonly offset: number; readonly epoch: number }
  | { readonly kind: "error"; readonly errorCode: number; readonly message: string };

export type RaftOutput =
  | { readonly kind: "send"; readonly to: number; readonly message: RaftMessage }
  /** The high watermark moved to `highWatermark` (everything below is committed). */
  | { readonly kind: "committed"; readonly highWatermark: number; readonly epoch: number; readonly byLeader: boolean }
  | { readonly kind: "roleChanged"; readonly role: RoleKind; readonly epoch: number; readonly leaderId: number; readonly reason: string }
  /** This voter opened unproven (a new or wiped metadata dir), or became proven (see `#onVoteRequest`). */
  | { readonly kind: "provenChanged"; readonly proven: boolean; readonly reason: string }
  /**
   * This node installed the leader's snapshot `snapshotId`: its log now starts (empty) at
   * `snapshotId.endOffset`. The state machine replaces its state with `content` (the batches
   * the leader's state machine gave) and goes on applying from there.
   */
  | { readonly kind: "snapshotLoaded"; readonly snapshotId: SnapshotId; readonly content: Uint8Array }
  /** The voter set in force changed (a dynamic quorum: a KRAFT_VOTERS record appended or truncated, a snapshot loaded). */
  | { readonly kind: "votersChanged"; readonly voters: readonly Voter[]; readonly reason: string };

export type CreateSnapshotResult = { readonly kind: "ok"; readonly snapshotId: SnapshotId; readonly logStartOffset: number } | { readonly kind: "rejected"; readonly detail: string };

/**
 * A proposal appended by the leader is committed once a "committed" output reaches past
 * `lastOffset` while the log still holds it in `epoch` (a lost leadership may truncate it).
 */
export type ProposeResult =
  | { readonly kind: "ok"; readonly firstOffset: number; readonly lastOffset: number; readonly epoch: number }
  | { readonly kind: "notLeader"; readonly leaderId: number; readonly leaderEpoch: number }
  | { readonly kind: "rejected"; readonly detail: string };

export interface RoleView {
  readonly kind: RoleKind;
  readonly epoch: number;
  readonly leaderId: number;
  readonly votedKey: ReplicaKey | null;
}

const E = ErrorCode;
const noRecords: Uint8Array = new Uint8Array(0);
/** Requests per life before request ids would repeat (the driver keeps far fewer in flight). */
const requestsPerLifeMax = 2 ** 32;
/** Role changes one input may cause (e.g. prospective → candidate → leader in a 1-voter quorum). */
const roleChangesPerInputMax = 8;

export class RaftCore {
  readonly local: ReplicaKey;
  readonly clusterId: string;
  #voters: readonly ReplicaKey[];
  #voterSet: readonly Voter[];
  #voterIds: ReadonlySet<number>;
  #isVoter: boolean;
  #majority: number;
  /** Null for a static quorum. */
  readonly #dynamic: DynamicQuorumOptions | null;
  /** Dynamic: the voter set before the log's KRAFT_VOTERS records (the snapshot's, else the bootstrap's), and whether it came from the bootstrap checkpoint. */
  #baseVoters: readonly Voter[] | null = null;
  #baseFromBootstrap = false;
  /** Dynamic: the log's KRAFT_VOTERS records, ascending offsets (kept from the log start). */
  #votersHistory: VotersAt[] = [];
  readonly #config: RaftConfig;
  readonly #fs: FileSystem;
  readonly #statePath: string;
  readonly #log: RaftLog;
  readonly #prng: Prng;
  readonly #clock: Clock;
  #ctx: TransitionContext;
  /** The unproven-voter rule applies: a voter of a multi-voter quorum keyed with the zero directory id. */
  readonly #staticVoter: boolean;
  readonly #unprovenPath: string;
  /** Non-null while this voter is unproven (what `quorum-unproven` holds). */
  #unproven: UnprovenMarker | null;
  #role: Role;
  /** What the quorum-state file holds. */
  #durable: QuorumStateData;
  #highWatermark = 0;
  #nowMs: number;
  #outputs: RaftOutput[] = [];
  readonly #requestIdBase: number;
  #requestCount = 0;

  private constructor(opts: RaftCoreOptions, durable: QuorumStateData, staticVoter: boolean, unproven: UnprovenMarker | null) {
    this.local = opts.local;
    this.clusterId = opts.clusterId;
    this.#dynamic = opts.dynamic ?? null;
    this.#voters = opts.voters;
    this.#voterSet = opts.voters.map((v) => ({ ...v, endpoints: [] }));
    this.#voterIds = new Set(opts.voters.map((v) => v.id));
    this.#isVoter = opts.voters.some((v) => sameReplica(v, opts.local));
    this.#majority = Math.floor(opts.voters.length / 2) + 1;
    this.#config = opts.config;
    this.#fs = opts.fs;
    this.#statePath = quorumStatePath(opts.metadataDir);
    this.#log = opts.log;
    this.#prng = opts.prng;
    this.#clock = opts.clock;
    this.#nowMs = opts.nowMs;
    this.#ctx = { local: opts.local, isVoter: this.#isVoter, voterIds: this.#voterIds };
    this.#durable = durable;
    this.#staticVoter = staticVoter;
    this.#unprovenPath = unprovenPath(opts.metadataDir);
    this.#unproven = unproven;
    assert(unproven === null || staticVoter, "only a static voter is ever unproven");
    // A snapshot holds committed records only: the high watermark is at least its end.
    this.#highWatermark = opts.log.latestSnapshot()?.endOffset ?? 0;
    opts.log.setHighWatermark(this.#highWatermark);
    // Ids from an earlier life of this node must not match: a random base per life.
    this.#requestIdBase = opts.prng.int(1 << 20) * requestsPerLifeMax;
    if (this.#dynamic !== null) this.#loadDynamicVoters(this.#dynamic);
    this.#role = this.#initialRole(durable);
  }

  /** Dynamic quorum at open: the voter set of the latest snapshot (else the bootstrap's), then the log's KRAFT_VOTERS records. */
  #loadDynamicVoters(dynamic: DynamicQuorumOptions): void {
    const latest = this.#log.latestSnapshot();
    const fromSnapshot = latest === null ? null : this.#log.readSnapshotVoters(latest);
    this.#baseVoters = fromSnapshot ?? dynamic.bootstrapVoters;
    this.#baseFromBootstrap = fromSnapshot === null && dynamic.bootstrapVoters !== null;
    const history: VotersAt[] = [];
    for (let offset = this.#log.logStartOffset; offset < this.#log.logEndOffset; ) {
      const read = this.#log.read(offset, this.#config.fetchBytesMax);
      if (read.kind !== "ok") throw new Error(`reading the metadata log at ${offset} for its voter set: ${read.detail}`);
      const batches = read.records;
      if (batches.length === 0) break;
      for (const found of votersInBatches(batches, Math.max(batches.length, 1))) if (found.offset >= offset) history.push(found);
      const next = lastOffsetAfter(batches);
      assert(next > offset, () => `metadata log read at ${offset} did not advance`);
      offset = next;
    }
    this.#votersHistory = history;
    this.#applyVoterSet("opened", false);
  }

  /** Makes the voter set in force (dynamic: from the history) the one every check uses; tells the state machine when it changed. */
  #applyVoterSet(reason: string, announce = true): void {
    assert(this.#dynamic !== null, "static voter sets do not change");
    const next = this.#votersHistory.at(-1)?.voters ?? this.#baseVoters ?? [];
    const same = next.length === this.#voterSet.length && next.every((v, i) => {
      const w = this.#voterSet[i]!;
      return v.id === w.id && v.directoryId === w.directoryId && JSON.stringify(v.endpoints) === JSON.stringify(w.endpoints);
    });
    if (same && announce) return;
    const problem = next.length === 0 ? null : voterSetProblem(next);
    assert(problem === null, () => `node ${this.local.id}: voter set in force is not one: ${problem}`);
    this.#voterSet = next;
    this.#voters = next.map((v) => ({ id: v.id, directoryId: v.directoryId }));
    this.#voterIds = new Set(next.map((v) => v.id));
    this.#isVoter = this.#voters.some((v) => sameReplica(v, this.local));
    this.#majority = Math.floor(next.length / 2) + 1;
    this.#ctx = { local: this.local, isVoter: this.#isVoter, voterIds: this.#voterIds, dynamic: true };
    const role = this.#role as Role | undefined;
    if (role?.kind === "leader") this.#syncLeaderVoters(role);
    this.#outputs.push({ kind: "votersChanged", voters: next, reason });
  }

  /** The leader's per-voter progress follows the voter set: a new voter keeps what it had as an observer. */
  #syncLeaderVoters(role: Leader): void {
    for (const [id, p] of [...role.voters]) {
      if (!this.#voters.some((v) => sameReplica(v, p.key))) {
        role.voters.delete(id);
        role.fetchedInWindow.delete(id);
      }
    }
    for (const v of this.#voters) {
      if (v.id === this.local.id || role.voters.has(v.id)) continue;
      const seen = role.observers.get(replicaKeyText(v));
      role.observers.delete(replicaKeyText(v));
      role.voters.set(v.id, seen ?? { key: v, matchOffset: -1, lastFetchMs: -1, lastCaughtUpMs: -1 });
    }
  }

  /**
   * Whether this node may stand for election: a voter, or (dynamic quorum) one whose removal
   * is the last voter change and is not committed yet. A leader that removed itself and lost
   * its leadership before the change committed is the other voters' only way to a majority
   * of the set in force before it (their logs may lack the change); it stands, counting the
   * new set's majority without its own vote, leads until the change commits, then steps down
   * (as Raft's single-server changes have it). Without this the quorum could stop for good.
   */
  #mayStand(): boolean {
    if (this.#isVoter) return true;
    if (this.#dynamic === null) return false;
    const last = this.#votersHistory.at(-1);
    if (last === undefined || last.offset < this.#highWatermark) return false;
    return (this.#votersBefore(last.offset) ?? []).some((v) => sameReplica(v, this.local));
  }

  /** Records KRAFT_VOTERS records of batches just appended (dynamic quorum). */
  #noteAppended(batches: Uint8Array, reason: string): void {
    if (this.#dynamic === null) return;
    const found = votersInBatches(batches, Math.max(batches.length, 1));
    if (found.length === 0) return;
    const last = this.#votersHistory.at(-1)?.offset ?? -1;
    for (const f of found) {
      assert(f.offset > last, () => `voters record at ${f.offset} not after ${last}`);
      this.#votersHistory.push(f);
    }
    this.#applyVoterSet(reason);
  }

  /** The log lost offsets >= `offset`: so did the voter sets appended there. */
  #noteTruncated(offset: number): void {
    if (this.#dynamic === null) return;
    const before = this.#votersHistory.length;
    this.#votersHistory = this.#votersHistory.filter((h) => h.offset < offset);
    if (this.#votersHistory.length !== before) this.#applyVoterSet(`log truncated to ${offset}`);
  }

  /** The voter set in force just below `endOffset`. */
  #votersBefore(endOffset: number): readonly Voter[] | null {
    let voters = this.#baseVoters;
    for (const h of this.#votersHistory) if (h.offset < endOffset) voters = h.voters;
    return voters;
  }

  /**
   * Reads the quorum-state file and starts in the role it implies: a leader comes back
   * resigned (its unflushed records may be gone, so it must not lead that epoch again), a
   * node that voted stays bound to that vote, a follower follows the same leader. Throws
   * QuorumStateError when the file is corrupt, missing beside a non-empty log, or older than
   * the log's last epoch (all mean the directory was damaged: starting would risk a second
   * vote in an epoch), and StorageError on I/O failure.
   */
  static open(opts: RaftCoreOptions): RaftCore {
    const configProblem = raftConfigProblem(opts.config);
    if (configProblem !== null) throw new Error(`raft config: ${configProblem}`);
    if (opts.dynamic === undefined) {
      assert(opts.voters.length > 0 && opts.voters.length <= votersMax, () => `voter set of ${opts.voters.length}, must be 1..${votersMax}`);
      assert(new Set(opts.voters.map((v) => v.id)).size === opts.voters.length, "voter ids must be distinct");
    } else {
      assert(opts.voters.length === 0, "a dynamic quorum takes its voters from the log, not the options");
      assert(opts.dynamic.bootstrapServerIds.every((id) => id <= -2), "bootstrap server ids are negative (-2 down)");
    }
    const path = quorumStatePath(opts.metadataDir);
    const stored = readQuorumState(opts.fs, path);
    const log = opts.log;
    if (stored === null && log.logEndOffset > log.logStartOffset) {
      throw new QuorumStateError(path, `missing while the metadata log holds offsets ${log.logStartOffset}..${log.logEndOffset - 1}: the directory was damaged`);
    }
    const durable = stored ?? emptyQuorumState;
    if (log.lastFetchedEpoch() > durable.leaderEpoch) {
      throw new QuorumStateError(path, `epoch ${durable.leaderEpoch} is below the metadata log's last epoch ${log.lastFetchedEpoch()}`);
    }
    // The unproven-voter rule (`#onVoteRequest`): a static voter that finds its metadata dir
    // new or wiped writes the marker now, before anything is sent or written in quorum-state.
    const staticVoter =
      opts.testOnlyDisableUnprovenRule !== true &&
      opts.voters.length > 1 &&
      opts.local.directoryId === ZERO_UUID_TEXT &&
      opts.voters.some((v) => sameReplica(v, opts.local));
    const markerPath = unprovenPath(opts.metadataDir);
    let unproven = staticVoter ? readUnprovenMarker(opts.fs, markerPath) : null;
    let unprovenReason = "its marker is still there: it had not caught up before it stopped";
    if (staticVoter && unproven === null && stored === null && log.logEndOffset === log.logStartOffset) {
      unproven = newUnprovenMarker(opts.prng);
      writeUnprovenMarker(opts.fs, markerPath, unproven);
      unprovenReason = "no quorum-state and an empty metadata log: a new or wiped metadata dir";
    }
    const core = new RaftCore(opts, durable, staticVoter, unproven);
    core.#outputs.push({ kind: "roleChanged", role: core.#role.kind, epoch: core.#role.epoch, leaderId: core.#role.leaderId, reason: "opened" });
    if (unproven !== null) {
      core.#outputs.push({ kind: "provenChanged", proven: false, reason: unprovenReason });
      core.#maybeProveByRole(core.#role);
    }
    core.#drive();
    return core;
  }

  #initialRole(s: QuorumStateData): Role {
    const votedKey = s.votedId < 0 ? null : { id: s.votedId, directoryId: s.votedDirectoryId };
    if (s.leaderId === this.local.id && this.#isVoter) {
      return this.#newResigned(s.leaderEpoch, []);
    }
    if (s.leaderId >= 0 && s.leaderId !== this.local.id && this.#voterIds.has(s.leaderId)) {
      return this.#newFollower(s.leaderEpoch, s.leaderId, this.#isVoter || this.#dynamic !== null ? votedKey : null);
    }
    return this.#newUnattached(s.leaderEpoch, this.#isVoter || this.#dynamic !== null ? votedKey : null);
  }

  // ---- views ------------------------------------------------------------------------------

  get role(): RoleView {
    const r = this.#role;
    return { kind: r.kind, epoch: r.epoch, leaderId: r.leaderId, votedKey: r.votedKey };
  }

  get epoch(): number {
    return this.#role.epoch;
  }

  /** The largest proposal `propose` takes, in bytes. */
  get appendBytesMax(): number {
    return this.#config.appendBytesMax;
  }

  get leaderId(): number {
    return this.#role.leaderId;
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }

  get isVoter(): boolean {
    return this.#isVoter;
  }

  /** Whether this voter is unproven: it opened a new or wiped metadata dir and has not caught up since. */
  get unproven(): boolean {
    return this.#unproven !== null;
  }

  /** The quorum-state this node has written (what its file holds). */
  get durableState(): QuorumStateData {
    return this.#durable;
  }

  /** The newest snapshot kept (the state machine loads it, then applies the log after it), or null. */
  latestSnapshot(): SnapshotId | null {
    return this.#log.latestSnapshot();
  }

  /** The content of snapshot `id` (one the log keeps). Throws SnapshotError or StorageError. */
  readSnapshot(id: SnapshotId): Uint8Array {
    return this.#log.readSnapshotContent(id);
  }

  get logStartOffset(): number {
    return this.#log.logStartOffset;
  }

  /** Outputs since the last call, in order. */
  takeOutputs(): RaftOutput[] {
    const out = this.#outputs;
    this.#outputs = [];
    return out;
  }

  /** The earliest time `tick` has something to do (Infinity when only input can wake it). */
  nextDeadlineMs(): number {
    const role = this.#role;
    let t = this.#log.flushedOffset < this.#log.logEndOffset ? this.#nowMs : Number.POSITIVE_INFINITY;
    const slots = (m: ReadonlyMap<number, RequestSlot>, done: ReadonlySet<number>): void => {
      for (const [id, s] of m) if (!done.has(id)) t = Math.min(t, s.retryAtMs);
    };
    switch (role.kind) {
      case "unattached":
        t = Math.min(t, role.electionDeadlineMs);
        if (!this.#mayStand()) t = Math.min(t, role.discovery?.retryAtMs ?? this.#nowMs);
        break;
      case "prospective":
        if (role.round === null) t = Math.min(t, role.backoffUntilMs);
        else {
          t = Math.min(t, role.round.deadlineMs);
          slots(role.round.requests, new Set([...role.round.granted, ...role.round.rejected]));
        }
        break;
      case "candidate":
        t = Math.min(t, role.round.deadlineMs);
        slots(role.round.requests, new Set([...role.round.granted, ...role.round.rejected]));
        break;
      case "leader":
        t = Math.min(t, role.checkQuorumStartMs + this.#config.fetchTimeoutMs);
        slots(role.beginRequests, role.acknowledged);
        for (const p of role.parked.values()) t = Math.min(t, p.deadlineMs);
        break;
      case "follower":
        t = Math.min(t, role.fetchDeadlineMs, role.fetch === null ? role.nextFetchMs : role.fetch.retryAtMs);
        break;
      case "resigned":
        t = Math.min(t, role.electionDeadlineMs);
        slots(role.endRequests, role.acknowledged);
        break;
    }
    return t;
  }

  /** DescribeQuorum: answered by the leader only. */
  describeQuorum(): QuorumDescription {
    const role = this.#role;
    if (role.kind !== "leader") {
      // The voters' endpoints still: a tool that asked a controller can go to the leader.
      return { errorCode: E.NOT_LEADER_OR_FOLLOWER, leaderId: this.#advertisedLeaderId(), leaderEpoch: role.epoch, highWatermark: -1, currentVoters: [], observers: [], nodes: this.#describedNodes() };
    }
    const describe = (p: ReplicaProgress): ReplicaDescription => ({
      replicaId: p.key.id,
      replicaDirectoryId: p.key.directoryId,
      logEndOffset: p.matchOffset,
      lastFetchTimestamp: p.lastFetchMs,
      lastCaughtUpTimestamp: p.lastCaughtUpMs,
    });
    const self: ReplicaDescription = {
      replicaId: this.local.id,
      replicaDirectoryId: this.local.directoryId,
      logEndOffset: this.#log.logEndOffset,
      lastFetchTimestamp: this.#nowMs,
      lastCaughtUpTimestamp: this.#nowMs,
    };
    return {
      errorCode: E.NONE,
      leaderId: this.local.id,
      leaderEpoch: role.epoch,
      highWatermark: this.#highWatermark,
      currentVoters: [...(this.#isVoter ? [self] : []), ...[...role.voters.values()].map(describe)],
      observers: [...(this.#isVoter ? [] : [self]), ...[...role.observers.values()].map(describe)],
      nodes: this.#describedNodes(),
    };
  }

  #describedNodes(): { nodeId: number; listeners: readonly VoterEndpoint[] }[] {
    return this.#voterSet.filter((v) => v.endpoints.length > 0).map((v) => ({ nodeId: v.id, listeners: v.endpoints }));
  }

  // ---- inputs -----------------------------------------------------------------------------

  /** Time moved to `nowMs` (monotonic): flush what was appended, then act on due deadlines. */
  tick(nowMs: number): void {
    assert(nowMs >= this.#nowMs, () => `time went back from ${this.#nowMs} to ${nowMs}`);
    this.#nowMs = nowMs;
    this.#flushLog();
    this.#drive();
  }

  receive(from: number, message: RaftMessage): void {
    switch (message.type) {
      case "VoteRequest":
        this.#send(from, this.#onVoteRequest(message));
        break;
      case "BeginQuorumEpochRequest":
        this.#send(from, this.#onBeginQuorumEpochRequest(message));
        break;
      case "EndQuorumEpochRequest":
        this.#send(from, this.#onEndQuorumEpochRequest(message));
        break;
      case "FetchRequest": {
        const answer = this.#onFetchRequest(from, message);
        if (answer !== null) this.#send(from, answer);
        break;
      }
      case "FetchSnapshotRequest":
        this.#send(from, this.#onFetchSnapshotRequest(message));
        break;
      case "FetchSnapshotResponse":
        this.#onFetchSnapshotResponse(from, message);
        break;
      case "VoteResponse":
        this.#onVoteResponse(from, message);
        break;
      case "BeginQuorumEpochResponse":
      case "EndQuorumEpochResponse":
        this.#onQuorumEpochResponse(from, message);
        break;
      case "FetchResponse":
        this.#onFetchResponse(from, message);
        break;
    }
    this.#drive();
  }

  /**
   * Appends whole record batches (wire form) as the leader, patching their base offsets and
   * leader epoch in place; they are flushed at the next `tick` and committed once a majority
   * has them (see ProposeResult).
   */
  propose(batches: Uint8Array): ProposeResult {
    const role = this.#role;
    if (role.kind !== "leader") return { kind: "notLeader", leaderId: this.#advertisedLeaderId(), leaderEpoch: role.epoch };
    if (this.#staticVoter && role.epochStartOffset === 0 && this.#highWatermark === 0) {
      // Elected among empty logs: its log stays the one LEADER_CHANGE record until that commits
      // (P4 of the unproven-voter rule; the metadata layer waits for it anyway, whenWritable).
      return { kind: "rejected", detail: "the first leader of a static quorum takes proposals once its leader-change record is committed" };
    }
    if (batches.length === 0 || batches.length > this.#config.appendBytesMax) {
      return { kind: "rejected", detail: `${batches.length} bytes, must be 1..${this.#config.appendBytesMax}` };
    }
    const r = this.#log.appendAsLeader(batches, role.epoch);
    if (r.kind !== "ok") return { kind: "rejected", detail: r.detail };
    this.#answerParked(role);
    return { kind: "ok", firstOffset: r.firstOffset, lastOffset: r.lastOffset, epoch: role.epoch };
  }

  /**
   * Stores the state machine's snapshot of everything below `endOffset` (a committed batch
   * boundary past the latest snapshot): `content` is whole v2 record batches, kept as given.
   * Then old snapshots and the log before the oldest kept are deleted as the retention
   * settings say. The snapshot's epoch is the log's at `endOffset - 1`.
   */
  createSnapshot(endOffset: number, content: Uint8Array): CreateSnapshotResult {
    if (!(endOffset <= this.#highWatermark)) return { kind: "rejected", detail: `end offset ${endOffset} past the high watermark ${this.#highWatermark}` };
    const latest = this.#log.latestSnapshot();
    if (latest !== null && endOffset <= latest.endOffset) return { kind: "rejected", detail: `end offset ${endOffset} not past the latest snapshot ${snapshotIdText(latest)}` };
    const at = this.#log.snapshotEpochAt(endOffset);
    if (at.kind !== "ok") return { kind: "rejected", detail: at.detail };
    const snapshotId: SnapshotId = { endOffset, epoch: at.epoch };
    // A dynamic quorum's snapshot carries the voter set in force at its end (before the state machine's content).
    const voters = this.#dynamic === null ? null : this.#votersBefore(endOffset);
    let full = content;
    if (voters !== null && voters.length > 0) {
      const now = this.#clock.nowMs();
      const version = kraftVersionBatch(kraftVersionDynamic, now);
      const set = votersBatch(voters, now);
      full = new Uint8Array(version.length + set.length + content.length);
      full.set(version, 0);
      full.set(set, version.length);
      full.set(content, version.length + set.length);
    }
    try {
      this.#log.createSnapshot(snapshotId, full, this.#clock.nowMs());
      this.#log.maybeDeleteBeforeSnapshots({ retentionBytes: this.#config.retentionBytes, retentionMs: this.#config.retentionMs, nowMs: this.#clock.nowMs() });
    } catch (e) {
      if (e instanceof StorageError || e instanceof RecordsError) return { kind: "rejected", detail: e.message };
      throw e;
    }
    if (this.#dynamic !== null) {
      // Records before the log start are gone: the last of them becomes the base.
      const start = this.#log.logStartOffset;
      while (this.#votersHistory.length > 0 && this.#votersHistory[0]!.offset < start) {
        this.#baseVoters = this.#votersHistory.shift()!.voters;
        this.#baseFromBootstrap = false;
      }
    }
    return { kind: "ok", snapshotId, logStartOffset: this.#log.logStartOffset };
  }

  // ---- voter changes (dynamic quorum) --------------------------------------------------------

  /** The voter set in force, with endpoints (a static quorum's carry none). */
  get voterSet(): readonly Voter[] {
    return this.#voterSet;
  }

  /** Whether the voter set lives in the log (KIP-853, kraft.version 1). */
  get isDynamic(): boolean {
    return this.#dynamic !== null;
  }

  /** Why the leader cannot change the voter set now (the error code and why), or null. */
  #voterChangeRefusal(): { errorCode: number; message: string } | null {
    const role = this.#role;
    if (this.#dynamic === null) return { errorCode: E.UNSUPPORTED_VERSION, message: "a static quorum (controller.quorum.voters): its voter set is configuration, not in the log (kraft.version 0)" };
    if (role.kind !== "leader") return { errorCode: E.NOT_LEADER_OR_FOLLOWER, message: `not the leader (leader ${this.#advertisedLeaderId()}, epoch ${role.epoch})` };
    if (this.#highWatermark <= role.epochStartOffset) return { errorCode: E.REQUEST_TIMED_OUT, message: `the leader has not committed in its epoch ${role.epoch} yet` };
    const last = this.#votersHistory.at(-1);
    if (last !== undefined && last.offset >= this.#highWatermark) return { errorCode: E.REQUEST_TIMED_OUT, message: `a voter change at offset ${last.offset} is not committed yet (one change at a time)` };
    return null;
  }

  /**
   * AddRaftVoter, on the leader: appends the voter set with `voter` added. Refused unless no
   * change is in flight, the leader committed in its epoch, `voter`'s id is no voter's, and
   * `voter` (id and directory id) fetches as an observer and has caught up with the high
   * watermark within the fetch timeout (REQUEST_TIMED_OUT meanwhile: the caller may retry).
   */
  addVoter(voter: Voter): VoterChangeResult {
    const refused = this.#voterChangeRefusal();
    if (refused !== null) return { kind: "error", ...refused };
    const role = this.#role;
    assert(role.kind === "leader", "voter change refusal checks the role");
    if (this.#voterIds.has(voter.id)) return { kind: "error", errorCode: E.DUPLICATE_VOTER, message: `node ${voter.id} is a voter already` };
    const next = [...this.#voterSet, voter].sort((a, b) => a.id - b.id);
    const problem = voterSetProblem(next);
    if (problem !== null) return { kind: "error", errorCode: E.INVALID_REQUEST, message: problem };
    const seen = role.observers.get(replicaKeyText(voter));
    if (seen === undefined || this.#nowMs - seen.lastFetchMs > this.#config.fetchTimeoutMs) {
      return { kind: "error", errorCode: E.REQUEST_TIMED_OUT, message: `node ${voter.id} (directory ${voter.directoryId}) is not fetching from the leader as an observer` };
    }
    if (seen.matchOffset < this.#highWatermark) {
      return { kind: "error", errorCode: E.REQUEST_TIMED_OUT, message: `node ${voter.id} has not caught up (at ${seen.matchOffset}, high watermark ${this.#highWatermark})` };
    }
    return this.#appendVoters(role, next, `voter ${voter.id} added`);
  }

  /** RemoveRaftVoter, on the leader: appends the voter set without `key` (VOTER_NOT_FOUND when it is not one). */
  removeVoter(key: ReplicaKey): VoterChangeResult {
    const refused = this.#voterChangeRefusal();
    if (refused !== null) return { kind: "error", ...refused };
    const role = this.#role;
    assert(role.kind === "leader", "voter change refusal checks the role");
    if (!this.#isVoterKey(key.id, key.directoryId)) return { kind: "error", errorCode: E.VOTER_NOT_FOUND, message: `no voter ${key.id} with directory id ${key.directoryId}` };
    const next = this.#voterSet.filter((v) => !(v.id === key.id && v.directoryId === key.directoryId));
    if (next.length === 0) return { kind: "error", errorCode: E.INVALID_REQUEST, message: "the last voter cannot be removed" };
    return this.#appendVoters(role, next, `voter ${key.id} removed`);
  }

  #appendVoters(role: Leader, next: readonly Voter[], reason: string): VoterChangeResult {
    const r = this.#log.appendAsLeader(votersBatch(next, this.#clock.nowMs()), role.epoch);
    if (r.kind !== "ok") return { kind: "error", errorCode: E.KAFKA_STORAGE_ERROR, message: r.detail };
    this.#votersHistory.push({ offset: r.firstOffset, voters: next });
    this.#applyVoterSet(reason);
    this.#answerParked(role);
    return { kind: "appended", offset: r.firstOffset, epoch: role.epoch };
  }

  /** Graceful shutdown of a leader: resign now and tell the voters (EndQuorumEpoch). */
  resign(): void {
    if (this.#role.kind === "leader") this.#resign("shutdown");
    this.#drive();
  }

  // ---- the one place the role changes -----------------------------------------------------

  /**
   * Changes role to `next`, after checking the change against the transition table
   * (roles.ts) and writing the quorum-state file when the durable part changes — before
   * anything is sent in the new role. A leader stepping down answers the fetches it held.
   */
  #transition(next: Role, reason: string): void {
    const prev = this.#role;
    const problem = transitionProblem(prev, next, { ...this.#ctx, isVoter: this.#mayStand() });
    assert(problem === null, () => `node ${this.local.id}: ${reason}: ${problem}`);
    const durable = durableStateOf(next);
    if (!sameQuorumState(durable, this.#durable)) {
      writeQuorumState(this.#fs, this.#statePath, durable);
      this.#durable = durable;
    }
    this.#role = next;
    // A download belongs to the leader and epoch it came from.
    if (this.#log.snapshotDownload !== null) this.#log.abortSnapshotDownload();
    this.#outputs.push({ kind: "roleChanged", role: next.kind, epoch: next.epoch, leaderId: next.leaderId, reason });
    if (this.#unproven !== null) this.#maybeProveByRole(next);
    if (prev.kind === "leader") this.#answerParked(prev);
    if (next.kind === "leader") this.#onElected(next);
  }

  // ---- the unproven-voter rule: becoming proven (the rule and its argument: #onVoteRequest) --

  /** P1 (elected, or back resigned from an epoch it led) and P2 (follows the leader it voted for in this epoch). */
  #maybeProveByRole(role: Role): void {
    if (this.#unproven === null) return;
    if (role.kind === "leader" || role.kind === "resigned") {
      this.#prove(`${role.kind === "leader" ? "elected" : "led"} in epoch ${role.epoch}`);
    } else if (role.kind === "follower" && role.votedKey !== null && role.votedKey.id === role.leaderId) {
      this.#prove(`follows leader ${role.leaderId} of epoch ${role.epoch}, which it voted for in an election among empty logs`);
    }
  }

  /** Unproven: keeps the vote in the marker for P4 (a failed write costs only that chance). */
  #rememberVote(epoch: number, candidateId: number): void {
    const marker = this.#unproven;
    assert(marker !== null, "remember a vote while proven");
    const next = withUnprovenVote(marker, { epoch, candidateId });
    if (next === marker) return;
    try {
      writeUnprovenMarker(this.#fs, this.#unprovenPath, next);
    } catch (e) {
      if (e instanceof StorageError) return;
      throw e;
    }
    this.#unproven = next;
  }

  /** Removes the marker durably, then acts as proven. If the disk fails, stays unproven (safe) and tries again at the next proof. */
  #prove(reason: string): void {
    assert(this.#unproven !== null, "prove while proven");
    try {
      removeUnprovenMarker(this.#fs, this.#unprovenPath);
    } catch (e) {
      if (e instanceof StorageError) return;
      throw e;
    }
    this.#unproven = null;
    this.#outputs.push({ kind: "provenChanged", proven: true, reason });
  }

  // ---- role constructors ------------------------------------------------------------------

  #randomElectionTimeoutMs(): number {
    const t = this.#config.electionTimeoutMs;
    return t + this.#prng.int(t + 1);
  }

  #randomBackoffMs(): number {
    return this.#prng.int(this.#config.electionBackoffMaxMs + 1);
  }

  #newUnattached(epoch: number, votedKey: ReplicaKey | null): Unattached {
    // The only voter has nobody to wait for: it stands at once (a single node starts in ms).
    const wait = this.#voters.length === 1 ? 0 : this.#randomElectionTimeoutMs();
    const deadline = this.#mayStand() ? this.#nowMs + wait : Number.POSITIVE_INFINITY;
    return { kind: "unattached", epoch, leaderId: -1, votedKey, electionDeadlineMs: deadline, discovery: null };
  }

  #newFollower(epoch: number, leaderId: number, votedKey: ReplicaKey | null): Follower {
    return {
      kind: "follower",
      epoch,
      leaderId,
      votedKey,
      fetchDeadlineMs: this.#nowMs + this.#config.fetchTimeoutMs,
      fetch: null,
      nextFetchMs: this.#nowMs,
      lastFetchOkMs: null,
      leaderEnded: false,
      caughtUpAtOffset: null,
      fetchingSnapshot: null,
    };
  }

  #newResigned(epoch: number, preferredCandidates: readonly ReplicaKey[]): Resigned {
    return {
      kind: "resigned",
      epoch,
      leaderId: this.local.id,
      votedKey: this.local,
      electionDeadlineMs: this.#nowMs + (this.#voters.length === 1 ? 0 : this.#randomElectionTimeoutMs()),
      preferredCandidates,
      endRequests: new Map(),
      acknowledged: new Set(),
    };
  }

  #newRound(): VoteRound {
    return { requests: new Map(), granted: new Set(), rejected: new Set(), deadlineMs: this.#nowMs + this.#randomElectionTimeoutMs() };
  }

  /** Moves to `epoch` (> current): follower of `leaderId` when that is a usable leader, else unattached. */
  #enterEpoch(epoch: number, leaderId: number, reason: string): void {
    assert(epoch > this.#role.epoch, () => `enterEpoch ${epoch} from ${this.#role.epoch}`);
    if (this.#usableLeader(leaderId)) this.#transition(this.#newFollower(epoch, leaderId, null), reason);
    else this.#transition(this.#newUnattached(epoch, null), reason);
  }

  /**
   * A leader this node may follow: a voter other than itself. In a dynamic quorum any other
   * node: its own voter set may lag the leader's (a change not replicated to it yet), and it
   * learns the leader's from the leader's log.
   */
  #usableLeader(leaderId: number): boolean {
    if (leaderId < 0 || leaderId === this.local.id) return false;
    return this.#voterIds.has(leaderId) || this.#dynamic !== null;
  }

  /**
   * Learns from a peer that `leaderId` (-1: unknown) leads `epoch`. Returns whether the role
   * changed. A higher epoch is always taken; in the current epoch a leader is taken only by
   * a node that knows none (a prospective that lost contact with its leader goes back to it
   * when its pre-vote round fails, not on a peer's word).
   */
  #observeLeader(epoch: number, leaderId: number, reason: string): boolean {
    const role = this.#role;
    if (epoch > role.epoch) {
      this.#enterEpoch(epoch, leaderId, reason);
      return true;
    }
    if (epoch < role.epoch || !this.#usableLeader(leaderId)) return false;
    const takes = (role.kind === "unattached" || role.kind === "candidate" || role.kind === "prospective") && role.leaderId === -1;
    if (!takes) return false;
    this.#transition(this.#newFollower(epoch, leaderId, role.votedKey), reason);
    return true;
  }

  #startProspective(reason: string, backoff: boolean): void {
    const role = this.#role;
    assert(role.kind !== "leader" && role.kind !== "prospective", () => `prospective from ${role.kind}`);
    const next: Prospective = {
      kind: "prospective",
      epoch: role.epoch,
      leaderId: role.leaderId,
      votedKey: role.votedKey,
      round: backoff ? null : this.#newRound(),
      backoffUntilMs: backoff ? this.#nowMs + this.#randomBackoffMs() : this.#nowMs,
    };
    this.#transition(next, reason);
  }

  #resign(reason: string): void {
    const role = this.#role;
    assert(role.kind === "leader", () => `resign from ${role.kind}`);
    const preferred = [...role.voters.values()].sort((a, b) => b.matchOffset - a.matchOffset || a.key.id - b.key.id).map((p) => p.key);
    this.#transition(this.#newResigned(role.epoch, preferred), reason);
  }

  #onElected(role: Leader): void {
    const batch = leaderChangeBatch(
      { leaderId: this.local.id, voters: [...this.#voterIds].sort((a, b) => a - b), grantingVoters: role.grantingVoters },
      this.#clock.nowMs(),
    );
    const r = this.#log.appendAsLeader(batch, role.epoch);
    if (r.kind !== "ok") {
      this.#resign(`cannot append the leader-change record: ${r.detail}`);
      return;
    }
    assert(r.firstOffset === role.epochStartOffset, () => `leader-change record at ${r.firstOffset}, epoch starts at ${role.epochStartOffset}`);
    // The first leader of a dynamic quorum puts the bootstrap voters into the log, from where every node learns them.
    if (this.#dynamic !== null && this.#votersHistory.length === 0 && this.#baseFromBootstrap && this.#baseVoters !== null) {
      const now = this.#clock.nowMs();
      const version = this.#log.appendAsLeader(kraftVersionBatch(kraftVersionDynamic, now), role.epoch);
      const voters = version.kind === "ok" ? this.#log.appendAsLeader(votersBatch(this.#baseVoters, now), role.epoch) : version;
      if (voters.kind !== "ok") {
        this.#resign(`cannot append the bootstrap voter set: ${voters.detail}`);
        return;
      }
      this.#votersHistory.push({ offset: voters.firstOffset, voters: this.#baseVoters });
      this.#baseFromBootstrap = false;
    }
  }

  // ---- driving: what each role does as time passes ----------------------------------------

  #drive(): void {
    for (let changes = 0; ; changes++) {
      assert(changes <= roleChangesPerInputMax, () => `node ${this.local.id}: role did not settle after ${changes} changes`);
      const before = this.#role;
      this.#driveRole();
      if (this.#role === before) return;
    }
  }

  #driveRole(): void {
    const role = this.#role;
    const now = this.#nowMs;
    switch (role.kind) {
      case "unattached":
        if (this.#mayStand()) {
          if (now >= role.electionDeadlineMs) this.#startProspective("election timeout", false);
        } else this.#discoverLeader(role);
        return;
      case "prospective":
        return this.#driveProspective(role);
      case "candidate":
        return this.#driveCandidate(role);
      case "leader":
        return this.#driveLeader(role);
      case "follower":
        return this.#driveFollower(role);
      case "resigned":
        if (now >= role.electionDeadlineMs) {
          if (this.#mayStand()) this.#startProspective("resigned leader's election timeout", false);
          else this.#transition(this.#newUnattached(role.epoch, role.votedKey), "removed from the voter set: an observer from now on");
          return;
        }
        this.#sendToVoters(role.endRequests, role.acknowledged, (v, requestId) => ({
          type: "EndQuorumEpochRequest",
          requestId,
          clusterId: this.clusterId,
          leaderId: this.local.id,
          leaderEpoch: role.epoch,
          preferredCandidates: role.preferredCandidates,
        }));
        return;
    }
  }

  /**
   * Grants from other voters a (pre-)vote round needs: a majority with its own vote; in a
   * static quorum, every other voter when its log is empty (V2), and a majority without its
   * own vote while it is unproven (V3). The rule: `#onVoteRequest`.
   */
  #grantsNeeded(): number {
    // Empty: no record and no snapshot (a log cut at its snapshot is not empty).
    if (this.#staticVoter && this.#log.logEndOffset === 0) return this.#voters.length - 1;
    // Unproven, or standing while removed by an uncommitted change: its own vote does not count.
    return this.#unproven !== null || !this.#isVoter ? this.#majority : this.#majority - 1;
  }

  /** Whether `round` can no longer win. */
  #roundLost(round: VoteRound): boolean {
    const others = this.#voters.length - (this.#isVoter ? 1 : 0);
    return others - round.rejected.size < this.#grantsNeeded();
  }

  #driveProspective(role: Prospective): void {
    const now = this.#nowMs;
    if (role.round === null) {
      if (now < role.backoffUntilMs) return;
      role.round = this.#newRound();
    }
    const round = role.round;
    if (round.granted.size >= this.#grantsNeeded()) {
      const next: Candidate = { kind: "candidate", epoch: role.epoch + 1, leaderId: -1, votedKey: this.local, round: this.#newRound() };
      this.#transition(next, `pre-vote won (${[...round.granted].join(",")})`);
      return;
    }
    if (this.#roundLost(round) || now >= round.deadlineMs) {
      if (this.#usableLeader(role.leaderId)) {
        // Could not win: back to the leader it knew, which the others may still hear from.
        this.#transition(this.#newFollower(role.epoch, role.leaderId, role.votedKey), `pre-vote lost, back to leader ${role.leaderId}`);
        return;
      }
      role.round = null;
      role.backoffUntilMs = now + this.#randomBackoffMs();
      return;
    }
    this.#sendVoteRequests(round, role.epoch + 1, true);
  }

  #driveCandidate(role: Candidate): void {
    const round = role.round;
    if (round.granted.size >= this.#grantsNeeded()) {
      const next: Leader = {
        kind: "leader",
        epoch: role.epoch,
        leaderId: this.local.id,
        votedKey: this.local,
        epochStartOffset: this.#log.logEndOffset,
        grantingVoters: [this.local.id, ...round.granted].filter((id) => this.#voterIds.has(id)).sort((a, b) => a - b),
        voters: new Map(
          this.#voters
            .filter((v) => v.id !== this.local.id)
            .map((v) => [v.id, { key: v, matchOffset: -1, lastFetchMs: -1, lastCaughtUpMs: -1 }] as const),
        ),
        observers: new Map(),
        acknowledged: new Set(),
        beginRequests: new Map(),
        checkQuorumStartMs: this.#nowMs,
        fetchedInWindow: new Set(),
        parked: new Map(),
      };
      this.#transition(next, `elected by ${[this.local.id, ...round.granted].join(",")}`);
      return;
    }
    if (this.#roundLost(round) || this.#nowMs >= round.deadlineMs) {
      this.#startProspective("election lost", true);
      return;
    }
    this.#sendVoteRequests(round, role.epoch, false);
  }

  #sendVoteRequests(round: VoteRound, candidateEpoch: number, preVote: boolean): void {
    const answered = new Set([...round.granted, ...round.rejected]);
    this.#sendToVoters(round.requests, answered, (v, requestId) => ({
      type: "VoteRequest",
      requestId,
      clusterId: this.clusterId,
      voterId: v.id,
      voterDirectoryId: v.directoryId,
      candidateEpoch,
      candidateId: this.local.id,
      candidateDirectoryId: this.local.directoryId,
      lastOffsetEpoch: this.#log.lastFetchedEpoch(),
      lastOffset: this.#log.logEndOffset,
      preVote,
    }));
  }

  /** Sends `build`'s request to every other voter not in `done` whose slot is free or due again. */
  #sendToVoters(slots: Map<number, RequestSlot>, done: ReadonlySet<number>, build: (voter: ReplicaKey, requestId: number) => RaftMessage): void {
    const now = this.#nowMs;
    for (const v of this.#voters) {
      if (v.id === this.local.id || done.has(v.id)) continue;
      const slot = slots.get(v.id);
      if (slot !== undefined && now < slot.retryAtMs) continue;
      const requestId = this.#nextRequestId();
      slots.set(v.id, { requestId, sentMs: now, retryAtMs: now + this.#config.requestTimeoutMs });
      this.#send(v.id, build(v, requestId));
    }
  }

  #driveLeader(role: Leader): void {
    const now = this.#nowMs;
    this.#maybeRenewCheckQuorum(role);
    if (now >= role.checkQuorumStartMs + this.#config.fetchTimeoutMs) {
      this.#resign(`check-quorum: fetches from only ${[...role.fetchedInWindow].join(",") || "no voter"} in ${this.#config.fetchTimeoutMs} ms`);
      return;
    }
    this.#sendToVoters(role.beginRequests, role.acknowledged, (v, requestId) => ({
      type: "BeginQuorumEpochRequest",
      requestId,
      clusterId: this.clusterId,
      voterId: v.id,
      voterDirectoryId: v.directoryId,
      leaderId: this.local.id,
      leaderEpoch: role.epoch,
    }));
    for (const p of [...role.parked.values()]) {
      if (now >= p.deadlineMs) {
        role.parked.delete(p.from);
        this.#send(p.from, this.#serveFetch(role, p.requestId, p.fetchOffset, p.maxBytes));
      }
    }
  }

  #maybeRenewCheckQuorum(role: Leader): void {
    if (role.fetchedInWindow.size + (this.#isVoter ? 1 : 0) < this.#majority) return;
    role.checkQuorumStartMs = this.#nowMs;
    role.fetchedInWindow.clear();
  }

  #driveFollower(role: Follower): void {
    const now = this.#nowMs;
    if (now >= role.fetchDeadlineMs) {
      if (this.#mayStand()) this.#startProspective(`no fetch from leader ${role.leaderId} within ${this.#config.fetchTimeoutMs} ms`, false);
      else this.#transition(this.#newUnattached(role.epoch, role.votedKey), `observer lost leader ${role.leaderId}`);
      return;
    }
    if (role.fetch !== null && now < role.fetch.retryAtMs) return;
    if (now < role.nextFetchMs) return;
    const requestId = this.#nextRequestId();
    role.fetch = { requestId, sentMs: now, retryAtMs: now + this.#config.requestTimeoutMs };
    if (role.fetchingSnapshot !== null) {
      const request: FetchSnapshotRequest = {
        type: "FetchSnapshotRequest",
        requestId,
        clusterId: this.clusterId,
        replicaId: this.local.id,
        // Unproven (C1), as in Fetch: counted as an observer's, not toward check-quorum.
        replicaDirectoryId: this.#unproven?.fetchDirectoryId ?? this.local.directoryId,
        currentLeaderEpoch: role.epoch,
        snapshotId: role.fetchingSnapshot,
        position: this.#log.snapshotDownload?.position ?? 0,
        maxBytes: Math.min(this.#config.fetchBytesMax, fetchSnapshotBytesMax),
      };
      this.#send(role.leaderId, request);
      return;
    }
    this.#send(role.leaderId, this.#fetchRequest(requestId, role.epoch, this.#config.fetchMaxWaitMs));
  }

  /** Observers find the leader by asking a random voter (its answer names the leader). */
  #discoverLeader(role: Unattached): void {
    const now = this.#nowMs;
    if (role.discovery !== null && now < role.discovery.retryAtMs) return;
    // Through the bootstrap servers when given (a dynamic quorum), else a random voter.
    const bootstrap = this.#dynamic?.bootstrapServerIds ?? [];
    const others = bootstrap.length > 0 ? bootstrap : this.#voters.filter((v) => v.id !== this.local.id).map((v) => v.id);
    const target = others[this.#prng.int(others.length)];
    if (target === undefined) return;
    const requestId = this.#nextRequestId();
    role.discovery = { to: target, requestId, sentMs: now, retryAtMs: now + this.#config.requestTimeoutMs };
    this.#send(target, this.#fetchRequest(requestId, role.epoch, 0));
  }

  #fetchRequest(requestId: number, epoch: number, maxWaitMs: number): FetchRequest {
    return {
      type: "FetchRequest",
      requestId,
      clusterId: this.clusterId,
      replicaId: this.local.id,
      // Unproven (C1): another directory id than its voter key, so the leader counts it as an observer.
      replicaDirectoryId: this.#unproven?.fetchDirectoryId ?? this.local.directoryId,
      currentLeaderEpoch: epoch,
      fetchOffset: this.#log.logEndOffset,
      lastFetchedEpoch: this.#log.lastFetchedEpoch(),
      maxBytes: this.#config.fetchBytesMax,
      maxWaitMs,
    };
  }

  #flushLog(): void {
    if (this.#log.flushedOffset >= this.#log.logEndOffset) return;
    this.#log.flush(); // a failure throws MetadataLogFailure: the node stops (raft-log.ts)
    const role = this.#role;
    if (role.kind === "leader") this.#maybeAdvanceHighWatermark(role);
  }

  // ---- high watermark ---------------------------------------------------------------------

  #maybeAdvanceHighWatermark(role: Leader): void {
    // A leader that removed itself (dynamic quorum) no longer counts its own log.
    const offsets = this.#isVoter ? [this.#log.flushedOffset] : [];
    for (const p of role.voters.values()) offsets.push(p.matchOffset);
    offsets.sort((a, b) => b - a);
    const majorityOffset = offsets[this.#majority - 1] ?? -1;
    if (majorityOffset <= role.epochStartOffset || majorityOffset <= this.#highWatermark) return;
    assert(majorityOffset <= this.#log.logEndOffset, () => `majority offset ${majorityOffset} past the leader's end ${this.#log.logEndOffset}`);
    this.#setHighWatermark(majorityOffset, true);
    this.#answerParked(role);
  }

  #setHighWatermark(offset: number, byLeader: boolean): void {
    assert(offset > this.#highWatermark, () => `high watermark ${offset} does not advance ${this.#highWatermark}`);
    this.#highWatermark = offset;
    this.#log.setHighWatermark(offset);
    this.#outputs.push({ kind: "committed", highWatermark: offset, epoch: this.#role.epoch, byLeader });
    const role = this.#role;
    // A leader that removed itself leads until that change is committed, then steps down.
    if (role.kind === "leader" && !this.#isVoter && (this.#votersHistory.at(-1)?.offset ?? -1) < offset) {
      this.#resign(`removed from the voter set, and the change is committed (high watermark ${offset})`);
    }
  }

  // ---- Vote -------------------------------------------------------------------------------

  #clusterIdOk(clusterId: string | null): boolean {
    return clusterId === null || clusterId === this.clusterId;
  }

  #isVoterKey(id: number, directoryId: string): boolean {
    return this.#voters.some((v) => v.id === id && v.directoryId === directoryId);
  }

  /** A request addressed to this replica as a voter: its key; and in a static quorum it must be a voter. */
  #addressedVoter(voterId: number, voterDirectoryId: string): boolean {
    if (voterId !== this.local.id || voterDirectoryId !== this.local.directoryId) return false;
    return this.#isVoter || this.#dynamic !== null;
  }

  /** The leader this node names to others: none while resigned (it is stepping down). */
  #advertisedLeaderId(): number {
    return this.#role.kind === "resigned" ? -1 : this.#role.leaderId;
  }

  #logIsUpToDate(lastEpoch: number, endOffset: number): boolean {
    const ours = this.#log.lastFetchedEpoch();
    return lastEpoch > ours || (lastEpoch === ours && endOffset >= this.#log.logEndOffset);
  }

  /** A leader, or a follower that fetched from its leader within the fetch timeout, refuses pre-votes. */
  #hasHealthyLeader(): boolean {
    const role = this.#role;
    if (role.kind === "leader") return true;
    if (role.kind !== "follower" || role.leaderEnded || role.lastFetchOkMs === null) return false;
    return this.#nowMs - role.lastFetchOkMs < this.#config.fetchTimeoutMs;
  }

  /**
   * Votes and pre-votes. Plain Raft, plus the unproven-voter rule for static quorums.
   *
   * The rule. A static quorum (`controller.quorum.voters`) keys every voter with the zero
   * directory id, so a voter whose metadata dir was wiped comes back with the key it had,
   * and plain Raft would let it vote with an empty log: three voters, a record committed on
   * A and B, B wiped, A down — C, which lacks the record, asks B, B's empty log makes C look
   * up to date, and C leads with {B, C} without the record. So a static voter that opens
   * with no quorum-state and an empty log (fresh or wiped: it cannot tell) is unproven; it
   * records that durably (unproven.ts) before it sends anything, and while unproven:
   *  V1. it grants a vote or pre-vote only to a candidate whose log is empty;
   *  V2. (every static voter, proven or not) a candidate whose log is empty wins only with
   *      the vote of every voter;
   *  V3. when it stands, its own vote does not count: it needs a majority of the others;
   *  C1. its fetches name another directory id than its voter key, so the leader counts
   *      them toward neither the high watermark nor check-quorum (it follows as an observer).
   * It becomes proven, and the marker is removed durably, when:
   *  P1. it is elected (or comes back resigned from an epoch it led);
   *  P2. it follows the leader of an epoch in which it voted for that leader;
   *  P3. following leader L in epoch E, a fetch answer with no records and no divergence
   *      showed its flushed log ending where L's did, at offset f, and L later reports a
   *      high watermark past f;
   *  P4. a vote request shows a log of exactly one record, of an epoch in which it voted
   *      (the marker keeps its votes). A leader elected among empty logs takes proposals
   *      only once its LEADER_CHANGE record commits, so if it loses the lead before any
   *      follower heard of it (P2 missed), its log is that one record, and P4 lets the
   *      voters that elected it vote for it again; without P4 they would wait forever.
   * Everything else is Raft as it was: the up-to-date check, one vote per epoch, epochs
   * never go back.
   *
   * The bound. Call a voter exposed from its wipe until twice the election timeout after
   * it is proven again (a candidate's round lasts at most that long, so a vote it gave
   * while empty may still be counted after it caught up). The rule keeps every committed
   * record, and one leader per epoch, as long as the exposed voters are a minority at every
   * instant. A fresh dir counts as wiped: the cluster starts with every voter exposed, but
   * with nothing committed yet.
   *
   * Why committed records stay. A committed record r sits on a majority H of the voters;
   * Raft keeps it because every later quorum (the voters that elect a leader, or whose
   * fetches carry the high watermark) meets H in a voter that still has r. A wipe breaks
   * this only when the voter where they meet is the one that lost r. V1, V3 and C1 keep an
   * unproven voter out of every quorum but one, the election of an empty log, and V2 makes
   * that one take every voter, so every member of H. An empty log wins only if every member
   * of H granted it while empty, so lost r to a wipe after r was committed and before its
   * grant, inside the round: at the round's end each is still unproven or was proven less
   * than a round ago, so all of H — a majority — is exposed, outside the bound. Within it,
   * some member of H still has r and refuses, and an empty log wins only when nothing had
   * been committed.
   * A proven voter's log again holds every record committed before its wipe:
   *  - P1: a leader's log holds every committed record (its electors are proven, or, by V2,
   *    every log was empty and nothing was committed);
   *  - P2: by V1 it voted for an empty log, which by V2 won with every voter: nothing had
   *    been committed, and its log is a prefix of the leader's. The vote that counted was
   *    this node's own, not a vote from before the wipe: a candidate counts only the answer
   *    to its latest request to a voter, and requests die with the process they went to;
   *  - P4: a record of epoch G at offset 0 was written by a leader of G that was elected
   *    with an empty log, so by V2 with this node's vote in G (as in P2): nothing had been
   *    committed. (A longer log ending in epoch G could come from a leader of G elected
   *    with a non-empty log, without this node's vote, which proves nothing.)
   *  - P3: the record at f was appended after the node came back, so a high watermark past f
   *    means a majority of proven voters fetched from L in epoch E after the wipe. A record
   *    committed before the wipe in an epoch above E would have one of them go back to E,
   *    which a voter never does unless wiped (and a wiped one counts only once proven again,
   *    the same argument one proof earlier): so L is not a stale leader, its log below f
   *    holds every record committed before the wipe, and so does ours. The high watermark
   *    alone would not do: a leader cut off from a newer majority keeps reporting its old
   *    one until check-quorum ends it, and a wiped voter that trusted it would vote with a
   *    log that lacks what the newer majority committed.
   * A wiped voter also forgot its votes; it votes again only for an empty log, which needs
   * every voter, including the candidate it voted for before (V2): no epoch gets two leaders.
   *
   * What it cannot protect against:
   *  - A majority exposed at once. Unproven at once (wiped and not yet caught up): the
   *    voters that still have a committed record may all be among them, and if every
   *    remaining log is empty V2 lets them start over from nothing — the record is gone;
   *    nothing on the remaining disks could bring it back (KIP-853 has the same bound).
   *    Or wiped in turn within one election round, since V2's votes are not cast at one
   *    instant: five voters, r on A, B and X; A wiped, votes for the empty log of C, then
   *    catches up under another leader and is proven; B and X wiped and vote for C before
   *    C's round ends; D (empty) votes too. C wins without r, P2 proves B and X, and C
   *    commits with them. That takes three of five voters wiped within seconds.
   *  - A disk that loses its log but keeps quorum-state (a partial wipe): it opens as proven
   *    with an empty log, like a voter that never received a record.
   *  - Voters keyed with real directory ids (KIP-853) are not covered here: there a wiped
   *    dir has a new id and is an observer; a dir emptied with its meta.properties kept is not.
   * There is no window at the cluster's start: before the first commit there is nothing
   * to lose, and the first election (all logs empty) needs every voter (V2). What the rule
   * costs is availability: the first election, and any later one among empty logs, waits
   * for every voter; an unproven voter counts for nothing, so a 3-voter quorum with a wiped
   * voter stops if another one fails before it is proven; P3 needs a record committed
   * after the node caught up (an idle quorum leaves it unproven until the next record);
   * and the first leader takes proposals only once its LEADER_CHANGE record commits.
   */
  #onVoteRequest(r: VoteRequest): VoteResponse {
    const answer = (errorCode: number, voteGranted: boolean): VoteResponse => ({
      type: "VoteResponse",
      requestId: r.requestId,
      errorCode,
      leaderId: this.#advertisedLeaderId(),
      leaderEpoch: this.#role.epoch,
      voteGranted,
      preVote: r.preVote,
    });
    if (!this.#clusterIdOk(r.clusterId)) return answer(E.INCONSISTENT_CLUSTER_ID, false);
    // A dynamic quorum's replica answers a vote addressed to its key even when its own voter
    // set (behind the candidate's: a change not replicated yet) does not list it or the
    // candidate — else a voter added by an uncommitted change could never be elected with.
    if (!this.#addressedVoter(r.voterId, r.voterDirectoryId)) return answer(E.INVALID_VOTER_KEY, false);
    if (r.candidateId === this.local.id || (this.#dynamic === null && !this.#isVoterKey(r.candidateId, r.candidateDirectoryId))) return answer(E.INCONSISTENT_VOTER_SET, false);
    const candidate: ReplicaKey = { id: r.candidateId, directoryId: r.candidateDirectoryId };
    // P4: a log of one record, of an epoch in which this node voted, is the record of the
    // election among empty logs it voted in, won.
    if (this.#unproven !== null && r.lastOffset === 1 && this.#unproven.votes.some((v) => v.epoch === r.lastOffsetEpoch)) {
      this.#prove(`candidate ${candidate.id}'s log is the one record of epoch ${r.lastOffsetEpoch}: the election among empty logs it voted in was won`);
    }
    // V1: unproven, it vouches only for an empty log.
    const mayVouch = this.#unproven === null || (r.lastOffsetEpoch < 0 && r.lastOffset === 0);
    if (r.preVote) {
      // The prospective is at candidateEpoch - 1; behind us, it learns our epoch from the answer.
      if (r.candidateEpoch <= this.#role.epoch) return answer(E.FENCED_LEADER_EPOCH, false);
      return answer(E.NONE, mayVouch && !this.#hasHealthyLeader() && this.#logIsUpToDate(r.lastOffsetEpoch, r.lastOffset));
    }
    if (r.candidateEpoch < this.#role.epoch) return answer(E.FENCED_LEADER_EPOCH, false);
    if (r.candidateEpoch > this.#role.epoch) this.#enterEpoch(r.candidateEpoch, -1, `vote request from ${candidate.id} in epoch ${r.candidateEpoch}`);
    const role = this.#role;
    assert(role.epoch === r.candidateEpoch, "vote handled in the candidate's epoch");
    const free = role.votedKey === null || sameReplica(role.votedKey, candidate);
    const canVote = (role.kind === "unattached" || (role.kind === "prospective" && role.leaderId === -1)) && free;
    if (!canVote || !mayVouch || !this.#logIsUpToDate(r.lastOffsetEpoch, r.lastOffset)) return answer(E.NONE, false);
    if (role.votedKey === null) {
      const fresh = this.#newUnattached(role.epoch, candidate);
      const next: Unattached = role.kind === "unattached" ? { ...fresh, electionDeadlineMs: role.electionDeadlineMs } : fresh;
      this.#transition(next, `voted for ${candidate.id} in epoch ${role.epoch}`);
    }
    if (this.#unproven !== null) this.#rememberVote(role.epoch, candidate.id);
    return answer(E.NONE, true);
  }

  #onVoteResponse(from: number, r: VoteResponse): void {
    const role = this.#role;
    const round = role.kind === "prospective" ? role.round : role.kind === "candidate" ? role.round : null;
    if (round === null || round.requests.get(from)?.requestId !== r.requestId) return;
    if (r.preVote !== (role.kind === "prospective")) return;
    if (round.granted.has(from) || round.rejected.has(from)) return;
    if (this.#observeLeader(r.leaderEpoch, r.leaderId, `vote response from ${from}: leader ${r.leaderId} in epoch ${r.leaderEpoch}`)) return;
    if (this.#role !== role) return;
    const granted = r.errorCode === E.NONE && r.voteGranted && (role.kind === "prospective" ? r.leaderEpoch <= role.epoch : r.leaderEpoch === role.epoch);
    (granted ? round.granted : round.rejected).add(from);
  }

  // ---- BeginQuorumEpoch / EndQuorumEpoch --------------------------------------------------

  #onBeginQuorumEpochRequest(r: BeginQuorumEpochRequest): BeginQuorumEpochResponse {
    const answer = (errorCode: number): BeginQuorumEpochResponse => ({
      type: "BeginQuorumEpochResponse",
      requestId: r.requestId,
      errorCode,
      leaderId: this.#advertisedLeaderId(),
      leaderEpoch: this.#role.epoch,
    });
    if (!this.#clusterIdOk(r.clusterId)) return answer(E.INCONSISTENT_CLUSTER_ID);
    if (!this.#addressedVoter(r.voterId, r.voterDirectoryId)) return answer(E.INVALID_VOTER_KEY);
    if (!this.#usableLeader(r.leaderId)) return answer(E.INCONSISTENT_VOTER_SET);
    if (r.leaderEpoch < this.#role.epoch) return answer(E.FENCED_LEADER_EPOCH);
    const role = this.#role;
    assert(
      r.leaderEpoch > role.epoch || role.leaderId === -1 || role.leaderId === r.leaderId,
      () => `node ${this.local.id}: epoch ${role.epoch} has leader ${role.leaderId}, and ${r.leaderId} claims it too`,
    );
    this.#observeLeader(r.leaderEpoch, r.leaderId, `BeginQuorumEpoch from ${r.leaderId} for epoch ${r.leaderEpoch}`);
    return answer(E.NONE);
  }

  #onEndQuorumEpochRequest(r: EndQuorumEpochRequest): EndQuorumEpochResponse {
    const answer = (errorCode: number): EndQuorumEpochResponse => ({
      type: "EndQuorumEpochResponse",
      requestId: r.requestId,
      errorCode,
      leaderId: this.#advertisedLeaderId(),
      leaderEpoch: this.#role.epoch,
    });
    if (!this.#clusterIdOk(r.clusterId)) return answer(E.INCONSISTENT_CLUSTER_ID);
    if (!this.#usableLeader(r.leaderId)) return answer(E.INCONSISTENT_VOTER_SET);
    if (r.leaderEpoch < this.#role.epoch) return answer(E.FENCED_LEADER_EPOCH);
    if (r.leaderEpoch > this.#role.epoch) this.#enterEpoch(r.leaderEpoch, r.leaderId, `EndQuorumEpoch from ${r.leaderId} for epoch ${r.leaderEpoch}`);
    const role = this.#role;
    if (role.kind === "follower" && role.leaderId === r.leaderId && !role.leaderEnded) {
      // The leader is gone: grant pre-votes, and stand sooner the higher it ranked us.
      role.leaderEnded = true;
      const rank = r.preferredCandidates.findIndex((k) => sameReplica(k, this.local));
      const waitMs = rank >= 0 ? Math.min(this.#config.retryBackoffMs * 2 ** rank, this.#config.electionBackoffMaxMs) : this.#randomElectionTimeoutMs();
      role.fetchDeadlineMs = Math.min(role.fetchDeadlineMs, this.#nowMs + waitMs);
    }
    return answer(E.NONE);
  }

  #onQuorumEpochResponse(from: number, r: BeginQuorumEpochResponse | EndQuorumEpochResponse): void {
    const role = this.#role;
    const slots = r.type === "BeginQuorumEpochResponse" ? (role.kind === "leader" ? role.beginRequests : null) : role.kind === "resigned" ? role.endRequests : null;
    const slot = slots?.get(from);
    if (slots === null || slot === undefined || slot.requestId !== r.requestId) return;
    if (this.#observeLeader(r.leaderEpoch, r.leaderId, `${r.type} from ${from}: epoch ${r.leaderEpoch}`)) return;
    if (r.errorCode === E.NONE) {
      if (role.kind === "leader" || role.kind === "resigned") role.acknowledged.add(from);
    } else slot.retryAtMs = this.#nowMs + this.#config.retryBackoffMs;
  }

  // ---- Fetch (leader side) ----------------------------------------------------------------

  #fetchAnswer(requestId: number, errorCode: number): FetchResponse {
    return {
      type: "FetchResponse",
      requestId,
      errorCode,
      highWatermark: -1,
      logStartOffset: this.#log.logStartOffset,
      divergingEpoch: null,
      currentLeader: { leaderId: this.#advertisedLeaderId(), leaderEpoch: this.#role.epoch },
      records: noRecords,
      leaderEndpoint: this.#endpointOf(this.#advertisedLeaderId()),
    };
  }

  /** Where voter `id` listens for the quorum (dynamic quorum), or null. */
  #endpointOf(id: number): { host: string; port: number } | null {
    if (this.#dynamic === null || id < 0) return null;
    const v = this.#voterSet.find((w) => w.id === id);
    const e = v?.endpoints.find((x) => x.name === this.#dynamic?.listenerName) ?? v?.endpoints[0];
    return e === undefined ? null : { host: e.host, port: e.port };
  }

  #onFetchRequest(from: number, r: FetchRequest): FetchResponse | null {
    const role = this.#role;
    if (!this.#clusterIdOk(r.clusterId)) return this.#fetchAnswer(r.requestId, E.INCONSISTENT_CLUSTER_ID);
    if (!(Number.isSafeInteger(r.fetchOffset) && r.fetchOffset >= 0) || r.replicaId === this.local.id) return this.#fetchAnswer(r.requestId, E.INVALID_REQUEST);
    if (r.currentLeaderEpoch < role.epoch) return this.#fetchAnswer(r.requestId, E.FENCED_LEADER_EPOCH);
    if (r.currentLeaderEpoch > role.epoch) return this.#fetchAnswer(r.requestId, E.UNKNOWN_LEADER_EPOCH);
    if (role.kind !== "leader") return this.#fetchAnswer(r.requestId, E.NOT_LEADER_OR_FOLLOWER);
    const now = this.#nowMs;
    const voter = role.voters.get(r.replicaId);
    const isVoter = voter !== undefined && voter.key.directoryId === r.replicaDirectoryId;
    const progress = isVoter ? voter : this.#observerProgress(role, r.replicaId, r.replicaDirectoryId);
    if (progress !== null) progress.lastFetchMs = now;
    if (isVoter) {
      role.acknowledged.add(r.replicaId);
      role.fetchedInWindow.add(r.replicaId);
      this.#maybeRenewCheckQuorum(role);
    }
    const snapshotId = this.#snapshotToSend(r.fetchOffset, r.lastFetchedEpoch);
    if (snapshotId !== null) return { ...this.#serveFetch(role, r.requestId, r.fetchOffset, 0), snapshotId };
    const diverging = this.#divergence(r.fetchOffset, r.lastFetchedEpoch);
    if (diverging !== null) return { ...this.#serveFetch(role, r.requestId, r.fetchOffset, 0), divergingEpoch: diverging, records: noRecords };
    if (progress !== null) {
      progress.matchOffset = r.fetchOffset;
      if (r.fetchOffset >= this.#log.logEndOffset) progress.lastCaughtUpMs = now;
    }
    const highWatermarkBefore = this.#highWatermark;
    if (isVoter) this.#maybeAdvanceHighWatermark(role);
    // Committing its own removal ends this leadership.
    if (this.#role !== role) return this.#fetchAnswer(r.requestId, E.NOT_LEADER_OR_FOLLOWER);
    // Answer now when there are records, when the high watermark just moved (the fetcher learns
    // it at once), or when the fetcher does not wait; otherwise hold the Fetch.
    if (r.fetchOffset < this.#log.logEndOffset || this.#highWatermark > highWatermarkBefore || r.maxWaitMs <= 0) {
      return this.#serveFetch(role, r.requestId, r.fetchOffset, r.maxBytes);
    }
    role.parked.set(from, {
      from,
      requestId: r.requestId,
      fetchOffset: r.fetchOffset,
      maxBytes: r.maxBytes,
      deadlineMs: now + Math.min(r.maxWaitMs, this.#config.fetchMaxWaitMs),
    });
    return null;
  }

  /**
   * The snapshot a replica must fetch before the log (the latest), or null when the log
   * serves it. With a snapshot at the log start (epoch E there): the fetch offset is below
   * the log start; or at it with a last epoch other than E; or the last epoch is below E (its
   * records from there cannot be ours). As KIP-630 has it.
   */
  #snapshotToSend(fetchOffset: number, lastFetchedEpoch: number): SnapshotId | null {
    const log = this.#log;
    const atStart = log.snapshots()[0];
    if (atStart === undefined) return null;
    const send = fetchOffset < log.logStartOffset || (fetchOffset === log.logStartOffset && lastFetchedEpoch !== atStart.epoch) || lastFetchedEpoch < atStart.epoch;
    return send ? log.latestSnapshot() : null;
  }

  /** Where a replica's log (ending at fetchOffset, last epoch lastFetchedEpoch) leaves ours, or null when it does not. */
  #divergence(fetchOffset: number, lastFetchedEpoch: number): EpochEndOffset | null {
    const log = this.#log;
    if (lastFetchedEpoch < 0) return fetchOffset === log.logStartOffset ? null : { epoch: -1, endOffset: log.logStartOffset };
    const ours = log.endOffsetForEpoch(lastFetchedEpoch);
    return ours.epoch !== lastFetchedEpoch || ours.endOffset < fetchOffset ? ours : null;
  }

  #observerProgress(role: Leader, id: number, directoryId: string): ReplicaProgress | null {
    if (id < 0) return null;
    const key = replicaKeyText({ id, directoryId });
    let p = role.observers.get(key);
    if (p === undefined) {
      p = { key: { id, directoryId }, matchOffset: -1, lastFetchMs: -1, lastCaughtUpMs: -1 };
      role.observers.set(key, p);
    }
    // Least recently seen first: re-inserting keeps the map in that order.
    role.observers.delete(key);
    role.observers.set(key, p);
    for (const [k, o] of role.observers) {
      if (role.observers.size <= observersMax && this.#nowMs - o.lastFetchMs < observerSessionMs) break;
      if (o !== p) role.observers.delete(k);
    }
    return p;
  }

  #serveFetch(role: Leader, requestId: number, fetchOffset: number, maxBytes: number): FetchResponse {
    let records = noRecords;
    const latest = this.#log.latestSnapshot();
    if (fetchOffset < this.#log.logStartOffset && latest !== null && maxBytes > 0) {
      // A held fetch whose offset the log start passed meanwhile.
      return { ...this.#serveFetch(role, requestId, fetchOffset, 0), snapshotId: latest };
    }
    if (fetchOffset < this.#log.logEndOffset && maxBytes > 0) {
      const read = this.#log.read(fetchOffset, Math.min(maxBytes, this.#config.fetchBytesMax));
      if (read.kind !== "ok") return this.#fetchAnswer(requestId, E.KAFKA_STORAGE_ERROR);
      records = read.records;
    }
    return {
      type: "FetchResponse",
      requestId,
      errorCode: E.NONE,
      highWatermark: this.#highWatermark,
      logStartOffset: this.#log.logStartOffset,
      divergingEpoch: null,
      currentLeader: { leaderId: this.local.id, leaderEpoch: role.epoch },
      records,
      leaderEndpoint: this.#endpointOf(this.local.id),
    };
  }

  /** Answers every held Fetch now (new records, a new high watermark, or the leader stepped down). */
  #answerParked(role: Leader): void {
    if (role.parked.size === 0) return;
    const parked = [...role.parked.values()];
    role.parked.clear();
    for (const p of parked) {
      const current = this.#role;
      let answer: FetchResponse;
      if (current === role) answer = this.#serveFetch(role, p.requestId, p.fetchOffset, p.maxBytes);
      else answer = this.#fetchAnswer(p.requestId, current.epoch > role.epoch ? E.FENCED_LEADER_EPOCH : E.NOT_LEADER_OR_FOLLOWER);
      this.#send(p.from, answer);
    }
  }

  // ---- Fetch (follower and observer side) ---------------------------------------------------

  #onFetchResponse(from: number, r: FetchResponse): void {
    const role = this.#role;
    if (role.kind === "unattached") {
      const d = role.discovery;
      if (d === null || d.requestId !== r.requestId || d.to !== from) return;
      role.discovery = null;
      if (!this.#observeLeader(r.currentLeader.leaderEpoch, r.currentLeader.leaderId, `observer found leader ${r.currentLeader.leaderId} via ${from}`)) {
        role.discovery = { ...d, retryAtMs: this.#nowMs + this.#config.retryBackoffMs + this.#randomBackoffMs() };
      }
      return;
    }
    if (role.kind !== "follower" || role.fetch === null || role.fetch.requestId !== r.requestId || from !== role.leaderId) return;
    role.fetch = null;
    const now = this.#nowMs;
    if (r.errorCode !== E.NONE || r.currentLeader.leaderEpoch !== role.epoch || r.currentLeader.leaderId !== role.leaderId) {
      if (!this.#observeLeader(r.currentLeader.leaderEpoch, r.currentLeader.leaderId, `fetch answer from ${from}`)) {
        role.nextFetchMs = now + this.#config.retryBackoffMs;
      }
      return;
    }
    role.lastFetchOkMs = now;
    role.fetchDeadlineMs = now + this.#config.fetchTimeoutMs;
    role.leaderEnded = false;
    role.nextFetchMs = now;
    const log = this.#log;
    const offered = r.snapshotId ?? null;
    if (offered !== null && offered.endOffset >= 0) {
      // Below the leader's log start: fetch its snapshot first. One behind what this node
      // already committed (a confused leader) is not taken.
      if (snapshotIdProblem(offered) !== null || offered.endOffset < this.#highWatermark) {
        role.nextFetchMs = now + this.#config.retryBackoffMs;
        return;
      }
      role.fetchingSnapshot = offered;
      return;
    }
    if (r.divergingEpoch !== null) {
      const ours = log.endOffsetForEpoch(r.divergingEpoch.epoch);
      const target = Math.min(ours.endOffset, r.divergingEpoch.endOffset);
      assert(target >= this.#highWatermark, () => `node ${this.local.id}: diverging epoch ${JSON.stringify(r.divergingEpoch)} would truncate to ${target}, below the high watermark ${this.#highWatermark}`);
      if (target < log.logEndOffset) {
        log.truncateTo(target);
        this.#noteTruncated(target);
      }
      return;
    }
    if (r.records.length > 0) {
      const appended = log.appendAsFollower(r.records);
      if (appended.kind !== "ok") {
        role.nextFetchMs = now + this.#config.retryBackoffMs;
        return;
      }
      // Durable before the next Fetch reports it: the fetch offset is what counts toward the
      // high watermark. A failure throws MetadataLogFailure: the node stops (raft-log.ts).
      log.flush();
      this.#noteAppended(r.records, `voter set appended from leader ${role.leaderId}`);
    }
    const hw = Math.min(r.highWatermark, log.flushedOffset);
    if (hw > this.#highWatermark) this.#setHighWatermark(hw, false);
    if (this.#unproven !== null) this.#maybeProveByFetch(role, r);
  }

  /** P3 of the unproven-voter rule (`#onVoteRequest`), after a successful fetch answer in `role`. */
  #maybeProveByFetch(role: Follower, r: FetchResponse): void {
    const log = this.#log;
    assert(r.divergingEpoch === null, "P3 looks at answers without divergence only");
    if (role.caughtUpAtOffset === null) {
      // No records and no divergence: the fetch offset was the leader's log end when it answered.
      if (r.records.length === 0 && log.flushedOffset === log.logEndOffset) role.caughtUpAtOffset = log.logEndOffset;
      return;
    }
    if (r.highWatermark > role.caughtUpAtOffset && log.flushedOffset >= role.caughtUpAtOffset) {
      this.#prove(`caught up with leader ${role.leaderId} of epoch ${role.epoch} at offset ${role.caughtUpAtOffset}, which it has since committed (high watermark ${r.highWatermark})`);
    }
  }

  // ---- FetchSnapshot ------------------------------------------------------------------------

  #onFetchSnapshotRequest(r: FetchSnapshotRequest): FetchSnapshotResponse {
    const role = this.#role;
    const answer = (errorCode: number, size = -1, position = -1, unalignedRecords: Uint8Array = noRecords): FetchSnapshotResponse => ({
      type: "FetchSnapshotResponse",
      requestId: r.requestId,
      errorCode,
      snapshotId: r.snapshotId,
      currentLeader: { leaderId: this.#advertisedLeaderId(), leaderEpoch: role.epoch },
      size,
      position,
      unalignedRecords,
    });
    if (!this.#clusterIdOk(r.clusterId)) return answer(E.INCONSISTENT_CLUSTER_ID);
    if (r.replicaId === this.local.id || !(Number.isSafeInteger(r.position) && Number.isSafeInteger(r.maxBytes) && r.maxBytes > 0)) return answer(E.INVALID_REQUEST);
    if (r.currentLeaderEpoch < role.epoch) return answer(E.FENCED_LEADER_EPOCH);
    if (r.currentLeaderEpoch > role.epoch) return answer(E.UNKNOWN_LEADER_EPOCH);
    if (role.kind !== "leader") return answer(E.NOT_LEADER_OR_FOLLOWER);
    // A replica fetching a snapshot is fetching: it counts for check-quorum, not for the high watermark.
    const voter = role.voters.get(r.replicaId);
    if (voter !== undefined && voter.key.directoryId === r.replicaDirectoryId) {
      voter.lastFetchMs = this.#nowMs;
      role.acknowledged.add(r.replicaId);
      role.fetchedInWindow.add(r.replicaId);
      this.#maybeRenewCheckQuorum(role);
    } else {
      const observer = this.#observerProgress(role, r.replicaId, r.replicaDirectoryId);
      if (observer !== null) observer.lastFetchMs = this.#nowMs;
    }
    const size = this.#log.snapshotSize(r.snapshotId);
    if (size === null) return answer(E.SNAPSHOT_NOT_FOUND);
    assert(r.snapshotId.endOffset <= this.#highWatermark, () => `node ${this.local.id} keeps snapshot ${snapshotIdText(r.snapshotId)} past its high watermark ${this.#highWatermark}`);
    if (r.position < 0 || r.position >= size) return answer(E.POSITION_OUT_OF_RANGE, size);
    try {
      const chunk = this.#log.readSnapshotChunk(r.snapshotId, r.position, Math.min(r.maxBytes, fetchSnapshotBytesMax, this.#config.fetchBytesMax));
      return answer(E.NONE, size, r.position, chunk);
    } catch (e) {
      if (e instanceof StorageError) return answer(E.KAFKA_STORAGE_ERROR);
      throw e;
    }
  }

  #onFetchSnapshotResponse(from: number, r: FetchSnapshotResponse): void {
    const role = this.#role;
    if (role.kind !== "follower" || role.fetch === null || role.fetch.requestId !== r.requestId || from !== role.leaderId) return;
    const wanted = role.fetchingSnapshot;
    if (wanted === null) return;
    role.fetch = null;
    const now = this.#nowMs;
    const log = this.#log;
    const abandon = (backoff: boolean): void => {
      role.fetchingSnapshot = null;
      log.abortSnapshotDownload();
      role.nextFetchMs = now + (backoff ? this.#config.retryBackoffMs : 0);
    };
    if (r.errorCode !== E.NONE || r.currentLeader.leaderEpoch !== role.epoch || r.currentLeader.leaderId !== role.leaderId) {
      if (this.#observeLeader(r.currentLeader.leaderEpoch, r.currentLeader.leaderId, `fetch-snapshot answer from ${from}`)) return;
      // The leader no longer has it, or not that far: ask the log again, which names its latest.
      if (r.errorCode === E.SNAPSHOT_NOT_FOUND || r.errorCode === E.POSITION_OUT_OF_RANGE) abandon(false);
      else role.nextFetchMs = now + this.#config.retryBackoffMs;
      return;
    }
    role.lastFetchOkMs = now;
    role.fetchDeadlineMs = now + this.#config.fetchTimeoutMs;
    role.leaderEnded = false;
    role.nextFetchMs = now;
    const download = log.snapshotDownload;
    const position = download?.position ?? 0;
    const chunk = r.unalignedRecords;
    const fits =
      sameSnapshotId(r.snapshotId, wanted) &&
      Number.isSafeInteger(r.size) &&
      r.size > 0 &&
      r.size <= snapshotBytesMax &&
      (download === null || download.size === r.size) &&
      r.position === position &&
      chunk.length > 0 &&
      position + chunk.length <= r.size;
    if (!fits) {
      abandon(true);
      return;
    }
    try {
      if (download === null) log.beginSnapshotDownload(wanted, r.size);
      log.appendSnapshotDownload(chunk);
      if (position + chunk.length < r.size) return;
      // The last chunk: install (durable snapshot first, then the log goes; raft-log.ts).
      role.fetchingSnapshot = null;
      const done = log.finishSnapshotDownload();
      if (done.kind !== "ok") {
        role.nextFetchMs = now + this.#config.retryBackoffMs;
        return;
      }
      assert(done.id.endOffset >= this.#highWatermark, () => `node ${this.local.id} installed snapshot ${snapshotIdText(done.id)} below its high watermark ${this.#highWatermark}`);
      this.#outputs.push({ kind: "snapshotLoaded", snapshotId: done.id, content: done.content });
      if (this.#dynamic !== null) {
        this.#votersHistory = [];
        if (done.voters !== null) {
          this.#baseVoters = done.voters;
          this.#baseFromBootstrap = false;
        }
        this.#applyVoterSet(`snapshot ${snapshotIdText(done.id)} loaded`);
      }
      if (done.id.endOffset > this.#highWatermark) this.#setHighWatermark(done.id.endOffset, false);
    } catch (e) {
      if (!(e instanceof StorageError || e instanceof SnapshotError)) throw e;
      abandon(true);
    }
  }

  // ---- plumbing ---------------------------------------------------------------------------

  #send(to: number, message: RaftMessage): void {
    this.#outputs.push({ kind: "send", to, message });
  }

  #nextRequestId(): number {
    assert(this.#requestCount < requestsPerLifeMax, "request ids exhausted");
    return this.#requestIdBase + this.#requestCount++;
  }
}

/** The offset after the last batch of `batches` (whole v2 batches with their log offsets). */
function lastOffsetAfter(batches: Uint8Array): number {
  const walk = walkBatches(batches, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes: Math.max(batches.length, 1) });
  const last = walk.batches.at(-1);
  assert(last !== undefined, "a log read returned no whole batch");
  return last.baseOffset + last.lastOffsetDelta + 1;
}
