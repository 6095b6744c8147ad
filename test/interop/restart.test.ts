/**
 * Restarting a real broker on the same data dir, with real clients on both sides:
 *
 * 1. Clean: N records produced with acks=all (kafkajs), SIGTERM (exit 0), start again: all N
 *    are there byte for byte, the end offsets continue where they stopped, topic configs set
 *    at creation and by alterConfigs survive.
 * 2. Crash: several producers write concurrently (acks=all, no retries), the broker gets
 *    SIGKILL while requests are in flight, start again: every record whose produce was
 *    acknowledged is at the offset its acknowledgement named; the log reads cleanly from the
 *    beginning to the high watermark with dense offsets; the next produce lands exactly at
 *    the high watermark. Unacknowledged records may or may not be there (Kafka promises
 *    nothing for them), but they must be whole records, never garbage.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { CompressionTypes, ConfigResourceTypes, Kafka, logLevel, type Admin } from "kafkajs";
import { brokerPerFile, ok, pollUntil, run, text } from "./broker-process.ts";

setDefaultTimeout(90_000);

const { b, g } = brokerPerFile({ name: "restart" });


function client(retries = 3): Kafka {
  return new Kafka({ clientId: "bunka-restart", brokers: [b().bootstrap], logLevel: logLevel.NOTHING, retry: { retries, initialRetryTime: 100, maxRetryTime: 500 }, connectionTimeout: 3000, requestTimeout: 10_000 });
}

async function withAdmin<T>(body: (a: Admin) => Promise<T>): Promise<T> {
  const a = client().admin();
  await a.connect();
  try {
    return await body(a);
  } finally {
    await a.disconnect();
  }
}

interface Rec {
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
}

/** Reads a whole topic with kcat (a separate client, so nothing is cached from before the restart). */
async function readAll(topic: string): Promise<Rec[]> {
  const r = ok(`kcat -C ${topic}`, await run(["kcat", "-b", b().bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-J"], { timeoutMs: 60_000 }));
  return text(r.stdout)
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Rec)
    .sort((x, y) => x.partition - y.partition || x.offset - y.offset);
}

async function endOffsets(topic: string): Promise<number[]> {
  return withAdmin(async (a) => (await a.fetchTopicOffsets(topic)).sort((x, y) => x.partition - y.partition).map((o) => Number(o.high)));
}

async function topicConfigs(topic: string, names: string[]): Promise<Record<string, string | null>> {
  return withAdmin(async (a) => {
    const r = await a.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }], includeSynonyms: false });
    return Object.fromEntries((r.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
  });
}

const cleanTopic = "restart-clean";
const crashTopic = "restart-crash";
const partitions = 2;
const cleanN = 600;

describe("restart", () => {
  const cleanSent: Rec[] = [];

  test(
    "clean stop (SIGTERM) and start: records, offsets and topic configs survive",
    g(async () => {
      await withAdmin(async (a) => {
        await a.createTopics({ topics: [{ topic: cleanTopic, numPartitions: partitions, configEntries: [{ name: "retention.ms", value: "86400000" }, { name: "max.message.bytes", value: "200000" }] }], waitForLeaders: true });
        await a.createTopics({ topics: [{ topic: crashTopic, numPartitions: partitions, configEntries: [{ name: "segment.bytes", value: "1048576" }] }], waitForLeaders: true });
        await a.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: cleanTopic, configEntries: [{ name: "retention.ms", value: "172800000" }, { name: "max.message.bytes", value: "200000" }, { name: "cleanup.policy", value: "compact,delete" }] }] });
      });
      const producer = client().producer({ allowAutoTopicCreation: false });
      await producer.connect();
      try {
        for (let round = 0; round < 6; round++) {
          const messages = Array.from({ length: cleanN / 6 }, (_, i) => {
            const n = round * (cleanN / 6) + i;
            return { partition: n % partitions, key: `k${n}`, value: `clean-${n}-${"c".repeat(n % 300)}` };
          });
          const meta = await producer.send({ topic: cleanTopic, acks: -1, compression: round % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP, messages });
          const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
          const k = new Map<number, number>();
          for (const m of messages) {
            const j = k.get(m.partition) ?? 0;
            k.set(m.partition, j + 1);
            cleanSent.push({ partition: m.partition, offset: (base.get(m.partition) ?? -1) + j, key: m.key, payload: m.value });
          }
        }
      } finally {
        await producer.disconnect();
      }
      cleanSent.sort((x, y) => x.partition - y.partition || x.offset - y.offset);
      const configNames = ["retention.ms", "max.message.bytes", "cleanup.policy"];
      const configsBefore = await topicConfigs(cleanTopic, configNames);
      expect(configsBefore).toEqual({ "retention.ms": "172800000", "max.message.bytes": "200000", "cleanup.policy": "compact,delete" });
      expect(await endOffsets(cleanTopic)).toEqual([cleanN / 2, cleanN / 2]);

      expect(await b().stop()).toBe(0);
      expect(b().stderr()).toContain("stopping");
      await b().restart();

      const back = await readAll(cleanTopic);
      expect(back.map((r) => ({ partition: r.partition, offset: r.offset, key: r.key, payload: r.payload }))).toEqual(cleanSent);
      expect(await endOffsets(cleanTopic)).toEqual([cleanN / 2, cleanN / 2]);
      expect(await topicConfigs(cleanTopic, configNames)).toEqual(configsBefore);
      expect(await topicConfigs(crashTopic, ["segment.bytes"])).toEqual({ "segment.bytes": "1048576" });

      // Offsets continue after the restart (keyed: the topic is now compact,delete).
      const p = client().producer({ allowAutoTopicCreation: false });
      await p.connect();
      try {
        const meta = await p.send({ topic: cleanTopic, acks: -1, messages: [{ partition: 0, key: "ar0", value: "after-restart-0" }, { partition: 1, key: "ar1", value: "after-restart-1" }] });
        expect(meta.map((m) => ({ partition: m.partition, baseOffset: m.baseOffset })).sort((x, y) => x.partition - y.partition)).toEqual([
          { partition: 0, baseOffset: String(cleanN / 2) },
          { partition: 1, baseOffset: String(cleanN / 2) },
        ]);
      } finally {
        await p.disconnect();
      }
    }),
  );

  test(
    "SIGKILL while producers write: every acknowledged record survives at its offset; the log ends cleanly",
    g(async () => {
      const producers = 4;
      const batch = 40;
      const killAfterAcks = 150; // acknowledged sends (over all producers) before the kill
      const acked = new Map<string, { partition: number; offset: number }>();
      let ackedSends = 0;
      let failedSends = 0;
      let killed = false;
      const clients = Array.from({ length: producers }, () => client(0).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } }));
      await Promise.all(clients.map((p) => p.connect()));
      let seq = 0;
      const loops = clients.map(async (p, id) => {
        while (!killed) {
          const messages = Array.from({ length: batch }, () => {
            const n = seq++;
            return { partition: n % partitions, key: `w${id}`, value: `crash-${n}-${"x".repeat(200 + (n % 500))}` };
          });
          try {
            const meta = await p.send({ topic: crashTopic, acks: -1, compression: id % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP, messages });
            const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
            const k = new Map<number, number>();
            for (const m of messages) {
              const j = k.get(m.partition) ?? 0;
              k.set(m.partition, j + 1);
              const bo = base.get(m.partition);
              if (bo === undefined) throw new Error(`acknowledged produce without partition ${m.partition}`);
              acked.set(m.value, { partition: m.partition, offset: bo + j });
            }
            ackedSends++;
          } catch {
            failedSends++;
            if (!killed) await Bun.sleep(20);
          }
        }
      });
      await pollUntil(`${killAfterAcks} acknowledged sends`, 60_000, () => {
        if (failedSends > 0 && !killed) throw new Error(`${failedSends} sends failed before the kill`);
        return ackedSends >= killAfterAcks ? true : undefined;
      });
      // Requests are in flight right now: the loops never wait between sends.
      await b().kill();
      killed = true;
      await Promise.all(loops);
      await Promise.all(clients.map((p) => p.disconnect().catch(() => {})));
      expect(acked.size).toBeGreaterThanOrEqual(killAfterAcks * batch);
      console.log(`restart: SIGKILL after ${ackedSends} acknowledged sends (${acked.size} records), ${failedSends} sends failed by the kill`);

      await b().restart();
      const back = await readAll(crashTopic);
      const byPartition = [0, 1].map((p) => back.filter((r) => r.partition === p));
      const ends = await endOffsets(crashTopic);
      for (let p = 0; p < partitions; p++) {
        const recs = byPartition[p] ?? [];
        // Dense offsets from 0 to the high watermark, nothing after it.
        expect({ p, offsets: recs.length, end: ends[p] }).toEqual({ p, offsets: ends[p] ?? -1, end: ends[p] });
        expect(recs.every((r, i) => r.offset === i)).toBe(true);
        // Whole records only: anything present is something a producer sent.
        for (const r of recs) expect(r.payload ?? "").toMatch(/^crash-\d+-x+$/);
      }
      const at = new Map(back.map((r) => [`${r.partition}/${r.offset}`, r.payload]));
      const missing: string[] = [];
      for (const [value, where] of acked) if (at.get(`${where.partition}/${where.offset}`) !== value) missing.push(`${where.partition}/${where.offset}`);
      expect({ ackedRecords: acked.size, missingOrMoved: missing.slice(0, 20), missingCount: missing.length }).toEqual({ ackedRecords: acked.size, missingOrMoved: [], missingCount: 0 });

      // The next produce lands exactly at the high watermark, and reads back.
      const p = client().producer({ allowAutoTopicCreation: false });
      await p.connect();
      try {
        const meta = await p.send({ topic: crashTopic, acks: -1, messages: [0, 1].map((partition) => ({ partition, value: `after-crash-${partition}` })) });
        expect(meta.map((m) => ({ partition: m.partition, baseOffset: Number(m.baseOffset) })).sort((x, y) => x.partition - y.partition)).toEqual(ends.map((e, partition) => ({ partition, baseOffset: e })));
      } finally {
        await p.disconnect();
      }
      const again = await readAll(crashTopic);
      for (let q = 0; q < partitions; q++) {
        const last = again.filter((r) => r.partition === q).at(-1);
        expect(last).toEqual({ ...(last as Rec), offset: ends[q] ?? -1, payload: `after-crash-${q}` });
      }
      // And a clean stop after all that still exits 0 (afterAll checks the code).
    }),
  );
});
