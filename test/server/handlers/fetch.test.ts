import { afterEach, describe, expect, test } from "bun:test";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { RecordBatchView } from "../../../src/protocol/records/record-batch.ts";
import type { TestBroker } from "../harness.ts";
import { batch, broker, bumpLeaderEpoch, concatBytes, fetched, fetchRequest, produceOk, produceRequest, setLeader, settle } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

async function withTopic(partitions = 1, options: Parameters<typeof broker>[0] = {}): Promise<TestBroker> {
  b = await broker(options);
  await b.createTopic("t", partitions);
  return b;
}

/** The batches the log stores for `records` appended at `offset` in leader epoch `epoch`. */
function stored(records: Uint8Array, offset: number, epoch = 0): Uint8Array {
  const copy = records.slice();
  const v = RecordBatchView.at(copy);
  v.setBaseOffset(offset);
  v.setPartitionLeaderEpoch(epoch);
  return copy;
}

describe("Fetch", () => {
  test("serves v4..v16; each version returns the stored bytes with HW, LSO and log start", async () => {
    const br = await withTopic();
    const b1 = batch(3, "a");
    await produceOk(br, "t", b1.slice());
    const topicId = br.metadata.image.topic("t")!.topicId;
    for (let v = 4; v <= 16; v++) {
      const f = fetched(await br.send(ApiKeys.Fetch, v, fetchRequest([{ topic: "t", topicId, offset: 0 }])));
      expect([v, f.errorCode, f.highWatermark]).toEqual([v, ErrorCode.NONE, 3]);
      expect(f.lastStableOffset).toBe(3);
      expect(f.logStartOffset).toBe(v >= 5 ? 0 : -1);
      expect(f.records).toEqual(stored(b1, 0));
    }
    const r = await br.send(ApiKeys.Fetch, 13, fetchRequest([{ topic: "t", topicId, offset: 0 }]));
    expect(r!.responses[0]!.topicId).toBe(topicId);
  });

  test("v0-v3 are not advertised but answered UNSUPPORTED_VERSION per partition, keeping the connection", async () => {
    const br = await withTopic(2);
    await produceOk(br, "t", batch(2, "a"));
    const versions = await br.send(ApiKeys.ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1", _unknownTaggedFields: undefined });
    const fetch = versions!.apiKeys.find((k) => k.apiKey === ApiKeys.Fetch)!;
    expect([fetch.minVersion, fetch.maxVersion]).toEqual([4, 16]);
    for (const v of [0, 1, 2, 3]) {
      const r = await br.send(ApiKeys.Fetch, v, fetchRequest([{ topic: "t", offset: 0 }, { topic: "t", partition: 1, offset: 0 }, { topic: "nope", offset: 0 }], { isolationLevel: 0 }));
      expect(r!.responses.map((t) => [t.topic, t.partitions.map((p) => [p.partitionIndex, p.errorCode, p.highWatermark, p.records?.length ?? 0])])).toEqual([
        ["t", [[0, ErrorCode.UNSUPPORTED_VERSION, -1, 0], [1, ErrorCode.UNSUPPORTED_VERSION, -1, 0]]],
        ["nope", [[0, ErrorCode.UNSUPPORTED_VERSION, -1, 0]]],
      ]);
    }
    // The connection still serves v4+.
    expect(fetched(await br.send(ApiKeys.Fetch, 4, fetchRequest([{ topic: "t", offset: 0 }]))).highWatermark).toBe(2);
  });

  test("a fetch at an offset inside a batch returns the whole batch", async () => {
    const br = await withTopic();
    const b1 = batch(5, "a");
    const b2 = batch(2, "b");
    await produceOk(br, "t", b1.slice());
    await produceOk(br, "t", b2.slice());
    const f = fetched(await br.send(ApiKeys.Fetch, 11, fetchRequest([{ topic: "t", offset: 3 }])));
    expect(f.records).toEqual(concatBytes([stored(b1, 0), stored(b2, 5)]));
    const g = fetched(await br.send(ApiKeys.Fetch, 11, fetchRequest([{ topic: "t", offset: 6 }])));
    expect(g.records).toEqual(stored(b2, 5));
    // At the end: nothing, no error.
    const h = fetched(await br.send(ApiKeys.Fetch, 11, fetchRequest([{ topic: "t", offset: 7 }])));
    expect([h.errorCode, h.records!.length]).toEqual([ErrorCode.NONE, 0]);
  });

  test("OFFSET_OUT_OF_RANGE past the end and below the log start (after DeleteRecords)", async () => {
    const br = await withTopic();
    await produceOk(br, "t", batch(5));
    await produceOk(br, "t", batch(5));
    const past = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 11 }])));
    expect([past.errorCode, past.highWatermark, past.logStartOffset]).toEqual([ErrorCode.OFFSET_OUT_OF_RANGE, 10, 0]);
    const neg = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: -1 }])));
    expect(neg.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const del = await br.send(ApiKeys.DeleteRecords, 2, { topics: [{ name: "t", partitions: [{ partitionIndex: 0, offset: 7 }] }], timeoutMs: 1000 });
    expect(del!.topics[0]!.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, lowWatermark: 7 });
    const below = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 6 }])));
    expect([below.errorCode, below.logStartOffset]).toEqual([ErrorCode.OFFSET_OUT_OF_RANGE, 7]);
    // At the new log start: the batch holding offset 7 (base 5) comes back whole.
    const at = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 7 }])));
    expect(at.errorCode).toBe(ErrorCode.NONE);
    expect(RecordBatchView.at(at.records!).baseOffset).toBe(5);
  });

  test("maxBytes and partitionMaxBytes: the first partition with data gets one whole batch even when larger", async () => {
    const br = await withTopic(3);
    const big0 = batch(10, "partition-zero-value");
    const big1 = batch(10, "partition-one-value");
    const small2 = batch(1, "x");
    await produceOk(br, "t", big0.slice(), 0);
    await produceOk(br, "t", batch(1, "second").slice(), 0);
    await produceOk(br, "t", big1.slice(), 1);
    await produceOk(br, "t", small2.slice(), 2);
    // maxBytes smaller than the first batch: partition 0 gets exactly its first batch, the rest none.
    const r = await br.send(
      ApiKeys.Fetch,
      11,
      fetchRequest(
        [
          { topic: "t", partition: 0, offset: 0, partitionMaxBytes: 1 << 20 },
          { topic: "t", partition: 1, offset: 0, partitionMaxBytes: 1 << 20 },
          { topic: "t", partition: 2, offset: 0, partitionMaxBytes: 1 << 20 },
        ],
        { maxBytes: 10 },
      ),
    );
    expect(fetched(r, 0, 0).records).toEqual(stored(big0, 0));
    expect(fetched(r, 0, 1).records!.length).toBe(0);
    expect(fetched(r, 0, 2).records!.length).toBe(0);
    expect(fetched(r, 0, 1).highWatermark).toBe(10);
    // partitionMaxBytes smaller than a batch: the first partition with data still gets one, later ones not.
    const s = await br.send(
      ApiKeys.Fetch,
      11,
      fetchRequest([
        { topic: "t", partition: 0, offset: 11, partitionMaxBytes: 1 << 20 }, // at the end: no data
        { topic: "t", partition: 1, offset: 0, partitionMaxBytes: 5 },
        { topic: "t", partition: 2, offset: 0, partitionMaxBytes: 5 },
      ]),
    );
    expect(fetched(s, 0, 0).records!.length).toBe(0);
    expect(fetched(s, 0, 1).records).toEqual(stored(big1, 0));
    expect(fetched(s, 0, 2).records!.length).toBe(0);
    // Budget shared in order: exactly enough for partition 0's two batches leaves none for 1.
    const both = stored(big0, 0).length + stored(batch(1, "second"), 10).length;
    const u = await br.send(
      ApiKeys.Fetch,
      11,
      fetchRequest(
        [
          { topic: "t", partition: 0, offset: 0, partitionMaxBytes: 1 << 20 },
          { topic: "t", partition: 1, offset: 0, partitionMaxBytes: 1 << 20 },
        ],
        { maxBytes: both },
      ),
    );
    expect(fetched(u, 0, 0).records!.length).toBe(both);
    expect(fetched(u, 0, 1).records!.length).toBe(0);
  });

  test("minBytes/maxWaitMs: a waiting fetch is woken by a later produce", async () => {
    const br = await withTopic(2);
    let result: Awaited<ReturnType<typeof br.send<typeof ApiKeys.Fetch>>> | undefined;
    const pending = br
      .send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", partition: 0, offset: 0 }, { topic: "t", partition: 1, offset: 0 }], { maxWaitMs: 10_000, minBytes: 1 }))
      .then((r) => (result = r));
    await settle();
    expect(result).toBeUndefined();
    expect(br.replicas.fetchWaits.pending).toBe(1);
    const records = batch(2, "late");
    await produceOk(br, "t", records.slice(), 1);
    await pending;
    expect(fetched(result!, 0, 1).records).toEqual(stored(records, 0));
    expect(fetched(result!, 0, 0).records!.length).toBe(0);
    expect(br.replicas.fetchWaits.pending).toBe(0);
  });

  test("minBytes not reached: answers at maxWaitMs with what there is", async () => {
    const br = await withTopic();
    await produceOk(br, "t", batch(1, "x"));
    let result: Awaited<ReturnType<typeof br.send<typeof ApiKeys.Fetch>>> | undefined;
    const pending = br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }], { maxWaitMs: 500, minBytes: 1 << 20 })).then((r) => (result = r));
    await settle();
    expect(result).toBeUndefined();
    await produceOk(br, "t", batch(1, "y")); // still below minBytes: keeps waiting
    await settle();
    expect(result).toBeUndefined();
    br.clock.advance(499);
    await settle();
    expect(result).toBeUndefined();
    br.clock.advance(1);
    await pending;
    expect(fetched(result!).highWatermark).toBe(2);
    expect(fetched(result!).records!.length).toBeGreaterThan(0);
  });

  test("unknown topics by name (v12) and by id (v13+); unknown partitions", async () => {
    const br = await withTopic();
    const byName = await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "nope", offset: 0 }, { topic: "t", partition: 4, offset: 0 }]));
    expect(fetched(byName, 0, 0).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(fetched(byName, 1, 0).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const byId = await br.send(ApiKeys.Fetch, 16, fetchRequest([{ topic: "", topicId: "BBBBBBBBBBBBBBBBBBBBBA", offset: 0 }]));
    expect(fetched(byId).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_ID);
    expect(byId!.responses[0]!.topicId).toBe("BBBBBBBBBBBBBBBBBBBBBA");
  });

  test("leader epochs: FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER with currentLeader", async () => {
    const br = await withTopic();
    await produceOk(br, "t", batch(1));
    expect(fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0, currentLeaderEpoch: 0 }]))).errorCode).toBe(ErrorCode.NONE);
    expect(fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0, currentLeaderEpoch: 1 }]))).errorCode).toBe(
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    );
    await bumpLeaderEpoch(br, "t");
    expect(br.replicas.getPartition("t", 0)!.leaderEpoch).toBe(2);
    const fenced = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0, currentLeaderEpoch: 0 }])));
    expect(fenced.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(fenced.currentLeader).toMatchObject({ leaderId: 1, leaderEpoch: 2 });
    await setLeader(br, "t", 0, -1);
    const p = br.replicas.getPartition("t", 0)!;
    expect(p.state).toMatchObject({ kind: "follower", leaderId: -1, leaderEpoch: 3 });
    const notLeader = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }])));
    expect(notLeader.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(notLeader.currentLeader).toMatchObject({ leaderId: -1, leaderEpoch: 3 });
  });

  test("a waiting fetch completes with NOT_LEADER_OR_FOLLOWER when leadership moves", async () => {
    const br = await withTopic();
    let result: Awaited<ReturnType<typeof br.send<typeof ApiKeys.Fetch>>> | undefined;
    const pending = br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }], { maxWaitMs: 10_000, minBytes: 1 })).then((r) => (result = r));
    await settle();
    expect(result).toBeUndefined();
    await setLeader(br, "t", 0, -1);
    await pending;
    expect(fetched(result!).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  test("diverging epoch (v12+): the fetcher's last fetched epoch ended before its fetch offset", async () => {
    const br = await withTopic();
    await produceOk(br, "t", batch(3)); // offsets 0..2 in epoch 0
    await bumpLeaderEpoch(br, "t"); // epoch 2 starts at 3
    await produceOk(br, "t", batch(3)); // 3..5
    // A fetcher that believes epoch 1 went on to offset 5: epoch 0 (the largest <= 1) ended at 3.
    const d = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 5, lastFetchedEpoch: 1 }])));
    expect(d.errorCode).toBe(ErrorCode.NONE);
    expect(d.divergingEpoch).toMatchObject({ epoch: 0, endOffset: 3 });
    expect(d.records!.length).toBe(0);
    // Consistent history: no divergence, data returned.
    const ok = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 3, lastFetchedEpoch: 0 }])));
    expect(ok.divergingEpoch).toMatchObject({ epoch: -1, endOffset: -1 });
    expect(RecordBatchView.at(ok.records!).partitionLeaderEpoch).toBe(2);
  });

  test("sessions (KIP-227): a full fetch at epoch 0 opens one; incremental fetches name and get only what changed; bad ids and epochs are refused", async () => {
    const br = await withTopic(2);
    await produceOk(br, "t", batch(1));
    const v = 12;
    const full = await br.send(ApiKeys.Fetch, v, fetchRequest([{ topic: "t", offset: 0 }, { topic: "t", partition: 1, offset: 0 }], { sessionId: 0, sessionEpoch: 0 }));
    expect(full!.errorCode).toBe(ErrorCode.NONE);
    const id = full!.sessionId;
    expect(id).toBeGreaterThan(0);
    expect(full!.responses[0]!.partitions.map((p) => p.partitionIndex)).toEqual([0, 1]);
    expect(fetched(full).records!.length).toBeGreaterThan(0);
    // The client moves partition 0 past the record it got: its answer is unchanged, so absent.
    const moved = await br.send(ApiKeys.Fetch, v, fetchRequest([{ topic: "t", offset: 1 }], { sessionId: id, sessionEpoch: 1 }));
    expect([moved!.errorCode, moved!.sessionId, moved!.responses]).toEqual([ErrorCode.NONE, id, []]);
    // Nothing changed and nothing named: an empty answer (an idle follower's fetch).
    const idle = await br.send(ApiKeys.Fetch, v, fetchRequest([], { sessionId: id, sessionEpoch: 2 }));
    expect([idle!.errorCode, idle!.sessionId, idle!.responses]).toEqual([ErrorCode.NONE, id, []]);
    // A record for partition 1 changes its HW and brings records; partition 0 is named, unchanged.
    await produceOk(br, "t", batch(1), 1);
    const inc = await br.send(ApiKeys.Fetch, v, fetchRequest([{ topic: "t", offset: 1 }], { sessionId: id, sessionEpoch: 3 }));
    expect(inc!.responses.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.highWatermark, p.records!.length > 0]))).toEqual([[1, 1, true]]);
    // Partition 1 forgotten: its new data is no longer answered, partition 0's is.
    await produceOk(br, "t", batch(1), 1);
    await produceOk(br, "t", batch(1), 0);
    const forgotten = await br.send(
      ApiKeys.Fetch,
      v,
      fetchRequest([], { sessionId: id, sessionEpoch: 4, forgottenTopicsData: [{ topic: "t", topicId: "AAAAAAAAAAAAAAAAAAAAAA", partitions: [1], _unknownTaggedFields: undefined }] }),
    );
    expect(forgotten!.responses.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.highWatermark]))).toEqual([[0, 2]]);
    // A stale or future epoch, an unknown id.
    expect((await br.send(ApiKeys.Fetch, v, fetchRequest([], { sessionId: id, sessionEpoch: 4 })))!.errorCode).toBe(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    expect((await br.send(ApiKeys.Fetch, v, fetchRequest([], { sessionId: id, sessionEpoch: 10 })))!.errorCode).toBe(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    const unknown = await br.send(ApiKeys.Fetch, v, fetchRequest([{ topic: "t", offset: 0 }], { sessionId: id + 1, sessionEpoch: 5 }));
    expect([unknown!.errorCode, unknown!.responses]).toEqual([ErrorCode.FETCH_SESSION_ID_NOT_FOUND, []]);
    // The epoch was not consumed by the refusals; epoch -1 closes the session with a full sessionless fetch.
    expect((await br.send(ApiKeys.Fetch, v, fetchRequest([], { sessionId: id, sessionEpoch: 5 })))!.errorCode).toBe(ErrorCode.NONE);
    const close = await br.send(ApiKeys.Fetch, v, fetchRequest([{ topic: "t", offset: 0 }], { sessionId: id, sessionEpoch: -1 }));
    expect([close!.errorCode, close!.sessionId]).toEqual([ErrorCode.NONE, 0]);
    expect(fetched(close).records!.length).toBeGreaterThan(0);
    expect((await br.send(ApiKeys.Fetch, v, fetchRequest([], { sessionId: id, sessionEpoch: 6 })))!.errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    // Sessionless (epoch -1, id 0) and before v7: session id 0.
    const none = await br.send(ApiKeys.Fetch, 6, fetchRequest([{ topic: "t", offset: 0 }], { sessionId: 0, sessionEpoch: 1 }));
    expect([none!.errorCode, none!.sessionId]).toEqual([ErrorCode.NONE, 0]);
  });

  test("max.incremental.fetch.session.cache.slots=0: no session is created, full fetches go on", async () => {
    const br = await withTopic(1, { brokerConfigs: { "max.incremental.fetch.session.cache.slots": "0" } });
    await produceOk(br, "t", batch(1));
    const full = await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }], { sessionId: 0, sessionEpoch: 0 }));
    expect([full!.errorCode, full!.sessionId]).toEqual([ErrorCode.NONE, 0]);
    expect(fetched(full).records!.length).toBeGreaterThan(0);
  });

  test("READ_COMMITTED: empty abortedTransactions list, reads up to the LSO", async () => {
    const br = await withTopic();
    await produceOk(br, "t", batch(2));
    const f = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }], { isolationLevel: 1 })));
    expect(f.abortedTransactions).toEqual([]);
    expect(f.lastStableOffset).toBe(2);
    expect(f.records!.length).toBeGreaterThan(0);
  });

  test("a fetch naming a broker that is not a replica is NOT_LEADER_OR_FOLLOWER", async () => {
    const br = await withTopic();
    await produceOk(br, "t", batch(2));
    const f = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "t", offset: 0 }], { replicaId: 2 })));
    expect(f.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const topicId = br.metadata.image.topic("t")!.topicId;
    const g = fetched(
      await br.send(ApiKeys.Fetch, 15, fetchRequest([{ topic: "t", topicId, offset: 0 }], { replicaId: -1, replicaState: { replicaId: 2, replicaEpoch: 1 } })),
    );
    expect(g.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  test("a follower reads past the HW up to the log end, and its fetch offset moves the HW", async () => {
    const br = await withTopic();
    await br.metadata.submit(() => ({
      records: [{ type: "registerBroker", brokerId: 2, incarnationId: "BBBBBBBBBBBBBBBBBBBBBA" as never, brokerEpoch: 1, endpoints: [], rack: null, fenced: false }],
      response: undefined,
    }));
    const topicId = br.metadata.image.topic("t")!.topicId;
    await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition: 0, replicas: [1, 2], isr: [1, 2] }], response: undefined }));
    await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "t", records: batch(3) }], 1));
    const p = br.replicas.getPartition("t", 0)!;
    expect([p.log.logEndOffset, p.log.highWatermark]).toEqual([3, 0]);
    // A consumer sees nothing below the HW; the follower gets the batch.
    const c = fetched(await br.send(ApiKeys.Fetch, 15, fetchRequest([{ topic: "t", topicId, offset: 0 }])));
    expect(c.records?.length ?? 0).toBe(0);
    const f = fetched(
      await br.send(ApiKeys.Fetch, 15, fetchRequest([{ topic: "t", topicId, offset: 0 }], { replicaId: -1, replicaState: { replicaId: 2, replicaEpoch: 1 } })),
    );
    expect(f.errorCode).toBe(ErrorCode.NONE);
    expect(RecordBatchView.at(f.records!).lastOffset).toBe(2);
    expect(p.log.highWatermark).toBe(0);
    // Its next fetch, from offset 3, says it holds everything: the HW reaches the log end.
    const g = fetched(
      await br.send(ApiKeys.Fetch, 15, fetchRequest([{ topic: "t", topicId, offset: 3 }], { replicaId: -1, replicaState: { replicaId: 2, replicaEpoch: 1 } })),
    );
    expect([g.errorCode, g.highWatermark]).toEqual([ErrorCode.NONE, 3]);
    expect(p.follower(2)).toMatchObject({ logEndOffset: 3, brokerEpoch: 1 });
  });
});
