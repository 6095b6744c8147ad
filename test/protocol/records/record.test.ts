import { describe, expect, test } from "bun:test";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { buildRecordBatch } from "../../../src/protocol/records/builder.ts";
import {
  ControlRecordType,
  controlRecordKey,
  endTxnMarkerRecord,
  parseControlRecordKey,
  parseEndTxnMarker,
} from "../../../src/protocol/records/control-record.ts";
import { RecordBatchView } from "../../../src/protocol/records/record-batch.ts";
import { type DecodeContext, decodeRecords } from "../../../src/protocol/records/record.ts";
import { RecordsError } from "../../../src/protocol/records/records-error.ts";
import { Reader } from "../../../src/protocol/records/varint.ts";

const ctx1: DecodeContext = { count: 1, baseOffset: 0, baseTimestamp: 0 };

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RecordsError) return e.kind;
    throw e;
  }
  return "no error";
}

describe("record decoding of malformed input", () => {
  // A valid record: length 7 | attrs | tsDelta 0 | offsetDelta 0 | key null | value "a" | 0 headers
  const valid = [0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, 0x61, 0x00];

  test("the valid record decodes", () => {
    const [r] = decodeRecords(new Uint8Array(valid), ctx1);
    expect(r!.key).toBeNull();
    expect([...r!.value!]).toEqual([0x61]);
  });

  test("every truncation is a typed error", () => {
    for (let n = 0; n < valid.length; n++) {
      const kind = kindOf(() => decodeRecords(new Uint8Array(valid.slice(0, n)), ctx1));
      expect(["truncated", "badRecordCount"]).toContain(kind);
    }
  });

  test("lengths that lie", () => {
    // record length says 9 but only the same 7-byte body follows
    expect(kindOf(() => decodeRecords(new Uint8Array([0x12, ...valid.slice(1)]), ctx1))).toBe("truncated");
    // record length shorter than its fields (6 instead of 7)
    expect(kindOf(() => decodeRecords(new Uint8Array([0x0c, ...valid.slice(1)]), ctx1))).toBe("truncated");
    // record length longer than its fields: one extra byte inside the record
    expect(kindOf(() => decodeRecords(new Uint8Array([0x10, ...valid.slice(1), 0x00]), ctx1))).toBe("badRecord");
    // value length 100 inside a 7-byte record
    const bigValue = [...valid];
    bigValue[5] = 200; // zigzag 100
    bigValue[6] = 0x01;
    expect(kindOf(() => decodeRecords(new Uint8Array(bigValue), ctx1))).toBe("badRecord");
    // key length -2
    const negKey = [...valid];
    negKey[4] = 0x03; // zigzag -2
    expect(kindOf(() => decodeRecords(new Uint8Array(negKey), ctx1))).toBe("badRecord");
    // header count 1000 in a record with no room
    const headers = [0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0x61, 0xd0, 0x0f];
    expect(kindOf(() => decodeRecords(new Uint8Array(headers), ctx1))).toBe("badRecord");
    // negative header count
    const negHeaders = [...valid];
    negHeaders[7] = 0x01;
    expect(kindOf(() => decodeRecords(new Uint8Array(negHeaders), ctx1))).toBe("badRecord");
    // record length negative
    expect(kindOf(() => decodeRecords(new Uint8Array([0x01, ...valid.slice(1)]), ctx1))).toBe("badRecord");
    // trailing bytes after the declared count
    expect(kindOf(() => decodeRecords(new Uint8Array([...valid, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]), ctx1))).toBe("badRecordCount");
  });

  test("varint overflow", () => {
    // 6-byte varint as the record length
    expect(kindOf(() => decodeRecords(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0]), ctx1))).toBe("varintOverflow");
    // 11-byte varlong timestamp delta inside a record
    const longTs = [0x1a, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00, 0x01, 0x01, 0x00];
    expect(kindOf(() => decodeRecords(new Uint8Array(longTs), ctx1))).toBe("varintOverflow");
    // 10-byte varlong beyond 2^53
    const unsafeTs = [0x18, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x01, 0x01, 0x00];
    expect(kindOf(() => decodeRecords(new Uint8Array(unsafeTs), ctx1))).toBe("int64OutOfRange");
    const r = new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 0, 5);
    expect(r.varint()).toBe(-2147483648);
  });

  test("seeded mutation fuzz: only RecordsError escapes, never reads out of bounds", () => {
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
    let s = seed >>> 0;
    const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    const enc = new TextEncoder();
    const codecs = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
    const originals = codecs.map((codec) =>
      buildRecordBatch(
        Array.from({ length: 5 }, (_, i) => ({
          key: i % 2 ? null : enc.encode(`k${i}`),
          value: enc.encode(`value ${i} `.repeat(i * 3)),
          headers: [{ key: `h${i}`, value: i % 3 ? enc.encode("v") : null }],
          timestamp: 1_000 + i,
        })),
        { compression: codec, codecs: bunCompression },
      ),
    );
    let errors = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const original = originals[iter % originals.length]!;
      const bytes = Uint8Array.from(original);
      const flips = 1 + (next() % 4);
      for (let f = 0; f < flips; f++) {
        // Mutate the records section (and sometimes the header's record count).
        const p = next() % 4 === 0 ? 57 + (next() % 4) : 61 + (next() % (bytes.length - 61));
        bytes[p] = next() & 0xff;
      }
      try {
        RecordBatchView.at(bytes).records({ maxBytes: 1 << 16, compression: bunCompression });
      } catch (e) {
        if (!(e instanceof RecordsError)) {
          throw new Error(`fuzz seed ${seed} iteration ${iter}: non-typed error ${String(e)} (replay with FUZZ_SEED=${seed})`);
        }
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });
});

describe("control records", () => {
  test("transaction markers round trip", () => {
    for (const marker of [
      { type: "ABORT" as const, coordinatorEpoch: 0 },
      { type: "COMMIT" as const, coordinatorEpoch: 2_147_483_647 },
      { type: "COMMIT" as const, coordinatorEpoch: -1 },
    ]) {
      const { key, value } = endTxnMarkerRecord(marker);
      expect(parseEndTxnMarker(key, value)).toEqual(marker);
    }
    const { key, value } = endTxnMarkerRecord({ type: "ABORT", coordinatorEpoch: 5 });
    expect([...key]).toEqual([0, 0, 0, 0]);
    expect([...value]).toEqual([0, 0, 0, 0, 0, 5]);
    expect([...endTxnMarkerRecord({ type: "COMMIT", coordinatorEpoch: 258 }).key]).toEqual([0, 0, 0, 1]);
  });

  test("keys of other control types", () => {
    expect(parseControlRecordKey(controlRecordKey(ControlRecordType.LEADER_CHANGE))).toEqual({ version: 0, type: 2 });
    expect(kindOf(() => parseEndTxnMarker(controlRecordKey(ControlRecordType.LEADER_CHANGE), new Uint8Array(6)))).toBe("badControlRecord");
  });

  test("malformed keys and values", () => {
    expect(kindOf(() => parseControlRecordKey(null))).toBe("badControlRecord");
    expect(kindOf(() => parseControlRecordKey(new Uint8Array([0, 0, 0])))).toBe("badControlRecord");
    expect(kindOf(() => parseControlRecordKey(new Uint8Array([0, 0, 0, 1, 9])))).toBe("badControlRecord");
    expect(kindOf(() => parseControlRecordKey(new Uint8Array([0xff, 0xff, 0, 1])))).toBe("badControlRecord");
    // a newer key version may carry more fields
    expect(parseControlRecordKey(new Uint8Array([0, 1, 0, 1, 9, 9]))).toEqual({ version: 1, type: 1 });
    const key = controlRecordKey(ControlRecordType.COMMIT);
    expect(kindOf(() => parseEndTxnMarker(key, null))).toBe("badControlRecord");
    expect(kindOf(() => parseEndTxnMarker(key, new Uint8Array([0, 0, 0, 0, 1])))).toBe("badControlRecord");
    expect(kindOf(() => parseEndTxnMarker(key, new Uint8Array([0, 0, 0, 0, 0, 1, 2])))).toBe("badControlRecord");
  });
});
