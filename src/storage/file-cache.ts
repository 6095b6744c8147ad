/**
 * A bound on open segment file descriptors, shared by every log of a log manager. Files
 * register as `CachedFile`s; `fd()` opens on demand and, past `openFilesMax`, closes the
 * least recently used other file. Safe because every storage call is synchronous: no fd is
 * in use across an `await`, so any cached fd may be closed between calls.
 */
import { type Fd, type FileSystem, type OpenMode, StorageError } from "../platform/fs.ts";

export class FileCache {
  readonly #fs: FileSystem;
  readonly #openFilesMax: number;
  /** Open files in LRU order (Map iteration order = insertion order; re-inserted on use). */
  readonly #open = new Map<CachedFile, true>();

  constructor(fs: FileSystem, openFilesMax: number) {
    if (!(openFilesMax >= 1)) throw new Error(`FileCache: openFilesMax ${openFilesMax} must be >= 1`);
    this.#fs = fs;
    this.#openFilesMax = openFilesMax;
  }

  get fs(): FileSystem {
    return this.#fs;
  }

  openCount(): number {
    return this.#open.size;
  }

  /** @internal Called by CachedFile. */
  touch(file: CachedFile): void {
    this.#open.delete(file);
    this.#open.set(file, true);
    while (this.#open.size > this.#openFilesMax) {
      const victim = this.#open.keys().next().value;
      if (victim === undefined || victim === file) break;
      try {
        victim.close();
      } catch (e) {
        // Closing is all we wanted; a failed close still released the fd (POSIX).
        if (!(e instanceof StorageError)) throw e;
      }
    }
  }

  /** @internal */
  forget(file: CachedFile): void {
    this.#open.delete(file);
  }
}

export class CachedFile {
  #fd: Fd | null = null;
  #mode: OpenMode;
  #retired = false;
  readonly #cache: FileCache;

  constructor(
    cache: FileCache,
    readonly path: string,
    mode: OpenMode,
  ) {
    this.#cache = cache;
    this.#mode = mode;
  }

  get mode(): OpenMode {
    return this.#mode;
  }

  /** The fd, opened (and the LRU updated) as needed. */
  fd(): Fd {
    if (this.#retired) throw new Error(`CachedFile ${this.path}: used after its segment was deleted`);
    if (this.#fd === null) this.#fd = this.#cache.fs.open(this.path, this.#mode);
    this.#cache.touch(this);
    return this.#fd;
  }

  /** Switches mode; reopens lazily. */
  setMode(mode: OpenMode): void {
    if (mode === this.#mode) return;
    this.close();
    this.#mode = mode;
  }

  /** Closes and forbids reopening (the file was renamed away; reopening by path would recreate it). */
  retire(): void {
    this.close();
    this.#retired = true;
  }

  isOpen(): boolean {
    return this.#fd !== null;
  }

  close(): void {
    const fd = this.#fd;
    if (fd === null) return;
    this.#fd = null;
    this.#cache.forget(this);
    this.#cache.fs.close(fd);
  }
}
