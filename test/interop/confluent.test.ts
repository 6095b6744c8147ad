/**
 * confluent-kafka-python (apt, librdkafka 2.0.2) against a real bunka broker, through
 * test/interop/py/confluent_client.py run by /usr/bin/python3: AdminClient create/list/
 * describe_configs, a Producer with acks=all whose delivery reports must name the offsets
 * the records are later read back at, a Consumer with assign() (no group protocol), and a
 * group Consumer with subscribe().
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { brokerPerFile, ok, run, text } from "./broker-process.ts";

setDefaultTimeout(90_000);

const script = join(import.meta.dir, "py/confluent_client.py");
const { b, g } = brokerPerFile({ name: "confluent" });


async function py<T>(args: readonly string[]): Promise<T> {
  const r = ok(`python ${args.join(" ")}`, await run(["/usr/bin/python3", script, b().bootstrap, ...args], { timeoutMs: 60_000 }));
  const out = text(r.stdout).trim();
  try {
    return JSON.parse(out) as T;
  } catch {
    throw new Error(`python ${args.join(" ")}: not JSON: ${out.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`);
  }
}

type Rec = [partition: number, offset: number, key: string | null, value: string | null, headers: [string, string | null][], timestamp: number];

const topic = "confluent-data";
const codecs = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
const perCodec = 60;
/** `${partition}/${offset}` → the record the producer's delivery report put there. */
const delivered = new Map<string, { key: string; value: string; headers: [string, string][] }>();

describe("confluent-kafka-python", () => {
  test(
    "AdminClient: create_topics (and TOPIC_ALREADY_EXISTS), list_topics, describe_configs",
    g(async () => {
      const out = await py<{
        create: string;
        create_again: string;
        brokers: [number, string, number][];
        controller_id: number;
        topics: Record<string, { error: string | null; partitions: [number, number, number[], number[]][] }>;
        configs: Record<string, { value: string; is_default: boolean; read_only: boolean; source: number }>;
      }>(["admin", topic]);
      expect(out.create).toBe("ok");
      expect(out.create_again).toBe("TOPIC_ALREADY_EXISTS");
      expect(out.brokers).toEqual([[1, "127.0.0.1", b().port]]);
      expect(out.controller_id).toBe(1);
      expect(out.topics[topic]).toEqual({ error: null, partitions: [0, 1, 2].map((p) => [p, 1, [1], [1]] as [number, number, number[], number[]]) });
      // Sources: 1 DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG (librdkafka's ConfigSource numbering).
      expect(out.configs).toEqual({
        "retention.ms": { value: "7200000", is_default: false, read_only: false, source: 1 },
        "cleanup.policy": { value: "delete", is_default: true, read_only: false, source: 5 },
        "segment.bytes": { value: "1073741824", is_default: true, read_only: false, source: 5 },
        "min.insync.replicas": { value: "1", is_default: true, read_only: false, source: 5 },
      });
    }),
  );

  test(
    `Producer acks=all with ${codecs.join("/")}: every delivery report succeeds with dense offsets`,
    g(async () => {
      const next = [0, 0, 0];
      for (const codec of codecs) {
        const out = await py<{ undelivered: number; reports: ([number, number, string | null] | null)[] }>(["produce", topic, String(perCodec), codec]);
        expect(out.undelivered).toBe(0);
        expect(out.reports.length).toBe(perCodec);
        for (let i = 0; i < perCodec; i++) {
          const r = out.reports[i];
          const p = i % 3;
          // Each partition receives its messages in order, so the offsets follow on from the previous codec's.
          expect({ i, codec, report: r }).toEqual({ i, codec, report: [p, next[p] ?? -1, null] });
          delivered.set(`${p}/${next[p]}`, { key: `key-${i}`, value: `${codec}-value-${i}-${"p".repeat(i % 23)}`, headers: [["i", String(i)], ["codec", codec]] });
          next[p] = (next[p] ?? 0) + 1;
        }
      }
    }),
  );

  test(
    "Consumer with assign() from the beginning reads back exactly what the delivery reports named",
    g(async () => {
      const total = codecs.length * perCodec;
      const out = await py<{ records: Rec[]; errors: string[] }>(["consume-assign", topic, String(total)]);
      expect(out.errors).toEqual([]);
      expect(out.records.length).toBe(total);
      const seen = new Set<string>();
      for (const [partition, offset, key, value, headers, ts] of out.records) {
        const at = `${partition}/${offset}`;
        expect(seen.has(at)).toBe(false);
        seen.add(at);
        expect({ at, key, value, headers }).toEqual({ at, ...(delivered.get(at) ?? { key: "<not delivered>", value: "", headers: [] }) });
        expect(ts).toBeGreaterThan(1_600_000_000_000);
      }
      expect(seen.size).toBe(delivered.size);
    }),
  );

  test(
    "group Consumer (subscribe, auto.offset.reset=earliest) reads everything",
    g(async () => {
      const total = codecs.length * perCodec;
      const out = await py<{ records: Rec[]; errors: string[] }>(["consume-group", topic, String(total)]);
      expect(out.errors).toEqual([]);
      expect(out.records.length).toBe(total);
      expect(new Set(out.records.map(([p, o]) => `${p}/${o}`))).toEqual(new Set(delivered.keys()));
    }),
  );
});
