/**
 * The Raft driver: runs a sans-I/O `RaftCore` on real time and a real network.
 *
 * - Time: the core is ticked at its next deadline (`nextDeadlineMs`) on the injected clock's
 *   monotonic time, and once more right after any input, so a proposal is flushed (a group
 *   commit of everything proposed since the last tick) on the next turn of the event loop.
 * - Outgoing requests go through the project's `NodeClient` to the voters' controller
 *   endpoints, at the versions the quorum needs (wire.ts); the answer is fed back to the core
 *   with the request it answers. A failed or timed-out request is dropped: the core resends
 *   on its own schedule (`controller.quorum.request.timeout.ms`, retry backoff).
 * - Incoming requests (from the controller listener's handlers) get a driver-local request
 *   id, go to the core, and are answered when the core emits the response with that id (a
 *   Fetch the leader parks is answered when records arrive or its wait ends). An answer that
 *   does not come within the request timeout is answered REQUEST_TIMED_OUT.
 * - Every output the core produces besides messages (committed, roleChanged, snapshotLoaded)
 *   is handed to the listeners, in order, synchronously.
 * - FetchSnapshot goes out and comes in like the other requests (the core asks for chunks of
 *   the leader's snapshot one at a time, on its fetch schedule).
 * - An input the core throws on (a quorum-state or metadata-log write failed, or an assertion)
 *   is fatal: the driver closes (waiting requests are answered REQUEST_TIMED_OUT, nothing
 *   more reaches the core) and tells `onFatal` once; the node stops (see raft-log.ts for why
 *   a failed write is never retried).
 *
 * The driver never changes the core's decisions; it only moves bytes and time.
 */
import type { NodeClient } from "../client/node-client.ts";
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { Logger } from "../util/log.ts";
import type { FetchRequest, QuorumDescription, RaftRequest, RaftResponse } from "./messages.ts";
import { isRequest } from "./messages.ts";
import type { CreateSnapshotResult, ProposeResult, RaftCore, RaftOutput, VoterChangeResult } from "./raft-core.ts";
import type { ReplicaKey } from "./messages.ts";
import type { Voter } from "./voter-set.ts";
import { raftRequestToWire, raftRequestVersions, raftResponseFromWire } from "./wire.ts";

export type RaftEvent = Exclude<RaftOutput, { kind: "send" }>;

export interface RaftDriverOptions {
  readonly core: RaftCore;
  readonly clock: Clock;
  /** Endpoints of every voter (their controller listener) are set by the caller. */
  readonly client: NodeClient;
  readonly log: Logger;
  /** `controller.quorum.request.timeout.ms`. */
  readonly requestTimeoutMs: number;
  /** Told once when the core threw on an input (the driver is closed by then). */
  readonly onFatal?: (error: unknown) => void;
  /** Told the leader's endpoint a Fetch answer names (a dynamic quorum: how an observer reaches a leader it learned of), before the core sees the answer. */
  readonly onLeaderEndpoint?: (leaderId: number, endpoint: { readonly host: string; readonly port: number }) => void;
}

interface Inbound {
  readonly resolve: (r: RaftResponse) => void;
  readonly timer: CancelTimer;
  readonly request: RaftRequest;
}

/** Inbound requests waiting for the core's answer at once (a parked Fetch per follower, a few votes). */
const inboundMax = 4096;

export class RaftDriver {
  readonly core: RaftCore;
  readonly #clock: Clock;
  readonly #client: NodeClient;
  readonly #log: Logger;
  readonly #requestTimeoutMs: number;
  readonly #onFatal: (error: unknown) => void;
  readonly #onLeaderEndpoint: RaftDriverOptions["onLeaderEndpoint"];
  readonly #listeners: ((e: RaftEvent) => void)[] = [];
  readonly #inbound = new Map<number, Inbound>();
  #nextInboundId = 1;
  #timer: CancelTimer | null = null;
  #timerAtMs = Number.POSITIVE_INFINITY;
  #closed = false;
  #failed = false;
  #pumping = false;

  constructor(opts: RaftDriverOptions) {
    this.core = opts.core;
    this.#clock = opts.clock;
    this.#client = opts.client;
    this.#log = opts.log;
    this.#requestTimeoutMs = opts.requestTimeoutMs;
    this.#onFatal = opts.onFatal ?? (() => {});
    this.#onLeaderEndpoint = opts.onLeaderEndpoint;
  }

  /** Listeners see every non-message output in order (the first ones, from open, on `start`). */
  onEvent(listener: (e: RaftEvent) => void): void {
    this.#listeners.push(listener);
  }

  start(): void {
    this.#input(() => {});
  }

  /** A request from a peer (controller listener). Resolves with the core's answer. */
  handle(from: number, make: (requestId: number) => RaftRequest): Promise<RaftResponse> {
    if (this.#closed) return Promise.reject(new Error("raft driver closed"));
    if (this.#inbound.size >= inboundMax) return Promise.reject(new Error(`more than ${inboundMax} quorum requests waiting`));
    const requestId = this.#nextInboundId++;
    const request = make(requestId);
    const waitMs = request.type === "FetchRequest" ? (request as FetchRequest).maxWaitMs + this.#requestTimeoutMs : this.#requestTimeoutMs;
    const answer = new Promise<RaftResponse>((resolve) => {
      const timer = this.#clock.schedule(Math.max(0, waitMs), () => {
        if (this.#inbound.delete(requestId)) resolve(timedOut(request));
      });
      this.#inbound.set(requestId, { resolve, timer, request });
    });
    this.#input(() => {
      this.core.tick(Math.max(this.#clock.monotonicMs(), 0));
      this.core.receive(from, request);
    });
    return answer;
  }

  /** AddRaftVoter / RemoveRaftVoter on the core (raft-core.ts has the rules). */
  changeVoters(change: { readonly kind: "add"; readonly voter: Voter } | { readonly kind: "remove"; readonly key: ReplicaKey }): VoterChangeResult {
    let result: VoterChangeResult = { kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: "the controller quorum is closed" };
    if (this.#input(() => (result = change.kind === "add" ? this.core.addVoter(change.voter) : this.core.removeVoter(change.key)))) this.#arm(this.#clock.monotonicMs());
    return result;
  }

  propose(batches: Uint8Array): ProposeResult {
    let result: ProposeResult = { kind: "notLeader", leaderId: -1, leaderEpoch: -1 };
    if (this.#input(() => (result = this.core.propose(batches)))) {
      // Flush (and so commit) on the next turn: proposals of this turn share one fsync.
      this.#arm(this.#clock.monotonicMs());
    }
    return result;
  }

  /** The state machine's snapshot of everything below `endOffset` (RaftCore.createSnapshot); refused once the driver is closed. */
  createSnapshot(endOffset: number, content: Uint8Array): CreateSnapshotResult {
    let result: CreateSnapshotResult = { kind: "rejected", detail: "the controller quorum is closed" };
    this.#input(() => (result = this.core.createSnapshot(endOffset, content)));
    return result;
  }

  resign(): void {
    this.#input(() => this.core.resign());
  }

  /** Whether the driver stopped on a fatal input. */
  get failed(): boolean {
    return this.#failed;
  }

  /** The core's description with its monotonic timestamps turned into whole wall-clock ms (-1: never). */
  describeQuorum(): QuorumDescription {
    const d = this.core.describeQuorum();
    const offset = this.#clock.nowMs() - this.#clock.monotonicMs();
    const wall = (t: number): number => (t < 0 ? -1 : Math.round(t + offset));
    const replica = (r: QuorumDescription["currentVoters"][number]) => ({ ...r, lastFetchTimestamp: wall(r.lastFetchTimestamp), lastCaughtUpTimestamp: wall(r.lastCaughtUpTimestamp) });
    return { ...d, currentVoters: d.currentVoters.map(replica), observers: d.observers.map(replica) };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.();
    this.#timer = null;
    for (const [id, w] of this.#inbound) {
      w.timer();
      this.#inbound.delete(id);
      w.resolve(timedOut(w.request));
    }
  }

  #tick(): void {
    this.#timer = null;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    this.#input(() => this.core.tick(this.#clock.monotonicMs()));
  }

  /**
   * Runs one input into the core, then hands out its outputs. False when the driver is closed
   * or the input was fatal (the driver is closed now and `onFatal` was told).
   */
  #input(fn: () => void): boolean {
    if (this.#closed) return false;
    try {
      fn();
      this.#pump(); // listeners (the metadata store's replay) throwing is as fatal
    } catch (e) {
      this.#failed = true;
      this.close();
      this.#onFatal(e);
      return false;
    }
    return !this.#closed;
  }

  /** Hands out the core's outputs, then re-arms the timer for its next deadline. */
  #pump(): void {
    if (this.#closed || this.#pumping) return;
    this.#pumping = true;
    try {
      for (let outputs = this.core.takeOutputs(); outputs.length > 0; outputs = this.core.takeOutputs()) {
        for (const o of outputs) {
          if (o.kind === "send") this.#send(o.to, o.message);
          else for (const l of this.#listeners) l(o);
        }
      }
    } finally {
      this.#pumping = false;
    }
    this.#arm(this.core.nextDeadlineMs());
  }

  #arm(atMs: number): void {
    if (this.#closed || !Number.isFinite(atMs) || atMs >= this.#timerAtMs) return;
    this.#timer?.();
    this.#timerAtMs = atMs;
    this.#timer = this.#clock.schedule(Math.max(0, atMs - this.#clock.monotonicMs()), () => this.#tick());
  }

  #send(to: number, message: RaftRequest | RaftResponse): void {
    if (!isRequest(message)) {
      const waiting = this.#inbound.get(message.requestId);
      if (waiting === undefined) return; // answered already (timed out) or from a closed life
      this.#inbound.delete(message.requestId);
      waiting.timer();
      waiting.resolve(message);
      return;
    }
    const wire = raftRequestToWire(message);
    const timeoutMs = message.type === "FetchRequest" ? message.maxWaitMs + this.#requestTimeoutMs : this.#requestTimeoutMs;
    void this.#client
      .send(to, wire.apiKey, wire.body as never, { minVersion: raftRequestVersions[wire.apiKey], timeoutMs, waitForConnection: false })
      .then((result) => {
        if (this.#closed) return;
        if (!result.ok) {
          this.#log.debug("quorum request failed", { to, request: message.type, error: result.error.message });
          return;
        }
        const decoded = raftResponseFromWire(message, result.body);
        if (!decoded.ok) {
          this.#log.warn("malformed quorum response", { from: to, request: message.type, reason: decoded.reason });
          return;
        }
        const answer = decoded.value;
        if (answer.type === "FetchResponse" && answer.leaderEndpoint != null && answer.currentLeader.leaderId >= 0) {
          this.#onLeaderEndpoint?.(answer.currentLeader.leaderId, answer.leaderEndpoint);
        }
        this.#input(() => {
          this.core.tick(this.#clock.monotonicMs());
          this.core.receive(to, answer);
        });
      });
  }
}

function timedOut(request: RaftRequest): RaftResponse {
  const base = { requestId: request.requestId, errorCode: ErrorCode.REQUEST_TIMED_OUT, leaderId: -1, leaderEpoch: -1 };
  switch (request.type) {
    case "VoteRequest":
      return { type: "VoteResponse", ...base, voteGranted: false, preVote: request.preVote };
    case "BeginQuorumEpochRequest":
      return { type: "BeginQuorumEpochResponse", ...base };
    case "EndQuorumEpochRequest":
      return { type: "EndQuorumEpochResponse", ...base };
    case "FetchRequest":
      return {
        type: "FetchResponse",
        requestId: request.requestId,
        errorCode: ErrorCode.REQUEST_TIMED_OUT,
        highWatermark: -1,
        logStartOffset: -1,
        divergingEpoch: null,
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        records: new Uint8Array(0),
      };
    case "FetchSnapshotRequest":
      return {
        type: "FetchSnapshotResponse",
        requestId: request.requestId,
        errorCode: ErrorCode.REQUEST_TIMED_OUT,
        snapshotId: request.snapshotId,
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        size: -1,
        position: -1,
        unalignedRecords: new Uint8Array(0),
      };
  }
}
