/**
 * Produce to compacted topics, through the dispatcher over a replica manager with codecs (as
 * node.ts builds it): a record without a key is refused with INVALID_RECORD (and a
 * per-record error from the replica manager), nothing is appended; keyed records and
 * delete-policy topics are unaffected; without codecs compressed batches are not checked. And a cleaned compacted partition fetched from the start through the
 * Fetch handler: the latest value per key at its original offset, offsets and HW unchanged.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { buildRecordBatch } from "../../../src/protocol/records/builder.ts";
import type { CompressionCodecName } from "../../../src/protocol/records/compression.ts";
import { ReplicaManager } from "../../../src/replication/replica-manager.ts";
import { topicLogConfigSource } from "../../../src/replication/topic-log-config.ts";
import { defaultLogManagerConfig } from "../../../src/storage/config.ts";
import { LogManager } from "../../../src/storage/log-manager.ts";
import { Logger, memorySink } from "../../../src/util/log.ts";
import { core } from "../../../src/wasm/index.ts";
import { walkBatches } from "../../../src/protocol/records/record-batch.ts";
import { createDispatcher } from "../../../src/server/dispatch.ts";
import { sender, type TestBroker } from "../harness.ts";
import { broker, dataPathHandlers, fetched, fetchRequest, produced, produceRequest, T0 } from "./helpers.ts";

let b: TestBroker | null = null;
afterEach(() => {
  b?.close();
  b = null;
});

const enc = new TextEncoder();

function records(keys: readonly (string | null)[], compression: CompressionCodecName = "none"): Uint8Array {
  return buildRecordBatch(
    keys.map((k, i) => ({ key: k === null ? null : enc.encode(k), value: enc.encode(`v${i}`), timestamp: T0 + i })),
    { compression, codecs: bunCompression },
  );
}

async function setup(): Promise<TestBroker> {
  b = await broker();
  await b.createTopic("compacted", 1, { "cleanup.policy": "compact" });
  await b.createTopic("both", 1, { "cleanup.policy": "compact,delete" });
  await b.createTopic("plain", 1);
  return b;
}

/** The harness's services with a replica manager that has codecs (as node.ts gives it), and its dispatcher. */
function withCodecs(br: TestBroker): { replicas: ReplicaManager; send: TestBroker["send"] } {
  const replicas = new ReplicaManager({
    nodeId: br.nodeId,
    logs: br.logs,
    clock: br.clock,
    log: new Logger({ sink: memorySink().sink, level: "error", nowMs: () => br.clock.nowMs() }),
    brokerConfigValue: () => undefined,
    compression: bunCompression,
  });
  replicas.attach(br.metadata);
  const dispatch = createDispatcher(dataPathHandlers, { ...br.services, replicas });
  const send = sender(dispatch, 1000);
  return { replicas, send };
}

describe("Produce to a compacted topic", () => {
  test("a keyless record is INVALID_RECORD and nothing is appended; keyed records are accepted", async () => {
    const br = await setup();
    const { send } = withCodecs(br);
    for (const topic of ["compacted", "both"]) {
      for (const codec of ["none", "zstd"] as const) {
        const r = produced(await send(ApiKeys.Produce, 9, produceRequest([{ topic, records: records(["a", null, "c"], codec) }])), topic);
        expect(r.errorCode).toBe(ErrorCode.INVALID_RECORD);
        expect(r.baseOffset).toBe(-1);
        expect(r.errorMessage).toContain("no key");
        expect(br.replicas.getPartition(topic, 0)!.log.logEndOffset).toBe(0);
      }
      const ok = produced(await send(ApiKeys.Produce, 9, produceRequest([{ topic, records: records(["a", "b"]) }])), topic);
      expect(ok.errorCode).toBe(ErrorCode.NONE);
      expect(ok.baseOffset).toBe(0);
    }
    // A delete-policy topic takes keyless records.
    const plain = produced(await send(ApiKeys.Produce, 9, produceRequest([{ topic: "plain", records: records([null]) }])), "plain");
    expect(plain.errorCode).toBe(ErrorCode.NONE);
    // The harness's own replica manager is wired like node.ts (with codecs): it checks too.
    const viaHarness = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "compacted", records: records([null]) }])), "compacted");
    expect(viaHarness.errorCode).toBe(ErrorCode.INVALID_RECORD);
  });

  test("per-record errors name each keyless record, for every codec; undecodable records are CORRUPT_MESSAGE", async () => {
    const br = await setup();
    const { replicas } = withCodecs(br);
    const opts = { requiredAcks: 1, allowZstd: true, internalTopicsAllowed: false };
    for (const codec of ["none", "gzip", "zstd", "lz4", "snappy"] as const) {
      const out = replicas.appendRecords("compacted", 0, records([null, "b", null], codec), opts);
      expect(out.kind).toBe("error");
      if (out.kind !== "error") continue;
      expect(out.errorCode).toBe(ErrorCode.INVALID_RECORD);
      expect(out.recordErrors?.map((e) => e.batchIndex)).toEqual([0, 2]);
      expect(replicas.appendRecords("compacted", 0, records(["a", "b"], codec), opts).kind).toBe("appended");
    }
    const bad = records(["a", "b"], "gzip");
    bad[bad.length - 3]! ^= 0xff; // the gzip trailer's CRC
    new DataView(bad.buffer, bad.byteOffset).setUint32(17, core.crc32c(bad.subarray(21)) >>> 0);
    const corrupt = replicas.appendRecords("compacted", 0, bad, opts);
    expect(corrupt.kind === "error" ? corrupt.errorCode : -1).toBe(ErrorCode.CORRUPT_MESSAGE);
  });
});

describe("Fetch from a cleaned compacted topic", () => {
  test("consumers from the start see the latest value per key at its original offset", async () => {
    const br = await setup();
    const dec = new TextDecoder();
    const sent: { key: string; value: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const key = `k${i % 7}`;
      const value = `v${i}`;
      const batchBytes = buildRecordBatch([{ key: enc.encode(key), value: enc.encode(value), timestamp: T0 + i }], {
        // gzip only in the active segment: the harness's LogManager has no codecs, and the
        // cleaner keeps compressed batches whole without them (test/storage covers codecs).
        compression: i >= 40 && i % 2 === 0 ? "gzip" : "none",
        codecs: bunCompression,
      });
      const r = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "compacted", records: batchBytes }])), "compacted");
      expect(r.errorCode).toBe(ErrorCode.NONE);
      sent.push({ key, value });
      if (i === 19 || i === 39) {
        const log = br.replicas.getPartition("compacted", 0)!.log;
        log.roll();
        expect(log.flush()).toBeNull();
      }
    }
    const log = br.replicas.getPartition("compacted", 0)!.log;
    const leo = log.logEndOffset;
    const out = br.logs.cleaner.cleanLog(log, { force: true });
    expect(out.kind).toBe("cleaned");
    const f = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "compacted", offset: 0, partitionMaxBytes: 1 << 20 }])));
    expect(f.errorCode).toBe(ErrorCode.NONE);
    expect(f.highWatermark).toBe(leo);
    const got: { offset: number; key: string; value: string }[] = [];
    let at = 0;
    let bytes = f.records ?? new Uint8Array(0);
    for (;;) {
      const walk = walkBatches(bytes, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: 1 << 20 });
      for (const b of walk.batches) {
        for (const r of b.records({ maxBytes: 1 << 20, compression: bunCompression })) {
          got.push({ offset: r.offset, key: dec.decode(r.key!), value: dec.decode(r.value!) });
          at = r.offset + 1;
        }
        at = Math.max(at, b.lastOffset + 1);
      }
      if (at >= leo) break;
      const next = fetched(await br.send(ApiKeys.Fetch, 12, fetchRequest([{ topic: "compacted", offset: at, partitionMaxBytes: 1 << 20 }])));
      bytes = next.records ?? new Uint8Array(0);
      expect(bytes.length).toBeGreaterThan(0);
    }
    for (const r of got) expect(sent[r.offset]).toEqual({ key: r.key, value: r.value });
    // Sealed segments ([0, 40)) hold each key once; the active segment is untouched.
    const sealed = got.filter((r) => r.offset < 40);
    expect(new Set(sealed.map((r) => r.key)).size).toBe(sealed.length);
    expect(got.filter((r) => r.offset >= 40).map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => 40 + i));
    const latest = new Map<string, string>();
    for (const s of sent) latest.set(s.key, s.value);
    const seen = new Map<string, string>();
    for (const r of got) seen.set(r.key, r.value);
    expect(seen).toEqual(latest);
  });
});

describe("cleanup.policy reaches logs opened before the metadata", () => {
  test("a log opened at startup with broker defaults gets its topic's config when its partition is created", async () => {
    const br = await setup();
    let metadataReady = false;
    // As node.ts opens storage: before the metadata log is replayed, topics have no config.
    const logs = LogManager.open({
      fs: br.fs,
      clock: br.clock,
      prng: br.prng,
      config: defaultLogManagerConfig(["/data"]),
      topicConfig: (topic) => (metadataReady ? topicLogConfigSource(() => br.metadata.image, () => undefined)(topic) : {}),
    });
    const tp = { topic: "compacted", partition: 0 };
    expect(logs.getLog(tp)?.config.cleanupPolicy).toEqual({ delete: true, compact: false });
    metadataReady = true;
    const replicas = new ReplicaManager({
      nodeId: br.nodeId,
      logs,
      clock: br.clock,
      log: new Logger({ sink: memorySink().sink, level: "error", nowMs: () => br.clock.nowMs() }),
      brokerConfigValue: () => undefined,
    });
    replicas.attach(br.metadata);
    expect(logs.getLog(tp)?.config.cleanupPolicy).toEqual({ delete: false, compact: true });
    expect(logs.getLog({ topic: "both", partition: 0 })?.config.cleanupPolicy).toEqual({ delete: true, compact: true });
    replicas.close();
  });
});
