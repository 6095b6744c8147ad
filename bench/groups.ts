/**
 * Consumer-group benchmarks against a real bunka broker subprocess (test/interop/broker-process.ts):
 *
 * 1. Offset commit throughput from ONE client connection: OffsetCommit v8 requests encoded with
 *    our codecs (simple commits: generation -1, no member, the way admin tools commit), pipelined
 *    up to PIPELINE in flight over `Bun.connect`, for SECONDS per row, with 1 and 100 partitions
 *    per request. Figure: partition commits acknowledged per second (every partition error code
 *    must be 0, else the run fails). Second row kind: a kafkajs group member calling
 *    `consumer.commitOffsets` in a loop (one request at a time, as a real client does).
 * 2. Rebalance settle time with 3 kafkajs members (sessionTimeout = rebalanceTimeout = 10 s,
 *    heartbeatInterval 1 s) while a producer writes to every partition: from the moment one member
 *    leaves (clean `disconnect()`, a LeaveGroup) or is SIGKILLed (a member in a child process: the
 *    session-timeout path) until both remaining members have received their new assignment
 *    (GROUP_JOIN, together covering all partitions) and each has consumed a record since.
 *    Median of RUNS. Bar (clean leave): <= 2 x rebalance timeout.
 *
 * The kafkajs row also records per-run commit latency (p50/p99/max): the raw section writes
 * hundreds of MB to __consumer_offsets, and a cleaner pass over it can overlap the next run.
 *
 * Run: `bun bench/groups.ts` (SECONDS=5 PIPELINE=64 RUNS=3 KILL_RUNS=3). Writes bench/results/groups.json.
 * ONLY=raw,kafkajs,leave,kill runs some sections without writing results; VERBOSE=1 prints the
 * broker's __consumer_offsets cleaner lines.
 * Internal: `bun bench/groups.ts member <bootstrap> <group> <topic>` is the killable member.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Socket } from "bun";
import { Kafka, logLevel, type Consumer, type Producer } from "kafkajs";
import { flattenChunks } from "../src/protocol/codec/writer.ts";
import { decodeResponse, encodeRequest } from "../src/protocol/frame.ts";
import { ApiKeys } from "../src/protocol/messages/index.ts";
import { startBroker, type BrokerProcess } from "../test/interop/broker-process.ts";

const seconds = Number(process.env.SECONDS ?? 5);
const pipeline = Number(process.env.PIPELINE ?? 64);
const runs = Number(process.env.RUNS ?? 3);
const killRuns = Number(process.env.KILL_RUNS ?? 3);
const commitVersion = 8;
const rebalanceTimeoutMs = 10_000;
const sessionTimeoutMs = 10_000;
const heartbeatIntervalMs = 1_000;
const settlePartitions = 6;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function kafkaFor(bootstrap: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
}

// ---------- 1. raw pipelined OffsetCommit ----------

/** One connection; frames are answered in order (Kafka's per-connection ordering). */
async function rawCommits(bootstrap: string, topic: string, partitionsPerCommit: number, durationS: number): Promise<{ commitsPerS: number; requestsPerS: number; requests: number }> {
  const [host, portText] = bootstrap.split(":");
  let inbuf = new Uint8Array(0);
  let inFlight = 0;
  let sent = 0;
  let acked = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const stopAt = performance.now() + durationS * 1000;
  const start = performance.now();
  let end = start;

  const request = (correlationId: number, base: number): Uint8Array =>
    flattenChunks(
      encodeRequest(ApiKeys.OffsetCommit, commitVersion, correlationId, "bench-groups", {
        groupId: "bench-raw",
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [
          {
            name: topic,
            partitions: Array.from({ length: partitionsPerCommit }, (_, p) => ({
              partitionIndex: p,
              committedOffset: base + p,
              committedLeaderEpoch: -1,
              commitTimestamp: -1,
              committedMetadata: null,
            })),
          },
        ],
      }),
    );

  const onFrame = (payload: Uint8Array): void => {
    const { body } = decodeResponse(ApiKeys.OffsetCommit, commitVersion, payload);
    let n = 0;
    for (const t of body.topics)
      for (const p of t.partitions) {
        if (p.errorCode !== 0) failure ??= new Error(`OffsetCommit ${t.name}/${p.partitionIndex}: error code ${p.errorCode}`);
        n++;
      }
    if (n !== partitionsPerCommit) failure ??= new Error(`OffsetCommit answered ${n} partitions, sent ${partitionsPerCommit}`);
    acked++;
    inFlight--;
  };

  const socket: Socket = await Bun.connect({
    hostname: host ?? "127.0.0.1",
    port: Number(portText),
    socket: {
      data(_s, chunk) {
        const merged = new Uint8Array(inbuf.length + chunk.length);
        merged.set(inbuf);
        merged.set(chunk, inbuf.length);
        let off = 0;
        const dv = new DataView(merged.buffer, merged.byteOffset, merged.byteLength);
        while (merged.length - off >= 4) {
          const size = dv.getInt32(off);
          if (size < 0 || size > 64 * 1024 * 1024) {
            failure ??= new Error(`bad response frame size ${size}`);
            break;
          }
          if (merged.length - off - 4 < size) break;
          onFrame(merged.subarray(off + 4, off + 4 + size));
          off += 4 + size;
        }
        inbuf = merged.slice(off);
        wake?.();
      },
      close() {
        failure ??= new Error("broker closed the connection");
        wake?.();
      },
      error(_s, e) {
        failure ??= e;
        wake?.();
      },
    },
  });

  try {
    for (;;) {
      if (failure !== undefined) throw failure;
      const now = performance.now();
      if (now >= stopAt && inFlight === 0) {
        end = now;
        break;
      }
      while (now < stopAt && inFlight < pipeline) {
        const frame = request(++sent, sent * partitionsPerCommit);
        const written = socket.write(frame);
        if (written !== frame.length) throw new Error(`short socket write ${written}/${frame.length}`);
        inFlight++;
      }
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    socket.end();
  }
  const elapsedS = (end - start) / 1000;
  return { commitsPerS: (acked * partitionsPerCommit) / elapsedS, requestsPerS: acked / elapsedS, requests: acked };
}

// ---------- 1b. kafkajs commitOffsets loop ----------

async function kafkajsCommits(bootstrap: string, topic: string, durationS: number): Promise<{ commitsPerS: number; p50Ms: number; p99Ms: number; maxMs: number }> {
  const kafka = kafkaFor(bootstrap, "bench-kjs-commit");
  const consumer = kafka.consumer({ groupId: "bench-kjs-commit", sessionTimeout: sessionTimeoutMs, heartbeatInterval: heartbeatIntervalMs, maxWaitTimeInMs: 200 });
  let assigned = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (assigned = true));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  await consumer.run({ autoCommit: false, eachMessage: async () => {} });
  const deadline = Date.now() + 30_000;
  while (!assigned) {
    if (Date.now() > deadline) throw new Error("kafkajs member never joined");
    await Bun.sleep(20);
  }
  let n = 0;
  const start = performance.now();
  const stopAt = start + durationS * 1000;
  const lat: number[] = [];
  while (performance.now() < stopAt) {
    const t = performance.now();
    await consumer.commitOffsets([{ topic, partition: 0, offset: String(++n) }]);
    lat.push(performance.now() - t);
  }
  const elapsedS = (performance.now() - start) / 1000;
  await consumer.disconnect();
  lat.sort((x, y) => x - y);
  const q = (f: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * f))] ?? Number.NaN;
  return { commitsPerS: n / elapsedS, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: lat[lat.length - 1] ?? Number.NaN };
}

// ---------- 2. rebalance settle ----------

interface Tracked {
  readonly name: string;
  readonly consumer: Consumer;
  joinedAt: number;
  assignment: number[];
  consumedSinceJoin: boolean;
}

function track(kafka: Kafka, name: string, groupId: string, topic: string): Tracked {
  const consumer = kafka.consumer({ groupId, sessionTimeout: sessionTimeoutMs, rebalanceTimeout: rebalanceTimeoutMs, heartbeatInterval: heartbeatIntervalMs, maxWaitTimeInMs: 100 });
  const t: Tracked = { name, consumer, joinedAt: 0, assignment: [], consumedSinceJoin: false };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    t.joinedAt = performance.now();
    t.assignment = [...(e.payload.memberAssignment[topic] ?? [])];
    t.consumedSinceJoin = false;
  });
  return t;
}

async function runTracked(t: Tracked, topic: string): Promise<void> {
  await t.consumer.connect();
  await t.consumer.subscribe({ topics: [topic] });
  await t.consumer.run({
    eachMessage: async () => {
      t.consumedSinceJoin = true;
    },
  });
}

async function waitFor(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

async function keepProducing(producer: Producer, topic: string, stop: () => boolean): Promise<void> {
  while (!stop()) {
    await producer.send({ topic, acks: 1, messages: Array.from({ length: settlePartitions }, (_, p) => ({ partition: p, value: "x" })) });
    await Bun.sleep(20);
  }
}

/** One settle measurement; `mode` says how the third member goes away. */
async function settleOnce(broker: BrokerProcess, run: number, mode: "leave" | "kill"): Promise<number> {
  const kafka = kafkaFor(broker.bootstrap, `bench-settle-${mode}-${run}`);
  const topic = `bench-settle-${mode}-${run}`;
  const groupId = `bench-settle-${mode}-${run}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: settlePartitions }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let stopProducing = false;
  const producing = keepProducing(producer, topic, () => stopProducing);
  const a = track(kafka, "A", groupId, topic);
  const b = track(kafka, "B", groupId, topic);
  let child: ReturnType<typeof Bun.spawn> | undefined;
  let cLocal: Tracked | undefined;
  try {
    await runTracked(a, topic);
    await runTracked(b, topic);
    if (mode === "leave") {
      cLocal = track(kafka, "C", groupId, topic);
      await runTracked(cLocal, topic);
    } else {
      child = Bun.spawn(["bun", import.meta.path, "member", broker.bootstrap, groupId, topic], { stdout: "pipe", stderr: "inherit" });
    }
    const stable = (): boolean => a.assignment.length === 2 && b.assignment.length === 2 && a.consumedSinceJoin && b.consumedSinceJoin && (cLocal === undefined || (cLocal.assignment.length === 2 && cLocal.consumedSinceJoin));
    await waitFor("3 members, 2 partitions each, all consuming", 60_000, stable);
    await Bun.sleep(500); // let heartbeats settle into steady state
    const t0 = performance.now();
    if (cLocal !== undefined) await cLocal.consumer.disconnect();
    else child?.kill("SIGKILL");
    await waitFor("A and B reassigned and consuming", 4 * sessionTimeoutMs, () => {
      if (a.joinedAt <= t0 || b.joinedAt <= t0) return false;
      const all = [...a.assignment, ...b.assignment].sort((x, y) => x - y);
      return all.length === settlePartitions && all.every((p, i) => p === i) && a.consumedSinceJoin && b.consumedSinceJoin;
    });
    return performance.now() - t0;
  } finally {
    stopProducing = true;
    await producing.catch(() => {});
    await producer.disconnect().catch(() => {});
    for (const t of [a, b]) await t.consumer.disconnect().catch(() => {});
    if (child !== undefined) {
      child.kill("SIGKILL");
      await child.exited;
    }
  }
}

/** Child mode: a kafkajs member that prints its joins; the parent SIGKILLs it (no LeaveGroup). */
async function memberMain(bootstrap: string, groupId: string, topic: string): Promise<void> {
  const kafka = kafkaFor(bootstrap, "bench-settle-victim");
  const t = track(kafka, "C", groupId, topic);
  await runTracked(t, topic);
  await new Promise(() => {});
}

// ---------- main ----------

interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly runs: readonly number[];
  readonly bar?: string;
  readonly pass?: boolean;
  readonly notes?: readonly string[];
}

async function main(): Promise<void> {
  // ONLY=raw,kafkajs,leave,kill: run some sections (investigation; results are then not written).
  const only = process.env.ONLY?.split(",");
  const want = (section: string): boolean => only === undefined || only.includes(section);
  const broker = await startBroker({ name: "bench-groups", sets: { "group.initial.rebalance.delay.ms": "0" } });
  const rows: Row[] = [];
  try {
    const kafka = kafkaFor(broker.bootstrap, "bench-groups-admin");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "bench-commit", numPartitions: 100 }], waitForLeaders: true });
    // FindCoordinator (inside fetchOffsets, retried) creates __consumer_offsets and loads the
    // group's coordinator; before that a commit is answered NOT_COORDINATOR, as in Kafka.
    await admin.fetchOffsets({ groupId: "bench-raw", topics: ["bench-commit"] });
    await admin.disconnect();

    for (const per of want("raw") ? [1, 100] : []) {
      const xs: number[] = [];
      const reqs: number[] = [];
      for (let r = 0; r < runs; r++) {
        const res = await rawCommits(broker.bootstrap, "bench-commit", per, seconds);
        xs.push(res.commitsPerS);
        reqs.push(res.requestsPerS);
        console.error(`raw OffsetCommit ${per} partition(s)/request, run ${r + 1}: ${Math.round(res.commitsPerS)} commits/s (${Math.round(res.requestsPerS)} requests/s)`);
      }
      const v = median(xs);
      rows.push({ name: `OffsetCommit v${commitVersion}, 1 connection, ${pipeline} in flight, ${per} partition(s)/request`, value: v, unit: `partition commits/s (${Math.round(median(reqs))} requests/s)`, runs: xs, bar: ">= 20,000/s", pass: v >= 20_000 });
    }
    if (want("kafkajs")) {
      Bun.gc(true); // the raw section leaves this process with a lot of garbage
      const xs: number[] = [];
      const notes: string[] = [];
      for (let r = 0; r < runs; r++) {
        const res = await kafkajsCommits(broker.bootstrap, "bench-commit", seconds);
        xs.push(res.commitsPerS);
        notes.push(`run ${r + 1}: commit latency p50 ${res.p50Ms.toFixed(2)} / p99 ${res.p99Ms.toFixed(2)} / max ${res.maxMs.toFixed(1)} ms`);
        console.error(`kafkajs commitOffsets loop, run ${r + 1}: ${Math.round(res.commitsPerS)} commits/s (latency p50 ${res.p50Ms.toFixed(2)} / p99 ${res.p99Ms.toFixed(2)} / max ${res.maxMs.toFixed(1)} ms)`);
      }
      rows.push({ name: "kafkajs consumer.commitOffsets loop (1 partition, sequential)", value: median(xs), unit: "partition commits/s", runs: xs, notes });
    }
    if (want("leave")) {
      const xs: number[] = [];
      for (let r = 0; r < runs; r++) {
        const ms = await settleOnce(broker, r, "leave");
        xs.push(ms);
        console.error(`settle after clean leave, run ${r + 1}: ${ms.toFixed(0)} ms`);
      }
      const v = median(xs);
      rows.push({ name: `rebalance settle, 3 kafkajs members, one leaves cleanly (rebalanceTimeout ${rebalanceTimeoutMs} ms, heartbeat ${heartbeatIntervalMs} ms)`, value: v, unit: "ms", runs: xs, bar: `<= ${2 * rebalanceTimeoutMs} ms`, pass: v <= 2 * rebalanceTimeoutMs });
    }
    if (want("kill")) {
      const xs: number[] = [];
      for (let r = 0; r < killRuns; r++) {
        const ms = await settleOnce(broker, r, "kill");
        xs.push(ms);
        console.error(`settle after SIGKILL, run ${r + 1}: ${ms.toFixed(0)} ms`);
      }
      rows.push({ name: `rebalance settle, 3 kafkajs members, one SIGKILLed (sessionTimeout ${sessionTimeoutMs} ms)`, value: median(xs), unit: "ms", runs: xs });
    }
  } finally {
    if (broker.alive()) await broker.stop();
    await broker.dispose();
  }

  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  console.log("| benchmark | median | unit | runs | bar |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.name} | ${fmt(r.value)} | ${r.unit} | ${r.runs.map(fmt).join(", ")} | ${r.bar === undefined ? "" : `${r.bar} ${r.pass === true ? "PASS" : "FAIL"}`} |`);
  console.log(`\ncommand: bun bench/groups.ts   (SECONDS=${seconds} PIPELINE=${pipeline} RUNS=${runs} KILL_RUNS=${killRuns})`);
  console.log("broker: bun src/main.ts broker --set listeners=PLAINTEXT://127.0.0.1:0 --set log.dirs=<tmp> --set group.initial.rebalance.delay.ms=0");

  const cleaned = broker.stderr().split("\n").filter((l) => l.includes('msg="log cleaned"') && l.includes("__consumer_offsets"));
  for (const r of rows) for (const n of r.notes ?? []) console.log(`${r.name}: ${n}`);
  console.log(`\n__consumer_offsets cleaner passes during the run: ${cleaned.length}`);
  if (process.env.VERBOSE !== undefined) for (const l of cleaned) console.log(l);
  if (only !== undefined) return;
  const outDir = resolve(import.meta.dir, "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, "groups.json"),
    `${JSON.stringify({ date: new Date().toISOString(), bun: Bun.version, cpus: navigator.hardwareConcurrency, settings: { seconds, pipeline, runs, killRuns, commitVersion, rebalanceTimeoutMs, sessionTimeoutMs, heartbeatIntervalMs }, consumerOffsetsCleanerPasses: cleaned.length, rows }, null, 2)}\n`,
  );
}

if (process.argv[2] === "member") {
  const [, , , bootstrap, groupId, topic] = process.argv;
  if (bootstrap === undefined || groupId === undefined || topic === undefined) throw new Error("usage: bun bench/groups.ts member <bootstrap> <group> <topic>");
  await memberMain(bootstrap, groupId, topic);
} else {
  await main();
}
