/**
 * A real broker on a real, small, full filesystem: a 64 MiB tmpfs mounted over the broker's
 * data dir (needs root; the test says why it skips otherwise and unmounts in teardown).
 *
 * A kafkajs producer writes 64 KiB batches as fast as it can, acks=all, no retries, until the
 * broker refuses. Then: the refusal is the documented one (NOT_ENOUGH_REPLICAS naming the dir)
 * and came before any ENOSPC reached a log (the broker's stderr has none); the broker is still
 * up; SIGKILL at the full point and a restart recover every acknowledged record intact
 * (read with kcat); deleting the topic makes room and writes to another topic resume within
 * one monitor interval, on their own.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Kafka, logLevel } from "kafkajs";
import { BrokerProcess, ok, pollUntil, run, text } from "./broker-process.ts";

setDefaultTimeout(120_000);

const monitorIntervalMs = 1000;
const broker = new BrokerProcess({
  name: "disk-full",
  sets: { "log.dir.monitor.interval.ms": String(monitorIntervalMs), "log.segment.bytes": String(4 * 1024 * 1024), "num.partitions": "1" },
});

function mountTmpfs(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (mount needs it)";
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", broker.dataDir]);
  return r.exitCode === 0 ? null : `mount -t tmpfs failed: ${r.stderr.toString().trim()}`;
}
const skipReason = mountTmpfs();
if (skipReason !== null) console.log(`disk-full.test.ts skipped: ${skipReason}`);

afterAll(async () => {
  if (broker.alive()) await broker.kill();
  if (skipReason === null) Bun.spawnSync(["umount", broker.dataDir]);
  await broker.dispose();
});

function client(): Kafka {
  return new Kafka({ clientId: "bunka-disk-full", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, requestTimeout: 10_000 });
}

describe.skipIf(skipReason !== null)("a full log dir (64 MiB tmpfs)", () => {
  test("refusal before ENOSPC, broker up, SIGKILL + restart keeps every acknowledged record, deleting a topic lets writes resume", async () => {
    await broker.start();
    const producer = client().producer({ allowAutoTopicCreation: true, retry: { retries: 0 } });
    await producer.connect();
    const value = "x".repeat(1024);
    const acked: number[] = []; // base offsets; each send is 64 records
    let refusal: unknown = null;
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < 100_000 && refusal === null; i++) {
      const messages = Array.from({ length: 64 }, (_, j) => ({ key: `${i}-${j}`, value }));
      try {
        const [meta] = await producer.send({ topic: "fill", acks: -1, messages });
        acked.push(Number(meta!.baseOffset));
        bytes += 64 * 1024;
      } catch (e) {
        refusal = e;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`disk-full: ${acked.length * 64} records (${(bytes / 2 ** 20).toFixed(1)} MiB) acknowledged in ${seconds.toFixed(1)} s before the refusal`);
    const errText = JSON.stringify(refusal, Object.getOwnPropertyNames(refusal ?? {})) + String(refusal);
    expect(errText).toMatch(/NOT_ENOUGH_REPLICAS|replicas/i);
    expect(broker.alive()).toBe(true);
    expect(broker.stderr()).toMatch(/log dir usage crossed a threshold.*to=reject/);
    expect(broker.stderr()).not.toContain("ENOSPC");
    const df = text(ok("df", await run(["df", "-B1", "--output=avail", broker.dataDir])).stdout).trim().split("\n")[1];
    console.log(`disk-full: ${df} bytes still available on the tmpfs at the refusal`);
    await producer.disconnect();

    // SIGKILL at the full point, then restart on the same (still full) dir.
    await broker.kill();
    await broker.restart();
    const r = ok("kcat", await run(["kcat", "-b", broker.bootstrap, "-C", "-t", "fill", "-o", "beginning", "-e", "-J"], { timeoutMs: 60_000 }));
    const records = text(r.stdout).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { offset: number; key: string; payload: string });
    const byOffset = new Map(records.map((x) => [x.offset, x]));
    let lost = 0;
    let corrupt = 0;
    acked.forEach((base, i) => {
      for (let j = 0; j < 64; j++) {
        const rec = byOffset.get(base + j);
        if (rec === undefined) lost++;
        else if (rec.key !== `${i}-${j}` || rec.payload !== value) corrupt++;
      }
    });
    console.log(`disk-full: after SIGKILL + restart, ${lost} acknowledged records lost, ${corrupt} corrupt, ${records.length} read`);
    expect(lost).toBe(0);
    expect(corrupt).toBe(0);

    // Deleting the topic frees its files; writes elsewhere resume within a monitor interval.
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "after", numPartitions: 1 }] });
    await admin.deleteTopics({ topics: ["fill"] });
    const deletedAt = performance.now();
    await admin.disconnect();
    const p2 = client().producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await p2.connect();
    await pollUntil("a produce to another topic succeeds", 30_000, async () => {
      try {
        await p2.send({ topic: "after", acks: -1, messages: [{ value: "again" }] });
        return true;
      } catch {
        return undefined;
      }
    }, 50);
    const resumeMs = performance.now() - deletedAt;
    console.log(`disk-full: writes resumed ${resumeMs.toFixed(0)} ms after DeleteTopics (monitor interval ${monitorIntervalMs} ms)`);
    expect(resumeMs).toBeLessThan(monitorIntervalMs * 3);
    await p2.disconnect();
    expect(broker.crashLines()).toEqual([]);
  });
});
