import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { logManagerConfigFrom, resolveAdvertised, startBroker } from "../../src/server/broker.ts";
import { loadConfig, type BrokerConfig } from "../../src/server/config.ts";
import { memorySink } from "../../src/util/log.ts";
import { FakeNetwork, FakeSocket, frame } from "./fakes.ts";

function config(sets: string[]): BrokerConfig {
  const r = loadConfig({ sets });
  if (!r.ok) throw r.error;
  return r.config;
}

test("advertised listeners: bound ports for port 0, host name for wildcards, controller listeners hidden", () => {
  const c = config([
    "listeners=PLAINTEXT://:0,INTERNAL://10.1.2.3:9094,CONTROLLER://:9093",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "controller.listener.names=CONTROLLER",
  ]);
  const bound = [
    { name: "PLAINTEXT", host: "0.0.0.0", port: 41000 },
    { name: "INTERNAL", host: "10.1.2.3", port: 9094 },
    { name: "CONTROLLER", host: "0.0.0.0", port: 9093 },
  ];
  expect(resolveAdvertised(c, bound, "broker-1.example")).toEqual([
    { name: "PLAINTEXT", host: "broker-1.example", port: 41000, securityProtocol: "PLAINTEXT" },
    { name: "INTERNAL", host: "10.1.2.3", port: 9094, securityProtocol: "PLAINTEXT" },
  ]);
  const explicit = config(["listeners=PLAINTEXT://:0", "advertised.listeners=PLAINTEXT://public.example:19092"]);
  expect(resolveAdvertised(explicit, [{ name: "PLAINTEXT", host: "0.0.0.0", port: 5555 }], "h")).toEqual([
    { name: "PLAINTEXT", host: "public.example", port: 19092, securityProtocol: "PLAINTEXT" },
  ]);
});

test("storage settings follow the log.* keys", () => {
  const c = config(["log.segment.bytes=1048576", "log.roll.ms=1000", "log.flush.interval.messages=10", "log.retention.minutes=5", "log.retention.bytes=123", "log.drop.behind.bytes=67108864"]);
  const lm = logManagerConfigFrom(c, ["/data"]);
  expect(lm.logDirs).toEqual(["/data"]);
  expect(lm.logDefaults).toMatchObject({ segmentBytes: 1048576, segmentMs: 1000, flushMessages: 10, flushMs: Number.POSITIVE_INFINITY, retentionMs: 300000, retentionBytes: 123, dropBehindBytes: 67108864 });
  expect(logManagerConfigFrom(config([]), ["/data"]).logDefaults.dropBehindBytes).toBe(0);
});

test("startBroker on a fake network with a custom dispatcher factory; ignored keys are logged", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-broker-"));
  try {
    const network = new FakeNetwork();
    const logs = memorySink();
    const c = config([`log.dirs=${dir}`, "listeners=PLAINTEXT://127.0.0.1:0", "num.io.threads=4", "logger.level=debug"]);
    const broker = await startBroker(
      c,
      { network, clock: new SimClock(), fs: new BunFileSystem(), prng: new SeededPrng(1), logSink: logs.sink, hostname: "h", absolutePath: (p) => p },
      { dispatcher: { create: (ctx) => (f) => [new TextEncoder().encode(`${ctx.clusterId}:${f.length}`)] } },
    );
    expect(logs.records().find((r) => r.msg === "config key has no effect in bunka")?.key).toBe("num.io.threads");
    const socket = new FakeSocket();
    const events = network.arrive(0, socket);
    events.data(frame(new Uint8Array(3)));
    expect(new TextDecoder().decode(Uint8Array.from(socket.written.slice(4)))).toBe(`${broker.clusterId}:3`);
    const stopping = broker.stop();
    expect(socket.ended).toBe(true);
    network.arrive(0, new FakeSocket()); // refused
    expect(broker.server.probe.connectionsRejected).toBe(1);
    // The broker waits for the peer to close, then is done.
    expect(broker.server.connectionCount).toBe(1);
    events.close();
    await stopping;
    expect(broker.server.state).toBe("stopped");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
