// Bulk zigzag varints (Kafka's record fields): one call per array, never per value.
//
// 32-bit: values i32[count] <-> at most 5 bytes each; a 5th byte's bits above bit 31 are
// dropped (as Kafka's ByteUtils does). 64-bit: values are f64 safe integers (|v| < 2^53),
// at most 10 bytes each; bytes 9 and 10 may only carry zero payload.
// Decoders return bytes consumed, or -1 on truncation, an over-long varint, or (64-bit) a
// value outside ±(2^53 - 1). Encoders write into a region the caller sized for the worst
// case (5 or 10 bytes per value) and return bytes written; encodeVarints64 returns -1 when
// a value is not a safe integer.

export function encodeVarints32(values: usize, count: i32, out: usize): i32 {
  let o = out;
  const end = values + (<usize>count << 2);
  for (let v = values; v < end; v += 4) {
    const x = load<i32>(v);
    let z = <u32>((x << 1) ^ (x >> 31));
    while (z >= 0x80) {
      store<u8>(o++, <u8>(z | 0x80));
      z >>>= 7;
    }
    store<u8>(o++, <u8>z);
  }
  return <i32>(o - out);
}

export function decodeVarints32(ptr: usize, len: i32, count: i32, out: usize): i32 {
  const end = ptr + <usize>len;
  let p = ptr;
  const outEnd = out + (<usize>count << 2);
  for (let o = out; o < outEnd; o += 4) {
    let z: u32;
    if (end - p >= 5) {
      // Fast path: no bounds check per byte.
      let b = <u32>load<u8>(p);
      z = b & 0x7f;
      if (b < 0x80) {
        p += 1;
      } else {
        b = load<u8>(p, 1);
        z |= (b & 0x7f) << 7;
        if (b < 0x80) {
          p += 2;
        } else {
          b = load<u8>(p, 2);
          z |= (b & 0x7f) << 14;
          if (b < 0x80) {
            p += 3;
          } else {
            b = load<u8>(p, 3);
            z |= (b & 0x7f) << 21;
            if (b < 0x80) {
              p += 4;
            } else {
              b = load<u8>(p, 4);
              if (b >= 0x80) return -1;
              z |= b << 28;
              p += 5;
            }
          }
        }
      }
    } else {
      z = 0;
      let shift: u32 = 0;
      for (;;) {
        if (p >= end) return -1;
        const b = <u32>load<u8>(p++);
        z |= (b & 0x7f) << shift;
        if (b < 0x80) break;
        shift += 7;
        if (shift > 28) return -1;
      }
    }
    store<i32>(o, <i32>((z >>> 1) ^ (0 - (z & 1))));
  }
  return <i32>(p - ptr);
}

const safeMax: f64 = 9007199254740991;

export function encodeVarints64(values: usize, count: i32, out: usize): i32 {
  let o = out;
  const end = values + (<usize>count << 3);
  for (let v = values; v < end; v += 8) {
    const f = load<f64>(v);
    // NaN fails both comparisons' complements; fractions fail the trunc check.
    if (!(f >= -safeMax && f <= safeMax) || f != Math.trunc(f)) return -1;
    const x = <i64>f;
    let z = <u64>((x << 1) ^ (x >> 63));
    while (z >= 0x80) {
      store<u8>(o++, <u8>(z | 0x80));
      z >>>= 7;
    }
    store<u8>(o++, <u8>z);
  }
  return <i32>(o - out);
}

export function decodeVarints64(ptr: usize, len: i32, count: i32, out: usize): i32 {
  const end = ptr + <usize>len;
  let p = ptr;
  const outEnd = out + (<usize>count << 3);
  for (let o = out; o < outEnd; o += 8) {
    if (p >= end) return -1;
    let b = <u64>load<u8>(p++);
    let z: u64 = b & 0x7f;
    if (b >= 0x80) {
      let shift: u64 = 7;
      for (;;) {
        if (p >= end) return -1;
        b = <u64>load<u8>(p++);
        const bits = b & 0x7f;
        if (shift >= 56) {
          if (bits != 0) return -1;
        } else {
          z |= bits << shift;
        }
        if (b < 0x80) break;
        shift += 7;
        if (shift > 63) return -1;
      }
    }
    // Zigzag values of safe integers stay below 2^54; -(2^53) (zigzag 2^54 - 1) is unsafe.
    if (z >= 0x3fffffffffffff) return -1;
    const mag = z >>> 1;
    store<f64>(o, z & 1 ? -<f64>mag - 1 : <f64>mag);
  }
  return <i32>(p - ptr);
}
