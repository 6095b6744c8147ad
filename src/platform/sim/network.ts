/**
 * A simulated TCP network between in-process hosts, for the deterministic cluster simulator.
 * Every delay is a timer on the injected `Clock` (a `SimClock` in simulations) and every
 * random choice comes from the injected `Prng`, so a run is reproduced exactly by its seed.
 * Each host gets its own `Network` view (`host(address)`); connections between views honour
 * the contract of `src/platform/network.ts`, as the real adapter does (one conformance suite).
 *
 * Model (what the simulation keeps and what it simplifies):
 * - A connection is two directed streams of segments (syn, synack, ack, data, fin, rst). A
 *   segment is due `delayMs + uniform(0 … jitterMs)` (whole ms) after it was sent on its link (from host →
 *   to host; each direction configured separately), but never before the segment ahead of it:
 *   streams stay in order, as TCP's do. Same-host (loopback) links are never cut.
 * - Writes: each end may have `windowBytes` written but not yet read by its peer (TCP's send
 *   and receive buffers together); `write` takes what fits and a short write is followed by
 *   `drain` once the peer reads. Bytes taken are copied. With `splitWrites` (default on), a
 *   write's bytes travel as random chunks (some of 1–8 bytes), and chunks due together may be
 *   coalesced into one `data` event, so framing code sees split and merged reads.
 * - Drops: a data segment lost with `dropProbability` resets the connection when it falls due
 *   — both ends get `close(ECONNRESET)`, the bytes before it having been delivered. TCP would
 *   retransmit a lost segment (only delay, modelled by jitter); what an application can see of
 *   loss is the connection failing, so that is the fault simulated.
 * - Cuts (`cut`, `partition`, `isolate`): a segment due on a cut link is held, not lost, like
 *   TCP retransmitting it; `heal` (every link) or `uncut` (one direction) lets held segments
 *   through again (after one link delay). If
 *   data, fin or ack stays held for `stallTimeoutMs`, the sending end gives up: it gets
 *   `close(ETIMEDOUT)`, and its peer, which hears nothing, stays open until it writes (its
 *   bytes then meet a closed end, whose RST may again be held...) or its owner times out.
 *   There is no keepalive: an idle end across a cut stays open, so owners need timeouts.
 * - Connects: the SYN and SYN-ACK are held on a cut like data; the attempt fails with
 *   ETIMEDOUT after `connectTimeoutMs` (the kernel's SYN retries). Meanwhile the SYN is sent
 *   again after 1 s, 2 s, 4 s, ... as Linux does: a peer answers a repeated SYN with its
 *   SYN-ACK again, and a refusal whose RST was lost (on a cut) is made again — or, if the
 *   port is listened on by now, the connection is accepted. A port nobody listens on
 *   answers RST: ECONNREFUSED after a round trip. An address no host has: EHOSTUNREACH after
 *   `unreachableMs` (ARP giving up). The accepting side sees the connection (`accept`) when the
 *   client's ACK arrives, which is always before the client's first data.
 * - RST is not retransmitted: one due on a cut link is lost. `close()` sends RST after the data
 *   already sent; `end()` sends FIN after it. Like Bun's sockets, an end that calls `end()` is
 *   closed at once for its owner (`close` follows), and the peer closes when the FIN arrives.
 * - Bytes that reach an end already closed are discarded and answered with RST.
 * - Simplifications: one port space per host (a listener on a wildcard, loopback or the
 *   host's address is the same); no half-close; no Nagle; a paused end keeps receiving into its
 *   buffer up to the window (so its peer's writes go short), never beyond.
 *
 * Events are never delivered from inside a `NetConnection` method: work those methods start
 * is scheduled on the clock (delay 0 when immediate).
 */
import type { CancelTimer, Clock } from "../clock.ts";
import {
  type ConnectEvents,
  type ConnectionEvents,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type NetConnection,
  type Network,
  NetworkError,
  type NetworkErrorCode,
  ReceiverFailure,
} from "../network.ts";
import type { Prng } from "../prng.ts";

/** One direction between two hosts. */
export interface LinkConfig {
  /** One-way latency of every segment (whole ms). */
  readonly delayMs: number;
  /** Extra latency, a uniform whole number of ms in [0, jitterMs], per segment (order is kept regardless). */
  readonly jitterMs: number;
  /** Probability, per data segment, that it is lost and its connection reset. */
  readonly dropProbability: number;
}

export interface SimNetworkOptions {
  readonly clock: Clock;
  readonly prng: Prng;
  /** Default link configuration of every pair of hosts (`setLink` overrides per direction). */
  readonly link?: Partial<LinkConfig>;
  /** Split writes into random chunks and coalesce due chunks (default true). */
  readonly splitWrites?: boolean;
  /** Bytes an end may have written and not yet read by its peer. */
  readonly windowBytes?: number;
  /** How long an unanswered connect attempt lasts before ETIMEDOUT. */
  readonly connectTimeoutMs?: number;
  /** How long written bytes may stay undelivered on a cut link before the sender's ETIMEDOUT. */
  readonly stallTimeoutMs?: number;
  /** How long a connect to an address no host has takes to fail with EHOSTUNREACH. */
  readonly unreachableMs?: number;
}

export const simLinkDefault: LinkConfig = { delayMs: 1, jitterMs: 0, dropProbability: 0 };
export const simWindowBytesDefault = 256 * 1024;
export const simWindowBytesMin = 1;
export const simConnectTimeoutMsDefault = 30_000;
export const simStallTimeoutMsDefault = 60_000;
export const simUnreachableMsDefault = 3_000;
/** A connecting end sends its SYN again after 1 s, then 2, 4, ... (Linux's initial RTO, doubling). */
export const synRetransmitMsFirst = 1_000;
/** Ports handed out for `listen` on port 0, and local ports of outgoing connections. */
const listenPortFirst = 30_000;
const ephemeralPortFirst = 50_000;
const portMax = 65_535;
/** Share of write chunks that are tiny (1 … tinyChunkBytesMax bytes): split size prefixes. */
const tinyChunkShare = 0.25;
const tinyChunkBytesMax = 8;

const loopbackAddresses: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "::1"]);
const wildcardAddresses: ReadonlySet<string> = new Set(["0.0.0.0", "::", ""]);

type SegmentKind = "syn" | "synack" | "ack" | "data" | "fin" | "rst";

interface Segment {
  readonly kind: SegmentKind;
  /** Data bytes (kind "data" only). */
  readonly bytes: Uint8Array | null;
  readonly dueMs: number;
  /** A data segment that will be lost (resetting its connection). */
  readonly lost: boolean;
}

/**
 * States of one end:
 * - connecting: an outgoing attempt (waits for SYN-ACK); `open` → open.
 * - pending: the accepting side before the SYN arrives; → synReceived, or closed (refused).
 * - synReceived: SYN answered; the client's ACK → open (`accept` is called).
 * - open: established. Any → closed (once; no events after).
 */
type EndState = "connecting" | "pending" | "synReceived" | "open" | "closed";

interface SimHost {
  readonly address: string;
  readonly listeners: Map<number, { readonly options: ListenOptions; stopped: boolean }>;
  nextListenPort: number;
  nextEphemeralPort: number;
}

/** One direction of a connection: `from` end → `to` end. */
class Stream {
  readonly segments: Segment[] = [];
  head = 0;
  lastDueMs = Number.NEGATIVE_INFINITY;
  /** Bytes of data segments not yet delivered. */
  bytesInNetwork = 0;
  timer: CancelTimer | null = null;
  /** When the head segment first found its link cut, or null. */
  stalledSinceMs: number | null = null;
  stallTimer: CancelTimer | null = null;

  constructor(
    readonly from: End,
    readonly to: End,
  ) {}

  get pending(): number {
    return this.segments.length - this.head;
  }

  peek(): Segment | undefined {
    return this.segments[this.head];
  }

  shift(): Segment {
    const seg = this.segments[this.head];
    if (seg === undefined) throw new Error("Stream.shift: empty");
    this.head++;
    if (this.head > 64 && this.head * 2 > this.segments.length) {
      this.segments.splice(0, this.head);
      this.head = 0;
    }
    if (seg.bytes !== null) this.bytesInNetwork -= seg.bytes.length;
    return seg;
  }

  clear(): void {
    this.segments.length = 0;
    this.head = 0;
    this.bytesInNetwork = 0;
    this.timer?.();
    this.timer = null;
    this.stallTimer?.();
    this.stallTimer = null;
    this.stalledSinceMs = null;
  }
}

type Buffered = Uint8Array | "fin";

class End implements NetConnection {
  state: EndState;
  events: ConnectionEvents | null = null;
  connectEvents: ConnectEvents | null = null;
  /** Set once both ends exist. */
  out!: Stream;
  peer!: End;
  paused = false;
  /** Delivered while paused, in order; "fin" closes the end when reached. */
  buffered: Buffered[] = [];
  bufferedBytes = 0;
  flushScheduled = false;
  wantsDrain = false;
  connectTimer: CancelTimer | null = null;
  /** The next SYN retransmission of a connecting end. */
  synTimer: CancelTimer | null = null;
  localAddress = "";
  localPort = 0;

  constructor(
    readonly net: SimNetwork,
    readonly host: SimHost,
    state: EndState,
    public remoteAddress: string,
    public remotePort: number,
  ) {
    this.state = state;
  }

  write(bytes: Uint8Array): number {
    return this.net.writeEnd(this, bytes);
  }
  pause(): void {
    if (this.state !== "closed") this.paused = true;
  }
  resume(): void {
    if (this.state === "closed" || !this.paused) return;
    this.paused = false;
    this.net.scheduleFlush(this);
  }
  end(): void {
    this.net.endEnd(this);
  }
  close(): void {
    this.net.closeEnd(this);
  }
}

/** A simulated network; `host(address)` is each host's `Network`. */
export class SimNetwork {
  readonly #clock: Clock;
  readonly #prng: Prng;
  readonly #linkDefault: LinkConfig;
  readonly #links = new Map<string, LinkConfig>();
  readonly #cuts = new Set<string>();
  readonly #isolated = new Set<string>();
  readonly #hosts = new Map<string, SimHost>();
  readonly #stalled = new Set<Stream>();
  readonly #ends = new Set<End>();
  readonly #splitWrites: boolean;
  readonly #windowBytes: number;
  readonly #connectTimeoutMs: number;
  readonly #stallTimeoutMs: number;
  readonly #unreachableMs: number;
  /** Counters for tests and simulator reports. */
  readonly stats = { segmentsDelivered: 0, bytesDelivered: 0, connectionsOpened: 0, resets: 0, drops: 0, timeouts: 0 };

  constructor(options: SimNetworkOptions) {
    this.#clock = options.clock;
    this.#prng = options.prng;
    this.#linkDefault = checkLink({ ...simLinkDefault, ...options.link });
    this.#splitWrites = options.splitWrites ?? true;
    this.#windowBytes = options.windowBytes ?? simWindowBytesDefault;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? simConnectTimeoutMsDefault;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? simStallTimeoutMsDefault;
    this.#unreachableMs = options.unreachableMs ?? simUnreachableMsDefault;
    if (!(Number.isInteger(this.#windowBytes) && this.#windowBytes >= simWindowBytesMin)) {
      throw new RangeError(`SimNetwork: windowBytes ${this.#windowBytes} must be an integer >= ${simWindowBytesMin}`);
    }
    for (const [name, v] of [
      ["connectTimeoutMs", this.#connectTimeoutMs],
      ["stallTimeoutMs", this.#stallTimeoutMs],
      ["unreachableMs", this.#unreachableMs],
    ] as const) {
      if (!(v >= 0)) throw new RangeError(`SimNetwork: ${name} ${v} must be >= 0`);
    }
  }

  // ---- topology and faults ------------------------------------------------------------------

  /** The `Network` of the host with this address (created on first use). */
  host(address: string): Network {
    if (loopbackAddresses.has(address) || wildcardAddresses.has(address)) {
      throw new Error(`SimNetwork.host: ${JSON.stringify(address)} is not a host address`);
    }
    const host = this.#host(address);
    return {
      listen: (options) => this.#listen(host, options),
      connect: (options) => this.#connect(host, options),
    };
  }

  /** Configures the link `from` → `to` (one direction); unspecified fields keep their value. */
  setLink(from: string, to: string, config: Partial<LinkConfig>): void {
    this.#links.set(linkKey(from, to), checkLink({ ...this.#link(from, to), ...config }));
  }

  /** Stops delivery from `from` to `to` (one way) until `heal`. */
  cut(from: string, to: string): void {
    if (from !== to) this.#cuts.add(linkKey(from, to));
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut(x, y);
        this.cut(y, x);
      }
    }
  }

  /** Cuts a host from every other host, both ways (loopback still works). */
  isolate(address: string): void {
    this.#isolated.add(address);
  }

  /** Removes every cut and isolation; held segments go through after one link delay. */
  heal(): void {
    this.#cuts.clear();
    this.#isolated.clear();
    this.#release();
  }

  /**
   * Removes the cut `from` → `to` only (other cuts and isolations stay); segments it held go
   * through after one link delay, as after `heal`.
   */
  uncut(from: string, to: string): void {
    if (this.#cuts.delete(linkKey(from, to))) this.#release();
  }

  /** Lets the held streams whose link is no longer cut go on, after one link delay. */
  #release(): void {
    const now = this.#clock.monotonicMs();
    for (const stream of [...this.#stalled]) {
      if (this.#isCut(stream)) continue;
      this.#stalled.delete(stream);
      stream.stalledSinceMs = null;
      stream.stallTimer?.();
      stream.stallTimer = null;
      stream.timer?.();
      stream.timer = null;
      this.#arm(stream, now + this.#link(stream.from.host.address, stream.to.host.address).delayMs);
    }
  }

  /** Resets every open connection between hosts `a` and `b` (or every one of `a`): both ends get ECONNRESET. */
  resetConnections(a: string, b?: string): void {
    for (const end of [...this.#ends]) {
      const x = end.host.address;
      const y = end.peer.host.address;
      const matches = b === undefined ? x === a || y === a : (x === a && y === b) || (x === b && y === a);
      if (matches && end.state !== "closed") this.#reset(end, "ECONNRESET");
    }
  }

  /** Ends (either side) not yet closed: for leak checks in tests. */
  openEnds(): number {
    let n = 0;
    for (const end of this.#ends) if (end.state === "open" || end.state === "connecting") n++;
    return n;
  }

  // ---- listen / connect ---------------------------------------------------------------------

  #host(address: string): SimHost {
    let host = this.#hosts.get(address);
    if (host === undefined) {
      host = { address, listeners: new Map(), nextListenPort: listenPortFirst, nextEphemeralPort: ephemeralPortFirst };
      this.#hosts.set(address, host);
    }
    return host;
  }

  #listen(host: SimHost, options: ListenOptions): Listener {
    const bindable = options.host === host.address || loopbackAddresses.has(options.host) || wildcardAddresses.has(options.host);
    if (!bindable) throw new NetworkError("listen", "EADDRNOTAVAIL", options.host, options.port, `not an address of host ${host.address}`);
    if (!(Number.isInteger(options.port) && options.port >= 0 && options.port <= portMax)) {
      throw new NetworkError("listen", "EINVAL", options.host, options.port, "port out of range");
    }
    let port = options.port;
    if (port === 0) {
      while (host.listeners.has(host.nextListenPort)) host.nextListenPort++;
      port = host.nextListenPort++;
      if (port > portMax) throw new NetworkError("listen", "EADDRINUSE", options.host, 0, "no free port");
    } else if (host.listeners.has(port)) {
      throw new NetworkError("listen", "EADDRINUSE", options.host, port);
    }
    const entry = { options, stopped: false };
    host.listeners.set(port, entry);
    return {
      host: options.host,
      port,
      stop: () => {
        if (entry.stopped) return;
        entry.stopped = true;
        if (host.listeners.get(port) === entry) host.listeners.delete(port);
      },
    };
  }

  #connect(from: SimHost, options: ConnectOptions): NetConnection {
    const loopback = loopbackAddresses.has(options.host) || options.host === from.address;
    const to = loopback ? from : this.#hosts.get(options.host);
    const client = new End(this, from, "connecting", loopback ? "127.0.0.1" : options.host, options.port);
    client.connectEvents = options.events;
    client.events = options.events;
    this.#ends.add(client);
    if (to === undefined) {
      client.connectTimer = this.#clock.schedule(this.#unreachableMs, () => {
        client.connectTimer = null;
        this.#failConnect(client, "EHOSTUNREACH");
      });
      // A peer that does not exist: a closed stand-in, so `peer`/`out` are always set.
      const ghost = new End(this, from, "closed", "", 0);
      link(client, ghost);
      return client;
    }
    client.localAddress = loopback ? "127.0.0.1" : from.address;
    if (from.nextEphemeralPort > portMax) from.nextEphemeralPort = ephemeralPortFirst;
    client.localPort = from.nextEphemeralPort++;
    const server = new End(this, to, "pending", client.localAddress, client.localPort);
    server.localAddress = loopback ? "127.0.0.1" : to.address;
    server.localPort = options.port;
    this.#ends.add(server);
    link(client, server);
    client.connectTimer = this.#clock.schedule(this.#connectTimeoutMs, () => {
      client.connectTimer = null;
      this.#failConnect(client, "ETIMEDOUT");
    });
    this.#send(client.out, "syn", null);
    this.#armSynRetransmit(client, synRetransmitMsFirst);
    return client;
  }

  /** While `end` is connecting, its SYN goes again after `rtoMs`, then after twice that, ... */
  #armSynRetransmit(end: End, rtoMs: number): void {
    end.synTimer = this.#clock.schedule(rtoMs, () => {
      end.synTimer = null;
      if (end.state !== "connecting") return;
      this.#send(end.out, "syn", null);
      this.#armSynRetransmit(end, rtoMs * 2);
    });
  }

  // ---- NetConnection methods: called by End only (the class is not exported) ----------------

  writeEnd(end: End, bytes: Uint8Array): number {
    if (end.state === "closed") return -1;
    if (end.state !== "open") return 0;
    const used = end.out.bytesInNetwork + end.peer.bufferedBytes;
    const n = Math.min(bytes.length, Math.max(0, this.#windowBytes - used));
    if (n < bytes.length) end.wantsDrain = true;
    if (n === 0) return 0;
    const copy = bytes.slice(0, n);
    if (!this.#splitWrites) {
      this.#send(end.out, "data", copy);
      return n;
    }
    let at = 0;
    while (at < n) {
      const left = n - at;
      const size = this.#prng.nextFloat() < tinyChunkShare ? 1 + this.#prng.int(Math.min(left, tinyChunkBytesMax)) : 1 + this.#prng.int(left);
      this.#send(end.out, "data", copy.subarray(at, at + size));
      at += size;
    }
    return n;
  }

  endEnd(end: End): void {
    if (end.state === "closed") return;
    if (end.state !== "open") {
      this.closeEnd(end);
      return;
    }
    this.#markClosed(end);
    this.#send(end.out, "fin", null);
    this.#later(() => this.#emitClose(end, undefined));
  }

  closeEnd(end: End): void {
    if (end.state === "closed") return;
    const wasOpen = end.state === "open";
    this.#markClosed(end);
    if (wasOpen) this.#send(end.out, "rst", null);
    this.#later(() => this.#emitClose(end, undefined));
  }

  scheduleFlush(end: End): void {
    if (end.flushScheduled) return;
    end.flushScheduled = true;
    this.#later(() => {
      end.flushScheduled = false;
      this.#flushBuffered(end);
    });
  }

  // ---- segments -----------------------------------------------------------------------------

  #link(from: string, to: string): LinkConfig {
    return this.#links.get(linkKey(from, to)) ?? this.#linkDefault;
  }

  #isCut(stream: Stream): boolean {
    const from = stream.from.host.address;
    const to = stream.to.host.address;
    if (from === to) return false;
    return this.#cuts.has(linkKey(from, to)) || this.#isolated.has(from) || this.#isolated.has(to);
  }

  #send(stream: Stream, kind: SegmentKind, bytes: Uint8Array | null): void {
    const link = this.#link(stream.from.host.address, stream.to.host.address);
    const now = this.#clock.monotonicMs();
    const jitter = link.jitterMs > 0 ? this.#prng.int(link.jitterMs + 1) : 0;
    const dueMs = Math.max(now + link.delayMs + jitter, stream.lastDueMs);
    const lost = kind === "data" && link.dropProbability > 0 && this.#prng.nextFloat() < link.dropProbability;
    stream.lastDueMs = dueMs;
    stream.segments.push({ kind, bytes, dueMs, lost });
    if (bytes !== null) stream.bytesInNetwork += bytes.length;
    if (stream.timer === null && stream.stalledSinceMs === null) this.#arm(stream, dueMs);
  }

  #arm(stream: Stream, atMs: number): void {
    const head = stream.peek();
    if (head === undefined || stream.timer !== null) return;
    const now = this.#clock.monotonicMs();
    const due = Math.max(atMs, head.dueMs, now);
    stream.timer = this.#clock.schedule(due - now, () => {
      stream.timer = null;
      this.#deliverDue(stream);
    });
  }

  /** Delivers every segment of `stream` that is due, in order, until one is held. */
  #deliverDue(stream: Stream): void {
    for (;;) {
      const seg = stream.peek();
      if (seg === undefined) return;
      const now = this.#clock.monotonicMs();
      if (seg.dueMs > now) {
        this.#arm(stream, seg.dueMs);
        return;
      }
      if (this.#isCut(stream)) {
        if (seg.kind === "rst") {
          stream.shift(); // not retransmitted: lost
          continue;
        }
        this.#stall(stream, seg);
        return;
      }
      stream.shift();
      this.stats.segmentsDelivered++;
      this.#arrive(stream, seg);
    }
  }

  #stall(stream: Stream, seg: Segment): void {
    if (stream.stalledSinceMs !== null) return;
    stream.stalledSinceMs = this.#clock.monotonicMs();
    this.#stalled.add(stream);
    // A held SYN / SYN-ACK is bounded by the connect timeout instead.
    if (seg.kind === "syn" || seg.kind === "synack") return;
    stream.stallTimer = this.#clock.schedule(this.#stallTimeoutMs, () => {
      stream.stallTimer = null;
      const sender = stream.from;
      this.stats.timeouts++;
      if (sender.state === "open") this.#fail(sender, "ETIMEDOUT");
      else this.#clear(stream);
    });
  }

  #arrive(stream: Stream, seg: Segment): void {
    const to = stream.to;
    const from = stream.from;
    switch (seg.kind) {
      case "syn": {
        // A retransmitted SYN: answered again (its SYN-ACK may have been lost), or, at an end
        // that refused it while the client still waits (the RST was lost), considered anew.
        if (to.state === "synReceived") {
          this.#send(to.out, "synack", null);
          return;
        }
        if (to.state === "closed" && from.state === "connecting") {
          to.state = "pending";
          this.#ends.add(to);
        }
        if (to.state !== "pending") return;
        const listener = to.host.listeners.get(to.localPort);
        if (listener === undefined || listener.stopped) {
          this.#markClosed(to);
          this.#send(to.out, "rst", null);
          return;
        }
        to.state = "synReceived";
        this.#send(to.out, "synack", null);
        return;
      }
      case "synack": {
        if (to.state !== "connecting") {
          if (to.state === "closed") this.#send(to.out, "rst", null);
          return;
        }
        to.connectTimer?.();
        to.connectTimer = null;
        to.state = "open";
        this.stats.connectionsOpened++;
        this.#send(to.out, "ack", null);
        const events = to.connectEvents;
        if (events !== null) this.#guard(to, "open", () => events.open());
        return;
      }
      case "ack": {
        if (to.state !== "synReceived") return;
        const listener = to.host.listeners.get(to.localPort);
        if (listener === undefined || listener.stopped) {
          this.#markClosed(to);
          this.#send(to.out, "rst", null);
          return;
        }
        to.state = "open";
        try {
          to.events = listener.options.accept(to);
        } catch (error) {
          this.#fail(to, new ReceiverFailure("accept", error));
        }
        return;
      }
      case "data": {
        const bytes = seg.bytes;
        if (bytes === null) throw new Error("SimNetwork: data segment without bytes");
        if (seg.lost) {
          this.stats.drops++;
          this.#reset(to, "ECONNRESET");
          this.#reset(from, "ECONNRESET");
          return;
        }
        if (to.state === "closed") {
          this.#clear(stream);
          if (from.state === "open") this.#send(to.out, "rst", null);
          return;
        }
        if (to.state !== "open") throw new Error(`SimNetwork: data reached an end in state ${to.state}`);
        const merged = this.#coalesce(stream, bytes);
        this.stats.bytesDelivered += merged.length;
        if (to.paused || to.bufferedBytes > 0) {
          to.buffered.push(merged);
          to.bufferedBytes += merged.length;
          return;
        }
        this.#deliverData(to, merged);
        return;
      }
      case "fin": {
        if (to.state !== "open") return;
        if (to.paused || to.buffered.length > 0) {
          to.buffered.push("fin");
          return;
        }
        this.#markClosed(to);
        this.#emitClose(to, undefined);
        return;
      }
      case "rst": {
        if (to.state === "connecting") this.#failConnect(to, "ECONNREFUSED");
        else if (to.state === "open") this.#fail(to, "ECONNRESET", false);
        else if (to.state !== "closed") this.#markClosed(to);
        return;
      }
      default: {
        const never: never = seg.kind;
        throw new Error(`SimNetwork: segment kind ${String(never)}`);
      }
    }
  }

  /** Joins, with probability 1/2 each, the data segments right behind `first` that are due too. */
  #coalesce(stream: Stream, first: Uint8Array): Uint8Array {
    if (!this.#splitWrites) return first;
    const parts = [first];
    let total = first.length;
    const now = this.#clock.monotonicMs();
    for (;;) {
      const next = stream.peek();
      if (next === undefined || next.kind !== "data" || next.lost || next.dueMs > now || this.#prng.nextFloat() < 0.5) break;
      const seg = stream.shift();
      if (seg.bytes === null) break;
      parts.push(seg.bytes);
      total += seg.bytes.length;
    }
    if (parts.length === 1) return first;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  #deliverData(to: End, bytes: Uint8Array): void {
    const events = to.events;
    if (events !== null) this.#guard(to, "data", () => events.data(bytes));
    this.#maybeDrain(to.peer);
  }

  #flushBuffered(end: End): void {
    while (end.state === "open" && !end.paused && end.buffered.length > 0) {
      const item = end.buffered.shift() as Buffered;
      if (item === "fin") {
        this.#markClosed(end);
        this.#emitClose(end, undefined);
        return;
      }
      end.bufferedBytes -= item.length;
      this.#deliverData(end, item);
    }
  }

  /** Tells a writer that was refused bytes that the window has room again. */
  #maybeDrain(writer: End): void {
    if (!writer.wantsDrain || writer.state !== "open") return;
    if (writer.out.bytesInNetwork + writer.peer.bufferedBytes >= this.#windowBytes) return;
    writer.wantsDrain = false;
    this.#later(() => {
      const events = writer.events;
      if (writer.state === "open" && events !== null) this.#guard(writer, "drain", () => events.drain());
    });
  }

  // ---- closing ------------------------------------------------------------------------------

  #markClosed(end: End): void {
    end.state = "closed";
    end.connectTimer?.();
    end.connectTimer = null;
    end.synTimer?.();
    end.synTimer = null;
    end.buffered = [];
    end.bufferedBytes = 0;
    end.wantsDrain = false;
    this.#ends.delete(end);
  }

  /** Closes `end` with an error now (from a timer, never inside a method of `end`). */
  #fail(end: End, error: NetworkErrorCode | Error, sendRst = true): void {
    if (end.state === "closed") return;
    const wasOpen = end.state === "open";
    this.#markClosed(end);
    this.#clear(end.out);
    if (sendRst && wasOpen) this.#send(end.out, "rst", null);
    const err = typeof error === "string" ? new NetworkError("io", error, end.remoteAddress, end.remotePort) : error;
    this.#emitClose(end, err);
  }

  #reset(end: End, code: NetworkErrorCode): void {
    if (end.state === "closed") return;
    this.stats.resets++;
    if (end.state === "connecting") this.#failConnect(end, code);
    else if (end.state === "open") this.#fail(end, code, false);
    else this.#markClosed(end);
    this.#clear(end.out);
  }

  #failConnect(end: End, code: NetworkErrorCode): void {
    if (end.state !== "connecting") return;
    if (code === "ETIMEDOUT") this.stats.timeouts++;
    this.#markClosed(end);
    this.#clear(end.out);
    this.#emitClose(end, new NetworkError("connect", code, end.remoteAddress, end.remotePort));
  }

  /** Drops everything `stream` still carries (its sender is gone). */
  #clear(stream: Stream): void {
    stream.clear();
    this.#stalled.delete(stream);
  }

  #emitClose(end: End, error: Error | undefined): void {
    const events = end.events;
    end.events = null;
    end.connectEvents = null;
    if (events === null) return;
    try {
      events.close(error);
    } catch {
      // The receiver's close handler failed; the connection is gone either way.
    }
  }

  /** Runs a receiver callback; an exception drops that connection with a ReceiverFailure. */
  #guard(end: End, event: "open" | "data" | "drain", fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#fail(end, new ReceiverFailure(event, error));
    }
  }

  #later(fn: () => void): void {
    this.#clock.schedule(0, fn);
  }
}

function link(client: End, server: End): void {
  client.peer = server;
  server.peer = client;
  client.out = new Stream(client, server);
  server.out = new Stream(server, client);
}

function linkKey(from: string, to: string): string {
  return `${from}>${to}`;
}

function checkLink(link: LinkConfig): LinkConfig {
  // Whole milliseconds: timers at fractional times would make the clock's wall time fractional,
  // and record timestamps taken from it would not be integers.
  if (!(Number.isInteger(link.delayMs) && link.delayMs >= 0 && Number.isInteger(link.jitterMs) && link.jitterMs >= 0)) {
    throw new RangeError(`SimNetwork: delayMs ${link.delayMs} and jitterMs ${link.jitterMs} must be integers >= 0`);
  }
  if (!(link.dropProbability >= 0 && link.dropProbability <= 1)) throw new RangeError(`SimNetwork: dropProbability ${link.dropProbability} must be in [0, 1]`);
  return link;
}
