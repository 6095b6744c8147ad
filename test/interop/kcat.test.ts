/**
 * kcat (Debian's, librdkafka 2.0.2) against a real bunka broker: produce with each codec and
 * read back byte-exact, keyed records, headers, `-Q` offsets by timestamp, `-L` metadata
 * (plain and `-J`). The broker auto-creates topics with 3 partitions here (num.partitions=3),
 * so kcat never needs an admin API.
 */
import { describe, expect, test } from "bun:test";
import { brokerPerFile, ok, run, text } from "./broker-process.ts";

const { b, g } = brokerPerFile({ name: "kcat", sets: { "num.partitions": "3" } });

const codecs = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

function kcat(args: readonly string[], stdin?: Uint8Array | string): ReturnType<typeof run> {
  return run(["kcat", "-b", b().bootstrap, "-X", "socket.timeout.ms=10000", ...args], { timeoutMs: 30_000, ...(stdin === undefined ? {} : { stdin }) });
}

/** Deterministic bytes that compress somewhat (repeats) but cover all 256 byte values. */
function payload(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = i % 64 < 32 ? i & 0xff : x & 0xff;
  }
  return out;
}

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  ts: number;
  key: string | null;
  payload: string | null;
  headers?: (string | null)[];
}

async function consumeJson(topic: string, extra: readonly string[] = []): Promise<JsonRecord[]> {
  const r = ok(`kcat -C ${topic}`, await kcat(["-C", "-t", topic, "-o", "beginning", "-e", "-J", ...extra]));
  return text(r.stdout)
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as JsonRecord);
}

describe("kcat", () => {
  for (const codec of codecs) {
    test(
      `${codec}: a 300 KiB binary file as one message and 2,000 lines read back byte-exact`,
      g(async () => {
        const topic = `kcat-file-${codec}`;
        const file = payload(codecs.indexOf(codec) + 7, 300 * 1024);
        const path = `${b().dataDir}/../bunka-kcat-${codec}-${process.pid}.bin`;
        await Bun.write(path, file);
        try {
          ok("produce file", await kcat(["-P", "-t", topic, "-p", "0", "-X", `compression.codec=${codec}`, "-X", "acks=all", path]));
        } finally {
          await Bun.file(path).delete();
        }
        const back = ok("consume file", await kcat(["-C", "-t", topic, "-p", "0", "-o", "beginning", "-c", "1", "-e", "-f", "%s"]));
        expect(back.stdout.length).toBe(file.length);
        expect(Buffer.from(back.stdout).equals(Buffer.from(file))).toBe(true);

        // Many small messages in one produce: librdkafka batches them (and compresses the batch).
        const lines: string[] = [];
        for (let i = 0; i < 2000; i++) lines.push(`${codec}-line-${i}-${"x".repeat(i % 97)}`);
        ok("produce lines", await kcat(["-P", "-t", topic, "-p", "1", "-X", `compression.codec=${codec}`, "-X", "acks=all", "-X", "linger.ms=20"], `${lines.join("\n")}\n`));
        const got = ok("consume lines", await kcat(["-C", "-t", topic, "-p", "1", "-o", "beginning", "-e", "-f", "%o %s\n"]));
        const expected = lines.map((l, i) => `${i} ${l}`).join("\n") + "\n";
        expect(text(got.stdout)).toBe(expected);
        // Reading from an offset in the middle of a (compressed) batch starts exactly there.
        const mid = ok("consume from 1234", await kcat(["-C", "-t", topic, "-p", "1", "-o", "1234", "-c", "3", "-e", "-f", "%o %s\n"]));
        expect(text(mid.stdout)).toBe(`${lines.slice(1234, 1237).map((l, i) => `${1234 + i} ${l}`).join("\n")}\n`);
      }),
    );
  }

  test(
    "keyed records (-K:) keep their keys; empty and missing keys stay distinct; same key → same partition",
    g(async () => {
      const topic = "kcat-keys";
      const input = ["k1:v1", ":empty-key", "k3:", "no-delimiter"];
      ok("produce", await kcat(["-P", "-t", topic, "-p", "0", "-K:", "-X", "acks=all"], `${input.join("\n")}\n`));
      const recs = await consumeJson(topic, ["-p", "0"]);
      expect(recs.map((r) => [r.offset, r.key, r.payload])).toEqual([
        [0, "k1", "v1"],
        [1, "", "empty-key"],
        [2, "k3", ""],
        [3, null, "no-delimiter"],
      ]);

      // Let librdkafka's partitioner place 300 keyed records over the 3 partitions.
      const topic2 = "kcat-keys-partitioned";
      const lines: string[] = [];
      for (let i = 0; i < 300; i++) lines.push(`key-${i % 17}:value-${i}`);
      ok("produce partitioned", await kcat(["-P", "-t", topic2, "-K:", "-X", "acks=all", "-X", "compression.codec=lz4"], `${lines.join("\n")}\n`));
      const all = await consumeJson(topic2);
      expect(all.length).toBe(300);
      const partitionOfKey = new Map<string, number>();
      for (const r of all) {
        const key = r.key ?? "<null>";
        const p = partitionOfKey.get(key);
        if (p === undefined) partitionOfKey.set(key, r.partition);
        else expect(r.partition).toBe(p);
      }
      expect(partitionOfKey.size).toBe(17);
      // Per partition, offsets are 0..n-1 and values keep production order.
      for (const p of [0, 1, 2]) {
        const inP = all.filter((r) => r.partition === p);
        expect(inP.map((r) => r.offset)).toEqual(inP.map((_, i) => i));
        const order = inP.map((r) => Number((r.payload ?? "").split("-")[1]));
        expect(order).toEqual([...order].sort((x, y) => x - y));
      }
      expect(new Set(all.map((r) => r.payload)).size).toBe(300);
    }),
  );

  test(
    "headers (-H) round-trip, including repeated keys and empty values",
    g(async () => {
      const topic = "kcat-headers";
      ok("produce", await kcat(["-P", "-t", topic, "-p", "2", "-H", "a=1", "-H", "b=two words", "-H", "a=again", "-H", "empty=", "-X", "compression.codec=gzip"], "m1\nm2\n"));
      const recs = await consumeJson(topic, ["-p", "2"]);
      expect(recs.length).toBe(2);
      for (const r of recs) expect(r.headers).toEqual(["a", "1", "b", "two words", "a", "again", "empty", ""]);
      expect(recs.map((r) => r.payload)).toEqual(["m1", "m2"]);
    }),
  );

  test(
    "-Q: offsets by timestamp answer the earliest offset whose timestamp is >= the query; -1/-2 are latest/earliest",
    g(async () => {
      const topic = "kcat-times";
      // Separate kcat runs give later create timestamps (the clock is read per message).
      for (let round = 0; round < 5; round++) {
        const lines = Array.from({ length: 10 }, (_, i) => `r${round}-${i}`);
        ok(`produce round ${round}`, await kcat(["-P", "-t", topic, "-p", "0", "-X", "acks=all"], `${lines.join("\n")}\n`));
      }
      const recs = await consumeJson(topic, ["-p", "0"]);
      expect(recs.length).toBe(50);
      const query = async (ts: number): Promise<number> => {
        const r = ok(`-Q ${ts}`, await kcat(["-Q", "-t", `${topic}:0:${ts}`, "-J"]));
        const parsed = JSON.parse(text(r.stdout)) as Record<string, Record<string, { partition: number; offset: number }>>;
        const entry = parsed[topic]?.["0"];
        if (entry === undefined) throw new Error(`no answer for ${topic}:0 in ${text(r.stdout)}`);
        return entry.offset;
      };
      const distinct = [...new Set(recs.map((r) => r.ts))].sort((x, y) => x - y);
      expect(distinct.length).toBeGreaterThan(1);
      for (const ts of distinct) {
        const expected = recs.find((r) => r.ts >= ts)?.offset;
        expect({ ts, offset: await query(ts) }).toEqual({ ts, offset: expected ?? -1 });
        // One millisecond earlier than a record's timestamp still finds that record.
        const before = recs.find((r) => r.ts >= ts - 1)?.offset;
        expect({ ts: ts - 1, offset: await query(ts - 1) }).toEqual({ ts: ts - 1, offset: before ?? -1 });
      }
      const last = distinct[distinct.length - 1] ?? 0;
      expect(await query(last + 1)).toBe(-1);
      expect(await query(-1)).toBe(50);
      expect(await query(-2)).toBe(0);
    }),
  );

  test(
    "-L metadata: plain and -J name this broker as node 1 and controller, with every partition led by 1",
    g(async () => {
      ok("create topic", await kcat(["-P", "-t", "kcat-meta", "-p", "0"], "x\n"));
      const plain = text(ok("-L", await kcat(["-L"])).stdout);
      expect(plain).toContain(`broker 1 at ${b().bootstrap} (controller)`);
      expect(plain).toMatch(/topic "kcat-meta" with 3 partitions:/);
      for (const p of [0, 1, 2]) expect(plain).toContain(`partition ${p}, leader 1, replicas: 1, isrs: 1`);

      const r = ok("-L -J", await kcat(["-L", "-J", "-t", "kcat-meta"]));
      const meta = JSON.parse(text(r.stdout)) as {
        controllerid: number;
        brokers: { id: number; name: string }[];
        topics: { topic: string; error?: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
      };
      expect(meta.controllerid).toBe(1);
      expect(meta.brokers).toEqual([{ id: 1, name: b().bootstrap }]);
      expect(meta.topics.length).toBe(1);
      const t = meta.topics[0];
      expect(t?.topic).toBe("kcat-meta");
      expect(t?.error).toBeUndefined();
      expect(t?.partitions).toEqual([0, 1, 2].map((p) => ({ partition: p, leader: 1, replicas: [{ id: 1 }], isrs: [{ id: 1 }] })));

      const all = JSON.parse(text(ok("-L -J all", await kcat(["-L", "-J"])).stdout)) as { topics: { topic: string }[] };
      expect(all.topics.map((x) => x.topic)).toContain("kcat-meta");
    }),
  );
});
