/**
 * Backup and restore on real processes: a source broker written to by the project's client
 * (gzip/zstd/snappy/lz4 batches, keys, headers, idempotent producer ids) and by kcat when
 * installed, a consumer group's commits; `bunka backup create/verify/restore` as
 * subprocesses; every record compared (key, value, headers, timestamp, offset) after a
 * restore into a second fresh broker, plus configs and group offsets. Then incremental,
 * --until, tampering and wrong keys.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commitGroupOffsets, createTopic, describeTopicConfigs, fetchGroupOffsets } from "../../src/client/admin.ts";
import { ClusterClient } from "../../src/client/bootstrap.ts";
import { completeBatches, fetchPartition, listOffset, OffsetSpec, produceBatch } from "../../src/client/partition-io.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { type BrokerProcess, startBroker } from "../interop/broker-process.ts";

const main = join(import.meta.dir, "../../src/main.ts");
const enc = new TextEncoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let source: BrokerProcess;
let target: BrokerProcess;
let work = "";
const t0 = Date.now() - 3_600_000;

async function connect(b: BrokerProcess): Promise<ClusterClient> {
  const r = await ClusterClient.connect({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(1), bootstrapServers: b.bootstrap });
  if (!r.ok) throw r.error;
  return r.value;
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(["bun", main, "backup", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

interface Rec {
  offset: number;
  key: string | null;
  value: string | null;
  headers: string;
  timestamp: number;
}

async function readAll(c: ClusterClient, topic: string, partition: number): Promise<Rec[]> {
  await c.refreshMetadata([topic]);
  const ref = { topic, partition };
  const end = await listOffset(c, ref, OffsetSpec.latest);
  if (!end.ok) throw new Error(`listOffset ${topic}`);
  const out: Rec[] = [];
  let offset = 0;
  const dec = new TextDecoder();
  while (offset < end.value) {
    const r = await fetchPartition(c, ref, { fetchOffset: offset, maxBytes: 1 << 20 });
    if (!r.ok) throw new Error(`fetch ${topic}`);
    const w = completeBatches(r.value.records, offset, 1 << 24);
    if (w.batches.length === 0) break;
    for (const b of w.batches) {
      if (b.isControl) continue;
      for (const rec of b.records({ maxBytes: 1 << 24, compression: bunCompression })) {
        if (rec.offset < offset) continue;
        out.push({ offset: rec.offset, key: rec.key && dec.decode(rec.key), value: rec.value && dec.decode(rec.value), headers: JSON.stringify(rec.headers.map((h) => [h.key, h.value && dec.decode(h.value)])), timestamp: rec.timestamp });
      }
    }
    offset = w.nextOffset;
  }
  return out;
}

async function produce(c: ClusterClient, topic: string, partition: number, codec: "none" | "gzip" | "zstd" | "snappy" | "lz4", n: number, from: number, producerId = -1, seq = 0): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({
    key: i % 7 === 0 ? null : enc.encode(`${topic}-k${from + i}`),
    value: i % 11 === 0 ? null : enc.encode(`${topic}-v${from + i}-${"x".repeat(i % 50)}`),
    headers: i % 3 === 0 ? [{ key: "h", value: enc.encode(`hv${i}`) }, { key: "n", value: null }] : [],
    timestamp: t0 + (from + i) * 1000,
  }));
  const batch = buildRecordBatch(records, { compression: codec, codecs: bunCompression, ...(producerId >= 0 ? { producerId, producerEpoch: 0, baseSequence: seq } : {}) });
  await c.refreshMetadata([topic]);
  const r = await produceBatch(c, { topic, partition }, batch);
  if (!r.ok) throw new Error(`produce ${topic}-${partition}: ${JSON.stringify(r.error)}`);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "bunka-backup-test-"));
  writeFileSync(join(work, "key"), `${"3f".repeat(32)}\n`);
  writeFileSync(join(work, "wrong-key"), `${"40".repeat(32)}\n`);
  [source, target] = await Promise.all([startBroker({ name: "backup-src" }), startBroker({ name: "backup-dst" })]);
});

afterAll(async () => {
  await Promise.all([source?.dispose(), target?.dispose()]);
  rmSync(work, { recursive: true, force: true });
});

const topicsOf = { orders: 3, events: 1 } as const;

test("full round trip, incremental, --until, tampering, wrong key", async () => {
  const src = await connect(source);
  const created = await createTopic(src, { name: "orders", numPartitions: 3, replicationFactor: 1, configs: new Map([["retention.ms", "86400000"], ["max.message.bytes", "2000000"]]) });
  expect(created.ok).toBe(true);
  expect((await createTopic(src, { name: "events", numPartitions: 1, replicationFactor: 1, configs: new Map() })).ok).toBe(true);
  await sleep(200);
  const codecs = ["none", "gzip", "zstd", "snappy", "lz4"] as const;
  for (let p = 0; p < 3; p++) for (let i = 0; i < 5; i++) await produce(src, "orders", p, codecs[i]!, 40 + i, i * 100, 1000 + p, sumTo(i));
  for (let i = 0; i < 4; i++) await produce(src, "events", 0, codecs[i]!, 25, i * 25);
  // kcat as another producer, when installed.
  const kcat = Bun.which("kcat");
  if (kcat !== null) {
    const p = Bun.spawn([kcat, "-b", source.bootstrap, "-P", "-t", "events", "-p", "0", "-K:", "-z", "snappy", "-H", "src=kcat"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
    p.stdin.write(Array.from({ length: 50 }, (_, i) => `kk${i}:kv${i}`).join("\n") + "\n");
    await p.stdin.end();
    expect(await p.exited).toBe(0);
  }
  const committed = [
    { topic: "orders", partition: 0, offset: 17, leaderEpoch: -1, metadata: "m0" },
    { topic: "orders", partition: 2, offset: 150, leaderEpoch: -1, metadata: null },
    { topic: "events", partition: 0, offset: 60, leaderEpoch: -1, metadata: "" },
  ];
  expect((await commitGroupOffsets(src, "g1", committed, sleep)).ok).toBe(true);

  const key = join(work, "key");
  const dir = join(work, "bk");
  const c1 = await cli("create", "--bootstrap-server", source.bootstrap, "--to", dir, "--topics", "orders|events", "--encryption-key-file", key);
  expect(c1.err).not.toContain("bunka:");
  expect(c1.code).toBe(0);
  const v1 = await cli("verify", "--from", dir, "--encryption-key-file", key);
  expect(v1.code).toBe(0);

  // Incremental: more writes, a second backup that stores only them.
  await produce(src, "orders", 1, "zstd", 30, 1000);
  await produce(src, "events", 0, "gzip", 30, 1000);
  const c2 = await cli("create", "--bootstrap-server", source.bootstrap, "--to", dir, "--topics", "orders|events", "--encryption-key-file", key, "--json");
  expect(c2.code).toBe(0);
  const s2 = JSON.parse(c2.out) as { records: number; parent: string | null };
  expect(s2.records).toBe(60);
  expect(s2.parent).not.toBeNull();
  expect((await cli("verify", "--from", dir, "--encryption-key-file", key)).code).toBe(0);
  expect((await cli("list", "--from", dir)).out.split("\n").filter((l) => l.includes("encrypted")).length).toBe(2);

  // Restore the chain into a fresh broker; compare every record, configs and group offsets.
  const r1 = await cli("restore", "--from", dir, "--bootstrap-server", target.bootstrap, "--encryption-key-file", key);
  expect(r1.err).not.toContain("bunka:");
  expect(r1.code).toBe(0);
  const dst = await connect(target);
  for (const [topic, n] of Object.entries(topicsOf)) {
    for (let p = 0; p < n; p++) {
      const a = await readAll(src, topic, p);
      const b = await readAll(dst, topic, p);
      expect(a.length).toBeGreaterThan(0);
      expect(b).toEqual(a);
    }
  }
  const cfg = await describeTopicConfigs(dst, "orders");
  expect(cfg.ok && cfg.value.get("retention.ms")).toBe("86400000");
  expect(cfg.ok && cfg.value.get("max.message.bytes")).toBe("2000000");
  const g = await fetchGroupOffsets(dst, "g1", sleep);
  const gs = await fetchGroupOffsets(src, "g1", sleep);
  expect(gs.ok && gs.value.length).toBe(3);
  expect(g.ok && g.value.map((o) => [o.topic, o.partition, o.offset, o.metadata]).sort()).toEqual(gs.ok ? gs.value.map((o) => [o.topic, o.partition, o.offset, o.metadata]).sort() : []);
  expect(g.ok && g.value.map((o) => o.offset).sort()).toEqual(committed.map((o) => o.offset).sort());

  // Point in time: only records with timestamp ≤ T, cut inside a batch.
  const until = t0 + 120 * 1000; // orders partitions: records 0..39 (ts 0..39 s), 100..140, ...
  const r2 = await cli("restore", "--from", dir, "--bootstrap-server", target.bootstrap, "--encryption-key-file", key, "--topics", "orders", "--rename", "orders:orders-pit", "--until", new Date(until).toISOString());
  expect(r2.code).toBe(0);
  for (let p = 0; p < 3; p++) {
    const a = (await readAll(src, "orders", p)).filter((r) => r.timestamp <= until);
    const b = await readAll(dst, "orders-pit", p);
    expect(b).toEqual(a);
  }

  // A target topic with data is refused.
  const r3 = await cli("restore", "--from", dir, "--bootstrap-server", target.bootstrap, "--encryption-key-file", key, "--topics", "events");
  expect(r3.code).toBe(1);
  expect(r3.err).toContain("already holds records");

  // Wrong key, no key.
  const wrong = await cli("verify", "--from", dir, "--encryption-key-file", join(work, "wrong-key"));
  expect(wrong.code).toBe(1);
  expect(wrong.out).toContain("the key does not match");
  expect((await cli("verify", "--from", dir)).code).toBe(1);

  // One flipped byte in a data file: verify names the file, restore writes nothing.
  const first = readdirSync(dir).filter((n) => !n.startsWith(".")).sort()[0]!;
  const dataFile = join(dir, first, "data", "orders-1.chunks");
  const bytes = readFileSync(dataFile);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
  writeFileSync(dataFile, bytes);
  const v2 = await cli("verify", "--from", dir, "--encryption-key-file", key);
  expect(v2.code).toBe(1);
  expect(v2.out).toContain("orders-1.chunks chunk 0");
  const r4 = await cli("restore", "--from", dir, "--bootstrap-server", target.bootstrap, "--encryption-key-file", key, "--rename", "orders:orders-x", "--rename", "events:events-x");
  expect(r4.code).toBe(1);
  expect(r4.err).toContain("pre-flight");
  await dst.refreshMetadata(null);
  expect(dst.metadata.topics.some((t) => t.name === "orders-x")).toBe(false);

  // The second (incremental) backup: a truncated data file, then an edited manifest.
  const second = readdirSync(dir).filter((n) => !n.startsWith(".")).sort()[1]!;
  const incFile = join(dir, second, "data", "events-0.chunks");
  const inc = readFileSync(incFile);
  writeFileSync(incFile, inc.subarray(0, inc.length - 1));
  const v3 = await cli("verify", "--from", dir, "--encryption-key-file", key, "--backup", second);
  expect(v3.code).toBe(1);
  expect(v3.out).toContain("events-0.chunks");
  writeFileSync(incFile, inc);
  const mpath = join(dir, second, "manifest.json");
  const mtext = readFileSync(mpath, "utf8");
  writeFileSync(mpath, mtext.replace('"records": 30', '"records": 31'));
  const v4 = await cli("verify", "--from", dir, "--encryption-key-file", key, "--backup", second);
  expect(v4.code).toBe(1);
  expect(v4.out).toContain("manifest.json");
  writeFileSync(mpath, mtext);
  expect((await cli("verify", "--from", dir, "--encryption-key-file", key, "--backup", second)).code).toBe(0);

  // Bad arguments: one line, non-zero.
  const bad = await cli("restore", "--from", dir);
  expect(bad.code).toBe(2);
  expect(bad.err.trim().split("\n").length).toBe(1);
  src.close();
  dst.close();
}, 120_000);

function sumTo(i: number): number {
  let s = 0;
  for (let k = 0; k < i; k++) s += 40 + k;
  return s;
}
