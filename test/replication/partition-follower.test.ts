/**
 * A follower Partition's data path on its own log: appends of the leader's batches (split
 * into runs that fit segment.bytes, producer state replayed) and truncation (producer state
 * cut with the log).
 */
import { expect, test } from "bun:test";
import { MetadataImage, type PartitionImage } from "../../src/metadata/image.ts";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { Partition } from "../../src/replication/partition.ts";
import { resolveTopicConfig } from "../../src/replication/topic-log-config.ts";
import { openLog, simEnv } from "../storage/helpers.ts";

const topicId = "AAAAAAAAAAAAAAAAAAAAAA" as Uuid;

function image(leader: number, leaderEpoch: number): PartitionImage {
  return { topicId, partition: 0, replicas: [1, 2], isr: [1, 2], leader, leaderEpoch, partitionEpoch: leaderEpoch };
}

/** The leader's bytes: `n` idempotent batches of producer 9 from offset `from`, 3 records each. */
function leaderBatches(n: number, from: number, epoch: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const records = Array.from({ length: 3 }, (_, r) => ({ key: null, value: new Uint8Array(40).fill(i + r), timestamp: 1_700_000_000_000 }));
    parts.push(buildRecordBatch(records, { baseOffset: from + 3 * i, partitionLeaderEpoch: epoch, producerId: 9, producerEpoch: 0, baseSequence: from + 3 * i }));
  }
  return Buffer.concat(parts);
}

test("a fetch answer larger than segment.bytes is appended in runs of whole batches; every batch reaches the producer state", () => {
  const env = simEnv(3, { segmentBytes: 600 });
  const log = openLog(env);
  const p = new Partition(1, image(2, 4), "t", log, resolveTopicConfig(MetadataImage.EMPTY, "t", () => undefined));
  const bytes = leaderBatches(12, 0, 4);
  expect(bytes.length).toBeGreaterThan(3 * 600);
  // The log alone refuses it whole.
  expect(log.appendAsFollower(bytes).kind).toBe("recordListTooLarge");
  const r = p.appendAsFollower(bytes);
  expect(r).toMatchObject({ kind: "ok", firstOffset: 0, lastOffset: 35 });
  expect(log.logEndOffset).toBe(36);
  expect(log.segmentBaseOffsets().length).toBeGreaterThan(3);
  expect(p.producers.batchesOf(9).map((b) => b.firstOffset)).toEqual([21, 24, 27, 30, 33]);
  expect(p.producers.check(9, 0, 30, 32)).toEqual({ kind: "duplicate", firstOffset: 30, lastOffset: 32 });
  // Truncated below two of them: a resend of those is new again, the rest still dedupe.
  p.truncateTo(30);
  expect(log.logEndOffset).toBe(30);
  expect(p.producers.check(9, 0, 30, 32)).toEqual({ kind: "append" });
  expect(p.producers.check(9, 0, 27, 29)).toEqual({ kind: "duplicate", firstOffset: 27, lastOffset: 29 });
  p.truncateFullyAndStartAt(100);
  expect(p.producers.producerCount).toBe(0);
  // Leading, the follower data path is a bug.
  p.applyImage(image(1, 5));
  expect(() => p.appendAsFollower(leaderBatches(1, 100, 5))).toThrow();
});
