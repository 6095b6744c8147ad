/**
 * The selected hot-path core: `core` is what the rest of bunka calls; `tsTwin` is the
 * plain-TypeScript implementation (fallback and test oracle); `wasmCore` is the WASM form
 * (null when `BUNKA_WASM=off`).
 *
 * The module is instantiated once, at import, and checked against the CRC32C check value
 * before anything uses it; a module that fails the check is a build bug and stops startup.
 */
import { readWasmCore, wasmCoreEnabled } from "../platform/bun/wasm-file.ts";
import type { CoreOps } from "./api.ts";
import { tsTwin } from "./ts-twin.ts";
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

/** Below this many bytes the TS twin's CRC32C beats the call + copy (measured 55 vs 56 ns at 128 B, 33 vs 41 ns at 64 B). */
const crcWasmMinBytes = 128;
/** indexLookupMany copies the whole index into WASM memory; it pays only with many targets. */
const indexManyWasmMinTargets = 256;
const indexManyWasmEntriesPerTarget = 8;

/**
 * Per operation, the form that measured faster (bench/micro.ts; figures from one run in
 * bench/results/micro.json, bun 1.4.5, 2 cores):
 * - crc32c: WASM (1 MiB 4.6-4.9 GB/s vs 2.9 GB/s for the twin, copy-in included), except
 *   below 128 bytes where the twin wins on call overhead.
 * - scanBatches: WASM when it verifies CRCs (4.3 GB/s vs 2.2-2.5 GB/s on 16 KiB batches,
 *   CRC-bound); the twin when it does not (the storage append after the produce path has
 *   checked CRCs): it reads and patches headers in place, where WASM copies every byte in
 *   (1 MiB of 16 KiB batches: 2.0 vs 19.7 us; one 1 MiB batch: 0.4 vs 15.5 us).
 * - varints: WASM; 64-bit 2.3x the twin, 32-bit 1.1x (a wash, kept for one code path).
 * - indexLookup: the twin. The WASM form has to copy the whole index per call (65,536
 *   entries: ~5 us vs ~26 ns for a TS binary search).
 * - indexLookupMany: WASM only when there are many targets per index entry (>= 256 targets
 *   and >= entries / 8), else the twin: the index copy dominates otherwise (65,536 entries:
 *   1,000 targets 34 vs 30 ns per lookup; 1,024 entries: 1,000 targets 10 vs 15 ns).
 */
function select(wasm: CoreOps): CoreOps {
  return {
    kind: "wasm",
    crc32c: (bytes, crc) => (bytes.length < crcWasmMinBytes ? tsTwin.crc32c(bytes, crc) : wasm.crc32c(bytes, crc)),
    scanBatches: (bytes, options) => (options.verifyCrc ? wasm.scanBatches(bytes, options) : tsTwin.scanBatches(bytes, options)),
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

export const core: CoreOps = wasmCore === null ? tsTwin : select(wasmCore);
