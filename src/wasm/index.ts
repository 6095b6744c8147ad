/**
 * The selected hot-path core: `core` is what the rest of bunka calls; `tsTwin` is the
 * plain-TypeScript implementation (fallback and test oracle); `wasmCore` is the WASM form
 * (null when `BUNKA_WASM=off`); `nativeCrc` is the CPU's CRC32C instruction through
 * bun:ffi (null where it cannot run or with `BUNKA_NATIVE_CRC=off`; `crcImplementation`
 * then says why).
 *
 * Each is instantiated once, at import, and checked against the CRC32C check value before
 * anything uses it; a WASM module that fails the check is a build bug and stops startup, a
 * native CRC that fails it is left out.
 */
import { loadNativeCrc } from "../platform/bun/native-crc.ts";
import { readWasmCore, wasmCoreEnabled } from "../platform/bun/wasm-file.ts";
import type { CoreOps, CrcRange } from "./api.ts";
import { checkCrcSeed } from "./arg-checks.ts";
import { scanBatchesWith, tsTwin } from "./ts-twin.ts";
import { createWasmCore } from "./wasm-core.ts";

export { tsTwin };

/** CRC32C of ASCII "123456789" (the standard check value). */
const crcCheckValue = 0xe306_9283;

function loadWasmCore(): CoreOps {
  const wasm = createWasmCore(readWasmCore());
  const rebuild = "rebuild it with `bun scripts/build-wasm.ts --force`";
  const got = wasm.crc32c(new TextEncoder().encode("123456789"));
  if (got !== crcCheckValue) {
    throw new Error(`bunka: the WASM core computes crc32c("123456789") = 0x${got.toString(16)}, expected 0x${crcCheckValue.toString(16)}; ${rebuild}`);
  }
  // The check value only reaches the short path; 4 KiB also runs the interleaved one.
  const pattern = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131) ^ (i >>> 3));
  if (wasm.crc32c(pattern) !== tsTwin.crc32c(pattern)) {
    throw new Error(`bunka: the WASM core and its TypeScript twin disagree on the CRC32C of a 4 KiB pattern; ${rebuild}`);
  }
  return wasm;
}

export const wasmCore: CoreOps | null = wasmCoreEnabled() ? loadWasmCore() : null;

/** The native CRC32C when it loads and agrees with the twin, else why not. */
function checkedNativeCrc(): { crcRange: CrcRange | null; reason: string } {
  const load = loadNativeCrc();
  if (!load.ok) return { crcRange: null, reason: load.reason };
  const f = load.crcRange;
  const check = new TextEncoder().encode("123456789");
  if (f(check, 0, check.length, 0) !== crcCheckValue) return { crcRange: null, reason: "it fails the CRC32C check value" };
  // 20 KiB at an odd offset runs the three-stream path (>= 6 KiB), its joins and the tail;
  // a seed with the top bit set checks the CRC's way through the FFI.
  const pattern = Uint8Array.from({ length: 20_483 }, (_, i) => (i * 131) ^ (i >>> 3));
  if (f(pattern, 3, pattern.length, 0x9234_5678) !== tsTwin.crc32c(pattern.subarray(3), 0x9234_5678)) {
    return { crcRange: null, reason: "it disagrees with the TypeScript twin on a 20 KiB pattern" };
  }
  return { crcRange: f, reason: "" };
}

const native = wasmCore === null ? { crcRange: null, reason: "BUNKA_WASM=off" } : checkedNativeCrc();

/** The CPU's CRC32C (SSE4.2) when it is in use; null with WASM off, or where it cannot run. */
export const nativeCrc: CrcRange | null = native.crcRange;

/** What computes CRC32C in `core`, for the startup log. */
export const crcImplementation: string =
  native.crcRange !== null ? "native (SSE4.2)" : wasmCore !== null ? `WASM (native unavailable: ${native.reason})` : "TypeScript (BUNKA_WASM=off)";

/** Below this many bytes the TS twin's CRC32C beats the call + copy (measured 55 vs 56 ns at 128 B, 33 vs 41 ns at 64 B). */
const crcWasmMinBytes = 128;
/** Below this many bytes the native call is no faster than the TS twin (20 vs 20 ns at 32 B, 24 vs 35 ns at 64 B). */
const crcNativeMinBytes = 64;
/** indexLookupMany copies the whole index into WASM memory; it pays only with many targets. */
const indexManyWasmMinTargets = 256;
const indexManyWasmEntriesPerTarget = 8;

/**
 * Per operation, the form that measured faster (bench/micro.ts; figures from one run in
 * bench/results/micro.json, bun 1.4.5, 2 cores):
 * - crc32c: native where it loads (1 MiB 14.8 GB/s, 3.2x WASM's 4.6, which includes the
 *   copy-in), from 64 bytes up; else WASM (4.6 GB/s vs 2.9 for the twin), from 128 bytes
 *   up. Below those sizes the twin wins on call overhead.
 * - scanBatches: when it verifies CRCs, the twin's scan on the native CRC where it loads
 *   (12.9 GB/s on 16 KiB batches: it reads the batches in place), else WASM (4.5 GB/s vs
 *   2.9, CRC-bound); the twin when it does not (the storage append after the produce path
 *   has checked CRCs): it reads and patches headers in place, where WASM copies every byte
 *   in (1 MiB of 16 KiB batches: 1.7 vs 20.5 us; one 1 MiB batch: 0.4 vs 15.5 us).
 * - varints: WASM; 64-bit 2.3x the twin, 32-bit 1.1x (a wash, kept for one code path).
 * - indexLookup: the twin. The WASM form has to copy the whole index per call (65,536
 *   entries: ~5 us vs ~26 ns for a TS binary search).
 * - indexLookupMany: WASM only when there are many targets per index entry (>= 256 targets
 *   and >= entries / 8), else the twin: the index copy dominates otherwise (65,536 entries:
 *   1,000 targets 34 vs 30 ns per lookup; 1,024 entries: 1,000 targets 10 vs 15 ns).
 */
function select(wasm: CoreOps, nativeCrc: CrcRange | null): CoreOps {
  const crc32c: CoreOps["crc32c"] =
    nativeCrc === null
      ? (bytes, crc) => (bytes.length < crcWasmMinBytes ? tsTwin.crc32c(bytes, crc) : wasm.crc32c(bytes, crc))
      : (bytes, crc = 0) => {
          if (bytes.length < crcNativeMinBytes) return tsTwin.crc32c(bytes, crc);
          checkCrcSeed(crc);
          return nativeCrc(bytes, 0, bytes.length, crc);
        };
  const scanVerified = nativeCrc === null ? wasm.scanBatches : scanBatchesWith(nativeCrc);
  return {
    kind: "wasm",
    crc32c,
    scanBatches: (bytes, options) => (options.verifyCrc ? scanVerified(bytes, options) : tsTwin.scanBatches(bytes, options)),
    encodeVarints32: wasm.encodeVarints32,
    decodeVarints32: wasm.decodeVarints32,
    encodeVarints64: wasm.encodeVarints64,
    decodeVarints64: wasm.decodeVarints64,
    indexLookup: tsTwin.indexLookup,
    indexLookupMany: (entries, entryCount, targets, out) => {
      const many = targets.length >= indexManyWasmMinTargets && targets.length * indexManyWasmEntriesPerTarget >= entryCount;
      (many ? wasm : tsTwin).indexLookupMany(entries, entryCount, targets, out);
    },
  };
}

export const core: CoreOps = wasmCore === null ? tsTwin : select(wasmCore, nativeCrc);
