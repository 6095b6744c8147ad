/** The server over real TCP on 127.0.0.1 (Bun.listen through the platform adapter). */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { NetworkError } from "../../src/platform/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { noHandlersReason, startBroker } from "../../src/server/broker.ts";
import { loadConfig } from "../../src/server/config.ts";
import type { Dispatcher } from "../../src/server/connection.ts";
import { parseMetaProperties } from "../../src/server/meta-properties.ts";
import { Server } from "../../src/server/server.ts";
import { Logger, memorySink } from "../../src/util/log.ts";
import { concat, frame, testLimits } from "./fakes.ts";

/** A client that queues what the socket does not take and collects size-prefixed responses. */
async function connectClient(port: number) {
  let received: Uint8Array[] = [];
  let receivedBytes = 0;
  const pending: Uint8Array[] = [];
  let closed = false;
  let waiters: (() => void)[] = [];
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const flush = (s: { write(b: Uint8Array): number }): void => {
    while (pending.length > 0) {
      const head = pending[0] as Uint8Array;
      const n = s.write(head);
      if (n < 0) return;
      if (n < head.length) {
        pending[0] = head.subarray(n);
        return;
      }
      pending.shift();
    }
  };
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_s, d) {
        received.push(d);
        receivedBytes += d.length;
        wake();
      },
      drain(s) {
        flush(s);
      },
      close() {
        closed = true;
        wake();
      },
    },
  });
  return {
    socket,
    send(bytes: Uint8Array): void {
      pending.push(bytes);
      flush(socket);
    },
    get closed(): boolean {
      return closed;
    },
    /** Waits until `n` bytes arrived (or the socket closed). */
    async waitBytes(n: number): Promise<Uint8Array> {
      while (receivedBytes < n && !closed) await new Promise<void>((r) => waiters.push(r));
      const all = concat(received);
      received = [all];
      return all;
    },
    async waitClosed(): Promise<void> {
      while (!closed) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

function splitFrames(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o + 4 <= b.length) {
    const size = new DataView(b.buffer, b.byteOffset + o).getInt32(0);
    out.push(b.subarray(o + 4, o + 4 + size));
    o += 4 + size;
  }
  return out;
}

function startEcho(dispatcher: Dispatcher, limits = testLimits) {
  const logs = memorySink();
  const server = new Server({
    network: bunNetwork,
    clock: systemClock,
    log: new Logger({ sink: logs.sink, level: "debug" }),
    dispatcher,
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0 }],
    limits,
    connectionsMax: 100,
    connectionsPerIpMax: 100,
    queuedRequestBytesMax: 256 * 1024 * 1024,
    queuedRequestsMax: 10_000,
    shutdownTimeoutMs: 5_000,
  });
  const [bound] = server.start();
  if (bound === undefined) throw new Error("not bound");
  return { server, port: bound.port, logs };
}

test("pipelined frames over TCP come back in order, whatever order the handler finishes", async () => {
  const seed = 1234;
  const prng = new SeededPrng(seed);
  const { server, port } = startEcho(async (f) => {
    const delay = f[0] ?? 0;
    if (delay > 0) await Bun.sleep(delay % 5);
    return [f.slice(0, 1), f.slice(1)];
  }, { ...testLimits, requestFrameBytesMax: 4 * 1024 * 1024 });
  const client = await connectClient(port);
  const bodies = Array.from({ length: 300 }, (_, i) => {
    const size = i % 50 === 0 ? 1 + prng.int(2_000_000) : 1 + prng.int(3000);
    return prng.fill(new Uint8Array(size));
  });
  client.send(concat(bodies.map(frame)));
  const total = bodies.reduce((n, b) => n + 4 + b.length, 0);
  const got = splitFrames(await client.waitBytes(total));
  expect(got.length).toBe(bodies.length);
  for (let i = 0; i < bodies.length; i++) {
    if (!Bun.deepEquals(got[i], bodies[i])) throw new Error(`frame ${i} differs (seed ${seed})`);
  }
  client.socket.end();
  await server.stop();
  expect(server.probe.requestsReceived).toBe(300);
  expect(server.probe.bytesOut).toBe(total);
});

test("large responses to a client that stops reading: the server pauses, then delivers everything", async () => {
  const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => i & 0xff);
  const { server, port } = startEcho((f) => [f.slice(), big], { ...testLimits, queuedResponseBytesMax: 1024 * 1024 });
  const client = await connectClient(port);
  client.socket.pause();
  const n = 12;
  client.send(concat(Array.from({ length: n }, (_, i) => frame(new Uint8Array([i])))));
  await Bun.sleep(200);
  expect(server.probe.readPauses).toBeGreaterThan(0);
  expect(server.probe.responsesSent).toBeLessThan(n);
  client.socket.resume();
  const all = await client.waitBytes(n * (4 + 1 + big.length));
  const frames = splitFrames(all);
  expect(frames.length).toBe(n);
  frames.forEach((f, i) => {
    expect(f[0]).toBe(i);
    expect(Bun.deepEquals(f.subarray(1), big)).toBe(true);
  });
  client.socket.end();
  await server.stop();
});

test("an oversized frame closes that TCP connection; another connection keeps working", async () => {
  const { server, port, logs } = startEcho((f) => [f.slice()]);
  const bad = await connectClient(port);
  const good = await connectClient(port);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setInt32(0, testLimits.requestFrameBytesMax + 1);
  bad.send(header);
  await bad.waitClosed();
  good.send(frame(new TextEncoder().encode("ping")));
  const reply = splitFrames(await good.waitBytes(8));
  expect(new TextDecoder().decode(reply[0])).toBe("ping");
  expect(logs.lines.some((l) => l.includes("invalid request frame size"))).toBe(true);
  good.socket.end();
  await server.stop();
});

test("listening on a taken port is a NetworkError", () => {
  const { server, port } = startEcho(() => null);
  const clash = new Server({
    network: bunNetwork,
    clock: systemClock,
    log: new Logger({ sink: () => {} }),
    dispatcher: () => null,
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port }],
    limits: testLimits,
    connectionsMax: 1,
    connectionsPerIpMax: 1,
    queuedRequestBytesMax: 1 << 20,
    queuedRequestsMax: 1,
    shutdownTimeoutMs: 0,
  });
  expect(() => clash.start()).toThrow(NetworkError);
  try {
    clash.start();
  } catch {
    // state is stopped now
  }
  expect(clash.state).toBe("stopped");
  return server.stop();
});

test("startBroker in-process: formats the data dir, binds port 0, placeholder closes connections", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-broker-"));
  try {
    const loaded = loadConfig({ sets: ["listeners=PLAINTEXT://127.0.0.1:0", `log.dirs=${dir}`, "node.id=3"] });
    if (!loaded.ok) throw loaded.error;
    const logs = memorySink();
    const platform = {
      network: bunNetwork,
      clock: systemClock,
      fs: new BunFileSystem(),
      prng: new SeededPrng(7),
      logSink: logs.sink,
      hostname: "test-host",
      absolutePath: (p: string) => p,
    };
    const broker = await startBroker(loaded.config, platform);
    const meta = parseMetaProperties("meta", await Bun.file(join(dir, "meta.properties")).text());
    expect(meta.nodeId).toBe(3);
    expect(meta.clusterId).toBe(broker.clusterId as typeof meta.clusterId);
    const port = broker.listeners[0]?.port ?? 0;
    expect(port).toBeGreaterThan(0);
    expect(broker.advertisedListeners).toEqual([{ name: "PLAINTEXT", host: "127.0.0.1", port, securityProtocol: "PLAINTEXT" }]);
    const c = await connectClient(port);
    c.send(frame(new Uint8Array(10)));
    await c.waitClosed();
    expect(logs.lines.some((l) => l.includes(noHandlersReason))).toBe(true);
    let flushed = false;
    broker.addShutdownHook("flush", () => {
      flushed = true;
    });
    await broker.stop();
    expect(flushed).toBe(true);
    expect(broker.logManagerConfig.logDirs).toEqual([dir]);
    expect(broker.logManagerConfig.logDefaults.flushMessages).toBe(Number.POSITIVE_INFINITY);
    expect(broker.logManagerConfig.logDefaults.retentionMs).toBe(168 * 3600 * 1000);

    // Restart: same cluster id; a different node id is refused.
    const again = await startBroker(loaded.config, platform);
    expect(again.clusterId).toBe(broker.clusterId);
    await again.stop();
    const other = loadConfig({ sets: ["listeners=PLAINTEXT://127.0.0.1:0", `log.dirs=${dir}`, "node.id=4"] });
    if (!other.ok) throw other.error;
    await expect(startBroker(other.config, platform)).rejects.toThrow("stored node id 3 does not match node.id 4");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("max.connections over TCP: the extra connection is closed, the first keeps working", async () => {
  const logs = memorySink();
  const server = new Server({
    network: bunNetwork,
    clock: systemClock,
    log: new Logger({ sink: logs.sink }),
    dispatcher: (f) => [f.slice()],
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0 }],
    limits: testLimits,
    connectionsMax: 1,
    connectionsPerIpMax: 10,
    queuedRequestBytesMax: 1 << 20,
    queuedRequestsMax: 10,
    shutdownTimeoutMs: 1000,
  });
  const port = server.start()[0]?.port ?? 0;
  const first = await connectClient(port);
  const second = await connectClient(port);
  await second.waitClosed();
  first.send(frame(new Uint8Array([42])));
  expect(Array.from(await first.waitBytes(5))).toEqual([0, 0, 0, 1, 42]);
  expect(server.probe.connectionsRejected).toBe(1);
  expect(logs.lines.some((l) => l.includes("max.connections (1) reached"))).toBe(true);
  first.socket.end();
  await server.stop();
});
