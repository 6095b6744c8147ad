/**
 * Kafka UUIDs (topic ids, incarnation ids): 16 random bytes, written as unpadded base64url
 * (22 characters). The all-zero UUID means "none" on the wire and is never generated; like
 * Kafka, generation also avoids ids whose text starts with '-', which command lines would
 * take for a flag.
 */
import type { Prng } from "../platform/prng.ts";

declare const uuidBrand: unique symbol;
/** A UUID in Kafka's string form: 22 base64url characters. */
export type Uuid = string & { readonly [uuidBrand]: true };

export const ZERO_UUID = "AAAAAAAAAAAAAAAAAAAAAA" as Uuid;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export function uuidToBytes(id: Uuid): Uint8Array {
  const out = new Uint8Array(16);
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (const ch of id) {
    acc = (acc << 6) | B64_INDEX.get(ch)!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

export function uuidFromBytes(bytes: Uint8Array): Uuid {
  if (bytes.length !== 16) throw new RangeError(`uuidFromBytes: ${bytes.length} bytes, need 16`);
  let s = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffffff;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      s += B64[(acc >>> bits) & 63];
    }
  }
  if (bits > 0) s += B64[(acc << (6 - bits)) & 63];
  return s as Uuid;
}

/** Parses Kafka's string form; null when it is not 22 base64url characters. */
export function parseUuid(text: string): Uuid | null {
  if (text.length !== 22) return null;
  for (const ch of text) if (!B64_INDEX.has(ch)) return null;
  // The last character carries 2 bits of padding, which must be zero.
  if ((B64_INDEX.get(text[21]!)! & 0b1111) !== 0) return null;
  return text as Uuid;
}

export function randomUuid(prng: Prng): Uuid {
  for (;;) {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) {
      const v = prng.nextU32();
      bytes[i] = v >>> 24;
      bytes[i + 1] = (v >>> 16) & 0xff;
      bytes[i + 2] = (v >>> 8) & 0xff;
      bytes[i + 3] = v & 0xff;
    }
    const id = uuidFromBytes(bytes);
    if (id !== ZERO_UUID && !id.startsWith("-")) return id;
  }
}
