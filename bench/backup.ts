/**
 * Backup and restore throughput against the broker's own fetch throughput, in one run:
 *   bun bench/backup.ts [--mib 1024] [--runs 3]
 * Starts two brokers (source, target), fills one partition with MIB MiB of 1 KiB records
 * (fresh random hex text, compresses ~2:1) in 1 MiB batches, then times: a plain fetch of the whole
 * partition with the project's client (8 MiB fetches, nothing else done), `bunka backup
 * create` (zstd + AES-256-GCM), `backup verify`, and `backup restore` into the target.
 * Fetch and create are timed RUNS times, alternating (each create into a fresh directory, so
 * each is a full backup); verify and restore once. Medians go to bench/results/backup.json.
 * `--baseline DIR` (another checkout, e.g. a `git worktree` of an older commit with
 * node_modules and build/ linked in) also times that checkout's `backup create` in each run,
 * right after this one's: before/after figures taken under the same load.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterClient } from "../src/client/bootstrap.ts";
import { createTopic } from "../src/client/admin.ts";
import { completeBatches, fetchPartition, produceBatch } from "../src/client/partition-io.ts";
import { systemClock } from "../src/platform/bun/clock.ts";
import { bunNetwork } from "../src/platform/bun/network.ts";
import { SeededPrng } from "../src/platform/prng.ts";
import { buildRecordBatch } from "../src/protocol/records/builder.ts";
import { startBroker } from "../test/interop/broker-process.ts";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]) || fallback;
};
const mib = arg("--mib", 1024);
const runs = arg("--runs", 3);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const main = join(import.meta.dir, "../src/main.ts");
const baselineAt = process.argv.indexOf("--baseline");
const baselineMain = baselineAt < 0 ? null : join(process.argv[baselineAt + 1] ?? ".", "src/main.ts");
const work = mkdtempSync(join(tmpdir(), "bunka-bench-backup-"));
writeFileSync(join(work, "key"), "ab".repeat(32));
const [src, dst] = await Promise.all([startBroker({ name: "bench-src", sets: { "log.segment.bytes": String(1 << 30) } }), startBroker({ name: "bench-dst", sets: { "log.segment.bytes": String(1 << 30) } })]);
try {
  const c = await ClusterClient.connect({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(1), bootstrapServers: src.bootstrap });
  if (!c.ok) throw c.error;
  const cluster = c.value;
  await createTopic(cluster, { name: "big", numPartitions: 1, replicationFactor: 1, configs: new Map() });
  await cluster.refreshMetadata(["big"]);
  // Fresh random hex per record: compresses ~2:1 and never repeats (like real payloads).
  const enc = new TextEncoder();
  const value = () => enc.encode(Buffer.from(crypto.getRandomValues(new Uint8Array(512))).toString("hex"));
  const t0 = performance.now();
  for (let m = 0; m < mib; m++) {
    const records = Array.from({ length: 1000 }, (_, i) => ({ key: null, value: value(), timestamp: Date.now() }));
    const r = await produceBatch(cluster, { topic: "big", partition: 0 }, buildRecordBatch(records), { acks: 1 });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
  }
  console.log(`filled ${mib} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  let bytes = 0;
  let fetchCpuS = 0;
  const timeFetch = async (): Promise<number> => {
    const c0 = process.cpuUsage();
    const f0 = performance.now();
    let offset = 0;
    bytes = 0;
    for (;;) {
      const r = await fetchPartition(cluster, { topic: "big", partition: 0 }, { fetchOffset: offset, maxBytes: 8 << 20 });
      if (!r.ok) throw new Error("fetch");
      const w = completeBatches(r.value.records, offset, 64 << 20);
      if (w.batches.length === 0) break;
      for (const b of w.batches) bytes += b.sizeInBytes;
      offset = w.nextOffset;
      if (offset >= r.value.highWatermark) break;
    }
    const c = process.cpuUsage(c0);
    fetchCpuS = (c.user + c.system) / 1e6;
    return (performance.now() - f0) / 1000;
  };
  const mbs = (s: number) => (bytes / 1e6 / s).toFixed(0);

  let runCpuS = 0;
  const run = async (what: string, args: string[], fetchS: number, entry = main) => {
    const s0 = performance.now();
    const p = Bun.spawn(["bun", entry, "backup", ...args], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const s = (performance.now() - s0) / 1000;
    if (code !== 0) throw new Error(`${what}: exit ${code}: ${err}`);
    const cpu = p.resourceUsage()?.cpuTime;
    runCpuS = cpu === undefined ? Number.NaN : Number(cpu.user + cpu.system) / 1e6;
    console.log(`${what}: ${s.toFixed(2)} s = ${mbs(s)} MB/s (${(s / fetchS).toFixed(2)}x fetch time), ${runCpuS.toFixed(2)} s of CPU | ${out.trim()}`);
    return s;
  };
  const key = join(work, "key");
  const fetchTimes: number[] = [];
  const backupTimes: number[] = [];
  // CPU seconds of the client side (the broker's are the same for both): on a machine whose
  // cores other jobs share, the ratio of CPU costs moves far less than that of wall times.
  const fetchCpu: number[] = [];
  const backupCpu: number[] = [];
  const baselineTimes: number[] = [];
  const baselineCpu: number[] = [];
  let dir = "";
  for (let i = 0; i < runs; i++) {
    const fetchS = await timeFetch();
    fetchTimes.push(fetchS);
    fetchCpu.push(fetchCpuS);
    console.log(`run ${i + 1}: fetch (client, CRC check only): ${(bytes / 1e6).toFixed(0)} MB in ${fetchS.toFixed(2)} s = ${mbs(fetchS)} MB/s, ${fetchCpuS.toFixed(2)} s of CPU`);
    dir = join(work, `bk-${i}`);
    const backupS = await run(`run ${i + 1}: backup create (zstd + AES-256-GCM)`, ["create", "--bootstrap-server", src.bootstrap, "--to", dir, "--encryption-key-file", key], fetchS);
    backupTimes.push(backupS);
    backupCpu.push(runCpuS);
    console.log(`run ${i + 1}: backup throughput / fetch throughput = ${(fetchS / backupS).toFixed(2)}; CPU cost of fetch / of backup (whole process) = ${(fetchCpuS / runCpuS).toFixed(2)}`);
    if (baselineMain !== null) {
      baselineTimes.push(await run(`run ${i + 1}: baseline backup create`, ["create", "--bootstrap-server", src.bootstrap, "--to", join(work, `base-${i}`), "--encryption-key-file", key], fetchS, baselineMain));
      baselineCpu.push(runCpuS);
      console.log(`run ${i + 1}: baseline: throughput / fetch = ${(fetchS / (baselineTimes[i] as number)).toFixed(2)}, fetch CPU / backup CPU = ${(fetchCpuS / runCpuS).toFixed(2)}`);
    }
  }
  cluster.close();
  const fetchMed = median(fetchTimes);
  const verifyS = await run("backup verify", ["verify", "--from", dir, "--encryption-key-file", key], fetchMed);
  const restoreS = await run("backup restore", ["restore", "--from", dir, "--bootstrap-server", dst.bootstrap, "--encryption-key-file", key], fetchMed);
  const ratios = fetchTimes.map((f, i) => f / (backupTimes[i] as number));
  const cpuRatios = fetchCpu.map((f, i) => f / (backupCpu[i] as number));
  console.log(`medians of ${runs}: fetch ${mbs(fetchMed)} MB/s, backup ${mbs(median(backupTimes))} MB/s; backup/fetch throughput median ${median(ratios).toFixed(2)} (whole-process times, bun start-up included); fetch/backup CPU median ${median(cpuRatios).toFixed(2)}`);
  const mbps = (s: number) => Math.round(bytes / 1e6 / s);
  writeFileSync(
    join(import.meta.dir, "results/backup.json"),
    `${JSON.stringify(
      {
        bench: "backup",
        mib,
        runs,
        date: new Date().toISOString(),
        fetchMbPerS: fetchTimes.map(mbps),
        backupMbPerS: backupTimes.map(mbps),
        backupOverFetch: ratios.map((r) => Number(r.toFixed(2))),
        fetchCpuS: fetchCpu.map((x) => Number(x.toFixed(2))),
        backupCpuS: backupCpu.map((x) => Number(x.toFixed(2))),
        fetchCpuOverBackupCpu: cpuRatios.map((r) => Number(r.toFixed(2))),
        ...(baselineMain === null
          ? {}
          : {
              baseline: {
                backupOverFetch: fetchTimes.map((f, i) => Number((f / (baselineTimes[i] as number)).toFixed(2))),
                backupCpuS: baselineCpu.map((x) => Number(x.toFixed(2))),
                fetchCpuOverBackupCpu: fetchCpu.map((f, i) => Number((f / (baselineCpu[i] as number)).toFixed(2))),
                medians: { backupOverFetch: Number(median(fetchTimes.map((f, i) => f / (baselineTimes[i] as number))).toFixed(2)), fetchCpuOverBackupCpu: Number(median(fetchCpu.map((f, i) => f / (baselineCpu[i] as number))).toFixed(2)) },
              },
            }),
        medians: { fetchMbPerS: mbps(fetchMed), backupMbPerS: mbps(median(backupTimes)), backupOverFetch: Number(median(ratios).toFixed(2)), fetchCpuOverBackupCpu: Number(median(cpuRatios).toFixed(2)), verifyMbPerS: mbps(verifyS), restoreMbPerS: mbps(restoreS) },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await Promise.all([src.dispose(), dst.dispose()]);
  rmSync(work, { recursive: true, force: true });
}
