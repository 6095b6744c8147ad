/**
 * Kafka UUIDs on the wire are 16 raw bytes; in memory the codec represents them as Kafka's
 * text form, 22 unpadded base64url characters (what Kafka logs and tools print), so they can
 * be compared with `===` and used as map keys. The all-zero UUID is Kafka's "none".
 *
 * Invariant: `uuidBytesToText` and `uuidTextToBytes` are inverse on the 2^128 values; text
 * whose final character carries non-zero padding bits is rejected, so each UUID has exactly
 * one text form.
 */

export const ZERO_UUID_TEXT = "AAAAAAAAAAAAAAAAAAAAAA";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const CHAR_OF: string[] = [...ALPHABET];
const VALUE_OF = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUE_OF[ALPHABET.charCodeAt(i)] = i;

/** Text form of the 16 bytes at `bytes[start..start+16)`; the caller checked bounds. */
export function uuidBytesToText(bytes: Uint8Array, start: number): string {
  let s = "";
  let i = start;
  // 15 bytes = 5 groups of 3 bytes = 20 characters; the 16th byte gives 2 more.
  for (let g = 0; g < 5; g++, i += 3) {
    const v = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += (CHAR_OF[v >>> 18] ?? "") + (CHAR_OF[(v >>> 12) & 63] ?? "") + (CHAR_OF[(v >>> 6) & 63] ?? "") + (CHAR_OF[v & 63] ?? "");
  }
  const last = bytes[i] ?? 0;
  return s + (CHAR_OF[last >>> 2] ?? "") + (CHAR_OF[(last & 3) << 4] ?? "");
}

/**
 * Writes the 16 bytes of `text` at `out[start..start+16)`; returns false (writing nothing
 * meaningful) when `text` is not a canonical 22-character base64url UUID.
 */
export function uuidTextToBytes(text: string, out: Uint8Array, start: number): boolean {
  if (text.length !== 22) return false;
  let j = start;
  for (let i = 0; i < 20; i += 4, j += 3) {
    const a = charValue(text, i);
    const b = charValue(text, i + 1);
    const c = charValue(text, i + 2);
    const d = charValue(text, i + 3);
    if ((a | b | c | d) < 0) return false;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[j] = v >>> 16;
    out[j + 1] = (v >>> 8) & 0xff;
    out[j + 2] = v & 0xff;
  }
  const a = charValue(text, 20);
  const b = charValue(text, 21);
  if ((a | b) < 0 || (b & 15) !== 0) return false;
  out[j] = (a << 2) | (b >>> 4);
  return true;
}

function charValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? (VALUE_OF[c] ?? -1) : -1;
}
