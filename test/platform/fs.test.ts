import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { StorageError } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { fsConformance } from "./fs-conformance.ts";

fsConformance("BunFileSystem", () => {
  const root = mkdtempSync(join(tmpdir(), "bunka-fs-"));
  return { fs: new BunFileSystem(), root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
});

fsConformance("SimFileSystem", () => {
  const fs = new SimFileSystem(new SeededPrng(7));
  fs.mkdirp("/root");
  return { fs, root: "/root", cleanup: () => {} };
});

describe("SimFileSystem faults", () => {
  const setup = (seed: number) => {
    const fs = new SimFileSystem(new SeededPrng(seed));
    fs.mkdirp("/d");
    return fs;
  };

  test("crash keeps fsynced bytes and a prefix of the rest; unsynced new files may vanish", () => {
    let tornSeen = false;
    let lostSeen = false;
    for (let seed = 1; seed <= 40; seed++) {
      const fs = setup(seed);
      const fd = fs.open("/d/f", "append");
      fs.append(fd, new Uint8Array([1, 2, 3]));
      fs.fsync(fd);
      fs.fsyncDir("/d");
      fs.append(fd, new Uint8Array([4, 5, 6, 7]));
      const fd2 = fs.open("/d/g", "append");
      fs.append(fd2, new Uint8Array([1]));
      fs.fsync(fd2);
      fs.crash();
      const after = [...fs.readFile("/d/f")];
      expect(after.slice(0, 3)).toEqual([1, 2, 3]);
      expect([4, 5, 6, 7].slice(0, after.length - 3)).toEqual(after.slice(3));
      if (after.length > 3 && after.length < 7) tornSeen = true;
      if (!fs.exists("/d/g")) lostSeen = true;
      expect(() => fs.append(fd, new Uint8Array([1]))).toThrow(StorageError);
    }
    expect(tornSeen).toBe(true);
    expect(lostSeen).toBe(true);
  });

  test("injected ENOSPC/EIO fail once, after a strict prefix; capacity limits appends", () => {
    const fs = setup(3);
    const fd = fs.open("/d/f", "append");
    fs.failNext("append", "ENOSPC");
    expect(() => fs.append(fd, new Uint8Array(10))).toThrow(StorageError);
    expect(fs.size(fd)).toBeLessThan(10);
    fs.truncate(fd, 0);
    fs.append(fd, new Uint8Array(10));
    expect(fs.size(fd)).toBe(10);
    fs.failNext("fsync", "EIO");
    try {
      fs.fsync(fd);
      throw new Error("fsync should fail");
    } catch (e) {
      expect((e as StorageError).code).toBe("EIO");
    }
    fs.fsync(fd);
    fs.setCapacity(15);
    try {
      fs.append(fd, new Uint8Array(10));
      throw new Error("append should fail");
    } catch (e) {
      expect((e as StorageError).code).toBe("ENOSPC");
    }
    expect(fs.size(fd)).toBeLessThanOrEqual(15);
  });
});

describe("BunFileSystem page-cache advice", () => {
  /** Resident bytes of a file per util-linux `fincore` (Debian's util-linux is essential). */
  function residentBytes(path: string): number {
    const r = Bun.spawnSync(["fincore", "--bytes", "--noheadings", "--output", "RES", path]);
    if (r.exitCode !== 0) throw new Error(`fincore failed: ${r.stderr.toString()}`);
    return Number(r.stdout.toString().trim());
  }

  test.if(process.platform === "linux")("dropCache evicts written-back pages; the data reads back unchanged", () => {
    const root = mkdtempSync(join(tmpdir(), "bunka-fs-advice-"));
    try {
      const fs = new BunFileSystem();
      const path = join(root, "log");
      const fd = fs.open(path, "append");
      const data = new Uint8Array(8 << 20);
      for (let i = 0; i < data.length; i += 4096) data[i] = (i >> 12) & 0xff;
      fs.append(fd, data);
      expect(residentBytes(path)).toBe(data.length);
      expect(fs.startWriteback(fd, 0, data.length)).toBe(true);
      fs.fsync(fd); // writeback finished: every page is clean and can go
      expect(fs.dropCache(fd, 0, 4 << 20)).toBe(true);
      expect(residentBytes(path)).toBe(4 << 20); // only the second half is left
      const back = new Uint8Array(data.length);
      expect(fs.read(fd, back, 0, back.length, 0)).toBe(data.length);
      expect(back).toEqual(data);
      fs.close(fd);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("BunFileSystem.tryLock across processes", () => {
  test("a lock held by another process is refused and names it; SIGKILL frees it at once", async () => {
    const root = mkdtempSync(join(tmpdir(), "bunka-lock-"));
    const path = join(root, ".lock");
    try {
      const script = `import { BunFileSystem } from ${JSON.stringify(join(import.meta.dir, "../../src/platform/bun/fs.ts"))};
        const r = new BunFileSystem().tryLock(${JSON.stringify(path)});
        console.log(r.kind);
        setInterval(() => {}, 1000);`;
      const child = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "inherit" });
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value).trim()).toBe("locked");
      const fs = new BunFileSystem();
      const held = fs.tryLock(path);
      expect(held).toEqual({ kind: "held", holderPid: child.pid });
      child.kill("SIGKILL");
      await child.exited;
      const after = fs.tryLock(path);
      expect(after.kind).toBe("locked");
      if (after.kind === "locked") after.lock.release();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("the simulated filesystem drops every lock in a crash", () => {
    const fs = new SimFileSystem(new SeededPrng(3));
    fs.mkdirp("/d");
    expect(fs.tryLock("/d/.lock").kind).toBe("locked");
    expect(fs.tryLock("/d/.lock").kind).toBe("held");
    fs.crash();
    expect(fs.tryLock("/d/.lock").kind).toBe("locked");
  });
});

describe("statfs", () => {
  test.if(process.platform === "linux")("BunFileSystem agrees with stat -f on the same filesystem", () => {
    const root = mkdtempSync(join(tmpdir(), "bunka-statfs-"));
    try {
      const r = Bun.spawnSync(["stat", "-f", "--format", "%S %b %f %a", root]);
      expect(r.exitCode).toBe(0);
      const [unit, blocks, free, avail] = r.stdout.toString().trim().split(" ").map(Number) as [number, number, number, number];
      const s = new BunFileSystem().statfs(root);
      expect(s.totalBytes).toBe(unit * blocks);
      // Other processes write meanwhile: the free figures agree to within 256 MiB.
      expect(Math.abs(s.freeBytes - unit * free)).toBeLessThan(256 << 20);
      expect(Math.abs(s.availableBytes - unit * avail)).toBeLessThan(256 << 20);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("SimFileSystem: capacity, files, other users and root's reserve make the figures; appends stop at available = 0", () => {
    const fs = new SimFileSystem(new SeededPrng(5));
    fs.mkdirp("/d");
    fs.setCapacity(1000);
    expect(fs.statfs("/d")).toEqual({ totalBytes: 1000, freeBytes: 1000, availableBytes: 1000 });
    const fd = fs.open("/d/f", "append");
    fs.append(fd, new Uint8Array(100));
    fs.setOtherUsedBytes(500);
    fs.setReservedBytes(50);
    expect(fs.statfs("/d")).toEqual({ totalBytes: 1000, freeBytes: 400, availableBytes: 350 });
    fs.append(fd, new Uint8Array(350));
    expect(fs.statfs("/d").availableBytes).toBe(0);
    expect(() => fs.append(fd, new Uint8Array(1))).toThrow(StorageError);
    fs.setOtherUsedBytes(0);
    expect(fs.statfs("/d").availableBytes).toBe(500);
    fs.append(fd, new Uint8Array(1));
  });
});
