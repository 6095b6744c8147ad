/**
 * The filesystem, injected. Storage takes a `FileSystem` so the same log code runs on the real
 * disk (`src/platform/bun/fs.ts`) and on a seeded, fault-injecting in-memory disk
 * (`src/platform/sim/fs.ts`). The interface holds exactly what the log needs.
 *
 * Semantics every implementation honours (test/platform/fs-conformance.ts checks them):
 * - All calls are synchronous and either complete or throw `StorageError`; no other error
 *   type escapes. A failed `append` may have written a prefix of its bytes (a torn write):
 *   callers that care cut the file back to a known size before the next append.
 * - `append` always writes at the current end of the file; `read` is positional and never
 *   moves anything.
 * - Data is durable only after `fsync(fd)`; a new, renamed or removed directory entry is
 *   durable only after `fsyncDir(parent)`.
 * - `rename` atomically replaces the target.
 * - `tryLock` takes an exclusive lock on a file (created when missing) that the operating
 *   system drops when the process dies, however it dies: a lock never outlives its holder.
 *   Two holders, in two processes or in one, never hold the same file's lock at once.
 * - `statfs` reports the space of the filesystem holding `path` (which must exist) as the
 *   process sees it: `availableBytes <= freeBytes <= totalBytes`; blocks reserved for root
 *   count as free but not available. Figures move as anything on that filesystem writes.
 * - `mmap` returns a read-only view of the whole file as it is now. The view must never be
 *   written to, and the file must never be truncated while any view of it may still be
 *   read (on Linux that is SIGBUS). Replace mapped files by writing a new file and renaming
 *   it over; old views keep reading the old inode.
 */

/** errno-like codes. `UNKNOWN` covers anything the platform reports that is not listed. */
export type StorageErrorCode =
  | "ENOENT"
  | "EEXIST"
  | "ENOSPC"
  | "EIO"
  | "EBADF"
  | "EACCES"
  | "EROFS"
  | "EMFILE"
  | "ENOTDIR"
  | "EISDIR"
  | "ENOTEMPTY"
  | "EINVAL"
  | "UNKNOWN";

const knownCodes: ReadonlySet<string> = new Set<StorageErrorCode>([
  "ENOENT",
  "EEXIST",
  "ENOSPC",
  "EIO",
  "EBADF",
  "EACCES",
  "EROFS",
  "EMFILE",
  "ENOTDIR",
  "EISDIR",
  "ENOTEMPTY",
  "EINVAL",
]);

/** Maps a platform error code string onto the closed set. */
export function storageErrorCodeOf(code: string | undefined): StorageErrorCode {
  return code !== undefined && knownCodes.has(code) ? (code as StorageErrorCode) : "UNKNOWN";
}

/** A failed filesystem operation. The broker maps these to KAFKA_STORAGE_ERROR. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  constructor(
    readonly code: StorageErrorCode,
    readonly op: string,
    readonly path: string,
    detail?: string,
  ) {
    super(`${op} ${path}: ${code}${detail === undefined ? "" : ` (${detail})`}`);
  }
}

/** An open file. Opaque: only the `FileSystem` that returned it may interpret it. */
export type Fd = number & { readonly __brand: "Fd" };

/**
 * - `append`: read + append, created if missing (an `a+` fd).
 * - `read`: read only; ENOENT when missing.
 * - `write`: write only, created or truncated to empty (for write → fsync → rename).
 */
export type OpenMode = "append" | "read" | "write";

export interface FileStat {
  size: number;
  isDirectory: boolean;
  /** Last modification, wall-clock ms. */
  mtimeMs: number;
}

/** Space of one filesystem, in bytes (`FileSystem.statfs`). */
export interface FsSpace {
  /** Size of the filesystem. */
  totalBytes: number;
  /** Bytes not in use (including blocks reserved for root). */
  freeBytes: number;
  /** Bytes an unprivileged writer may still use (`df`'s "Available"). */
  availableBytes: number;
}

/** An exclusive lock taken by `FileSystem.tryLock`. */
export interface FileLock {
  readonly path: string;
  /** Drops the lock (idempotent). */
  release(): void;
}

/** `held`: another holder has the lock; `holderPid` is its process when the platform can tell. */
export type TryLockResult = { readonly kind: "locked"; readonly lock: FileLock } | { readonly kind: "held"; readonly holderPid: number | null };

export interface FileSystem {
  open(path: string, mode: OpenMode): Fd;
  close(fd: Fd): void;
  /** Reads up to `length` bytes at file `position` into `buf[bufOffset..]`; returns bytes read (0 at EOF). */
  read(fd: Fd, buf: Uint8Array, bufOffset: number, length: number, position: number): number;
  /** Appends all of `bytes` at the end of the file (a torn prefix may remain when it throws). */
  append(fd: Fd, bytes: Uint8Array): void;
  fsync(fd: Fd): void;
  /**
   * Flushes the file at `path` to disk off the calling thread where the platform can (the
   * real one uses libuv's pool on its own fd, so no cached fd is involved). Rejects with
   * StorageError (ENOENT when the file was renamed away meanwhile).
   */
  fsyncPath(path: string): Promise<void>;
  /** Makes entries created, renamed or removed in directory `path` durable. */
  fsyncDir(path: string): void;
  /**
   * Page-cache advice for `[offset, offset + length)`, best effort and without waiting:
   * `startWriteback` queues the range's dirty pages for writing to disk, `dropCache` evicts
   * its clean cached pages (dirty or in-flight pages stay). Neither changes the file's
   * contents; each returns false where the platform cannot do it (then nothing happened).
   */
  startWriteback(fd: Fd, offset: number, length: number): boolean;
  dropCache(fd: Fd, offset: number, length: number): boolean;
  /** Cuts the file to `size` bytes (never on a file that is mapped). */
  truncate(fd: Fd, size: number): void;
  /** Current size of an open file. */
  size(fd: Fd): number;
  /** Atomically moves `from` to `to`, replacing `to`. */
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** Removes an empty directory. */
  rmdir(path: string): void;
  /** Creates `path` and any missing parents; no error when it exists. */
  mkdirp(path: string): void;
  /** Names in a directory (not `.`/`..`), in no particular order. */
  readdir(path: string): string[];
  stat(path: string): FileStat;
  exists(path: string): boolean;
  /** Whole-file contents (small files: checkpoints, indexes being rebuilt). */
  readFile(path: string): Uint8Array;
  /** Read-only view of the whole file; see the module doc for the truncation rule. */
  mmap(path: string): Uint8Array;
  /** Space of the filesystem holding `path` (ENOENT when `path` does not exist); see the module doc. */
  statfs(path: string): FsSpace;
  /** Takes an exclusive lock on `path` (created when missing) without waiting; see the module doc. */
  tryLock(path: string): TryLockResult;
}

/** A range page-cache advice may name: whole numbers, offset >= 0, length > 0 (others get false). */
export function isAdviceRange(offset: number, length: number): boolean {
  return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length > 0;
}

/** `dir/name` without touching the platform path module. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** Parent directory of a `/`-separated path. */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return path.slice(0, i);
}

/** Last component of a `/`-separated path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Replaces `path` durably: write `bytes` to `path.tmp`, fsync, rename over `path`, fsync the
 * directory. A crash leaves either the old or the new file, plus perhaps a torn `.tmp` that
 * readers ignore and remove.
 */
export function writeFileAtomic(fs: FileSystem, path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = fs.open(tmp, "write");
  try {
    fs.append(fd, bytes);
    fs.fsync(fd);
  } finally {
    fs.close(fd);
  }
  fs.rename(tmp, path);
  fs.fsyncDir(parentPath(path));
}
