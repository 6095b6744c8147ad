/** AES-256-GCM on node:crypto (see ../aead.ts for why not Web Crypto). */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Aes256Gcm } from "../aead.ts";

const tagBytes = 16;
const sealSliceBytes = 256 * 1024;

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
  sealInto(key, nonce, associated, plain, out) {
    if (out.length !== plain.length + tagBytes) throw new RangeError(`sealInto: ${out.length} output bytes for ${plain.length} + ${tagBytes}`);
    const c = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
    c.setAAD(associated);
    // Slices: each update() output is small enough for the allocator to reuse memory it has,
    // where one chunk-sized output costs fresh pages (2.8 GB/s of CPU against ~0.5 here).
    let at = 0;
    for (let p = 0; p < plain.length; p += sealSliceBytes) {
      const part = c.update(plain.subarray(p, Math.min(plain.length, p + sealSliceBytes)));
      out.set(part, at);
      at += part.length;
    }
    const tail = c.final();
    out.set(tail, at);
    at += tail.length;
    if (at !== plain.length) throw new Error(`AES-GCM wrote ${at} bytes for ${plain.length}`);
    out.set(c.getAuthTag(), at);
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
