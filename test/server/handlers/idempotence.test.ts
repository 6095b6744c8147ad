import { afterEach, describe, expect, test } from "bun:test";
import { PRODUCER_ID_BLOCK_SIZE } from "../../../src/metadata/controller.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import type { TestBroker } from "../harness.ts";
import { batch, broker, produced, produceRequest } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

async function withTopic(): Promise<TestBroker> {
  b = await broker();
  await b.createTopic("t", 1);
  return b;
}

async function initProducerId(br: TestBroker, version = 4, transactionalId: string | null = null) {
  const r = await br.send(ApiKeys.InitProducerId, version, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  return r!;
}

async function produceSeq(br: TestBroker, producerId: number, producerEpoch: number, baseSequence: number, n: number) {
  return produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(n, `s${baseSequence}`, { producerId, producerEpoch, baseSequence }) }], -1)), "t");
}

describe("InitProducerId", () => {
  test("idempotent producers get increasing ids with epoch 0 (v0..v5), across block boundaries", async () => {
    const br = await withTopic();
    const ids: number[] = [];
    for (let v = 0; v <= 5; v++) {
      const r = await initProducerId(br, v);
      expect([r.errorCode, r.producerEpoch]).toEqual([ErrorCode.NONE, 0]);
      ids.push(r.producerId);
    }
    expect(ids).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 6; i < PRODUCER_ID_BLOCK_SIZE + 2; i++) await initProducerId(br);
    const next = await initProducerId(br);
    expect(next.producerId).toBe(PRODUCER_ID_BLOCK_SIZE + 2);
    expect(br.metadata.image.nextProducerId).toBe(2 * PRODUCER_ID_BLOCK_SIZE);
  });

  test("transactional ids are refused until transactions exist; an empty one is INVALID_REQUEST", async () => {
    const br = await withTopic();
    expect((await initProducerId(br, 4, "txn-1")).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect((await initProducerId(br, 4, "")).errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });

  test("a failed block allocation is COORDINATOR_LOAD_IN_PROGRESS, and the next request succeeds", async () => {
    const br = await withTopic();
    br.store.failNext = true;
    const r = await initProducerId(br);
    expect([r.errorCode, r.producerId]).toEqual([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, -1]);
    expect((await initProducerId(br)).producerId).toBe(0);
  });
});

describe("idempotent produce", () => {
  test("a retried batch is answered with its original offset and not appended again", async () => {
    const br = await withTopic();
    const { producerId } = await initProducerId(br);
    expect((await produceSeq(br, producerId, 0, 0, 3)).baseOffset).toBe(0);
    expect((await produceSeq(br, producerId, 0, 3, 2)).baseOffset).toBe(3);
    const retry = await produceSeq(br, producerId, 0, 0, 3);
    expect([retry.errorCode, retry.baseOffset]).toEqual([ErrorCode.NONE, 0]);
    const retry2 = await produceSeq(br, producerId, 0, 3, 2);
    expect([retry2.errorCode, retry2.baseOffset]).toEqual([ErrorCode.NONE, 3]);
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(5);
    expect((await produceSeq(br, producerId, 0, 5, 1)).baseOffset).toBe(5);
  });

  test("gaps are OUT_OF_ORDER_SEQUENCE_NUMBER; old epochs INVALID_PRODUCER_EPOCH; a new epoch starts at 0", async () => {
    const br = await withTopic();
    const { producerId } = await initProducerId(br);
    await produceSeq(br, producerId, 0, 0, 2);
    expect((await produceSeq(br, producerId, 0, 5, 1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await produceSeq(br, producerId, 1, 3, 1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await produceSeq(br, producerId, 1, 0, 1)).errorCode).toBe(ErrorCode.NONE);
    expect((await produceSeq(br, producerId, 0, 2, 1)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(3);
    // An unknown producer may start anywhere (its state may have been lost to retention).
    expect((await produceSeq(br, 999_999, 0, 42, 1)).errorCode).toBe(ErrorCode.NONE);
  });

  test("only the last five batches are remembered: an older retry is OUT_OF_ORDER_SEQUENCE_NUMBER", async () => {
    const br = await withTopic();
    const { producerId } = await initProducerId(br);
    for (let s = 0; s < 6; s++) await produceSeq(br, producerId, 0, s, 1);
    expect((await produceSeq(br, producerId, 0, 1, 1)).baseOffset).toBe(1);
    expect((await produceSeq(br, producerId, 0, 0, 1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  test("producer state is rebuilt from the log at restart: a retry after a restart is still deduplicated", async () => {
    let br = await withTopic();
    const { producerId } = await initProducerId(br);
    await produceSeq(br, producerId, 0, 0, 3);
    await produceSeq(br, producerId, 0, 3, 3);
    br = br.restart();
    b = br;
    const retry = await produceSeq(br, producerId, 0, 3, 3);
    expect([retry.errorCode, retry.baseOffset]).toEqual([ErrorCode.NONE, 3]);
    expect(br.replicas.getPartition("t", 0)!.log.logEndOffset).toBe(6);
    expect((await produceSeq(br, producerId, 0, 9, 1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await produceSeq(br, producerId, 0, 6, 1)).baseOffset).toBe(6);
    // A new producer id after restart does not reuse an old one.
    expect((await initProducerId(br)).producerId).toBe(PRODUCER_ID_BLOCK_SIZE);
  });
});
