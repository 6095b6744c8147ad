import { describe, expect, test } from "bun:test";
import { crc32c } from "@node-rs/crc32";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { RecordBatchBuilder, buildEndTxnMarkerBatch, buildRecordBatch } from "../../../src/protocol/records/builder.ts";
import type { CompressionCodecName } from "../../../src/protocol/records/compression.ts";
import { parseEndTxnMarker } from "../../../src/protocol/records/control-record.ts";
import {
  RecordBatchView,
  batchViews,
  requireBatches,
  walkBatches,
} from "../../../src/protocol/records/record-batch.ts";
import { RecordsError } from "../../../src/protocol/records/records-error.ts";
import { logLines } from "./fixtures.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const scanAll = { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: 64 << 20 };

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RecordsError) return e.kind;
    throw e;
  }
  return "no error";
}

/** The batch of the hand-assembled test below, built from Kafka's documented layout. */
function handAssembled(): Uint8Array {
  const records = [
    // record 0: length 9 | attrs 0 | tsDelta 0 | offsetDelta 0 | key "k" | value "v0" | 0 headers
    0x12, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x04, 0x76, 0x30, 0x00,
    // record 1: length 10 | attrs 0 | tsDelta 5 | offsetDelta 1 | key null | value "x" | 1 header "h" = null
    0x14, 0x00, 0x0a, 0x02, 0x01, 0x02, 0x78, 0x02, 0x02, 0x68, 0x01,
  ];
  const header = [
    0, 0, 0, 0, 0, 0, 0, 5, // baseOffset 5
    0, 0, 0, 49 + records.length, // batchLength
    0, 0, 0, 7, // partitionLeaderEpoch 7
    2, // magic
    0, 0, 0, 0, // crc, filled below
    0x00, 0x10, // attributes: transactional, no compression, CreateTime
    0, 0, 0, 1, // lastOffsetDelta 1
    0, 0, 0, 0, 0, 0, 0x03, 0xe8, // baseTimestamp 1000
    0, 0, 0, 0, 0, 0, 0x03, 0xed, // maxTimestamp 1005
    0, 0, 0, 0, 0, 0, 0, 42, // producerId 42
    0, 3, // producerEpoch 3
    0, 0, 0, 9, // baseSequence 9
    0, 0, 0, 2, // recordCount 2
  ];
  const bytes = new Uint8Array([...header, ...records]);
  const crc = crc32c(bytes.subarray(21));
  new DataView(bytes.buffer).setUint32(17, crc >>> 0);
  return bytes;
}

describe("RecordBatchView over a hand-assembled batch", () => {
  test("reads every header field and record as documented", () => {
    const bytes = handAssembled();
    const v = RecordBatchView.at(bytes);
    expect(v.baseOffset).toBe(5);
    expect(v.batchLength).toBe(bytes.length - 12);
    expect(v.partitionLeaderEpoch).toBe(7);
    expect(v.magic).toBe(2);
    expect(v.crc).toBe(crc32c(bytes.subarray(21)) >>> 0);
    expect(v.verifyCrc()).toBe(true);
    expect(v.compression).toBe("none");
    expect(v.timestampType).toBe("CreateTime");
    expect(v.isTransactional).toBe(true);
    expect(v.isControl).toBe(false);
    expect(v.hasDeleteHorizon).toBe(false);
    expect(v.deleteHorizonMs).toBeNull();
    expect(v.lastOffsetDelta).toBe(1);
    expect(v.baseTimestamp).toBe(1000);
    expect(v.maxTimestamp).toBe(1005);
    expect(v.producerId).toBe(42);
    expect(v.producerEpoch).toBe(3);
    expect(v.baseSequence).toBe(9);
    expect(v.recordCount).toBe(2);
    expect(v.lastOffset).toBe(6);
    const records = v.records({ maxBytes: 1 << 20 });
    expect(records.length).toBe(2);
    expect(records[0]!.offset).toBe(5);
    expect(records[0]!.timestamp).toBe(1000);
    expect(dec.decode(records[0]!.key!)).toBe("k");
    expect(dec.decode(records[0]!.value!)).toBe("v0");
    expect(records[0]!.headers).toEqual([]);
    expect(records[1]!.offset).toBe(6);
    expect(records[1]!.timestamp).toBe(1005);
    expect(records[1]!.key).toBeNull();
    expect(dec.decode(records[1]!.value!)).toBe("x");
    expect(records[1]!.headers).toEqual([{ key: "h", value: null }]);
  });

  test("the builder produces the same bytes for the same inputs", () => {
    const built = buildRecordBatch(
      [
        { key: enc.encode("k"), value: enc.encode("v0"), timestamp: 1000 },
        { key: null, value: enc.encode("x"), headers: [{ key: "h", value: null }], timestamp: 1005 },
      ],
      { baseOffset: 5, partitionLeaderEpoch: 7, isTransactional: true, producerId: 42, producerEpoch: 3, baseSequence: 9 },
    );
    expect([...built]).toEqual([...handAssembled()]);
  });

  test("the view is a window on the caller's bytes, not a copy", () => {
    const bytes = handAssembled();
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 3);
    const v = RecordBatchView.at(padded, 3);
    expect(v.bytes.buffer).toBe(padded.buffer);
    expect(v.bytes.byteOffset).toBe(3);
    expect(v.sizeInBytes).toBe(bytes.length);
  });
});

describe("builder → view round trip", () => {
  const codecs: CompressionCodecName[] = ["none", "gzip", "snappy", "lz4", "zstd"];
  const big = logLines(150 * 1024, 21);
  const inputs = [
    { key: enc.encode("key-1"), value: enc.encode("value-1"), timestamp: 1_700_000_000_100 },
    { key: null, value: enc.encode("null key"), timestamp: 1_700_000_000_050 },
    { key: enc.encode("tombstone"), value: null, timestamp: 1_700_000_000_300 },
    {
      key: enc.encode("h"),
      value: big,
      headers: [
        { key: "trace-id", value: enc.encode("abc") },
        { key: "empty", value: new Uint8Array(0) },
        { key: "nothing", value: null },
        { key: "ünïcødé", value: enc.encode("✓") },
      ],
      timestamp: 1_700_000_000_200,
    },
    { key: new Uint8Array(0), value: new Uint8Array(0), timestamp: 1_700_000_000_000 },
  ];

  for (const codec of codecs) {
    test(codec, () => {
      const bytes = buildRecordBatch(inputs, {
        compression: codec,
        codecs: bunCompression,
        baseOffset: 1000,
        producerId: 7,
        producerEpoch: 1,
        baseSequence: 50,
      });
      const [v] = requireBatches(bytes, { ...scanAll, requireDenseOffsets: true });
      expect(v).toBeDefined();
      const view = v!;
      expect(view.compression).toBe(codec);
      expect(view.verifyCrc()).toBe(true);
      expect(view.crc).toBe(crc32c(bytes.subarray(21)) >>> 0);
      expect(view.recordCount).toBe(inputs.length);
      expect(view.lastOffsetDelta).toBe(inputs.length - 1);
      expect(view.baseTimestamp).toBe(inputs[0]!.timestamp);
      expect(view.maxTimestamp).toBe(1_700_000_000_300);
      expect(view.producerId).toBe(7);
      expect(view.producerEpoch).toBe(1);
      expect(view.baseSequence).toBe(50);
      expect(view.partitionLeaderEpoch).toBe(-1);
      if (codec !== "none") expect(bytes.length).toBeLessThan(big.length);
      const records = view.records({ maxBytes: 1 << 20, compression: bunCompression });
      expect(records.length).toBe(inputs.length);
      records.forEach((r, i) => {
        const input = inputs[i]!;
        expect(r.offset).toBe(1000 + i);
        expect(r.timestamp).toBe(input.timestamp);
        expect(r.key === null ? null : [...r.key]).toEqual(input.key === null ? null : [...input.key]);
        expect(r.value === null ? null : Buffer.from(r.value).equals(Buffer.from(input.value!))).toBe(input.value === null ? null : true);
        expect(r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : [...h.value] }))).toEqual(
          (input.headers ?? []).map((h) => ({ key: h.key, value: h.value === null ? null : [...h.value] })),
        );
      });
      // The decompression limit applies to the records section.
      expect(kindOf(() => view.records({ maxBytes: 1000, compression: bunCompression }))).toBe("tooLarge");
    });
  }

  test("empty batches are refused", () => {
    expect(() => buildRecordBatch([])).toThrow(RangeError);
    expect(() => new RecordBatchBuilder().build()).toThrow(RangeError);
  });

  test("incremental builder, log-append time, delete horizon, explicit offset deltas", () => {
    const b = new RecordBatchBuilder({ logAppendTimeMs: 5000, deleteHorizonMs: 4000, lastOffsetDelta: 9 });
    b.append({ key: null, value: enc.encode("a"), timestamp: 4100, offsetDelta: 2 });
    b.append({ key: null, value: enc.encode("b"), timestamp: 3900, offsetDelta: 7 });
    const v = RecordBatchView.at(b.build());
    expect(v.timestampType).toBe("LogAppendTime");
    expect(v.hasDeleteHorizon).toBe(true);
    expect(v.deleteHorizonMs).toBe(4000);
    expect(v.maxTimestamp).toBe(5000);
    expect(v.lastOffsetDelta).toBe(9);
    expect(v.recordCount).toBe(2);
    const records = v.records({ maxBytes: 1024 });
    expect(records.map((r) => r.offsetDelta)).toEqual([2, 7]);
    expect(records.map((r) => r.timestampDelta)).toEqual([100, -100]);
    expect(records.map((r) => r.timestamp)).toEqual([5000, 5000]);
    expect(() => buildRecordBatch([
      { key: null, value: null, timestamp: 0, offsetDelta: 3 },
      { key: null, value: null, timestamp: 0, offsetDelta: 3 },
    ])).toThrow(RangeError);
  });

  test("transaction marker batch", () => {
    const bytes = buildEndTxnMarkerBatch({
      marker: { type: "COMMIT", coordinatorEpoch: 12 },
      producerId: 99,
      producerEpoch: 4,
      timestampMs: 1234,
      baseOffset: 77,
    });
    const v = RecordBatchView.at(bytes);
    expect(v.verifyCrc()).toBe(true);
    expect(v.isControl).toBe(true);
    expect(v.isTransactional).toBe(true);
    expect(v.producerId).toBe(99);
    expect(v.producerEpoch).toBe(4);
    expect(v.baseSequence).toBe(-1);
    const [r] = v.records({ maxBytes: 1024 });
    expect(parseEndTxnMarker(r!.key, r!.value)).toEqual({ type: "COMMIT", coordinatorEpoch: 12 });
  });
});

describe("patching in place", () => {
  test("baseOffset and partitionLeaderEpoch change without touching the CRC", () => {
    const bytes = buildRecordBatch([{ key: null, value: enc.encode("x"), timestamp: 1 }], { baseOffset: 0 });
    const v = RecordBatchView.at(bytes);
    const crc = v.crc;
    v.setBaseOffset(2 ** 40 + 3);
    v.setPartitionLeaderEpoch(123_456);
    expect(v.baseOffset).toBe(2 ** 40 + 3);
    expect(v.partitionLeaderEpoch).toBe(123_456);
    expect(v.crc).toBe(crc);
    expect(v.verifyCrc()).toBe(true);
    expect(crc32c(bytes.subarray(21)) >>> 0).toBe(crc);
    expect(() => v.setBaseOffset(-1)).toThrow(RangeError);
  });

  test("setLogAppendTime recomputes the CRC", () => {
    const bytes = buildRecordBatch([{ key: null, value: enc.encode("x"), timestamp: 1 }]);
    const v = RecordBatchView.at(bytes);
    v.setLogAppendTime(99_999);
    expect(v.timestampType).toBe("LogAppendTime");
    expect(v.maxTimestamp).toBe(99_999);
    expect(v.verifyCrc()).toBe(true);
    expect(v.crc).toBe(crc32c(bytes.subarray(21)) >>> 0);
  });

  test("walkBatches with assign patches every batch and keeps CRCs valid", () => {
    const a = buildRecordBatch([
      { key: null, value: enc.encode("a"), timestamp: 1 },
      { key: null, value: enc.encode("b"), timestamp: 2 },
    ]);
    const b = buildRecordBatch([{ key: null, value: enc.encode("c"), timestamp: 3 }], { compression: "lz4", codecs: bunCompression });
    const run = new Uint8Array([...a, ...b]);
    const walk = walkBatches(run, { ...scanAll, assign: { firstOffset: 500, leaderEpoch: 3 } });
    expect(walk.problem).toBeNull();
    expect(walk.batches.map((x) => x.baseOffset)).toEqual([500, 502]);
    expect(walk.batches.map((x) => x.partitionLeaderEpoch)).toEqual([3, 3]);
    for (const x of walk.batches) expect(x.verifyCrc()).toBe(true);
    expect(walkBatches(run, scanAll).problem).toBeNull();
  });
});

describe("refusals", () => {
  test("CRC mismatch is found", () => {
    const bytes = buildRecordBatch([{ key: null, value: enc.encode("hello"), timestamp: 1 }]);
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 1;
    expect(RecordBatchView.at(bytes).verifyCrc()).toBe(false);
    expect(walkBatches(bytes, scanAll).problem).toBe("badCrc");
    expect(kindOf(() => requireBatches(bytes, scanAll))).toBe("badCrc");
  });

  test("magic 0 and 1 message sets are recognised and refused", () => {
    for (const magic of [0, 1]) {
      // offset i64 | size i32 | crc i32 | magic i8 | attributes i8 | [timestamp i64] | key | value
      const legacy = new Uint8Array(34 + (magic === 1 ? 8 : 0));
      const dv = new DataView(legacy.buffer);
      dv.setInt32(8, legacy.length - 12);
      legacy[16] = magic;
      dv.setInt32(legacy.length - 8, -1); // null key
      dv.setInt32(legacy.length - 4, -1); // null value
      expect(kindOf(() => RecordBatchView.at(legacy))).toBe("legacyMagic");
      expect(walkBatches(legacy, scanAll).problem).toBe("legacyMagic");
      let thrown: unknown = null;
      try {
        requireBatches(legacy, scanAll);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(RecordsError);
      expect((thrown as RecordsError).kind).toBe("legacyMagic");
      expect((thrown as RecordsError).errorCode).toBe(87); // INVALID_RECORD, as Kafka 4 answers Produce v3+
    }
    const odd = handAssembled();
    odd[16] = 7;
    expect(kindOf(() => RecordBatchView.at(odd))).toBe("badMagic");
    expect(walkBatches(odd, scanAll).problem).toBe("badMagic");
  });

  test("truncated batches and lying lengths", () => {
    const bytes = handAssembled();
    expect(kindOf(() => RecordBatchView.at(bytes.subarray(0, 40)))).toBe("truncated");
    expect(kindOf(() => RecordBatchView.at(bytes.subarray(0, bytes.length - 1)))).toBe("truncated");
    const short = handAssembled();
    new DataView(short.buffer).setInt32(8, 10);
    expect(kindOf(() => RecordBatchView.at(short))).toBe("badLength");
    const two = new Uint8Array([...handAssembled(), ...handAssembled().subarray(0, 30)]);
    const walk = walkBatches(two, scanAll);
    expect(walk.batches.length).toBe(1);
    expect(walk.validBytes).toBe(handAssembled().length);
    expect(walk.problem).toBe("truncated");
    const views = batchViews(two, scanAll);
    expect(views.next().value).toBeInstanceOf(RecordBatchView);
    expect(views.next()).toEqual({ done: true, value: "truncated" });
  });

  test("record count that disagrees with the records", () => {
    const bytes = handAssembled();
    const dv = new DataView(bytes.buffer);
    dv.setInt32(57, 3);
    expect(kindOf(() => RecordBatchView.at(bytes).records({ maxBytes: 1024 }))).toBe("truncated");
    dv.setInt32(57, 1);
    expect(kindOf(() => RecordBatchView.at(bytes).records({ maxBytes: 1024 }))).toBe("badRecordCount");
    dv.setInt32(57, 1_000_000);
    expect(kindOf(() => RecordBatchView.at(bytes).records({ maxBytes: 1024 }))).toBe("badRecordCount");
    dv.setInt32(57, 2);
    dv.setInt32(23, 0); // lastOffsetDelta below the last record's offsetDelta
    expect(kindOf(() => RecordBatchView.at(bytes).records({ maxBytes: 1024 }))).toBe("badRecordCount");
  });

  test("unknown compression codec and unsafe int64 fields", () => {
    const bytes = handAssembled();
    bytes[22] = 0x05;
    expect(kindOf(() => RecordBatchView.at(bytes).compression)).toBe("unknownCodec");
    const big = handAssembled();
    big[0] = 0x7f;
    expect(kindOf(() => RecordBatchView.at(big).baseOffset)).toBe("int64OutOfRange");
  });
});
