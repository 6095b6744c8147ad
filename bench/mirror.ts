/**
 * Mirror throughput against the source cluster's own consume throughput, in one run:
 *   bun bench/mirror.ts [--mib 256] [--partitions 4] [--runs 3]
 * Starts two brokers (source, target), fills a topic of PARTITIONS partitions with MIB MiB of
 * 1 KiB records (fresh random hex text, ~2:1) in zstd batches of 256 records, then times,
 * RUNS times alternating:
 *  - consume: the project's client fetching every partition to its end in parallel (4 MiB
 *    fetches, batches checked and walked, nothing else done) — what a consumer that does no
 *    work of its own can pull from the source;
 *  - mirror: `bunka mirror` as a subprocess copying the topic into the target (each run under
 *    fresh cluster aliases, so into a fresh target topic with its own offset syncs), timed from
 *    spawn until the target's high watermarks reach the source's (process start included), and
 *    from the first copied record on.
 * Ratio = consume time / mirror time (the bar is ≥ 0.7). Then end-to-end replication latency:
 * a producer writes 5,000 records/s (batches of 50 1 KiB zstd records every 10 ms, round
 * robin over the partitions) for LATENCY_S seconds (--latency-seconds, default 10) while a
 * mirror copies them and a reader long-polls the target; each batch's latency is the time
 * it is read on the target minus its max timestamp (its last record's creation time).
 * Medians and the latency percentiles go to bench/results/mirror.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTopic } from "../src/client/admin.ts";
import { ClusterClient } from "../src/client/bootstrap.ts";
import { completeBatches, fetchPartition, listOffset, OffsetSpec, produceBatch } from "../src/client/partition-io.ts";
import { systemClock } from "../src/platform/bun/clock.ts";
import { bunCompression } from "../src/platform/bun/compression.ts";
import { bunNetwork } from "../src/platform/bun/network.ts";
import { SeededPrng } from "../src/platform/prng.ts";
import { buildRecordBatch } from "../src/protocol/records/builder.ts";
import { startBroker } from "../test/interop/broker-process.ts";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]) || fallback;
};
const mib = arg("--mib", 256);
const partitions = arg("--partitions", 4);
const runs = arg("--runs", 3);
const latencySeconds = arg("--latency-seconds", 10);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const main = join(import.meta.dir, "../src/main.ts");
const work = mkdtempSync(join(tmpdir(), "bunka-bench-mirror-"));
const sets = { "log.segment.bytes": String(1 << 30) };
const [src, dst] = await Promise.all([startBroker({ name: "bench-mirror-src", sets }), startBroker({ name: "bench-mirror-dst", sets })]);

async function connect(bootstrap: string): Promise<ClusterClient> {
  const c = await ClusterClient.connect({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(1), bootstrapServers: bootstrap });
  if (!c.ok) throw c.error;
  return c.value;
}

async function ends(c: ClusterClient, topic: string): Promise<number> {
  let n = 0;
  for (let p = 0; p < partitions; p++) {
    const r = await listOffset(c, { topic, partition: p }, OffsetSpec.latest);
    n += r.ok ? r.value : 0;
  }
  return n;
}

try {
  const source = await connect(src.bootstrap);
  const target = await connect(dst.bootstrap);
  await createTopic(source, { name: "big", numPartitions: partitions, replicationFactor: 1, configs: new Map() });
  await source.refreshMetadata(["big"]);
  const enc = new TextEncoder();
  const value = () => enc.encode(Buffer.from(crypto.getRandomValues(new Uint8Array(512))).toString("hex"));
  const t0 = performance.now();
  let storedBytes = 0;
  const batches = (mib * 1024) / 256;
  for (let i = 0; i < batches; i++) {
    const records = Array.from({ length: 256 }, () => ({ key: null, value: value(), timestamp: Date.now() }));
    const batch = buildRecordBatch(records, { compression: "zstd", codecs: bunCompression });
    storedBytes += batch.length;
    const r = await produceBatch(source, { topic: "big", partition: i % partitions }, batch, { acks: 1 });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
  }
  const totalRecords = await ends(source, "big");
  console.log(`filled ${mib} MiB of 1 KiB records (${totalRecords} records, ${(storedBytes / 2 ** 20).toFixed(0)} MiB zstd) in ${partitions} partitions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const consumeS: number[] = [];
  const mirrorS: number[] = [];
  const mirrorSteadyS: number[] = [];
  for (let run = 1; run <= runs; run++) {
    // Consume: every partition to its end, in parallel.
    const c0 = performance.now();
    let fetched = 0;
    await Promise.all(
      Array.from({ length: partitions }, async (_, p) => {
        const ref = { topic: "big", partition: p };
        let offset = 0;
        for (;;) {
          const r = await fetchPartition(source, ref, { fetchOffset: offset, maxBytes: 4 << 20 });
          if (!r.ok) throw new Error(JSON.stringify(r.error));
          const w = completeBatches(r.value.records, offset, 1 << 26);
          for (const b of w.batches) fetched += b.recordCount;
          if (w.nextOffset >= r.value.highWatermark || w.batches.length === 0) break;
          offset = w.nextOffset;
        }
      }),
    );
    const consume = (performance.now() - c0) / 1000;
    if (fetched !== totalRecords) throw new Error(`consumed ${fetched} of ${totalRecords}`);
    consumeS.push(consume);

    // Mirror into a fresh target topic (fresh aliases: A<run>.big, offset syncs of B<run>).
    const config = join(work, `mm2-${run}.properties`);
    writeFileSync(
      config,
      `clusters = A${run}, B${run}\nA${run}.bootstrap.servers = ${src.bootstrap}\nB${run}.bootstrap.servers = ${dst.bootstrap}\nA${run}->B${run}.enabled = true\nA${run}->B${run}.topics = big\nemit.checkpoints.enabled = false\nemit.heartbeats.enabled = false\n`,
    );
    const m0 = performance.now();
    const proc = Bun.spawn(["bun", main, "mirror", "--config", config], { stdout: "ignore", stderr: "ignore" });
    const topic = `A${run}.big`;
    let first = 0;
    for (;;) {
      await target.refreshMetadata([topic]);
      const n = await ends(target, topic);
      if (n > 0 && first === 0) first = performance.now();
      if (n >= totalRecords) break;
      await Bun.sleep(50);
    }
    const mirror = (performance.now() - m0) / 1000;
    const steady = (performance.now() - first) / 1000;
    proc.kill("SIGTERM");
    await proc.exited;
    mirrorS.push(mirror);
    mirrorSteadyS.push(steady);
    const rawMiB = mib;
    console.log(
      `run ${run}: consume ${consume.toFixed(2)} s (${(rawMiB / consume).toFixed(0)} MiB/s of records, ${(storedBytes / 2 ** 20 / consume).toFixed(0)} MiB/s on the wire); mirror ${mirror.toFixed(2)} s from spawn (${(rawMiB / mirror).toFixed(0)} MiB/s), ${steady.toFixed(2)} s from the first copied record; ratio ${(consume / mirror).toFixed(2)} (steady ${(consume / steady).toFixed(2)})`,
    );
  }
  // End-to-end latency at 5,000 records/s.
  await createTopic(source, { name: "live", numPartitions: partitions, replicationFactor: 1, configs: new Map() });
  await source.refreshMetadata(["live"]);
  const lconfig = join(work, "mm2-live.properties");
  writeFileSync(lconfig, `clusters = L, M\nL.bootstrap.servers = ${src.bootstrap}\nM.bootstrap.servers = ${dst.bootstrap}\nL->M.enabled = true\nL->M.topics = live\nrefresh.topics.interval.seconds = 0.2\nemit.checkpoints.enabled = false\n`);
  const lproc = Bun.spawn(["bun", main, "mirror", "--config", lconfig], { stdout: "ignore", stderr: Bun.file(join(work, "mirror-live.log")) });
  const latencies: number[] = [];
  let producing = true;
  let measuring = false;
  const producer = (async () => {
    let i = 0;
    const next = performance.now();
    let due = next;
    while (producing) {
      const records = Array.from({ length: 50 }, () => ({ key: null, value: value(), timestamp: Date.now() }));
      const r = await produceBatch(source, { topic: "live", partition: i % partitions }, buildRecordBatch(records, { compression: "zstd", codecs: bunCompression }), { acks: 1 });
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      i++;
      due += 10;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
    }
    return i;
  })();
  const readers = Array.from({ length: partitions }, async (_, p) => {
    const ref = { topic: "L.live", partition: p };
    let offset = 0;
    while (producing) {
      await target.refreshMetadata(["L.live"]);
      const r = await fetchPartition(target, ref, { fetchOffset: offset, maxBytes: 1 << 20, maxWaitMs: 100 });
      if (!r.ok) {
        await Bun.sleep(50);
        continue;
      }
      const seenMs = Date.now();
      const w = completeBatches(r.value.records, offset, 1 << 26);
      for (const b of w.batches) if (measuring) latencies.push(seenMs - b.maxTimestamp);
      offset = w.nextOffset;
    }
  });
  await Bun.sleep(3_000); // warm-up: the mirror starts and creates L.live
  measuring = true;
  await Bun.sleep(latencySeconds * 1000);
  measuring = false;
  producing = false;
  const producedBatches = await producer;
  await Promise.all(readers);
  lproc.kill("SIGTERM");
  await lproc.exited;
  const sorted = [...latencies].sort((x, y) => x - y);
  const pct = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? -1;
  console.log(`latency at 5000 records/s: ${sorted.length} batches measured (${producedBatches} produced), p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${sorted[sorted.length - 1]} ms`);

  const result = {
    command: `bun bench/mirror.ts --mib ${mib} --partitions ${partitions} --runs ${runs}`,
    records: totalRecords,
    recordBytes: 1024,
    codec: "zstd",
    storedMiB: Math.round(storedBytes / 2 ** 20),
    consumeSecondsMedian: median(consumeS),
    mirrorSecondsMedian: median(mirrorS),
    mirrorSteadySecondsMedian: median(mirrorSteadyS),
    consumeRecordsPerSecondMedian: Math.round(totalRecords / median(consumeS)),
    mirrorRecordsPerSecondMedian: Math.round(totalRecords / median(mirrorS)),
    ratioMedian: median(consumeS.map((c, i) => c / (mirrorS[i] as number))),
    ratioSteadyMedian: median(consumeS.map((c, i) => c / (mirrorSteadyS[i] as number))),
    bar: 0.7,
    latencyRecordsPerSecond: 5000,
    latencyBatchesMeasured: sorted.length,
    latencyP50Ms: pct(0.5),
    latencyP99Ms: pct(0.99),
    latencyMaxMs: sorted[sorted.length - 1] ?? -1,
  };
  console.log(JSON.stringify(result, null, 2));
  writeFileSync(join(import.meta.dir, "results/mirror.json"), `${JSON.stringify(result, null, 2)}\n`);
  source.close();
  target.close();
} finally {
  await Promise.all([src.dispose(), dst.dispose()]);
  if (process.env.BENCH_KEEP === undefined) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
