import { describe, expect, test } from "bun:test";
import { ErrorCode, allErrors, errorName, isKnownErrorCode, isRetriable } from "../../src/protocol/errors.ts";

describe("Kafka error codes", () => {
  test("codes and names are unique", () => {
    const rows = allErrors();
    expect(new Set(rows.map((r) => r.code)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
    for (const r of rows) {
      expect(Number.isInteger(r.code)).toBe(true);
      expect(r.code).toBeGreaterThanOrEqual(-32768);
      expect(r.code).toBeLessThanOrEqual(32767);
    }
  });

  test("well-known codes", () => {
    const expected: Array<[keyof typeof ErrorCode, number]> = [
      ["UNKNOWN_SERVER_ERROR", -1],
      ["NONE", 0],
      ["OFFSET_OUT_OF_RANGE", 1],
      ["CORRUPT_MESSAGE", 2],
      ["UNKNOWN_TOPIC_OR_PARTITION", 3],
      ["LEADER_NOT_AVAILABLE", 5],
      ["NOT_LEADER_OR_FOLLOWER", 6],
      ["REQUEST_TIMED_OUT", 7],
      ["MESSAGE_TOO_LARGE", 10],
      ["NOT_COORDINATOR", 16],
      ["NOT_ENOUGH_REPLICAS", 19],
      ["UNSUPPORTED_VERSION", 35],
      ["INVALID_REQUEST", 42],
      ["OUT_OF_ORDER_SEQUENCE_NUMBER", 45],
      ["INVALID_PRODUCER_EPOCH", 47],
      ["UNKNOWN_PRODUCER_ID", 59],
      ["FENCED_LEADER_EPOCH", 74],
      ["UNSUPPORTED_COMPRESSION_TYPE", 76],
      ["INVALID_RECORD", 87],
      ["PRODUCER_FENCED", 90],
      ["UNKNOWN_TOPIC_ID", 100],
      ["TRANSACTION_ABORTABLE", 120],
    ];
    for (const [name, code] of expected) {
      expect(ErrorCode[name] as number).toBe(code);
      expect(errorName(code)).toBe(name);
    }
    const six: 6 = ErrorCode.NOT_LEADER_OR_FOLLOWER;
    expect(six).toBe(6);
  });

  test("retriable classification matches Kafka", () => {
    for (const c of [2, 3, 5, 6, 7, 13, 14, 15, 16, 19, 20, 41, 51, 56, 74, 75, 78, 89, 100]) expect(isRetriable(c)).toBe(true);
    for (const c of [-1, 0, 1, 10, 17, 18, 35, 42, 45, 47, 59, 87, 90]) expect(isRetriable(c)).toBe(false);
  });

  test("unknown codes", () => {
    expect(isKnownErrorCode(9999)).toBe(false);
    expect(errorName(9999)).toBe("UNKNOWN_SERVER_ERROR");
    expect(isRetriable(9999)).toBe(false);
    expect(isKnownErrorCode(0)).toBe(true);
  });
});
