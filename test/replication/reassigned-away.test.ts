/**
 * A broker down while a reassignment moved a partition off it: at start it finds the
 * partition's log on disk, and the image holds the same topic (same id) on other brokers —
 * the log is deleted, as it would have been had the broker been up. Logs of topics the image
 * does not hold (or holds under another id) stay stray: kept, reported, not served.
 */
import { expect, test } from "bun:test";
import { MemoryMetadataStore, MetadataManager } from "../../src/metadata/metadata-manager.ts";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { joinPath } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { ReplicaManager } from "../../src/replication/replica-manager.ts";
import { defaultLogManagerConfig } from "../../src/storage/config.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import { Logger, memorySink } from "../../src/util/log.ts";

const movedId = "CCCCCCCCCCCCCCCCCCCCCA" as Uuid;
const otherId = "CCCCCCCCCCCCCCCCCCCCCQ" as Uuid;

test("a partition reassigned away while the broker was down is deleted at start; a topic of another id stays a stray", async () => {
  const clock = new SimClock();
  const prng = new SeededPrng(7);
  const fs = new SimFileSystem(new SeededPrng(8), clock);
  const logs = LogManager.open({ fs, clock, prng, config: defaultLogManagerConfig(["/data"]) });
  logs.getOrCreateLog({ topic: "moved", partition: 0 }, movedId);
  logs.getOrCreateLog({ topic: "moved", partition: 1 }, movedId);
  logs.getOrCreateLog({ topic: "renamed", partition: 0 }, otherId);
  const metadata = MetadataManager.open(new MemoryMetadataStore(), prng, { numPartitions: 1, defaultReplicationFactor: 1 });
  await metadata.submit(() => ({
    records: [
      ...[1, 2].map((brokerId) => ({ type: "registerBroker" as const, brokerId, incarnationId: "DDDDDDDDDDDDDDDDDDDDDA" as Uuid, brokerEpoch: 1, endpoints: [], rack: null, fenced: false })),
      { type: "topic", name: "moved", topicId: movedId },
      // Partition 0 now lives on broker 2 only; partition 1 still on broker 1.
      { type: "partition", topicId: movedId, partition: 0, replicas: [2], isr: [2], leader: 2, leaderEpoch: 1, partitionEpoch: 3 },
      { type: "partition", topicId: movedId, partition: 1, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
      { type: "topic", name: "renamed", topicId: "CCCCCCCCCCCCCCCCCCCCCg" as Uuid },
      { type: "partition", topicId: "CCCCCCCCCCCCCCCCCCCCCg" as Uuid, partition: 0, replicas: [2], isr: [2], leader: 2, leaderEpoch: 0, partitionEpoch: 0 },
    ],
    response: undefined,
  }));
  const sink = memorySink();
  const replicas = new ReplicaManager({ nodeId: 1, logs, clock, log: new Logger({ sink: sink.sink, level: "debug" }), brokerConfigValue: () => undefined });
  replicas.attach(metadata);
  expect(fs.exists(joinPath("/data", "moved-0"))).toBe(false);
  expect(logs.getLog({ topic: "moved", partition: 0 })).toBeNull();
  expect(sink.records().some((r) => r["msg"]?.startsWith("deleted the log of a partition reassigned away") && r["partition"] === "moved-0")).toBe(true);
  expect(replicas.getPartition("moved", 1)).toBeDefined();
  expect(fs.exists(joinPath("/data", "renamed-0"))).toBe(true);
  expect(sink.records().some((r) => r["msg"]?.startsWith("stray partition log") && r["partition"] === "renamed-0")).toBe(true);
  logs.close();
});
