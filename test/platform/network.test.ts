/**
 * The Network conformance suite on real TCP (Bun) and on the simulated network, then the
 * simulated network's own faults: delay and jitter, splits, drops, one-way and full
 * partitions, heal, resets, and reproducibility by seed.
 */
import { describe, expect, test } from "bun:test";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { type NetConnection, NetworkError } from "../../src/platform/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { type SimNetworkOptions, SimNetwork } from "../../src/platform/sim/network.ts";
import { networkConformance, Recorder, writeAll } from "./network-conformance.ts";

networkConformance("bunNetwork (TCP on 127.0.0.1)", () => ({
  server: bunNetwork,
  client: bunNetwork,
  serverHost: "127.0.0.1",
  nowhereHost: "nonexistent.invalid",
  step: () => Bun.sleep(1),
  cleanup: () => {},
}));

networkConformance("SimNetwork", () => {
  const clock = new SimClock();
  const net = new SimNetwork({ clock, prng: new SeededPrng(42), link: { delayMs: 1, jitterMs: 2 }, windowBytes: 64 * 1024 });
  return {
    server: net.host("10.0.0.1"),
    client: net.host("10.0.0.2"),
    serverHost: "10.0.0.1",
    nowhereHost: "10.9.9.9",
    step: async () => {
      clock.advance(1);
      await Promise.resolve();
    },
    cleanup: () => {},
  };
});

describe("SimNetwork faults", () => {
  const A = "10.0.0.1";
  const B = "10.0.0.2";

  function setup(options: Partial<SimNetworkOptions> = {}, seed = 1) {
    const clock = new SimClock();
    const net = new SimNetwork({ clock, prng: new SeededPrng(seed), ...options });
    const accepted: { conn: NetConnection; rec: Recorder }[] = [];
    const listener = net.host(A).listen({
      host: A,
      port: 9092,
      accept(conn) {
        const rec = new Recorder();
        rec.opened = true;
        accepted.push({ conn, rec });
        return rec;
      },
    });
    const dial = () => {
      const rec = new Recorder();
      const conn = net.host(B).connect({ host: A, port: listener.port, events: rec });
      return { conn, rec };
    };
    /** Advances time until `cond` holds (at most `msMax`); returns the time taken. */
    const until = (cond: () => boolean, msMax = 600_000): number => {
      const start = clock.monotonicMs();
      while (!cond()) {
        if (clock.monotonicMs() - start >= msMax) throw new Error(`condition not reached in ${msMax} ms`);
        clock.advance(1);
      }
      return clock.monotonicMs() - start;
    };
    return { clock, net, accepted, dial, until, listener };
  }

  test("delay and jitter: bytes arrive no sooner than the link delay, within delay + jitter", () => {
    const { net, dial, until, accepted } = setup({ splitWrites: false, link: { delayMs: 20, jitterMs: 10 } });
    const c = dial();
    const connectMs = until(() => c.rec.opened);
    // SYN then SYN-ACK: one round trip.
    expect(connectMs).toBeGreaterThanOrEqual(40);
    expect(connectMs).toBeLessThanOrEqual(60);
    until(() => accepted.length === 1);
    net.setLink(B, A, { delayMs: 100, jitterMs: 0 });
    c.conn.write(new Uint8Array([1, 2, 3]));
    const ms = until(() => accepted[0]!.rec.bytes === 3);
    expect(ms).toBe(100);
  });

  test("writes are split into random chunks (some tiny) and reassemble exactly", () => {
    const { dial, until, accepted } = setup({ link: { delayMs: 1, jitterMs: 3 } });
    const c = dial();
    until(() => c.rec.opened && accepted.length === 1);
    const payload = new SeededPrng(9).fill(new Uint8Array(50_000));
    for (let i = 0; i < 10; i++) writeAll(c.conn, c.rec, payload.subarray(i * 5000, (i + 1) * 5000));
    const server = accepted[0]!.rec;
    until(() => server.bytes === payload.length);
    expect(server.received()).toEqual(payload);
    expect(server.chunks.length).toBeGreaterThan(10);
    expect(server.chunks.some((ch) => ch.length <= 8)).toBe(true);
  });

  test("the same seed gives the same chunking and timing; another seed differs", () => {
    const trace = (seed: number): string => {
      const { clock, dial, until, accepted } = setup({ link: { delayMs: 2, jitterMs: 5 } }, seed);
      const c = dial();
      until(() => c.rec.opened && accepted.length === 1);
      const server = accepted[0]!.rec;
      const sizes: string[] = [];
      server.onData = (b) => sizes.push(`${clock.monotonicMs()}:${b.length}`);
      writeAll(c.conn, c.rec, new Uint8Array(20_000));
      until(() => server.bytes === 20_000);
      return sizes.join(",");
    };
    expect(trace(7)).toBe(trace(7));
    expect(trace(7)).not.toBe(trace(8));
  });

  test("a dropped segment resets the connection: both ends get ECONNRESET", () => {
    const { net, dial, until, accepted } = setup({ splitWrites: false });
    const c = dial();
    until(() => c.rec.opened && accepted.length === 1);
    c.conn.write(new Uint8Array([1]));
    until(() => accepted[0]!.rec.bytes === 1);
    net.setLink(B, A, { dropProbability: 1 });
    c.conn.write(new Uint8Array([2]));
    until(() => c.rec.closed && accepted[0]!.rec.closed);
    expect((c.rec.closeError as NetworkError).code).toBe("ECONNRESET");
    expect((accepted[0]!.rec.closeError as NetworkError).code).toBe("ECONNRESET");
    expect(accepted[0]!.rec.bytes).toBe(1);
    expect(net.stats.drops).toBe(1);
  });

  test("a full partition holds bytes; heal before the stall timeout delivers them in order", () => {
    const { net, dial, until, accepted, clock } = setup({ stallTimeoutMs: 10_000 });
    const c = dial();
    until(() => c.rec.opened && accepted.length === 1);
    net.partition([A], [B]);
    c.conn.write(new Uint8Array([1, 2, 3]));
    accepted[0]!.conn.write(new Uint8Array([9]));
    clock.advance(5_000);
    expect(accepted[0]!.rec.bytes).toBe(0);
    expect(c.rec.bytes).toBe(0);
    net.heal();
    until(() => accepted[0]!.rec.bytes === 3 && c.rec.bytes === 1);
    expect([...accepted[0]!.rec.received()]).toEqual([1, 2, 3]);
    expect(c.rec.closed).toBe(false);
  });

  test("a partition outlasting the stall timeout: the writer gets ETIMEDOUT, the silent peer stays open", () => {
    const { net, dial, until, accepted } = setup({ stallTimeoutMs: 10_000 });
    const c = dial();
    until(() => c.rec.opened && accepted.length === 1);
    net.partition([A], [B]);
    c.conn.write(new Uint8Array([1]));
    const ms = until(() => c.rec.closed);
    expect(ms).toBeGreaterThanOrEqual(10_000);
    expect((c.rec.closeError as NetworkError).code).toBe("ETIMEDOUT");
    expect(accepted[0]!.rec.closed).toBe(false);
    // After heal, the half-open side learns on its next write (RST from the closed end).
    net.heal();
    accepted[0]!.conn.write(new Uint8Array([5]));
    until(() => accepted[0]!.rec.closed);
    expect((accepted[0]!.rec.closeError as NetworkError).code).toBe("ECONNRESET");
  });

  test("connects across a partition time out after connectTimeoutMs; after heal they succeed", () => {
    const { net, dial, until } = setup({ connectTimeoutMs: 5_000 });
    net.partition([A], [B]);
    const c = dial();
    const ms = until(() => c.rec.closed);
    expect(ms).toBe(5_000);
    expect(c.rec.opened).toBe(false);
    expect((c.rec.closeError as NetworkError).code).toBe("ETIMEDOUT");
    expect((c.rec.closeError as NetworkError).op).toBe("connect");
    net.heal();
    const d = dial();
    until(() => d.rec.opened);
  });

  test("a one-way cut: bytes flow the open way only", () => {
    const { net, dial, until, accepted, clock } = setup({ stallTimeoutMs: 60_000 });
    const c = dial();
    until(() => c.rec.opened && accepted.length === 1);
    net.cut(B, A);
    c.conn.write(new Uint8Array([1]));
    accepted[0]!.conn.write(new Uint8Array([2, 2]));
    until(() => c.rec.bytes === 2);
    clock.advance(1_000);
    expect(accepted[0]!.rec.bytes).toBe(0);
    net.heal();
    until(() => accepted[0]!.rec.bytes === 1);
  });

  test("a refused connect whose RST was lost: the SYN sent again after 1 s finds the listener started meanwhile", () => {
    const clock = new SimClock();
    const net = new SimNetwork({ clock, prng: new SeededPrng(3), connectTimeoutMs: 30_000 });
    const server = net.host(A);
    const rec = new Recorder();
    net.host(B).connect({ host: A, port: 7000, events: rec });
    net.cut(A, B); // the RST for the refused SYN is lost
    clock.advance(500);
    expect(rec.closed).toBe(false);
    const accepted: Recorder[] = [];
    server.listen({
      host: A,
      port: 7000,
      accept: () => {
        const r = new Recorder();
        accepted.push(r);
        return r;
      },
    });
    net.uncut(A, B);
    clock.advance(400);
    expect(rec.opened).toBe(false);
    clock.advance(200); // the retransmission at 1000 ms
    expect(rec.opened).toBe(true);
    expect(accepted.length).toBe(1);
  });

  test("uncut lifts one direction only: bytes held on it go through, the other cut stays", () => {
    const { net, dial, until, accepted, clock } = setup({ stallTimeoutMs: 60_000 });
    const c = dial();
    until(() => c.rec.opened && accepted.length === 1);
    net.partition([A], [B]);
    c.conn.write(new Uint8Array([1, 2]));
    accepted[0]!.conn.write(new Uint8Array([3]));
    clock.advance(1_000);
    // The client (B) wrote 2 bytes to the server (A), which wrote 1 back.
    net.uncut(B, A);
    until(() => accepted[0]!.rec.bytes === 2);
    clock.advance(1_000);
    expect(c.rec.bytes).toBe(0);
    net.uncut(A, B);
    until(() => c.rec.bytes === 1);
  });

  test("isolate cuts a host from all others; an unknown address is EHOSTUNREACH", () => {
    const { net, dial, until } = setup({ connectTimeoutMs: 2_000, unreachableMs: 500 });
    net.isolate(A);
    const c = dial();
    until(() => c.rec.closed);
    expect((c.rec.closeError as NetworkError).code).toBe("ETIMEDOUT");
    const rec = new Recorder();
    net.host(B).connect({ host: "10.7.7.7", port: 1, events: rec });
    const ms = until(() => rec.closed);
    expect(ms).toBe(500);
    expect((rec.closeError as NetworkError).code).toBe("EHOSTUNREACH");
  });

  test("resetConnections drops every connection between two hosts with ECONNRESET", () => {
    const { net, dial, until, accepted } = setup();
    const c1 = dial();
    const c2 = dial();
    until(() => c1.rec.opened && c2.rec.opened && accepted.length === 2);
    net.resetConnections(A, B);
    until(() => c1.rec.closed && c2.rec.closed && accepted.every((a) => a.rec.closed));
    expect((c1.rec.closeError as NetworkError).code).toBe("ECONNRESET");
    expect(net.openEnds()).toBe(0);
  });

  test("a paused receiver fills the window: the writer's writes go short until it reads", () => {
    const { dial, until, accepted, clock } = setup({ windowBytes: 1000 });
    const c = dial();
    until(() => c.rec.opened && accepted.length === 1);
    accepted[0]!.conn.pause();
    const w = writeAll(c.conn, c.rec, new Uint8Array(5000));
    clock.advance(100);
    expect(accepted[0]!.rec.bytes).toBe(0);
    expect(w.done()).toBe(false);
    expect(w.shortWrites()).toBeGreaterThan(0);
    accepted[0]!.conn.resume();
    until(() => w.done() && accepted[0]!.rec.bytes === 5000);
  });

  test("listening twice on a port is EADDRINUSE; port 0 picks distinct ports", () => {
    const { net, listener } = setup();
    const h = net.host(A);
    expect(() => h.listen({ host: A, port: listener.port, accept: () => new Recorder() })).toThrow(NetworkError);
    const p1 = h.listen({ host: "0.0.0.0", port: 0, accept: () => new Recorder() });
    const p2 = h.listen({ host: A, port: 0, accept: () => new Recorder() });
    expect(p1.port).not.toBe(p2.port);
    expect(() => h.listen({ host: "10.1.1.1", port: 0, accept: () => new Recorder() })).toThrow(NetworkError);
  });
});
