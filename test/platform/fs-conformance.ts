/**
 * The FileSystem conformance suite: every implementation (real, simulated) must pass it.
 * `makeRoot` returns a fresh empty directory (absolute path) on the implementation.
 */
import { describe, expect, test } from "bun:test";
import { type FileSystem, StorageError, writeFileAtomic } from "../../src/platform/fs.ts";

const bytes = (...v: number[]): Uint8Array => new Uint8Array(v);

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).code).toBe(code as StorageError["code"]);
    return;
  }
  throw new Error(`expected StorageError ${code}`);
}

export function fsConformance(name: string, make: () => { fs: FileSystem; root: string; cleanup: () => void }): void {
  describe(`FileSystem conformance: ${name}`, () => {
    const withFs = (fn: (fs: FileSystem, root: string) => void) => () => {
      const { fs, root, cleanup } = make();
      try {
        fn(fs, root);
      } finally {
        cleanup();
      }
    };

    test(
      "append, positional read, size, truncate",
      withFs((fs, root) => {
        const p = `${root}/a.log`;
        const fd = fs.open(p, "append");
        fs.append(fd, bytes(1, 2, 3));
        fs.append(fd, bytes(4, 5));
        expect(fs.size(fd)).toBe(5);
        const buf = new Uint8Array(8);
        expect(fs.read(fd, buf, 1, 3, 2)).toBe(3);
        expect([...buf.subarray(1, 4)]).toEqual([3, 4, 5]);
        expect(fs.read(fd, buf, 0, 8, 4)).toBe(1);
        expect(fs.read(fd, buf, 0, 8, 10)).toBe(0);
        fs.truncate(fd, 2);
        fs.append(fd, bytes(9));
        expect([...fs.readFile(p)]).toEqual([1, 2, 9]);
        fs.fsync(fd);
        fs.close(fd);
        // Reopening for append keeps the contents and appends at the end.
        const fd2 = fs.open(p, "append");
        fs.append(fd2, bytes(7));
        fs.close(fd2);
        expect([...fs.readFile(p)]).toEqual([1, 2, 9, 7]);
      }),
    );

    test(
      "write mode truncates; read mode requires the file",
      withFs((fs, root) => {
        const p = `${root}/w`;
        writeFileAtomic(fs, p, bytes(1, 2, 3));
        const fd = fs.open(p, "write");
        fs.append(fd, bytes(8));
        fs.close(fd);
        expect([...fs.readFile(p)]).toEqual([8]);
        expectCode(() => fs.open(`${root}/missing`, "read"), "ENOENT");
        expectCode(() => fs.readFile(`${root}/missing`), "ENOENT");
        expectCode(() => fs.stat(`${root}/missing`), "ENOENT");
        expectCode(() => fs.unlink(`${root}/missing`), "ENOENT");
      }),
    );

    test(
      "rename replaces atomically; readdir, exists, unlink, mkdirp, rmdir",
      withFs((fs, root) => {
        fs.mkdirp(`${root}/d/e`);
        fs.mkdirp(`${root}/d/e`);
        writeFileAtomic(fs, `${root}/d/x`, bytes(1));
        writeFileAtomic(fs, `${root}/d/y`, bytes(2, 2));
        fs.rename(`${root}/d/y`, `${root}/d/x`);
        expect([...fs.readFile(`${root}/d/x`)]).toEqual([2, 2]);
        expect(fs.exists(`${root}/d/y`)).toBe(false);
        expect(fs.readdir(`${root}/d`).sort()).toEqual(["e", "x"]);
        expect(fs.stat(`${root}/d/e`).isDirectory).toBe(true);
        expect(fs.stat(`${root}/d/x`)).toMatchObject({ size: 2, isDirectory: false });
        expectCode(() => fs.rmdir(`${root}/d`), "ENOTEMPTY");
        fs.unlink(`${root}/d/x`);
        fs.rmdir(`${root}/d/e`);
        fs.rename(`${root}/d`, `${root}/d2`);
        expect(fs.exists(`${root}/d2`)).toBe(true);
        fs.rmdir(`${root}/d2`);
        expect(fs.exists(`${root}/d2`)).toBe(false);
        fs.fsyncDir(root);
      }),
    );

    test(
      "mmap returns the file's bytes and stays valid after the file is renamed or replaced",
      withFs((fs, root) => {
        const p = `${root}/i.index`;
        writeFileAtomic(fs, p, bytes(1, 2, 3, 4, 5, 6, 7, 8));
        const view = fs.mmap(p);
        expect([...view]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        writeFileAtomic(fs, p, bytes(9));
        expect([...view]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect([...fs.mmap(p)]).toEqual([9]);
        writeFileAtomic(fs, `${root}/empty`, bytes());
        expect(fs.mmap(`${root}/empty`).length).toBe(0);
      }),
    );

    test("fsyncPath flushes by path and rejects a missing file with ENOENT", async () => {
      const { fs, root, cleanup } = make();
      try {
        writeFileAtomic(fs, `${root}/s`, bytes(1, 2));
        await fs.fsyncPath(`${root}/s`);
        const seen = { code: "none" };
        await fs.fsyncPath(`${root}/missing`).catch((e: unknown) => {
          seen.code = e instanceof StorageError ? e.code : "other";
        });
        expect(seen.code).toBe("ENOENT");
      } finally {
        cleanup();
      }
    });

    test(
      "closed fds are rejected",
      withFs((fs, root) => {
        const fd = fs.open(`${root}/c`, "append");
        fs.close(fd);
        expectCode(() => fs.append(fd, bytes(1)), "EBADF");
      }),
    );

    test(
      "page-cache advice leaves the contents alone",
      withFs((fs, root) => {
        const path = `${root}/advised`;
        const fd = fs.open(path, "append");
        const data = new Uint8Array(256 * 1024);
        for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
        fs.append(fd, data);
        // Every answer is allowed (advice may be unsupported); the data must not change.
        expect(typeof fs.startWriteback(fd, 0, 128 * 1024)).toBe("boolean");
        expect(typeof fs.dropCache(fd, 0, 128 * 1024)).toBe("boolean");
        expect(fs.startWriteback(fd, -1, 10)).toBe(false);
        expect(fs.dropCache(fd, 0, 0)).toBe(false);
        fs.fsync(fd);
        expect(fs.dropCache(fd, 0, data.length)).toBe(fs.startWriteback(fd, 0, data.length));
        const back = new Uint8Array(data.length);
        expect(fs.read(fd, back, 0, back.length, 0)).toBe(data.length);
        expect(back).toEqual(data);
        fs.close(fd);
      }),
    );
  
    test(
      "statfs: whole byte counts, available <= free <= total, ENOENT for a missing path",
      withFs((fs, root) => {
        const s = fs.statfs(root);
        for (const v of [s.totalBytes, s.freeBytes, s.availableBytes]) {
          expect(Number.isSafeInteger(v)).toBe(true);
          expect(v).toBeGreaterThanOrEqual(0);
        }
        expect(s.totalBytes).toBeGreaterThan(0);
        expect(s.freeBytes).toBeLessThanOrEqual(s.totalBytes);
        expect(s.availableBytes).toBeLessThanOrEqual(s.freeBytes);
        // A file's path reports its filesystem as well as a directory's does.
        writeFileAtomic(fs, `${root}/f`, bytes(1, 2, 3));
        expect(fs.statfs(`${root}/f`).totalBytes).toBe(s.totalBytes);
        expectCode(() => fs.statfs(`${root}/missing/deeper`), "ENOENT");
      }),
    );

    test(
      "tryLock: one holder at a time, released by release, the file created",
      withFs((fs, root) => {
        const path = `${root}/.lock`;
        const first = fs.tryLock(path);
        expect(first.kind).toBe("locked");
        expect(fs.exists(path)).toBe(true);
        const second = fs.tryLock(path);
        expect(second.kind).toBe("held");
        if (first.kind !== "locked") throw new Error("unreachable");
        expect(first.lock.path).toBe(path);
        first.lock.release();
        first.lock.release(); // idempotent
        const third = fs.tryLock(path);
        expect(third.kind).toBe("locked");
        // Another file is another lock.
        const other = fs.tryLock(`${root}/other.lock`);
        expect(other.kind).toBe("locked");
        if (third.kind === "locked") third.lock.release();
        if (other.kind === "locked") other.lock.release();
      }),
    );
  });
}
