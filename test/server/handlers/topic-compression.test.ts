/**
 * Produce with a topic's compression.type and timestamp bounds, through the dispatcher over
 * the harness (a replica manager with codecs, as node.ts builds it): batches in another codec
 * are stored recompressed to the topic's (same records, offsets assigned as usual, producer
 * fields kept, CRC valid), batches already in it are stored byte for byte; the broker's
 * compression.type is the default; records outside message.timestamp.before/after.max.ms are
 * INVALID_TIMESTAMP with per-record errors.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { SeededPrng } from "../../../src/platform/prng.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { buildRecordBatch, type BatchOptions } from "../../../src/protocol/records/builder.ts";
import type { CompressionCodecName } from "../../../src/protocol/records/compression.ts";
import { type RecordBatchView, walkBatches } from "../../../src/protocol/records/record-batch.ts";
import type { TestBroker } from "../harness.ts";
import { broker, produced, produceRequest, T0 } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

const enc = new TextEncoder();
const inflate = { maxBytes: 1 << 24, compression: bunCompression };

function batchOf(codec: CompressionCodecName, n: number, tag: string, options: BatchOptions = {}, timestamps?: number[]): Uint8Array {
  return buildRecordBatch(
    Array.from({ length: n }, (_, i) => ({
      key: i % 3 === 0 ? null : enc.encode(`${tag}-k${i}`),
      value: enc.encode(`${tag} value ${i} `.repeat(4)),
      headers: i % 2 === 0 ? [{ key: "i", value: enc.encode(String(i)) }] : [],
      timestamp: timestamps?.[i] ?? T0 + i,
    })),
    { compression: codec, codecs: bunCompression, ...options },
  );
}

/** The records as a consumer sees them: everything but the offsets. */
const contentOf = (v: RecordBatchView) => v.records(inflate).map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp }));

/** Every batch stored in `topic`-0. */
function stored(br: TestBroker, topic: string): RecordBatchView[] {
  const log = br.replicas.getPartition(topic, 0)!.log;
  const r = log.read(0, 1 << 24, log.logEndOffset, true);
  if (r.kind !== "ok") throw new Error(`read ${r.kind}`);
  const walk = walkBatches(r.records.slice(), { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: 1 << 24 });
  expect(walk.problem).toBeNull();
  return walk.batches;
}

async function produce(br: TestBroker, topic: string, records: Uint8Array, version = 9) {
  return produced(await br.send(ApiKeys.Produce, version, produceRequest([{ topic, records }])), topic);
}

describe("compression.type", () => {
  const pairs: [CompressionCodecName, "uncompressed" | CompressionCodecName][] = [
    ["none", "gzip"],
    ["gzip", "uncompressed"],
    ["lz4", "zstd"],
    ["zstd", "snappy"],
    ["snappy", "lz4"],
    ["gzip", "zstd"],
  ];
  for (const [from, to] of pairs) {
    test(`a ${from} batch on a ${to} topic is stored as ${to}, records and offsets as produced`, async () => {
      const br = (b = await broker());
      await br.createTopic("t", 1, { "compression.type": to });
      const codec = to === "uncompressed" ? "none" : to;
      const first = batchOf(from, 7, "a");
      const second = batchOf(from, 3, "b");
      expect(await produce(br, "t", first)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
      expect(await produce(br, "t", second)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 7 });
      const [s1, s2] = stored(br, "t");
      for (const [s, sent, base] of [
        [s1!, first, 0],
        [s2!, second, 7],
      ] as const) {
        const original = walkBatches(sent, { verifyCrc: true, requireDenseOffsets: true, maxBatchBytes: 1 << 24 }).batches[0]!;
        expect(s.compression).toBe(codec);
        expect(s.verifyCrc()).toBe(true);
        expect([s.baseOffset, s.lastOffset, s.recordCount]).toEqual([base, base + original.recordCount - 1, original.recordCount]);
        expect(contentOf(s)).toEqual(contentOf(original));
        expect(s.records(inflate).map((r) => r.offset)).toEqual(Array.from({ length: original.recordCount }, (_, i) => base + i));
      }
      expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(10);
    });
  }

  test("a batch already in the topic's codec, and any batch under producer, is stored as it came", async () => {
    const br = (b = await broker());
    await br.createTopic("gz", 1, { "compression.type": "gzip" });
    await br.createTopic("p", 1, { "compression.type": "producer" });
    const sent = batchOf("gzip", 5, "z");
    expect((await produce(br, "gz", sent.slice())).errorCode).toBe(ErrorCode.NONE);
    const s = stored(br, "gz")[0]!;
    // baseOffset and partitionLeaderEpoch are assigned; everything from the magic byte on is the producer's.
    expect(s.bytes.subarray(16)).toEqual(sent.subarray(16));
    for (const codec of ["none", "snappy", "zstd"] as const) {
      const one = batchOf(codec, 2, codec);
      expect((await produce(br, "p", one.slice())).errorCode).toBe(ErrorCode.NONE);
      expect(stored(br, "p").at(-1)!.bytes.subarray(16)).toEqual(one.subarray(16));
    }
  });

  test("the broker's compression.type is the default of topics without their own", async () => {
    const br = (b = await broker({ brokerConfigs: { "compression.type": "snappy" } }));
    await br.createTopic("d", 1);
    await br.createTopic("own", 1, { "compression.type": "producer" });
    const sent = batchOf("none", 4, "d");
    expect((await produce(br, "d", sent)).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(br, "own", sent)).errorCode).toBe(ErrorCode.NONE);
    expect(stored(br, "d")[0]!.compression).toBe("snappy");
    expect(stored(br, "own")[0]!.compression).toBe("none");
  });

  test("idempotent batches keep producer id, epoch and sequence; retries are deduplicated, also after a restart", async () => {
    let br = (b = await broker());
    await br.createTopic("t", 1, { "compression.type": "zstd" });
    const init = (await br.send(ApiKeys.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }))!;
    const producer = { producerId: init.producerId, producerEpoch: init.producerEpoch };
    const seq0 = batchOf("lz4", 4, "s0", { ...producer, baseSequence: 0 });
    const seq4 = batchOf("none", 2, "s4", { ...producer, baseSequence: 4 });
    expect((await produce(br, "t", seq0.slice())).baseOffset).toBe(0);
    expect((await produce(br, "t", seq4.slice())).baseOffset).toBe(4);
    const retry = await produce(br, "t", seq0.slice());
    expect([retry.errorCode, retry.baseOffset]).toEqual([ErrorCode.NONE, 0]);
    const batches = stored(br, "t");
    expect(batches.length).toBe(2);
    for (const [s, base] of [
      [batches[0]!, 0],
      [batches[1]!, 4],
    ] as const) {
      expect(s.compression).toBe("zstd");
      expect([s.producerId, s.producerEpoch, s.baseSequence, s.isTransactional]).toEqual([producer.producerId, producer.producerEpoch, base, false]);
    }
    br = b = br.restart();
    const again = await produce(br, "t", seq4.slice());
    expect([again.errorCode, again.baseOffset]).toEqual([ErrorCode.NONE, 4]);
    expect((await produce(br, "t", batchOf("gzip", 1, "s6", { ...producer, baseSequence: 6 }))).baseOffset).toBe(6);
    expect((await produce(br, "t", batchOf("gzip", 1, "s9", { ...producer, baseSequence: 9 }))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  test("LogAppendTime topics: the recompressed batch carries the append time", async () => {
    const br = (b = await broker());
    await br.createTopic("lat", 1, { "compression.type": "gzip", "message.timestamp.type": "LogAppendTime" });
    br.clock.advance(5000);
    const r = await produce(br, "lat", batchOf("none", 3, "l"));
    expect(r.logAppendTimeMs).toBe(br.clock.nowMs());
    const s = stored(br, "lat")[0]!;
    expect([s.compression, s.timestampType, s.maxTimestamp, s.verifyCrc()]).toEqual(["gzip", "LogAppendTime", br.clock.nowMs(), true]);
    expect(s.records(inflate).map((x) => x.timestamp)).toEqual([br.clock.nowMs(), br.clock.nowMs(), br.clock.nowMs()]);
  });

  test("a batch that grows past max.message.bytes when recompressed is MESSAGE_TOO_LARGE", async () => {
    const br = (b = await broker());
    // Incompressible values: gzip adds its framing.
    const prng = new SeededPrng(7);
    const noise = Uint8Array.from({ length: 2000 }, () => prng.nextU32() & 0xff);
    const sent = buildRecordBatch([{ key: null, value: noise, timestamp: T0 }]);
    await br.createTopic("small", 1, { "compression.type": "gzip", "max.message.bytes": String(sent.length) });
    const r = await produce(br, "small", sent);
    expect(r.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(r.errorMessage).toContain("gzip");
    expect(br.replicas.getPartition("small", 0)!.log.logEndOffset).toBe(0);
  });
});

describe("message.timestamp.before/after.max.ms", () => {
  test("CreateTime records outside [now - before, now + after] are INVALID_TIMESTAMP, one record error each", async () => {
    const br = (b = await broker());
    await br.createTopic("w", 1, { "message.timestamp.before.max.ms": "1000", "message.timestamp.after.max.ms": "100" });
    const now = br.clock.nowMs();
    for (const codec of ["none", "lz4"] as const) {
      const bad = batchOf(codec, 4, "w", {}, [now - 1001, now - 1000, now + 100, now + 101]);
      const r = (await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "w", records: bad }])))!.responses[0]!.partitionResponses[0]!;
      expect(r.errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
      expect(r.recordErrors.map((e) => e.batchIndex)).toEqual([0, 3]);
      expect(r.errorMessage).toContain("2 of 4 records");
    }
    expect(br.replicas.getPartition("w", 0)!.log.logEndOffset).toBe(0);
    const ok = await produce(br, "w", batchOf("none", 3, "ok", {}, [now - 1000, now, now + 100]));
    expect([ok.errorCode, ok.baseOffset]).toEqual([ErrorCode.NONE, 0]);
    // Kafka's NO_TIMESTAMP is not checked.
    expect((await produce(br, "w", batchOf("none", 1, "nt", {}, [-1]))).errorCode).toBe(ErrorCode.NONE);
  });

  test("difference.max.ms bounds both sides while they are unset; LogAppendTime topics are not checked", async () => {
    const br = (b = await broker());
    await br.createTopic("diff", 1, { "message.timestamp.difference.max.ms": "10" });
    await br.createTopic("lat", 1, { "message.timestamp.difference.max.ms": "10", "message.timestamp.type": "LogAppendTime" });
    const now = br.clock.nowMs();
    expect((await produce(br, "diff", batchOf("none", 1, "x", {}, [now - 11]))).errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
    expect((await produce(br, "diff", batchOf("none", 1, "x", {}, [now + 11]))).errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
    expect((await produce(br, "diff", batchOf("none", 1, "x", {}, [now + 10]))).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(br, "lat", batchOf("none", 1, "x", {}, [now - 1_000_000]))).errorCode).toBe(ErrorCode.NONE);
  });
});
