import { expect, test } from "bun:test";
import type { Dispatcher, DispatchResult } from "../../src/server/connection.ts";
import type { ServerOptions } from "../../src/server/server.ts";
import { fakeServer, FakeSocket, frame, parseFrames, settle } from "./fakes.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function makeServer(dispatcher: Dispatcher, overrides: Partial<ServerOptions> = {}) {
  return fakeServer(dispatcher, overrides);
}

test("start binds every listener and reports the real ports", () => {
  const { server } = makeServer(() => null, {
    listeners: [
      { name: "PLAINTEXT", host: "127.0.0.1", port: 0 },
      { name: "OTHER", host: "127.0.0.1", port: 9999 },
    ],
  });
  expect(server.listeners).toEqual([
    { name: "PLAINTEXT", host: "127.0.0.1", port: 30000 },
    { name: "OTHER", host: "127.0.0.1", port: 9999 },
  ]);
  expect(server.state).toBe("running");
});

test("max.connections and max.connections.per.ip refuse extra connections with a log line", () => {
  const { server, network, logs, clock } = makeServer((f) => [f.slice()], {
    connectionsMax: 3,
    connectionsPerIpMax: 2,
    connectionsPerIpOverrides: new Map([["10.0.0.9", 0]]),
  });
  const a1 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.1");
  const a2 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.1");
  const a3 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.1");
  network.arrive(0, a1);
  const a2events = network.arrive(0, a2);
  network.arrive(0, a3);
  expect(a3.closed).toBe(true); // third from the same address
  clock.advance(2000);
  const banned = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.9");
  network.arrive(0, banned);
  expect(banned.closed).toBe(true); // override: 0 from this address
  const b1 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.2");
  network.arrive(0, b1);
  const b2 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.2");
  network.arrive(0, b2);
  expect(b2.closed).toBe(true); // over max.connections (3), within a second: not logged
  clock.advance(2000);
  const b3 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.3");
  network.arrive(0, b3);
  expect(b3.closed).toBe(true);
  expect(server.connectionCount).toBe(3);
  expect(server.probe.connectionsRejected).toBe(4);
  const refusals = logs.records().filter((r) => r.msg === "connection refused");
  expect(refusals.map((r) => r.reason)).toEqual([
    "max.connections.per.ip (2) reached for 10.0.0.1",
    "max.connections.per.ip (0) reached for 10.0.0.9",
    "max.connections (3) reached",
  ]);
  expect(refusals[2]?.suppressedSinceLast).toBe("1");
  expect(refusals[2]?.remote).toBe("10.0.0.3:40000");
  // Closing one frees a slot for that address.
  a2events.close();
  const a4 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.1");
  const a4events = network.arrive(0, a4);
  expect(a4.closed).toBe(false);
  a4events.data(frame(enc("hi")));
  expect(parseFrames(a4.written).map(dec)).toEqual(["hi"]);
});

test("graceful shutdown: stop accepting, finish in-flight requests, run hooks last-first, resolve", async () => {
  const releases: (() => void)[] = [];
  const { server, network, logs } = makeServer(
    (f) =>
      new Promise<DispatchResult>((r) => {
        releases.push(() => r([enc(`done:${dec(f)}`)]));
      }),
  );
  const s1 = new FakeSocket();
  const e1 = network.arrive(0, s1);
  e1.data(frame(enc("a")));
  e1.data(frame(enc("b")));
  const s2 = new FakeSocket(Number.POSITIVE_INFINITY, "10.0.0.3");
  const e2 = network.arrive(0, s2);
  const order: string[] = [];
  server.addShutdownHook("storage", async () => {
    await settle(1);
    order.push("storage");
  });
  server.addShutdownHook("metrics", () => {
    order.push("metrics");
  });
  server.addShutdownHook("failing", () => {
    throw new Error("hook broke");
  });
  let stopped = false;
  const stopping = server.stop().then(() => {
    stopped = true;
  });
  expect(server.stop()).toBe(server.stop()); // idempotent
  expect(network.listeners[0]?.stopped).toBe(true);
  const late = new FakeSocket();
  network.arrive(0, late);
  expect(late.closed).toBe(true); // refused while shutting down
  expect(s2.ended).toBe(true); // nothing in flight: ended at once
  e1.data(frame(enc("c"))); // not read any more
  await settle();
  expect(stopped).toBe(false);
  for (const r of releases) r();
  await settle();
  expect(parseFrames(s1.written).map(dec)).toEqual(["done:a", "done:b"]);
  expect(releases.length).toBe(2);
  expect(s1.ended).toBe(true);
  expect(stopped).toBe(false); // waits for the sockets to close
  e1.close();
  await settle();
  expect(stopped).toBe(false); // s2's peer has not closed yet
  expect(server.connectionCount).toBe(1);
  e2.close();
  await stopping;
  expect(stopped).toBe(true);
  expect(order).toEqual(["metrics", "storage"]);
  expect(server.state).toBe("stopped");
  expect(logs.records().find((r) => r.msg === "shutdown hook failed")?.hook).toBe("failing");
});

test("graceful shutdown drops connections still busy at the deadline", async () => {
  const { server, network, clock, logs } = makeServer(() => new Promise<DispatchResult>(() => {}), { shutdownTimeoutMs: 5000 });
  const s = new FakeSocket();
  network.arrive(0, s).data(frame(enc("never answered")));
  let hookRan = false;
  server.addShutdownHook("flush", () => {
    hookRan = true;
  });
  const stopping = server.stop();
  await settle();
  expect(s.closed).toBe(false);
  clock.advance(5000);
  expect(s.closed).toBe(true);
  await stopping;
  expect(hookRan).toBe(true);
  expect(server.state).toBe("stopped");
  expect(logs.records().some((r) => r.msg === "shutdown deadline passed; dropping connections")).toBe(true);
});

test("drain hooks run as stop begins: a long poll they complete is answered before the deadline", async () => {
  const pending: (() => void)[] = [];
  const { server, network, clock } = makeServer(
    (f) =>
      new Promise<DispatchResult>((r) => {
        pending.push(() => r([enc(`polled:${dec(f)}`)]));
      }),
    { shutdownTimeoutMs: 30_000 },
  );
  const s = new FakeSocket();
  const peer = network.arrive(0, s);
  peer.data(frame(enc("fetch")));
  const order: string[] = [];
  server.addDrainHook("complete delayed operations", () => {
    order.push("drain");
    for (const p of pending.splice(0)) p();
  });
  server.addShutdownHook("storage", () => {
    order.push("storage");
  });
  const stopping = server.stop();
  await settle();
  // Answered by the drain hook, long before the 30 s deadline (the clock never moved).
  expect(parseFrames(s.written).map(dec)).toEqual(["polled:fetch"]);
  expect(s.ended).toBe(true);
  peer.close();
  await stopping;
  expect(clock.monotonicMs()).toBe(0);
  expect(order).toEqual(["drain", "storage"]);
  expect(() => server.addDrainHook("late", () => {})).toThrow(/stopped/);
});
