/**
 * The real `FileSystem`: node:fs synchronous calls on file descriptors, `Bun.mmap` for
 * read-only views of sealed index files.
 *
 * Invariants (DESIGN.md "Bun facts"): appends go through `fs.writeSync` on an `a+` fd, never
 * `Bun.write` (which fallocates zeros on append fds); a mapped file is never truncated by
 * this module's callers (the storage layer replaces index files by rename instead).
 */
import * as nodeFs from "node:fs";
import { type Fd, type FileStat, type FileSystem, type FsSpace, isAdviceRange, type OpenMode, StorageError, storageErrorCodeOf, type TryLockResult } from "../fs.ts";
import { tryLockFile } from "./file-lock.ts";
import * as pageCache from "./page-cache.ts";

function fail(op: string, path: string, e: unknown): never {
  if (e instanceof StorageError) throw e;
  const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
  throw new StorageError(storageErrorCodeOf(code), op, path, e instanceof Error ? e.message : String(e));
}

const modeFlags: Record<OpenMode, string> = { append: "a+", read: "r", write: "w" };

export class BunFileSystem implements FileSystem {
  /** fd → path, for error messages. */
  readonly #paths = new Map<number, string>();

  #path(fd: Fd): string {
    return this.#paths.get(fd) ?? `fd ${fd}`;
  }

  open(path: string, mode: OpenMode): Fd {
    try {
      const fd = nodeFs.openSync(path, modeFlags[mode], 0o644) as Fd;
      this.#paths.set(fd, path);
      return fd;
    } catch (e) {
      fail(`open(${mode})`, path, e);
    }
  }

  close(fd: Fd): void {
    const path = this.#path(fd);
    this.#paths.delete(fd);
    try {
      nodeFs.closeSync(fd);
    } catch (e) {
      fail("close", path, e);
    }
  }

  read(fd: Fd, buf: Uint8Array, bufOffset: number, length: number, position: number): number {
    if (length === 0) return 0;
    try {
      let done = 0;
      while (done < length) {
        const n = nodeFs.readSync(fd, buf, bufOffset + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    } catch (e) {
      fail("read", this.#path(fd), e);
    }
  }

  append(fd: Fd, bytes: Uint8Array): void {
    try {
      let done = 0;
      while (done < bytes.length) {
        done += nodeFs.writeSync(fd, bytes, done, bytes.length - done);
      }
    } catch (e) {
      fail("append", this.#path(fd), e);
    }
  }

  fsync(fd: Fd): void {
    try {
      nodeFs.fsyncSync(fd);
    } catch (e) {
      fail("fsync", this.#path(fd), e);
    }
  }

  async fsyncPath(path: string): Promise<void> {
    let handle: nodeFs.promises.FileHandle | null = null;
    try {
      handle = await nodeFs.promises.open(path, "r");
      await handle.sync();
    } catch (e) {
      fail("fsyncPath", path, e);
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  fsyncDir(path: string): void {
    let fd: number;
    try {
      fd = nodeFs.openSync(path, "r");
    } catch (e) {
      fail("fsyncDir", path, e);
    }
    try {
      nodeFs.fsyncSync(fd);
    } catch (e) {
      fail("fsyncDir", path, e);
    } finally {
      nodeFs.closeSync(fd);
    }
  }

  startWriteback(fd: Fd, offset: number, length: number): boolean {
    return isAdviceRange(offset, length) && pageCache.startWriteback(fd, offset, length);
  }

  dropCache(fd: Fd, offset: number, length: number): boolean {
    return isAdviceRange(offset, length) && pageCache.dropCache(fd, offset, length);
  }

  truncate(fd: Fd, size: number): void {
    try {
      nodeFs.ftruncateSync(fd, size);
    } catch (e) {
      fail("truncate", this.#path(fd), e);
    }
  }

  size(fd: Fd): number {
    try {
      return nodeFs.fstatSync(fd).size;
    } catch (e) {
      fail("size", this.#path(fd), e);
    }
  }

  rename(from: string, to: string): void {
    try {
      nodeFs.renameSync(from, to);
    } catch (e) {
      fail("rename", `${from} -> ${to}`, e);
    }
  }

  unlink(path: string): void {
    try {
      nodeFs.unlinkSync(path);
    } catch (e) {
      fail("unlink", path, e);
    }
  }

  rmdir(path: string): void {
    try {
      nodeFs.rmdirSync(path);
    } catch (e) {
      fail("rmdir", path, e);
    }
  }

  mkdirp(path: string): void {
    try {
      nodeFs.mkdirSync(path, { recursive: true });
    } catch (e) {
      fail("mkdirp", path, e);
    }
  }

  readdir(path: string): string[] {
    try {
      return nodeFs.readdirSync(path);
    } catch (e) {
      fail("readdir", path, e);
    }
  }

  stat(path: string): FileStat {
    try {
      const s = nodeFs.statSync(path);
      return { size: s.size, isDirectory: s.isDirectory(), mtimeMs: s.mtimeMs };
    } catch (e) {
      fail("stat", path, e);
    }
  }

  exists(path: string): boolean {
    return nodeFs.existsSync(path);
  }

  readFile(path: string): Uint8Array {
    try {
      const b = nodeFs.readFileSync(path);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      fail("readFile", path, e);
    }
  }

  mmap(path: string): Uint8Array {
    try {
      // mmap of an empty file is EINVAL; an empty view needs no mapping.
      if (nodeFs.statSync(path).size === 0) return new Uint8Array(0);
      return Bun.mmap(path, { shared: false });
    } catch (e) {
      fail("mmap", path, e);
    }
  }

  /**
   * statfs(2) through node:fs (Bun implements `statfsSync`; no FFI struct layout to keep per
   * OS and architecture). Block counts are in fragment-size units (`frsize`, as `df` reads
   * them), falling back to `bsize` where the runtime does not report it.
   */
  statfs(path: string): FsSpace {
    let s: nodeFs.StatsFs & { frsize?: number };
    try {
      s = nodeFs.statfsSync(path);
    } catch (e) {
      fail("statfs", path, e);
    }
    const unit = typeof s.frsize === "number" && s.frsize > 0 ? s.frsize : s.bsize;
    return { totalBytes: s.blocks * unit, freeBytes: s.bfree * unit, availableBytes: s.bavail * unit };
  }

  tryLock(path: string): TryLockResult {
    return tryLockFile(path, fail);
  }
}
