/**
 * Connections to other nodes by node id: one `NodeConnection` per node at a time, created
 * when a request needs it, replaced after it closes once the reconnect backoff has passed.
 * Raft, broker lifecycle and replica fetchers send through it; tools reach it through
 * bootstrap.ts.
 *
 * Per node:
 * - the endpoint (host, port, listener name) comes from the owner (`setEndpoint`), e.g. from
 *   metadata; a changed endpoint closes the current connection (its written requests fail
 *   "disconnected") and clears the backoff.
 * - reconnect backoff (Kafka's `reconnect.backoff.ms` / `.max.ms`): after a connection closes,
 *   no new one is made for `backoffMs(failures)` (×2 per consecutive attempt that never got
 *   ready, capped, ±20% jitter from the injected Prng); a connection that got ready resets
 *   the count. The wait is at least 1 ms, so a node that fails instantly cannot spin.
 * - a request waits for the backoff to end and for the connection, within its own timeout
 *   (counted from `send`, as on a NodeConnection). A request that failed without being written
 *   (`sent: false`, the connection went away first) is sent again on the next connection; one
 *   that was written is never resent: its outcome is the caller's to judge.
 * - at most `queuedRequestsMax` requests wait for a node's backoff; more fail with queueFull.
 *
 * After any `await`, the loop re-checks that the client is open and the node still known
 * (STYLE habit 3).
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { Network } from "../platform/network.ts";
import type { Prng } from "../platform/prng.ts";
import type { ApiKey, RequestBodies } from "../protocol/messages/index.ts";
import type { Logger } from "../util/log.ts";
import type { ApiVersionTable } from "./api-versions.ts";
import { backoffMs, type BackoffPolicy } from "./backoff.ts";
import { type ClientConfig, clientConfig, reconnectBackoffJitter, reconnectBackoffMultiplier } from "./config.ts";
import { ClientError, type RequestResult, type Result, type SendResult } from "./errors.ts";
import { NodeConnection, type RequestOptions } from "./node-connection.ts";

export interface NodeEndpoint {
  readonly host: string;
  readonly port: number;
  /** The listener the endpoint belongs to (PLAINTEXT, CONTROLLER, ...): a label, not resolved here. */
  readonly listenerName: string;
}

export interface NodeClientOptions {
  readonly network: Network;
  readonly clock: Clock;
  /** Reconnect jitter. */
  readonly prng: Prng;
  readonly config?: Partial<ClientConfig>;
  readonly log?: Logger;
}

export type NodeStatus = "unknown" | "idle" | "backoff" | "connecting" | "ready";

export interface NodeRequestOptions extends RequestOptions {
  /**
   * true (default): wait for the reconnect backoff and for a connection within the timeout,
   * resending a request that never got written. false: fail at once ("disconnected", not
   * sent) while the node is in backoff or when its connection fails before the request is
   * written — for callers that would rather try another node (bootstrap, fetchers).
   */
  readonly waitForConnection?: boolean;
}

interface NodeEntry {
  readonly nodeId: number;
  endpoint: NodeEndpoint;
  conn: NodeConnection | null;
  /** Consecutive connections that closed before getting ready. */
  failures: number;
  /** No new connection before this (monotonic ms). */
  backoffUntilMs: number;
  backoffTimer: CancelTimer | null;
  /** Requests waiting for the backoff to end (or for the node to change). */
  waiters: Set<() => void>;
}

/** Smallest wait between two connections to one node. */
const reconnectWaitMsMin = 1;

export class NodeClient {
  readonly config: ClientConfig;
  readonly #network: Network;
  readonly #clock: Clock;
  readonly #prng: Prng;
  readonly #log: Logger | null;
  readonly #policy: BackoffPolicy;
  readonly #nodes = new Map<number, NodeEntry>();
  #closed = false;

  constructor(options: NodeClientOptions) {
    this.config = clientConfig(options.config);
    this.#network = options.network;
    this.#clock = options.clock;
    this.#prng = options.prng;
    this.#log = options.log ?? null;
    this.#policy = {
      initialMs: this.config.reconnectBackoffMs,
      maxMs: this.config.reconnectBackoffMaxMs,
      multiplier: reconnectBackoffMultiplier,
      jitter: reconnectBackoffJitter,
    };
  }

  /** Adds a node or updates its endpoint (a change drops the current connection). */
  setEndpoint(nodeId: number, endpoint: NodeEndpoint): void {
    if (this.#closed) return;
    const entry = this.#nodes.get(nodeId);
    if (entry === undefined) {
      this.#nodes.set(nodeId, { nodeId, endpoint, conn: null, failures: 0, backoffUntilMs: 0, backoffTimer: null, waiters: new Set() });
      return;
    }
    const old = entry.endpoint;
    if (old.host === endpoint.host && old.port === endpoint.port && old.listenerName === endpoint.listenerName) return;
    this.#log?.info("node endpoint changed", { node: nodeId, from: `${old.host}:${old.port}`, to: `${endpoint.host}:${endpoint.port}` });
    entry.endpoint = endpoint;
    entry.failures = 0;
    entry.backoffUntilMs = 0;
    const conn = entry.conn;
    entry.conn = null;
    conn?.close("dropped: the node's endpoint changed", "disconnected");
    this.#wake(entry);
  }

  /**
   * Sets a node's endpoint from its registered listeners (a broker registration or a
   * Metadata/DescribeCluster answer): the one named `listenerName`. A node without that
   * listener is forgotten (it cannot be reached on it); returns whether it had it.
   */
  setEndpointFromListeners(nodeId: number, listeners: readonly { readonly name: string; readonly host: string; readonly port: number }[], listenerName: string): boolean {
    const l = listeners.find((x) => x.name === listenerName);
    if (l === undefined) {
      this.removeNode(nodeId);
      return false;
    }
    this.setEndpoint(nodeId, { host: l.host, port: l.port, listenerName });
    return true;
  }

  /** Forgets a node: its connection closes; its requests fail "disconnected". */
  removeNode(nodeId: number): void {
    const entry = this.#nodes.get(nodeId);
    if (entry === undefined) return;
    this.#nodes.delete(nodeId);
    const conn = entry.conn;
    entry.conn = null;
    conn?.close("dropped: the node was removed", "disconnected");
    this.#wake(entry);
  }

  endpoint(nodeId: number): NodeEndpoint | undefined {
    return this.#nodes.get(nodeId)?.endpoint;
  }

  nodeIds(): number[] {
    return [...this.#nodes.keys()];
  }

  status(nodeId: number): NodeStatus {
    const entry = this.#nodes.get(nodeId);
    if (entry === undefined) return "unknown";
    const kind = entry.conn?.state.kind;
    if (kind === "ready") return "ready";
    if (kind === "connecting" || kind === "negotiating") return "connecting";
    return this.#clock.monotonicMs() < entry.backoffUntilMs ? "backoff" : "idle";
  }

  /** The versions negotiated with the node's current connection, if ready. */
  versions(nodeId: number): ApiVersionTable | null {
    return this.#nodes.get(nodeId)?.conn?.versions ?? null;
  }

  /** Requests written to the node and not yet answered. */
  inflightCount(nodeId: number): number {
    return this.#nodes.get(nodeId)?.conn?.inflightCount ?? 0;
  }

  /** Sends a request to a node, connecting (after the backoff) if needed. Never rejects. */
  send<K extends ApiKey>(nodeId: number, apiKey: K, body: RequestBodies[K], options: NodeRequestOptions = {}): Promise<RequestResult<K>> {
    return this.#run(nodeId, options, (conn, o) => conn.send(apiKey, body, o));
  }

  /** Sends a request without a response (Produce acks=0); resolves once written. */
  sendOneWay<K extends ApiKey>(nodeId: number, apiKey: K, body: RequestBodies[K], options: NodeRequestOptions = {}): Promise<SendResult> {
    return this.#run(nodeId, options, (conn, o) => conn.sendOneWay(apiKey, body, o));
  }

  /** Connects to a node (if needed) and resolves once its connection is ready. */
  ready(nodeId: number, timeoutMs: number = this.config.requestTimeoutMs): Promise<Result<ApiVersionTable>> {
    return this.#run(nodeId, { timeoutMs }, async (conn, o) => {
      const ready = await this.#within(conn.whenReady(), o.timeoutMs ?? timeoutMs);
      return ready;
    });
  }

  /** Closes every connection; pending and later requests fail with kind "closed". */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const entry of this.#nodes.values()) {
      const conn = entry.conn;
      entry.conn = null;
      conn?.close();
      entry.backoffTimer?.();
      entry.backoffTimer = null;
      this.#wake(entry);
    }
  }

  // ---- the request loop ---------------------------------------------------------------------

  async #run<R extends { readonly ok: boolean }>(
    nodeId: number,
    options: NodeRequestOptions,
    attempt: (conn: NodeConnection, options: RequestOptions) => Promise<R | { readonly ok: false; readonly error: ClientError }>,
  ): Promise<R | { readonly ok: false; readonly error: ClientError }> {
    const timeoutMs = options.timeoutMs ?? this.config.requestTimeoutMs;
    const deadlineMs = this.#clock.monotonicMs() + timeoutMs;
    const wait = options.waitForConnection ?? true;
    for (;;) {
      if (this.#closed) return fail(new ClientError("closed", "the node client is closed"));
      const entry = this.#nodes.get(nodeId);
      if (entry === undefined) return fail(new ClientError("disconnected", `no endpoint known for node ${nodeId}`));
      const remainingMs = deadlineMs - this.#clock.monotonicMs();
      if (remainingMs <= 0) return fail(new ClientError("timeout", `request to node ${nodeId} timed out after ${timeoutMs} ms waiting for a connection`));
      const conn = this.#connection(entry);
      if (conn === null) {
        if (!wait) {
          const leftMs = Math.ceil(entry.backoffUntilMs - this.#clock.monotonicMs());
          return fail(new ClientError("disconnected", `node ${nodeId} is in reconnect backoff for ${leftMs} ms more`));
        }
        if (entry.waiters.size >= this.config.queuedRequestsMax) {
          return fail(new ClientError("queueFull", `${entry.waiters.size} requests already wait to reconnect to node ${nodeId} (queuedRequestsMax)`));
        }
        await this.#waitBackoff(entry, deadlineMs);
        continue;
      }
      const result = await attempt(conn, { ...options, timeoutMs: remainingMs });
      if (result.ok) return result;
      const error = (result as { readonly error: ClientError }).error;
      if (wait && !error.sent && error.kind === "disconnected") continue; // never written: next connection
      return result;
    }
  }

  /** The node's live connection, a new one, or null while the backoff lasts. */
  #connection(entry: NodeEntry): NodeConnection | null {
    const current = entry.conn;
    if (current !== null && current.state.kind !== "closed") return current;
    entry.conn = null;
    if (this.#clock.monotonicMs() < entry.backoffUntilMs) return null;
    const { host, port } = entry.endpoint;
    const conn: NodeConnection = new NodeConnection({
      network: this.#network,
      clock: this.#clock,
      host,
      port,
      config: this.config,
      ...(this.#log === null ? {} : { log: this.#log.child({ node: entry.nodeId }) }),
      onClosed: (error, wasReady) => this.#onConnectionClosed(entry, conn, error, wasReady),
    });
    entry.conn = conn;
    return conn;
  }

  #onConnectionClosed(entry: NodeEntry, conn: NodeConnection, error: ClientError, wasReady: boolean): void {
    if (entry.conn === conn) entry.conn = null;
    if (this.#closed || error.kind === "closed" || this.#nodes.get(entry.nodeId) !== entry) return;
    if (entry.endpoint.host !== conn.host || entry.endpoint.port !== conn.port) return; // replaced; no backoff
    const failures = wasReady ? 0 : entry.failures;
    const waitMs = Math.max(reconnectWaitMsMin, backoffMs(this.#policy, failures, this.#prng));
    entry.failures = failures + 1;
    entry.backoffUntilMs = this.#clock.monotonicMs() + waitMs;
    this.#log?.info("node connection closed; reconnecting after backoff", { node: entry.nodeId, reason: error.message, backoffMs: waitMs, failures: entry.failures });
  }

  /** Resolves when the node's backoff ends, the node changes, the client closes, or the deadline passes. */
  #waitBackoff(entry: NodeEntry, deadlineMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const now = this.#clock.monotonicMs();
      let deadline: CancelTimer | null = null;
      const wake = (): void => {
        entry.waiters.delete(wake);
        deadline?.();
        resolve();
      };
      entry.waiters.add(wake);
      deadline = this.#clock.schedule(Math.max(0, deadlineMs - now), wake);
      if (entry.backoffTimer === null) {
        entry.backoffTimer = this.#clock.schedule(Math.max(0, entry.backoffUntilMs - now), () => {
          entry.backoffTimer = null;
          this.#wake(entry);
        });
      }
    });
  }

  #wake(entry: NodeEntry): void {
    for (const w of [...entry.waiters]) w();
  }

  /** `promise`, or a timeout error once `timeoutMs` pass first. */
  #within<T>(promise: Promise<Result<T>>, timeoutMs: number): Promise<Result<T>> {
    return new Promise((resolve) => {
      let done = false;
      const timer = this.#clock.schedule(timeoutMs, () => {
        if (done) return;
        done = true;
        resolve(fail(new ClientError("timeout", `not ready after ${timeoutMs} ms`)));
      });
      void promise.then((r) => {
        if (done) return;
        done = true;
        timer();
        resolve(r);
      });
    });
  }
}

function fail(error: ClientError): { readonly ok: false; readonly error: ClientError } {
  return { ok: false, error };
}
