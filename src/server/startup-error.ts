/**
 * Conditions that stop a broker from starting and that an operator fixes, not a developer:
 * a locked or unusable data dir, a port in use, a configuration bunka cannot run. The entry
 * point prints their message as one line (no stack: stacks are for bugs).
 */
import { StorageError, type StorageErrorCode } from "../platform/fs.ts";

export class StartupError extends Error {
  override readonly name: string = "StartupError";
}

const storageCauses: Partial<Record<StorageErrorCode, string>> = {
  EROFS: "read-only file system",
  EACCES: "permission denied",
  ENOSPC: "no space left on device",
  ENOTDIR: "a path component is not a directory",
  EISDIR: "is a directory",
  EMFILE: "too many open files",
  EIO: "I/O error",
  ENOENT: "no such file or directory",
};

/** One line for a failed filesystem call at start-up: the operation, the path and the cause. */
export function describeStorageError(error: StorageError): string {
  const cause = storageCauses[error.code];
  return `${error.op} ${error.path}: ${cause === undefined ? error.message : `${cause} (${error.code})`}`;
}
