/**
 * A simulated, in-memory `FileSystem` with seeded faults, for deterministic storage tests.
 *
 * Model:
 * - An inode holds `data` (what reads see now) and `synced` (what survives a crash: the
 *   contents at its last `fsync`). A directory holds its current entries and, once changed
 *   since its last `fsyncDir`, the entries it had then (`syncedEntries`).
 * - `crash()` simulates power loss: every directory whose entries are not synced comes back
 *   with either its synced or its current entries (seeded choice, all-or-nothing per
 *   directory, so `rename` stays atomic); every inode comes back with its synced bytes plus,
 *   when only appends happened since the sync, a random prefix of the unsynced tail (losing
 *   writes and tearing the last one at a random byte). Open fds are invalidated.
 *   Directories themselves (mkdirp) are durable at once: a simplification.
 * - Faults: `failNext(op, code)` makes the next `append`/`fsync`/`open` fail; a failing
 *   append first writes a random prefix of its bytes (a torn write). `setCapacity(bytes)`
 *   makes appends that would exceed the total size fail with ENOSPC, after writing what fits.
 * - `statfs` reports that capacity (`simUnboundedCapacityBytes` when none is set) as the
 *   total, the files' bytes plus `setOtherUsedBytes` (files outside the simulation) as used,
 *   and `setReservedBytes` (root's reserve) as free but not available; the simulated writer is
 *   unprivileged, so appends stop at available = 0.
 * - `tryLock` locks the file's inode in this simulated machine; `crash()` drops every lock, as
 *   the death of the process holding them would.
 * - `mmap` returns a copy (a snapshot), which is the semantics a mapping of a never-truncated
 *   file has for its existing bytes.
 */
import type { Clock } from "../clock.ts";
import type { Prng } from "../prng.ts";
import {
  baseName,
  type Fd,
  type FileStat,
  type FileSystem,
  type FsSpace,
  isAdviceRange,
  type OpenMode,
  parentPath,
  StorageError,
  type StorageErrorCode,
  type TryLockResult,
} from "../fs.ts";

class Inode {
  data: Uint8Array = new Uint8Array(64);
  length = 0;
  synced: Uint8Array = new Uint8Array(0);
  /** True when, since the last sync, the file was only appended to (so a crash keeps a prefix). */
  appendOnlySinceSync = true;
  mtimeMs: number;
  constructor(mtimeMs: number) {
    this.mtimeMs = mtimeMs;
  }

  view(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  ensure(capacity: number): void {
    if (capacity <= this.data.length) return;
    const next = new Uint8Array(Math.max(capacity, this.data.length * 2));
    next.set(this.view());
    this.data = next;
  }
}

class Dir {
  entries = new Map<string, Inode>();
  syncedEntries: Map<string, Inode> | null = null;

  /** Records the synced state before the first unsynced change. */
  touch(): void {
    if (this.syncedEntries === null) this.syncedEntries = new Map(this.entries);
  }
}

/** What `statfs` reports as the total when no capacity is set (1 PiB; appends are unlimited). */
export const simUnboundedCapacityBytes = 2 ** 50;

type OpenFile = { inode: Inode; mode: OpenMode; path: string };

export type FaultOp = "append" | "fsync" | "open";

export class SimFileSystem implements FileSystem {
  readonly #prng: Prng;
  readonly #clock: Clock | null;
  readonly #dirs = new Map<string, Dir>();
  #fds = new Map<number, OpenFile>();
  /** Locked inodes → the holder's token (a released or crashed-away lock no longer matches). */
  #locks = new Map<Inode, object>();
  #nextFd = 3;
  #faults: { op: FaultOp; code: StorageErrorCode }[] = [];
  #capacityBytes = Number.POSITIVE_INFINITY;
  #otherUsedBytes = 0;
  #reservedBytes = 0;
  /** Counters, for tests. */
  readonly stats = { appends: 0, fsyncs: 0, crashes: 0, faultsInjected: 0 };
  /** Page-cache advice received, in order (the simulation has no page cache to act on). */
  readonly cacheAdvice: Array<{ readonly op: "writeback" | "drop"; readonly path: string; readonly offset: number; readonly length: number }> = [];

  constructor(prng: Prng, clock: Clock | null = null) {
    this.#prng = prng;
    this.#clock = clock;
    this.#dirs.set("/", new Dir());
  }

  // ---- fault control --------------------------------------------------------------------

  /** The next `op` fails with `code` (queued; each injected fault fires once). */
  failNext(op: FaultOp, code: StorageErrorCode): void {
    this.#faults.push({ op, code });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Total bytes all files may hold; appends past it fail with ENOSPC. */
  setCapacity(bytes: number): void {
    this.#capacityBytes = bytes;
  }

  /** Bytes held by files outside the simulation (other programs): a disk fills without appends. */
  setOtherUsedBytes(bytes: number): void {
    if (!(Number.isSafeInteger(bytes) && bytes >= 0)) throw new Error(`setOtherUsedBytes: bad size ${bytes}`);
    this.#otherUsedBytes = bytes;
  }

  /** Free bytes only root may use (ext4's reserved blocks): counted free, never available. */
  setReservedBytes(bytes: number): void {
    if (!(Number.isSafeInteger(bytes) && bytes >= 0)) throw new Error(`setReservedBytes: bad size ${bytes}`);
    this.#reservedBytes = bytes;
  }

  /** Bytes the files of this simulated disk hold (their lengths). */
  usedBytes(): number {
    let total = 0;
    const seen = new Set<Inode>();
    for (const d of this.#dirs.values()) {
      for (const inode of d.entries.values()) {
        if (seen.has(inode)) continue;
        seen.add(inode);
        total += inode.length;
      }
    }
    return total;
  }

  /** Power loss: see the module doc. */
  crash(): void {
    this.stats.crashes++;
    this.#fds = new Map();
    this.#locks = new Map();
    this.#faults = [];
    for (const dir of this.#dirs.values()) {
      if (dir.syncedEntries !== null) {
        if (this.#prng.int(2) === 0) dir.entries = dir.syncedEntries;
        dir.syncedEntries = null;
      }
    }
    const seen = new Set<Inode>();
    for (const dir of this.#dirs.values()) {
      for (const inode of dir.entries.values()) {
        if (seen.has(inode)) continue;
        seen.add(inode);
        this.#crashInode(inode);
      }
    }
  }

  #crashInode(inode: Inode): void {
    const cur = inode.view();
    let keep: Uint8Array;
    if (inode.appendOnlySinceSync && cur.length >= inode.synced.length) {
      const extra = cur.length - inode.synced.length;
      // Keep nothing, everything, or a torn prefix of the unsynced tail.
      const roll = this.#prng.int(3);
      const n = extra === 0 ? 0 : roll === 0 ? 0 : roll === 1 ? extra : this.#prng.int(extra + 1);
      keep = cur.slice(0, inode.synced.length + n);
    } else {
      keep = this.#prng.int(2) === 0 ? inode.synced.slice() : cur.slice();
    }
    inode.data = new Uint8Array(Math.max(64, keep.length));
    inode.data.set(keep);
    inode.length = keep.length;
    inode.synced = keep.slice();
    inode.appendOnlySinceSync = true;
  }

  #maybeFault(op: FaultOp, path: string): StorageErrorCode | null {
    const i = this.#faults.findIndex((f) => f.op === op);
    if (i < 0) return null;
    const f = this.#faults[i]!;
    this.#faults.splice(i, 1);
    this.stats.faultsInjected++;
    void path;
    return f.code;
  }

  // ---- paths ------------------------------------------------------------------------------

  #norm(path: string): string {
    if (!path.startsWith("/")) throw new StorageError("EINVAL", "path", path, "sim paths are absolute");
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    return `/${parts.join("/")}`;
  }

  #dirOf(path: string, op: string): Dir {
    const d = this.#dirs.get(parentPath(path));
    if (d === undefined) throw new StorageError("ENOENT", op, path, "no parent directory");
    return d;
  }

  #fd(fd: Fd, op: string): OpenFile {
    const f = this.#fds.get(fd);
    if (f === undefined) throw new StorageError("EBADF", op, `fd ${fd}`);
    return f;
  }

  #now(): number {
    return this.#clock === null ? 0 : this.#clock.nowMs();
  }

  // ---- FileSystem -------------------------------------------------------------------------

  open(rawPath: string, mode: OpenMode): Fd {
    const path = this.#norm(rawPath);
    const fault = this.#maybeFault("open", path);
    if (fault !== null) throw new StorageError(fault, `open(${mode})`, path, "injected");
    if (this.#dirs.has(path)) throw new StorageError("EISDIR", `open(${mode})`, path);
    const dir = this.#dirOf(path, `open(${mode})`);
    const name = baseName(path);
    let inode = dir.entries.get(name);
    if (inode === undefined) {
      if (mode === "read") throw new StorageError("ENOENT", "open(read)", path);
      inode = new Inode(this.#now());
      dir.touch();
      dir.entries.set(name, inode);
    } else if (mode === "write") {
      inode.length = 0;
      inode.appendOnlySinceSync = false;
    }
    const fd = this.#nextFd++ as Fd;
    this.#fds.set(fd, { inode, mode, path });
    return fd;
  }

  close(fd: Fd): void {
    this.#fd(fd, "close");
    this.#fds.delete(fd);
  }

  read(fd: Fd, buf: Uint8Array, bufOffset: number, length: number, position: number): number {
    const f = this.#fd(fd, "read");
    if (f.mode === "write") throw new StorageError("EBADF", "read", f.path, "write-only fd");
    if (bufOffset < 0 || length < 0 || bufOffset + length > buf.length || position < 0) {
      throw new StorageError("EINVAL", "read", f.path, `offset ${bufOffset} length ${length} position ${position}`);
    }
    const n = Math.max(0, Math.min(length, f.inode.length - position));
    if (n > 0) buf.set(f.inode.data.subarray(position, position + n), bufOffset);
    return n;
  }

  append(fd: Fd, bytes: Uint8Array): void {
    const f = this.#fd(fd, "append");
    if (f.mode === "read") throw new StorageError("EBADF", "append", f.path, "read-only fd");
    this.stats.appends++;
    const fault = this.#maybeFault("append", f.path);
    // Counting used bytes walks every file: only when a capacity is set (tests of ENOSPC).
    const room = this.#capacityBytes === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : this.#availableBytes();
    if (fault !== null || bytes.length > room) {
      // A strict prefix: a failed write never completes.
      const fit = Math.max(0, Math.min(bytes.length - 1, room));
      this.#write(f.inode, bytes.subarray(0, this.#prng.int(fit + 1)));
      throw new StorageError(fault ?? "ENOSPC", "append", f.path, fault === null ? "disk full" : "injected");
    }
    this.#write(f.inode, bytes);
  }

  #write(inode: Inode, bytes: Uint8Array): void {
    inode.ensure(inode.length + bytes.length);
    inode.data.set(bytes, inode.length);
    inode.length += bytes.length;
    inode.mtimeMs = this.#now();
  }

  fsync(fd: Fd): void {
    const f = this.#fd(fd, "fsync");
    this.stats.fsyncs++;
    const fault = this.#maybeFault("fsync", f.path);
    if (fault !== null) throw new StorageError(fault, "fsync", f.path, "injected");
    f.inode.synced = f.inode.view().slice();
    f.inode.appendOnlySinceSync = true;
  }

  /** Synchronous underneath; the promise settles on the next microtask. */
  fsyncPath(rawPath: string): Promise<void> {
    try {
      const path = this.#norm(rawPath);
      const inode = this.#dirOf(path, "fsyncPath").entries.get(baseName(path));
      if (inode === undefined) throw new StorageError("ENOENT", "fsyncPath", path);
      this.stats.fsyncs++;
      const fault = this.#maybeFault("fsync", path);
      if (fault !== null) throw new StorageError(fault, "fsyncPath", path, "injected");
      inode.synced = inode.view().slice();
      inode.appendOnlySinceSync = true;
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  fsyncDir(rawPath: string): void {
    const path = this.#norm(rawPath);
    const d = this.#dirs.get(path);
    if (d === undefined) throw new StorageError("ENOENT", "fsyncDir", path);
    const fault = this.#maybeFault("fsync", path);
    if (fault !== null) throw new StorageError(fault, "fsyncDir", path, "injected");
    d.syncedEntries = null;
  }

  startWriteback(fd: Fd, offset: number, length: number): boolean {
    return this.#advise("writeback", fd, offset, length);
  }

  dropCache(fd: Fd, offset: number, length: number): boolean {
    return this.#advise("drop", fd, offset, length);
  }

  #advise(op: "writeback" | "drop", fd: Fd, offset: number, length: number): boolean {
    const f = this.#fd(fd, op === "drop" ? "dropCache" : "startWriteback");
    if (!isAdviceRange(offset, length)) return false;
    this.cacheAdvice.push({ op, path: f.path, offset, length });
    return true;
  }

  truncate(fd: Fd, size: number): void {
    const f = this.#fd(fd, "truncate");
    if (f.mode === "read") throw new StorageError("EBADF", "truncate", f.path, "read-only fd");
    if (size < 0) throw new StorageError("EINVAL", "truncate", f.path, `size ${size}`);
    if (size > f.inode.length) {
      f.inode.ensure(size);
      f.inode.data.fill(0, f.inode.length, size);
    }
    f.inode.length = size;
    f.inode.appendOnlySinceSync = false;
  }

  size(fd: Fd): number {
    return this.#fd(fd, "size").inode.length;
  }

  rename(rawFrom: string, rawTo: string): void {
    const from = this.#norm(rawFrom);
    const to = this.#norm(rawTo);
    const fromDir = this.#dirOf(from, "rename");
    const toDir = this.#dirOf(to, "rename");
    const inode = fromDir.entries.get(baseName(from));
    if (inode !== undefined) {
      if (this.#dirs.has(to)) throw new StorageError("EISDIR", "rename", `${from} -> ${to}`);
      fromDir.touch();
      toDir.touch();
      fromDir.entries.delete(baseName(from));
      toDir.entries.set(baseName(to), inode);
      return;
    }
    const dir = this.#dirs.get(from);
    if (dir === undefined) throw new StorageError("ENOENT", "rename", `${from} -> ${to}`);
    if (this.#dirs.has(to) || toDir.entries.has(baseName(to))) throw new StorageError("EEXIST", "rename", `${from} -> ${to}`);
    // Directory rename: move the subtree (durable at once, like mkdirp).
    for (const [p, d] of [...this.#dirs]) {
      if (p === from || p.startsWith(`${from}/`)) {
        this.#dirs.delete(p);
        this.#dirs.set(to + p.slice(from.length), d);
      }
    }
  }

  unlink(rawPath: string): void {
    const path = this.#norm(rawPath);
    const dir = this.#dirOf(path, "unlink");
    if (!dir.entries.has(baseName(path))) throw new StorageError(this.#dirs.has(path) ? "EISDIR" : "ENOENT", "unlink", path);
    dir.touch();
    dir.entries.delete(baseName(path));
  }

  rmdir(rawPath: string): void {
    const path = this.#norm(rawPath);
    const d = this.#dirs.get(path);
    if (d === undefined) throw new StorageError("ENOENT", "rmdir", path);
    if (d.entries.size > 0) throw new StorageError("ENOTEMPTY", "rmdir", path);
    for (const p of this.#dirs.keys()) {
      if (p.startsWith(`${path}/`)) throw new StorageError("ENOTEMPTY", "rmdir", path);
    }
    this.#dirs.delete(path);
  }

  mkdirp(rawPath: string): void {
    const path = this.#norm(rawPath);
    const parts = path.split("/").filter((p) => p !== "");
    let cur = "";
    for (const part of parts) {
      cur += `/${part}`;
      if (this.#dirs.has(cur)) continue;
      const parent = this.#dirs.get(parentPath(cur));
      if (parent?.entries.has(part) === true) throw new StorageError("ENOTDIR", "mkdirp", cur);
      this.#dirs.set(cur, new Dir());
    }
  }

  readdir(rawPath: string): string[] {
    const path = this.#norm(rawPath);
    const d = this.#dirs.get(path);
    if (d === undefined) throw new StorageError("ENOENT", "readdir", path);
    const names = [...d.entries.keys()];
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const p of this.#dirs.keys()) {
      if (p !== path && p.startsWith(prefix) && !p.slice(prefix.length).includes("/")) names.push(p.slice(prefix.length));
    }
    return names;
  }

  stat(rawPath: string): FileStat {
    const path = this.#norm(rawPath);
    if (this.#dirs.has(path)) return { size: 0, isDirectory: true, mtimeMs: 0 };
    const inode = this.#dirOf(path, "stat").entries.get(baseName(path));
    if (inode === undefined) throw new StorageError("ENOENT", "stat", path);
    return { size: inode.length, isDirectory: false, mtimeMs: inode.mtimeMs };
  }

  exists(rawPath: string): boolean {
    const path = this.#norm(rawPath);
    if (this.#dirs.has(path)) return true;
    return this.#dirs.get(parentPath(path))?.entries.has(baseName(path)) === true;
  }

  readFile(rawPath: string): Uint8Array {
    const path = this.#norm(rawPath);
    const inode = this.#dirOf(path, "readFile").entries.get(baseName(path));
    if (inode === undefined) throw new StorageError(this.#dirs.has(path) ? "EISDIR" : "ENOENT", "readFile", path);
    return inode.view().slice();
  }

  mmap(rawPath: string): Uint8Array {
    const path = this.#norm(rawPath);
    const inode = this.#dirOf(path, "mmap").entries.get(baseName(path));
    if (inode === undefined) throw new StorageError("ENOENT", "mmap", path);
    return inode.view().slice();
  }

  #availableBytes(): number {
    const total = this.#capacityBytes === Number.POSITIVE_INFINITY ? simUnboundedCapacityBytes : this.#capacityBytes;
    return Math.max(0, total - this.usedBytes() - this.#otherUsedBytes - this.#reservedBytes);
  }

  statfs(rawPath: string): FsSpace {
    const path = this.#norm(rawPath);
    if (!this.exists(path)) throw new StorageError("ENOENT", "statfs", path);
    const totalBytes = this.#capacityBytes === Number.POSITIVE_INFINITY ? simUnboundedCapacityBytes : this.#capacityBytes;
    const freeBytes = Math.max(0, totalBytes - this.usedBytes() - this.#otherUsedBytes);
    return { totalBytes, freeBytes, availableBytes: Math.max(0, freeBytes - this.#reservedBytes) };
  }

  tryLock(rawPath: string): TryLockResult {
    const path = this.#norm(rawPath);
    this.close(this.open(path, "append"));
    const inode = this.#dirOf(path, "lock").entries.get(baseName(path));
    if (inode === undefined) throw new StorageError("ENOENT", "lock", path);
    if (this.#locks.has(inode)) return { kind: "held", holderPid: null };
    const token = {};
    this.#locks.set(inode, token);
    const locks = (): Map<Inode, object> => this.#locks;
    return {
      kind: "locked",
      lock: {
        path,
        release: () => {
          if (locks().get(inode) === token) locks().delete(inode);
        },
      },
    };
  }

  /**
   * Test helper: overwrite bytes of a file in place (corruption), creating it when missing,
   * durably and bypassing every fault and durability rule.
   */
  corrupt(rawPath: string, position: number, bytes: Uint8Array): void {
    const path = this.#norm(rawPath);
    const dir = this.#dirOf(path, "corrupt");
    let inode = dir.entries.get(baseName(path));
    if (inode === undefined) {
      inode = new Inode(this.#now());
      dir.entries.set(baseName(path), inode);
      if (dir.syncedEntries !== null) dir.syncedEntries.set(baseName(path), inode);
    }
    inode.ensure(position + bytes.length);
    inode.data.set(bytes, position);
    inode.length = Math.max(inode.length, position + bytes.length);
    inode.synced = inode.view().slice();
  }
}
