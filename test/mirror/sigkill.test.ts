/**
 * Exactly once across mirror crashes: a producer writes zstd batches of unique records into
 * two partitions of A without pause while the `bunka mirror` process is SIGKILLed three
 * times mid-stream and started again. When the producer stops and the mirror catches up, B's
 * copy of each partition holds every source record exactly once, in the source's order, at
 * the source's offsets (the restarted mirror found where it stopped from B's own log and its
 * offset syncs).
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
  [a, b] = await Promise.all([startBroker({ name: "mirror-kill-a" }), startBroker({ name: "mirror-kill-b" })]);
  ca = await connect(a.bootstrap);
  cb = await connect(b.bootstrap);
});

afterAll(async () => {
  await mirror?.kill();
  ca?.close();
  cb?.close();
  await Promise.all([a?.dispose(), b?.dispose()]);
});

test("three SIGKILLs under load: every record on B exactly once", async () => {
  const created = await createTopic(ca, { name: "load", numPartitions: 2, replicationFactor: 1, configs: new Map() });
  expect(created.ok).toBe(true);
  await ca.refreshMetadata(["load"]);
  let producing = true;
  let produced = 0;
  const producer = (async () => {
    let seq = 0;
    while (producing) {
      for (let p = 0; p < 2; p++) {
        const records = Array.from({ length: 50 }, (_, i) => ({ key: enc.encode(`k${(seq + i) % 97}`), value: enc.encode(`p${p}-r${seq + i}-${"y".repeat(200)}`), timestamp: Date.now() }));
        const r = await produceBatch(ca, { topic: "load", partition: p }, buildRecordBatch(records, { compression: "zstd", codecs: bunCompression }));
        if (!r.ok) throw new Error(`produce: ${JSON.stringify(r.error)}`);
        produced += 50;
      }
      seq += 50;
      await Bun.sleep(2);
    }
  })();
  const config = writeConfig(`clusters = A, B
A.bootstrap.servers = ${a.bootstrap}
B.bootstrap.servers = ${b.bootstrap}
A->B.enabled = true
A->B.topics = load
refresh.topics.interval.seconds = 1
`);
  mirror = new MirrorProcess(config);
  try {
    for (let kill = 0; kill < 3; kill++) {
      mirror.start();
      // Let it copy something first, so each kill lands mid-stream.
      const before = (await highWatermark(cb, "A.load", 0)) + (await highWatermark(cb, "A.load", 1));
      await pollUntil(`copying after start #${kill + 1}`, 60_000, async () => {
        const now = (await highWatermark(cb, "A.load", 0)) + (await highWatermark(cb, "A.load", 1));
        return now > before + 500 ? true : undefined;
      }, 100);
      await Bun.sleep(300 + kill * 400);
      await mirror.kill();
    }
    mirror.start();
    await Bun.sleep(1_000);
    producing = false;
    await producer;
    expect(produced).toBeGreaterThan(2_000);
    const ends = [await highWatermark(ca, "load", 0), await highWatermark(ca, "load", 1)];
    for (let p = 0; p < 2; p++) {
      await pollUntil(`A.load-${p} caught up`, 90_000, async () => ((await highWatermark(cb, "A.load", p)) >= (ends[p] as number) ? true : undefined), 200);
    }
    await Bun.sleep(500);
    for (let p = 0; p < 2; p++) {
      const src = await readAll(ca, "load", p);
      const dst = await readAll(cb, "A.load", p);
      expect(src.length).toBe(ends[p] as number);
      // Every record once, in order, at the same offset: equal lists (a duplicate or a gap breaks it).
      expect(dst.length).toBe(src.length);
      expect(new Set(dst.map((r) => r.value)).size).toBe(dst.length);
      expect(dst).toEqual(src);
    }
    expect(await mirror.stop()).toBe(0);
    expect(mirror.crashLines()).toEqual([]);
    // The restarts said where they resumed.
    expect(mirror.stderr).toContain("resuming after the target's last copied batch");
  } catch (e) {
    producing = false;
    console.error(`mirror stderr:\n${mirror.stderr.slice(-20_000)}`);
    throw e;
  }
}, 300_000);
