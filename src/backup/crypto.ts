/**
 * The backup key and what is derived from it, on Web Crypto (`crypto.subtle`, a web
 * standard global, so no platform adapter is needed).
 *
 * Key file: the 256-bit key as 64 hex characters (what `openssl rand -hex 32` writes;
 * surrounding whitespace ignored) or exactly 32 raw bytes. Anything else is refused.
 *
 * Derived values (domain-separated SHA-256 of the key; the key is 256 random bits, so a
 * hash is as good a key-derivation function as any):
 * - key id: first 16 hex digits of SHA-256("bunka-backup key-id v1\0" ‖ key). Stored in the
 *   manifest, so a wrong key is named as such before any chunk is opened.
 * - manifest MAC key: SHA-256("bunka-backup manifest-mac v1\0" ‖ key), HMAC-SHA-256 over the
 *   manifest's exact bytes (manifest.sum), so an edited manifest fails with a key in hand.
 * Chunks are sealed with AES-256-GCM under the key itself: a fresh random 96-bit nonce per
 * chunk (at most 2^32 chunks per key keeps the collision bound negligible) and the chunk's
 * identity as associated data (format.ts).
 */
import type { Aes256Gcm } from "../platform/aead.ts";

export const keyBytes = 32;
export const nonceBytes = 12;
export const gcmTagBytes = 16;
/** A key file larger than this is not a key file (64 hex digits plus generous whitespace). */
export const keyFileBytesMax = 4096;

const encoder = new TextEncoder();

export class BackupKey {
  readonly id: string;
  readonly #aes: CryptoKey;
  readonly #mac: CryptoKey;
  readonly #raw: Uint8Array;
  readonly #fast: Aes256Gcm | null;

  private constructor(id: string, aes: CryptoKey, mac: CryptoKey, raw: Uint8Array, fast: Aes256Gcm | null) {
    this.id = id;
    this.#aes = aes;
    this.#mac = mac;
    this.#raw = raw;
    this.#fast = fast;
  }

  /** `fast`: an injected AES-256-GCM (same bytes as Web Crypto's, faster); Web Crypto otherwise. */
  static async fromBytes(raw: Uint8Array, fast: Aes256Gcm | null = null): Promise<BackupKey> {
    if (raw.length !== keyBytes) throw new RangeError(`a backup key is ${keyBytes} bytes, not ${raw.length}`);
    const id = hex(await sha256(concat(encoder.encode("bunka-backup key-id v1\0"), raw))).slice(0, 16);
    const macRaw = await sha256(concat(encoder.encode("bunka-backup manifest-mac v1\0"), raw));
    const aes = await crypto.subtle.importKey("raw", own(raw), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    const mac = await crypto.subtle.importKey("raw", own(macRaw), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    return new BackupKey(id, aes, mac, raw.slice(), fast);
  }

  async seal(plain: Uint8Array, nonce: Uint8Array, associated: Uint8Array): Promise<Uint8Array> {
    if (nonce.length !== nonceBytes) throw new RangeError(`nonce of ${nonce.length} bytes`);
    if (this.#fast !== null) return this.#fast.seal(this.#raw, nonce, associated, plain);
    const out = await crypto.subtle.encrypt({ name: "AES-GCM", iv: own(nonce), additionalData: own(associated), tagLength: gcmTagBytes * 8 }, this.#aes, own(plain));
    return new Uint8Array(out);
  }

  /** Seals into `out` (exactly `plain.length` + 16 bytes): ciphertext ‖ tag, the bytes `seal` returns. */
  async sealInto(plain: Uint8Array, nonce: Uint8Array, associated: Uint8Array, out: Uint8Array): Promise<void> {
    if (out.length !== plain.length + gcmTagBytes) throw new RangeError(`sealInto: ${out.length} output bytes for ${plain.length} + ${gcmTagBytes}`);
    if (nonce.length !== nonceBytes) throw new RangeError(`nonce of ${nonce.length} bytes`);
    if (this.#fast?.sealInto !== undefined) {
      this.#fast.sealInto(this.#raw, nonce, associated, plain, out);
      return;
    }
    out.set(await this.seal(plain, nonce, associated));
  }

  /** The plaintext, or null when the tag does not check (wrong key, altered bytes or identity). */
  async open(sealed: Uint8Array, nonce: Uint8Array, associated: Uint8Array): Promise<Uint8Array | null> {
    if (nonce.length !== nonceBytes || sealed.length < gcmTagBytes) return null;
    if (this.#fast !== null) return this.#fast.open(this.#raw, nonce, associated, sealed);
    try {
      const out = await crypto.subtle.decrypt({ name: "AES-GCM", iv: own(nonce), additionalData: own(associated), tagLength: gcmTagBytes * 8 }, this.#aes, own(sealed));
      return new Uint8Array(out);
    } catch {
      return null;
    }
  }

  async mac(bytes: Uint8Array): Promise<string> {
    return hex(new Uint8Array(await crypto.subtle.sign("HMAC", this.#mac, own(bytes))));
  }
}

/** Parses a key file's bytes (64 hex digits, whitespace around ignored, or 32 raw bytes). */
export function parseKeyFile(bytes: Uint8Array): { ok: true; key: Uint8Array } | { ok: false; reason: string } {
  if (bytes.length > keyFileBytesMax) return { ok: false, reason: `${bytes.length} bytes; a key file holds 64 hex digits or ${keyBytes} raw bytes` };
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes).trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    const key = new Uint8Array(keyBytes);
    for (let i = 0; i < keyBytes; i++) key[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
    return { ok: true, key };
  }
  if (bytes.length === keyBytes) return { ok: true, key: bytes.slice() };
  return { ok: false, reason: `neither 64 hex digits (openssl rand -hex 32) nor ${keyBytes} raw bytes (${bytes.length} bytes read)` };
}

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", own(bytes)));
}

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Web Crypto takes views over an ArrayBuffer (not a SharedArrayBuffer): the bytes themselves when they are, else a copy. */
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
