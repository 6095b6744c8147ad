/**
 * Kafka UUIDs (topic ids, incarnation ids): 16 random bytes, written as unpadded base64url
 * (22 characters), encoded by the protocol codec's `uuidBytesToText`/`uuidTextToBytes`. The
 * all-zero UUID means "none" on the wire and is never generated; like Kafka, generation also
 * avoids ids whose text starts with '-', which command lines would take for a flag.
 */
import type { Prng } from "../platform/prng.ts";
import { uuidBytesToText, uuidTextToBytes, ZERO_UUID_TEXT } from "../protocol/codec/uuid.ts";

declare const uuidBrand: unique symbol;
/** A UUID in Kafka's string form: 22 base64url characters. */
export type Uuid = string & { readonly [uuidBrand]: true };

export const ZERO_UUID = ZERO_UUID_TEXT as Uuid;

export function uuidToBytes(id: Uuid): Uint8Array {
  const out = new Uint8Array(16);
  if (!uuidTextToBytes(id, out, 0)) throw new RangeError(`uuidToBytes: ${JSON.stringify(id)} is not a Kafka UUID`);
  return out;
}

export function uuidFromBytes(bytes: Uint8Array): Uuid {
  if (bytes.length !== 16) throw new RangeError(`uuidFromBytes: ${bytes.length} bytes, need 16`);
  return uuidBytesToText(bytes, 0) as Uuid;
}

/** Parses Kafka's string form; null when it is not a canonical 22-character base64url UUID. */
export function parseUuid(text: string): Uuid | null {
  return uuidTextToBytes(text, new Uint8Array(16), 0) ? (text as Uuid) : null;
}

/** 16 random bytes from `prng`, big-endian per 32-bit draw. */
function randomUuidBytes(prng: Prng): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 16; i += 4) view.setUint32(i, prng.nextU32());
  return bytes;
}

export function randomUuid(prng: Prng): Uuid {
  for (;;) {
    const id = uuidFromBytes(randomUuidBytes(prng));
    if (id !== ZERO_UUID && !id.startsWith("-")) return id;
  }
}
