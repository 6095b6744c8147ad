/** What restore does with each batch (transactions, compacted holes, --until) and the offset map. */
import { expect, test } from "bun:test";
import { OffsetMap, planBatch, TransactionScanner } from "../../src/backup/restore-plan.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { buildEndTxnMarkerBatch, buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { RecordBatchView } from "../../src/protocol/records/record-batch.ts";

const enc = new TextEncoder();
const recs = (n: number, ts0: number) => Array.from({ length: n }, (_, i) => ({ key: enc.encode(`k${i}`), value: enc.encode(`v${i}`), timestamp: ts0 + i }));
const view = (b: Uint8Array) => RecordBatchView.at(b);

test("aborted and unterminated transactions are skipped, committed ones go out as plain batches", () => {
  const txA = view(buildRecordBatch(recs(2, 0), { baseOffset: 0, producerId: 5, producerEpoch: 0, baseSequence: 0, isTransactional: true }));
  const txB = view(buildRecordBatch(recs(2, 0), { baseOffset: 2, producerId: 6, producerEpoch: 0, baseSequence: 0, isTransactional: true }));
  const abortA = view(buildEndTxnMarkerBatch({ marker: { type: "ABORT", coordinatorEpoch: 0 }, producerId: 5, producerEpoch: 0, timestampMs: 1, baseOffset: 4 }));
  const commitB = view(buildEndTxnMarkerBatch({ marker: { type: "COMMIT", coordinatorEpoch: 0 }, producerId: 6, producerEpoch: 0, timestampMs: 1, baseOffset: 5 }));
  const txC = view(buildRecordBatch(recs(1, 0), { baseOffset: 6, producerId: 7, producerEpoch: 0, baseSequence: 0, isTransactional: true }));
  const s = new TransactionScanner();
  for (const b of [txA, txB, abortA, commitB, txC]) s.add(b);
  const scan = s.finish();
  expect([...scan.skipped].sort()).toEqual([0, 6]);
  expect([...scan.unterminated]).toEqual([7]);
  const ctx = { transactions: scan, untilMs: null, keepProducerIds: false, compression: bunCompression };
  expect(planBatch(txA, ctx).kind).toBe("skip");
  expect(planBatch(abortA, ctx)).toEqual({ kind: "skip", reason: "control" });
  const b = planBatch(txB, ctx);
  if (b.kind !== "produce") throw new Error(b.kind);
  const out = view(b.bytes);
  expect(out.isTransactional).toBe(false);
  expect(out.producerId).toBe(-1);
  expect(out.verifyCrc()).toBe(true);
  expect(Buffer.from(out.recordsSection).equals(Buffer.from(txB.recordsSection))).toBe(true);
});

test("a compacted batch is rebuilt densely; --until cuts inside a batch", () => {
  const holes = view(buildRecordBatch([{ key: enc.encode("a"), value: null, timestamp: 10, offsetDelta: 0 }, { key: enc.encode("b"), value: enc.encode("x"), timestamp: 20, offsetDelta: 3 }], { baseOffset: 100, lastOffsetDelta: 4, compression: "zstd", codecs: bunCompression }));
  const scan = new TransactionScanner().finish();
  const p = planBatch(holes, { transactions: scan, untilMs: null, keepProducerIds: false, compression: bunCompression });
  if (p.kind !== "produce") throw new Error(p.kind);
  expect(p.rebuilt).toBe(true);
  expect(p.srcOffsets).toEqual([100, 103]);
  expect(view(p.bytes).recordCount).toBe(2);
  expect(view(p.bytes).lastOffsetDelta).toBe(1);
  const plain = view(buildRecordBatch(recs(5, 1000), { baseOffset: 0 }));
  const cut = planBatch(plain, { transactions: scan, untilMs: 1002, keepProducerIds: false, compression: bunCompression });
  if (cut.kind !== "produce") throw new Error(cut.kind);
  expect(cut.count).toBe(3);
  expect(cut.last).toBe(true);
  expect(planBatch(plain, { transactions: scan, untilMs: 999, keepProducerIds: false, compression: bunCompression }).kind).toBe("stop");
});

test("offset map: identity, shifts, holes and the end", () => {
  const m = new OffsetMap(0);
  m.add(10, 5, null, 0); // source 10..14 → 0..4
  m.add(20, 2, [20, 25], 5); // source 20, 25 → 5, 6
  expect(m.shifted).toBe(true);
  expect(m.translate(0)).toBe(0);
  expect(m.translate(12)).toBe(2);
  expect(m.translate(15)).toBe(5);
  expect(m.translate(21)).toBe(6);
  expect(m.translate(25)).toBe(6);
  expect(m.translate(26)).toBe(7);
  const id = new OffsetMap(0);
  id.add(0, 3, null, 0);
  expect(id.shifted).toBe(false);
  expect(id.translate(2)).toBe(2);
  expect(id.translate(3)).toBe(3);
});
