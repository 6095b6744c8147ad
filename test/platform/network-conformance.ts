/**
 * The Network conformance suite: the real (Bun) and simulated networks must both pass it, so
 * code tested on the simulator behaves the same on TCP. It checks the contract written in
 * src/platform/network.ts: connect outcomes, event order (open before data, exactly one close,
 * nothing after it), no events from inside a NetConnection method, short writes + drain,
 * graceful end, abandoned attempts, receiver failures, listener stop, pause/resume.
 */
import { describe, expect, test } from "bun:test";
import { type ConnectEvents, type NetConnection, type Network, NetworkError, ReceiverFailure } from "../../src/platform/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";

export interface NetworkUnderTest {
  /** The network listeners are opened on. */
  server: Network;
  /** The network connections are made from. */
  client: Network;
  /** The address the client uses to reach the server's listeners. */
  serverHost: string;
  /** An address nobody answers for (unresolvable or unreachable). */
  nowhereHost: string;
  /** Lets a little time pass (real: a sleep; simulated: the clock moves). */
  step(): Promise<void>;
  cleanup(): void;
}

/** Set while the test is inside a NetConnection method: an event then is a contract violation. */
let insideMethod = false;
function call<T>(fn: () => T): T {
  insideMethod = true;
  try {
    return fn();
  } finally {
    insideMethod = false;
  }
}

/** Records one connection's events and checks their order. */
export class Recorder implements ConnectEvents {
  opened = false;
  closed = false;
  closeError: Error | undefined = undefined;
  chunks: Uint8Array[] = [];
  bytes = 0;
  drains = 0;
  readonly violations: string[] = [];
  onData: ((bytes: Uint8Array) => void) | null = null;
  onDrain: (() => void) | null = null;

  #check(event: string): void {
    if (insideMethod) this.violations.push(`${event} delivered from inside a NetConnection method`);
    if (this.closed) this.violations.push(`${event} after close`);
  }
  open(): void {
    this.#check("open");
    if (this.opened) this.violations.push("open twice");
    this.opened = true;
  }
  data(bytes: Uint8Array): void {
    this.#check("data");
    this.chunks.push(bytes);
    this.bytes += bytes.length;
    this.onData?.(bytes);
  }
  drain(): void {
    this.#check("drain");
    this.drains++;
    this.onDrain?.();
  }
  close(error?: Error): void {
    this.#check("close");
    this.closed = true;
    this.closeError = error;
  }
  received(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Writes `bytes` through short writes and drains; resolves once all were taken. */
export function writeAll(conn: NetConnection, rec: Recorder, bytes: Uint8Array): { done: () => boolean; shortWrites: () => number } {
  let at = 0;
  let short = 0;
  const pump = (): void => {
    while (at < bytes.length) {
      const n = call(() => conn.write(bytes.subarray(at)));
      if (n < 0) return;
      at += n;
      if (at < bytes.length) {
        short++;
        return;
      }
    }
  };
  rec.onDrain = pump;
  pump();
  return { done: () => at === bytes.length, shortWrites: () => short };
}

export function networkConformance(name: string, make: () => NetworkUnderTest): void {
  describe(`Network conformance: ${name}`, () => {
    const withNet = (fn: (n: NetworkUnderTest, until: (cond: () => boolean, what: string, stepsMax?: number) => Promise<void>) => Promise<void>) => async () => {
      const n = make();
      const until = async (cond: () => boolean, what: string, stepsMax = 20_000): Promise<void> => {
        for (let i = 0; i < stepsMax; i++) {
          if (cond()) return;
          await n.step();
        }
        throw new Error(`${name}: timed out waiting for ${what}`);
      };
      try {
        await fn(n, until);
      } finally {
        n.cleanup();
      }
    };

    /** A listener that records each accepted connection; `echo` writes back what arrives. */
    const listen = (n: NetworkUnderTest, echo: boolean) => {
      const accepted: { conn: NetConnection; rec: Recorder }[] = [];
      const listener = n.server.listen({
        host: n.serverHost,
        port: 0,
        accept(conn) {
          const rec = new Recorder();
          rec.opened = true;
          if (echo) {
            const out: Uint8Array[] = [];
            const pump = (): void => {
              while (out.length > 0) {
                const head = out[0] as Uint8Array;
                const w = conn.write(head);
                if (w < 0) return;
                if (w < head.length) {
                  out[0] = head.subarray(w);
                  return;
                }
                out.shift();
              }
            };
            rec.onData = (b) => {
              out.push(b);
              pump();
            };
            rec.onDrain = pump;
          }
          accepted.push({ conn, rec });
          return rec;
        },
      });
      return { listener, accepted };
    };

    const connect = (n: NetworkUnderTest, port: number, host = n.serverHost) => {
      const rec = new Recorder();
      const conn = call(() => n.client.connect({ host, port, events: rec }));
      return { conn, rec };
    };

    test(
      "connect opens; bytes go both ways; addresses match on both sides",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, true);
        const { conn, rec } = connect(n, listener.port);
        expect(rec.opened).toBe(false);
        expect(conn.write(new Uint8Array([1]))).toBe(0);
        await until(() => rec.opened && accepted.length === 1, "open + accept");
        const server = accepted[0]!;
        expect(conn.remotePort).toBe(listener.port);
        expect(conn.localPort).toBeGreaterThan(0);
        expect(server.conn.remotePort).toBe(conn.localPort);
        expect(server.conn.remoteAddress).toBe(conn.localAddress);
        expect(server.conn.localPort).toBe(listener.port);
        const msg = new TextEncoder().encode("hello, broker");
        writeAll(conn, rec, msg);
        await until(() => rec.bytes === msg.length, "echo");
        expect(rec.received()).toEqual(msg);
        call(() => conn.close());
        await until(() => rec.closed && server.rec.closed, "close both sides");
        expect(rec.closeError).toBeUndefined();
        expect(call(() => conn.write(msg))).toBe(-1);
        expect(rec.violations).toEqual([]);
        expect(server.rec.violations).toEqual([]);
        listener.stop();
      }),
    );

    test(
      "large transfers through short writes and drain arrive whole and in order",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, true);
        const { conn, rec } = connect(n, listener.port);
        await until(() => rec.opened, "open");
        const payload = new SeededPrng(11).fill(new Uint8Array(3 * 1024 * 1024 + 17));
        const w = writeAll(conn, rec, payload);
        await until(() => rec.bytes === payload.length, "echo of 3 MiB", 200_000);
        expect(w.done()).toBe(true);
        expect(rec.received()).toEqual(payload);
        if (w.shortWrites() > 0) expect(rec.drains).toBeGreaterThan(0);
        call(() => conn.end());
        await until(() => rec.closed && accepted[0]!.rec.closed, "closed");
        expect(rec.violations).toEqual([]);
        expect(accepted[0]!.rec.violations).toEqual([]);
        listener.stop();
      }),
    );

    test(
      "a port nobody listens on: one close(NetworkError connect ECONNREFUSED), never open",
      withNet(async (n, until) => {
        const probe = n.server.listen({ host: n.serverHost, port: 0, accept: () => new Recorder() });
        const port = probe.port;
        probe.stop();
        const { conn, rec } = connect(n, port);
        await until(() => rec.closed, "refusal");
        expect(rec.opened).toBe(false);
        expect(rec.closeError).toBeInstanceOf(NetworkError);
        const err = rec.closeError as NetworkError;
        expect(err.op).toBe("connect");
        expect(err.code).toBe("ECONNREFUSED");
        expect(call(() => conn.write(new Uint8Array([1])))).toBe(-1);
        call(() => conn.close());
        await n.step();
        expect(rec.violations).toEqual([]);
      }),
    );

    test(
      "an address nobody answers: close(NetworkError connect), never open",
      withNet(async (n, until) => {
        const { rec } = connect(n, 9092, n.nowhereHost);
        await until(() => rec.closed, "failure", 60_000);
        expect(rec.opened).toBe(false);
        expect(rec.closeError).toBeInstanceOf(NetworkError);
        expect((rec.closeError as NetworkError).op).toBe("connect");
        expect(["ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT"]).toContain((rec.closeError as NetworkError).code);
        expect(rec.violations).toEqual([]);
      }),
    );

    test(
      "close() while connecting: close without open, exactly once",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, false);
        const { conn, rec } = connect(n, listener.port);
        call(() => conn.close());
        expect(rec.closed).toBe(false);
        await until(() => rec.closed, "close");
        for (let i = 0; i < 50; i++) await n.step();
        expect(rec.opened).toBe(false);
        expect(rec.closeError).toBeUndefined();
        // The server may have seen the connection; if so it is closed too.
        await until(() => accepted.every((a) => a.rec.closed), "server side closed");
        expect(rec.violations).toEqual([]);
        listener.stop();
      }),
    );

    test(
      "end() delivers everything written before it; the peer then closes without error",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, false);
        const { conn, rec } = connect(n, listener.port);
        await until(() => rec.opened && accepted.length === 1, "open");
        const payload = new SeededPrng(5).fill(new Uint8Array(200_000));
        const w = writeAll(conn, rec, payload);
        await until(() => w.done(), "all written");
        call(() => conn.end());
        const server = accepted[0]!;
        await until(() => server.rec.closed && rec.closed, "both closed");
        expect(server.rec.received()).toEqual(payload);
        expect(server.rec.closeError).toBeUndefined();
        expect(call(() => conn.write(payload))).toBe(-1);
        expect(rec.violations).toEqual([]);
        expect(server.rec.violations).toEqual([]);
        listener.stop();
      }),
    );

    test(
      "the server closing: the client gets one close, and writes return -1 after it",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, false);
        const { conn, rec } = connect(n, listener.port);
        await until(() => rec.opened && accepted.length === 1, "open");
        call(() => accepted[0]!.conn.close());
        await until(() => rec.closed, "client close");
        expect(call(() => conn.write(new Uint8Array(3)))).toBe(-1);
        call(() => conn.close());
        call(() => conn.end());
        for (let i = 0; i < 20; i++) await n.step();
        expect(rec.violations).toEqual([]);
        expect(accepted[0]!.rec.violations).toEqual([]);
        listener.stop();
      }),
    );

    test(
      "a receiver that throws loses its own connection only, reported as ReceiverFailure",
      withNet(async (n, until) => {
        const serverCloses: (Error | undefined)[] = [];
        let accepted = 0;
        const listener = n.server.listen({
          host: n.serverHost,
          port: 0,
          accept(conn) {
            const mine = ++accepted;
            return {
              data(bytes) {
                if (mine === 1) throw new Error("bug in receiver");
                conn.write(bytes);
              },
              drain() {},
              close(error) {
                serverCloses.push(error);
              },
            };
          },
        });
        const first = connect(n, listener.port);
        await until(() => first.rec.opened, "first open");
        call(() => first.conn.write(new Uint8Array([1])));
        await until(() => first.rec.closed && serverCloses.length === 1, "first dropped");
        expect(serverCloses[0]).toBeInstanceOf(ReceiverFailure);
        expect(serverCloses[0]?.message).toBe("data handler threw: bug in receiver");
        const second = connect(n, listener.port);
        await until(() => second.rec.opened, "second open");
        call(() => second.conn.write(new Uint8Array([9, 8, 7])));
        await until(() => second.rec.bytes === 3, "echo");
        expect([...second.rec.received()]).toEqual([9, 8, 7]);
        call(() => second.conn.close());
        await until(() => second.rec.closed, "second closed");
        listener.stop();
      }),
    );

    test(
      "a client receiver that throws in open: that connection closes with ReceiverFailure",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, false);
        const rec = new Recorder();
        const events: ConnectEvents = {
          open() {
            throw new Error("bad open");
          },
          data: (b) => rec.data(b),
          drain: () => rec.drain(),
          close: (e) => rec.close(e),
        };
        call(() => n.client.connect({ host: n.serverHost, port: listener.port, events }));
        await until(() => rec.closed, "close");
        expect(rec.closeError).toBeInstanceOf(ReceiverFailure);
        expect((rec.closeError as ReceiverFailure).event).toBe("open");
        await until(() => accepted.every((a) => a.rec.closed), "server side closed");
        listener.stop();
      }),
    );

    test(
      "listener.stop(): established connections keep working, new ones are refused",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, true);
        const a = connect(n, listener.port);
        await until(() => a.rec.opened && accepted.length === 1, "open");
        listener.stop();
        const b = connect(n, listener.port);
        await until(() => b.rec.closed, "refused");
        expect(b.rec.opened).toBe(false);
        expect((b.rec.closeError as NetworkError).code).toBe("ECONNREFUSED");
        call(() => a.conn.write(new Uint8Array([4, 2])));
        await until(() => a.rec.bytes === 2, "echo after stop");
        call(() => a.conn.close());
        await until(() => a.rec.closed, "closed");
      }),
    );

    test(
      "pause holds data back until resume; nothing is lost",
      withNet(async (n, until) => {
        const { listener, accepted } = listen(n, false);
        const { conn, rec } = connect(n, listener.port);
        await until(() => rec.opened && accepted.length === 1, "open");
        const server = accepted[0]!;
        call(() => server.conn.pause());
        const payload = new SeededPrng(3).fill(new Uint8Array(100_000));
        const w = writeAll(conn, rec, payload);
        for (let i = 0; i < 30; i++) await n.step();
        const whilePaused = server.rec.bytes;
        call(() => server.conn.resume());
        await until(() => w.done() && server.rec.bytes === payload.length, "all delivered after resume");
        expect(server.rec.received()).toEqual(payload);
        expect(whilePaused).toBeLessThanOrEqual(payload.length);
        call(() => conn.close());
        await until(() => server.rec.closed, "closed");
        expect(server.rec.violations).toEqual([]);
        listener.stop();
      }),
    );
  });
}
