/**
 * One connection to one Kafka node (bunka or Apache Kafka): connect, ApiVersions negotiation,
 * request framing with the generated codecs, correlation, timeouts, a bound on in-flight
 * requests and on the queue behind them. Used by the node client (node-client.ts), which adds
 * reconnects; usable alone by tools.
 *
 * States (one transition function each way, `#close` being the only way to `closed`):
 *   connecting ──open──▶ negotiating ──ApiVersions ok──▶ ready
 *        └───────────────────┴──────────────────────────────┴──▶ closed (error)
 * - connecting: TCP connect under way; requests queue.
 * - negotiating: ApiVersions sent at the highest version we know. A peer that rejects that
 *   version answers UNSUPPORTED_VERSION (in a v0 body, which is parsed as v0 when the requested
 *   version does not parse); we retry at the ApiVersions maximum it advertises, or v0, as
 *   Kafka's NetworkClient does. Any other failure closes the connection.
 * - ready: queued requests go out, each at the highest version both sides support within the
 *   caller's bounds; an API the peer lacks fails with unsupportedVersion without being sent.
 * - closed: every pending request failed (see errors.ts for `sent`); nothing more happens.
 *
 * Invariants:
 * - Kafka answers requests on one connection in order, so a response must carry the
 *   correlation id of the oldest unanswered request; anything else is a protocol error that
 *   closes the connection. Requests that expect no response (acks=0 produce) never enter that
 *   queue; they complete once their last byte is written.
 * - At most `inflightRequestsMax` requests are written and unanswered (one-way requests count
 *   until written); at most `queuedRequestsMax` wait behind them.
 * - A response frame's size is checked against `responseFrameBytesMax` before anything is
 *   allocated for it.
 * - Timeouts are deadlines on the injected clock, checked by one timer armed for the earliest.
 *   A request that times out while written closes the connection (its late answer would be
 *   taken for the next request's); one still queued fails alone.
 * - Events from the network are never trusted to be well-formed: a bad frame or body closes
 *   this connection with a typed error, it never throws out of an event handler.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { ConnectEvents, NetConnection, Network } from "../platform/network.ts";
import { DecodeError, EncodeError } from "../protocol/codec/codec-error.ts";
import { flattenChunks } from "../protocol/codec/writer.ts";
import { ErrorCode, errorName } from "../protocol/errors.ts";
import { decodeResponse, encodeRequest } from "../protocol/frame.ts";
import type { ApiVersionsResponse } from "../protocol/messages/api-versions-response.ts";
import { type ApiKey, ApiKeys, apiSpec, type RequestBodies } from "../protocol/messages/index.ts";
import type { Logger } from "../util/log.ts";
import { ApiVersionTable, apiVersionsVersionMax } from "./api-versions.ts";
import type { ClientConfig } from "./config.ts";
import { ClientError, type RequestResult, type Result, type SendResult } from "./errors.ts";
import { FrameReader } from "./frame-reader.ts";

export interface NodeConnectionOptions {
  readonly network: Network;
  readonly clock: Clock;
  readonly host: string;
  readonly port: number;
  readonly config: ClientConfig;
  readonly log?: Logger;
  /** Called once when the connection closes, after its requests were failed. */
  readonly onClosed?: (error: ClientError, wasReady: boolean) => void;
}

export interface RequestOptions {
  /** This request's timeout (default `requestTimeoutMs`), counted from `send`. */
  readonly timeoutMs?: number;
  /** Lowest version the caller accepts (default: any). */
  readonly minVersion?: number;
  /** Highest version the caller accepts (default: any). */
  readonly maxVersion?: number;
}

export type NodeConnectionState =
  | { readonly kind: "connecting" }
  | { readonly kind: "negotiating"; readonly apiVersionsVersion: number }
  | { readonly kind: "ready"; readonly versions: ApiVersionTable }
  | { readonly kind: "closed"; readonly error: ClientError };

type Outcome = { readonly ok: true; readonly version: number; readonly body: unknown } | { readonly ok: false; readonly error: ClientError };

interface Pending {
  readonly apiKey: ApiKey;
  readonly body: unknown;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly deadlineMs: number;
  readonly timeoutMs: number;
  readonly expectResponse: boolean;
  readonly settle: (outcome: Outcome) => void;
  /** Set when written. */
  version: number;
  correlationId: number;
  /** `#bytesEnqueued` after this request's last byte (one-way requests complete at it). */
  endOffset: number;
}

const correlationIdMax = 0x7fff_ffff;
/** Request frames up to this size are written as one buffer; larger ones as their chunks. */
const flattenBytesMax = 64 * 1024;

export class NodeConnection {
  readonly host: string;
  readonly port: number;
  readonly #clock: Clock;
  readonly #config: ClientConfig;
  readonly #log: Logger | null;
  readonly #onClosed: ((error: ClientError, wasReady: boolean) => void) | null;
  readonly #socket: NetConnection;
  readonly #reader: FrameReader;

  #state: NodeConnectionState = { kind: "connecting" };
  readonly #setupDeadlineMs: number;
  #nextCorrelationId = 0;
  /** Not yet written, in send order. */
  #queued: Pending[] = [];
  /** Written (or being written), awaiting a response, in write order. */
  #inflight: Pending[] = [];
  /** Written (or being written), expecting no response. */
  #oneWay: Pending[] = [];
  #out: Uint8Array[] = [];
  #outOffset = 0;
  #bytesEnqueued = 0;
  #bytesWritten = 0;
  #timer: CancelTimer | null = null;
  #timerDueMs = Number.POSITIVE_INFINITY;
  #readyWaiters: ((r: Result<ApiVersionTable>) => void)[] = [];

  constructor(options: NodeConnectionOptions) {
    this.host = options.host;
    this.port = options.port;
    this.#clock = options.clock;
    this.#config = options.config;
    this.#log = options.log ?? null;
    this.#onClosed = options.onClosed ?? null;
    this.#reader = new FrameReader(options.config.responseFrameBytesMax);
    this.#setupDeadlineMs = this.#clock.monotonicMs() + options.config.connectionSetupTimeoutMs;
    const events: ConnectEvents = {
      open: () => this.#onOpen(),
      data: (bytes) => this.#onData(bytes),
      drain: () => this.#flush(),
      close: (error) => this.#onSocketClosed(error),
    };
    this.#socket = options.network.connect({ host: options.host, port: options.port, events });
    this.#armTimer(this.#setupDeadlineMs);
  }

  get state(): NodeConnectionState {
    return this.#state;
  }

  /** The negotiated versions, once ready. */
  get versions(): ApiVersionTable | null {
    return this.#state.kind === "ready" ? this.#state.versions : null;
  }

  /** Requests written and not yet answered (or, for one-way ones, not yet fully written). */
  get inflightCount(): number {
    return this.#inflight.length + this.#oneWay.length;
  }

  get queuedCount(): number {
    return this.#queued.length;
  }

  /** Resolves once negotiation is done, or with the error that closed the connection. */
  whenReady(): Promise<Result<ApiVersionTable>> {
    const s = this.#state;
    if (s.kind === "ready") return Promise.resolve({ ok: true, value: s.versions });
    if (s.kind === "closed") return Promise.resolve({ ok: false, error: s.error });
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /**
   * Sends a request and resolves with its response, or with a ClientError. Never rejects.
   * A Produce with acks=0 gets no response: use `sendOneWay`.
   */
  send<K extends ApiKey>(apiKey: K, body: RequestBodies[K], options: RequestOptions = {}): Promise<RequestResult<K>> {
    if (isOneWay(apiKey, body)) throw new Error("NodeConnection.send: a Produce with acks=0 gets no response; use sendOneWay");
    return this.#submit(apiKey, body, options, true) as Promise<RequestResult<K>>;
  }

  /** Sends a request that gets no response (Produce with acks=0); resolves once it is fully written. */
  sendOneWay<K extends ApiKey>(apiKey: K, body: RequestBodies[K], options: RequestOptions = {}): Promise<SendResult> {
    if (!isOneWay(apiKey, body)) throw new Error(`NodeConnection.sendOneWay: api ${apiKey} expects a response`);
    return this.#submit(apiKey, body, options, false).then((o) => (o.ok ? { ok: true, version: o.version } : o));
  }

  /**
   * Closes the connection; pending requests fail with `kind` ("closed" by default;
   * "disconnected" when the owner replaces the connection, e.g. the node moved). Idempotent.
   */
  close(reason = "closed by its owner", kind: "closed" | "disconnected" = "closed"): void {
    this.#close(new ClientError(kind, `connection to ${this.#where()} ${reason}`));
  }

  // ---- requests -----------------------------------------------------------------------------

  #submit(apiKey: ApiKey, body: unknown, options: RequestOptions, expectResponse: boolean): Promise<Outcome> {
    const s = this.#state;
    if (s.kind === "closed") return Promise.resolve({ ok: false, error: s.error.withSent(false) });
    if (this.#queued.length >= this.#config.queuedRequestsMax && !this.#canWriteNow()) {
      return Promise.resolve({
        ok: false,
        error: new ClientError("queueFull", `${this.#queued.length} requests already wait for ${this.#where()} (queuedRequestsMax)`),
      });
    }
    const timeoutMs = options.timeoutMs ?? this.#config.requestTimeoutMs;
    if (!(timeoutMs > 0)) throw new RangeError(`NodeConnection.send: timeoutMs ${timeoutMs} must be > 0`);
    return new Promise<Outcome>((settle) => {
      const p: Pending = {
        apiKey,
        body,
        minVersion: options.minVersion ?? 0,
        maxVersion: options.maxVersion ?? Number.MAX_SAFE_INTEGER,
        deadlineMs: this.#clock.monotonicMs() + timeoutMs,
        timeoutMs,
        expectResponse,
        settle,
        version: -1,
        correlationId: -1,
        endOffset: -1,
      };
      this.#queued.push(p);
      this.#armTimer(p.deadlineMs);
      this.#pump();
    });
  }

  #canWriteNow(): boolean {
    return this.#state.kind === "ready" && this.#queued.length === 0 && this.inflightCount < this.#config.inflightRequestsMax;
  }

  /** Writes queued requests while the connection is ready and in-flight slots are free. */
  #pump(): void {
    const s = this.#state;
    if (s.kind !== "ready") return;
    while (this.#queued.length > 0 && this.inflightCount < this.#config.inflightRequestsMax && this.#state.kind === "ready") {
      const p = this.#queued.shift() as Pending;
      const version = s.versions.pick(p.apiKey, p.minVersion, p.maxVersion);
      if (version === null) {
        p.settle({ ok: false, error: this.#unsupported(p, s.versions) });
        continue;
      }
      const error = this.#write(p, version);
      if (error !== null) p.settle({ ok: false, error });
    }
    if (!(this.inflightCount <= this.#config.inflightRequestsMax)) {
      throw new Error(`NodeConnection.#pump: ${this.inflightCount} in flight > inflightRequestsMax ${this.#config.inflightRequestsMax}`);
    }
    this.#flush();
    this.#completeOneWay();
  }

  #unsupported(p: Pending, versions: ApiVersionTable): ClientError {
    const name = apiSpec(p.apiKey)?.name ?? String(p.apiKey);
    const common = versions.common(p.apiKey);
    const theirs = versions.peer.get(p.apiKey);
    const detail =
      theirs === undefined
        ? "the peer does not serve it"
        : common === null
          ? `the peer serves v${theirs.min}-${theirs.max}, this client none of them`
          : `common versions v${common.min}-${common.max}, asked for v${p.minVersion}-${p.maxVersion === Number.MAX_SAFE_INTEGER ? "" : p.maxVersion}`;
    return new ClientError("unsupportedVersion", `${name} to ${this.#where()}: ${detail}`);
  }

  /** Encodes and enqueues `p` at `version`; returns why it could not be sent, or null. */
  #write(p: Pending, version: number): ClientError | null {
    const correlationId = this.#nextCorrelationId;
    let chunks: Uint8Array[];
    try {
      chunks = encodeRequest(p.apiKey, version, correlationId, this.#config.clientId, p.body as RequestBodies[ApiKey]);
    } catch (error) {
      if (error instanceof EncodeError) {
        const name = apiSpec(p.apiKey)?.name ?? String(p.apiKey);
        return new ClientError("unsupportedVersion", `${name} v${version} cannot carry this request: ${error.message}`, { cause: error });
      }
      throw error;
    }
    let size = 0;
    for (const c of chunks) size += c.length;
    if (size > this.#config.requestFrameBytesMax) {
      return new ClientError("tooLarge", `request of ${size} bytes exceeds requestFrameBytesMax ${this.#config.requestFrameBytesMax}`);
    }
    if (!(p.version === -1 && p.correlationId === -1)) throw new Error(`NodeConnection.#write: request written twice (correlation id ${p.correlationId})`);
    this.#nextCorrelationId = correlationId >= correlationIdMax ? 0 : correlationId + 1;
    p.version = version;
    p.correlationId = correlationId;
    if (size <= flattenBytesMax && chunks.length > 1) chunks = [flattenChunks(chunks)];
    for (const c of chunks) if (c.length > 0) this.#out.push(c);
    this.#bytesEnqueued += size;
    p.endOffset = this.#bytesEnqueued;
    if (p.expectResponse) this.#inflight.push(p);
    else this.#oneWay.push(p);
    return null;
  }

  /** Hands queued bytes to the socket until it takes no more. */
  #flush(): void {
    while (this.#out.length > 0 && this.#state.kind !== "closed") {
      const head = this.#out[0] as Uint8Array;
      const chunk = this.#outOffset === 0 ? head : head.subarray(this.#outOffset);
      const n = this.#socket.write(chunk);
      if (n < 0) return; // closed: the close event follows
      this.#bytesWritten += n;
      if (n < chunk.length) {
        this.#outOffset += n;
        break;
      }
      this.#out.shift();
      this.#outOffset = 0;
    }
    this.#completeOneWay();
  }

  #completeOneWay(): void {
    let freed = false;
    while (this.#oneWay.length > 0 && (this.#oneWay[0] as Pending).endOffset <= this.#bytesWritten) {
      const p = this.#oneWay.shift() as Pending;
      p.settle({ ok: true, version: p.version, body: null });
      freed = true;
    }
    if (freed) this.#pump();
  }

  // ---- events -------------------------------------------------------------------------------

  #onOpen(): void {
    if (this.#state.kind !== "connecting") return;
    this.#log?.debug("connected", { remote: this.#where() });
    this.#negotiate(apiVersionsVersionMax);
  }

  #negotiate(version: number): void {
    this.#state = { kind: "negotiating", apiVersionsVersion: version };
    const p: Pending = {
      apiKey: ApiKeys.ApiVersions,
      body: { clientSoftwareName: this.#config.softwareName, clientSoftwareVersion: this.#config.softwareVersion },
      minVersion: version,
      maxVersion: version,
      deadlineMs: this.#setupDeadlineMs,
      timeoutMs: this.#config.connectionSetupTimeoutMs,
      expectResponse: true,
      settle: (outcome) => this.#onApiVersions(version, outcome),
      version: -1,
      correlationId: -1,
      endOffset: -1,
    };
    const error = this.#write(p, version);
    if (error !== null) throw new Error(`NodeConnection: cannot encode ApiVersions v${version}: ${error.message}`);
    this.#flush();
  }

  #onApiVersions(version: number, outcome: Outcome): void {
    if (this.#state.kind !== "negotiating") return;
    if (!outcome.ok) return; // the connection is closing with that error
    const body = outcome.body as ApiVersionsResponse;
    if (body.errorCode === ErrorCode.UNSUPPORTED_VERSION && version > 0) {
      const theirs = body.apiKeys.find((k) => k.apiKey === ApiKeys.ApiVersions);
      const next = theirs !== undefined && theirs.maxVersion < version && theirs.maxVersion >= 0 ? theirs.maxVersion : 0;
      this.#log?.debug("ApiVersions version rejected; retrying", { remote: this.#where(), rejected: version, next });
      this.#negotiate(next);
      return;
    }
    if (body.errorCode !== 0) {
      const kind = body.errorCode === ErrorCode.UNSUPPORTED_VERSION ? "unsupportedVersion" : "protocol";
      this.#close(new ClientError(kind, `ApiVersions v${version} to ${this.#where()} failed: ${errorName(body.errorCode)}`));
      return;
    }
    const versions = new ApiVersionTable(body);
    this.#state = { kind: "ready", versions };
    this.#log?.debug("ready", { remote: this.#where(), apiVersionsVersion: version, apis: versions.peer.size });
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w({ ok: true, value: versions });
    this.#rearm();
    this.#pump();
  }

  #onData(bytes: Uint8Array): void {
    if (this.#state.kind === "closed") return;
    const pushed = this.#reader.push(bytes);
    for (const frame of pushed.frames) {
      if (this.#isClosed()) return;
      this.#onFrame(frame);
    }
    if (!pushed.ok && !this.#isClosed()) {
      const head = this.#inflight[0];
      const { kind, size } = pushed.problem;
      const error =
        kind === "tooLarge"
          ? new ClientError("tooLarge", `response frame of ${size} bytes from ${this.#where()} exceeds responseFrameBytesMax ${this.#config.responseFrameBytesMax}`, { sent: true })
          : new ClientError("protocol", `negative response frame size ${size} from ${this.#where()}`, { sent: true });
      this.#close(error, head);
    }
  }

  #onFrame(frame: Uint8Array): void {
    if (frame.length < 4) {
      this.#close(new ClientError("protocol", `response frame of ${frame.length} bytes from ${this.#where()} has no header`, { sent: true }), this.#inflight[0]);
      return;
    }
    const correlationId = new DataView(frame.buffer, frame.byteOffset, 4).getInt32(0);
    const head = this.#inflight[0];
    if (head === undefined) {
      this.#close(new ClientError("protocol", `response (correlation id ${correlationId}) from ${this.#where()} with no request in flight`, { sent: true }));
      return;
    }
    if (head.correlationId !== correlationId) {
      this.#close(
        new ClientError("protocol", `response correlation id ${correlationId} from ${this.#where()}, expected ${head.correlationId}`, { sent: true }),
        head,
      );
      return;
    }
    const decoded = this.#decode(head, frame);
    if (!decoded.ok) {
      this.#close(decoded.error, head);
      return;
    }
    this.#inflight.shift();
    if (!(this.#inflight.length === 0 || (this.#inflight[0] as Pending).correlationId !== correlationId)) {
      throw new Error(`NodeConnection: correlation id ${correlationId} in flight twice`);
    }
    head.settle({ ok: true, version: head.version, body: decoded.body });
    this.#pump();
  }

  #decode(p: Pending, frame: Uint8Array): { ok: true; body: unknown } | { ok: false; error: ClientError } {
    try {
      return { ok: true, body: decodeResponse(p.apiKey, p.version, frame).body };
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      // A peer that rejects our ApiVersions version answers in v0 (Kafka's rule).
      if (p.apiKey === ApiKeys.ApiVersions && p.version > 0) {
        try {
          return { ok: true, body: decodeResponse(ApiKeys.ApiVersions, 0, frame).body };
        } catch {
          // Report the first error.
        }
      }
      const name = apiSpec(p.apiKey)?.name ?? String(p.apiKey);
      return { ok: false, error: new ClientError("protocol", `undecodable ${name} v${p.version} response from ${this.#where()}: ${error.message}`, { sent: true, cause: error }) };
    }
  }

  #onSocketClosed(error: Error | undefined): void {
    if (this.#state.kind === "closed") return;
    const why = error === undefined ? "closed by the peer" : error.message;
    this.#close(new ClientError("disconnected", `connection to ${this.#where()} lost: ${why}`, { cause: error }));
  }

  // ---- timeouts -----------------------------------------------------------------------------

  #armTimer(dueMs: number): void {
    if (dueMs >= this.#timerDueMs || this.#state.kind === "closed") return;
    this.#timer?.();
    this.#timerDueMs = dueMs;
    const delay = Math.max(0, dueMs - this.#clock.monotonicMs());
    this.#timer = this.#clock.schedule(delay, () => {
      this.#timer = null;
      this.#timerDueMs = Number.POSITIVE_INFINITY;
      this.#onTimer();
    });
  }

  /** Re-arms for the earliest deadline still pending. */
  #rearm(): void {
    let due = Number.POSITIVE_INFINITY;
    if (this.#state.kind === "connecting" || this.#state.kind === "negotiating") due = this.#setupDeadlineMs;
    for (const p of this.#queued) due = Math.min(due, p.deadlineMs);
    for (const p of this.#inflight) due = Math.min(due, p.deadlineMs);
    for (const p of this.#oneWay) due = Math.min(due, p.deadlineMs);
    if (due === this.#timerDueMs) return;
    this.#timer?.();
    this.#timer = null;
    this.#timerDueMs = Number.POSITIVE_INFINITY;
    if (due !== Number.POSITIVE_INFINITY) this.#armTimer(due);
  }

  #onTimer(): void {
    if (this.#state.kind === "closed") return;
    const now = this.#clock.monotonicMs();
    if ((this.#state.kind === "connecting" || this.#state.kind === "negotiating") && this.#setupDeadlineMs <= now) {
      const phase = this.#state.kind === "connecting" ? "connect" : "ApiVersions";
      this.#close(new ClientError("timeout", `connection setup to ${this.#where()} (${phase}) timed out after ${this.#config.connectionSetupTimeoutMs} ms`));
      return;
    }
    const expired = this.#queued.filter((p) => p.deadlineMs <= now);
    if (expired.length > 0) {
      this.#queued = this.#queued.filter((p) => p.deadlineMs > now);
      for (const p of expired) p.settle({ ok: false, error: this.#timeoutError(p, false) });
    }
    const late = [...this.#inflight, ...this.#oneWay].find((p) => p.deadlineMs <= now);
    if (late !== undefined) {
      this.#close(this.#timeoutError(late, true), late);
      return;
    }
    this.#rearm();
  }

  #timeoutError(p: Pending, sent: boolean): ClientError {
    const name = apiSpec(p.apiKey)?.name ?? String(p.apiKey);
    const where = sent ? "awaiting its response" : "waiting for the connection";
    return new ClientError("timeout", `${name} to ${this.#where()} timed out after ${p.timeoutMs} ms ${where}`, { sent });
  }

  // ---- closing ------------------------------------------------------------------------------

  /**
   * The one way to `closed`: `culprit` (the request whose timeout, oversized or bad response
   * caused it) gets `error`; other written requests get "disconnected" (or "closed"), sent;
   * queued ones the same kind, not sent.
   */
  #close(error: ClientError, culprit?: Pending): void {
    if (this.#state.kind === "closed") return;
    const wasReady = this.#state.kind === "ready";
    this.#state = { kind: "closed", error };
    this.#timer?.();
    this.#timer = null;
    this.#timerDueMs = Number.POSITIVE_INFINITY;
    this.#socket.close();
    const others =
      error.kind === "closed" || error.kind === "disconnected"
        ? error
        : new ClientError("disconnected", `connection to ${this.#where()} closed: ${error.message}`, { cause: error });
    const written = [...this.#inflight, ...this.#oneWay];
    const queued = this.#queued;
    this.#inflight = [];
    this.#oneWay = [];
    this.#queued = [];
    this.#out = [];
    if (error.kind === "timeout" || error.kind === "disconnected" || error.kind === "closed") {
      this.#log?.debug("connection closed", { remote: this.#where(), reason: error.message });
    } else {
      this.#log?.warn("connection closed", { remote: this.#where(), kind: error.kind, reason: error.message });
    }
    if (culprit !== undefined && !written.includes(culprit)) throw new Error("NodeConnection.#close: the culprit request is not in flight");
    for (const p of written) p.settle({ ok: false, error: p === culprit ? error.withSent(true) : others.withSent(true) });
    for (const p of queued) p.settle({ ok: false, error: others.withSent(false) });
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w({ ok: false, error: others.withSent(false) });
    this.#onClosed?.(error, wasReady);
  }

  /** A method, so checks after calls that may close are not narrowed away by the compiler. */
  #isClosed(): boolean {
    return this.#state.kind === "closed";
  }

  #where(): string {
    return this.host.includes(":") ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }
}

/** Kafka's only request without a response: Produce with acks=0. */
function isOneWay(apiKey: ApiKey, body: unknown): boolean {
  return apiKey === ApiKeys.Produce && (body as RequestBodies[typeof ApiKeys.Produce]).acks === 0;
}
