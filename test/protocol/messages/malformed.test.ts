/**
 * Malformed input against every (message, version) decoder: a sample encoding truncated at
 * every byte position, and seeded random corruptions, must give a DecodeError (the class is
 * asserted) and never another exception. Truncation can never decode: a decoder reads the
 * same fields from a prefix as from the whole, so it must run out of bytes.
 *
 * Replay with PROTOCOL_SEED=<seed> bun test test/protocol/messages
 */
import { describe, expect, test } from "bun:test";
import { SeededPrng } from "../../../src/platform/prng.ts";
import { DecodeError } from "../../../src/protocol/codec/codec-error.ts";
import { loadMessages, versionsOf } from "../../../scripts/gen-protocol.ts";
import { specDir, specsMissingReason, specsPresent } from "../kafka-specs.ts";
import { decodeBody, encodeBody, randomStruct } from "./schema-values.ts";

const messages = specsPresent ? loadMessages(specDir) : [];
if (!specsPresent) test.skip(`every message and version (${specsMissingReason})`, () => undefined);
const baseSeed = Number(process.env.PROTOCOL_SEED ?? 20261121);

function expectDecodeErrorOrSuccess(f: () => unknown, what: string): "ok" | "error" {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof DecodeError) return "error";
    console.error(`${what}: not a DecodeError (replay with PROTOCOL_SEED=${baseSeed})`);
    throw e;
  }
}

describe("truncation at every byte and random corruption", () => {
  for (const m of messages) {
    test(m.name, () => {
      for (const v of versionsOf(m)) {
        const seed = (baseSeed ^ Math.imul(m.apiKey + 7, 0x27d4eb2d) ^ Math.imul(v + 3, 0x165667b1) ^ (m.kind === "request" ? 0 : 1)) >>> 0;
        const prng = new SeededPrng(seed);
        const sample = encodeBody(m, randomStruct(m, m.root, v, prng, 0, { arrayMax: 2, unknownTagChance: 0.5 }), v);
        for (let cut = 0; cut < sample.length; cut++) {
          const prefix = sample.subarray(0, cut);
          const outcome = expectDecodeErrorOrSuccess(() => decodeBody(m, prefix, v), `${m.name} v${v} cut at ${cut}`);
          if (outcome !== "error") throw new Error(`${m.name} v${v}: a ${cut}-byte prefix of ${sample.length} bytes decoded (seed ${seed})`);
        }
        for (let i = 0; i < 20 && sample.length > 0; i++) {
          const bad = sample.slice();
          const flips = 1 + prng.int(3);
          for (let k = 0; k < flips; k++) bad[prng.int(bad.length)] = prng.int(256);
          expectDecodeErrorOrSuccess(() => decodeBody(m, bad, v), `${m.name} v${v} corruption ${i} (seed ${seed})`);
        }
      }
      expect(true).toBe(true);
    });
  }
});
