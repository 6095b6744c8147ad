/**
 * Offset syncs and the batch restamp, without brokers: the sync record round trip (and
 * refusal of foreign bytes), exact translation over copied data, clamping in source gaps and
 * past the copied end (never ahead), and a restamped batch whose records section is the
 * source's bytes under a valid CRC.
 */
import { expect, test } from "bun:test";
import { isCopyOf, nextSequence, stampBatch } from "../../src/mirror/partition-mirror.ts";
import { decodeSync, encodeSyncKey, encodeSyncValue, OffsetSyncStore } from "../../src/mirror/offset-syncs.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { RecordBatchView } from "../../src/protocol/records/record-batch.ts";

test("sync records round-trip; foreign bytes are not syncs", () => {
  const s = decodeSync(encodeSyncKey("orders", 7), encodeSyncValue(2 ** 40, 12));
  expect(s).toEqual({ topic: "orders", partition: 7, upstream: 2 ** 40, downstream: 12 });
  expect(decodeSync(encodeSyncKey("orders", 7), new Uint8Array(15))).toBeNull();
  expect(decodeSync(new Uint8Array([0, 9, 1]), encodeSyncValue(1, 1))).toBeNull();
  expect(decodeSync(null, encodeSyncValue(1, 1))).toBeNull();
  const neg = encodeSyncValue(0, 0);
  neg[0] = 0xff;
  expect(decodeSync(encodeSyncKey("x", 0), neg)).toBeNull();
});

test("translation: exact inside copied runs, clamped in gaps and at the copied end", () => {
  const store = new OffsetSyncStore();
  // Source 0..99 copied to 0..99; source 100..149 compacted away; 150.. copied at 100..
  store.add({ topic: "t", partition: 0, upstream: 0, downstream: 0 });
  store.add({ topic: "t", partition: 0, upstream: 40, downstream: 40 }); // a periodic sync inside the run
  store.add({ topic: "t", partition: 0, upstream: 150, downstream: 100 });
  const tr = (o: number, end = 200) => store.translate("t", 0, o, end);
  expect(tr(0)).toBe(0);
  expect(tr(57)).toBe(57);
  expect(tr(100)).toBe(100); // the gap's first offset: next record read is the one at 100
  expect(tr(120)).toBe(100); // inside the gap: clamped, never ahead
  expect(tr(150)).toBe(100);
  expect(tr(170)).toBe(120);
  expect(tr(400)).toBe(200); // past what was copied: the copied end
  expect(tr(170, 110)).toBe(110);
  expect(store.translate("t", 1, 5, 10)).toBeNull();
  const late = new OffsetSyncStore();
  late.add({ topic: "t", partition: 0, upstream: 500, downstream: 0 });
  expect(late.translate("t", 0, 499, 10)).toBeNull();
  // A re-walked sync replaces the entries it contradicts.
  store.add({ topic: "t", partition: 0, upstream: 150, downstream: 100 });
  expect(store.latest("t", 0)).toEqual({ topic: "t", partition: 0, upstream: 150, downstream: 100 });
  expect(store.latestAtOrBefore("t", 0, 99)).toEqual({ topic: "t", partition: 0, upstream: 40, downstream: 40 });
});

test("a restamped batch keeps the source's records bytes under a valid CRC", () => {
  const enc = new TextEncoder();
  const recs = Array.from({ length: 20 }, (_, i) => ({ key: enc.encode(`k${i}`), value: enc.encode(`v${i}`.repeat(30)), headers: [{ key: "h", value: enc.encode("x") }], timestamp: 1_000 + i }));
  for (const codec of ["none", "zstd", "gzip"] as const) {
    const bytes = buildRecordBatch(recs, { compression: codec, codecs: bunCompression, producerId: 77, producerEpoch: 3, baseSequence: 500, isTransactional: true });
    const original = RecordBatchView.at(bytes.slice());
    const copy = RecordBatchView.at(bytes.slice());
    stampBatch(copy, 123_456_789_012, 0, 2_147_483_640);
    expect(copy.verifyCrc()).toBe(true);
    expect([copy.producerId, copy.producerEpoch, copy.baseSequence, copy.isTransactional]).toEqual([123_456_789_012, 0, 2_147_483_640, false]);
    expect(Buffer.from(copy.recordsSection).equals(Buffer.from(original.recordsSection))).toBe(true);
    expect(isCopyOf(copy, original)).toBe(true);
    expect(copy.records({ maxBytes: 1 << 20, compression: bunCompression })).toEqual(original.records({ maxBytes: 1 << 20, compression: bunCompression }));
    const other = RecordBatchView.at(buildRecordBatch(recs.slice(1), { compression: codec, codecs: bunCompression }));
    expect(isCopyOf(other, original)).toBe(false);
  }
  expect(nextSequence(2_147_483_640, 19)).toBe(12);
  expect(nextSequence(0, 19)).toBe(20);
});
