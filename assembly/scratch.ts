// Scratch space: everything from `scratchBase()` to the end of linear memory belongs to the
// JavaScript wrapper (src/wasm/wasm-core.ts), which copies inputs there, grows memory when
// a call needs more, and reads results back. The module itself allocates nothing at run
// time; its static data (CRC tables, result slots) lies below __heap_base.

/** First byte of the scratch region, 64-byte aligned. */
export function scratchBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}
