import { expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/errors.ts";
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
