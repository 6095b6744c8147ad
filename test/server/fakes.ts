/**
 * Test doubles for the network: a scripted socket that takes at most `acceptPerWrite` bytes per
 * write (Bun's partial writes) until the test drains it, and a `Network` whose listeners hand
 * out such sockets. Also frame helpers.
 */
import type { ConnectionEvents, Listener, ListenOptions, NetConnection, Network } from "../../src/platform/network.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { Connection, type Dispatcher } from "../../src/server/connection.ts";
import type { FramePool } from "../../src/server/frame-pool.ts";
import { RequestBudget, type ConnectionLimits } from "../../src/server/limits.ts";
import { ServerProbe } from "../../src/server/probe.ts";
import type { BufferPool } from "../../src/util/buffer-pool.ts";
import { Server, type ServerOptions } from "../../src/server/server.ts";
import { Logger, memorySink, type LogLevel } from "../../src/util/log.ts";

export class FakeSocket implements NetConnection {
  remoteAddress: string;
  remotePort: number;
  localAddress = "127.0.0.1";
  localPort = 9092;
  /** Bytes the socket accepts before it needs a drain; Infinity = never full. */
  acceptPerWrite: number;
  #room: number;
  written: number[] = [];
  writes = 0;
  paused = false;
  pauseCalls = 0;
  ended = false;
  closed = false;

  constructor(acceptPerWrite = Number.POSITIVE_INFINITY, remoteAddress = "10.0.0.1", remotePort = 40000) {
    this.acceptPerWrite = acceptPerWrite;
    this.#room = acceptPerWrite;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
  }
  write(bytes: Uint8Array): number {
    if (this.closed || this.ended) return -1;
    this.writes++;
    const n = Math.min(bytes.length, this.#room);
    for (let i = 0; i < n; i++) this.written.push(bytes[i] ?? 0);
    this.#room -= n;
    return n;
  }
  /** Empties the socket's buffer: it accepts `acceptPerWrite` bytes again. */
  refill(): void {
    this.#room = this.acceptPerWrite;
  }
  get full(): boolean {
    return this.#room === 0;
  }
  pause(): void {
    this.paused = true;
    this.pauseCalls++;
  }
  resume(): void {
    this.paused = false;
  }
  end(): void {
    this.ended = true;
  }
  close(): void {
    this.closed = true;
  }
}

/** Size-prefixed frame. */
export function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setInt32(0, body.length);
  out.set(body, 4);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits a byte stream of size-prefixed frames into bodies; throws on a torn tail. */
export function parseFrames(bytes: readonly number[] | Uint8Array): Uint8Array[] {
  const b = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < b.length) {
    if (o + 4 > b.length) throw new Error(`torn size prefix at ${o}`);
    const size = new DataView(b.buffer, b.byteOffset + o).getInt32(0);
    if (o + 4 + size > b.length) throw new Error(`torn frame at ${o}`);
    out.push(b.slice(o + 4, o + 4 + size));
    o += 4 + size;
  }
  return out;
}

export const testLimits: ConnectionLimits = {
  requestFrameBytesMax: 1024 * 1024,
  inflightRequestsMax: 100,
  inflightRequestBytesMax: 16 * 1024 * 1024,
  queuedResponseBytesMax: 16 * 1024 * 1024,
  idleTimeoutMs: 600_000,
};

export interface Harness {
  conn: Connection;
  socket: FakeSocket;
  clock: SimClock;
  probe: ServerProbe;
  budget: RequestBudget;
  logs: ReturnType<typeof memorySink>;
  closed: () => boolean;
}

export function harness(
  dispatcher: Dispatcher,
  options: {
    limits?: Partial<ConnectionLimits>;
    acceptPerWrite?: number;
    budget?: RequestBudget;
    clock?: SimClock;
    framePool?: FramePool;
    responseBuffers?: BufferPool;
  } = {},
): Harness {
  const socket = new FakeSocket(options.acceptPerWrite);
  const clock = options.clock ?? new SimClock();
  const probe = new ServerProbe();
  const budget = options.budget ?? new RequestBudget(1 << 30, 100_000);
  const logs = memorySink();
  let closed = false;
  const conn = new Connection({
    id: 1,
    listenerName: "PLAINTEXT",
    socket,
    dispatcher,
    limits: { ...testLimits, ...options.limits },
    budget,
    clock,
    log: new Logger({ sink: logs.sink, level: "debug", nowMs: () => clock.nowMs() }),
    probe,
    framePool: options.framePool ?? null,
    responseBuffers: options.responseBuffers ?? null,
    onClosed: () => {
      if (closed) throw new Error("onClosed twice");
      closed = true;
    },
  });
  return { conn, socket, clock, probe, budget, logs, closed: () => closed };
}

/** Lets pending promise callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

/** A Network whose listeners are driven by the test: `arrive` makes a FakeSocket connect to one. */
export class FakeNetwork implements Network {
  listeners: { options: ListenOptions; stopped: boolean; port: number }[] = [];
  #nextPort = 30000;
  listen(options: ListenOptions): Listener {
    const entry = { options, stopped: false, port: options.port === 0 ? this.#nextPort++ : options.port };
    this.listeners.push(entry);
    return {
      host: options.host,
      port: entry.port,
      stop: () => {
        entry.stopped = true;
      },
    };
  }
  connect(): NetConnection {
    throw new Error("FakeNetwork: outgoing connections are not simulated here (see src/platform/sim/network.ts)");
  }
  arrive(index: number, socket: FakeSocket): ConnectionEvents {
    const l = this.listeners[index];
    if (l === undefined) throw new Error(`no listener ${index}`);
    return l.options.accept(socket);
  }
}

/**
 * A started Server on a FakeNetwork with generous limits, its log kept in memory; `overrides`
 * replace any option. Connect clients with `network.arrive(0, socket)`.
 */
export function fakeServer(dispatcher: Dispatcher, overrides: Partial<ServerOptions> = {}, clock = new SimClock(), level: LogLevel = "debug") {
  const network = new FakeNetwork();
  const logs = memorySink();
  const server = new Server({
    network,
    clock,
    log: new Logger({ sink: logs.sink, level, nowMs: () => clock.nowMs() }),
    dispatcher,
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0 }],
    limits: testLimits,
    connectionsMax: 1000,
    connectionsPerIpMax: 1000,
    queuedRequestBytesMax: 1 << 30,
    queuedRequestsMax: 10_000,
    shutdownTimeoutMs: 30_000,
    ...overrides,
  });
  server.start();
  return { server, network, clock, logs };
}
