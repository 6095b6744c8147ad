/**
 * Fetch reads with a read-buffer pool (SegmentContext.readBuffers): the records come back
 * as views of pooled buffers, storage gives back every buffer it does not return, results
 * match reads without a pool and a model of Kafka's fetch rules, and a batch too big for what
 * is left of a response is refused from its header alone.
 */
import { expect, test } from "bun:test";
import type { FileSystem } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { FileCache } from "../../src/storage/file-cache.ts";
import type { PartitionLog } from "../../src/storage/partition-log.ts";
import { BufferPool } from "../../src/util/buffer-pool.ts";
import { simpleBatch, splitBatches } from "./batch-builder.ts";
import { openLog, simEnv } from "./helpers.ts";

const pool = (): BufferPool => new BufferPool({ minBytes: 1024, maxBytes: 1 << 20, idleBytesMax: 1 << 22 });

/** The sim filesystem, counting the bytes asked of `read`. */
function countingReads(fs: FileSystem): { fs: FileSystem; bytes: () => number; reset: () => void } {
  let bytes = 0;
  const counted = new Proxy(fs, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop);
      if (typeof v !== "function") return v;
      if (prop !== "read") return v.bind(target);
      return (...args: Parameters<FileSystem["read"]>) => {
        bytes += args[3];
        return (v as FileSystem["read"]).apply(target, args);
      };
    },
  });
  return { fs: counted, bytes: () => bytes, reset: () => (bytes = 0) };
}

/** A log of batches of mixed sizes (small ones and ones of several KiB) in one segment. */
function mixedLog(
  readBuffers: BufferPool | null,
  seed: number,
  indexIntervalBytes: number,
  fs?: (f: FileSystem) => FileSystem,
): { log: PartitionLog; batches: Uint8Array[] } {
  const env = simEnv(seed, { indexIntervalBytes });
  let wrapped = env;
  if (fs !== undefined) {
    const counted = fs(env.fs);
    wrapped = { ...env, fs: counted, files: new FileCache(counted, 64) };
  }
  const log = openLog(wrapped, { readBuffers });
  const rng = new SeededPrng(seed);
  for (let i = 0; i < 60; i++) {
    const big = rng.int(3) === 0;
    log.append(simpleBatch(1 + rng.int(4), big ? 1500 + rng.int(3000) : 20 + rng.int(200), i), 1);
  }
  const all = log.read(0, 1 << 30);
  if (all.kind !== "ok") throw new Error(all.kind);
  const batches = splitBatches(all.records).map((b) => b.bytes.slice());
  readBuffers?.give(all.records);
  return { log, batches };
}

/**
 * The most a read may return under Kafka's rules for one partition: whole batches from the
 * one holding `target`, within maxBytes, the first one whatever its size when minOneMessage.
 * (A read may stop a batch or more earlier: it reads maxBytes from the index entry, which can
 * lie before the target.)
 */
function model(batches: readonly Uint8Array[], target: number, maxBytes: number, minOneMessage: boolean): Uint8Array[] {
  const parsed = batches.map((b) => splitBatches(b)[0]!);
  const from = parsed.findIndex((b) => b.lastOffset >= target);
  const out: Uint8Array[] = [];
  let size = 0;
  for (let i = from; i >= 0 && i < parsed.length; i++) {
    const b = batches[i]!;
    if (size + b.length > maxBytes && !(out.length === 0 && minOneMessage)) break;
    out.push(b);
    size += b.length;
  }
  return out;
}

test("reads follow the fetch rules and match reads without a pool; returned records are pooled views, the rest goes back", () => {
  for (const [seed, indexIntervalBytes] of [
    [1, 8192],
    [2, 256],
    [3, 1 << 20],
  ] as const) {
    const p = pool();
    const pooled = mixedLog(p, seed, indexIntervalBytes);
    const plain = mixedLog(null, seed, indexIntervalBytes);
    expect(pooled.batches).toEqual(plain.batches);
    const rng = new SeededPrng(seed * 7);
    const end = pooled.log.logEndOffset;
    for (let round = 0; round < 300; round++) {
      const target = rng.int(end);
      const maxBytes = rng.int(4) === 0 ? rng.int(200) : rng.int(12_000);
      const minOne = rng.int(2) === 0;
      const lentBefore = p.lentCount;
      const a = pooled.log.read(target, maxBytes, end, minOne);
      const b = plain.log.read(target, maxBytes, end, minOne);
      if (a.kind !== "ok" || b.kind !== "ok") throw new Error(`${a.kind} ${b.kind}`);
      expect(a.records).toEqual(b.records);
      const most = model(pooled.batches, target, maxBytes, minOne);
      const got = splitBatches(a.records).map((x) => x.bytes);
      expect(got.length > 0).toBe(most.length > 0);
      expect(got).toEqual(most.slice(0, got.length));
      // At most the returned buffer stays lent: every other read went back.
      const returned = a.records.length > 0 && p.owns(a.records) ? 1 : 0;
      expect(p.lentCount - lentBefore).toBe(returned);
      if (returned === 1) p.give(a.records);
    }
    expect(p.lentCount).toBe(0);
    expect(p.idleBytes).toBeGreaterThan(0);
  }
});

test("a read that must skip a leading batch and read again gives the first buffer back", () => {
  const p = pool();
  const env = simEnv(4, { indexIntervalBytes: 1 << 20 }); // one index entry: every read starts at offset 0
  const log = openLog(env, { readBuffers: p });
  log.append(simpleBatch(1, 100, 1), 1); // offset 0, ~180 bytes
  log.append(simpleBatch(1, 3000, 2), 1); // offset 1, ~3 KiB
  const second = splitBatches((log.read(0, 1 << 20) as { records: Uint8Array }).records)[1]!.bytes.slice();
  p.give((log.read(0, 1 << 20) as { records: Uint8Array }).records);
  const lent = p.lentCount;
  // Offset 1 from position 0 with room for the second batch only: the first read holds the
  // small batch and part of the big one, so the segment reads again from the big one.
  const r = log.read(1, second.length + 10);
  if (r.kind !== "ok") throw new Error(r.kind);
  expect(r.records).toEqual(second);
  expect(p.owns(r.records)).toBe(true);
  expect(p.lentCount).toBe(lent + 1);
});

test("a batch bigger than what is left of the response is refused from its header, without reading its data", () => {
  let counter: ReturnType<typeof countingReads> | null = null;
  const { log, batches } = mixedLog(pool(), 5, 256, (fs) => (counter = countingReads(fs)).fs);
  const c = counter as unknown as ReturnType<typeof countingReads>;
  const parsed = batches.map((b) => splitBatches(b)[0]!);
  const big = parsed.findIndex((b, i) => i > 0 && b.bytes.length > 2500);
  const target = parsed[big]!.baseOffset;
  c.reset();
  const refused = log.read(target, 2000, log.logEndOffset, false);
  expect(refused).toMatchObject({ kind: "ok", records: new Uint8Array(0) });
  // The header window: the index interval plus one header, not the 2000 bytes asked for.
  expect(c.bytes()).toBeGreaterThan(0);
  expect(c.bytes()).toBeLessThanOrEqual(256 + 61);
  // The first batch of a response is always whole.
  const first = log.read(target, 2000, log.logEndOffset, true);
  if (first.kind !== "ok") throw new Error(first.kind);
  expect(first.records).toEqual(batches[big]!);
});

test("a read starts at the target's batch, not at the index entry before it, so it fills maxBytes", () => {
  const env = simEnv(6, { indexIntervalBytes: 4096 });
  const log = openLog(env);
  for (let i = 0; i < 40; i++) log.append(simpleBatch(1, 300, i), 1); // ~380-byte batches: an index entry every ~11
  const all = log.read(0, 1 << 20);
  if (all.kind !== "ok") throw new Error(all.kind);
  const batches = splitBatches(all.records);
  const size = batches[0]!.bytes.length;
  // Offset 5 lies ~1.9 KiB past its index entry; room for exactly 20 batches.
  const r = log.read(5, 20 * size);
  if (r.kind !== "ok") throw new Error(r.kind);
  expect(splitBatches(r.records).map((b) => b.baseOffset)).toEqual(batches.slice(5, 25).map((b) => b.baseOffset));
});
