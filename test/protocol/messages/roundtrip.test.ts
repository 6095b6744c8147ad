/**
 * Seeded round-trip property tests for EVERY (message, version) pair of the generated codecs:
 * decode(encode(x)) equals x normalised to the fields the version carries, and
 * encode(decode(bytes)) reproduces the bytes. Values are drawn from the schema (see
 * schema-values.ts), including nulls, empty and larger arrays, unicode strings and unknown
 * tagged fields on flexible versions (which must survive). Also: non-default values in fields
 * a version lacks throw EncodeError unless ignorable, and nulls where a version cannot carry
 * them throw EncodeError. Every encoding is also compared byte for byte with a slow
 * schema-interpreting reference encoder (reference-encoder.ts) that shares no code with the
 * runtime.
 *
 * Replay a failure with PROTOCOL_SEED=<seed printed in the failure> bun test test/protocol/messages
 */
import { describe, expect, test } from "bun:test";
import { SeededPrng } from "../../../src/platform/prng.ts";
import { EncodeError } from "../../../src/protocol/codec/codec-error.ts";
import { everNullable, isFlexible, isNullable, isPresent, loadMessages, type MessageSpec, versionsOf } from "../../../scripts/gen-protocol.ts";
import { referenceEncode } from "./reference-encoder.ts";
import { specDir, specsMissingReason, specsPresent } from "../kafka-specs.ts";
import { decodeBody, defaultValue, encodeBody, normalise, type Obj, randomStruct } from "./schema-values.ts";

const messages = specsPresent ? loadMessages(specDir) : [];
if (!specsPresent) test.skip(`every message and version (${specsMissingReason})`, () => undefined);
const baseSeed = Number(process.env.PROTOCOL_SEED ?? 20261121);
const ITERATIONS = 12;

function seedFor(m: MessageSpec, v: number, i: number): number {
  return (baseSeed ^ Math.imul(m.apiKey + 1, 0x9e3779b1) ^ Math.imul(v + 1, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35) ^ (m.kind === "request" ? 0 : 0x5bd1e995)) >>> 0;
}

test.skipIf(!specsPresent)("every API key has a request and a response, and the table covers all schema versions", () => {
  expect(messages.length).toBeGreaterThanOrEqual(170);
  const names = new Set(messages.map((m) => m.name));
  for (const n of ["VoteRequest", "BeginQuorumEpochRequest", "FetchSnapshotResponse", "BrokerRegistrationRequest", "BrokerHeartbeatResponse", "AlterPartitionRequest"]) {
    expect(names.has(n)).toBe(true);
  }
});

describe("round trip", () => {
  for (const m of messages) {
    test(`${m.name} v${m.validVersions.min}-${m.validVersions.max}`, () => {
      for (const v of versionsOf(m)) {
        for (let i = 0; i < ITERATIONS; i++) {
          const seed = seedFor(m, v, i);
          const prng = new SeededPrng(seed);
          const opts = { arrayMax: i < 2 ? i : 4, unknownTagChance: 0.3 };
          const value = randomStruct(m, m.root, v, prng, 0, opts);
          try {
            const bytes = encodeBody(m, value, v);
            expect(bytes).toEqual(referenceEncode(m, value, v));
            const { value: decoded, consumed } = decodeBody(m, bytes, v);
            expect(consumed).toBe(bytes.length);
            expect(decoded).toEqual(normalise(m, m.root, v, value));
            const again = encodeBody(m, decoded as Obj, v);
            expect(again).toEqual(bytes);
          } catch (e) {
            console.error(`${m.name} v${v} iteration ${i}: replay with PROTOCOL_SEED=${baseSeed} (case seed ${seed})`);
            throw e;
          }
        }
      }
    });
  }
});

let rejectionsChecked = 0;
describe("encode rejects what a version cannot carry", () => {
  for (const m of messages) {
    test(`${m.name}`, () => {
      let checked = 0;
      for (const v of versionsOf(m)) {
        const prng = new SeededPrng(seedFor(m, v, 999));
        for (const f of m.root.fields) {
          const base = randomStruct(m, m.root, v, prng, 0, { arrayMax: 1, unknownTagChance: 0 });
          if (!isPresent(f, v) && !f.ignorable) {
            // A non-default value in a field the version lacks.
            const bad = { ...base, [f.prop]: nonDefault(f.type.kind === "primitive" ? f.type.name : f.type.kind, defaultValue(f)) };
            if (bad[f.prop] === undefined) continue;
            expect(() => encodeBody(m, bad, v)).toThrow(EncodeError);
            checked++;
          }
          if (f === m.root.fields[0] && !isFlexible(m, v) && m.flexibleVersions !== null && m.flexibleVersions.min <= m.validVersions.max) {
            // Unknown tagged fields in a version without a tagged-field section.
            expect(() => encodeBody(m, { ...base, _unknownTaggedFields: [{ tag: 9, data: new Uint8Array(1) }] }, v)).toThrow(EncodeError);
            checked++;
          }
          if (isPresent(f, v) && everNullable(f) && !isNullable(f, v)) {
            expect(() => encodeBody(m, { ...base, [f.prop]: null }, v)).toThrow(EncodeError);
            checked++;
          }
        }
      }
      rejectionsChecked += checked;
    });
  }
  test.skipIf(!specsPresent)("the rejection checks above exercised many fields", () => {
    expect(rejectionsChecked).toBeGreaterThan(100);
  });
});

/** Some value different from the default, or undefined when none is easy to make. */
function nonDefault(type: string, d: unknown): unknown {
  switch (type) {
    case "bool":
      return !d;
    case "string":
      return d === "x" ? "y" : "x";
    case "uuid":
      return "AQAAAAAAAAAAAAAAAAAAAA";
    case "bytes":
    case "records":
      return new Uint8Array(3);
    case "array":
      return d === null ? [] : undefined;
    case "struct":
      return undefined;
    default:
      return typeof d === "number" ? (d === 7 ? 8 : 7) : undefined;
  }
}
