/**
 * libc through bun:ffi, for the few calls Node's fs lacks (page-cache advice, flock). Each
 * caller opens its own symbol table once, on first use; where no C library can be opened
 * (another OS, another libc) the loader answers null and the caller falls back or refuses.
 */
import { dlopen, type FFIFunction } from "bun:ffi";

const libraryNames: Readonly<Record<string, readonly string[]>> = {
  linux: ["libc.so.6", "libc.so"],
  darwin: ["libSystem.B.dylib"],
};

/** The named libc symbols, or null where this platform's C library cannot be opened. */
export function openLibc<Fns extends Record<string, FFIFunction>>(symbols: Fns): ReturnType<typeof dlopen<Fns>>["symbols"] | null {
  for (const name of libraryNames[process.platform] ?? []) {
    try {
      return dlopen(name, symbols).symbols;
    } catch {
      // try the next name
    }
  }
  return null;
}
