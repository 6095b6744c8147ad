/**
 * Shared helpers of the WASM core tests: both implementations side by side, seeded
 * randomness that reports its seed on failure, and a builder of v2 record batches.
 *
 * Replay a failing seed with `BUNKA_SEED=<seed> bun test test/wasm`.
 */
import { loadNativeCrc } from "../../src/platform/bun/native-crc.ts";
import { readWasmCore } from "../../src/platform/bun/wasm-file.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import type { CoreOps, CrcRange } from "../../src/wasm/api.ts";
import { checkCrcSeed } from "../../src/wasm/arg-checks.ts";
import { nativeCrc, tsTwin, wasmCore } from "../../src/wasm/index.ts";
import { scanBatchesWith } from "../../src/wasm/ts-twin.ts";
import { createWasmCore } from "../../src/wasm/wasm-core.ts";

/** The process's one instance; built here only when BUNKA_WASM=off left it out, so WASM is always tested. */
export const wasm: CoreOps = wasmCore ?? createWasmCore(readWasmCore());
export const implementations: readonly CoreOps[] = [tsTwin, wasm];
export { tsTwin };

/** The native CRC32C is expected wherever the CPU has it: x86-64 (every x86-64 CI machine has SSE4.2). */
export const nativeCrcExpected = process.arch === "x64";

function loadedNativeCrc(): CrcRange | null {
  if (nativeCrc !== null) return nativeCrc;
  const load = loadNativeCrc();
  if (!load.ok && nativeCrcExpected && process.env["BUNKA_NATIVE_CRC"]?.toLowerCase() !== "off") {
    throw new Error(`the native CRC32C does not load on this x64 machine: ${load.reason}`);
  }
  return load.ok ? load.crcRange : null;
}

/**
 * The twin with its CRCs on the native CRC32C: what `core` runs for crc32c and verified
 * scans when the native CRC loads. Null where it cannot run.
 */
export const native: CoreOps | null = (() => {
  const f = loadedNativeCrc();
  if (f === null) return null;
  return {
    ...tsTwin,
    crc32c: (bytes: Uint8Array, crc = 0) => {
      checkCrcSeed(crc);
      return f(bytes, 0, bytes.length, crc);
    },
    scanBatches: scanBatchesWith(f),
  };
})();

/** Every CRC32C provider under a name: the twin, WASM and (where it runs) native. */
export const crcImplementations: readonly (readonly [string, CoreOps])[] = [
  ["ts", tsTwin],
  ["wasm", wasm],
  ...(native === null ? [] : [["native", native] as const]),
];

/** Runs `fn` with a seeded PRNG; a failure is rethrown with the seed and how to replay it. */
export function seeded(name: string, fn: (rng: SeededPrng, seed: number) => void): void {
  const fixed = process.env["BUNKA_SEED"];
  const seed = fixed !== undefined ? Number(fixed) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
  try {
    fn(new SeededPrng(seed), seed);
  } catch (e) {
    const msg = `${name} failed with seed ${seed} (replay: BUNKA_SEED=${seed} bun test test/wasm)`;
    console.error(msg);
    throw new Error(`${msg}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

export function randomBytes(rng: SeededPrng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = rng.nextU32();
    b[i] = v;
    b[i + 1] = v >>> 8;
    b[i + 2] = v >>> 16;
    b[i + 3] = v >>> 24;
  }
  for (; i < n; i++) b[i] = rng.nextU32();
  return b;
}

/** Random bytes placed at a random (often unaligned) offset inside a larger buffer. */
export function unalignedBytes(rng: SeededPrng, n: number): Uint8Array {
  const pad = rng.int(16);
  const backing = randomBytes(rng, n + pad + rng.int(16));
  return backing.subarray(pad, pad + n);
}

/** A size in [0, max], skewed toward small values so edge sizes get hit often. */
export function skewedSize(rng: SeededPrng, max: number): number {
  const bits = rng.int(Math.ceil(Math.log2(max + 1)) + 1);
  return Math.min(max, rng.int(2 ** bits + 1));
}

export interface BatchSpec {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  magic?: number;
  attributes?: number;
  lastOffsetDelta?: number;
  recordCount?: number;
  baseTimestamp?: number;
  maxTimestamp?: number;
  producerId?: number;
  /** Bytes after the 61-byte header (stand-in for the records). */
  body?: Uint8Array;
  /** Overrides the computed batchLength. */
  batchLength?: number;
  /** Overrides the computed CRC. */
  crc?: number;
}

function writeI64(view: DataView, at: number, v: number): void {
  view.setBigInt64(at, BigInt(v));
}

/** Builds one v2 record batch; the CRC is computed with the TypeScript twin. */
export function buildBatch(spec: BatchSpec = {}): Uint8Array {
  const body = spec.body ?? new Uint8Array(0);
  const b = new Uint8Array(61 + body.length);
  const v = new DataView(b.buffer);
  const delta = spec.lastOffsetDelta ?? 0;
  writeI64(v, 0, spec.baseOffset ?? 0);
  v.setInt32(8, spec.batchLength ?? b.length - 12);
  v.setInt32(12, spec.partitionLeaderEpoch ?? -1);
  v.setInt8(16, spec.magic ?? 2);
  v.setInt16(21, spec.attributes ?? 0);
  v.setInt32(23, delta);
  writeI64(v, 27, spec.baseTimestamp ?? 1_700_000_000_000);
  writeI64(v, 35, spec.maxTimestamp ?? 1_700_000_000_000);
  writeI64(v, 43, spec.producerId ?? -1);
  v.setInt16(51, -1);
  v.setInt32(53, -1);
  v.setInt32(57, spec.recordCount ?? delta + 1);
  b.set(body, 61);
  v.setUint32(17, spec.crc ?? tsTwin.crc32c(b.subarray(21)));
  return b;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
