// The WASM core's entry: re-exports every module's exports. Each export takes primitives
// only (pointers and lengths into linear memory, 32-bit integers, f64 safe integers); the
// contract it serves is src/wasm/api.ts, wrapped by src/wasm/wasm-core.ts.
export { scratchBase } from "./scratch";
export { crc32c } from "./crc32c";
export { scanBatches } from "./batches";
export { encodeVarints32, decodeVarints32, encodeVarints64, decodeVarints64 } from "./varint";
export { indexLookup, indexLookupMany } from "./offset-index";
