/**
 * AES-256-GCM, injected: Web Crypto (always available) runs at ~60 MB/s in Bun 1.4.5 on
 * these machines, node:crypto at ~200 MB/s, so tools that seal bulk data (backup) take this
 * interface and the Bun adapter (`bun/aead.ts`) supplies node:crypto's. Both produce the
 * same bytes: ciphertext ‖ 16-byte tag, 12-byte nonce, additional data authenticated.
 */
export interface Aes256Gcm {
  /** ciphertext ‖ tag. `key` is 32 bytes, `nonce` 12. */
  seal(key: Uint8Array, nonce: Uint8Array, associated: Uint8Array, plain: Uint8Array): Uint8Array;
  /**
   * Like `seal`, written into `out` (exactly plain.length + 16 bytes) instead of a new array:
   * optional, for a platform whose cipher can stream into memory the caller reuses.
   */
  sealInto?(key: Uint8Array, nonce: Uint8Array, associated: Uint8Array, plain: Uint8Array, out: Uint8Array): void;
  /** The plaintext, or null when the tag does not check. */
  open(key: Uint8Array, nonce: Uint8Array, associated: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}
