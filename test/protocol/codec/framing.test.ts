/**
 * Headers and framing (src/protocol/header.ts, src/protocol/frame.ts), plus encodings written
 * out by hand from docs/protocol.html's grammar, so the codec is checked against Kafka's wire
 * format and not only against itself.
 */
import { describe, expect, test } from "bun:test";
import { DecodeError } from "../../../src/protocol/codec/codec-error.ts";
import { flattenChunks } from "../../../src/protocol/codec/writer.ts";
import {
  checkFrame,
  decodeRequest,
  decodeRequestFrame,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  SOCKET_REQUEST_MAX_BYTES_DEFAULT,
  UnsupportedRequestError,
} from "../../../src/protocol/frame.ts";
import { peekRequestClientId, requestHeaderVersion, responseHeaderVersion } from "../../../src/protocol/header.ts";
import { defaultApiVersionsResponse } from "../../../src/protocol/messages/api-versions-response.ts";
import { defaultFetchResponse, defaultFetchableTopicResponse, defaultPartitionData } from "../../../src/protocol/messages/fetch-response.ts";
import { defaultMetadataResponse } from "../../../src/protocol/messages/metadata-response.ts";
import { ApiKeys, apis, apiSpec } from "../../../src/protocol/messages/index.ts";

const hex = (s: string): Uint8Array => new Uint8Array((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => Number.parseInt(b, 16)));
const toHex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

function decodeErrorOf(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new Error(`expected DecodeError, got ${String(e)}`);
  }
  throw new Error("expected DecodeError, nothing thrown");
}

describe("header versions", () => {
  test("request header v1 before flexible versions, v2 from them; ControlledShutdown v0 uses v0", () => {
    expect(requestHeaderVersion(ApiKeys.Produce, 8)).toBe(1);
    expect(requestHeaderVersion(ApiKeys.Produce, 9)).toBe(2);
    expect(requestHeaderVersion(ApiKeys.Metadata, 9)).toBe(2);
    expect(requestHeaderVersion(ApiKeys.ApiVersions, 3)).toBe(2);
    expect(requestHeaderVersion(ApiKeys.ControlledShutdown, 0)).toBe(0);
    expect(requestHeaderVersion(ApiKeys.ControlledShutdown, 1)).toBe(1);
  });

  test("response header v1 for flexible versions, except ApiVersions (always v0)", () => {
    expect(responseHeaderVersion(ApiKeys.Fetch, 11)).toBe(0);
    expect(responseHeaderVersion(ApiKeys.Fetch, 12)).toBe(1);
    expect(responseHeaderVersion(ApiKeys.ApiVersions, 3)).toBe(0);
    expect(responseHeaderVersion(ApiKeys.ApiVersions, 4)).toBe(0);
  });

  test("the api table covers KRaft/controller APIs and marks flexible versions", () => {
    for (const name of ["Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "FetchSnapshot", "BrokerRegistration", "BrokerHeartbeat", "AlterPartition"]) {
      expect(apis.some((a) => a.name === name)).toBe(true);
    }
    const produce = apiSpec(ApiKeys.Produce);
    expect(produce?.minVersion).toBe(0);
    expect(produce?.flexibleMinVersion).toBe(9);
    expect(apiSpec(ApiKeys.Vote)?.listeners).toContain("controller");
    expect(apiSpec(12345)).toBeUndefined();
    expect(apiSpec(-1)).toBeUndefined();
  });
});

describe("hand-checked encodings (docs/protocol.html grammar)", () => {
  test("ApiVersions v0 request: header v1 (client id int16 string), empty body", () => {
    const frame = flattenChunks(encodeRequest(ApiKeys.ApiVersions, 0, 1, "abc", { clientSoftwareName: "", clientSoftwareVersion: "" }));
    expect(toHex(frame)).toBe("0000000d" + "0012" + "0000" + "00000001" + "0003616263");
    const req = decodeRequest(frame.subarray(4));
    expect(req.apiKey).toBe(ApiKeys.ApiVersions);
    expect(req.header.clientId).toBe("abc");
    expect(req.header.correlationId).toBe(1);
  });

  test("Metadata v0 request: topics as an int32-counted array of int16 strings", () => {
    const payload = hex("0003 0000 00000007 ffff 00000001 0003 666f6f");
    const req = decodeRequest(payload);
    if (req.apiKey !== ApiKeys.Metadata) throw new Error("wrong api");
    expect(req.header.clientId).toBeNull();
    expect(req.body.topics?.map((t) => t.name)).toEqual(["foo"]);
    const again = flattenChunks(encodeRequest(ApiKeys.Metadata, 0, 7, null, req.body));
    expect(toHex(again.subarray(4))).toBe(toHex(payload));
  });

  test("ApiVersions v3 request: header v2 keeps a non-compact client id, body uses compact strings", () => {
    const payload = hex("0012 0003 00000002 0001 63 00" + "06 62756e6b61 02 31 00");
    const req = decodeRequest(payload);
    if (req.apiKey !== ApiKeys.ApiVersions) throw new Error("wrong api");
    expect(req.header.clientId).toBe("c");
    expect(req.body.clientSoftwareName).toBe("bunka");
    expect(req.body.clientSoftwareVersion).toBe("1");
  });

  test("ApiVersions v3 response: header v0 (no tagged fields), compact array, tagged FinalizedFeaturesEpoch", () => {
    const body = { ...defaultApiVersionsResponse(), apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4, _unknownTaggedFields: undefined }], finalizedFeaturesEpoch: 5 };
    const frame = flattenChunks(encodeResponse(ApiKeys.ApiVersions, 3, 9, body));
    const expected = "00000009" + "0000" + "02" + "0012 0000 0004 00" + "00000000" + "01 01 08 0000000000000005";
    expect(toHex(frame.subarray(4))).toBe(toHex(hex(expected)));
    expect(new DataView(frame.buffer, frame.byteOffset).getInt32(0)).toBe(frame.length - 4);
    const back = decodeResponse(ApiKeys.ApiVersions, 3, frame.subarray(4));
    expect(back.header.correlationId).toBe(9);
    expect(back.body.finalizedFeaturesEpoch).toBe(5);
  });

  test("Metadata v9 response: header v1 carries an (empty) tagged-field section", () => {
    const frame = flattenChunks(encodeResponse(ApiKeys.Metadata, 9, 3, defaultMetadataResponse()));
    // correlation id, header tags, throttle, brokers [], cluster id null, controller id, topics [], cluster authorized ops, tags
    expect(toHex(frame.subarray(4))).toBe(toHex(hex("00000003 00" + "00000000" + "01" + "00" + "ffffffff" + "01" + "80000000" + "00")));
  });

  test("Produce v9 request: compact nullable records decode as a view of the frame", () => {
    const payload = hex("0000 0009 0000002a 0001 70 00" + "00 ffff 00007530 02 0274 02 00000000 04aabbcc 00 00 00");
    const req = decodeRequest(payload);
    if (req.apiKey !== ApiKeys.Produce) throw new Error("wrong api");
    expect(req.body.acks).toBe(-1);
    expect(req.body.timeoutMs).toBe(30000);
    expect(req.body.transactionalId).toBeNull();
    const records = req.body.topicData[0]?.partitionData[0]?.records;
    expect(records === null || records === undefined ? null : [...records]).toEqual([0xaa, 0xbb, 0xcc]);
    expect(records?.buffer).toBe(payload.buffer);
    const again = flattenChunks(encodeRequest(ApiKeys.Produce, 9, 42, "p", req.body));
    expect(toHex(again.subarray(4))).toBe(toHex(payload));
  });

  test("Fetch v12 response: tagged CurrentLeader written only when not default", () => {
    const partition = { ...defaultPartitionData(), partitionIndex: 1, currentLeader: { leaderId: 2, leaderEpoch: 3, _unknownTaggedFields: undefined } };
    const body = { ...defaultFetchResponse(), responses: [{ ...defaultFetchableTopicResponse(), topic: "t", partitions: [partition] }] };
    const frame = flattenChunks(encodeResponse(ApiKeys.Fetch, 12, 5, body));
    const expected =
      "00000005 00" + // header v1
      "00000000 0000 00000000" + // throttle, error, session
      "02 0274 02" + // one topic "t", one partition
      "00000001 0000 0000000000000000 ffffffffffffffff ffffffffffffffff" + // index, error, hw, lso, log start
      "01 ffffffff" + // aborted transactions [] (compact, empty), preferred read replica -1
      "00" + // records null
      "01 01 09 00000002 00000003 00" + // tag 1 CurrentLeader {2, 3, no tags}
      "00 00"; // topic tags, response tags
    expect(toHex(frame.subarray(4))).toBe(toHex(hex(expected)));
  });
});

describe("frames", () => {
  test("checkFrame: incomplete, complete, negative and oversized sizes", () => {
    expect(checkFrame(hex("0000"), 0)).toEqual({ kind: "incomplete", needBytes: 4 });
    expect(checkFrame(hex("00000003 0102"), 0)).toEqual({ kind: "incomplete", needBytes: 7 });
    expect(checkFrame(hex("ff 00000002 0102 99"), 1)).toEqual({ kind: "complete", size: 2, totalBytes: 6 });
    expect(decodeErrorOf(() => checkFrame(hex("ffffffff"), 0)).kind).toBe("negativeFrameSize");
    expect(decodeErrorOf(() => checkFrame(hex("7fffffff"), 0)).kind).toBe("frameTooLarge");
    expect(decodeErrorOf(() => checkFrame(hex("00000011"), 0, 16)).kind).toBe("frameTooLarge");
    expect(SOCKET_REQUEST_MAX_BYTES_DEFAULT).toBe(100 * 1024 * 1024);
  });

  test("decodeRequestFrame takes a whole frame and checks its size prefix", () => {
    const frame = flattenChunks(encodeRequest(ApiKeys.ApiVersions, 0, 1, "abc", { clientSoftwareName: "", clientSoftwareVersion: "" }));
    expect(decodeRequestFrame(frame).header.clientId).toBe("abc");
    expect(decodeErrorOf(() => decodeRequestFrame(frame.subarray(0, frame.length - 1))).kind).toBe("truncated");
    const longer = new Uint8Array(frame.length + 1);
    longer.set(frame);
    expect(decodeErrorOf(() => decodeRequestFrame(longer)).kind).toBe("trailingBytes");
    expect(decodeErrorOf(() => decodeRequestFrame(frame, { maxFrameBytes: 8 })).kind).toBe("frameTooLarge");
  });

  test("unknown api key and version out of range are UnsupportedRequestError with the correlation id", () => {
    const unknown = decodeErrorOf(() => decodeRequest(hex("03e7 0000 0000002a ffff")));
    expect(unknown).toBeInstanceOf(UnsupportedRequestError);
    expect(unknown.kind).toBe("unknownApiKey");
    expect((unknown as UnsupportedRequestError).correlationId).toBe(42);
    expect((unknown as UnsupportedRequestError).clientId).toBeNull(); // ffff: a null client id
    const named = decodeErrorOf(() => decodeRequest(hex("03e7 0000 0000002a 0002 6f6b")));
    expect((named as UnsupportedRequestError).clientId).toBe("ok");
    const tooNew = decodeErrorOf(() => decodeRequest(hex("0012 0063 00000007 0001 63 00")));
    expect(tooNew).toBeInstanceOf(UnsupportedRequestError);
    expect(tooNew.kind).toBe("unsupportedVersion");
    const u = tooNew as UnsupportedRequestError;
    expect([u.apiKey, u.apiVersion, u.correlationId, u.clientId]).toEqual([18, 99, 7, "c"]);
    expect(decodeErrorOf(() => decodeRequest(hex("ffff 0000 00000001"))).kind).toBe("unknownApiKey");
    expect(decodeErrorOf(() => decodeRequest(hex("0000 ffff 00000001"))).kind).toBe("unsupportedVersion");
  });

  test("peekRequestClientId reads the client id of any header but v0, or says null", () => {
    expect(peekRequestClientId(hex("0001 0002 00000001 0008 6f6c642d676f2d31 deadbeef"))).toBe("old-go-1");
    expect(peekRequestClientId(hex("0001 0002 00000001 ffff"))).toBeNull();
    expect(peekRequestClientId(hex("0001 0002 00000001 0009 6f6c64"))).toBeNull(); // torn
    expect(peekRequestClientId(hex("0001 0002 00000001 00"))).toBeNull();
    expect(peekRequestClientId(hex("16 03 01 02 00"))).toBeNull();
  });

  test("short headers, trailing bytes and bad bodies are DecodeErrors", () => {
    expect(decodeErrorOf(() => decodeRequest(hex("0012 00"))).kind).toBe("truncated");
    expect(decodeErrorOf(() => decodeRequest(hex("0012 0000 00000001 0003 61"))).kind).toBe("tooLarge");
    expect(decodeErrorOf(() => decodeRequest(hex("0012 0000 00000001 ffff 00"))).kind).toBe("trailingBytes");
    expect(decodeRequest(hex("0012 0000 00000001 ffff 00"), { allowTrailingBytes: true }).apiKey).toBe(ApiKeys.ApiVersions);
    // Metadata v0 with a topic count of 2^31 - 1 in a tiny frame: rejected before allocating.
    expect(decodeErrorOf(() => decodeRequest(hex("0003 0000 00000007 ffff 7fffffff 0003 666f6f"))).kind).toBe("tooLarge");
    // Negative topic count (-2).
    expect(decodeErrorOf(() => decodeRequest(hex("0003 0000 00000007 ffff fffffffe"))).kind).toBe("negativeLength");
    // Flexible header with an over-wide tagged-field count varint.
    expect(decodeErrorOf(() => decodeRequest(hex("0012 0003 00000002 0001 63 ffffffff7f"))).kind).toBe("badVarint");
    // A known tagged field (Fetch v12 request ClusterId, tag 0) whose size disagrees with its value.
    // replica, max wait, min bytes, max bytes, isolation, session id/epoch, topics [], forgotten [], rack "",
    // then 1 tagged field: tag 0, size 3, but the compact string "x" takes 2 bytes.
    const fetchBody = "ffffffff 00000000 00000001 00100000 00 00000000 ffffffff 01 01 01";
    const good = hex(`0001 000c 00000001 ffff 00 ${fetchBody} 01 00 02 0278`);
    const fetch = decodeRequest(good);
    if (fetch.apiKey !== ApiKeys.Fetch) throw new Error("wrong api");
    expect(fetch.body.clusterId).toBe("x");
    expect(fetch.body.sessionEpoch).toBe(-1);
    const bad = hex(`0001 000c 00000001 ffff 00 ${fetchBody} 01 00 03 0278 00`);
    expect(decodeErrorOf(() => decodeRequest(bad)).kind).toBe("badValue");
  });
});
