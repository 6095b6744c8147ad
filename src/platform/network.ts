/**
 * The network, injected. The server takes a `Network` so the same connection code runs over
 * real TCP (`src/platform/bun/network.ts`, on `Bun.listen`) and inside a simulator that
 * delivers bytes between in-process peers with chosen delays, splits and faults.
 *
 * Contract every implementation honours:
 * - `listen` binds synchronously and returns a `Listener` (with the real port when asked for
 *   port 0) or throws `NetworkError`. For each accepted connection it calls `accept(conn)`
 *   once, before any other event of that connection; `accept` returns the connection's
 *   event handlers.
 * - Events of one connection are delivered one at a time, never re-entrantly from inside a
 *   `NetConnection` method: `data` (bytes in order; the array belongs to the receiver and
 *   is never reused by the platform), `drain` (the socket can take more after a short
 *   `write`), then exactly one `close` — after which no event arrives and writes return -1.
 * - `write(bytes)` never buffers: it hands the kernel (or the simulated peer) a prefix of
 *   `bytes` and returns its length (possibly 0), or -1 when the connection is closed. After a
 *   short write, `drain` follows once more can be written. The caller keeps the rest.
 * - `pause()` stops `data` events until `resume()`; a platform may still deliver data it had
 *   already read when `pause` was called, so callers buffer that with a bound.
 * - `end()` sends what was written and then FIN (graceful); `close()` drops the connection
 *   at once (RST where the platform can). Both lead to one `close` event.
 * - An exception escaping `accept`/`data`/`drain` drops that connection only, and `close` gets
 *   a `ReceiverFailure` wrapping it; nothing reaches the process-wide error path.
 */

export type NetworkErrorCode = "EADDRINUSE" | "EADDRNOTAVAIL" | "EACCES" | "EINVAL" | "UNKNOWN";

/** A listen (bind) failure. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
  constructor(
    readonly code: NetworkErrorCode,
    readonly host: string,
    readonly port: number,
    detail?: string,
  ) {
    super(`listen ${formatHostPort(host, port)}: ${code}${detail === undefined ? "" : ` (${detail})`}`);
  }
}

/**
 * Reported through `close(error)` when the receiver's own event handler threw: a bug in the
 * receiver, not a network condition. The platform dropped the connection.
 */
export class ReceiverFailure extends Error {
  override readonly name = "ReceiverFailure";
  constructor(readonly event: "accept" | "data" | "drain", cause: unknown) {
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

export interface Listener {
  readonly host: string;
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  /** Stops accepting; open connections are left to their owners. */
  stop(): void;
}

export interface Network {
  listen(options: ListenOptions): Listener;
}
