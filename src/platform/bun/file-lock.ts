/**
 * Exclusive file locks for `BunFileSystem.tryLock`: `flock(LOCK_EX | LOCK_NB)` on a file of
 * its own, through libc. flock locks belong to the open file description, so the kernel drops
 * them when the process dies by any means (SIGKILL included) and a second open of the same
 * file — in another process or in this one — cannot take the lock while it is held.
 *
 * The `.lock` file holds the holder's pid and a newline, written once the lock is taken: a
 * convenience for operators. Who holds a lock is read from `/proc/locks` (the kernel's own
 * list, matched by device and inode), falling back to that pid when it names a live process.
 */
import { FFIType } from "bun:ffi";
import * as nodeFs from "node:fs";
import { StorageError, type TryLockResult } from "../fs.ts";
import { openLibc } from "./libc.ts";

const lockExclusive = 2; // LOCK_EX
const lockNonBlocking = 4; // LOCK_NB
const lockUnlock = 8; // LOCK_UN

const symbols = { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } } as const;
let libc: ReturnType<typeof openLibc<typeof symbols>> | undefined;

/** `fail` is the caller's error mapper (node errors → StorageError). */
export function tryLockFile(path: string, fail: (op: string, path: string, e: unknown) => never): TryLockResult {
  if (libc === undefined) libc = openLibc(symbols);
  if (libc === null) throw new StorageError("UNKNOWN", "lock", path, "flock is not available on this platform");
  const flock = libc.flock;
  let fd: number;
  try {
    fd = nodeFs.openSync(path, "a+", 0o644);
  } catch (e) {
    fail("lock", path, e);
  }
  if (flock(fd, lockExclusive | lockNonBlocking) !== 0) {
    const holderPid = lockHolder(fd, path);
    nodeFs.closeSync(fd);
    return { kind: "held", holderPid };
  }
  try {
    nodeFs.ftruncateSync(fd, 0);
    nodeFs.writeSync(fd, `${process.pid}\n`);
  } catch {
    // The pid is a courtesy; the lock is what counts.
  }
  let released = false;
  return {
    kind: "locked",
    lock: {
      path,
      release: () => {
        if (released) return;
        released = true;
        flock(fd, lockUnlock);
        nodeFs.closeSync(fd);
      },
    },
  };
}

/** The process holding the lock on the file open as `fd`, or null when it cannot be told. */
function lockHolder(fd: number, path: string): number | null {
  try {
    const st = nodeFs.fstatSync(fd);
    // Linux dev_t: major = bits 8..19 and 32..43, minor = bits 0..7 and 20..31.
    const dev = BigInt(st.dev);
    const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
    const want = `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${st.ino}`;
    for (const line of nodeFs.readFileSync("/proc/locks", "utf8").split("\n")) {
      // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF"
      const f = line.trim().split(/\s+/);
      if (f[1] === "FLOCK" && f[5] === want) {
        const pid = Number(f[4]);
        if (Number.isSafeInteger(pid) && pid > 0) return pid;
      }
    }
  } catch {
    // no /proc: try the pid the holder wrote
  }
  try {
    const pid = Number(nodeFs.readFileSync(path, "utf8").trim());
    if (Number.isSafeInteger(pid) && pid > 0 && nodeFs.existsSync(`/proc/${pid}`)) return pid;
  } catch {
    // unreadable: unknown holder
  }
  return null;
}
