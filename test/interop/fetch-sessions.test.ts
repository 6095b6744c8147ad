/**
 * Fetch sessions (KIP-227) with real clients, reading three partitions while kcat writes to
 * them in rounds (so a consumer goes through many fetches with and without new data):
 * - @platformatic/kafka's consumer stream asks for a session, and after its full fetch sends
 *   incremental ones naming only partitions whose offset moved: the broker opens a session;
 *   with `max.incremental.fetch.session.cache.slots=0` it opens none and the client stays on
 *   full fetches;
 * - confluent-kafka-python (librdkafka 2.0.2, which fetches sessionless: epoch -1) through the
 *   same handler: no session opened.
 * Checked each time: every record produced is consumed exactly once, per partition in offset
 * order with no gap.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Consumer, stringDeserializers } from "@platformatic/kafka";
import { type BrokerProcess, ok, pollUntil, run, startBroker } from "./broker-process.ts";

setDefaultTimeout(120_000);

const script = join(import.meta.dir, "py/confluent_client.py");
const rounds = 6;
const perRound = 150;

type Rec = [number, number, string | null, string | null, unknown, number];

type Reader = "confluent" | "platformatic";

/** [partition, offset, value] of every record a reader consumed, `total` expected. */
async function readAll(broker: BrokerProcess, reader: Reader, topic: string, total: number, produce: () => Promise<void>): Promise<[number, number, string][]> {
  if (reader === "confluent") {
    const consumer = run(["/usr/bin/python3", script, broker.bootstrap, "consume-assign", topic, String(total)], { timeoutMs: 90_000 });
    await produce();
    const out = JSON.parse(new TextDecoder().decode(ok("consumer", await consumer).stdout)) as { records: Rec[] };
    return out.records.map((r) => [r[0], r[1], r[3] ?? ""]);
  }
  const consumer = new Consumer({ clientId: "sessions", bootstrapBrokers: [broker.bootstrap], groupId: `g-${topic}`, deserializers: stringDeserializers, maxWaitTime: 200, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const got: [number, number, string][] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false });
    let streamError: unknown = undefined;
    stream.on("error", (e: unknown) => {
      streamError = e;
    });
    stream.on("data", (m: { partition: number; offset: bigint; value: string }) => {
      got.push([m.partition, Number(m.offset), m.value]);
    });
    await produce();
    await pollUntil(`${total} records from the stream`, 60_000, () => {
      if (streamError !== undefined) throw new Error(`stream error: ${String(streamError)}`);
      return got.length >= total ? true : undefined;
    });
    await stream.close();
  } finally {
    await consumer.close(true).catch(() => {});
  }
  return got;
}

async function scenario(broker: BrokerProcess, reader: Reader, topic: string): Promise<void> {
  // The topic first (auto-created with 3 partitions), so the consumer sees all three.
  ok("kcat seed", await run(["kcat", "-b", broker.bootstrap, "-P", "-t", topic, "-K", ":"], { stdin: "seed:0\n", timeoutMs: 30_000 }));
  const total = 1 + rounds * perRound;
  const records = await readAll(broker, reader, topic, total, async () => {
    for (let r = 0; r < rounds; r++) {
      await Bun.sleep(400);
      const lines = Array.from({ length: perRound }, (_, i) => `k${i % 7}:r${r}-${i}`).join("\n") + "\n";
      ok(`kcat round ${r}`, await run(["kcat", "-b", broker.bootstrap, "-P", "-t", topic, "-K", ":"], { stdin: lines, timeoutMs: 30_000 }));
    }
  });
  const values = records.map((r) => r[2]);
  expect(records.length).toBe(total);
  expect(new Set(values).size).toBe(total);
  for (let r = 0; r < rounds; r++) for (let i = 0; i < perRound; i++) expect(values).toContain(`r${r}-${i}`);
  const byPartition = new Map<number, number[]>();
  for (const [p, offset] of records) byPartition.set(p, [...(byPartition.get(p) ?? []), offset]);
  expect(byPartition.size).toBe(3);
  for (const offsets of byPartition.values()) expect(offsets).toEqual(offsets.map((_, i) => i));
}

async function withBroker(name: string, sets: Record<string, string>, body: (b: BrokerProcess) => Promise<void>): Promise<void> {
  const broker = await startBroker({ name, sets: { "num.partitions": "3", ...sets } });
  try {
    await body(broker);
    expect(broker.crashLines()).toEqual([]);
  } finally {
    await broker.stop();
    await broker.dispose();
  }
}

describe("fetch sessions with real clients", () => {
  test("@platformatic/kafka's consumer stream reading while records arrive in rounds: a session opened, every record once, in order", async () => {
    await withBroker("sessions-pt", {}, async (broker) => {
      await scenario(broker, "platformatic", "sessions-pt");
      expect(broker.stderr()).toContain("fetch session opened");
    });
  });

  test("the same with max.incremental.fetch.session.cache.slots=0: no session, the same records", async () => {
    await withBroker("sessions-off", { "max.incremental.fetch.session.cache.slots": "0" }, async (broker) => {
      await scenario(broker, "platformatic", "sessions-off");
      expect(broker.stderr()).not.toContain("fetch session opened");
    });
  });

  test("confluent-kafka-python (librdkafka 2.0.2, sessionless fetches) reading while records arrive: every record once, in order", async () => {
    await withBroker("sessions-rdkafka", {}, async (broker) => {
      await scenario(broker, "confluent", "sessions-rdkafka");
      expect(broker.stderr()).not.toContain("fetch session opened");
    });
  });
});
