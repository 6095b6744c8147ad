/**
 * Produce to compacted topics: a record without a key is refused with INVALID_RECORD (and a
 * per-record error from the replica manager), nothing is appended; keyed records and
 * delete-policy topics are unaffected. Compressed batches are checked when the replica
 * manager has codecs.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { ErrorCode } from "../../../src/protocol/errors.ts";
import { ApiKeys } from "../../../src/protocol/messages/index.ts";
import { buildRecordBatch } from "../../../src/protocol/records/builder.ts";
import type { CompressionCodecName } from "../../../src/protocol/records/compression.ts";
import { ReplicaManager } from "../../../src/replication/replica-manager.ts";
import { Logger, memorySink } from "../../../src/util/log.ts";
import { core } from "../../../src/wasm/index.ts";
import type { TestBroker } from "../harness.ts";
import { broker, produced, produceRequest, T0 } from "./helpers.ts";

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

describe("Produce to a compacted topic", () => {
  test("a keyless record is INVALID_RECORD and nothing is appended; keyed records are accepted", async () => {
    const br = await setup();
    for (const topic of ["compacted", "both"]) {
      const r = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic, records: records(["a", null, "c"]) }])), topic);
      expect(r.errorCode).toBe(ErrorCode.INVALID_RECORD);
      expect(r.baseOffset).toBe(-1);
      expect(r.errorMessage).toContain("no key");
      expect(br.replicas.getPartition(topic, 0)!.log.logEndOffset).toBe(0);
      const ok = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic, records: records(["a", "b"]) }])), topic);
      expect(ok.errorCode).toBe(ErrorCode.NONE);
      expect(ok.baseOffset).toBe(0);
    }
    // A delete-policy topic takes keyless records.
    const plain = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "plain", records: records([null]) }])), "plain");
    expect(plain.errorCode).toBe(ErrorCode.NONE);
  });

  test("per-record errors name each keyless record; compressed batches are inflated when codecs are given", async () => {
    const br = await setup();
    const withCodecs = new ReplicaManager({
      nodeId: br.nodeId,
      logs: br.logs,
      clock: br.clock,
      log: new Logger({ sink: memorySink().sink, level: "error", nowMs: () => br.clock.nowMs() }),
      brokerConfigValue: () => undefined,
      compression: bunCompression,
    });
    withCodecs.attach(br.metadata);
    const opts = { requiredAcks: 1, allowZstd: true, internalTopicsAllowed: false };
    for (const codec of ["none", "gzip", "zstd", "lz4", "snappy"] as const) {
      const out = withCodecs.appendRecords("compacted", 0, records([null, "b", null], codec), opts);
      expect(out.kind).toBe("error");
      if (out.kind !== "error") continue;
      expect(out.errorCode).toBe(ErrorCode.INVALID_RECORD);
      expect(out.recordErrors?.map((e) => e.batchIndex)).toEqual([0, 2]);
      expect(withCodecs.appendRecords("compacted", 0, records(["a", "b"], codec), opts).kind).toBe("appended");
    }
    // Without codecs (the harness's replica manager) a compressed batch is not inflated.
    const leo = br.replicas.getPartition("compacted", 0)!.log.logEndOffset;
    const r = produced(await br.send(ApiKeys.Produce, 9, produceRequest([{ topic: "compacted", records: records([null], "gzip") }])), "compacted");
    expect(r.errorCode).toBe(ErrorCode.NONE);
    expect(r.baseOffset).toBe(leo);
    // A compressed batch that does not inflate is CORRUPT_MESSAGE.
    const bad = records(["a", "b"], "gzip");
    bad[bad.length - 3]! ^= 0xff;
    const view = new DataView(bad.buffer, bad.byteOffset);
    view.setUint32(17, core.crc32c(bad.subarray(21)) >>> 0);
    const corrupt = withCodecs.appendRecords("compacted", 0, bad, opts);
    expect(corrupt.kind === "error" ? corrupt.errorCode : -1).toBe(ErrorCode.CORRUPT_MESSAGE);
  });
});
