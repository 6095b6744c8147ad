/**
 * Linux page-cache advice through libc (bun:ffi): `sync_file_range(SYNC_FILE_RANGE_WRITE)`
 * starts writeback of a range without waiting, `posix_fadvise(POSIX_FADV_DONTNEED)` evicts
 * its clean pages. Node's fs has neither.
 *
 * Loaded on first use. Where libc cannot be opened (not Linux, not glibc) every call answers
 * false and does nothing; the advice is an optimisation, never needed for correctness.
 */
import { dlopen, FFIType } from "bun:ffi";

const syncFileRangeWrite = 2; // SYNC_FILE_RANGE_WRITE
const posixFadvDontNeed = 4; // POSIX_FADV_DONTNEED on Linux

interface Libc {
  readonly syncFileRange: (fd: number, offset: number, length: number, flags: number) => number;
  readonly fadvise: (fd: number, offset: number, length: number, advice: number) => number;
}

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return libc;
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      const lib = dlopen(name, {
        sync_file_range: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.u32], returns: FFIType.i32 },
        posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 },
      });
      libc = {
        syncFileRange: (fd, offset, length, flags) => lib.symbols.sync_file_range(fd, offset, length, flags),
        fadvise: (fd, offset, length, advice) => lib.symbols.posix_fadvise(fd, offset, length, advice),
      };
      return libc;
    } catch {
      // try the next name
    }
  }
  return libc;
}

function checkRange(offset: number, length: number): boolean {
  return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length > 0;
}

/** Queues the range's dirty pages for writeback; false when unsupported or refused. */
export function startWriteback(fd: number, offset: number, length: number): boolean {
  const c = load();
  if (c === null || !checkRange(offset, length)) return false;
  return c.syncFileRange(fd, offset, length, syncFileRangeWrite) === 0;
}

/** Evicts the range's clean cached pages; false when unsupported or refused. */
export function dropCache(fd: number, offset: number, length: number): boolean {
  const c = load();
  if (c === null || !checkRange(offset, length)) return false;
  return c.fadvise(fd, offset, length, posixFadvDontNeed) === 0;
}
