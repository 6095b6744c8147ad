/**
 * One client connection: Kafka's size-prefixed framing, pipelined dispatch, responses in
 * request order, flow control and the idle timeout.
 *
 * Wire format owned here: every request and response is `int32 size (big-endian) | size
 * bytes`. The dispatcher sees the bytes after the size prefix; it returns the response *body*
 * as a list of chunks and this module writes `int32 sum(chunk lengths)` in front of them. A
 * dispatcher returning `null` sends nothing for that request (acks=0 produce).
 *
 * Invariants:
 * - A frame's size is checked (0 ≤ size ≤ socket.request.max.bytes) before anything is
 *   allocated for it; a bad size closes the connection with one log line.
 * - A frame that arrived inside one chunk is passed as a view of that chunk (no copy); a
 *   frame spread over chunks is copied once into a buffer of its exact size, taken from the
 *   frame pool when the pool accepts its API key and size (frame-pool.ts) and given back
 *   when its dispatch settles (returns, throws, resolves or rejects).
 * - Requests are dispatched as soon as they are complete, up to `inflightRequestsMax` at a
 *   time; responses are written strictly in request order whatever order handlers finish in.
 * - Response chunks ≤ `coalesceChunkBytesMax` are copied into a shared write buffer; larger
 *   ones are written as they are. The caller must not modify chunks after returning them.
 * - `write` may take a prefix only: the rest stays queued until `drain`. While queued and
 *   held (finished but waiting for an earlier response) bytes exceed `queuedResponseBytesMax`,
 *   or request budgets are full (see limits.ts), the socket is paused: no reading, no
 *   dispatching.
 * - A handler that throws, rejects or returns something that is not `Uint8Array[] | null`
 *   closes this connection only, with a log line naming the connection and the error. A
 *   `ClientFault` (or an error named `ProtocolViolation`) is the client's fault: logged at
 *   warn, without stack, naming the client id and software.
 * - Log lines a client can cause again and again are rate-limited (limits.ts,
 *   util/log-limiter.ts): those of handlers per connection and kind (`ctx.logRepeated`; the
 *   counts are written and forgotten when the connection closes), those of faults that close
 *   the connection (client faults, bad frame sizes) per remote address, client id and kind in
 *   the server-wide `faultLog`, since a client that reconnects repeats them on new connections.
 *
 * States: open → (graceful shutdown) draining → closing → closed, or open → closing → closed
 * (`ctx.close`), or any → closed (protocol error, handler error, peer gone, idle).
 * - open: reading and dispatching.
 * - draining: not reading; in-flight requests finish and their responses are written.
 * - closing: not reading, unfinished requests dropped; queued responses are written, then
 *   FIN; the peer gets `closeLingerMs` to close before the connection is dropped.
 * - closed: nothing more happens; request budgets are returned.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { ReceiverFailure, type ConnectionEvents, type NetConnection } from "../platform/network.ts";
import type { BufferPool } from "../util/buffer-pool.ts";
import type { Logger, LogFields, LogLevel } from "../util/log.ts";
import { LogLimiter } from "../util/log-limiter.ts";
import {
  closeLingerMs,
  coalesceBufferBytes,
  coalesceChunkBytesMax,
  frameBytesMax,
  frameSizePrefixBytes,
  pausedReceiveBytesMax,
  repeatedLogIntervalMs,
  repeatedLogKindsPerConnectionMax,
  type ConnectionLimits,
  type RequestBudget,
} from "./limits.ts";
import type { FramePool } from "./frame-pool.ts";
import type { ServerProbe } from "./probe.ts";

/**
 * What the client said about itself in ApiVersions v3+ (KIP-511), for log lines; null until
 * then, and for clients older than that. Set by the ApiVersions handler.
 */
export interface ClientSoftware {
  softwareName: string | null;
  softwareVersion: string | null;
}

/**
 * A request the client got wrong: thrown by a dispatcher, it closes the connection with one
 * warn line (no stack) naming the client id and software, rate-limited per remote address,
 * client id and `kind`.
 */
export class ClientFault extends Error {
  /** What went wrong, stable across occurrences (the rate limit's key), e.g. "unsupported version Fetch v2". */
  readonly kind: string;
  /** The request header's client id, when it could be read. */
  readonly clientId: string | null;
  /** More fields for the log line. */
  readonly fields: LogFields;

  constructor(message: string, kind: string, clientId: string | null, fields: LogFields = {}) {
    super(message);
    this.name = "ClientFault";
    this.kind = kind;
    this.clientId = clientId;
    this.fields = fields;
  }
}

/** What a dispatcher knows about the connection a request came on. */
export interface ConnectionContext {
  /** Unique per server run, from 1. (Structurally a handlers' `ConnectionInfo`.) */
  readonly id: number;
  /** The listener's name from `listeners` (e.g. PLAINTEXT). */
  readonly listenerName: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** A logger carrying `conn`, `remote` and `listener` fields. */
  readonly log: Logger;
  /** What the client said about itself (ApiVersions v3+); the ApiVersions handler fills it in. */
  readonly client: ClientSoftware;
  /**
   * Logs a line a client can cause again and again (through `log`), rate-limited per
   * connection and `kind`: the first at once, then one line per interval with a count.
   */
  logRepeated(level: LogLevel, kind: string, msg: string, fields?: LogFields): void;
  /**
   * Stops this connection after logging `reason`: no more requests are read, unfinished ones
   * are dropped, responses already queued are written, then the socket is ended.
   */
  close(reason: string): void;
}

/** The response body as chunks (the size prefix is added here), or null for no response. */
export type DispatchResult = Uint8Array[] | null;
/**
 * Handles one request frame (the bytes after the size prefix). The frame may be a view into a
 * larger receive buffer: copy what must outlive the request, or the whole buffer stays alive.
 * For the API keys of the frame pool the bytes are reused once the dispatch settles: nothing
 * may read them after that.
 * Returned chunks are written later and must not be modified afterwards. Throwing or
 * rejecting closes the connection (see the module doc).
 */
export type Dispatcher = (frame: Uint8Array, ctx: ConnectionContext) => Promise<DispatchResult> | DispatchResult;

export type ConnectionState = "open" | "draining" | "closing" | "closed";

export interface ConnectionOptions {
  readonly id: number;
  readonly listenerName: string;
  readonly socket: NetConnection;
  readonly dispatcher: Dispatcher;
  readonly limits: ConnectionLimits;
  readonly budget: RequestBudget;
  readonly clock: Clock;
  readonly log: Logger;
  readonly probe: ServerProbe;
  /** Where large frames of the pooled API keys are assembled; null: always allocate. */
  readonly framePool?: FramePool | null;
  /**
   * A pool some response chunks may be views of (the log's read buffers): each such buffer
   * goes back to it once its whole response is written to the socket, or dropped with the
   * connection. A pooled buffer's bytes must go into one response only.
   */
  readonly responseBuffers?: BufferPool | null;
  /**
   * Where lines about faults that close a connection are rate-limited, shared by the server's
   * connections (see the module doc); null: this connection's own limiter.
   */
  readonly faultLog?: LogLimiter | null;
  /** Called once when the connection reaches `closed`. */
  readonly onClosed: (connection: Connection) => void;
}

interface Slot {
  /** Request bytes reserved from the budgets; 0 once returned. */
  requestBytes: number;
  done: boolean;
  response: DispatchResult;
  responseBytes: number;
}

export class Connection implements ConnectionEvents {
  readonly id: number;
  readonly #socket: NetConnection;
  readonly #dispatcher: Dispatcher;
  readonly #limits: ConnectionLimits;
  readonly #budget: RequestBudget;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #probe: ServerProbe;
  readonly #framePool: FramePool | null;
  readonly #responseBuffers: BufferPool | null;
  readonly #onClosed: (connection: Connection) => void;
  readonly #ctx: ConnectionContext;
  readonly #client: ClientSoftware = { softwareName: null, softwareVersion: null };
  /** Lines of this connection's requests, per kind; closed (counts written) with the connection. */
  readonly #repeated: LogLimiter;
  readonly #faultLog: LogLimiter;

  #state: ConnectionState = "open";

  // Receive side: unconsumed chunks, then the frame being assembled.
  #inbox: Uint8Array[] = [];
  #inboxHead = 0;
  #inboxOffset = 0;
  #inboxBytes = 0;
  readonly #sizePrefix = new Uint8Array(frameSizePrefixBytes);
  #sizePrefixFilled = 0;
  /** Size of the frame being read, or -1 while its prefix is incomplete. */
  #frameSize = -1;
  /** Budget bytes reserved for the frame being read (admitted), else -1. */
  #frameReserved = -1;
  #frameBuf: Uint8Array | null = null;
  /** True when #frameBuf came from the frame pool. */
  #framePooled = false;
  #frameFilled = 0;

  // Dispatched requests in arrival order; slots before #slotsHead are gone.
  #slots: Slot[] = [];
  #slotsHead = 0;
  /** Request bytes held by this connection: admitted frames and unfinished requests. */
  #requestBytes = 0;
  /** Bytes of finished responses waiting for an earlier one. */
  #heldResponseBytes = 0;

  // Send side: queued chunks, then the open coalescing buffer.
  #out: Uint8Array[] = [];
  #outHead = 0;
  #stage: Uint8Array | null = null;
  #stageUsed = 0;
  /** Unwritten bytes in #out and #stage. */
  #outBytes = 0;
  /** Bytes ever queued / ever written: where each response ends, and how far writing got. */
  #queuedTotal = 0;
  #writtenTotal = 0;
  /** Pooled chunks of queued responses, with the #queuedTotal at each response's end. */
  #pooledOut: { end: number; chunks: Uint8Array[] }[] = [];
  #pooledOutHead = 0;
  #awaitingDrain = false;
  #ended = false;

  #pumping = false;
  #pumpAgain = false;
  #writeAfterPump = false;
  #writeScheduled = false;
  #blocked = false;
  #paused = false;
  #waitingForBudget = false;
  readonly #wake = (): void => {
    this.#waitingForBudget = false;
    this.#pump();
  };

  #lastActivityMs: number;
  #idleTimer: CancelTimer | null = null;
  #lingerTimer: CancelTimer | null = null;

  constructor(options: ConnectionOptions) {
    this.id = options.id;
    this.#socket = options.socket;
    this.#dispatcher = options.dispatcher;
    this.#limits = options.limits;
    this.#budget = options.budget;
    this.#clock = options.clock;
    this.#probe = options.probe;
    this.#framePool = options.framePool ?? null;
    this.#responseBuffers = options.responseBuffers ?? null;
    this.#onClosed = options.onClosed;
    if (!(options.limits.requestFrameBytesMax >= 0 && options.limits.requestFrameBytesMax <= frameBytesMax)) {
      throw new Error(`Connection: requestFrameBytesMax ${options.limits.requestFrameBytesMax} outside [0, ${frameBytesMax}]`);
    }
    if (!(options.limits.inflightRequestsMax >= 1)) {
      throw new Error(`Connection: inflightRequestsMax ${options.limits.inflightRequestsMax} must be >= 1`);
    }
    this.#log = options.log.child({
      conn: options.id,
      remote: `${options.socket.remoteAddress}:${options.socket.remotePort}`,
      listener: options.listenerName,
    });
    this.#repeated = new LogLimiter({ clock: this.#clock, intervalMs: repeatedLogIntervalMs, keysMax: repeatedLogKindsPerConnectionMax });
    this.#faultLog = options.faultLog ?? this.#repeated;
    const self = this;
    this.#ctx = {
      id: options.id,
      listenerName: options.listenerName,
      remoteAddress: options.socket.remoteAddress,
      remotePort: options.socket.remotePort,
      log: this.#log,
      client: this.#client,
      logRepeated(level: LogLevel, kind: string, msg: string, fields?: LogFields): void {
        self.#repeated.log(self.#log, level, kind, msg, fields);
      },
      close(reason: string): void {
        self.#log.info("closing connection", { reason });
        self.#startClosing();
      },
    };
    this.#lastActivityMs = this.#clock.monotonicMs();
    this.#armIdleTimer(this.#limits.idleTimeoutMs);
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get remoteAddress(): string {
    return this.#socket.remoteAddress;
  }
  /** Requests dispatched and not yet answered (or dropped). */
  get inflightRequests(): number {
    return this.#slots.length - this.#slotsHead;
  }
  /** Response bytes queued for the socket or held for ordering. */
  get queuedResponseBytes(): number {
    return this.#outBytes + this.#heldResponseBytes;
  }
  get readPaused(): boolean {
    return this.#paused;
  }

  // ---- platform events -------------------------------------------------------------------

  data(bytes: Uint8Array): void {
    if (this.#state !== "open") return; // not reading any more: drop
    this.#probe.bytesIn += bytes.length;
    this.#lastActivityMs = this.#clock.monotonicMs();
    if (bytes.length === 0) return;
    this.#inbox.push(bytes);
    this.#inboxBytes += bytes.length;
    this.#pump();
    if (this.#state === "open" && this.#inboxBytes > pausedReceiveBytesMax) {
      this.#abort("warn", "peer kept sending while reading was paused", { bufferedBytes: this.#inboxBytes }, { kind: "paused receive overflow", clientId: null });
    }
  }

  drain(): void {
    if (this.#state === "closed") return;
    this.#awaitingDrain = false;
    this.#lastActivityMs = this.#clock.monotonicMs();
    this.#writeOut();
    this.#afterProgress();
  }

  close(error?: Error): void {
    if (this.#state === "closed") return;
    if (error === undefined) this.#log.debug("connection closed by peer");
    else if (error instanceof ReceiverFailure) {
      // One of our own event handlers threw: a bug. Loud, with the stack of the cause.
      const cause = error.cause instanceof Error ? error.cause : error;
      this.#log.error("connection dropped after an internal error", { error: cause, stack: cause.stack?.split("\n").slice(0, 8).join(" | ") });
    } else this.#log.info("connection lost", { error });
    this.#finish();
  }

  // ---- control from the server -----------------------------------------------------------

  /** Graceful shutdown: stop reading, finish and answer in-flight requests, then end. */
  beginDrain(): void {
    if (this.#state !== "open") return;
    this.#state = "draining";
    this.#dropPartialFrame();
    this.#updatePause();
    this.#afterProgress();
  }

  /** Drops the connection now (shutdown deadline passed). */
  abort(reason: string): void {
    this.#abort("info", reason, {});
  }

  // ---- receive and dispatch --------------------------------------------------------------

  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#readFrames();
        if (this.#writeAfterPump) {
          // Responses of the frames just handled synchronously go out in one write.
          this.#writeAfterPump = false;
          this.#writeOut();
          if (this.#blocked) this.#pumpAgain = true; // the write may have made room
        }
      } while (this.#pumpAgain && this.#state === "open");
    } finally {
      this.#pumping = false;
    }
    this.#updatePause();
    if (this.#state !== "open") this.#afterProgress();
  }

  /**
   * Writes soon, once for all responses completed together: at the end of the current pump
   * (synchronous handlers), or in a microtask (handlers that resolved in the same turn).
   */
  #scheduleWrite(): void {
    if (this.#pumping) {
      this.#writeAfterPump = true;
      return;
    }
    if (this.#writeScheduled) return;
    this.#writeScheduled = true;
    queueMicrotask(() => {
      this.#writeScheduled = false;
      this.#writeOut();
      this.#afterProgress();
    });
  }

  #readFrames(): void {
    this.#blocked = false;
    while (this.#state === "open") {
      if (this.#frameSize < 0) {
        if (!this.#readSizePrefix()) return;
        const p = this.#sizePrefix;
        const size = ((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0);
        if (size < 0 || size > this.#limits.requestFrameBytesMax) {
          this.#probe.frameErrors++;
          // A TLS or HTTP client on a plaintext Kafka port gets here at its first bytes.
          this.#abort(
            "warn",
            "invalid request frame size; closing connection",
            { size, requestFrameBytesMax: this.#limits.requestFrameBytesMax, setting: "socket.request.max.bytes" },
            { kind: "invalid frame size", clientId: null },
          );
          return;
        }
        this.#frameSize = size;
      }
      if (this.#frameReserved < 0) {
        if (!this.#admit(this.#frameSize)) {
          this.#blocked = true;
          return;
        }
      }
      const frame = this.#readFrameBody();
      if (frame === null) return;
      this.#dispatch(frame);
    }
  }

  /** Moves up to 4 prefix bytes out of the inbox; true when the prefix is complete. */
  #readSizePrefix(): boolean {
    while (this.#sizePrefixFilled < frameSizePrefixBytes) {
      const head = this.#inbox[this.#inboxHead];
      if (head === undefined) return false;
      const take = Math.min(frameSizePrefixBytes - this.#sizePrefixFilled, head.length - this.#inboxOffset);
      this.#sizePrefix.set(head.subarray(this.#inboxOffset, this.#inboxOffset + take), this.#sizePrefixFilled);
      this.#sizePrefixFilled += take;
      this.#consume(take);
    }
    return true;
  }

  /** The complete frame, or null when more bytes are needed. */
  #readFrameBody(): Uint8Array | null {
    const size = this.#frameSize;
    if (this.#frameBuf === null) {
      if (size === 0) return new Uint8Array(0);
      const head = this.#inbox[this.#inboxHead];
      if (head === undefined) return null;
      if (head.length - this.#inboxOffset >= size) {
        const view = head.subarray(this.#inboxOffset, this.#inboxOffset + size);
        this.#consume(size);
        return view;
      }
      // The API key (the header's first int16) picks pooled or not; it is nearly always in
      // the chunk the frame starts in, and a frame whose key is not yet here is not pooled.
      const pool = this.#framePool;
      const at = this.#inboxOffset;
      const pooled = pool !== null && head.length - at >= 2 && pool.accepts((head[at]! << 8) | head[at + 1]!, size);
      this.#framePooled = pooled;
      this.#frameBuf = pooled ? pool.take(size) : new Uint8Array(size);
      this.#frameFilled = 0;
    }
    const buf = this.#frameBuf;
    while (this.#frameFilled < size) {
      const head = this.#inbox[this.#inboxHead];
      if (head === undefined) return null;
      const take = Math.min(size - this.#frameFilled, head.length - this.#inboxOffset);
      buf.set(head.subarray(this.#inboxOffset, this.#inboxOffset + take), this.#frameFilled);
      this.#frameFilled += take;
      this.#consume(take);
    }
    return buf;
  }

  #consume(n: number): void {
    const head = this.#inbox[this.#inboxHead];
    if (head === undefined || n > head.length - this.#inboxOffset) {
      throw new Error(`Connection.#consume: ${n} bytes from a head of ${head?.length ?? -1} at ${this.#inboxOffset}`);
    }
    this.#inboxOffset += n;
    this.#inboxBytes -= n;
    if (this.#inboxOffset === head.length) {
      this.#inbox[this.#inboxHead] = EMPTY; // let the chunk be collected
      this.#inboxHead++;
      this.#inboxOffset = 0;
      if (this.#inboxHead === this.#inbox.length) {
        this.#inbox = [];
        this.#inboxHead = 0;
      }
    }
  }

  /** Reserves budget for the next frame of `size` bytes, or says why not (and arranges a retry). */
  #admit(size: number): boolean {
    if (this.inflightRequests >= this.#limits.inflightRequestsMax) return false; // retried on completion
    if (this.queuedResponseBytes > this.#limits.queuedResponseBytesMax) return false; // retried on write progress
    if (this.#requestBytes > 0 && this.#requestBytes + size > this.#limits.inflightRequestBytesMax) return false;
    if (!this.#budget.tryAcquire(size)) {
      if (!this.#waitingForBudget) {
        this.#waitingForBudget = true;
        this.#budget.waitForRelease(this.#wake);
      }
      return false;
    }
    this.#requestBytes += size;
    this.#frameReserved = size;
    return true;
  }

  #dispatch(frame: Uint8Array): void {
    const pooled = this.#framePooled ? frame : null;
    this.#framePooled = false;
    const slot: Slot = { requestBytes: this.#frameReserved, done: false, response: null, responseBytes: 0 };
    if (!(slot.requestBytes === frame.length)) {
      throw new Error(`Connection.#dispatch: reserved ${slot.requestBytes} bytes for a frame of ${frame.length}`);
    }
    this.#frameSize = -1;
    this.#frameReserved = -1;
    this.#sizePrefixFilled = 0;
    this.#frameBuf = null;
    this.#frameFilled = 0;
    this.#slots.push(slot);
    this.#probe.requestsReceived++;
    let result: Promise<DispatchResult> | DispatchResult;
    try {
      result = this.#dispatcher(frame, this.#ctx);
    } catch (error) {
      this.#giveFrame(pooled);
      this.#handlerFailed(slot, error);
      return;
    }
    if (isPromiseLike(result)) {
      if (pooled !== null) {
        const give = (): void => this.#giveFrame(pooled);
        result.then(give, give);
      }
      result.then(
        (response) => this.#settle(slot, response),
        (error: unknown) => this.#handlerFailed(slot, error),
      );
    } else {
      this.#giveFrame(pooled);
      this.#settle(slot, result);
    }
  }

  /** Hands a pooled frame back (its dispatch has settled, whatever the connection's state). */
  #giveFrame(frame: Uint8Array | null): void {
    if (frame !== null) this.#framePool?.give(frame);
  }

  #settle(slot: Slot, response: unknown): void {
    if (slot.requestBytes === 0 && slot.done) return; // dropped when the connection closed
    if (this.#state === "closed" || this.#state === "closing") return;
    let responseBytes = 0;
    if (response !== null) {
      if (!Array.isArray(response)) return this.#handlerFailed(slot, new TypeError(`dispatcher returned ${describe(response)}, not Uint8Array[] | null`));
      for (const chunk of response) {
        if (!(chunk instanceof Uint8Array)) return this.#handlerFailed(slot, new TypeError(`dispatcher returned a chunk that is ${describe(chunk)}, not a Uint8Array`));
        responseBytes += chunk.length;
      }
      if (responseBytes > frameBytesMax) return this.#handlerFailed(slot, new RangeError(`response of ${responseBytes} bytes exceeds the int32 size prefix`));
    }
    this.#returnRequestBytes(slot);
    slot.done = true;
    slot.response = response;
    slot.responseBytes = response === null ? 0 : frameSizePrefixBytes + responseBytes;
    this.#heldResponseBytes += slot.responseBytes;
    this.#lastActivityMs = this.#clock.monotonicMs();
    this.#flushCompleted();
    this.#scheduleWrite();
  }

  #handlerFailed(slot: Slot, error: unknown): void {
    if (this.#state === "closed") return;
    if (slot.done) return;
    this.#probe.handlerErrors++;
    const err = error instanceof Error ? error : new Error(String(error));
    if (err instanceof ClientFault) {
      // The client broke the protocol (dispatch.ts): its fault, not ours; no stack.
      this.#abort("warn", "protocol violation; closing connection", { error: err, ...err.fields }, { kind: err.kind, clientId: err.clientId });
      return;
    }
    if (err.name === "ProtocolViolation") {
      this.#abort("warn", "protocol violation; closing connection", { error: err }, { kind: "protocol violation", clientId: null });
      return;
    }
    // A bug, but one a client may be able to trigger at will: limited like a fault.
    const stack = err.stack?.split("\n").slice(0, 6).join(" | ");
    this.#abort("error", "request handler failed; closing connection", { error: err, stack }, { kind: `handler error ${err.name}`, clientId: null });
  }

  #returnRequestBytes(slot: Slot): void {
    if (slot.requestBytes === 0 && slot.done) return;
    this.#requestBytes -= slot.requestBytes;
    this.#budget.release(slot.requestBytes);
    slot.requestBytes = 0;
  }

  /** Moves finished responses at the head of the request order to the send queue. */
  #flushCompleted(): void {
    while (this.#slotsHead < this.#slots.length) {
      const slot = this.#slots[this.#slotsHead];
      if (slot === undefined || !slot.done) break;
      this.#slotsHead++;
      this.#heldResponseBytes -= slot.responseBytes;
      const response = slot.response;
      slot.response = null;
      if (response === null) {
        this.#probe.responsesSkipped++;
        continue;
      }
      this.#enqueueSizePrefix(slot.responseBytes - frameSizePrefixBytes);
      const pool = this.#responseBuffers;
      let pooled: Uint8Array[] | null = null;
      for (const chunk of response) {
        this.#enqueue(chunk);
        if (pool !== null && pool.owns(chunk)) (pooled ??= []).push(chunk);
      }
      if (pooled !== null) this.#pooledOut.push({ end: this.#queuedTotal, chunks: pooled });
      this.#probe.responsesSent++;
    }
    if (this.#slotsHead === this.#slots.length) {
      this.#slots = [];
      this.#slotsHead = 0;
    } else if (this.#slotsHead > 1024 && this.#slotsHead * 2 > this.#slots.length) {
      this.#slots = this.#slots.slice(this.#slotsHead);
      this.#slotsHead = 0;
    }
  }

  // ---- send ------------------------------------------------------------------------------

  #enqueue(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    if (n <= coalesceChunkBytesMax) {
      if (this.#stage !== null && this.#stageUsed + n > this.#stage.length) this.#sealStage();
      if (this.#stage === null) this.#stage = new Uint8Array(coalesceBufferBytes);
      this.#stage.set(chunk, this.#stageUsed);
      this.#stageUsed += n;
    } else {
      this.#sealStage();
      this.#out.push(chunk);
    }
    this.#outBytes += n;
    this.#queuedTotal += n;
  }

  /** Writes the 4-byte size straight into the coalescing buffer. */
  #enqueueSizePrefix(size: number): void {
    if (!(size >= 0 && size <= frameBytesMax)) throw new Error(`Connection: response size ${size} out of range`);
    if (this.#stage !== null && this.#stageUsed + frameSizePrefixBytes > this.#stage.length) this.#sealStage();
    if (this.#stage === null) this.#stage = new Uint8Array(coalesceBufferBytes);
    const at = this.#stageUsed;
    this.#stage[at] = size >>> 24;
    this.#stage[at + 1] = (size >>> 16) & 0xff;
    this.#stage[at + 2] = (size >>> 8) & 0xff;
    this.#stage[at + 3] = size & 0xff;
    this.#stageUsed += frameSizePrefixBytes;
    this.#outBytes += frameSizePrefixBytes;
    this.#queuedTotal += frameSizePrefixBytes;
  }

  /** Queues the coalescing buffer's bytes as a chunk; the next small chunk gets a new buffer. */
  #sealStage(): void {
    if (this.#stage === null || this.#stageUsed === 0) return;
    this.#out.push(this.#stage.subarray(0, this.#stageUsed));
    this.#stage = null;
    this.#stageUsed = 0;
  }

  #writeOut(): void {
    if (this.#awaitingDrain || this.#state === "closed") return;
    while (this.#outHead < this.#out.length) {
      const chunk = this.#out[this.#outHead];
      if (chunk === undefined) throw new Error(`Connection.#writeOut: hole at ${this.#outHead}`);
      const written = this.#write(chunk);
      if (written < 0) return;
      if (written < chunk.length) {
        this.#out[this.#outHead] = chunk.subarray(written);
        this.#awaitingDrain = true;
        return;
      }
      this.#out[this.#outHead] = EMPTY;
      this.#outHead++;
    }
    this.#out = [];
    this.#outHead = 0;
    if (this.#stage !== null && this.#stageUsed > 0) {
      const used = this.#stageUsed;
      const written = this.#write(this.#stage.subarray(0, used));
      if (written < 0) return;
      if (written === used) {
        this.#stageUsed = 0; // fully handed to the kernel: reuse the buffer
      } else {
        this.#out.push(this.#stage.subarray(written, used));
        this.#stage = null;
        this.#stageUsed = 0;
        this.#awaitingDrain = true;
      }
    }
  }

  /** One socket write; -1 means the socket is gone (the connection is finished). */
  #write(bytes: Uint8Array): number {
    const written = this.#socket.write(bytes);
    if (written < 0) {
      this.#log.debug("write on a closed socket");
      this.#finish();
      return -1;
    }
    if (!(written <= bytes.length)) throw new Error(`Connection.#write: socket took ${written} of ${bytes.length} bytes`);
    this.#outBytes -= written;
    this.#writtenTotal += written;
    if (this.#pooledOutHead < this.#pooledOut.length) this.#givePooled(false);
    this.#probe.bytesOut += written;
    if (written > 0) this.#lastActivityMs = this.#clock.monotonicMs();
    return written;
  }

  /** Gives back the pooled chunks of responses written in full (all of them when `all`: the connection is gone). */
  #givePooled(all: boolean): void {
    const pool = this.#responseBuffers;
    for (;;) {
      const entry = this.#pooledOut[this.#pooledOutHead];
      if (entry === undefined) break;
      if (!all && entry.end > this.#writtenTotal) {
        // A connection that never quite drains must not grow the list for ever.
        if (this.#pooledOutHead > 1024 && this.#pooledOutHead * 2 > this.#pooledOut.length) {
          this.#pooledOut = this.#pooledOut.slice(this.#pooledOutHead);
          this.#pooledOutHead = 0;
        }
        return;
      }
      for (const chunk of entry.chunks) pool?.give(chunk);
      this.#pooledOutHead++;
    }
    this.#pooledOut = [];
    this.#pooledOutHead = 0;
  }

  // ---- state changes ---------------------------------------------------------------------

  /** After responses moved or were written: advance draining/closing, or read more. */
  #afterProgress(): void {
    switch (this.#state) {
      case "open":
        if (this.#blocked || this.#paused) this.#pump();
        return;
      case "draining":
        if (this.inflightRequests === 0) this.#startClosing();
        return;
      case "closing":
        if (this.#outBytes === 0) this.#endSocket();
        return;
      case "closed":
        return;
    }
  }

  #startClosing(): void {
    if (this.#state === "closed" || this.#state === "closing") return;
    this.#state = "closing";
    this.#dropPartialFrame();
    this.#dropUnfinished();
    this.#updatePause();
    this.#lingerTimer ??= this.#clock.schedule(closeLingerMs, () => {
      this.#lingerTimer = null;
      this.#abort("info", "peer did not take the last responses in time; dropping connection", { lingerMs: closeLingerMs });
    });
    if (this.#outBytes === 0) this.#endSocket();
  }

  #endSocket(): void {
    if (this.#state !== "closing" || this.#ended) return;
    this.#ended = true;
    this.#socket.end();
    // The platform's close event (or the linger timer) finishes the connection.
  }

  /**
   * Logs `reason` and drops the connection. A `fault` is something the peer can repeat on
   * new connections: its line names the client and goes through the fault limiter, keyed by
   * remote address, client id and kind.
   */
  #abort(level: LogLevel, reason: string, fields: LogFields, fault: { kind: string; clientId: string | null } | null = null): void {
    if (this.#state === "closed") return;
    if (fault === null) this.#log[level](reason, fields);
    else {
      const key = `${this.#socket.remoteAddress} ${fault.clientId ?? "-"} ${fault.kind}`;
      this.#faultLog.log(this.#log, level, key, reason, {
        ...fields,
        kind: fault.kind,
        clientId: fault.clientId,
        clientSoftwareName: this.#client.softwareName,
        clientSoftwareVersion: this.#client.softwareVersion,
      });
    }
    this.#finish();
    this.#socket.close();
  }

  /** Reaches `closed`: returns every budget, cancels timers, tells the server. Idempotent. */
  #finish(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#dropPartialFrame();
    this.#dropUnfinished();
    this.#inbox = [];
    this.#inboxHead = 0;
    this.#inboxOffset = 0;
    this.#inboxBytes = 0;
    this.#out = [];
    this.#outHead = 0;
    this.#stage = null;
    this.#stageUsed = 0;
    this.#outBytes = 0;
    this.#givePooled(true); // nothing queued will be written now
    if (this.#waitingForBudget) {
      this.#budget.cancelWait(this.#wake);
      this.#waitingForBudget = false;
    }
    this.#idleTimer?.();
    this.#idleTimer = null;
    this.#lingerTimer?.();
    this.#lingerTimer = null;
    this.#repeated.close();
    if (!(this.#requestBytes === 0)) throw new Error(`Connection.#finish: ${this.#requestBytes} request bytes still held`);
    this.#onClosed(this);
  }

  #dropPartialFrame(): void {
    if (this.#frameReserved >= 0) {
      this.#requestBytes -= this.#frameReserved;
      this.#budget.release(this.#frameReserved);
    }
    this.#frameReserved = -1;
    this.#frameSize = -1;
    this.#sizePrefixFilled = 0;
    if (this.#framePooled) this.#giveFrame(this.#frameBuf);
    this.#framePooled = false;
    this.#frameBuf = null;
    this.#frameFilled = 0;
  }

  #dropUnfinished(): void {
    for (let i = this.#slotsHead; i < this.#slots.length; i++) {
      const slot = this.#slots[i];
      if (slot === undefined) continue;
      if (!slot.done) {
        this.#returnRequestBytes(slot);
        slot.done = true;
      }
      slot.response = null;
    }
    this.#slots = [];
    this.#slotsHead = 0;
    this.#heldResponseBytes = 0;
  }

  #updatePause(): void {
    const wantPause = this.#state !== "open" || this.#blocked;
    if (wantPause === this.#paused || this.#state === "closed") return;
    this.#paused = wantPause;
    if (wantPause) {
      if (this.#state === "open") this.#probe.readPauses++;
      this.#socket.pause();
    } else {
      this.#socket.resume();
    }
  }

  #armIdleTimer(delayMs: number): void {
    this.#idleTimer = this.#clock.schedule(delayMs, () => {
      this.#idleTimer = null;
      if (this.#state === "closed") return;
      const idleMs = this.#clock.monotonicMs() - this.#lastActivityMs;
      // Requests in flight keep a connection alive (a long-poll Fetch is not idleness); a
      // peer that stopped reading our responses does not: written bytes count as activity.
      const busy = this.inflightRequests > 0;
      if (busy || idleMs < this.#limits.idleTimeoutMs) {
        this.#armIdleTimer(busy ? this.#limits.idleTimeoutMs : this.#limits.idleTimeoutMs - idleMs);
        return;
      }
      this.#probe.idleClosed++;
      this.#abort("debug", "closing idle connection", { idleMs, setting: "connections.max.idle.ms" });
    });
  }
}

const EMPTY = new Uint8Array(0);

function isPromiseLike(value: unknown): value is PromiseLike<DispatchResult> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? `an object (${Object.prototype.toString.call(value)})` : `a ${typeof value}`;
}
