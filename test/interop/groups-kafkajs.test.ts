/**
 * Consumer groups with kafkajs 2.x (unmodified) against a real bunka broker (classic group
 * protocol, eager range assignor, commits on __consumer_offsets):
 *
 * 1. Three members over a 6-partition topic while a producer writes a bounded stream: two
 *    start, a third joins mid-stream, the first leaves cleanly (the producer runs until 10
 *    rounds after that leave); members handle 2 partitions concurrently. Every produced record is
 *    consumed; no two members process the same partition at overlapping times; after the
 *    last rebalance the live members' assignments are disjoint and cover every partition;
 *    each member's first batch on a partition starts exactly at the offset the previous owner
 *    committed (commits after every batch, clean leaves: zero duplicates).
 * 2. Committed offsets survive a broker restart (SIGTERM, same data dir): fetchOffsets gives the
 *    same offsets, DescribeGroups knows the group, and a group consumer resumes exactly there.
 *
 * Bookkeeping invariant: `processing` holds the (member, partition) pairs whose batch is
 * being handled right now; a second member entering a held partition is a violation.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { logLevel, type Admin, type Consumer, type GroupDescription, type Kafka, type Producer } from "kafkajs";
import { brokerPerFile, pollUntil } from "./broker-process.ts";
import { kafkajsHooks } from "./kafkajs-clients.ts";

setDefaultTimeout(60_000);

let kafka: Kafka;
let admin: Admin;
let producer: Producer;

const clients = kafkajsHooks(
  {
    clientId: "bunka-groups",
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    connectionTimeout: 5000,
    requestTimeout: 15000,
  },
  (c) => ({ kafka, admin, producer } = c),
);
const { b, g } = brokerPerFile({ name: "groups-kafkajs", sets: { "group.initial.rebalance.delay.ms": "0" } }, clients);


const partitions = [0, 1, 2, 3, 4, 5];

interface Member {
  readonly name: string;
  readonly consumer: Consumer;
  /** Latest assignment from GROUP_JOIN (partitions of the topic), and how many joins so far. */
  assignment: number[];
  joins: number;
  /** Partitions this member has processed since its latest join (to find its first batch). */
  seenSinceJoin: Set<number>;
  consumed: number;
  crashed: unknown;
}

describe("kafkajs consumer group", () => {
  test(
    "3 members, 6 partitions, join and clean leave mid-stream: all consumed, exclusive ownership, no duplicates",
    g(async () => {
      const topic = "grp-kjs-6";
      const groupId = "grp-kjs";
      await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });

      const violations: string[] = [];
      /** partition → member currently inside eachBatch for it. */
      const processing = new Map<number, string>();
      /** partition → offset of the next record after the last successful commit (any member). */
      const committed = new Map<number, number>();
      /** `${partition}/${offset}` → how many times consumed. */
      const seen = new Map<string, number>();
      let commitFailures = 0;

      const makeMember = (name: string): Member => {
        const consumer = kafka.consumer({
          groupId,
          sessionTimeout: 10_000,
          rebalanceTimeout: 10_000,
          heartbeatInterval: 500,
          maxWaitTimeInMs: 200,
          retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
        });
        const m: Member = { name, consumer, assignment: [], joins: 0, seenSinceJoin: new Set(), consumed: 0, crashed: undefined };
        consumer.on(consumer.events.GROUP_JOIN, (e) => {
          m.assignment = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
          m.joins++;
          m.seenSinceJoin = new Set();
        });
        consumer.on(consumer.events.CRASH, (e) => {
          m.crashed = e.payload.error;
        });
        return m;
      };

      const startMember = async (m: Member): Promise<void> => {
        await m.consumer.connect();
        await m.consumer.subscribe({ topics: [topic], fromBeginning: true });
        await m.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 2, // the bookkeeping is per partition, so this is safe
          eachBatch: async ({ batch, isRunning, isStale, resolveOffset }) => {
            const p = batch.partition;
            if (batch.messages.length === 0 || !isRunning() || isStale()) return;
            const holder = processing.get(p);
            if (holder !== undefined) violations.push(`${m.name} entered partition ${p} while ${holder} processes it`);
            processing.set(p, m.name);
            try {
              if (!m.assignment.includes(p)) violations.push(`${m.name} got a batch of partition ${p} outside its assignment ${JSON.stringify(m.assignment)}`);
              const first = Number(batch.messages[0]?.offset);
              if (!m.seenSinceJoin.has(p)) {
                m.seenSinceJoin.add(p);
                const expected = committed.get(p) ?? 0;
                if (first !== expected) violations.push(`${m.name} (join ${m.joins}) started partition ${p} at ${first}, committed is ${expected}`);
              }
              for (const msg of batch.messages) {
                const k = `${p}/${msg.offset}`;
                seen.set(k, (seen.get(k) ?? 0) + 1);
                m.consumed++;
                resolveOffset(msg.offset);
              }
              const next = Number(batch.messages[batch.messages.length - 1]?.offset) + 1;
              try {
                await m.consumer.commitOffsets([{ topic, partition: p, offset: String(next) }]);
                committed.set(p, Math.max(committed.get(p) ?? 0, next));
              } catch (e) {
                // A commit refused during a rebalance: those records may be consumed again.
                commitFailures++;
                throw e;
              }
            } finally {
              if (processing.get(p) === m.name) processing.delete(p);
            }
          },
        });
      };

      const a = makeMember("A");
      const bm = makeMember("B");
      const c = makeMember("C");
      const members = [a, bm, c];
      const produced = new Set<string>();
      // The producer runs until A has left and 10 rounds more (at most 300 rounds), so the join
      // of C and the leave of A both happen while records keep arriving.
      const roundsMax = 300;
      let rounds = 0;
      let roundsAtLeave: number | undefined;
      const perRound = 24;
      let producing = true;
      const produceLoop = (async () => {
        for (; rounds < roundsMax && (roundsAtLeave === undefined || rounds < roundsAtLeave + 10); rounds++) {
          const messages = Array.from({ length: perRound }, (_, i) => ({ partition: i % 6, key: `k${i}`, value: `r${rounds}-${i}` }));
          const res = await producer.send({ topic, messages, acks: -1 });
          for (const meta of res) {
            // baseOffset is the first of the batch for that partition; each round puts perRound/6 records per partition
            const base = Number(meta.baseOffset);
            for (let j = 0; j < perRound / 6; j++) produced.add(`${meta.partition}/${base + j}`);
          }
          await Bun.sleep(100);
        }
        producing = false;
      })();

      try {
        await startMember(a);
        await startMember(bm);
        await pollUntil("A and B joined with 3 partitions each", 20_000, () =>
          a.assignment.length + bm.assignment.length === 6 && a.assignment.length === 3 ? true : undefined,
        );
        await pollUntil("some records consumed", 20_000, () => (seen.size >= 60 ? true : undefined));
        await startMember(c);
        await pollUntil("C has partitions", 20_000, () => (c.assignment.length > 0 ? true : undefined));
        await pollUntil("C consumed", 20_000, () => (c.consumed >= 20 ? true : undefined));
        expect(producing).toBe(true); // C joined mid-stream
        await a.consumer.disconnect();
        roundsAtLeave = rounds;
        await produceLoop;
        expect(producing).toBe(false);
        expect(rounds).toBeLessThan(roundsMax); // ended 10 rounds after A left, not at the cap
        expect(produced.size).toBe(rounds * perRound);
        await pollUntil("every produced record consumed", 30_000, () => {
          for (const m of members) if (m.crashed !== undefined) throw new Error(`${m.name} crashed: ${String(m.crashed)}`);
          for (const k of produced) if (!seen.has(k)) return undefined;
          return true;
        });
        // After the clean leave, B and C hold disjoint assignments covering all partitions.
        const live = [bm.assignment, c.assignment];
        expect([...live[0]!, ...live[1]!].sort((x, y) => x - y)).toEqual(partitions);
        expect(c.joins).toBeGreaterThanOrEqual(2); // joined, then A left
        expect(bm.joins).toBeGreaterThanOrEqual(3); // initial, C joined, A left
        expect(violations).toEqual([]);
        const duplicates = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
        expect({ duplicates, commitFailures }).toEqual({ duplicates: [], commitFailures: 0 });
        expect(seen.size).toBe(produced.size);
        // Committed offsets equal the log end of every partition.
        const ends = await admin.fetchTopicOffsets(topic);
        const offs = await admin.fetchOffsets({ groupId, topics: [topic] });
        const committedByP = new Map((offs[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
        for (const e of ends) expect(committedByP.get(e.partition)).toBe(e.high);
      } finally {
        producing = false;
        await produceLoop.catch(() => {});
        for (const m of members) await m.consumer.disconnect().catch(() => {});
      }
    }),
  );

  test(
    "committed offsets survive a broker restart; DescribeGroups knows the group; a consumer resumes after them",
    g(async () => {
      const topic = "grp-kjs-restart";
      const groupId = "grp-kjs-restart";
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      const perPartition = 20;
      for (const p of [0, 1, 2]) {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: perPartition }, (_, i) => ({ partition: p, value: `v${p}-${i}` })) });
      }
      // Commit distinct offsets per partition through a group member (generation-checked commit).
      const want = new Map([
        [0, 5],
        [1, 11],
        [2, 17],
      ]);
      const c1 = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
      let assigned = 0;
      c1.on(c1.events.GROUP_JOIN, (e) => {
        assigned = (e.payload.memberAssignment[topic] ?? []).length;
      });
      await c1.connect();
      await c1.subscribe({ topics: [topic], fromBeginning: true });
      await c1.run({ autoCommit: false, eachMessage: async () => {} });
      await pollUntil("c1 assigned 3 partitions", 20_000, () => (assigned === 3 ? true : undefined));
      await c1.commitOffsets([...want].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })));
      await c1.disconnect();

      const before = await admin.fetchOffsets({ groupId, topics: [topic] });
      const asMap = (r: typeof before): Map<number, string> => new Map((r[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
      expect(asMap(before)).toEqual(new Map([...want].map(([p, o]) => [p, String(o)])));

      await clients.teardown();
      expect(await b().stop()).toBe(0);
      await b().restart();
      await clients.reconnect();

      const after = await pollUntil("OffsetFetch after restart", 20_000, async () => {
        try {
          return await admin.fetchOffsets({ groupId, topics: [topic] });
        } catch {
          return undefined; // coordinator loading
        }
      });
      expect(asMap(after)).toEqual(asMap(before));
      const described = await admin.describeGroups([groupId]);
      // kafkajs's type omits the per-group error code it returns at run time.
      const grp = described.groups[0] as (GroupDescription & { errorCode?: number }) | undefined;
      expect({ groupId: grp?.groupId, errorCode: grp?.errorCode, state: grp?.state, protocolType: grp?.protocolType, members: grp?.members.length }).toEqual({
        groupId,
        errorCode: 0,
        state: "Empty",
        protocolType: "consumer",
        members: 0,
      });
      expect((await admin.listGroups()).groups.map((x) => x.groupId)).toContain(groupId);

      // A new member resumes exactly at the committed offsets.
      const c2 = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
      const got = new Map<number, number[]>();
      try {
        await c2.connect();
        await c2.subscribe({ topics: [topic], fromBeginning: true });
        await c2.run({
          eachMessage: async ({ partition, message }) => {
            const l = got.get(partition) ?? [];
            l.push(Number(message.offset));
            got.set(partition, l);
          },
        });
        const total = [...want.values()].reduce((s, o) => s + (perPartition - o), 0);
        await pollUntil("c2 consumed the rest", 20_000, () => ([...got.values()].reduce((s, l) => s + l.length, 0) >= total ? true : undefined));
        for (const [p, o] of want) {
          expect(got.get(p)).toEqual(Array.from({ length: perPartition - o }, (_, i) => o + i));
        }
      } finally {
        await c2.disconnect().catch(() => {});
      }
    }),
  );
});
