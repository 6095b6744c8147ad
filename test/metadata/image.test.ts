import { describe, expect, test } from "bun:test";
import { MetadataDelta, MetadataImage, MetadataReplayError } from "../../src/metadata/image.ts";
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from "../../src/metadata/records.ts";
import { parseUuid, randomUuid, uuidFromBytes, uuidToBytes, ZERO_UUID, type Uuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";

const prng = new SeededPrng(1);
const idA = randomUuid(prng);
const idB = randomUuid(prng);

function replayAll(records: MetadataRecord[], base = MetadataImage.EMPTY): MetadataImage {
  const delta = new MetadataDelta(base);
  records.forEach((r, i) => delta.replay(r, base.offset + 1 + i));
  return delta.apply();
}

describe("uuid", () => {
  test("round trips bytes and text, and matches a known encoding", () => {
    const bytes = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const id = uuidFromBytes(bytes);
    expect(id.length).toBe(22);
    expect(uuidToBytes(id)).toEqual(bytes);
    // 16 zero bytes are Kafka's ZERO_UUID text.
    expect(uuidFromBytes(new Uint8Array(16))).toBe(ZERO_UUID);
    // 0xff * 16 is all '_' but the padding bits.
    expect(uuidFromBytes(new Uint8Array(16).fill(0xff))).toBe("_____________________w" as Uuid);
    expect(parseUuid(id)).toBe(id);
    expect(parseUuid("short")).toBeNull();
    expect(parseUuid("_____________________x")).toBeNull();
  });

  test("random ids are never zero and never start with '-'", () => {
    const p = new SeededPrng(99);
    for (let i = 0; i < 5000; i++) {
      const id = randomUuid(p);
      expect(id.startsWith("-")).toBe(false);
      expect(id).not.toBe(ZERO_UUID);
      expect(uuidFromBytes(uuidToBytes(id))).toBe(id);
    }
  });
});

describe("metadata records", () => {
  test("encode/decode round trip for every record type", () => {
    const records: MetadataRecord[] = [
      { type: "registerBroker", brokerId: 1, incarnationId: idA, brokerEpoch: 5, endpoints: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT" }], rack: null, fenced: false },
      { type: "unregisterBroker", brokerId: 1, brokerEpoch: 5 },
      { type: "brokerFencing", brokerId: 1, brokerEpoch: 5, fenced: true },
      { type: "topic", name: "orders", topicId: idA },
      { type: "removeTopic", topicId: idA },
      { type: "partition", topicId: idA, partition: 0, replicas: [1, 2], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
      { type: "partitionChange", topicId: idA, partition: 0, isr: [1, 2] },
      { type: "config", resourceType: "topic", resourceName: "orders", name: "retention.ms", value: "1000" },
      { type: "config", resourceType: "broker", resourceName: "", name: "x", value: null },
      { type: "featureLevel", name: "metadata.version", level: 21 },
      { type: "producerIds", brokerId: 1, brokerEpoch: 5, nextProducerId: 1000 },
    ];
    for (const r of records) {
      const { key, value } = encodeMetadataRecord(r);
      expect(new TextDecoder().decode(key)).toBe(r.type);
      const back = decodeMetadataRecord(value);
      expect(back).toEqual({ ok: true, record: r });
    }
  });

  test("malformed values are refused with a reason", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const bad = [
      enc("not json"),
      new Uint8Array([0xff, 0xfe]),
      enc("[]"),
      enc(JSON.stringify({ v: 2, type: "topic", name: "a", topicId: idA })),
      enc(JSON.stringify({ v: 1, type: "nope" })),
      enc(JSON.stringify({ v: 1, type: "topic", name: "", topicId: idA })),
      enc(JSON.stringify({ v: 1, type: "topic", name: "a", topicId: "xyz" })),
      enc(JSON.stringify({ v: 1, type: "topic", name: "a", topicId: idA, extra: 1 })),
      enc(JSON.stringify({ v: 1, type: "partition", topicId: idA, partition: -1, replicas: [], isr: [], leader: 0, leaderEpoch: 0, partitionEpoch: 0 })),
    ];
    for (const b of bad) {
      const r = decodeMetadataRecord(b);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
  });
});

describe("MetadataImage replay", () => {
  const base: MetadataRecord[] = [
    { type: "topic", name: "orders", topicId: idA },
    { type: "partition", topicId: idA, partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
    { type: "partition", topicId: idA, partition: 1, replicas: [2, 3, 1], isr: [2, 3, 1], leader: 2, leaderEpoch: 0, partitionEpoch: 0 },
    { type: "config", resourceType: "topic", resourceName: "orders", name: "cleanup.policy", value: "compact" },
  ];

  test("builds topics, partitions and configs; old images stay unchanged", () => {
    const image = replayAll(base);
    expect(image.offset).toBe(3);
    expect(image.topic("orders")?.partitions.length).toBe(2);
    expect(image.topicsById.get(idA)?.name).toBe("orders");
    expect(image.configsOf("topic", "orders").get("cleanup.policy")).toBe("compact");
    const next = replayAll([{ type: "partitionChange", topicId: idA, partition: 0, isr: [1, 2] }], image);
    expect(next.partition("orders", 0)).toMatchObject({ isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
    expect(image.partition("orders", 0)?.isr).toEqual([1, 2, 3]);
    const moved = replayAll([{ type: "partitionChange", topicId: idA, partition: 0, leader: 2 }], next);
    expect(moved.partition("orders", 0)).toMatchObject({ leader: 2, leaderEpoch: 1, partitionEpoch: 2 });
    expect(MetadataImage.EMPTY.topicsByName.size).toBe(0);
  });

  test("removing a topic drops its name, id and configs", () => {
    const image = replayAll([...base, { type: "removeTopic", topicId: idA }]);
    expect(image.topic("orders")).toBeUndefined();
    expect(image.topicsById.size).toBe(0);
    expect(image.configs.size).toBe(0);
    // The name can be used again with a new id.
    const again = replayAll([{ type: "topic", name: "orders", topicId: idB }], image);
    expect(again.topic("orders")?.topicId).toBe(idB);
  });

  test("invariant violations throw MetadataReplayError with the offset", () => {
    const cases: MetadataRecord[][] = [
      [...base, { type: "topic", name: "orders", topicId: idB }],
      [...base, { type: "topic", name: "other", topicId: idA }],
      [{ type: "partition", topicId: idB, partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
      [base[0]!, { type: "partition", topicId: idA, partition: 1, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
      [base[0]!, { type: "partition", topicId: idA, partition: 0, replicas: [1], isr: [2], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
      [base[0]!, { type: "partition", topicId: idA, partition: 0, replicas: [1, 1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
      [...base, { type: "partitionChange", topicId: idA, partition: 0, leader: 9 }],
      [...base, { type: "partitionChange", topicId: idA, partition: 7, isr: [1] }],
      [{ type: "removeTopic", topicId: idB }],
      [{ type: "unregisterBroker", brokerId: 3, brokerEpoch: 0 }],
      [{ type: "producerIds", brokerId: 1, brokerEpoch: 1, nextProducerId: 0 }],
    ];
    for (const records of cases) {
      expect(() => replayAll(records)).toThrow(MetadataReplayError);
    }
    const delta = new MetadataDelta(MetadataImage.EMPTY);
    delta.replay(base[0]!, 5);
    expect(() => delta.replay(base[1]!, 5)).toThrow(/does not advance/);
  });

  test("broker registration, fencing and epochs", () => {
    const reg = (epoch: number): MetadataRecord => ({ type: "registerBroker", brokerId: 1, incarnationId: idA, brokerEpoch: epoch, endpoints: [], rack: null, fenced: true });
    const image = replayAll([reg(10), { type: "brokerFencing", brokerId: 1, brokerEpoch: 10, fenced: false }]);
    expect(image.liveBrokers().map((b) => b.brokerId)).toEqual([1]);
    expect(() => replayAll([reg(9)], image)).toThrow(MetadataReplayError);
    const gone = replayAll([{ type: "unregisterBroker", brokerId: 1, brokerEpoch: 10 }], image);
    expect(gone.brokers.size).toBe(0);
  });
});
