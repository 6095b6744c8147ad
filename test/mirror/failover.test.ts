/**
 * Consumer failover through the mirror, on real processes: A's `events` starts at offset 120
 * (DeleteRecords, inside a batch), so B's copy sits 100 offsets lower and translation is not
 * the identity. A group's commits on A (mid-batch on purpose) are checkpointed and synced to
 * the same group on B while it is empty there; consuming B from the synced offsets yields
 * exactly the records A had left for the group (0 skipped, 0 re-read). A group that already
 * moved further on B is not rewound. `translate-offsets` prints the same translation,
 * `status` shows the flow with no lag, and heartbeats and checkpoints arrive on B.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { commitGroupOffsets, createTopic, fetchGroupOffsets } from "../../src/client/admin.ts";
import type { ClusterClient } from "../../src/client/bootstrap.ts";
import { produceBatch } from "../../src/client/partition-io.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultDeleteRecordsPartition, defaultDeleteRecordsRequest, defaultDeleteRecordsTopic } from "../../src/protocol/messages/delete-records-request.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { type BrokerProcess, pollUntil, run, startBroker, text } from "../interop/broker-process.ts";
import { connect, highWatermark, mainPath, MirrorProcess, readAll, writeConfig } from "./helpers.ts";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let a: BrokerProcess;
let b: BrokerProcess;
let ca: ClusterClient;
let cb: ClusterClient;
let mirror: MirrorProcess | undefined;

beforeAll(async () => {
  [a, b] = await Promise.all([startBroker({ name: "mirror-fo-a" }), startBroker({ name: "mirror-fo-b" })]);
  ca = await connect(a.bootstrap);
  cb = await connect(b.bootstrap);
});

afterAll(async () => {
  await mirror?.kill();
  ca?.close();
  cb?.close();
  await Promise.all([a?.dispose(), b?.dispose()]);
});

function ok<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

test("a group fails over from A to B with 0 records skipped and 0 re-read", async () => {
  ok(await createTopic(ca, { name: "events", numPartitions: 2, replicationFactor: 1, configs: new Map() }));
  await ca.refreshMetadata(["events"]);
  for (let i = 0; i < 10; i++) {
    for (let p = 0; p < 2; p++) {
      const records = Array.from({ length: 50 }, (_, j) => ({ key: enc.encode(`k${j}`), value: enc.encode(`e${p}-${i * 50 + j}`), timestamp: Date.now() }));
      ok(await produceBatch(ca, { topic: "events", partition: p }, buildRecordBatch(records, { compression: "lz4", codecs: bunCompression })));
    }
  }
  const del = await ca.send(ca.brokers[0]!.nodeId, ApiKeys.DeleteRecords, {
    ...defaultDeleteRecordsRequest(),
    timeoutMs: 10_000,
    topics: [{ ...defaultDeleteRecordsTopic(), name: "events", partitions: [{ ...defaultDeleteRecordsPartition(), partitionIndex: 0, offset: 120 }] }],
  });
  expect(del.ok && del.body.topics[0]?.partitions[0]?.errorCode).toBe(0);
  ok(await commitGroupOffsets(ca, "g", [{ topic: "events", partition: 0, offset: 237, leaderEpoch: -1, metadata: "m0" }, { topic: "events", partition: 1, offset: 300, leaderEpoch: -1, metadata: null }], sleep));
  // A group that already consumed further on B keeps its position.
  ok(await commitGroupOffsets(ca, "ahead", [{ topic: "events", partition: 1, offset: 100, leaderEpoch: -1, metadata: null }], sleep));
  const config = writeConfig(`clusters = A, B
A.bootstrap.servers = ${a.bootstrap}
B.bootstrap.servers = ${b.bootstrap}
A->B.enabled = true
A->B.topics = events
refresh.topics.interval.seconds = 1
emit.checkpoints.interval.seconds = 0.3
sync.group.offsets.enabled = true
sync.group.offsets.interval.seconds = 0.3
emit.heartbeats.interval.seconds = 0.2
A->B.offset-syncs.topic.location = target
`);
  mirror = new MirrorProcess(config);
  try {
    mirror.start();
    await pollUntil("events copied", 60_000, async () => ((await highWatermark(cb, "A.events", 0)) === 400 && (await highWatermark(cb, "A.events", 1)) === 500 ? true : undefined), 200);
    ok(await commitGroupOffsets(cb, "ahead", [{ topic: "A.events", partition: 1, offset: 400, leaderEpoch: -1, metadata: null }], sleep));
    const synced = await pollUntil("group g synced on B", 60_000, async () => {
      const r = await fetchGroupOffsets(cb, "g", sleep);
      // Translations are clamped to what the mirror has acknowledged, so they may trail at first.
      return r.ok && r.value.length === 2 && r.value.every((o) => o.offset >= (o.partition === 0 ? 137 : 300)) ? r.value : undefined;
    }, 200);
    const byPartition = new Map(synced.map((o) => [o.partition, o]));
    // Source 100..499 of partition 0 sits at 0..399 on B: 237 → 137. Partition 1 is whole.
    expect(byPartition.get(0)?.offset).toBe(137);
    expect(byPartition.get(0)?.metadata).toBe("m0");
    expect(byPartition.get(1)?.offset).toBe(300);
    for (const [p, from] of [[0, 237], [1, 300]] as const) {
      const leftOnA = (await readAll(ca, "events", p)).filter((r) => r.offset >= from).map((r) => r.value);
      const readOnB = (await readAll(cb, "A.events", p)).filter((r) => r.offset >= (byPartition.get(p)?.offset as number)).map((r) => r.value);
      expect(readOnB).toEqual(leftOnA); // nothing skipped, nothing read twice
      expect(readOnB.length).toBeGreaterThan(0);
    }
    await sleep(1_000);
    const ahead = ok(await fetchGroupOffsets(cb, "ahead", sleep));
    expect(ahead.map((o) => o.offset)).toEqual([400]);
    // translate-offsets and status, as an operator runs them.
    const tr = await run(["bun", mainPath, "mirror", "translate-offsets", "--config", config, "--group", "g"], { timeoutMs: 60_000 });
    expect(tr.code).toBe(0);
    const lines = text(tr.stdout).trim().split("\n");
    expect(lines).toContain("A->B\tevents\t0\t237\tA.events\t137");
    expect(lines).toContain("A->B\tevents\t1\t300\tA.events\t300");
    const st = await run(["bun", mainPath, "mirror", "status", "--config", config], { timeoutMs: 60_000 });
    expect(st.code).toBe(0);
    const out = text(st.stdout);
    expect(out).toContain("flow A->B (default policy): 1 topics");
    expect(out).toContain("events-0 -> A.events-0: source end 500, target end 400, copied to source offset 500, lag 0 records");
    expect(out).toContain("total lag 0 records");
    expect(out).toMatch(/last heartbeat \d+\.\d s ago/);
    expect(await highWatermark(cb, "heartbeats", 0)).toBeGreaterThan(0);
    expect(await highWatermark(cb, "A.checkpoints.internal", 0)).toBeGreaterThan(0);
    expect(await highWatermark(cb, "mm2-offset-syncs.B.internal", 0)).toBeGreaterThan(0);
    expect(await mirror.stop()).toBe(0);
    expect(mirror.crashLines()).toEqual([]);
  } catch (e) {
    console.error(`mirror stderr:\n${mirror.stderr.slice(-20_000)}`);
    throw e;
  }
}, 240_000);
