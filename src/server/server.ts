/**
 * The network server: binds the configured listeners, admits connections within
 * `max.connections` / `max.connections.per.ip`, runs a `Connection` per socket with the one
 * dispatcher it was given, and shuts down gracefully.
 *
 * Graceful shutdown (`stop`), in order:
 *  1. stop accepting (listeners closed; a connection that still arrives is refused);
 *  2. every connection stops reading, finishes its in-flight requests and writes their
 *     responses, then ends;
 *  3. connections still open after `shutdownTimeoutMs` are dropped (their unfinished
 *     requests are abandoned);
 *  4. shutdown hooks run one at a time, last registered first (storage flushes and
 *     checkpoints there); a failing hook is logged and the others still run;
 *  5. the promise resolves. `stop` is idempotent: later calls get the same promise.
 *
 * Lines about faults that close a connection (a bad frame, a request the client got wrong)
 * are rate-limited across all connections by remote address, client id and kind (one
 * `LogLimiter`, handed to every connection): a client that reconnects and retries the same
 * bad request writes its first line, then one line per interval with a count.
 *
 * Counters live in `ServerProbe`, not here.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { formatHostPort, type ConnectionEvents, type Listener, type NetConnection, type Network } from "../platform/network.ts";
import type { BufferPool } from "../util/buffer-pool.ts";
import type { Logger } from "../util/log.ts";
import { LogLimiter } from "../util/log-limiter.ts";
import { Connection, type Dispatcher } from "./connection.ts";
import type { FramePool } from "./frame-pool.ts";
import { repeatedLogIntervalMs, repeatedLogKindsPerServerMax, RequestBudget, type ConnectionLimits } from "./limits.ts";
import { ServerProbe } from "./probe.ts";

export interface ListenerSpec {
  /** Listener name from `listeners` (PLAINTEXT, CONTROLLER, ...). */
  readonly name: string;
  /** Address to bind; "0.0.0.0" or "::" for all interfaces. */
  readonly host: string;
  /** 0 asks for a free port. */
  readonly port: number;
}

export interface BoundListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** The connection-count limits, replaceable at run time (`Server.setConnectionCounts`). */
export interface ServerConnectionCounts {
  /** max.connections */
  readonly connectionsMax: number;
  /** max.connections.per.ip */
  readonly connectionsPerIpMax: number;
  /** max.connections.per.ip.overrides: address → limit. */
  readonly connectionsPerIpOverrides?: ReadonlyMap<string, number> | undefined;
}

export interface ServerOptions {
  readonly network: Network;
  readonly clock: Clock;
  readonly log: Logger;
  readonly dispatcher: Dispatcher;
  readonly listeners: readonly ListenerSpec[];
  readonly limits: ConnectionLimits;
  /** max.connections */
  readonly connectionsMax: number;
  /** max.connections.per.ip */
  readonly connectionsPerIpMax: number;
  /** max.connections.per.ip.overrides: address → limit. */
  readonly connectionsPerIpOverrides?: ReadonlyMap<string, number>;
  /** queued.max.request.bytes (already resolved to a positive bound). */
  readonly queuedRequestBytesMax: number;
  /** queued.max.requests */
  readonly queuedRequestsMax: number;
  /** How long `stop` lets in-flight requests finish before dropping connections. */
  readonly shutdownTimeoutMs: number;
  readonly probe?: ServerProbe;
  /** Receive buffers reused for large frames of its API keys (see frame-pool.ts). */
  readonly framePool?: FramePool | null;
  /** Passed to each connection: see ConnectionOptions.responseBuffers. */
  readonly responseBuffers?: BufferPool | null;
}

export type ShutdownHook = () => Promise<void> | void;

type ServerState = "created" | "running" | "stopping" | "stopped";

/** Minimum spacing of "connection refused" log lines, so a connection storm cannot flood the log. */
const refusalLogIntervalMs = 1_000;

export class Server {
  readonly probe: ServerProbe;
  readonly #options: ServerOptions;
  readonly #log: Logger;
  readonly #budget: RequestBudget;
  readonly #faultLog: LogLimiter;
  #state: ServerState = "created";
  #listeners: { spec: ListenerSpec; listener: Listener }[] = [];
  readonly #connections = new Set<Connection>();
  readonly #perIp = new Map<string, number>();
  #nextConnectionId = 1;
  readonly #hooks: { name: string; run: ShutdownHook }[] = [];
  readonly #drainHooks: { name: string; run: ShutdownHook }[] = [];
  #stopPromise: Promise<void> | null = null;
  #allClosed: (() => void) | null = null;
  #lastRefusalLogMs = Number.NEGATIVE_INFINITY;
  #connectionLimits: ServerConnectionCounts;
  #refusalsSuppressed = 0;

  constructor(options: ServerOptions) {
    if (options.listeners.length === 0) throw new Error("Server: at least one listener is required");
    if (!(options.connectionsMax >= 1 && options.connectionsPerIpMax >= 0)) {
      throw new Error(`Server: connectionsMax ${options.connectionsMax} must be >= 1 and connectionsPerIpMax ${options.connectionsPerIpMax} >= 0`);
    }
    this.#options = options;
    this.#connectionLimits = options;
    this.#log = options.log.child({ component: "server" });
    this.probe = options.probe ?? new ServerProbe();
    this.#budget = new RequestBudget(options.queuedRequestBytesMax, options.queuedRequestsMax);
    this.#faultLog = new LogLimiter({ clock: options.clock, intervalMs: repeatedLogIntervalMs, keysMax: repeatedLogKindsPerServerMax });
  }

  get state(): ServerState {
    return this.#state;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Bound listeners in configuration order (ports resolved). */
  get listeners(): readonly BoundListener[] {
    return this.#listeners.map(({ spec, listener }) => ({ name: spec.name, host: listener.host, port: listener.port }));
  }

  /**
   * Binds every listener. If one fails, those already bound are closed and the
   * `NetworkError` is thrown, so a half-started server never lingers.
   */
  start(): readonly BoundListener[] {
    if (this.#state !== "created") throw new Error(`Server.start: state is ${this.#state}`);
    for (const spec of this.#options.listeners) {
      try {
        const listener = this.#options.network.listen({
          host: spec.host,
          port: spec.port,
          accept: (socket) => this.#accept(spec, socket),
        });
        this.#listeners.push({ spec, listener });
        this.#log.info("listening", { listener: spec.name, address: formatHostPort(listener.host, listener.port) });
      } catch (error) {
        for (const { listener } of this.#listeners) listener.stop();
        this.#listeners = [];
        this.#state = "stopped";
        throw error;
      }
    }
    this.#state = "running";
    return this.listeners;
  }

  /**
   * Registers work to run as soon as `stop` begins, before it waits for in-flight requests:
   * completing long-polling operations (fetch purgatory, group joins) so they answer now
   * instead of holding their connections until the shutdown deadline.
   */
  addDrainHook(name: string, run: ShutdownHook): void {
    if (this.#state === "stopping" || this.#state === "stopped") throw new Error(`Server.addDrainHook(${name}): server is ${this.#state}`);
    this.#drainHooks.push({ name, run });
  }

  /** Registers work to run at the end of `stop` (last registered runs first). */
  addShutdownHook(name: string, run: ShutdownHook): void {
    if (this.#state === "stopping" || this.#state === "stopped") throw new Error(`Server.addShutdownHook(${name}): server is ${this.#state}`);
    this.#hooks.push({ name, run });
  }

  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  async #stop(): Promise<void> {
    const wasRunning = this.#state === "running";
    this.#state = "stopping";
    for (const { listener } of this.#listeners) listener.stop();
    if (wasRunning) this.#log.info("shutting down", { connections: this.#connections.size, timeoutMs: this.#options.shutdownTimeoutMs });
    for (const hook of this.#drainHooks) {
      try {
        await hook.run();
      } catch (error) {
        this.#log.error("drain hook failed", { hook: hook.name, error: error instanceof Error ? error : String(error) });
      }
    }

    if (this.#connections.size > 0) {
      const allClosed = new Promise<void>((resolve) => {
        this.#allClosed = resolve;
      });
      let deadline: CancelTimer | null = this.#options.clock.schedule(this.#options.shutdownTimeoutMs, () => {
        deadline = null;
        const left = [...this.#connections];
        this.#log.warn("shutdown deadline passed; dropping connections", { connections: left.length, timeoutMs: this.#options.shutdownTimeoutMs });
        for (const c of left) c.abort("shutdown deadline passed");
      });
      for (const c of [...this.#connections]) c.beginDrain();
      await allClosed;
      deadline?.();
    }
    this.#faultLog.close(); // the last counts, and no timers left behind

    for (const hook of [...this.#hooks].reverse()) {
      try {
        await hook.run();
      } catch (error) {
        this.#log.error("shutdown hook failed", { hook: hook.name, error: error instanceof Error ? error : String(error) });
      }
    }
    this.#state = "stopped";
    if (wasRunning) this.#log.info("stopped", { ...this.probe.snapshot() });
  }

  #accept(spec: ListenerSpec, socket: NetConnection): ConnectionEvents {
    const ip = socket.remoteAddress;
    const refusal = this.#refusalReason(ip);
    if (refusal !== null) {
      this.probe.connectionsRejected++;
      this.#logRefusal(refusal, spec.name, formatHostPort(ip, socket.remotePort));
      socket.close();
      return REFUSED_EVENTS;
    }
    const connection = new Connection({
      id: this.#nextConnectionId++,
      listenerName: spec.name,
      socket,
      dispatcher: this.#options.dispatcher,
      limits: this.#options.limits,
      budget: this.#budget,
      clock: this.#options.clock,
      log: this.#options.log,
      probe: this.probe,
      framePool: this.#options.framePool ?? null,
      responseBuffers: this.#options.responseBuffers ?? null,
      faultLog: this.#faultLog,
      onClosed: (c) => this.#onClosed(c),
    });
    this.#connections.add(connection);
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    this.#log.debug("connection accepted", { conn: connection.id, listener: spec.name, remote: formatHostPort(ip, socket.remotePort) });
    this.probe.connectionsAccepted++;
    this.probe.connectionsOpen = this.#connections.size;
    return connection;
  }

  /**
   * New connection-count limits at run time (dynamic broker configs): they decide the next
   * accepted connection; open connections above a lowered limit stay open, as in Kafka.
   */
  setConnectionCounts(limits: ServerConnectionCounts): void {
    if (!(limits.connectionsMax >= 1 && limits.connectionsPerIpMax >= 0)) {
      throw new Error(`Server: connectionsMax ${limits.connectionsMax} must be >= 1 and connectionsPerIpMax ${limits.connectionsPerIpMax} >= 0`);
    }
    this.#connectionLimits = { connectionsMax: limits.connectionsMax, connectionsPerIpMax: limits.connectionsPerIpMax, connectionsPerIpOverrides: limits.connectionsPerIpOverrides };
  }

  #refusalReason(ip: string): string | null {
    if (this.#state !== "running") return "server is shutting down";
    const limits = this.#connectionLimits;
    if (this.#connections.size >= limits.connectionsMax) {
      return `max.connections (${limits.connectionsMax}) reached`;
    }
    const perIpMax = limits.connectionsPerIpOverrides?.get(ip) ?? limits.connectionsPerIpMax;
    if ((this.#perIp.get(ip) ?? 0) >= perIpMax) return `max.connections.per.ip (${perIpMax}) reached for ${ip}`;
    return null;
  }

  #logRefusal(reason: string, listener: string, remote: string): void {
    const now = this.#options.clock.monotonicMs();
    if (now - this.#lastRefusalLogMs < refusalLogIntervalMs) {
      this.#refusalsSuppressed++;
      return;
    }
    this.#lastRefusalLogMs = now;
    const suppressed = this.#refusalsSuppressed;
    this.#refusalsSuppressed = 0;
    this.#log.warn("connection refused", { reason, listener, remote, ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}) });
  }

  #onClosed(connection: Connection): void {
    if (!this.#connections.delete(connection)) throw new Error(`Server: connection ${connection.id} closed twice or unknown`);
    const ip = connection.remoteAddress;
    const n = (this.#perIp.get(ip) ?? 0) - 1;
    if (!(n >= 0)) throw new Error(`Server: per-IP count for ${ip} went negative`);
    if (n === 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, n);
    this.probe.connectionsClosed++;
    this.probe.connectionsOpen = this.#connections.size;
    if (this.#connections.size === 0 && this.#allClosed !== null) {
      const resolve = this.#allClosed;
      this.#allClosed = null;
      resolve();
    }
  }
}

/** Events for a socket refused at accept: it is already being closed; ignore everything. */
const REFUSED_EVENTS: ConnectionEvents = {
  data: () => {},
  drain: () => {},
  close: () => {},
};
