/**
 * Backup and restore throughput against the broker's own fetch throughput, in one run:
 *   bun bench/backup.ts [--mib 1024]
 * Starts two brokers (source, target), fills one partition with MIB MiB of 1 KiB records
 * (fresh random hex text, compresses ~2:1) in 1 MiB batches, then times: a plain fetch of the whole
 * partition with the project's client (8 MiB fetches, nothing else done), `bunka backup
 * create` (zstd + AES-256-GCM), `backup verify`, and `backup restore` into the target.
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

const mib = Number(process.argv[process.argv.indexOf("--mib") + 1] ?? 1024) || 1024;
const main = join(import.meta.dir, "../src/main.ts");
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

  const f0 = performance.now();
  let offset = 0;
  let bytes = 0;
  for (;;) {
    const r = await fetchPartition(cluster, { topic: "big", partition: 0 }, { fetchOffset: offset, maxBytes: 8 << 20 });
    if (!r.ok) throw new Error("fetch");
    const w = completeBatches(r.value.records, offset, 64 << 20);
    if (w.batches.length === 0) break;
    for (const b of w.batches) bytes += b.sizeInBytes;
    offset = w.nextOffset;
    if (offset >= r.value.highWatermark) break;
  }
  const fetchS = (performance.now() - f0) / 1000;
  cluster.close();
  const mbs = (s: number) => (bytes / 1e6 / s).toFixed(0);
  console.log(`fetch (client, CRC check only): ${(bytes / 1e6).toFixed(0)} MB in ${fetchS.toFixed(2)} s = ${mbs(fetchS)} MB/s`);

  const run = async (what: string, args: string[]) => {
    const s0 = performance.now();
    const p = Bun.spawn(["bun", main, "backup", ...args], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const s = (performance.now() - s0) / 1000;
    if (code !== 0) throw new Error(`${what}: exit ${code}: ${err}`);
    console.log(`${what}: ${s.toFixed(2)} s = ${mbs(s)} MB/s (${(s / fetchS).toFixed(2)}x fetch time) | ${out.trim()}`);
    return s;
  };
  const dir = join(work, "bk");
  const key = join(work, "key");
  const backupS = await run("backup create (zstd + AES-256-GCM)", ["create", "--bootstrap-server", src.bootstrap, "--to", dir, "--encryption-key-file", key]);
  await run("backup verify", ["verify", "--from", dir, "--encryption-key-file", key]);
  await run("backup restore", ["restore", "--from", dir, "--bootstrap-server", dst.bootstrap, "--encryption-key-file", key]);
  console.log(`backup throughput / fetch throughput = ${(fetchS / backupS).toFixed(2)} (whole-process times, bun start-up included)`);
} finally {
  await Promise.all([src.dispose(), dst.dispose()]);
  rmSync(work, { recursive: true, force: true });
}
