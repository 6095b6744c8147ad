/**
 * XXH32 (xxHash, 32-bit), the checksum of the LZ4 frame format: the frame header checksum
 * byte and the optional block/content checksums. Plain TS on 32-bit integer math; only the
 * header checksum (a few bytes) is on a common path.
 */

const prime1 = 0x9e37_79b1;
const prime2 = 0x85eb_ca77;
const prime3 = 0xc2b2_ae3d;
const prime4 = 0x27d4_eb2f;
const prime5 = 0x1656_67b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function readU32LE(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, prime2)) | 0, 13), prime1);
}

/** XXH32 of bytes[start, end) with `seed`; an unsigned 32-bit result. */
export function xxhash32(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  if (start < 0 || end > bytes.length || start > end) throw new RangeError(`xxhash32: bad range [${start}, ${end}) of ${bytes.length}`);
  const len = end - start;
  let p = start;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + prime1 + prime2) | 0;
    let v2 = (seed + prime2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - prime1) | 0;
    const limit = end - 16;
    while (p <= limit) {
      v1 = round(v1, readU32LE(bytes, p));
      v2 = round(v2, readU32LE(bytes, p + 4));
      v3 = round(v3, readU32LE(bytes, p + 8));
      v4 = round(v4, readU32LE(bytes, p + 12));
      p += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + prime5) | 0;
  }
  h = (h + len) | 0;
  while (p + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(readU32LE(bytes, p), prime3)) | 0, 17), prime4);
    p += 4;
  }
  while (p < end) {
    h = Math.imul(rotl((h + Math.imul(bytes[p]!, prime5)) | 0, 11), prime1);
    p++;
  }
  h ^= h >>> 15;
  h = Math.imul(h, prime2);
  h ^= h >>> 13;
  h = Math.imul(h, prime3);
  h ^= h >>> 16;
  return h >>> 0;
}
