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
  const got = wasm.crc32c(new TextEncoder().encode("123456789"));
  if (got !== crcCheckValue) {
    throw new Error(
      `bunka: the WASM core computes crc32c("123456789") = 0x${got.toString(16)}, expected 0x${crcCheckValue.toString(16)}; rebuild it with \`bun run build:wasm --force\``,
    );
  }
  return wasm;
}

export const wasmCore: CoreOps | null = wasmCoreEnabled() ? loadWasmCore() : null;

/**
 * Per operation, the form that measured faster in bench/micro.ts (see the report figures
 * in bench/results/micro.json).
 */
function select(wasm: CoreOps): CoreOps {
  return {
    kind: "wasm",
    crc32c: wasm.crc32c,
    scanBatches: wasm.scanBatches,
    encodeVarints32: wasm.encodeVarints32,
    decodeVarints32: wasm.decodeVarints32,
    encodeVarints64: wasm.encodeVarints64,
    decodeVarints64: wasm.decodeVarints64,
    indexLookup: tsTwin.indexLookup,
    indexLookupMany: wasm.indexLookupMany,
  };
}

export const core: CoreOps = wasmCore === null ? tsTwin : select(wasmCore);
