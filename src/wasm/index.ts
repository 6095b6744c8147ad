/**
 * The selected hot-path core. `core` is what the rest of bunka calls; `tsTwin` is the
 * plain-TypeScript implementation (fallback and test oracle).
 *
 * For now `core` is the TypeScript twin; the WASM module replaces it per operation once it
 * is built and measured (see bench/micro.ts).
 */
import type { CoreOps } from "./api.ts";
import { tsTwin } from "./ts-twin.ts";

export { tsTwin };
export const core: CoreOps = tsTwin;
