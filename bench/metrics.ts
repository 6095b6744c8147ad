/**
 * Metrics endpoint benchmark on a real broker process (`metrics.listener`):
 *
 * 1. Scrape time: a broker holding 1,000 partitions (one topic, each partition with records,
 *    written by rdkafka_performance), scraped SCRAPES times one after another; figure: the
 *    client's wall time of GET + reading the body, median and p99 in ms, and the body size.
 *    Bar (issue 20): median under 50 ms.
 * 2. Produce cost of scraping: rdkafka_performance -P (COUNT records of 100 B, acks=1,
 *    linger.ms=5, 6 partitions) against the same broker, RUNS runs without scraping and RUNS
 *    with a scrape every second, alternated so drift on the machine hits both alike; figure:
 *    median msgs/s of each side and their ratio.
 *
 * Run: `bun bench/metrics.ts` (SCRAPES=50 RUNS=3 COUNT=500000). Writes
 * bench/results/metrics.json. Tools: librdkafka's rdkafka_performance from RDKAFKA_PERFORMANCE,
 * else built by bench/e2e/build-librdkafka.sh.
 */
import { spawnSync } from "bun";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { startBroker } from "../test/interop/broker-process.ts";
import { freePorts } from "../test/interop/cluster-process.ts";

const repoRoot = resolve(import.meta.dir, "..");
const scrapes = Number(process.env.SCRAPES ?? 50);
const runs = Number(process.env.RUNS ?? 3);
const count = Number(process.env.COUNT ?? 500_000);
const partitionsWide = 1000;
const produceSummary = /^% (\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset -?\d+, (\d+) failed\) in (\d+)ms: (\d+) msgs\/s/gm;

function perfTool(): string {
  const given = process.env.RDKAFKA_PERFORMANCE;
  if (given !== undefined) return given;
  const r = spawnSync(["bash", join(repoRoot, "bench/e2e/build-librdkafka.sh")], { stdout: "pipe", stderr: "inherit" });
  const line = r.stdout.toString().split("\n").find((l) => l.startsWith("rdkafka_performance="));
  if (r.exitCode !== 0 || line === undefined) throw new Error("bench/e2e/build-librdkafka.sh gave no rdkafka_performance");
  return line.slice("rdkafka_performance=".length);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function p99(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
}

async function produce(perf: string, bootstrap: string, topic: string, n: number): Promise<number> {
  const proc = Bun.spawn([perf, "-P", "-t", topic, "-b", bootstrap, "-c", String(n), "-s", "100", "-a", "1", "-X", "linger.ms=5", "-X", "batch.size=1000000", "-X", "sticky.partitioning.linger.ms=0"], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  let last: RegExpMatchArray | undefined;
  for (const m of (out + err).matchAll(produceSummary)) last = m;
  if (last === undefined || last[3] !== String(n) || last[4] !== "0") throw new Error(`rdkafka_performance did not deliver ${n} records: ${(out + err).slice(-500)}`);
  return Number(last[6]);
}

async function scrapeOnce(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const r = await fetch(url);
  const body = await r.text();
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`scrape answered ${r.status}`);
  return { ms, bytes: body.length };
}

const perf = perfTool();
const [metricsPort] = freePorts(1);
const url = `http://127.0.0.1:${metricsPort}/metrics`;
const broker = await startBroker({ name: "bench-metrics", sets: { "metrics.listener": url, "auto.create.topics.enable": "true", "num.partitions": "6" } });
try {
  const kafka = new Kafka({ clientId: "bench-metrics", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "wide", numPartitions: partitionsWide }], waitForLeaders: true, timeout: 120_000 });
  await admin.disconnect();
  await produce(perf, broker.bootstrap, "wide", 100_000);

  for (let i = 0; i < 5; i++) await scrapeOnce(url); // warm-up
  const scrapeMs: number[] = [];
  let bodyBytes = 0;
  for (let i = 0; i < scrapes; i++) {
    const s = await scrapeOnce(url);
    scrapeMs.push(s.ms);
    bodyBytes = s.bytes;
  }
  console.log(`scrape of ${partitionsWide}+ partitions: median ${median(scrapeMs).toFixed(2)} ms, p99 ${p99(scrapeMs).toFixed(2)} ms, ${bodyBytes} bytes (${scrapes} scrapes)`);

  await produce(perf, broker.bootstrap, "load", 50_000); // creates the topic, warms the path
  const without: number[] = [];
  const withScrape: number[] = [];
  for (let r = 0; r < runs; r++) {
    without.push(await produce(perf, broker.bootstrap, "load", count));
    let scrapesDuring = 0;
    const timer = setInterval(() => void scrapeOnce(url).then(() => scrapesDuring++), 1000);
    try {
      withScrape.push(await produce(perf, broker.bootstrap, "load", count));
    } finally {
      clearInterval(timer);
    }
    console.log(`run ${r + 1}: ${without[r]} msgs/s without scraping, ${withScrape[r]} msgs/s with a scrape every second (${scrapesDuring} scrapes)`);
  }
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, loadavg: loadavg() },
    command: "bun bench/metrics.ts",
    scrape: { partitions: partitionsWide, scrapes, medianMs: median(scrapeMs), p99Ms: p99(scrapeMs), bodyBytes, barMedianMs: 50 },
    produce: { runs, count, recordBytes: 100, withoutScrapeMsgsPerSec: without, withScrapeMsgsPerSec: withScrape, medianWithout: median(without), medianWith: median(withScrape), ratio: median(withScrape) / median(without) },
  };
  console.log(JSON.stringify(report, null, 2));
  mkdirSync(join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench/results/metrics.json"), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await broker.dispose();
}
