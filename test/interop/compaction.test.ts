/**
 * Log compaction end to end against a real bunka broker: a `cleanup.policy=compact` topic with
 * 16 KiB segments, min.cleanable.dirty.ratio=0.01 and a short delete.retention.ms, the broker's
 * cleaner polling every 200 ms. kafkajs writes many updates over a few keys, then tombstones
 * (null values) for two of them, then keeps writing a filler key so segments keep rolling and
 * the cleaner keeps finding dirty data. kcat (-J, from the beginning, -e) reads the whole log
 * at each poll.
 *
 * Invariants checked on every snapshot: the log's low/high offsets are unchanged by cleaning
 * (low stays 0); every record read sits at the offset it was produced at with the key and value
 * produced there (so no key shows an older value after a newer one); the latest value of every
 * live key is present. Eventually: the log shrinks, and the tombstoned keys disappear entirely
 * (their old values at the first clean, the tombstones after delete.retention.ms).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { logLevel, type Admin, type Producer } from "kafkajs";
import { brokerPerFile, ok, pollUntil, run, text } from "./broker-process.ts";
import { kafkajsHooks } from "./kafkajs-clients.ts";

setDefaultTimeout(60_000);

let admin: Admin;
let producer: Producer;

const { b, g } = brokerPerFile(
  { name: "compaction", sets: { "log.cleaner.backoff.ms": "200" } },
  kafkajsHooks({ clientId: "bunka-compaction", logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } }, (c) => ({
    admin,
    producer,
  } = c)),
);


interface Rec {
  readonly offset: number;
  readonly key: string;
  readonly value: string | null;
}

const topic = "compacted";
const keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
const tombstoned = new Set(["k6", "k7"]);
const updatesPerKey = 150;
const pad = "p".repeat(200);
/** Long enough that a poll every few hundred ms sees the tombstone alone before it expires. */
const deleteRetentionMs = 4000;

async function readAll(): Promise<Rec[]> {
  const r = ok("kcat -C", await run(["kcat", "-b", b().bootstrap, "-X", "socket.timeout.ms=10000", "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J", "-q"], { timeoutMs: 30_000 }));
  const out: Rec[] = [];
  for (const line of text(r.stdout).split("\n")) {
    if (line.trim() === "") continue;
    const j = JSON.parse(line) as { offset: number; key: string | null; payload: string | null };
    if (j.key === null) throw new Error(`record at ${j.offset} has no key`);
    out.push({ offset: j.offset, key: j.key, value: j.payload });
  }
  return out;
}

describe("log compaction (kafkajs writes, kcat reads)", () => {
  test(
    "updates and tombstones compact away; offsets, latest values and order are kept; tombstones expire",
    g(async () => {
      await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: 1,
            configEntries: [
              { name: "cleanup.policy", value: "compact" },
              { name: "segment.bytes", value: "16384" },
              { name: "min.cleanable.dirty.ratio", value: "0.01" },
              { name: "delete.retention.ms", value: String(deleteRetentionMs) },
            ],
          },
        ],
        waitForLeaders: true,
      });

      /** offset → what was produced there. */
      const produced = new Map<number, Rec>();
      const latest = new Map<string, Rec>();
      const send = async (messages: { key: string; value: string | null }[]): Promise<void> => {
        const res = await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ partition: 0, key: m.key, value: m.value })) });
        const base = Number(res[0]?.baseOffset);
        messages.forEach((m, i) => {
          const rec = { offset: base + i, key: m.key, value: m.value };
          produced.set(rec.offset, rec);
          latest.set(m.key, rec);
        });
      };

      for (let u = 0; u < updatesPerKey; u++) await send(keys.map((k) => ({ key: k, value: `${k}:${String(u).padStart(4, "0")}:${pad}` })));
      await send([...tombstoned].map((k) => ({ key: k, value: null })));
      const mainEnd = Math.max(...produced.keys()) + 1;

      // Filler: one key rewritten in 1 KiB values so segments roll and the cleaner keeps running.
      // It pauses while kcat reads: a reader never sees end-of-partition (-e) while records
      // keep arriving faster than its long poll returns.
      let ticking = true;
      let paused = false;
      let idle = Promise.resolve();
      let ticks = 0;
      const filler = (async () => {
        const big = "f".repeat(1024);
        const deadline = Date.now() + 45_000;
        while (ticking && Date.now() < deadline) {
          if (!paused) {
            idle = send([{ key: "filler", value: `${ticks++}:${big}` }]);
            await idle;
          }
          await Bun.sleep(20);
        }
      })();

      const violations: string[] = [];
      const check = async (): Promise<Rec[]> => {
        paused = true;
        await idle;
        const highBefore = Math.max(...produced.keys()) + 1;
        const recs = await readAll().finally(() => (paused = false));
        const offs = await admin.fetchTopicOffsets(topic);
        const low = Number(offs[0]?.low);
        const high = Number(offs[0]?.high);
        if (low !== 0) violations.push(`low offset ${low} after cleaning (was 0)`);
        if (high < highBefore) violations.push(`high ${high} < produced end ${highBefore}`);
        let prev = -1;
        for (const r of recs) {
          if (r.offset <= prev) violations.push(`offset ${r.offset} after ${prev}`);
          prev = r.offset;
          const p = produced.get(r.offset);
          if (p === undefined || p.key !== r.key || p.value !== r.value) {
            violations.push(`offset ${r.offset}: read ${r.key}=${String(r.value).slice(0, 20)}, produced ${p?.key}=${String(p?.value).slice(0, 20)}`);
          }
        }
        const present = new Set(recs.map((r) => r.offset));
        for (const k of keys) {
          const l = latest.get(k);
          if (l !== undefined && !tombstoned.has(k) && !present.has(l.offset)) violations.push(`latest ${k} at ${l.offset} missing`);
        }
        if (violations.length > 0) throw new Error(`compaction invariants broken:\n${violations.slice(0, 20).join("\n")}`);
        return recs;
      };

      try {
        // The log shrinks: the main keys' range holds at most a few copies per key once cleaned.
        await pollUntil("the main keys' range compacted", 40_000, async () => {
          const recs = await check();
          const inMain = recs.filter((r) => r.offset < mainEnd).length;
          return inMain < mainEnd / 4 ? true : undefined;
        }, 300);
        // A clean keeps a tombstone (so readers learn of the delete) while dropping the key's
        // older values; after delete.retention.ms a later clean drops the tombstone too.
        const tombstoneAlone = new Set<string>();
        await pollUntil("tombstoned keys gone", 40_000, async () => {
          const recs = await check();
          for (const k of tombstoned) {
            const mine = recs.filter((r) => r.key === k);
            if (mine.length === 1 && mine[0]?.value === null) tombstoneAlone.add(k);
          }
          return recs.some((r) => tombstoned.has(r.key)) ? undefined : true;
        }, 200);
        expect([...tombstoneAlone].sort()).toEqual([...tombstoned].sort());
        ticking = false;
        await filler;
        const final = await check();
        // No live key is lost, and the total is far below what was written.
        for (const k of keys.filter((x) => !tombstoned.has(x))) expect(final.some((r) => r.key === k)).toBe(true);
        expect(final.length).toBeLessThan(produced.size / 2);
        expect(ticks).toBeGreaterThan(0);
      } finally {
        ticking = false;
        await filler.catch(() => {});
      }
    }),
  );
});
