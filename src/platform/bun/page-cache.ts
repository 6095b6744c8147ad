/**
 * Linux page-cache advice through libc (bun:ffi): `sync_file_range(SYNC_FILE_RANGE_WRITE)`
 * starts writeback of a range without waiting, `posix_fadvise(POSIX_FADV_DONTNEED)` evicts
 * its clean pages. Node's fs has neither. Callers pass ranges checked by `isAdviceRange`.
 *
 * Loaded on first use. Where libc cannot be opened (not Linux, not glibc) every call answers
 * false and does nothing; the advice is an optimisation, never needed for correctness.
 */
import { dlopen, FFIType } from "bun:ffi";

const syncFileRangeWrite = 2; // SYNC_FILE_RANGE_WRITE
const posixFadvDontNeed = 4; // POSIX_FADV_DONTNEED on Linux

const symbols = {
  sync_file_range: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.u32], returns: FFIType.i32 },
  posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 },
} as const;

type Libc = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return libc;
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      libc = dlopen(name, symbols).symbols;
      return libc;
    } catch {
      // try the next name
    }
  }
  return libc;
}

/** Queues the range's dirty pages for writeback; false when unsupported or refused. */
export function startWriteback(fd: number, offset: number, length: number): boolean {
  const c = load();
  return c !== null && c.sync_file_range(fd, offset, length, syncFileRangeWrite) === 0;
}

/** Evicts the range's clean cached pages; false when unsupported or refused. */
export function dropCache(fd: number, offset: number, length: number): boolean {
  const c = load();
  return c !== null && c.posix_fadvise(fd, offset, length, posixFadvDontNeed) === 0;
}
