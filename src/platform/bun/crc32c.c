/*
 * CRC32C with the x86-64 SSE4.2 crc32 instruction, compiled at startup by Bun's built-in
 * C compiler (bun:ffi `cc`, TinyCC) and loaded by native-crc.ts.
 *
 * TinyCC's assembler has no SSE4.2 mnemonics, so each crc32 is written as its encoding
 * with fixed registers (the constraint letters pin them):
 *   crc32q %rcx, %rax   f2 48 0f 38 f1 c1
 *   crc32q %rcx, %rbx   f2 48 0f 38 f1 d9
 *   crc32q %rcx, %rdx   f2 48 0f 38 f1 d1
 *   crc32b %cl,  %eax   f2 0f 38 f0 c1
 *   cpuid               0f a2
 * No headers and no libc (it is built with -nostdlib): it must compile on a machine without
 * a system include path or libc's development files.
 *
 * Long inputs run three independent streams over consecutive blocks of `block` bytes (the
 * instruction's latency is three times its issue rate), then join them: the register
 * update is linear, so crc(A ++ B) = shift(crc(A)) ^ crc0(B), where shift multiplies by
 * x^(8 * block) mod P, precomputed as four byte-indexed tables.
 *
 * Callers (native-crc.ts) call crc32c_init once, and only when crc32c_supported() is 1, and
 * guarantee 0 <= start, 0 <= len, start + len <= the array's length.
 */
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define CRC_A(c, v) __asm__(".byte 0xf2,0x48,0x0f,0x38,0xf1,0xc1" : "+a"(c) : "c"(v))
#define CRC_B(c, v) __asm__(".byte 0xf2,0x48,0x0f,0x38,0xf1,0xd9" : "+b"(c) : "c"(v))
#define CRC_D(c, v) __asm__(".byte 0xf2,0x48,0x0f,0x38,0xf1,0xd1" : "+d"(c) : "c"(v))
#define CRC_BYTE(c, v) __asm__(".byte 0xf2,0x0f,0x38,0xf0,0xc1" : "+a"(c) : "c"(v))

enum { block = 2048 };

static u32 shift_table[4][256];

/** 1 when the CPU has SSE4.2 (CPUID leaf 1, ECX bit 20). */
int crc32c_supported(void) {
  u32 a = 1, b, c = 0, d;
  __asm__ volatile(".byte 0x0f,0xa2" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return (c >> 20) & 1;
}

/** The raw register update (no pre/post inversion) over n bytes, one stream. */
static u64 update(u64 c, const u8 *p, u64 n) {
  while (n >= 32) {
    u64 v0 = ((const u64 *)p)[0], v1 = ((const u64 *)p)[1], v2 = ((const u64 *)p)[2], v3 = ((const u64 *)p)[3];
    CRC_A(c, v0);
    CRC_A(c, v1);
    CRC_A(c, v2);
    CRC_A(c, v3);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    u64 v = *(const u64 *)p;
    CRC_A(c, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    u64 v = *p++;
    CRC_BYTE(c, v);
    n--;
  }
  return c;
}

/** Fills the shift tables; called once after crc32c_supported() said 1. */
void crc32c_init(void) {
  static u8 zeros[block];
  for (int k = 0; k < 4; k++) {
    for (int i = 0; i < 256; i++) shift_table[k][i] = (u32)update((u64)((u32)i << (8 * k)), zeros, block);
  }
}

/** The register after `block` zero bytes, starting from c. */
static u32 shift(u32 c) {
  return shift_table[0][c & 255] ^ shift_table[1][(c >> 8) & 255] ^ shift_table[2][(c >> 16) & 255] ^ shift_table[3][c >> 24];
}

/**
 * CRC32C of base[start .. start + len), continuing from `crc` (0 for a fresh CRC). The CRC
 * is an unsigned 32-bit value carried in an int both ways (see native-crc.ts).
 */
int crc32c_range(const u8 *base, int start, int len, int crc) {
  const u8 *p = base + start;
  u64 n = (u64)len;
  u64 c = (u32)crc ^ 0xffffffffu;
  while (n >= 3 * block) {
    u64 a = c, b = 0, d = 0;
    for (int i = 0; i < block; i += 8) {
      u64 va = *(const u64 *)(p + i), vb = *(const u64 *)(p + block + i), vd = *(const u64 *)(p + 2 * block + i);
      CRC_A(a, va);
      CRC_B(b, vb);
      CRC_D(d, vd);
    }
    c = shift(shift((u32)a) ^ (u32)b) ^ (u32)d;
    p += 3 * block;
    n -= 3 * block;
  }
  return (int)((u32)update(c, p, n) ^ 0xffffffffu);
}
