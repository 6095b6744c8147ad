/**
 * ISR changes from the leader's side (ReplicaManager + Partition): a follower that stops
 * catching up for replica.lag.time.max.ms is proposed out, one that reaches the HW is proposed
 * back in, each by one AlterPartition at a time with the leader and partition epochs; the ISR
 * changes only when the committed record reaches the image. The controller here is the real
 * decision (replication-control.ts) on the harness's metadata.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { NodeClient } from "../../src/client/node-client.ts";
import { createTopics } from "../../src/metadata/controller.ts";
import { alterPartition } from "../../src/metadata/replication-control.ts";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimNetwork } from "../../src/platform/sim/network.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import type { AlterPartitionSender } from "../../src/replication/replica-manager.ts";
import type { TestBroker } from "../server/harness.ts";
import { batch, broker, produceOk, settle } from "../server/handlers/helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

const lagMs = 1000;

async function setUp(refuse: () => number | null = () => null): Promise<{ br: TestBroker; sent: Parameters<AlterPartitionSender>[0][] }> {
  const br = await broker();
  b = br;
  await br.metadata.submit(() => ({
    records: [{ type: "registerBroker", brokerId: 2, incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as Uuid, brokerEpoch: 7, endpoints: [], rack: null, fenced: false }],
    response: undefined,
  }));
  const [r] = await br.metadata.submit((ctx) => createTopics(ctx, [{ name: "r", numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }], configs: [] }], false));
  expect(r?.errorCode).toBe(ErrorCode.NONE);
  const sent: Parameters<AlterPartitionSender>[0][] = [];
  const net = new SimNetwork({ clock: br.clock, prng: new SeededPrng(1), link: { delayMs: 1, jitterMs: 0, dropProbability: 0 } });
  br.replicas.startReplication({
    client: new NodeClient({ network: net.host("10.9.9.9"), clock: br.clock, prng: new SeededPrng(2) }),
    listenerName: "PLAINTEXT",
    fetcher: { fetchersPerBroker: 1, partitionMaxBytes: 1 << 20, responseMaxBytes: 10 << 20, minBytes: 1, maxWaitMs: 500, backoffMs: 1000, requestTimeoutMs: 30_000 },
    brokerEpoch: () => 1,
    replicaLagTimeMs: lagMs,
    alterPartition: async (item) => {
      sent.push(item);
      const refused = refuse();
      if (refused !== null) return refused;
      const out = await br.metadata.submit((c) => alterPartition(c, 1, br.metadata.image.brokers.get(1)!.brokerEpoch, [{ ...item, topicId: item.topicId as Uuid, topicName: null }]));
      return out.errorCode !== ErrorCode.NONE ? out.errorCode : out.partitions[0]!.errorCode;
    },
  });
  return { br, sent };
}

/** A fetch by follower 2 from `offset` (its log end offset). */
async function followerFetch(br: TestBroker, offset: number): Promise<void> {
  await br.replicas.fetch([{ topic: "r", partition: 0, fetchOffset: offset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }], {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolation: "readUncommitted",
    replica: { replicaId: 2, brokerEpoch: 7 },
  });
}

describe("ISR changes by AlterPartition", () => {
  test("a follower silent past replica.lag.time.max.ms leaves the ISR; caught up again, it rejoins; the HW follows", async () => {
    const { br, sent } = await setUp();
    const p = br.replicas.getPartition("r", 0)!;
    await produceOk(br, "r", batch(3));
    await followerFetch(br, 3);
    expect(p.log.highWatermark).toBe(3);
    // Caught up within the lag time: no proposal.
    br.clock.advance(lagMs / 2);
    await settle();
    expect(sent).toEqual([]);
    // Silent for longer than the lag time while the leader appends: out.
    await produceOk(br, "r", batch(2));
    expect(p.log.highWatermark).toBe(3);
    br.clock.advance(lagMs + lagMs / 2);
    await settle();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ leaderEpoch: 0, partitionEpoch: 0, newIsr: [{ brokerId: 1, brokerEpoch: 1 }] });
    expect(br.metadata.image.partition("r", 0)).toMatchObject({ isr: [1], partitionEpoch: 1, leaderEpoch: 0 });
    expect(p.state).toMatchObject({ kind: "leader", isr: [1] });
    expect(p.log.highWatermark).toBe(5); // the ISR is the leader alone
    expect(p.pendingIsrChange).toBeNull();
    // Behind the HW, a fetch does not bring it back; at the HW it does (with its broker epoch).
    await followerFetch(br, 4);
    await settle();
    expect(sent).toHaveLength(1);
    await followerFetch(br, 5);
    await settle();
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ partitionEpoch: 1, newIsr: [{ brokerId: 1, brokerEpoch: 1 }, { brokerId: 2, brokerEpoch: 7 }] });
    expect(br.metadata.image.partition("r", 0)).toMatchObject({ isr: [1, 2], partitionEpoch: 2 });
    // In the ISR again, it holds the HW for acks=all.
    await produceOk(br, "r", batch(1));
    expect(p.log.highWatermark).toBe(5);
    await followerFetch(br, 6);
    expect(p.log.highWatermark).toBe(6);
  });

  test("one change in flight at a time; a refused change is proposed again later", async () => {
    let refusals = 1;
    const { br, sent } = await setUp(() => (refusals-- > 0 ? ErrorCode.INVALID_UPDATE_VERSION : null));
    const p = br.replicas.getPartition("r", 0)!;
    br.clock.advance(lagMs + lagMs / 2);
    await settle();
    expect(sent).toHaveLength(1);
    expect(p.state).toMatchObject({ isr: [1, 2] }); // refused: the ISR stays
    expect(p.pendingIsrChange).toBeNull();
    br.clock.advance(lagMs / 2);
    await settle();
    expect(sent).toHaveLength(2);
    expect(p.state).toMatchObject({ isr: [1] });
  });
});
