/** Shared helpers for the data-path handler tests: the handler set, batches, request bodies. */
import { buildRecordBatch, type BatchOptions } from "../../../src/protocol/records/builder.ts";
import { RecordBatchView } from "../../../src/protocol/records/record-batch.ts";
import { defaultFetchPartition, defaultFetchRequest, type FetchRequest } from "../../../src/protocol/messages/fetch-request.ts";
import { defaultProduceRequest, type ProduceRequest } from "../../../src/protocol/messages/produce-request.ts";
import type { ProduceResponse } from "../../../src/protocol/messages/produce-response.ts";
import type { FetchResponse, PartitionData } from "../../../src/protocol/messages/fetch-response.ts";
import { apiVersionsHandler } from "../../../src/server/handlers/api-versions.ts";
import { deleteRecordsHandler } from "../../../src/server/handlers/delete-records.ts";
import { fetchHandler } from "../../../src/server/handlers/fetch.ts";
import type { ApiHandler } from "../../../src/server/handlers/handler.ts";
import { initProducerIdHandler } from "../../../src/server/handlers/init-producer-id.ts";
import { listOffsetsHandler } from "../../../src/server/handlers/list-offsets.ts";
import { offsetForLeaderEpochHandler } from "../../../src/server/handlers/offset-for-leader-epoch.ts";
import { produceHandler } from "../../../src/server/handlers/produce.ts";
import { startTestBroker, type HarnessOptions, type TestBroker } from "../harness.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";

const served: ApiHandler[] = [];
export const dataPathHandlers: readonly ApiHandler[] = served;
served.push(
  apiVersionsHandler(() => dataPathHandlers) as ApiHandler,
  produceHandler as ApiHandler,
  fetchHandler as ApiHandler,
  listOffsetsHandler as ApiHandler,
  offsetForLeaderEpochHandler as ApiHandler,
  deleteRecordsHandler as ApiHandler,
  initProducerIdHandler as ApiHandler,
);

export function broker(options: Partial<HarnessOptions> = {}): Promise<TestBroker> {
  return startTestBroker({ handlers: dataPathHandlers, ...options });
}

const encoder = new TextEncoder();
export const T0 = 1_700_000_000_000;

/** A batch of `n` records "<prefix>-<i>" with timestamps T0 + i (or `timestamps`). */
export function batch(n: number, prefix = "v", options: BatchOptions & { timestamps?: number[] } = {}): Uint8Array {
  const records = Array.from({ length: n }, (_, i) => ({
    key: null,
    value: encoder.encode(`${prefix}-${i}`),
    timestamp: options.timestamps?.[i] ?? T0 + i,
  }));
  const { timestamps: _, ...rest } = options;
  const out = buildRecordBatch(records, rest);
  // Non-idempotent unless asked: producerId must read back as Kafka's -1 (a sign bug in
  // the builder once wrote 4294967295, which the produce path refuses for lacking a sequence).
  if (rest.producerId === undefined && RecordBatchView.at(out).producerId !== -1) throw new Error("builder wrote a producer id");
  return out;
}

export function produceRequest(
  parts: readonly { topic: string; partition?: number; records: Uint8Array | null }[],
  acks = 1,
  timeoutMs = 30_000,
): ProduceRequest {
  const byTopic = new Map<string, { index: number; records: Uint8Array | null }[]>();
  for (const p of parts) {
    const list = byTopic.get(p.topic) ?? [];
    list.push({ index: p.partition ?? 0, records: p.records });
    byTopic.set(p.topic, list);
  }
  return {
    ...defaultProduceRequest(),
    acks,
    timeoutMs,
    topicData: [...byTopic].map(([name, partitionData]) => ({ name, partitionData })),
  };
}

export interface FetchPart {
  topic: string;
  topicId?: string;
  partition?: number;
  offset: number;
  partitionMaxBytes?: number;
  currentLeaderEpoch?: number;
  lastFetchedEpoch?: number;
}

export function fetchRequest(parts: readonly FetchPart[], over: Partial<FetchRequest> = {}): FetchRequest {
  const topics = new Map<string, FetchPart[]>();
  for (const p of parts) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p]);
  return {
    ...defaultFetchRequest(),
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 50 * 1024 * 1024,
    ...over,
    topics: [...topics].map(([topic, ps]) => ({
      topic,
      topicId: ps[0]!.topicId ?? "AAAAAAAAAAAAAAAAAAAAAA",
      partitions: ps.map((p) => ({
        ...defaultFetchPartition(),
        partition: p.partition ?? 0,
        fetchOffset: p.offset,
        partitionMaxBytes: p.partitionMaxBytes ?? 1024 * 1024,
        currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
        lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
      })),
    })),
  };
}

export function produced(r: ProduceResponse | null, topic: string, partition = 0): { errorCode: number; baseOffset: number; logAppendTimeMs: number; logStartOffset: number; errorMessage: string | null } {
  if (r === null) throw new Error("no produce response");
  const p = r.responses.find((t) => t.name === topic)?.partitionResponses.find((x) => x.index === partition);
  if (p === undefined) throw new Error(`no response for ${topic}-${partition}`);
  return p;
}

export function fetched(r: FetchResponse | null, topicIndex = 0, partitionIndex = 0): PartitionData {
  if (r === null) throw new Error("no fetch response");
  const p = r.responses[topicIndex]?.partitions[partitionIndex];
  if (p === undefined) throw new Error(`no fetch partition ${topicIndex}/${partitionIndex}`);
  return p;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Lets promise callbacks (a purgatory completion, the handler's continuation) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Moves a partition's leadership (each change bumps the leader epoch). */
export async function setLeader(br: TestBroker, topic: string, partition: number, leader: number): Promise<void> {
  const topicId = br.metadata.image.topic(topic)!.topicId;
  await br.metadata.submit(() => ({ records: [{ type: "partitionChange", topicId, partition, leader }], response: undefined }));
}

/** Bumps the leader epoch by two while keeping this node the leader. */
export async function bumpLeaderEpoch(br: TestBroker, topic: string, partition = 0): Promise<void> {
  await setLeader(br, topic, partition, -1);
  await setLeader(br, topic, partition, br.nodeId);
}

export async function produceOk(br: TestBroker, topic: string, records: Uint8Array, partition = 0): Promise<number> {
  const r = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic, partition, records }])), topic, partition);
  if (r.errorCode !== 0) throw new Error(`produce to ${topic}-${partition} failed: ${r.errorCode} ${r.errorMessage}`);
  return r.baseOffset;
}
