/**
 * Requests captured from real clients (test/golden: kcat/librdkafka, confluent-kafka-python,
 * kafka-python, kafkajs, @platformatic/kafka) run through the data-path handlers: every
 * captured Produce is accepted and its batch reads back intact (CRC, records decoded with
 * the real codecs), a retried idempotent Produce is deduplicated, and captured Fetch,
 * ListOffsets and InitProducerId requests get well-formed answers.
 */
import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { decodeRequestFrame, decodeResponse } from "../../../src/protocol/frame.ts";
import { ApiKeys, type ApiKey, type ResponseBodies } from "../../../src/protocol/messages/index.ts";
import { walkBatches } from "../../../src/protocol/records/record-batch.ts";
import type { TestBroker } from "../harness.ts";
import { testConnection } from "../harness.ts";
import { broker, concatBytes, fetched, fetchRequest, settle } from "./helpers.ts";

const goldenDir = join(import.meta.dir, "../../golden");

function goldenFiles(pattern: RegExp): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (pattern.test(name)) out.push(p);
    }
  };
  walk(goldenDir);
  return out.sort();
}

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

/** Dispatches a captured frame (a fresh copy: handlers patch records in place). */
async function replay<K extends ApiKey>(br: TestBroker, path: string, apiKey: K): Promise<ResponseBodies[K] | null> {
  const frame = new Uint8Array(readFileSync(path));
  const decoded = decodeRequestFrame(frame.slice());
  expect(decoded.apiKey).toBe(apiKey);
  const pending = br.dispatch(frame.subarray(4), testConnection);
  // A fetch may wait in the purgatory (maxWaitMs): let the simulated time pass.
  if (decoded.apiKey === ApiKeys.Fetch) {
    await settle();
    br.clock.advance(Math.max(0, decoded.body.maxWaitMs));
  }
  const out = await pending;
  if (out === null) return null;
  return decodeResponse(apiKey, decoded.apiVersion, concatBytes(out)).body;
}

const produceFrames = goldenFiles(/^produce-v\d+-\d+\.bin$/);

test("there are captured Produce frames to replay", () => {
  expect(produceFrames.length).toBeGreaterThanOrEqual(8);
});

for (const path of produceFrames) {
  const name = path.slice(goldenDir.length + 1);
  test(`captured ${name}: accepted, read back intact, a retry of an idempotent batch is deduplicated`, async () => {
    b = await broker();
    const request = decodeRequestFrame(new Uint8Array(readFileSync(path)));
    if (request.apiKey !== ApiKeys.Produce) throw new Error("not a produce frame");
    for (const t of request.body.topicData) await b.createTopic(t.name, Math.max(...t.partitionData.map((p) => p.index)) + 1);
    const response = await replay(b, path, ApiKeys.Produce);
    if (request.body.acks === 0) {
      expect(response).toBeNull();
    } else {
      for (const t of response!.responses) for (const p of t.partitionResponses) expect([t.name, p.index, p.errorCode, p.errorMessage]).toEqual([t.name, p.index, 0, null]);
    }
    for (const t of request.body.topicData) {
      for (const pd of t.partitionData) {
        const sent = walkBatches(pd.records!, { verifyCrc: true, requireDenseOffsets: true, maxBatchBytes: 1 << 24 });
        expect(sent.problem).toBeNull();
        const f = fetched(await b.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: t.name, partition: pd.index, offset: 0 }])));
        expect(f.errorCode).toBe(ErrorCode.NONE);
        const stored = walkBatches(f.records!, { verifyCrc: true, requireDenseOffsets: true, maxBatchBytes: 1 << 24 });
        expect(stored.problem).toBeNull();
        expect(stored.batches.length).toBe(1);
        const got = stored.batches[0]!;
        const want = sent.batches[0]!;
        // Same batch bytes after the two patched header fields (baseOffset, partitionLeaderEpoch).
        expect(got.bytes.subarray(16)).toEqual(want.bytes.subarray(16));
        expect([got.baseOffset, got.partitionLeaderEpoch]).toEqual([0, 0]);
        const records = got.records({ maxBytes: 1 << 24, compression: bunCompression });
        expect(records.length).toBe(want.recordCount);
        if (want.producerId >= 0) {
          const again = await replay(b, path, ApiKeys.Produce);
          const p = again!.responses.find((x) => x.name === t.name)!.partitionResponses.find((x) => x.index === pd.index)!;
          expect([p.errorCode, p.baseOffset]).toEqual([ErrorCode.NONE, 0]);
          expect(b.replicas.getPartition(t.name, pd.index)!.log.logEndOffset).toBe(want.recordCount);
        }
      }
    }
  });
}

test("captured InitProducerId requests get a producer id", async () => {
  b = await broker();
  const frames = goldenFiles(/^init-producer-id-v\d+-\d+\.bin$/);
  expect(frames.length).toBeGreaterThan(0);
  let last = -1;
  for (const path of frames) {
    const r = await replay(b, path, ApiKeys.InitProducerId);
    expect(r!.errorCode).toBe(ErrorCode.NONE);
    expect(r!.producerId).toBeGreaterThan(last);
    last = r!.producerId;
  }
});

test("captured Fetch and ListOffsets requests are answered (known topics by name, unknown ids, incremental sessions)", async () => {
  b = await broker();
  const fetches = goldenFiles(/^fetch-v\d+-\d+\.bin$/);
  const lists = goldenFiles(/^list-offsets-v\d+-\d+\.bin$/);
  expect(fetches.length).toBeGreaterThan(0);
  expect(lists.length).toBeGreaterThan(0);
  const names = new Set<string>();
  for (const path of [...fetches, ...lists]) {
    const req = decodeRequestFrame(new Uint8Array(readFileSync(path)));
    if (req.apiKey === ApiKeys.Fetch) for (const t of req.body.topics) if (t.topic !== "") names.add(t.topic);
    if (req.apiKey === ApiKeys.ListOffsets) for (const t of req.body.topics) names.add(t.name);
  }
  for (const name of names) await b.createTopic(name, 1);
  for (const path of fetches) {
    const req = decodeRequestFrame(new Uint8Array(readFileSync(path)));
    if (req.apiKey !== ApiKeys.Fetch) throw new Error("not a fetch");
    const r = (await replay(b, path, ApiKeys.Fetch))!;
    if (req.body.sessionEpoch > 0) {
      // The capture broker's session, unknown here.
      expect(r.errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
      continue;
    }
    expect([path, r.errorCode]).toEqual([path, ErrorCode.NONE]);
    // Epoch 0 (from v7) asks for a session and gets one; -1 (or an older version) is sessionless.
    if (req.body.sessionEpoch === 0 && req.apiVersion >= 7) expect(r.sessionId).toBeGreaterThan(0);
    else expect([path, r.sessionId]).toEqual([path, 0]);
    for (const t of r.responses) {
      for (const p of t.partitions) {
        expect<number[]>([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_ID, ErrorCode.OFFSET_OUT_OF_RANGE]).toContain(p.errorCode);
      }
    }
  }
  for (const path of lists) {
    const req = decodeRequestFrame(new Uint8Array(readFileSync(path)));
    if (req.apiKey !== ApiKeys.ListOffsets) throw new Error("not a list offsets");
    const r = (await replay(b, path, ApiKeys.ListOffsets))!;
    r.topics.forEach((t, ti) =>
      t.partitions.forEach((p, pi) => {
        // Empty logs: earliest/latest/local are 0; a timestamp (or max timestamp) finds nothing.
        const ts = req.body.topics[ti]!.partitions[pi]!.timestamp;
        expect([path, ts, p.errorCode, p.offset]).toEqual([path, ts, ErrorCode.NONE, ts === -1 || ts === -2 || ts === -4 ? 0 : -1]);
      }),
    );
  }
});
