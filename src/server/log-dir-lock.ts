/**
 * One broker per data directory. Before anything in a log dir is read, the broker takes an
 * exclusive lock on `<dir>/.lock` (the name Kafka uses); a second broker pointed at the same
 * dir refuses to start instead of serving and rewriting the same files — which loses data
 * (two metadata logs written at once; each process deleting what the other created).
 *
 * The lock is the operating system's (flock), so a broker killed by SIGKILL leaves no stale
 * lock and restarts on its dir at once. Locks are released last in a graceful stop.
 */
import { joinPath, type FileLock, type FileSystem } from "../platform/fs.ts";
import { StartupError } from "./startup-error.ts";

export const logDirLockFileName = ".lock";

export class LogDirLockedError extends StartupError {
  override readonly name = "LogDirLockedError";
  constructor(
    readonly dir: string,
    readonly holderPid: number | null,
  ) {
    super(`log dir ${dir} is locked by ${holderPid === null ? "another process" : `process ${holderPid}`}: is another broker running on it?`);
  }
}

/**
 * Creates each dir when missing and locks it, in order; on a held lock, releases the ones
 * taken and throws `LogDirLockedError` (StorageError for a dir that cannot be created).
 */
export function lockLogDirs(fs: FileSystem, dirs: readonly string[]): FileLock[] {
  const taken: FileLock[] = [];
  try {
    for (const dir of dirs) {
      fs.mkdirp(dir);
      const r = fs.tryLock(joinPath(dir, logDirLockFileName));
      if (r.kind === "held") throw new LogDirLockedError(dir, r.holderPid);
      taken.push(r.lock);
    }
  } catch (error) {
    for (const lock of taken) lock.release();
    throw error;
  }
  return taken;
}
