/**
 * A node whose metadata log fails to write stops, instead of going on with a quorum that may
 * count lost records (or a lost vote) as durable: an fsync or append error on the metadata
 * log is fatal (raft-log.ts's MetadataLogFailure), the driver closes, the node is told once
 * (`onFatal`, which `bunka broker` turns into exit code 1) or, without that option, stops
 * itself. A full disk is not such a failure: the append is refused and the node goes on.
 * On the simulated platform: one combined node, SimFileSystem's injected faults.
 */
import { describe, expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { SimNetwork } from "../../src/platform/sim/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import type { StorageErrorCode } from "../../src/platform/fs.ts";
import { MetadataLogFailure } from "../../src/raft/raft-log.ts";
import { loadConfig } from "../../src/server/config.ts";
import { startNode, type NodeParts } from "../../src/server/node.ts";
import { settle, until } from "../client/sim-driver.ts";

async function node(seed: number, withOnFatal: boolean) {
  const clock = new SimClock();
  const net = new SimNetwork({ clock, prng: new SeededPrng(seed), link: { delayMs: 1, jitterMs: 0 } });
  const fs = new SimFileSystem(new SeededPrng(seed + 1), clock);
  fs.mkdirp("/data");
  const loaded = loadConfig({ sets: ["listeners=PLAINTEXT://10.0.0.1:9092", "log.dirs=/data", "node.id=1"] });
  if (!loaded.ok) throw loaded.error;
  const lines: string[] = [];
  const fatal: unknown[] = [];
  let parts!: NodeParts;
  const platform = {
    network: net.host("10.0.0.1"),
    clock,
    fs,
    prng: new SeededPrng(seed + 2),
    logSink: (line: string) => void lines.push(line),
    hostname: "sim",
    absolutePath: (p: string) => p,
  };
  const options = { observe: (p: NodeParts) => (parts = p), ...(withOnFatal ? { onFatal: (e: unknown) => void fatal.push(e) } : {}) };
  const started = (await settle(clock, startNode(loaded.config, platform, options))).value;
  await settle(clock, started.ready);
  return { clock, fs, lines, fatal, parts, node: started };
}

let proposals = 0;

/** Proposes one record through the metadata manager; resolves with the outcome. */
function propose(parts: NodeParts): Promise<string> {
  return parts.metadata
    .submit(() => ({ records: [{ type: "config", resourceType: "broker", resourceName: "", name: "test.key", value: String(++proposals) }], response: "committed" }))
    .catch((e: unknown) => `failed: ${e instanceof Error ? e.message : String(e)}`);
}

describe("a metadata log that fails to write", () => {
  for (const op of ["fsync", "append"] as const) {
    test(`an EIO on ${op} stops the quorum: onFatal once, nothing committed after, one log line`, async () => {
      const n = await node(op === "fsync" ? 11 : 12, true);
      const { quorum } = n.parts;
      const hwBefore = quorum.store.highWatermark;
      expect(await settle(n.clock, propose(n.parts)).then((r) => r.value)).toBe("committed");
      n.fs.failNext(op, "EIO" as StorageErrorCode);
      const outcome = propose(n.parts);
      await until(n.clock, () => n.fatal.length > 0, 5_000, "onFatal");
      expect(n.fatal.length).toBe(1);
      expect(n.fatal[0]).toBeInstanceOf(MetadataLogFailure);
      expect((n.fatal[0] as MetadataLogFailure).operation).toBe(op === "fsync" ? "flush" : "append");
      expect(quorum.driver.failed).toBe(true);
      // The record whose write failed is never committed, whatever a later fsync would say.
      const hwAtFailure = quorum.store.highWatermark;
      n.clock.advance(10_000);
      expect(quorum.store.highWatermark).toBe(hwAtFailure);
      expect(hwAtFailure).toBeGreaterThan(hwBefore);
      expect(await settle(n.clock, outcome).then((r) => r.value)).toMatch(/^failed: /);
      // Later proposals are refused at once: the driver no longer reaches the core.
      expect(quorum.driver.propose(new Uint8Array(0)).kind).toBe("notLeader");
      expect(n.fatal.length).toBe(1);
      const stopped = n.lines.filter((l) => l.includes("the controller quorum stopped"));
      expect(stopped.length).toBe(1);
      expect(stopped[0]).toContain("level=error");
      expect(stopped[0]).toContain("EIO");
    });
  }

  test("without onFatal the node stops itself", async () => {
    const n = await node(13, false);
    n.fs.failNext("fsync", "EIO" as StorageErrorCode);
    void propose(n.parts);
    await until(n.clock, () => n.lines.some((l) => l.includes("the controller quorum stopped")), 5_000, "the fatal line");
    await until(n.clock, () => n.lines.some((l) => /msg="?stopped"? /.test(l)), 30_000, "the node to stop");
    expect(n.lines.some((l) => /msg="?shutting down/.test(l))).toBe(true);
    expect(n.parts.quorum.driver.failed).toBe(true);
  });

  test("a full disk (ENOSPC on append) is not fatal: the proposal fails, the next one commits", async () => {
    const n = await node(14, true);
    n.fs.failNext("append", "ENOSPC" as StorageErrorCode);
    const first = await settle(n.clock, propose(n.parts));
    expect(first.value).toMatch(/^failed: /);
    expect(await settle(n.clock, propose(n.parts)).then((r) => r.value)).toBe("committed");
    expect(n.fatal).toEqual([]);
    expect(n.parts.quorum.driver.failed).toBe(false);
  });
});
