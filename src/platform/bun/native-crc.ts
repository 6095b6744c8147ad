/**
 * CRC32C on the CPU's own instruction (x86-64 SSE4.2), through crc32c.c compiled at
 * startup by Bun's built-in C compiler (bun:ffi `cc`). The C function reads the caller's
 * array in place: no copy into WASM memory, and 14.8 GB/s on 1 MiB against the WASM core's
 * 4.6 (bench/micro.ts).
 *
 * Where it cannot run (another CPU architecture, no SSE4.2, a Bun without `cc`, or
 * `BUNKA_NATIVE_CRC=off`) `loadNativeCrc` says why and the WASM core computes CRCs instead;
 * the choice changes speed only, never results.
 */
import { cc } from "bun:ffi";
import { resolve } from "node:path";

/** CRC32C of bytes[start, end), continuing from `crc` (0 for a fresh CRC); an unsigned 32-bit result. */
export type CrcRange = (bytes: Uint8Array, start: number, end: number, crc: number) => number;

export type NativeCrcLoad = { ok: true; crcRange: CrcRange } | { ok: false; reason: string };

const sourcePath = resolve(import.meta.dir, "crc32c.c");

/** The C side takes int positions and lengths; ranges reaching past this go in pieces. */
const int32Max = 0x7fff_ffff;
const pieceBytesMax = 1 << 30;

const symbols = {
  crc32c_supported: { args: [], returns: "i32" },
  crc32c_init: { args: [], returns: "void" },
  // The CRC travels as i32 both ways: bun 1.4.5 mangles "u32" arguments that are not
  // int32-tagged numbers and returns "u32" results with the sign bit as negative numbers.
  crc32c_range: { args: ["ptr", "i32", "i32", "i32"], returns: "i32" },
} as const;

/** `BUNKA_NATIVE_CRC=off` keeps CRC32C in the WASM core; anything else (or unset) tries native. */
export function nativeCrcEnabled(): boolean {
  const v = process.env["BUNKA_NATIVE_CRC"];
  return v === undefined || v.toLowerCase() !== "off";
}

export function loadNativeCrc(): NativeCrcLoad {
  if (!nativeCrcEnabled()) return { ok: false, reason: "BUNKA_NATIVE_CRC=off" };
  if (process.arch !== "x64") return { ok: false, reason: `no native CRC32C for ${process.arch}` };
  let lib: ReturnType<typeof cc<typeof symbols>>;
  try {
    // The C uses neither headers nor libc, so it builds on a machine without libc's dev files.
    lib = cc({ source: sourcePath, symbols, flags: ["-nostdlib"] });
  } catch (e) {
    return { ok: false, reason: `cannot compile ${sourcePath}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const s = lib.symbols;
  if (s.crc32c_supported() !== 1) {
    lib.close();
    return { ok: false, reason: "the CPU lacks SSE4.2" };
  }
  s.crc32c_init();
  const native = s.crc32c_range;
  const crcRange: CrcRange = (bytes, start, end, crc) => {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= bytes.length)) {
      throw new RangeError(`crc32c: range [${start}, ${end}) outside ${bytes.length} bytes`);
    }
    if (end <= int32Max) return native(bytes, start, end - start, crc | 0) >>> 0;
    let c = crc | 0;
    for (let at = start; at < end; at += pieceBytesMax) {
      const n = Math.min(pieceBytesMax, end - at);
      c = native(bytes.subarray(at, at + n), 0, n, c);
    }
    return c >>> 0;
  };
  return { ok: true, crcRange };
}
