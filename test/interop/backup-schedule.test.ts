/**
 * Scheduled backups on real processes: a broker started with backup.dir, a short
 * backup.interval.ms and a key file backs itself up while records are produced; after two
 * scheduled backups (the second incremental on the first), `bunka backup verify` passes and
 * `bunka backup restore` into a fresh broker gives every record back at the same offset, with
 * the group's committed offset. Also: a bad backup.* value refuses start-up naming the key.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commitGroupOffsets, createTopic, fetchGroupOffsets } from "../../src/client/admin.ts";
import { ClusterClient } from "../../src/client/bootstrap.ts";
import { completeBatches, fetchPartition, listOffset, OffsetSpec, produceBatch } from "../../src/client/partition-io.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { type BrokerProcess, pollUntil, run, startBroker, text } from "./broker-process.ts";

const main = join(import.meta.dir, "../../src/main.ts");
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const intervalMs = 1500;
let work = "";
let source: BrokerProcess | undefined;
let target: BrokerProcess | undefined;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "bunka-backup-schedule-"));
  writeFileSync(join(work, "key"), `${"5a".repeat(32)}\n`);
});

afterAll(async () => {
  await Promise.all([source?.dispose(), target?.dispose()]);
  rmSync(work, { recursive: true, force: true });
});

async function connect(b: BrokerProcess): Promise<ClusterClient> {
  const r = await ClusterClient.connect({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(3), bootstrapServers: b.bootstrap });
  if (!r.ok) throw r.error;
  return r.value;
}

async function cli(...args: string[]) {
  return run(["bun", main, "backup", ...args], { timeoutMs: 60_000 });
}

async function produce(c: ClusterClient, partition: number, from: number, n: number, codec: "none" | "zstd" | "gzip"): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({ key: enc.encode(`k${from + i}`), value: enc.encode(`v${from + i}-${"y".repeat((from + i) % 40)}`), headers: [{ key: "n", value: enc.encode(String(from + i)) }], timestamp: 1_700_000_000_000 + from + i }));
  const r = await produceBatch(c, { topic: "sched", partition }, buildRecordBatch(records, { compression: codec, codecs: bunCompression }));
  if (!r.ok) throw new Error(`produce: ${JSON.stringify(r.error)}`);
}

async function readAll(c: ClusterClient, partition: number): Promise<string[]> {
  await c.refreshMetadata(["sched"]);
  const ref = { topic: "sched", partition };
  const end = await listOffset(c, ref, OffsetSpec.latest);
  if (!end.ok) throw new Error("listOffset");
  const out: string[] = [];
  let offset = 0;
  while (offset < end.value) {
    const r = await fetchPartition(c, ref, { fetchOffset: offset, maxBytes: 1 << 20 });
    if (!r.ok) throw new Error("fetch");
    const w = completeBatches(r.value.records, offset, 1 << 24);
    if (w.batches.length === 0) break;
    for (const b of w.batches) {
      for (const rec of b.records({ maxBytes: 1 << 24, compression: bunCompression })) {
        out.push(`${rec.offset}|${rec.key && dec.decode(rec.key)}|${rec.value && dec.decode(rec.value)}|${rec.timestamp}|${rec.headers.map((h) => `${h.key}=${h.value && dec.decode(h.value)}`).join(",")}`);
      }
    }
    offset = w.nextOffset;
  }
  return out;
}

function backupsIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => /^\d{8}T\d{9}Z-[0-9a-f]{6}$/.test(n)).sort();
  } catch {
    return [];
  }
}

test("a bad backup.* setting refuses start-up naming the key", async () => {
  const r = await run(["bun", main, "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${join(work, "bad-data")}`, "--set", "backup.topics=orders-(["], { timeoutMs: 30_000 });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("backup.topics");
  const k = await run(["bun", main, "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${join(work, "bad-data2")}`, "--set", `backup.dir=${join(work, "x")}`, "--set", `backup.encryption.key.file=${join(work, "no-such-key")}`], { timeoutMs: 30_000 });
  expect(k.code).not.toBe(0);
  expect(k.stderr).toContain("backup.encryption.key.file");
});

test("the broker backs itself up every interval; verify and restore into a fresh broker give every record back at the same offset", async () => {
  const dir = join(work, "scheduled");
  const key = join(work, "key");
  source = await startBroker({ name: "sched-src", sets: { "backup.dir": dir, "backup.interval.ms": String(intervalMs), "backup.topics": "sched", "backup.encryption.key.file": key } });
  const src = await connect(source);
  expect((await createTopic(src, { name: "sched", numPartitions: 2, replicationFactor: 1, configs: new Map([["retention.ms", "604800000"]]) })).ok).toBe(true);
  await sleep(200);
  for (let i = 0; i < 4; i++) for (let p = 0; p < 2; p++) await produce(src, p, i * 50, 50, i % 2 === 0 ? "zstd" : "none");
  expect((await commitGroupOffsets(src, "g-sched", [{ topic: "sched", partition: 1, offset: 120, leaderEpoch: -1, metadata: "here" }], sleep)).ok).toBe(true);
  // Two more runs after the writes: the later one started after them.
  const done = (): RegExpMatchArray[] => [...source!.stderr().matchAll(/msg="scheduled backup done" .*?id=(\S+) parent=(\S+) .*?records=(\d+)/g)];
  const afterWrites = async (what: string): Promise<string> => {
    const n = done().length;
    return pollUntil(what, 30_000, () => done()[n + 1]?.[1], 100).catch((e: unknown) => {
      console.error(source!.stderrTail(6000));
      throw e;
    });
  };
  const first = await afterWrites("two scheduled backups after the first writes");
  // More writes; later backups store only those (incremental on the first).
  for (let p = 0; p < 2; p++) await produce(src, p, 200, 30, "gzip");
  const second = await afterWrites("two scheduled backups after the later writes");
  expect(second > first).toBe(true);
  const doneLine = source.stderr().split("\n").find((l) => l.includes(`id=${second}`) && l.includes("scheduled backup done"))!;
  expect(doneLine).toContain("storedBytes=");
  expect(doneLine).toContain("durationMs=");
  expect(doneLine).toContain("component=backup");
  expect(backupsIn(dir)).toContain(first);
  // One chain: only the very first run was full, and no record was stored twice.
  const runs = done();
  expect(runs.filter((m) => m[2]!.includes("full")).length).toBe(1);
  expect(runs.reduce((n, m) => n + Number(m[3]), 0)).toBe(460);
  expect(source.stderr()).not.toContain("scheduled backup failed");
  const before = [await readAll(src, 0), await readAll(src, 1)];
  expect(before[0]!.length).toBe(230);
  src.close();

  // Everything checks, with the key, and the chain of `second` restores.
  const v = await cli("verify", "--from", dir, "--encryption-key-file", key, "--backup", second);
  expect(v.stderr).toBe("");
  expect(v.code).toBe(0);
  target = await startBroker({ name: "sched-dst" });
  const r = await cli("restore", "--from", dir, "--backup", second, "--bootstrap-server", target.bootstrap, "--encryption-key-file", key);
  expect(r.stderr).not.toContain("bunka:");
  expect(r.code).toBe(0);
  const dst = await connect(target);
  expect([await readAll(dst, 0), await readAll(dst, 1)]).toEqual(before);
  const offsets = await fetchGroupOffsets(dst, "g-sched", sleep);
  expect(offsets.ok && offsets.value.find((o) => o.topic === "sched" && o.partition === 1)?.offset).toBe(120);
  dst.close();

  // A graceful stop waits for the schedule (no error line, exit 0).
  expect(await source.stop()).toBe(0);
  expect(source.stderr()).toContain("scheduled backups on");
}, 120_000);
