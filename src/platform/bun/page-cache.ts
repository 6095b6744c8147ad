/**
 * Linux page-cache advice through libc (bun:ffi): `sync_file_range(SYNC_FILE_RANGE_WRITE)`
 * starts writeback of a range without waiting, `posix_fadvise(POSIX_FADV_DONTNEED)` evicts
 * its clean pages. Node's fs has neither. Callers pass ranges checked by `isAdviceRange`.
 *
 * Loaded on first use. Where libc cannot be opened (not Linux, not glibc) every call answers
 * false and does nothing; the advice is an optimisation, never needed for correctness.
 */
import { FFIType } from "bun:ffi";
import { openLibc } from "./libc.ts";

const syncFileRangeWrite = 2; // SYNC_FILE_RANGE_WRITE
const posixFadvDontNeed = 4; // POSIX_FADV_DONTNEED on Linux

const symbols = {
  sync_file_range: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.u32], returns: FFIType.i32 },
  posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 },
} as const;

let libc: ReturnType<typeof openLibc<typeof symbols>> | undefined;

function load(): NonNullable<typeof libc> | null {
  if (libc === undefined) libc = process.platform === "linux" ? openLibc(symbols) : null;
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
