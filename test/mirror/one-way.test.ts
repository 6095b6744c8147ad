/**
 * One-way mirroring between two real single-node brokers on 127.0.0.1, through the
 * `bunka mirror` process: keyed, headered records in gzip/zstd/uncompressed batches in three
 * partitions arrive on B in `A.orders` with the same partition numbers, the same records
 * section bytes, record counts, offsets relative to the start and timestamps; the topic's
 * configs follow, and so do a later config change and a partition increase. Then a clean
 * stop (exit 0) and a restart that neither repeats nor loses anything.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createPartitions, createTopic, describeTopicConfigs, replaceTopicConfigs } from "../../src/client/admin.ts";
import type { ClusterClient } from "../../src/client/bootstrap.ts";
import { produceBatch } from "../../src/client/partition-io.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { type BrokerProcess, pollUntil, startBroker } from "../interop/broker-process.ts";
import { connect, highWatermark, MirrorProcess, readAll, readBatches, writeConfig } from "./helpers.ts";

const enc = new TextEncoder();
let a: BrokerProcess;
let b: BrokerProcess;
let ca: ClusterClient;
let cb: ClusterClient;
let mirror: MirrorProcess;
const t0 = Date.now() - 60_000;

beforeAll(async () => {
  [a, b] = await Promise.all([startBroker({ name: "mirror-a" }), startBroker({ name: "mirror-b" })]);
  ca = await connect(a.bootstrap);
  cb = await connect(b.bootstrap);
});

afterAll(async () => {
  await mirror?.kill();
  ca?.close();
  cb?.close();
  await Promise.all([a?.dispose(), b?.dispose()]);
});

async function produce(topic: string, partition: number, codec: "none" | "gzip" | "zstd", n: number, from: number): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({
    key: (from + i) % 5 === 0 ? null : enc.encode(`k${from + i}`),
    value: enc.encode(`${topic}/${partition}/v${from + i}-${"x".repeat((from + i) % 40)}`),
    headers: (from + i) % 3 === 0 ? [{ key: "h", value: enc.encode(`hv${from + i}`) }, { key: "null", value: null }] : [],
    timestamp: t0 + from + i,
  }));
  const r = await produceBatch(ca, { topic, partition }, buildRecordBatch(records, { compression: codec, codecs: bunCompression }));
  if (!r.ok) throw new Error(`produce ${topic}-${partition}: ${JSON.stringify(r.error)}`);
}

function ok<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

test("records, batches, configs and a partition increase follow; a clean stop and restart repeat nothing", async () => {
  try {
    ok(await createTopic(ca, { name: "orders", numPartitions: 3, replicationFactor: 1, configs: new Map([["retention.ms", "987654321"], ["min.insync.replicas", "1"]]) }));
    await ca.refreshMetadata(["orders"]);
    const codecs = ["none", "gzip", "zstd"] as const;
    let n = 0;
    for (let round = 0; round < 4; round++) {
      for (let p = 0; p < 3; p++) {
        await produce("orders", p, codecs[(round + p) % 3] as "none", 10 + round * 7 + p, n);
        n += 100;
      }
    }
    const config = writeConfig(`clusters = A, B
A.bootstrap.servers = ${a.bootstrap}
B.bootstrap.servers = ${b.bootstrap}
A->B.enabled = true
A->B.topics = orders
refresh.topics.interval.seconds = 0.5
emit.checkpoints.interval.seconds = 1
`);
    mirror = new MirrorProcess(config);
    mirror.start();
    const sourceEnds = await Promise.all([0, 1, 2].map((p) => highWatermark(ca, "orders", p)));
    for (let p = 0; p < 3; p++) {
      await pollUntil(`A.orders-${p} caught up`, 60_000, async () => ((await highWatermark(cb, "A.orders", p)) >= (sourceEnds[p] as number) ? true : undefined), 200);
    }
    for (let p = 0; p < 3; p++) {
      const src = await readBatches(ca, "orders", p);
      const dst = await readBatches(cb, "A.orders", p);
      expect(dst.length).toBe(src.length);
      for (let i = 0; i < src.length; i++) {
        const s = src[i]!;
        const d = dst[i]!;
        expect([d.baseOffset, d.recordCount, d.lastOffsetDelta, d.compression, d.baseTimestamp, d.maxTimestamp]).toEqual([s.baseOffset, s.recordCount, s.lastOffsetDelta, s.compression, s.baseTimestamp, s.maxTimestamp]);
        expect(Buffer.from(d.recordsSection).equals(Buffer.from(s.recordsSection))).toBe(true);
        expect(d.verifyCrc()).toBe(true);
      }
      expect(await readAll(cb, "A.orders", p)).toEqual(await readAll(ca, "orders", p));
    }
    // Configs: the topic's own, minus min.insync.replicas (about one cluster's brokers).
    const targetConfigs = ok(await describeTopicConfigs(cb, "A.orders"));
    expect(targetConfigs.get("retention.ms")).toBe("987654321");
    expect(targetConfigs.has("min.insync.replicas")).toBe(false);
    // A config change and a fourth partition follow.
    ok(await replaceTopicConfigs(ca, "orders", new Map([["retention.ms", "123456789"], ["cleanup.policy", "delete"]])));
    ok(await createPartitions(ca, "orders", 4));
    await ca.refreshMetadata(["orders"]);
    await produce("orders", 3, "zstd", 25, 50_000);
    await pollUntil("A.orders-3 copied", 60_000, async () => ((await highWatermark(cb, "A.orders", 3)) >= 25 ? true : undefined), 200);
    await pollUntil("configs synced", 30_000, async () => {
      const c = await describeTopicConfigs(cb, "A.orders");
      return c.ok && c.value.get("retention.ms") === "123456789" && c.value.get("cleanup.policy") === "delete" ? true : undefined;
    }, 200);
    expect(await readAll(cb, "A.orders", 3)).toEqual(await readAll(ca, "orders", 3));

    // Clean stop, more records, restart: exactly the new records are added.
    expect(await mirror.stop()).toBe(0);
    for (let p = 0; p < 4; p++) await produce("orders", p, "gzip", 9, 90_000 + p * 100);
    mirror.start();
    const ends = await Promise.all([0, 1, 2, 3].map((p) => highWatermark(ca, "orders", p)));
    for (let p = 0; p < 4; p++) {
      await pollUntil(`A.orders-${p} caught up again`, 60_000, async () => ((await highWatermark(cb, "A.orders", p)) >= (ends[p] as number) ? true : undefined), 200);
    }
    for (let p = 0; p < 4; p++) expect(await readAll(cb, "A.orders", p)).toEqual(await readAll(ca, "orders", p));
    // No loops: B has no topic named after B, and nothing copied back.
    await cb.refreshMetadata(null);
    expect(cb.metadata.topics.map((t) => t.name).filter((x) => x?.startsWith("A.A.") || x?.startsWith("B."))).toEqual([]);
    expect(await mirror.stop()).toBe(0);
    expect(mirror.crashLines()).toEqual([]);
  } catch (e) {
    console.error(`mirror stderr:\n${mirror?.stderr.slice(-20_000)}`);
    throw e;
  }
}, 240_000);
