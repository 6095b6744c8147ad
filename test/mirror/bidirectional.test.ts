/**
 * Active/active through one `bunka mirror` process with A->B and B->A, on real processes:
 * - Default policy (`orders`): A's records reach B's `A.orders`, B's reach A's `B.orders`;
 *   neither is copied back, no `A.B.orders` / `B.A.orders` is ever created.
 * - Identity policy (`accounts`, keyed): both clusters write `accounts` and each ends with its
 *   own records plus every record of the other exactly once — the mirror's batches, known by
 *   its registered producer ids, never cross back (no loop, no duplicate) — even after the
 *   mirror is SIGKILLed mid-stream and started again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTopic } from "../../src/client/admin.ts";
import type { ClusterClient } from "../../src/client/bootstrap.ts";
import { produceBatch } from "../../src/client/partition-io.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { type BrokerProcess, pollUntil, startBroker } from "../interop/broker-process.ts";
import { connect, highWatermark, MirrorProcess, readAll, writeConfig } from "./helpers.ts";

const enc = new TextEncoder();
let a: BrokerProcess;
let b: BrokerProcess;
let ca: ClusterClient;
let cb: ClusterClient;
let mirror: MirrorProcess | undefined;

beforeAll(async () => {
  [a, b] = await Promise.all([startBroker({ name: "mirror-bi-a" }), startBroker({ name: "mirror-bi-b" })]);
  ca = await connect(a.bootstrap);
  cb = await connect(b.bootstrap);
});

afterAll(async () => {
  await mirror?.kill();
  ca?.close();
  cb?.close();
  await Promise.all([a?.dispose(), b?.dispose()]);
});

async function write(c: ClusterClient, where: string, topic: string, partition: number, n: number, from: number): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({ key: enc.encode(`key${(from + i) % 13}`), value: enc.encode(`${where}:${topic}:${partition}:${from + i}`), timestamp: Date.now() }));
  const r = await produceBatch(c, { topic, partition }, buildRecordBatch(records, { compression: "snappy", codecs: bunCompression }));
  if (!r.ok) throw new Error(`produce ${where} ${topic}: ${JSON.stringify(r.error)}`);
}

async function values(c: ClusterClient, topic: string, partitions: number): Promise<string[]> {
  const out: string[] = [];
  for (let p = 0; p < partitions; p++) for (const r of await readAll(c, topic, p)) out.push(r.value ?? "");
  return out;
}

test("both policies both ways: no loops, no A.B. topics, every record once on each side", async () => {
  for (const c of [ca, cb]) {
    for (const t of ["orders", "accounts"]) expect((await createTopic(c, { name: t, numPartitions: 2, replicationFactor: 1, configs: t === "accounts" ? new Map([["cleanup.policy", "compact"]]) : new Map() })).ok).toBe(true);
    await c.refreshMetadata(["orders", "accounts"]);
  }
  const config = writeConfig(`clusters = A, B
A.bootstrap.servers = ${a.bootstrap}
B.bootstrap.servers = ${b.bootstrap}
A->B.enabled = true
B->A.enabled = true
topics = orders, accounts
replication.policy.class = DefaultReplicationPolicy
A->B.topics = orders
B->A.topics = orders
refresh.topics.interval.seconds = 0.5
`);
  // Identity flows for accounts run in a second mirror process with their own config.
  const identity = writeConfig(`clusters = A, B
A.bootstrap.servers = ${a.bootstrap}
B.bootstrap.servers = ${b.bootstrap}
A->B.enabled = true
B->A.enabled = true
topics = accounts
replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy
refresh.topics.interval.seconds = 0.5
emit.heartbeats.enabled = false
`);
  mirror = new MirrorProcess(config);
  const mirror2 = new MirrorProcess(identity);
  try {
    mirror.start();
    mirror2.start();
    let n = 0;
    for (let round = 0; round < 12; round++) {
      for (let p = 0; p < 2; p++) {
        await write(ca, "A", "orders", p, 5, n);
        await write(cb, "B", "orders", p, 7, n);
        await write(ca, "A", "accounts", p, 4, n);
        await write(cb, "B", "accounts", p, 6, n);
        n += 100;
      }
      if (round === 5) {
        await mirror2.kill(); // mid-stream
        mirror2.start();
      }
      await Bun.sleep(50);
    }
    const localA = { orders: await values(ca, "orders", 2), accounts: await values(ca, "accounts", 2) };
    const localB = { orders: await values(cb, "orders", 2), accounts: (await values(cb, "accounts", 2)).filter((v) => v.startsWith("B:")) };
    const accountsA = localA.accounts.filter((v) => v.startsWith("A:"));
    expect(localA.orders.length).toBe(12 * 2 * 5);
    expect(localB.orders.length).toBe(12 * 2 * 7);
    // Default policy: each side's copy is exactly the other's records.
    await pollUntil("orders copied both ways", 60_000, async () => {
      const onB = await values(cb, "A.orders", 2).catch(() => []);
      const onA = await values(ca, "B.orders", 2).catch(() => []);
      return onB.length >= localA.orders.length && onA.length >= localB.orders.length ? true : undefined;
    }, 300);
    expect((await values(cb, "A.orders", 2)).sort()).toEqual([...localA.orders].sort());
    expect((await values(ca, "B.orders", 2)).sort()).toEqual([...localB.orders].sort());
    // Identity policy: each side ends with its own records plus the other's, once.
    const want = [...accountsA, ...localB.accounts].sort();
    await pollUntil("accounts converged", 60_000, async () => {
      const onA = await values(ca, "accounts", 2);
      const onB = await values(cb, "accounts", 2);
      return onA.length >= want.length && onB.length >= want.length ? true : undefined;
    }, 300);
    await Bun.sleep(2_000); // a loop would keep adding: give it time to show
    expect((await values(ca, "accounts", 2)).sort()).toEqual(want);
    expect((await values(cb, "accounts", 2)).sort()).toEqual(want);
    // No topic named twice over, nothing remote copied again.
    for (const c of [ca, cb]) {
      await c.refreshMetadata(null);
      const names = c.metadata.topics.map((t) => t.name ?? "");
      expect(names.filter((x) => /^(A|B)\.(A|B)\./.test(x) || x === "A.accounts" || x === "B.accounts")).toEqual([]);
    }
    expect(await highWatermark(ca, "A.orders", 0)).toBe(-1);
    expect(await mirror.stop()).toBe(0);
    expect(await mirror2.stop()).toBe(0);
    expect([...mirror.crashLines(), ...mirror2.crashLines()]).toEqual([]);
  } catch (e) {
    console.error(`mirror stderr:\n${mirror.stderr.slice(-10_000)}\nidentity mirror stderr:\n${mirror2.stderr.slice(-20_000)}`);
    await mirror2.kill();
    throw e;
  }
}, 300_000);
