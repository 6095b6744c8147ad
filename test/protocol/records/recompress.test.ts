/**
 * recompressBatch: a batch rewritten under another codec keeps every header field but the
 * codec bits, batchLength and CRC, and its records read back identical, for every codec pair.
 */
import { describe, expect, test } from "bun:test";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { buildRecordBatch, recompressBatch } from "../../../src/protocol/records/builder.ts";
import { type CompressionCodecName, CompressionCodec } from "../../../src/protocol/records/compression.ts";
import { RecordBatchView } from "../../../src/protocol/records/record-batch.ts";

const enc = new TextEncoder();
const codecs: readonly CompressionCodecName[] = ["none", "gzip", "snappy", "lz4", "zstd"];
const inflate = { maxBytes: 1 << 24, compression: bunCompression };

function source(codec: CompressionCodecName): Uint8Array {
  const records = Array.from({ length: 25 }, (_, i) => ({
    key: i % 5 === 0 ? null : enc.encode(`key-${i % 7}`),
    value: i === 3 ? null : enc.encode(`value ${i} `.repeat(1 + (i % 4))),
    headers: i % 2 === 0 ? [{ key: "h", value: enc.encode(`${i}`) }, { key: "n", value: null }] : [],
    timestamp: 1_700_000_000_000 + i * 3 - (i === 7 ? 50 : 0),
  }));
  return buildRecordBatch(records, {
    compression: codec,
    codecs: bunCompression,
    baseOffset: 0,
    producerId: 4711,
    producerEpoch: 3,
    baseSequence: 120,
    isTransactional: true,
  });
}

/** Header fields other than batchLength, crc and the codec bits. */
function headerOf(v: RecordBatchView) {
  return {
    baseOffset: v.baseOffset,
    partitionLeaderEpoch: v.partitionLeaderEpoch,
    magic: v.magic,
    attributesBesidesCodec: v.attributes & ~0x07,
    lastOffsetDelta: v.lastOffsetDelta,
    baseTimestamp: v.baseTimestamp,
    maxTimestamp: v.maxTimestamp,
    producerId: v.producerId,
    producerEpoch: v.producerEpoch,
    baseSequence: v.baseSequence,
    recordCount: v.recordCount,
  };
}

describe("recompressBatch", () => {
  for (const from of codecs) {
    for (const to of codecs) {
      if (from === to) continue;
      test(`${from} → ${to}: same header fields and records, valid CRC, new codec`, () => {
        const before = RecordBatchView.at(source(from));
        const { section, records } = before.inflate(inflate);
        const after = RecordBatchView.at(recompressBatch(before, section, to, bunCompression));
        expect(after.compression).toBe(to);
        expect(after.compressionId).toBe(CompressionCodec[to]);
        expect(after.verifyCrc()).toBe(true);
        expect(after.batchLength).toBe(after.sizeInBytes - 12);
        expect(headerOf(after)).toEqual(headerOf(before));
        expect(after.isTransactional).toBe(true);
        expect(after.records(inflate)).toEqual(records);
        if (to === "none") expect(after.recordsSection).toEqual(section);
      });
    }
  }

  test("levels reach the codec; the source batch is not modified", () => {
    const bytes = source("none");
    const copy = bytes.slice();
    const view = RecordBatchView.at(bytes);
    const { section } = view.inflate(inflate);
    const fast = recompressBatch(view, section, "gzip", bunCompression, { level: 1 });
    const best = recompressBatch(view, section, "gzip", bunCompression, { level: 9 });
    expect(RecordBatchView.at(fast).records(inflate)).toEqual(RecordBatchView.at(best).records(inflate));
    expect(fast.length).toBeGreaterThanOrEqual(best.length);
    expect(bytes).toEqual(copy);
  });

  test("refuses a batch already in the codec, and control batches (callers keep those as they are)", () => {
    const view = RecordBatchView.at(source("lz4"));
    const { section } = view.inflate(inflate);
    expect(() => recompressBatch(view, section, "lz4", bunCompression)).toThrow("already lz4");
    const control = RecordBatchView.at(buildRecordBatch([{ key: null, value: null, timestamp: 1 }], { isControl: true }));
    expect(() => recompressBatch(control, control.inflate(inflate).section, "gzip", bunCompression)).toThrow("control");
  });
});
