import { expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { lastSequenceOf, ProducerStateManager } from "../../src/replication/producer-state.ts";

const MAX = 0x7fff_ffff;

test("lastSequenceOf wraps past Int32.MAX as Kafka's incrementSequence", () => {
  expect(lastSequenceOf(0, 4)).toBe(4);
  expect(lastSequenceOf(MAX - 2, 2)).toBe(MAX);
  expect(lastSequenceOf(MAX - 1, 2)).toBe(0);
  expect(lastSequenceOf(MAX, 3)).toBe(2);
});

test("sequences continue across the Int32.MAX wrap; duplicates match on first and last sequence", () => {
  const s = new ProducerStateManager();
  s.update(7, 0, { firstSeq: MAX - 1, lastSeq: MAX, firstOffset: 10, lastOffset: 11 });
  expect(s.check(7, 0, 0, 4)).toEqual({ kind: "append" });
  expect(s.check(7, 0, 1, 4).kind).toBe("error");
  expect(s.check(7, 0, MAX - 1, MAX)).toEqual({ kind: "duplicate", firstOffset: 10, lastOffset: 11 });
  // Same first sequence, different last: not a duplicate, and out of order.
  expect(s.check(7, 0, MAX - 1, 0)).toMatchObject({ kind: "error", errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
});

test("a new epoch resets the remembered batches; stale epochs in the log do not override", () => {
  const s = new ProducerStateManager();
  s.update(1, 3, { firstSeq: 0, lastSeq: 0, firstOffset: 0, lastOffset: 0 });
  s.update(1, 2, { firstSeq: 5, lastSeq: 5, firstOffset: 1, lastOffset: 1 });
  expect(s.epochOf(1)).toBe(3);
  expect(s.check(1, 3, 1, 1)).toEqual({ kind: "append" });
  s.update(1, 4, { firstSeq: 0, lastSeq: 0, firstOffset: 2, lastOffset: 2 });
  expect(s.check(1, 4, 0, 0)).toEqual({ kind: "duplicate", firstOffset: 2, lastOffset: 2 });
  expect(s.check(1, 3, 1, 1)).toMatchObject({ errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
  expect(() => s.check(-1, 0, 0, 0)).toThrow();
});

function idempotentBatches(specs: { producerId: number; epoch: number; seq: number; count: number; offset: number }[]): Uint8Array {
  const parts = specs.map((s) =>
    buildRecordBatch(
      Array.from({ length: s.count }, (_, i) => ({ key: null, value: new Uint8Array([i]), timestamp: 1_700_000_000_000 })),
      { baseOffset: s.offset, producerId: s.producerId, producerEpoch: s.epoch, baseSequence: s.seq, partitionLeaderEpoch: 1 },
    ),
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("a follower's replay of the leader's batches gives the state the leader's appends gave", () => {
  const leader = new ProducerStateManager();
  const follower = new ProducerStateManager();
  const specs = [
    { producerId: 11, epoch: 0, seq: 0, count: 3, offset: 0 },
    { producerId: 12, epoch: 2, seq: 40, count: 1, offset: 3 },
    { producerId: 11, epoch: 0, seq: 3, count: 2, offset: 4 },
    { producerId: -1, epoch: -1, seq: -1, count: 2, offset: 6 },
    { producerId: 12, epoch: 3, seq: 0, count: 4, offset: 8 },
  ];
  for (const s of specs) {
    if (s.producerId < 0) continue;
    const lastSeq = lastSequenceOf(s.seq, s.count - 1);
    expect(leader.check(s.producerId, s.epoch, s.seq, lastSeq).kind).toBe("append");
    leader.update(s.producerId, s.epoch, { firstSeq: s.seq, lastSeq, firstOffset: s.offset, lastOffset: s.offset + s.count - 1 });
  }
  expect(follower.replayBatches(idempotentBatches(specs))).toBe(specs.length);
  for (const id of [11, 12]) {
    expect(follower.epochOf(id)).toBe(leader.epochOf(id));
    expect(follower.batchesOf(id)).toEqual(leader.batchesOf(id));
  }
  expect(follower.producerCount).toBe(2);
  // A retry of producer 11's second batch is answered with its offsets.
  expect(follower.check(11, 0, 3, 4)).toEqual({ kind: "duplicate", firstOffset: 4, lastOffset: 5 });
  expect(follower.check(12, 3, 0, 3)).toEqual({ kind: "duplicate", firstOffset: 8, lastOffset: 11 });
  expect(follower.check(12, 2, 41, 41)).toMatchObject({ kind: "error", errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
});

test("truncation forgets the batches at and above the cut; a producer left with none is unknown", () => {
  const s = new ProducerStateManager();
  s.replayBatches(
    idempotentBatches([
      { producerId: 1, epoch: 0, seq: 0, count: 2, offset: 0 },
      { producerId: 2, epoch: 5, seq: 0, count: 1, offset: 2 },
      { producerId: 1, epoch: 0, seq: 2, count: 2, offset: 3 },
      { producerId: 2, epoch: 6, seq: 0, count: 1, offset: 5 },
    ]),
  );
  expect(s.truncateTo(4)).toBe(2);
  // Producer 1 keeps its first batch: a resend of the cut one is appended, not deduped.
  expect(s.batchesOf(1)).toEqual([{ firstSeq: 0, lastSeq: 1, firstOffset: 0, lastOffset: 1 }]);
  expect(s.check(1, 0, 2, 3)).toEqual({ kind: "append" });
  expect(s.check(1, 0, 0, 1)).toEqual({ kind: "duplicate", firstOffset: 0, lastOffset: 1 });
  // Producer 2's epoch-6 batch was cut: it falls back to unknown, not to epoch 6 without batches.
  expect(s.epochOf(2)).toBeNull();
  expect(s.check(2, 5, 1, 1)).toEqual({ kind: "append" });
  expect(s.truncateTo(0)).toBe(1);
  expect(s.producerCount).toBe(0);
  expect(() => s.truncateTo(-1)).toThrow();
});
