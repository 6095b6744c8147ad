import { describe, expect, test } from "bun:test";
import { javaStringHashCode, kafkaAbs, offsetsPartitionFor } from "../../src/coordinator/partitioner.ts";
import {
  CoordinatorRecordError,
  decodeRecord,
  encodeRecord,
  type GroupMetadataValue,
  groupMetadataRecord,
  offsetCommitRecord,
} from "../../src/coordinator/records.ts";
import { decodeOffsetsBatches, encodeOffsetsBatch } from "../../src/coordinator/offsets-log.ts";

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (s: string): Uint8Array => new Uint8Array((s.replaceAll(" ", "").match(/../g) ?? []).map((x) => parseInt(x, 16)));

describe("partitioner", () => {
  test("Java String.hashCode", () => {
    expect(javaStringHashCode("")).toBe(0);
    expect(javaStringHashCode("a")).toBe(97);
    expect(javaStringHashCode("hello")).toBe(99162322);
    // Overflows int32 like Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
    expect(javaStringHashCode("polygenelubricants")).toBe(-0x8000_0000);
    // UTF-16 code units: a surrogate pair counts as two.
    expect(javaStringHashCode("😀")).toBe(0xd83d * 31 + 0xde00);
  });
  test("Utils.abs and the partition of a group", () => {
    expect(kafkaAbs(-0x8000_0000)).toBe(0);
    expect(kafkaAbs(-5)).toBe(5);
    expect(offsetsPartitionFor("polygenelubricants", 50)).toBe(0);
    expect(offsetsPartitionFor("hello", 50)).toBe(99162322 % 50);
    // A negative hash: abs first, then modulo.
    const h = javaStringHashCode("my-group-with-negative-hash-zz");
    expect(offsetsPartitionFor("my-group-with-negative-hash-zz", 50)).toBe(Math.abs(h) % 50);
    expect(() => offsetsPartitionFor("g", 0)).toThrow(RangeError);
  });
});

describe("__consumer_offsets records", () => {
  test("offset commit key v1 and value v3: Kafka's byte layout", () => {
    const raw = encodeRecord(offsetCommitRecord("g", "t", 2, { offset: 42, leaderEpoch: 7, metadata: "m", commitTimestampMs: 1000, expireTimestampMs: -1 }));
    // version 1, "g", "t", partition 2
    expect(hex(raw.key)).toBe("0001" + "000167" + "000174" + "00000002");
    // version 3, offset 42, epoch 7, "m", ts 1000
    expect(hex(raw.value!)).toBe("0003" + "000000000000002a" + "00000007" + "00016d" + "00000000000003e8");
    expect(decodeRecord(raw)).toEqual(offsetCommitRecord("g", "t", 2, { offset: 42, leaderEpoch: 7, metadata: "m", commitTimestampMs: 1000, expireTimestampMs: -1 }));
  });

  test("offset commit with an expire timestamp is value v1", () => {
    const rec = offsetCommitRecord("g", "t", 0, { offset: 1, leaderEpoch: -1, metadata: "", commitTimestampMs: 5, expireTimestampMs: 9 });
    const raw = encodeRecord(rec);
    expect(hex(raw.value!.subarray(0, 2))).toBe("0001");
    expect(decodeRecord(raw)).toEqual(rec);
  });

  test("older and flexible offset values decode", () => {
    const key = encodeRecord(offsetCommitRecord("g", "t", 0, null)).key;
    // v0: offset, metadata, commitTimestamp
    const v0 = fromHex("0000 0000000000000005 0002 6869 0000000000000010");
    expect(decodeRecord({ key, value: v0 })).toEqual(offsetCommitRecord("g", "t", 0, { offset: 5, leaderEpoch: -1, metadata: "hi", commitTimestampMs: 16, expireTimestampMs: -1 }));
    // v4 (flexible): offset, epoch, compact metadata, ts, empty tagged fields
    const v4 = fromHex("0004 0000000000000005 00000003 03 6869 0000000000000010 00");
    expect(decodeRecord({ key, value: v4 })).toEqual(offsetCommitRecord("g", "t", 0, { offset: 5, leaderEpoch: 3, metadata: "hi", commitTimestampMs: 16, expireTimestampMs: -1 }));
    // key v0 is the same layout as v1
    const key0 = fromHex("0000 0001 67 0001 74 00000000");
    expect(decodeRecord({ key: key0, value: null })).toEqual(offsetCommitRecord("g", "t", 0, null));
  });

  test("group metadata value v3 round trip and layout", () => {
    const value: GroupMetadataValue = {
      protocolType: "consumer",
      generation: 3,
      protocol: "range",
      leader: "m1",
      currentStateTimestampMs: 77,
      members: [
        {
          memberId: "m1",
          groupInstanceId: "i1",
          clientId: "c",
          clientHost: "/h",
          rebalanceTimeoutMs: 300000,
          sessionTimeoutMs: 10000,
          subscription: new Uint8Array([1, 2]),
          assignment: new Uint8Array([3]),
        },
      ],
    };
    const raw = encodeRecord(groupMetadataRecord("grp", value));
    expect(hex(raw.key)).toBe("0002" + "0003" + hex(new TextEncoder().encode("grp")));
    expect(hex(raw.value!.subarray(0, 2))).toBe("0003");
    expect(decodeRecord(raw)).toEqual(groupMetadataRecord("grp", value));
    expect(decodeRecord({ key: raw.key, value: null })).toEqual(groupMetadataRecord("grp", null));
  });

  test("group metadata value v0 (no rebalance timeout) takes the session timeout", () => {
    const key = encodeRecord(groupMetadataRecord("g", null)).key;
    // protocolType "c", generation 1, protocol null, leader null, 1 member: id "m", client "c", host "h", session 10, sub [], assignment []
    const v0 = fromHex("0000 0001 63 00000001 ffff ffff 00000001 0001 6d 0001 63 0001 68 0000000a 00000000 00000000");
    const r = decodeRecord({ key, value: v0 });
    expect(r.kind).toBe("groupMetadata");
    if (r.kind !== "groupMetadata" || r.value === null) throw new Error("expected a group value");
    expect(r.value.members[0]!.sessionTimeoutMs).toBe(10);
    expect(r.value.members[0]!.rebalanceTimeoutMs).toBe(10);
    expect(r.value.currentStateTimestampMs).toBe(-1);
  });

  test("unknown key versions are skipped, not errors", () => {
    expect(decodeRecord({ key: fromHex("0005 0001 67"), value: fromHex("00") })).toEqual({ kind: "unknown", keyVersion: 5 });
  });

  test("every truncation of a record is a typed error", () => {
    const raw = encodeRecord(
      groupMetadataRecord("grp", {
        protocolType: "consumer",
        generation: 1,
        protocol: "range",
        leader: "m",
        currentStateTimestampMs: 1,
        members: [{ memberId: "m", groupInstanceId: null, clientId: "c", clientHost: "h", rebalanceTimeoutMs: 1, sessionTimeoutMs: 1, subscription: new Uint8Array(3), assignment: new Uint8Array(2) }],
      }),
    );
    for (let cut = 0; cut < raw.value!.length; cut++) {
      expect(() => decodeRecord({ key: raw.key, value: raw.value!.subarray(0, cut) })).toThrow(CoordinatorRecordError);
    }
    for (let cut = 0; cut < raw.key.length; cut++) {
      expect(() => decodeRecord({ key: raw.key.subarray(0, cut), value: null })).toThrow(CoordinatorRecordError);
    }
    // A member count far beyond the bytes is refused before allocating.
    const huge = raw.value!.slice();
    const countAt = 2 + 2 + 8 + 4 + 2 + 5 + 2 + 1 + 8;
    huge.set([0x7f, 0xff, 0xff, 0xff], countAt);
    expect(() => decodeRecord({ key: raw.key, value: huge })).toThrow(CoordinatorRecordError);
    expect(() => decodeRecord({ key: raw.key, value: new Uint8Array([0, 9]) })).toThrow(CoordinatorRecordError);
  });

  test("records survive the batch form", () => {
    const records = [
      encodeRecord(offsetCommitRecord("g", "t", 0, { offset: 1, leaderEpoch: -1, metadata: "", commitTimestampMs: 5, expireTimestampMs: -1 })),
      encodeRecord(offsetCommitRecord("g", "t", 1, null)),
    ];
    const batch = encodeOffsetsBatch(records, 123);
    const back = decodeOffsetsBatches(batch);
    expect(back.length).toBe(2);
    expect(hex(back[0]!.key)).toBe(hex(records[0]!.key));
    expect(back[1]!.value).toBeNull();
    const corrupt = batch.slice();
    corrupt[corrupt.length - 1]! ^= 0xff;
    expect(() => decodeOffsetsBatches(corrupt)).toThrow();
  });
});
