/**
 * The client against a whole bunka node (startNode: the real server, handlers, storage) on the
 * simulated network, filesystem and clock: every run is reproduced by its seed. Writes are
 * split into random chunks on both sides, links have jitter, and a nemesis partitions the
 * client from the broker and drops segments (resetting connections) while batches are
 * produced. Checked: every acknowledged batch is readable at the offset its ack named, and the
 * same seed gives the same history.
 */
import { describe, expect, test } from "bun:test";
import { ClusterClient } from "../../src/client/bootstrap.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { SimNetwork } from "../../src/platform/sim/network.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../../src/protocol/messages/create-topics-request.ts";
import { defaultFetchRequest } from "../../src/protocol/messages/fetch-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultProduceRequest } from "../../src/protocol/messages/produce-request.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { loadConfig } from "../../src/server/config.ts";
import { startNode } from "../../src/server/node.ts";
import { settle } from "./sim-driver.ts";

const BROKER = "10.0.0.1";
const CLIENT = "10.0.0.2";
const TOPIC = "sim-topic";
const baseTimestampMs = 1_700_000_000_000;
/** A run that needs more retries than this is stuck, not unlucky. */
const attemptsFailedMax = 500;

interface Nemesis {
  /** Simulated ms after the first produce → what to do. */
  readonly at: number;
  readonly act: (net: SimNetwork) => void;
}

async function scenario(seed: number, batches: number, nemesis: readonly Nemesis[]) {
  const clock = new SimClock();
  const net = new SimNetwork({ clock, prng: new SeededPrng(seed), link: { delayMs: 1, jitterMs: 4 }, windowBytes: 16 * 1024 });
  const fs = new SimFileSystem(new SeededPrng(seed + 1), clock);
  fs.mkdirp("/data");
  const loaded = loadConfig({ sets: [`listeners=PLAINTEXT://${BROKER}:9092`, "log.dirs=/data", "node.id=1"] });
  if (!loaded.ok) throw loaded.error;
  const platform = { network: net.host(BROKER), clock, fs, prng: new SeededPrng(seed + 2), logSink: () => {}, hostname: "sim", absolutePath: (p: string) => p };
  const node = (await settle(clock, startNode(loaded.config, platform))).value;
  await settle(clock, node.ready);

  const connected = (
    await settle(
      clock,
      ClusterClient.connect({
        network: net.host(CLIENT),
        clock,
        prng: new SeededPrng(seed + 3),
        bootstrapServers: `${BROKER}:9092`,
        config: { requestTimeoutMs: 2_000, connectionSetupTimeoutMs: 1_000, reconnectBackoffMs: 20, reconnectBackoffMaxMs: 500, inflightRequestsMax: 3 },
      }),
    )
  ).value;
  if (!connected.ok) throw connected.error;
  const cluster = connected.value;
  const created = (
    await settle(
      clock,
      cluster.send(1, ApiKeys.CreateTopics, {
        ...defaultCreateTopicsRequest(),
        timeoutMs: 5_000,
        topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      }),
    )
  ).value;
  if (!created.ok) throw created.error;
  const topicId = created.body.topics[0]?.topicId ?? "";

  const start = clock.monotonicMs();
  for (const n of nemesis) clock.schedule(n.at, () => n.act(net));

  // Produce each batch until acknowledged (a failed attempt may still have been appended:
  // duplicates are allowed, losses are not). Three producers in parallel keep requests pipelined.
  const acked = new Map<number, number>();
  const failures: string[] = [];
  let next = 0;
  const producer = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= batches) return;
      const batch = buildRecordBatch([{ key: null, value: new TextEncoder().encode(`value-${i}`), timestamp: baseTimestampMs + i }]);
      for (;;) {
        const r = await cluster.send(1, ApiKeys.Produce, {
          ...defaultProduceRequest(),
          acks: -1,
          timeoutMs: 1_000,
          topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: batch }] }],
        });
        const p = r.ok ? r.body.responses[0]?.partitionResponses[0] : undefined;
        if (p !== undefined && p.errorCode === ErrorCode.NONE) {
          acked.set(i, p.baseOffset);
          break;
        }
        failures.push(r.ok ? `error ${p?.errorCode}` : r.error.kind);
        if (failures.length > attemptsFailedMax) throw new Error(`more than ${attemptsFailedMax} failed produce attempts: ${failures.slice(-5).join(", ")}`);
      }
    }
  };
  await settle(clock, Promise.all([producer(), producer(), producer()]), 600_000);
  const produceMs = clock.monotonicMs() - start;
  net.heal();

  // Read everything back: batch base offset → the index in its timestamp.
  const found = new Map<number, number>();
  let offset = 0;
  for (let rounds = 0; rounds < 1000; rounds++) {
    const r = (
      await settle(
        clock,
        cluster.send(1, ApiKeys.Fetch, {
          ...defaultFetchRequest(),
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1 << 20,
          topics: [{ topic: TOPIC, topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 64 * 1024, replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA" }] }],
        }),
      )
    ).value;
    if (!r.ok) continue;
    const part = r.body.responses[0]?.partitions[0];
    const records = part?.records ?? new Uint8Array(0);
    if (records.length === 0) break;
    const view = new DataView(records.buffer, records.byteOffset, records.length);
    let pos = 0;
    while (pos + 12 <= records.length) {
      const length = view.getInt32(pos + 8);
      if (pos + 12 + length > records.length) break;
      const base = Number(view.getBigInt64(pos));
      found.set(base, Number(view.getBigInt64(pos + 27)) - baseTimestampMs);
      offset = base + 1;
      pos += 12 + length;
    }
  }
  const history = [...acked.entries()].sort((a, b) => a[0] - b[0]).map(([i, o]) => `${i}@${o}`);
  cluster.close();
  await settle(clock, node.stop());
  return { acked, found, failures, produceMs, history: history.join(","), stats: { ...net.stats } };
}

function checkNoLoss(result: Awaited<ReturnType<typeof scenario>>, batches: number): void {
  expect(result.acked.size).toBe(batches);
  for (const [i, at] of result.acked) {
    if (result.found.get(at) !== i) throw new Error(`acknowledged batch ${i} at offset ${at} reads back as ${result.found.get(at)}`);
  }
}

describe("client ↔ a bunka node, all simulated", () => {
  test("no faults: split writes and jitter only; everything acknowledged in order, nothing retried", async () => {
    const r = await scenario(1, 60, []);
    checkNoLoss(r, 60);
    expect(r.failures).toEqual([]);
    expect(r.found.size).toBe(60);
  });

  test("a partition and segment drops while producing: acknowledged batches all survive; runs replay by seed", async () => {
    const nemesis: Nemesis[] = [
      { at: 30, act: (net) => net.partition([BROKER], [CLIENT]) },
      { at: 2_500, act: (net) => net.heal() },
      { at: 3_000, act: (net) => net.setLink(CLIENT, BROKER, { dropProbability: 0.05 }) },
      { at: 4_500, act: (net) => net.setLink(CLIENT, BROKER, { dropProbability: 0 }) },
      { at: 5_000, act: (net) => net.cut(BROKER, CLIENT) },
      { at: 6_500, act: (net) => net.heal() },
    ];
    const batches = 400;
    const first = await scenario(7, batches, nemesis);
    checkNoLoss(first, batches);
    expect(first.failures.length).toBeGreaterThan(0);
    expect(first.failures).toContain("timeout");
    expect(first.stats.drops).toBeGreaterThan(0);
    expect(first.produceMs).toBeGreaterThan(2_500);
    const again = await scenario(7, batches, nemesis);
    expect(again.history).toBe(first.history);
    expect(again.failures).toEqual(first.failures);
    expect(again.produceMs).toBe(first.produceMs);
    expect(again.stats).toEqual(first.stats);
  }, 120_000);
});

describe("client ↔ a bunka node under random faults, by seed", () => {
  // BUNKA_SIM_SEED=<n> replays one seed; otherwise a fixed range runs.
  const only = process.env.BUNKA_SIM_SEED;
  const seeds = only === undefined ? [11, 12, 13, 14, 15, 16] : [Number(only)];
  for (const seed of seeds) {
    test(`seed ${seed}: acknowledged batches survive partitions, cuts and drops`, async () => {
      const prng = new SeededPrng(seed * 31);
      const nemesis: Nemesis[] = [];
      let t = 0;
      for (let i = 0; i < 6; i++) {
        t += 200 + prng.int(1_500);
        const kind = prng.int(3);
        const span = 100 + prng.int(3_000);
        const apply =
          kind === 0
            ? (net: SimNetwork) => net.partition([BROKER], [CLIENT])
            : kind === 1
              ? (net: SimNetwork) => net.cut(prng.int(2) === 0 ? BROKER : CLIENT, prng.int(2) === 0 ? CLIENT : BROKER)
              : (net: SimNetwork) => net.setLink(CLIENT, BROKER, { dropProbability: 0.02 + prng.nextFloat() * 0.1 });
        nemesis.push({ at: t, act: apply });
        nemesis.push({
          at: t + span,
          act: (net) => {
            net.heal();
            net.setLink(CLIENT, BROKER, { dropProbability: 0 });
          },
        });
        t += span;
      }
      try {
        checkNoLoss(await scenario(seed, 200, nemesis), 200);
      } catch (error) {
        throw new Error(`seed ${seed} failed; replay: BUNKA_SIM_SEED=${seed} bun test test/client/sim-broker.test.ts -t "seed ${seed}:"\n${String(error)}`);
      }
    }, 60_000);
  }
});
