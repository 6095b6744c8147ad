/**
 * Every bound the network server and its configuration enforce, in one place.
 *
 * Two kinds live here:
 * - hard bounds (`*Max` / `*Min`): the range a configuration value may take, and sizes fixed
 *   by the wire format; the config definitions (`config-defs.ts`) take their ranges from here;
 * - `ConnectionLimits`: the per-connection and global flow-control bounds the server runs
 *   with, built from the validated configuration by `connectionLimitsFrom`.
 *
 * Flow control, in words (the connection module enforces it):
 * - a frame's 4-byte size is read before anything is allocated for it; a size < 0 or above
 *   `requestFrameBytesMax` (socket.request.max.bytes) closes the connection;
 * - a connection stops reading (pauses its socket) while it has `inflightRequestsMax` requests
 *   dispatched but not answered, while admitting the next frame would take its request bytes
 *   above `inflightRequestBytesMax` or all connections' above `queuedRequestBytesMax`, or while
 *   its queued response bytes exceed `queuedResponseBytesMax`. A frame is always admitted when
 *   nothing else is held (on this connection, respectively anywhere), so a frame larger than a
 *   budget still makes progress alone instead of deadlocking.
 */

/** The request/response size prefix: a big-endian int32. */
export const frameSizePrefixBytes = 4;
/** Largest frame the int32 size prefix can describe. */
export const frameBytesMax = 0x7fff_ffff;
/** Smallest `socket.request.max.bytes` accepted (a request header alone is more than this). */
export const requestFrameBytesMin = 1024;

/** Responses whose chunks are at most this long are copied together into one write. */
export const coalesceChunkBytesMax = 16 * 1024;
/** Size of the buffer small response chunks are gathered into before one write. */
export const coalesceBufferBytes = 64 * 1024;
/**
 * Bytes a connection may hold that arrived while it was paused (the platform may deliver
 * what it had already read). More than this is the platform ignoring `pause`: close.
 */
export const pausedReceiveBytesMax = 8 * 1024 * 1024;
/**
 * The frame pool (frame-pool.ts): Produce frames of at least `framePoolMinBytes` and at most
 * `framePoolMaxBytes` are assembled in reused buffers, of which at most `framePoolIdleBytesMax`
 * bytes are kept while unused.
 */
export const framePoolMinBytes = 64 * 1024;
export const framePoolMaxBytes = 16 * 1024 * 1024;
export const framePoolIdleBytesMax = 32 * 1024 * 1024;
/**
 * The read buffers of fetches (SegmentContext.readBuffers in storage): reads of
 * `readBufferPoolMinBytes` to `readBufferPoolMaxBytes` use reused buffers, which connections
 * give back once the response carrying them is written. A fetch over many partitions holds
 * one per partition until it is sent (up to its fetch.max.bytes), so the idle cap is sized
 * for a few such responses.
 */
export const readBufferPoolMinBytes = 64 * 1024;
export const readBufferPoolMaxBytes = 16 * 1024 * 1024;
export const readBufferPoolIdleBytesMax = 64 * 1024 * 1024;
/** After `end()`, how long to wait for the peer before dropping the connection. */
export const closeLingerMs = 5_000;
/**
 * Log lines a client can cause again and again (a request we refuse, a fault every request
 * hits) go through a `LogLimiter` (util/log-limiter.ts): the first of a kind is written, then
 * at most one line per `repeatedLogIntervalMs` with the count of those not written.
 * Kinds are tracked per connection (at most `repeatedLogKindsPerConnectionMax`) and, for
 * faults that close the connection (so a reconnecting client is one source), per remote
 * address, client id and kind across the server (at most `repeatedLogKindsPerServerMax`);
 * beyond the cap, kinds share one entry.
 */
export const repeatedLogIntervalMs = 10_000;
export const repeatedLogKindsPerConnectionMax = 32;
export const repeatedLogKindsPerServerMax = 1024;
/** Characters kept of the client software name and version a client sends in ApiVersions v3+. */
export const clientSoftwareCharsMax = 128;

export const portMin = 0;
export const portMax = 65_535;
export const nodeIdMin = 0;
export const nodeIdMax = 0x7fff_ffff;
export const int32Max = 0x7fff_ffff;
export const int16Max = 0x7fff;
/** Longest value stored for `long` configs; larger ones (Long.MAX_VALUE = "never") clamp here. */
export const longValueMax = Number.MAX_SAFE_INTEGER;

export const inflightRequestsPerConnectionMin = 1;
export const inflightRequestsPerConnectionMax = 65_536;
export const queuedResponseBytesPerConnectionMin = 64 * 1024;
export const inflightRequestBytesPerConnectionMin = 64 * 1024;
export const queuedRequestBytesMin = 1024 * 1024;
/** What `queued.max.request.bytes=-1` (Kafka's "unbounded") means here: bunka always bounds it. */
export const queuedRequestBytesUnboundedCap = 1024 * 1024 * 1024;
export const shutdownTimeoutMsMax = 60 * 60 * 1000;
export const idleTimeoutMsMin = 1;

/** The bounds one connection runs with (see the module doc). */
export interface ConnectionLimits {
  /** socket.request.max.bytes */
  readonly requestFrameBytesMax: number;
  /** connection.max.inflight.requests */
  readonly inflightRequestsMax: number;
  /** connection.max.inflight.request.bytes */
  readonly inflightRequestBytesMax: number;
  /** connection.max.queued.response.bytes */
  readonly queuedResponseBytesMax: number;
  /** connections.max.idle.ms; a connection with nothing in flight this long is closed. */
  readonly idleTimeoutMs: number;
}

/** Budget shared by all connections of a server (queued.max.request.bytes, queued.max.requests). */
export class RequestBudget {
  #bytes = 0;
  #requests = 0;
  readonly bytesMax: number;
  readonly requestsMax: number;
  /** Connections waiting for budget, woken in arrival order when some is released. */
  readonly #waiters = new Set<() => void>();

  constructor(bytesMax: number, requestsMax: number) {
    if (!(Number.isSafeInteger(bytesMax) && bytesMax > 0)) throw new Error(`RequestBudget: bytesMax ${bytesMax} must be a positive integer`);
    if (!(Number.isSafeInteger(requestsMax) && requestsMax > 0)) throw new Error(`RequestBudget: requestsMax ${requestsMax} must be a positive integer`);
    this.bytesMax = bytesMax;
    this.requestsMax = requestsMax;
  }

  get bytes(): number {
    return this.#bytes;
  }
  get requests(): number {
    return this.#requests;
  }

  /** Reserves one request of `bytes` when it fits, or when nothing is reserved at all. */
  tryAcquire(bytes: number): boolean {
    if (!(bytes >= 0)) throw new Error(`RequestBudget.tryAcquire: bytes ${bytes} must be >= 0`);
    const empty = this.#requests === 0;
    if (!empty && (this.#bytes + bytes > this.bytesMax || this.#requests + 1 > this.requestsMax)) return false;
    this.#bytes += bytes;
    this.#requests += 1;
    return true;
  }

  release(bytes: number): void {
    if (!(bytes >= 0 && bytes <= this.#bytes && this.#requests > 0)) {
      throw new Error(`RequestBudget.release: ${bytes} bytes with ${this.#bytes} bytes / ${this.#requests} requests held`);
    }
    this.#bytes -= bytes;
    this.#requests -= 1;
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    // Woken from a microtask, not from inside the releasing connection's call stack.
    queueMicrotask(() => {
      for (const wake of waiters) wake();
    });
  }

  /** `wake` runs once after the next release (a blocked connection retries then). */
  waitForRelease(wake: () => void): void {
    this.#waiters.add(wake);
  }

  cancelWait(wake: () => void): void {
    this.#waiters.delete(wake);
  }
}

/** Shortest backup.interval.ms accepted (src/backup/schedule.ts asserts the same bound). */
export const backupIntervalMsMin = 100;
/** Longest backup.retention.days (1000 years: a typo, not a policy, beyond it). */
export const backupRetentionDaysMax = 365_000;
