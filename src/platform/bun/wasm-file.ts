/**
 * Reads the compiled WASM core (`build/bunka.wasm`, produced by `bun scripts/build-wasm.ts`,
 * which `bun install` and the test preload run) and the `BUNKA_WASM` switch. Kept here
 * because only the Bun adapter may touch the file system and the process environment.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Where the build script writes the module, relative to the repository root. */
export const wasmCorePath = resolve(import.meta.dir, "../../../build/bunka.wasm");

/** The module's bytes; throws with the fix when the module has not been built. */
export function readWasmCore(): Uint8Array {
  try {
    return readFileSync(wasmCorePath);
  } catch (cause) {
    throw new Error(`bunka: cannot read the WASM core at ${wasmCorePath}; build it with \`bun run build:wasm\``, { cause });
  }
}

/** `BUNKA_WASM=off` selects the TypeScript twin of the core; anything else (or unset) WASM. */
export function wasmCoreEnabled(): boolean {
  const v = process.env["BUNKA_WASM"];
  return v === undefined || v.toLowerCase() !== "off";
}
