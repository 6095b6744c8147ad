/**
 * Clusters that go away: the source broker stops for a while and comes back, then the target
 * broker does; the `bunka mirror` process keeps running, logs that it waits, resumes by
 * itself, and B ends with every record of A exactly once. Then, with the mirror stopped, the
 * source's log start passes its position: the restarted mirror copies from the new log start
 * and logs the loss.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTopic } from "../../src/client/admin.ts";
import type { ClusterClient } from "../../src/client/bootstrap.ts";
import { produceBatch } from "../../src/client/partition-io.ts";
import { defaultDeleteRecordsPartition, defaultDeleteRecordsRequest, defaultDeleteRecordsTopic } from "../../src/protocol/messages/delete-records-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { type BrokerProcess, pollUntil, startBroker } from "../interop/broker-process.ts";
import { connect, highWatermark, MirrorProcess, readAll, writeConfig } from "./helpers.ts";

const enc = new TextEncoder();
let a: BrokerProcess;
let b: BrokerProcess;
let mirror: MirrorProcess | undefined;

beforeAll(async () => {
  [a, b] = await Promise.all([startBroker({ name: "mirror-out-a" }), startBroker({ name: "mirror-out-b" })]);
});

afterAll(async () => {
  await mirror?.kill();
  await Promise.all([a?.dispose(), b?.dispose()]);
});

async function write(c: ClusterClient, n: number, from: number): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({ key: null, value: enc.encode(`r${from + i}`), timestamp: Date.now() }));
  const r = await produceBatch(c, { topic: "feed", partition: 0 }, buildRecordBatch(records));
  if (!r.ok) throw new Error(`produce: ${JSON.stringify(r.error)}`);
}

async function caughtUp(what: string, targetEnd?: number): Promise<void> {
  const ca = await connect(a.bootstrap);
  const cb = await connect(b.bootstrap);
  const end = targetEnd ?? (await highWatermark(ca, "feed", 0));
  await pollUntil(what, 90_000, async () => ((await highWatermark(cb, "A.feed", 0)) >= end ? true : undefined), 250);
  ca.close();
  cb.close();
}

test("the source and then the target go away and come back: the mirror waits, resumes, repeats nothing", async () => {
  let ca = await connect(a.bootstrap);
  expect((await createTopic(ca, { name: "feed", numPartitions: 1, replicationFactor: 1, configs: new Map() })).ok).toBe(true);
  await ca.refreshMetadata(["feed"]);
  for (let i = 0; i < 10; i++) await write(ca, 20, i * 20);
  ca.close();
  mirror = new MirrorProcess(
    writeConfig(`clusters = A, B
A.bootstrap.servers = ${a.bootstrap}
B.bootstrap.servers = ${b.bootstrap}
A->B.enabled = true
A->B.topics = feed
refresh.topics.interval.seconds = 1
A.request.timeout.ms = 3000
B.request.timeout.ms = 3000
`),
  );
  try {
    mirror.start();
    await caughtUp("first copy");
    expect(await a.stop()).toBe(0);
    await Bun.sleep(3_000);
    await a.restart();
    ca = await connect(a.bootstrap);
    for (let i = 10; i < 20; i++) await write(ca, 20, i * 20);
    ca.close();
    await caughtUp("copy after the source came back");
    expect(await b.stop()).toBe(0);
    ca = await connect(a.bootstrap);
    for (let i = 20; i < 30; i++) await write(ca, 20, i * 20);
    await Bun.sleep(3_000);
    await b.restart();
    await caughtUp("copy after the target came back");
    const cb = await connect(b.bootstrap);
    expect(await readAll(cb, "A.feed", 0)).toEqual(await readAll(ca, "feed", 0));
    expect((await readAll(cb, "A.feed", 0)).length).toBe(600);
    ca.close();
    cb.close();
    expect(mirror.stderr).toContain("waits and resumes");
    // Stopped, the source moves on and its log start passes the mirror's position
    // (retention; here DeleteRecords): the mirror copies from the new log start and says so.
    expect(await mirror.stop()).toBe(0);
    ca = await connect(a.bootstrap);
    for (let i = 30; i < 35; i++) await write(ca, 20, i * 20);
    const del = await ca.send(ca.brokers[0]!.nodeId, ApiKeys.DeleteRecords, {
      ...defaultDeleteRecordsRequest(),
      timeoutMs: 10_000,
      topics: [{ ...defaultDeleteRecordsTopic(), name: "feed", partitions: [{ ...defaultDeleteRecordsPartition(), partitionIndex: 0, offset: 660 }] }],
    });
    expect(del.ok && del.body.topics[0]?.partitions[0]?.errorCode).toBe(0);
    mirror.start();
    await caughtUp("copy after the log start moved", 640); // 600 copied before, then source 660..699
    const after = await connect(b.bootstrap);
    const copied = await readAll(after, "A.feed", 0);
    expect(copied.length).toBe(640);
    expect(copied.slice(600).map((r) => r.value)).toEqual((await readAll(ca, "feed", 0)).map((r) => r.value));
    after.close();
    ca.close();
    expect(mirror.stderr).toContain("records lost to retention before copying");
    expect(await mirror.stop()).toBe(0);
    expect(mirror.crashLines()).toEqual([]);
  } catch (e) {
    console.error(`mirror stderr:\n${mirror.stderr.slice(-20_000)}`);
    throw e;
  }
}, 300_000);
