/**
 * The metrics endpoint of a real broker process (`metrics.listener`): scraped after kafkajs
 * produced, consumed and committed, parsed by the strict test parser and by `promtool check
 * metrics` (Debian's prometheus package, scripts/test-deps.sh), figures checked against what
 * the clients did.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Kafka, logLevel } from "kafkajs";
import { freePorts } from "../interop/cluster-process.ts";
import { type BrokerProcess, guard, ok, run, startBroker, text } from "../interop/broker-process.ts";
import { parsePrometheusText, sampleValue } from "./prom-parse.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let broker: BrokerProcess | undefined;
let url = "";
let backupDir = "";
let lastBody = "";

async function scrape(): Promise<string> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return r.text();
}

beforeAll(async () => {
  const [port] = freePorts(1);
  url = `http://127.0.0.1:${port}/metrics`;
  backupDir = mkdtempSync(join(tmpdir(), "bunka-metrics-backups-"));
  // Scheduled backups on (an hour apart: none runs here) so their status figures are present.
  broker = await startBroker({ name: "metrics", sets: { "metrics.listener": url, "log.dir.monitor.interval.ms": "200", "backup.dir": backupDir } });
}, 60_000);

afterAll(async () => {
  await broker?.dispose();
  if (backupDir !== "") rmSync(backupDir, { recursive: true, force: true });
});

describe("metrics endpoint on a real broker", () => {
  test(
    "figures follow produce, fetch and commits; promtool accepts the text",
    guard(
      () => broker,
      async () => {
        const kafka = new Kafka({ clientId: "metrics-test", brokers: [broker!.bootstrap], logLevel: logLevel.NOTHING });
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: "m-topic", numPartitions: 2 }], waitForLeaders: true });
        const producer = kafka.producer();
        await producer.connect();
        const messages = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `value-${i}`, partition: i % 2 }));
        await producer.send({ topic: "m-topic", messages });
        await producer.disconnect();
        // Partition 0 committed at 2 of its 5 records: lag 3; partition 1 at its end: lag 0.
        await admin.setOffsets({ groupId: "m-group", topic: "m-topic", partitions: [{ partition: 0, offset: "2" }, { partition: 1, offset: "5" }] });
        await admin.disconnect();
        ok("kcat consume", await run(["kcat", "-b", broker!.bootstrap, "-C", "-t", "m-topic", "-p", "0", "-o", "beginning", "-c", "5", "-e", "-q"], { timeoutMs: 20_000 }));

        const body = await scrape();
        lastBody = body;
        const m = parsePrometheusText(body);
        expect(sampleValue(m, "kafka_server_brokertopicmetrics_messagesin_total", { topic: "m-topic" })).toBe(10);
        expect(sampleValue(m, "kafka_server_brokertopicmetrics_bytesin_total", { topic: "m-topic" })).toBeGreaterThan(10 * "value-0".length);
        expect(sampleValue(m, "kafka_server_brokertopicmetrics_bytesout_total", { topic: "m-topic" })).toBeGreaterThan(5 * "value-0".length);
        expect(sampleValue(m, "kafka_server_brokertopicmetrics_messagesin_total")).toBeGreaterThanOrEqual(10);
        expect(sampleValue(m, "kafka_server_replicamanager_partitioncount")).toBeGreaterThanOrEqual(2);
        expect(sampleValue(m, "kafka_server_replicamanager_leadercount")).toBe(sampleValue(m, "kafka_server_replicamanager_partitioncount"));
        expect(sampleValue(m, "kafka_server_replicamanager_underreplicatedpartitions")).toBe(0);
        expect(sampleValue(m, "kafka_controller_kafkacontroller_activecontrollercount")).toBe(1);
        expect(sampleValue(m, "kafka_controller_kafkacontroller_offlinepartitionscount")).toBe(0);
        expect(sampleValue(m, "kafka_log_log_logendoffset", { topic: "m-topic", partition: "0" })).toBe(5);
        expect(sampleValue(m, "kafka_log_log_size", { topic: "m-topic", partition: "1" })).toBeGreaterThan(0);
        expect(sampleValue(m, "kafka_consumergroup_lag", { group: "m-group", topic: "m-topic", partition: "0" })).toBe(3);
        expect(sampleValue(m, "kafka_consumergroup_lag", { group: "m-group", topic: "m-topic", partition: "1" })).toBe(0);
        expect(sampleValue(m, "kafka_network_requestmetrics_requests_total", { request: "Produce" })).toBeGreaterThanOrEqual(1);
        expect(sampleValue(m, "kafka_network_requestmetrics_totaltimems_count", { request: "Produce" })).toBe(sampleValue(m, "kafka_network_requestmetrics_requests_total", { request: "Produce" }));
        expect(sampleValue(m, "kafka_network_requestmetrics_requests_total", { request: "Fetch" })).toBeGreaterThanOrEqual(1);
        expect(sampleValue(m, "bunka_raft_role", { role: "leader" })).toBe(1);
        expect(sampleValue(m, "bunka_raft_epoch")).toBeGreaterThanOrEqual(1);
        expect(sampleValue(m, "bunka_raft_commit_lag")).toBe(0);
        expect(sampleValue(m, "bunka_broker_fenced")).toBe(0);
        expect(sampleValue(m, "bunka_log_dir_level", { dir: broker!.dataDir, level: "normal" })).toBe(1);
        expect(sampleValue(m, "bunka_log_dir_usage_ratio", { dir: broker!.dataDir })).toBeGreaterThan(0);
        expect(sampleValue(m, "bunka_server_connections_accepted_total")).toBeGreaterThanOrEqual(2);
        expect(sampleValue(m, "bunka_backup_state", { state: "idle" })).toBe(1);
        expect(sampleValue(m, "bunka_backup_runs_total")).toBe(0);

        // Counters only grow: a second scrape after more records.
        const p2 = kafka.producer();
        await p2.connect();
        await p2.send({ topic: "m-topic", messages: [{ value: "more", partition: 0 }] });
        await p2.disconnect();
        const m2 = parsePrometheusText(await scrape());
        expect(sampleValue(m2, "kafka_server_brokertopicmetrics_messagesin_total", { topic: "m-topic" })).toBe(11);
        expect(sampleValue(m2, "kafka_consumergroup_lag", { group: "m-group", topic: "m-topic", partition: "0" })).toBe(4);

        const promtool = Bun.which("promtool");
        if (promtool === null) throw new Error("promtool is not installed (apt-get install prometheus; scripts/test-deps.sh does)");
        const checked = await run([promtool, "check", "metrics"], { stdin: body, timeoutMs: 20_000 });
        expect({ code: checked.code, out: text(checked.stdout) + checked.stderr }).toEqual({ code: 0, out: "" });
      },
    ),
    90_000,
  );

  test("the sample Grafana dashboard's queries parse (promtool check rules) and name only metrics the broker exports", async () => {
    expect(lastBody).not.toBe("");
    const families = parsePrometheusText(lastBody);
    const dashboard = JSON.parse(readFileSync(join(import.meta.dir, "../../docs/grafana-bunka.json"), "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr.replaceAll("$job", ".*")));
    expect(exprs.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const e of exprs) {
      for (const name of e.match(/\b(?:kafka|bunka)_[a-z0-9_]+/g) ?? []) {
        const family = name.replace(/_(bucket|sum|count)$/, "");
        if (!families.has(name) && !families.has(family)) missing.push(name);
      }
    }
    expect(missing).toEqual([]);
    const rules = join(backupDir, "dashboard-rules.yml");
    writeFileSync(rules, `groups:\n  - name: dashboard\n    rules:\n${exprs.map((e, i) => `      - record: dashboard:expr${i}\n        expr: ${JSON.stringify(e)}\n`).join("")}`);
    const promtool = Bun.which("promtool");
    if (promtool === null) throw new Error("promtool is not installed (apt-get install prometheus; scripts/test-deps.sh does)");
    const checked = await run([promtool, "check", "rules", rules], { timeoutMs: 20_000 });
    expect({ code: checked.code, err: checked.stderr }).toEqual({ code: 0, err: "" });
  });

  test("other paths are 404, other methods 405", async () => {
    expect((await fetch(url.replace("/metrics", "/nope"))).status).toBe(404);
    expect((await fetch(url, { method: "POST" })).status).toBe(405);
  });

  test("SIGTERM stops a broker with its metrics endpoint cleanly (exit 0, the port released)", async () => {
    expect(await broker!.stop()).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  test("a metrics.listener port already taken stops start-up: exit 1, its last line names it", async () => {
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const dir = mkdtempSync(join(tmpdir(), "bunka-metrics-taken-"));
    try {
      const r = await run(["bun", "src/main.ts", "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${dir}`, "--set", `metrics.listener=http://127.0.0.1:${taken.port}/metrics`], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split("\n").at(-1)).toContain(`metrics.listener 127.0.0.1:${taken.port}: cannot listen`);
    } finally {
      taken.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a bad metrics.listener refuses start-up with one line and exit 2", async () => {
    const r = await run(["bun", "src/main.ts", "broker", "--set", "metrics.listener=ftp://x"], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    const err = r.stderr.trim().split("\n");
    expect(err.length).toBe(1);
    expect(err[0]).toContain("metrics.listener");
  });
});
