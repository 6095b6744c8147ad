/**
 * `bunka produce` and `bunka consume`, for quick checks (kcat-like).
 *
 * produce: one record per line of standard input; `--key-separator SEP` splits each line into
 * key and value at the first SEP; `--header K=V` (repeatable) adds headers to every record.
 * Keyed records go to Kafka's default partition for the key (murmur2, as the Java client),
 * unkeyed ones round-robin, unless `--partition`. Records are sent in batches of up to
 * `produceBatchRecordsMax`, acks=all; a progress line goes to stderr every second on long runs.
 *
 * consume: from `--offset` (earliest, latest or a number; default earliest) of every partition
 * or of `--partition`, up to `--count` records, or up to the high watermark each partition had
 * when the command started (`--follow` keeps reading). Each record prints as
 * `[key<SEP>]value`, or one JSON object per line with `--json` (partition, offset, timestamp,
 * key, value, headers; bytes as UTF-8 text). Long runs write a progress line to stderr every
 * second.
 */
import { fetchPartition, produceBatch, completeBatches } from "../../client/partition-io.ts";
import { bunCompression } from "../../platform/bun/compression.ts";
import { buildRecordBatch } from "../../protocol/records/builder.ts";
import type { RecordHeader } from "../../protocol/records/record.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { type CommandContext, failure, intValue, keyValues, must, UsageError, value } from "./common.ts";
import { describeTopics, listOffsets, offsetKey } from "./requests.ts";

export const recordsUsage = `usage:
  bunka produce TOPIC [--partition P] [--key-separator SEP] [--header KEY=VALUE ...]
                one record per line of standard input
  bunka consume TOPIC [--partition P] [--offset earliest|latest|N] [--count N] [--follow]
                [--key-separator SEP] [--print-key] [--json]
every command: --bootstrap-server HOST:PORT[,...] [--timeout-ms MS]`;

export const produceSpec = { values: ["--partition", "--key-separator"], repeatable: ["--header"], positional: [1, 1], positionalName: "a topic name" } as const;
export const consumeSpec = { values: ["--partition", "--offset", "--count", "--key-separator"], bools: ["--follow", "--print-key"], positional: [1, 1], positionalName: "a topic name" } as const;

const produceBatchRecordsMax = 500;
const fetchBytesMax = 1024 * 1024;
const progressIntervalMs = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Kafka's murmur2 of a key (the Java client's default partitioner). */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const o = i * 4;
    let k = (data[o]! & 0xff) | ((data[o + 1]! & 0xff) << 8) | ((data[o + 2]! & 0xff) << 16) | ((data[o + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = words * 4;
  const tail = length & 3;
  if (tail >= 3) h ^= (data[rest + 2]! & 0xff) << 16;
  if (tail >= 2) h ^= (data[rest + 1]! & 0xff) << 8;
  if (tail >= 1) {
    h ^= data[rest]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

async function partitionCount(ctx: CommandContext, topic: string): Promise<number[]> {
  const md = must(`${topic}: metadata`, await describeTopics(ctx.cluster, [topic]));
  const t = md.topics.find((x) => x.name === topic);
  if (t === undefined || t.errorCode !== ErrorCode.NONE) throw failure(`topic ${topic}`, { errorCode: t?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: "" });
  return t.partitions.map((p) => p.partitionIndex).sort((a, b) => a - b);
}

export async function runProduce(ctx: CommandContext): Promise<void> {
  const topic = ctx.args.positional[0]!;
  const fixed = intValue(ctx.args, "--partition", 0);
  const separator = value(ctx.args, "--key-separator");
  if (separator === "") throw new UsageError("--key-separator must not be empty");
  const headers: RecordHeader[] = [...keyValues(ctx.args, "--header")].map(([key, v]) => ({ key, value: encoder.encode(v) }));
  await ctx.connect();
  const partitions = await partitionCount(ctx, topic);
  if (fixed !== undefined && !partitions.includes(fixed)) throw new UsageError(`produce: ${topic} has no partition ${fixed}`);
  const pending = new Map<number, { key: Uint8Array | null; value: Uint8Array; headers: RecordHeader[]; timestamp: number }[]>();
  let sent = 0;
  let roundRobin = 0;
  let lastProgress = ctx.nowMs();
  const flush = async (partition: number): Promise<void> => {
    const records = pending.get(partition);
    if (records === undefined || records.length === 0) return;
    pending.delete(partition);
    const batch = buildRecordBatch(records);
    must(`produce ${topic}-${partition}`, await produceBatch(ctx.cluster, { topic, partition }, batch, { acks: -1, timeoutMs: ctx.timeoutMs }));
    sent += records.length;
    if (ctx.nowMs() - lastProgress >= progressIntervalMs) {
      lastProgress = ctx.nowMs();
      ctx.io.err(`produce: ${sent} records sent to ${topic}`);
    }
  };
  for await (const line of ctx.stdinLines()) {
    let key: Uint8Array | null = null;
    let text = line;
    if (separator !== undefined) {
      const at = line.indexOf(separator);
      if (at >= 0) {
        key = encoder.encode(line.slice(0, at));
        text = line.slice(at + separator.length);
      }
    }
    const partition = fixed ?? (key !== null ? partitions[(murmur2(key) & 0x7fffffff) % partitions.length]! : partitions[roundRobin++ % partitions.length]!);
    const list = pending.get(partition) ?? [];
    list.push({ key, value: encoder.encode(text), headers, timestamp: ctx.nowMs() });
    pending.set(partition, list);
    if (list.length >= produceBatchRecordsMax) await flush(partition);
  }
  for (const p of [...pending.keys()]) await flush(p);
  ctx.io.err(`produce: ${sent} records sent to ${topic}`);
}

export async function runConsume(ctx: CommandContext): Promise<void> {
  const topic = ctx.args.positional[0]!;
  const fixed = intValue(ctx.args, "--partition", 0);
  const count = intValue(ctx.args, "--count", 1, Number.MAX_SAFE_INTEGER);
  const follow = ctx.args.bools.has("--follow");
  const separator = value(ctx.args, "--key-separator") ?? "\t";
  const printKey = ctx.args.bools.has("--print-key") || value(ctx.args, "--key-separator") !== undefined;
  const from = value(ctx.args, "--offset") ?? "earliest";
  if (!/^(earliest|latest|\d+)$/.test(from)) throw new UsageError(`--offset ${JSON.stringify(from)} is not earliest, latest or an offset`);
  await ctx.connect();
  const all = await partitionCount(ctx, topic);
  if (fixed !== undefined && !all.includes(fixed)) throw new UsageError(`consume: ${topic} has no partition ${fixed}`);
  const partitions = fixed === undefined ? all : [fixed];
  const refs = partitions.map((partition) => ({ topic, partition }));
  const ends = must(`consume ${topic}: end offsets`, await listOffsets(ctx.cluster, refs, -1));
  const starts = from === "earliest" ? must(`consume ${topic}: start offsets`, await listOffsets(ctx.cluster, refs, -2)) : from === "latest" ? ends : null;
  const position = new Map(partitions.map((p) => [p, starts === null ? Number(from) : starts.get(offsetKey(topic, p))!]));
  let printed = 0;
  let lastProgress = ctx.nowMs();
  const done = (p: number): boolean => !follow && position.get(p)! >= ends.get(offsetKey(topic, p))!;
  while (count === undefined || printed < count) {
    const active = partitions.filter((p) => !done(p));
    if (active.length === 0) break;
    let got = 0;
    for (const partition of active) {
      const fetchOffset = position.get(partition)!;
      const r = must(`consume ${topic}-${partition}`, await fetchPartition(ctx.cluster, { topic, partition }, { fetchOffset, maxBytes: fetchBytesMax, maxWaitMs: follow ? 500 : 0 }));
      const { batches, nextOffset, problem } = completeBatches(r.records, fetchOffset, fetchBytesMax * 2);
      if (problem !== null) throw new UsageError(`consume ${topic}-${partition}: the broker sent a bad batch (${problem})`).withCode(1);
      for (const b of batches) {
        if (b.isControl) continue;
        for (const rec of b.records({ maxBytes: fetchBytesMax * 8, compression: bunCompression })) {
          if (rec.offset < fetchOffset) continue;
          if (count !== undefined && printed >= count) break;
          printed++;
          got++;
          const key = rec.key === null ? null : decoder.decode(rec.key);
          const val = rec.value === null ? null : decoder.decode(rec.value);
          if (ctx.json) {
            ctx.io.out(JSON.stringify({ partition, offset: rec.offset, timestamp: rec.timestamp, key, value: val, headers: Object.fromEntries(rec.headers.map((h) => [h.key, h.value === null ? null : decoder.decode(h.value)])) }));
          } else ctx.io.out(`${printKey ? `${key ?? ""}${separator}` : ""}${val ?? ""}`);
        }
      }
      // An empty answer below the end (aborted or compacted records): move on by what was read.
      position.set(partition, Math.max(nextOffset, batches.length === 0 && r.records.length === 0 && !follow ? ends.get(offsetKey(topic, partition))! : fetchOffset));
    }
    if (ctx.nowMs() - lastProgress >= progressIntervalMs) {
      lastProgress = ctx.nowMs();
      ctx.io.err(`consume: ${printed} records from ${topic}`);
    }
    if (got === 0 && follow) await ctx.sleep(100);
  }
}
