/**
 * @platformatic/kafka (unmodified, from node_modules) against a real bunka broker: admin
 * createTopics/listTopics/deleteTopics/listOffsets, a producer with every codec it supports
 * (none, gzip, snappy, lz4, zstd), group-less fetches through `Consumer.fetch` (the fetch
 * loop the stream uses, with its KIP-227 session bookkeeping: bunka opens a session at the
 * first fetch and the client goes on in it with incremental fetches, receiving everything),
 * and the consumer
 * stream from the beginning (which joins a group).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers, type CompressionAlgorithmValue } from "@platformatic/kafka";
import { brokerPerFile, pollUntil } from "./broker-process.ts";

setDefaultTimeout(60_000);

let admin: Admin;
const base = (): { clientId: string; bootstrapBrokers: string[]; retries: number; retryDelay: number; timeout: number } => ({
  clientId: "bunka-interop-pt",
  bootstrapBrokers: [b().bootstrap],
  retries: 3,
  retryDelay: 200,
  timeout: 15_000,
});

const { b, g } = brokerPerFile({ name: "platformatic" }, {
  setup: () => {
    admin = new Admin(base());
  },
  teardown: async () => {
    await admin?.close().catch(() => {});
  },
});


const topic = "pt-data";
const partitions = 2;
const codecs: CompressionAlgorithmValue[] = ["none", "gzip", "snappy", "lz4", "zstd"];
const perCodec = 30;

interface Expected {
  partition: number;
  offset: number;
  key: string;
  value: string;
  header: string;
}
const produced: Expected[] = [];

describe("@platformatic/kafka admin", () => {
  test(
    "createTopics, listTopics, deleteTopics",
    g(async () => {
      const created = await admin.createTopics({ topics: ["pt-a", "pt-b"], partitions: 4, replicas: 1 });
      expect(created.map((c) => ({ name: c.name, partitions: c.partitions, replicas: c.replicas })).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { name: "pt-a", partitions: 4, replicas: 1 },
        { name: "pt-b", partitions: 4, replicas: 1 },
      ]);
      for (const c of created) expect(c.id).toMatch(/^[0-9a-f-]{36}$|^[A-Za-z0-9_-]{22}$/);
      await expect(admin.createTopics({ topics: ["pt-a"], partitions: 1, replicas: 1 })).rejects.toThrow();
      const listed = await admin.listTopics();
      expect(listed).toContain("pt-a");
      expect(listed).toContain("pt-b");
      await admin.deleteTopics({ topics: ["pt-b"] });
      await pollUntil("pt-b gone", 10_000, async () => ((await admin.listTopics()).includes("pt-b") ? undefined : true));
      expect(await admin.listTopics()).toContain("pt-a");
    }),
  );
});

describe("@platformatic/kafka produce and consume", () => {
  test(
    `producer with ${codecs.join("/")} (acks=-1): every batch lands at the next offsets`,
    g(async () => {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
      const producer = new Producer({ ...base(), serializers: stringSerializers, autocreateTopics: false });
      try {
        let n = 0;
        for (const compression of codecs) {
          const messages = [];
          for (let i = 0; i < perCodec; i++, n++) {
            messages.push({ topic, partition: n % partitions, key: `k-${n}`, value: `${compression}-${n}-${"v".repeat(n % 40)}`, headers: new Map([["h", `hv-${n}`]]) });
          }
          const result = await producer.send({ acks: -1, compression, messages });
          // The producer reports, per partition it wrote, the base offset of the batch.
          const bases = new Map((result.offsets ?? []).map((o) => [o.partition, Number(o.offset)]));
          expect([...bases.keys()].sort()).toEqual(Array.from({ length: partitions }, (_, p) => p));
          const count = new Map<number, number>();
          for (const m of messages) {
            const k = count.get(m.partition) ?? 0;
            count.set(m.partition, k + 1);
            produced.push({ partition: m.partition, offset: (bases.get(m.partition) ?? -1) + k, key: m.key, value: m.value, header: m.headers.get("h") ?? "" });
          }
        }
      } finally {
        await producer.close();
      }
      for (let p = 0; p < partitions; p++) {
        const offs = produced.filter((e) => e.partition === p).map((e) => e.offset);
        expect(offs).toEqual(offs.map((_, i) => i));
      }
    }),
  );

  test(
    "listOffsets: earliest 0, latest = records per partition",
    g(async () => {
      const ask = async (timestamp: bigint): Promise<number[]> => {
        const r = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp })) }] });
        expect(r.map((t) => t.name)).toEqual([topic]);
        return (r[0]?.partitions ?? []).sort((a, b) => a.partitionIndex - b.partitionIndex).map((x) => Number(x.offset));
      };
      expect(await ask(-2n)).toEqual(Array.from({ length: partitions }, () => 0));
      expect(await ask(-1n)).toEqual(Array.from({ length: partitions }, (_, p) => produced.filter((e) => e.partition === p).length));
    }),
  );

  test(
    "group-less fetch loop (Consumer.fetch): bunka opens a fetch session, the client stays in it and receives every record",
    g(async () => {
      const consumer = new Consumer({ ...base(), groupId: "pt-fetch-only", deserializers: stringDeserializers, maxWaitTime: 100 });
      try {
        const meta = await consumer.metadata({ topics: [topic] });
        const topicId = meta.topics.get(topic)?.id;
        if (topicId === undefined) throw new Error(`no topic id for ${topic}`);
        const next = Array.from({ length: partitions }, () => 0n);
        const got: Expected[] = [];
        const sessionIds = new Set<number>();
        let fetches = 0;
        await pollUntil("every produced record fetched", 20_000, async () => {
          fetches++;
          const r = await consumer.fetch({
            node: 1,
            maxWaitTime: 100,
            topics: [{ topicId, partitions: next.map((fetchOffset, partition) => ({ partition, fetchOffset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 })) }],
          });
          expect(r.errorCode).toBe(0);
          sessionIds.add(r.sessionId);
          for (const t of r.responses) {
            for (const p of t.partitions) {
              expect(p.errorCode).toBe(0);
              for (const batch of p.records ?? []) {
                for (const rec of batch.records) {
                  const offset = batch.firstOffset + BigInt(rec.offsetDelta);
                  if (offset < (next[p.partitionIndex] ?? 0n)) continue; // earlier records of a batch fetched from its middle
                  const header = rec.headers.find(([k]) => k?.toString() === "h")?.[1]?.toString() ?? "";
                  got.push({ partition: p.partitionIndex, offset: Number(offset), key: rec.key?.toString() ?? "<null>", value: rec.value?.toString() ?? "<null>", header });
                  next[p.partitionIndex] = offset + 1n;
                }
              }
            }
          }
          return got.length >= produced.length ? true : undefined;
        });
        // One session for the whole loop (KIP-227): opened by the first fetch, then incremental.
        expect(sessionIds.size).toBe(1);
        expect([...sessionIds][0]!).toBeGreaterThan(0);
        // partitionMaxBytes 1: the broker still returns the first batch of each partition (so
        // the client makes progress) and no more, so each of the ${codecs.length} batches per partition takes a round.
        expect(fetches).toBeGreaterThanOrEqual(codecs.length);
        const order = (x: Expected): number => x.partition * 1_000_000 + x.offset;
        expect([...got].sort((a, b) => order(a) - order(b))).toEqual([...produced].sort((a, b) => order(a) - order(b)));
      } finally {
        await consumer.close();
      }
    }),
  );

  test(
    "consumer stream from the beginning (joins a group) receives every record with keys and headers",
    g(async () => {
      const consumer = new Consumer({ ...base(), groupId: "pt-group", deserializers: stringDeserializers, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTime: 100 });
      const got: Expected[] = [];
      try {
        const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false });
        let streamError: unknown = undefined;
        stream.on("error", (e: unknown) => {
          streamError = e;
        });
        stream.on("data", (m: { partition: number; offset: bigint; key: string; value: string; headers: Map<string, string> }) => {
          got.push({ partition: m.partition, offset: Number(m.offset), key: m.key, value: m.value, header: m.headers.get("h") ?? "" });
        });
        await pollUntil(`${produced.length} records from the stream`, 30_000, () => {
          if (streamError !== undefined) throw new Error(`stream error: ${String(streamError)}`);
          return got.length >= produced.length ? true : undefined;
        });
        await stream.close();
        const order = (x: Expected): number => x.partition * 1_000_000 + x.offset;
        expect([...got].sort((a, b) => order(a) - order(b))).toEqual([...produced].sort((a, b) => order(a) - order(b)));
      } finally {
        await consumer.close(true).catch(() => {});
      }
    }),
  );
});
