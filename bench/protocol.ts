/**
 * Wire-codec benchmark (mitata): the two hot paths of the broker's protocol layer.
 *
 * 1. Decode a Produce request (v9 and the latest version) carrying 1 MiB of records: the
 *    records field must be a view of the frame (no copy). Reported: median ns per request,
 *    GB/s of request bytes (bar: >= 1 GB/s), and heap bytes retained per decoded request
 *    (2,000 decoded requests kept alive, heap delta after a full GC / 2,000; a copy of the
 *    records would show up as ~1 MiB each).
 * 2. Encode a Fetch response v16 carrying 1 MiB of stored batches in 8 partitions: the chunk
 *    list must reference the batch arrays themselves. Reported: median ns, GB/s of response
 *    bytes, chunk count and the bytes the Writer copied (headers and fields only).
 * Plus two small messages for per-request overhead.
 *
 * Run: `bun run bench:protocol` (= `bun bench/protocol.ts`). Prints mitata's table and writes
 * bench/results/protocol.json (flat numbers, medians).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { bench, do_not_optimize, group, run } from "mitata";
import { flattenChunks } from "../src/protocol/codec/writer.ts";
import { decodeRequest, encodeRequest, encodeResponse } from "../src/protocol/frame.ts";
import { defaultFetchRequest, defaultFetchPartition, defaultFetchTopic } from "../src/protocol/messages/fetch-request.ts";
import { defaultFetchResponse, defaultFetchableTopicResponse, defaultPartitionData } from "../src/protocol/messages/fetch-response.ts";
import { ApiKeys, apiSpec } from "../src/protocol/messages/index.ts";
import { defaultProduceRequest } from "../src/protocol/messages/produce-request.ts";
import { defaultProduceResponse } from "../src/protocol/messages/produce-response.ts";

const MiB = 1024 * 1024;
const records = new Uint8Array(MiB);
for (let i = 0; i < records.length; i++) records[i] = (i * 2654435761) >>> 24;

const produceLatest = apiSpec(ApiKeys.Produce)?.maxVersion ?? 11;
function produceFrame(version: number): Uint8Array {
  const body = {
    ...defaultProduceRequest(),
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: "bench-topic", partitionData: [{ index: 0, records, _unknownTaggedFields: undefined }], _unknownTaggedFields: undefined }],
  };
  // Flatten once: the broker receives one contiguous frame from the socket.
  return flattenChunks(encodeRequest(ApiKeys.Produce, version, 1, "bench-client", body)).subarray(4);
}
const produceV9 = produceFrame(9);
const produceVLatest = produceFrame(produceLatest);

function recordsOf(payload: Uint8Array): Uint8Array | null {
  const req = decodeRequest(payload);
  if (req.apiKey !== ApiKeys.Produce) throw new Error("bench: not a Produce request");
  return req.body.topicData[0]?.partitionData[0]?.records ?? null;
}
for (const p of [produceV9, produceVLatest]) {
  const view = recordsOf(p);
  if (view === null || view.buffer !== p.buffer || view.length !== MiB) throw new Error("bench: records are not a view of the frame");
}

// Fetch response v16: 8 partitions × 128 KiB of stored batches (as read from segment files).
const batches = Array.from({ length: 8 }, (_, i) => records.slice(i * (MiB / 8), (i + 1) * (MiB / 8)));
const fetchBody = {
  ...defaultFetchResponse(),
  responses: [
    {
      ...defaultFetchableTopicResponse(),
      topicId: "AAAAAAAAAAAAAAAAAAAAAQ",
      partitions: batches.map((b, i) => ({ ...defaultPartitionData(), partitionIndex: i, highWatermark: 1_000_000 + i, records: b })),
    },
  ],
};
const fetchChunks = encodeResponse(ApiKeys.Fetch, 16, 7, fetchBody);
const fetchBytes = fetchChunks.reduce((n, c) => n + c.length, 0);
const batchSet = new Set<Uint8Array>(batches);
const referenced = fetchChunks.filter((c) => batchSet.has(c)).length;
if (referenced !== batches.length) throw new Error(`bench: ${referenced} of ${batches.length} batches referenced`);
const copiedBytes = fetchChunks.filter((c) => !batchSet.has(c)).reduce((n, c) => n + c.length, 0);

// Small messages: a Fetch request v16 (1 topic × 10 partitions) and a Produce response v11.
const fetchRequest = flattenChunks(
  encodeRequest(ApiKeys.Fetch, 16, 3, "consumer-1", {
    ...defaultFetchRequest(),
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 52428800,
    topics: [{ ...defaultFetchTopic(), topicId: "AAAAAAAAAAAAAAAAAAAAAQ", partitions: Array.from({ length: 10 }, (_, i) => ({ ...defaultFetchPartition(), partition: i, fetchOffset: 12345 + i, partitionMaxBytes: 1048576 })) }],
  }),
).subarray(4);
const produceResponse = {
  ...defaultProduceResponse(),
  responses: [{ name: "bench-topic", partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 42, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null, currentLeader: { leaderId: -1, leaderEpoch: -1, _unknownTaggedFields: undefined }, _unknownTaggedFields: undefined }], _unknownTaggedFields: undefined }],
};

group("decode Produce request, 1 MiB of records", () => {
  bench("produce.v9.decode", () => do_not_optimize(decodeRequest(produceV9)));
  bench(`produce.v${produceLatest}.decode`, () => do_not_optimize(decodeRequest(produceVLatest)));
});
group("encode Fetch response v16, 8 × 128 KiB batches", () => {
  bench("fetch.v16.response.encode", () => do_not_optimize(encodeResponse(ApiKeys.Fetch, 16, 7, fetchBody)));
});
group("small messages", () => {
  bench("fetch.v16.request.decode(10 partitions)", () => do_not_optimize(decodeRequest(fetchRequest)));
  bench("produce.v11.response.encode", () => do_not_optimize(encodeResponse(ApiKeys.Produce, 11, 9, produceResponse)));
});

/** Heap bytes retained per decoded request: keep `n` results alive, GC, compare. */
function retainedBytesPerDecode(payload: Uint8Array, n: number): number {
  const keep: unknown[] = [];
  Bun.gc(true);
  const before = process.memoryUsage();
  for (let i = 0; i < n; i++) keep.push(decodeRequest(payload));
  Bun.gc(true);
  const after = process.memoryUsage();
  do_not_optimize(keep);
  return (after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers)) / n;
}

const { benchmarks } = await run({ format: "mitata" });

const results: Record<string, number> = {};
const p50 = (alias: string): number => {
  const t = benchmarks.find((b) => b.alias === alias);
  const stats = t?.runs[0]?.stats;
  if (stats === undefined) throw new Error(`bench: ${alias} has no stats`);
  return stats.p50;
};
const gbps = (bytes: number, ns: number): number => Math.round((bytes / ns) * 100) / 100;
results["produce.v9.decode.ns"] = Math.round(p50("produce.v9.decode"));
results["produce.v9.decode.GBps"] = gbps(produceV9.length, p50("produce.v9.decode"));
results[`produce.v${produceLatest}.decode.ns`] = Math.round(p50(`produce.v${produceLatest}.decode`));
results[`produce.v${produceLatest}.decode.GBps`] = gbps(produceVLatest.length, p50(`produce.v${produceLatest}.decode`));
results["produce.requestBytes"] = produceV9.length;
results["produce.v9.decode.retainedBytesPerRequest"] = Math.round(retainedBytesPerDecode(produceV9, 2000));
results[`produce.v${produceLatest}.decode.retainedBytesPerRequest`] = Math.round(retainedBytesPerDecode(produceVLatest, 2000));
results["produce.recordsShareFrameBuffer"] = 1;
results["fetch.v16.response.encode.ns"] = Math.round(p50("fetch.v16.response.encode"));
results["fetch.v16.response.encode.GBps"] = gbps(fetchBytes, p50("fetch.v16.response.encode"));
results["fetch.v16.response.bytes"] = fetchBytes;
results["fetch.v16.response.chunks"] = fetchChunks.length;
results["fetch.v16.response.batchesReferenced"] = referenced;
results["fetch.v16.response.copiedBytes"] = copiedBytes;
results["fetch.v16.request.decode.ns"] = Math.round(p50("fetch.v16.request.decode(10 partitions)"));
results["produce.v11.response.encode.ns"] = Math.round(p50("produce.v11.response.encode"));
console.log("\nmedians:");
console.table(results);

const out = resolve(import.meta.dir, "results", "protocol.json");
mkdirSync(resolve(import.meta.dir, "results"), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${out}`);
