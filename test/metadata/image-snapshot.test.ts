/**
 * The metadata image as snapshot content and back (src/metadata/image-snapshot.ts): images
 * built by long random histories of every record kind (brokers registered, fenced and gone,
 * topics created and deleted, partitions moved, configs set and unset, features, producer id
 * blocks) come back equal, in the same map order, through records and through content bytes.
 */
import { describe, expect, test } from "bun:test";
import { decodeImageSnapshot, decodeSnapshotRecords, encodeImageSnapshot, imageFromRecords, imageRecords, snapshotBatchRecordsMax } from "../../src/metadata/image-snapshot.ts";
import { MetadataDelta, MetadataImage, MetadataReplayError } from "../../src/metadata/image.ts";
import { encodeMetadataRecord, type MetadataRecord } from "../../src/metadata/records.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { walkBatches } from "../../src/protocol/records/record-batch.ts";
import { imageState } from "./image-state.ts";

function pick<T>(prng: SeededPrng, items: readonly T[]): T {
  return items[prng.int(items.length)]!;
}

function subset(prng: SeededPrng, items: readonly number[], min: number): number[] {
  const out = items.filter(() => prng.int(2) === 0);
  while (out.length < min) {
    const x = pick(prng, items);
    if (!out.includes(x)) out.push(x);
  }
  return out;
}

/** A valid next record for `image`, of a random kind. */
function randomRecord(prng: SeededPrng, image: MetadataImage, serial: number): MetadataRecord | null {
  const brokers = [...image.brokers.values()];
  const topics = [...image.topicsById.values()];
  switch (prng.int(12)) {
    case 0:
    case 1: {
      const brokerId = prng.int(8);
      const previous = image.brokers.get(brokerId);
      return {
        type: "registerBroker",
        brokerId,
        incarnationId: randomUuid(prng),
        brokerEpoch: (previous?.brokerEpoch ?? 0) + 1 + prng.int(50),
        endpoints: [
          { name: "PLAINTEXT", host: `10.0.0.${brokerId}`, port: 9092, securityProtocol: "PLAINTEXT" },
          ...(prng.int(2) === 0 ? [{ name: "CONTROLLER", host: `10.0.0.${brokerId}`, port: 9093, securityProtocol: "PLAINTEXT" }] : []),
        ],
        rack: prng.int(3) === 0 ? null : `rack-${prng.int(3)}`,
        fenced: prng.int(2) === 0,
      };
    }
    case 2: {
      if (brokers.length === 0) return null;
      const b = pick(prng, brokers);
      return prng.int(4) === 0 ? { type: "unregisterBroker", brokerId: b.brokerId, brokerEpoch: b.brokerEpoch } : { type: "brokerFencing", brokerId: b.brokerId, brokerEpoch: b.brokerEpoch, fenced: !b.fenced };
    }
    case 3:
    case 4: {
      // A topic and (the caller adds) its partitions.
      return { type: "topic", name: `topic-${serial}-${prng.int(1000)}`, topicId: randomUuid(prng) };
    }
    case 5:
    case 6: {
      if (topics.length === 0) return null;
      const t = pick(prng, topics);
      if (t.partitions.length === 0 || prng.int(3) === 0) {
        const replicas = subset(prng, [0, 1, 2, 3, 4, 5], 1);
        const isr = subset(prng, replicas, 1);
        return { type: "partition", topicId: t.topicId, partition: t.partitions.length, replicas, isr, leader: prng.int(5) === 0 ? -1 : pick(prng, isr), leaderEpoch: prng.int(20), partitionEpoch: prng.int(30) };
      }
      const p = pick(prng, t.partitions);
      const isr = subset(prng, p.replicas, 1);
      return { type: "partitionChange", topicId: t.topicId, partition: p.partition, isr, leader: prng.int(4) === 0 ? -1 : pick(prng, isr) };
    }
    case 7: {
      if (topics.length === 0 || prng.int(3) !== 0) return null;
      return { type: "removeTopic", topicId: pick(prng, topics).topicId };
    }
    case 8:
    case 9: {
      const onTopic = topics.length > 0 && prng.int(3) !== 0;
      const resourceName = onTopic ? pick(prng, topics).name : pick(prng, ["", "1", "2"]);
      const name = pick(prng, ["retention.ms", "cleanup.policy", "segment.bytes", "min.insync.replicas", "unicode.note"]);
      const value = prng.int(5) === 0 ? null : name === "unicode.note" ? `värde ✓ ${prng.int(100)}` : String(prng.int(1_000_000));
      return { type: "config", resourceType: onTopic ? "topic" : "broker", resourceName, name, value };
    }
    case 10:
      return { type: "featureLevel", name: pick(prng, ["metadata.version", "kraft.version", "group.version"]), level: prng.int(30) };
    default:
      return { type: "producerIds", brokerId: prng.int(4), brokerEpoch: prng.int(100), nextProducerId: image.nextProducerId + 1000 };
  }
}

/** An image after `steps` random records, at offsets with gaps (control batches in between). */
function randomImage(seed: number, steps: number): MetadataImage {
  const prng = new SeededPrng(seed);
  let image = MetadataImage.EMPTY;
  let offset = -1;
  for (let i = 0; i < steps; i++) {
    const record = randomRecord(prng, image, i);
    if (record === null) continue;
    const delta = new MetadataDelta(image);
    offset += 1 + (prng.int(5) === 0 ? prng.int(3) : 0);
    delta.replay(record, offset);
    image = delta.apply();
  }
  return image;
}

describe("metadata image ↔ snapshot", () => {
  test("random histories: image → records → image is the same image, in the same order", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const image = randomImage(seed, 300);
      const back = imageFromRecords(imageRecords(image), image.offset);
      expect(imageState(back)).toEqual(imageState(image));
    }
  });

  test("a rich image holds every kind: brokers fenced and not, deleted topics gone, configs, features, producer ids", () => {
    const image = randomImage(7, 2000);
    expect([...image.brokers.values()].some((b) => b.fenced)).toBe(true);
    expect([...image.brokers.values()].some((b) => !b.fenced)).toBe(true);
    expect(image.topicsById.size).toBeGreaterThan(20);
    expect([...image.topicsById.values()].some((t) => t.partitions.some((p) => p.leader === -1))).toBe(true);
    expect([...image.topicsById.values()].some((t) => t.partitions.some((p) => p.partitionEpoch > 0))).toBe(true);
    expect([...image.configs.keys()].some((k) => k.startsWith("broker:"))).toBe(true);
    expect([...image.configs.keys()].some((k) => k.startsWith("topic:"))).toBe(true);
    expect(image.features.size).toBe(3);
    expect(image.nextProducerId).toBeGreaterThan(0);
    const records = imageRecords(image);
    // One record per thing the image holds, none about its history.
    expect(records.filter((r) => r.type === "brokerFencing" || r.type === "unregisterBroker" || r.type === "removeTopic" || r.type === "partitionChange")).toEqual([]);
    expect(records.filter((r) => r.type === "registerBroker").length).toBe(image.brokers.size);
    expect(records.filter((r) => r.type === "topic").length).toBe(image.topicsById.size);
    const back = decodeImageSnapshot(encodeImageSnapshot(image, 1_700_000_000_000), image.offset);
    expect(imageState(back)).toEqual(imageState(image));
  });

  test("content bytes: whole v2 batches of at most snapshotBatchRecordsMax records; read back equal at the snapshot's offset", () => {
    // Many partitions: the content spans several batches.
    let image = MetadataImage.EMPTY;
    const prng = new SeededPrng(3);
    const delta = new MetadataDelta(image);
    let offset = 0;
    for (let t = 0; t < 10; t++) {
      const topicId = randomUuid(prng);
      delta.replay({ type: "topic", name: `big-${t}`, topicId }, offset++);
      for (let p = 0; p < 1000; p++) delta.replay({ type: "partition", topicId, partition: p, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 + (p % 3), leaderEpoch: 0, partitionEpoch: 0 }, offset++);
    }
    image = delta.apply();
    const content = encodeImageSnapshot(image, 1_700_000_000_000);
    const walk = walkBatches(content, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: 64 << 20 });
    expect(walk.problem).toBeNull();
    expect(walk.batches.length).toBe(Math.ceil(10_010 / snapshotBatchRecordsMax));
    for (const b of walk.batches) expect(b.lastOffsetDelta + 1).toBeLessThanOrEqual(snapshotBatchRecordsMax);
    // The snapshot's image stands at the last offset the snapshot covers (past its last record: control batches).
    const back = decodeImageSnapshot(content, offset + 5);
    expect(back.offset).toBe(offset + 5);
    expect(imageState(back.withOffset(image.offset))).toEqual(imageState(image));
    expect(decodeSnapshotRecords(content, 0)).toEqual(imageRecords(image));
  });

  test("the empty image is empty content, and empty content the empty image", () => {
    expect(encodeImageSnapshot(MetadataImage.EMPTY, 0).length).toBe(0);
    const back = decodeImageSnapshot(new Uint8Array(0), 41);
    expect(imageState(back)).toEqual(imageState(MetadataImage.EMPTY.withOffset(41)));
  });

  test("content that is not an image is refused with MetadataReplayError at the snapshot's offset", () => {
    const image = randomImage(11, 200);
    const content = encodeImageSnapshot(image, 0);
    const flipped = content.slice();
    flipped[flipped.length - 3]! ^= 0x40;
    expect(() => decodeImageSnapshot(flipped, 99)).toThrow(MetadataReplayError);
    expect(() => decodeImageSnapshot(content.subarray(0, content.length - 1), 99)).toThrow("snapshot content");
    const control = buildRecordBatch([{ key: new Uint8Array([0, 0, 0, 3]), value: new Uint8Array(4), timestamp: 0 }], { isControl: true });
    expect(() => decodeImageSnapshot(control, 99)).toThrow("control batch");
    const junk = buildRecordBatch([{ key: null, value: new TextEncoder().encode("{not json"), timestamp: 0 }]);
    expect(() => decodeImageSnapshot(junk, 99)).toThrow("snapshot record 0");
    // Records that do not describe an image: a partition of a topic it never names.
    const orphan = buildRecordBatch([{ ...encodeMetadataRecord({ type: "partition", topicId: randomUuid(new SeededPrng(1)), partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }), timestamp: 0 }]);
    try {
      decodeImageSnapshot(orphan, 99);
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(MetadataReplayError);
      expect((e as MetadataReplayError).offset).toBe(99);
      expect((e as Error).message).toContain("snapshot record 0");
    }
  });
});
