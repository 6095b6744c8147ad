/**
 * The network, injected. The server and the node-to-node client take a `Network` so the same
 * connection code runs over real TCP (`src/platform/bun/network.ts`, on `Bun.listen` and
 * `Bun.connect`) and inside a simulator that delivers bytes between in-process peers with
 * chosen delays, splits and faults (`src/platform/sim/network.ts`).
 *
 * Contract every implementation honours (test/platform/network-conformance.ts checks it):
 * - `listen` binds synchronously and returns a `Listener` (with the real port when asked for
 *   port 0) or throws `NetworkError`. For each accepted connection it calls `accept(conn)`
 *   once, before any other event of that connection; `accept` returns the connection's
 *   event handlers.
 * - `connect` never throws for a network condition: it returns a `NetConnection` at once and
 *   later calls exactly one of `open` (established; before any `data`/`drain`) or
 *   `close(NetworkError)` with op "connect" (refused, unreachable, timed out, unresolvable).
 *   Until `open`, `write` returns 0 and the local address is "" / port 0. `close()` before
 *   `open` abandons the attempt: `close` follows without `open`.
 * - Events of one connection are delivered one at a time, never re-entrantly from inside a
 *   `NetConnection` method nor from inside `connect`: `data` (bytes in order; the array
 *   belongs to the receiver and is never reused by the platform), `drain` (the socket can
 *   take more after a short `write`), then exactly one `close` — after which no event
 *   arrives and writes return -1.
 * - `write(bytes)` never buffers: it hands the kernel (or the simulated peer) a prefix of
 *   `bytes` and returns its length (possibly 0), or -1 when the connection is closed. After a
 *   short write, `drain` follows once more can be written. The caller keeps the rest.
 * - `pause()` stops `data` events until `resume()`; a platform may still deliver data it had
 *   already read when `pause` was called, so callers buffer that with a bound.
 * - `end()` sends what was written and then FIN (graceful); `close()` drops the connection
 *   at once (RST where the platform can). Both lead to one `close` event.
 * - An exception escaping `accept`/`open`/`data`/`drain` drops that connection only, and
 *   `close` gets a `ReceiverFailure` wrapping it; nothing reaches the process-wide error path.
 */

export type NetworkErrorCode =
  // listen (bind)
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "EACCES"
  | "EINVAL"
  // connect, and an established connection failing
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "ENOTFOUND"
  | "EPIPE"
  | "UNKNOWN";

/** What was being done: binding a listener, opening a connection, or using an open one. */
export type NetworkOp = "listen" | "connect" | "io";

/** A network condition: a listen (bind) failure, a failed connect, a reset or timed-out connection. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
  constructor(
    readonly op: NetworkOp,
    readonly code: NetworkErrorCode,
    readonly host: string,
    readonly port: number,
    detail?: string,
  ) {
    super(`${op} ${formatHostPort(host, port)}: ${code}${detail === undefined ? "" : ` (${detail})`}`);
  }
}

/**
 * Reported through `close(error)` when the receiver's own event handler threw: a bug in the
 * receiver, not a network condition. The platform dropped the connection.
 */
export class ReceiverFailure extends Error {
  override readonly name = "ReceiverFailure";
  constructor(readonly event: "accept" | "open" | "data" | "drain", cause: unknown) {
    super(`${event} handler threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** `host:port`, with IPv6 literals in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface NetConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Writes a prefix of `bytes`; returns its length (0 … bytes.length), or -1 when closed. */
  write(bytes: Uint8Array): number;
  /** Stops `data` events (best effort, see the module doc). */
  pause(): void;
  resume(): void;
  /** Graceful close: FIN after what was written. */
  end(): void;
  /** Abrupt close. */
  close(): void;
}

export interface ConnectionEvents {
  data(bytes: Uint8Array): void;
  drain(): void;
  /** Exactly once. `error` when the platform reports why (reset, timeout). */
  close(error?: Error): void;
}

export interface ListenOptions {
  host: string;
  port: number;
  /** Called once per accepted connection, before any of its events. */
  accept(conn: NetConnection): ConnectionEvents;
}

/** Events of an outgoing connection: `open` once established, then as for accepted ones. */
export interface ConnectEvents extends ConnectionEvents {
  /** Exactly once, before any `data`/`drain`, when the connection is established; never after `close`. */
  open(): void;
}

export interface ConnectOptions {
  /** Host name or address of the peer. */
  host: string;
  port: number;
  events: ConnectEvents;
}

export interface Listener {
  readonly host: string;
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  /** Stops accepting; open connections are left to their owners. */
  stop(): void;
}

export interface Network {
  listen(options: ListenOptions): Listener;
  /** Starts a connection attempt; the outcome arrives as `open` or `close(NetworkError)`. */
  connect(options: ConnectOptions): NetConnection;
}
