/** AES-256-GCM on node:crypto (see ../aead.ts for why not Web Crypto). */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Aes256Gcm } from "../aead.ts";

const tagBytes = 16;

export const nodeAes256Gcm: Aes256Gcm = {
  seal(key, nonce, associated, plain) {
    const c = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
    c.setAAD(associated);
    const body = c.update(plain);
    const tail = c.final();
    const tag = c.getAuthTag();
    // allocUnsafe: a zeroed `new Uint8Array` of a chunk's size costs fresh pages the host
    // faults in (several times the cost of the cipher itself here); every byte is written below.
    const out = Buffer.allocUnsafe(body.length + tail.length + tag.length);
    out.set(body, 0);
    out.set(tail, body.length);
    out.set(tag, body.length + tail.length);
    return out;
  },
  open(key, nonce, associated, sealed) {
    if (sealed.length < tagBytes) return null;
    try {
      const d = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
      d.setAAD(associated);
      d.setAuthTag(sealed.subarray(sealed.length - tagBytes));
      const body = d.update(sealed.subarray(0, sealed.length - tagBytes));
      const tail = d.final();
      if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length);
      const out = new Uint8Array(body.length + tail.length);
      out.set(body, 0);
      out.set(tail, body.length);
      return out;
    } catch {
      return null;
    }
  },
};
