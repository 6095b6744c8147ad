/**
 * Snapshot files (src/raft/snapshot.ts) on the simulated and the real filesystem: names, round
 * trip, crash during creation and download, torn and cut files, bad CRCs, oversized sizes.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import type { FileSystem } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { RecordsError } from "../../src/protocol/records/records-error.ts";
import { decodeSnapshot, encodeSnapshot, parseSnapshotFileName, SnapshotError, snapshotFileName, SnapshotStore } from "../../src/raft/snapshot.ts";
import { recordBatch } from "./helpers.ts";

const id = { endOffset: 42, epoch: 3 };
const content = new Uint8Array([...recordBatch(["a", "b"]), ...recordBatch(["c"])]);

describe("snapshot names and bytes", () => {
  test("Kafka's file name, parsed back; other names are not snapshots", () => {
    expect(snapshotFileName(id)).toBe("00000000000000000042-0000000003.checkpoint");
    expect(parseSnapshotFileName("00000000000000000042-0000000003.checkpoint")).toEqual({ id, partial: false });
    expect(parseSnapshotFileName("00000000000000000042-0000000003.checkpoint.part")).toEqual({ id, partial: true });
    for (const bad of ["42-3.checkpoint", "00000000000000000000-0000000003.checkpoint", "00000000000000000042-0000000003.log", "quorum-state"]) {
      expect(parseSnapshotFileName(bad)).toBeNull();
    }
  });

  test("encode/decode round trip: header, content renumbered from 1, footer", () => {
    const bytes = encodeSnapshot(id, content, 1234);
    const r = decodeSnapshot(bytes, 3);
    expect(r).toMatchObject({ kind: "ok", lastContainedLogTimestampMs: 1234, batches: 2 });
    if (r.kind === "ok") expect(r.content.length).toBe(content.length);
    expect(decodeSnapshot(bytes, 4).kind).toBe("corrupt");
  });

  test("refused: a flipped bit, a file cut short (mid-batch or at a batch boundary), bad content, too big", () => {
    const bytes = encodeSnapshot(id, content, 0);
    const flipped = bytes.slice();
    flipped[bytes.length - 20]! ^= 1;
    expect(decodeSnapshot(flipped, 3).kind).toBe("corrupt");
    expect(decodeSnapshot(bytes.subarray(0, bytes.length - 5), 3).kind).toBe("corrupt");
    // Cut exactly before the footer: every remaining batch is valid, the footer is missing.
    const noFooter = bytes.subarray(0, bytes.length - footerSize(bytes));
    expect(decodeSnapshot(noFooter, 3)).toMatchObject({ kind: "corrupt" });
    expect(decodeSnapshot(new Uint8Array(0), 3).kind).toBe("corrupt");
    expect(decodeSnapshot(bytes, 3, bytes.length - 1)).toMatchObject({ kind: "corrupt" });
    expect(() => encodeSnapshot(id, new Uint8Array([1, 2, 3]), 0)).toThrow(RecordsError);
    expect(() => encodeSnapshot(id, content, 0, 100)).toThrow(RecordsError);
    // A batch length field claiming 2 GiB.
    const huge = bytes.slice();
    new DataView(huge.buffer).setInt32(8, 0x7fff_fff0);
    expect(decodeSnapshot(huge, 3).kind).toBe("corrupt");
  });
});

function footerSize(bytes: Uint8Array): number {
  // Walk the batches: the footer is the last one.
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let last = 0;
  while (at < bytes.length) {
    last = dv.getInt32(at + 8) + 12;
    at += last;
  }
  return last;
}

function storeSuite(name: string, make: () => { fs: FileSystem; dir: string; cleanup: () => void; crash?: () => void }): void {
  describe(`SnapshotStore on ${name}`, () => {
    test("create, list, read, chunks, delete; reopen sees the same", () => {
      const { fs, dir, cleanup } = make();
      try {
        const store = SnapshotStore.open(fs, dir);
        expect(store.latest()).toBeNull();
        store.create(id, content, 5);
        store.create({ endOffset: 50, epoch: 4 }, content, 6);
        expect(store.ids()).toEqual([id, { endOffset: 50, epoch: 4 }]);
        const stored = decodeSnapshot(encodeSnapshot(id, content, 5), 3);
        expect(stored.kind === "ok" && stored.content).toEqual(store.readContent(id));
        const size = store.sizeOf(id)!;
        const chunks: Uint8Array[] = [];
        for (let p = 0; p < size; p += 37) chunks.push(store.readChunk(id, p, 37));
        const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          whole.set(c, at);
          at += c.length;
        }
        expect([...whole]).toEqual([...fs.readFile(store.path(id))]);
        store.delete([id]);
        const again = SnapshotStore.open(fs, dir);
        expect(again.ids()).toEqual([{ endOffset: 50, epoch: 4 }]);
      } finally {
        cleanup();
      }
    });

    test("download in chunks: the .part is left out until finished; a bad file is refused and removed", () => {
      const { fs, dir, cleanup } = make();
      try {
        const source = encodeSnapshot(id, content, 0);
        const store = SnapshotStore.open(fs, dir);
        store.beginDownload(id, source.length);
        store.appendDownload(source.subarray(0, 50));
        expect(SnapshotStore.open(fs, dir).ids()).toEqual([]); // reopening removes the .part
        store.beginDownload(id, source.length);
        store.appendDownload(source.subarray(0, 50));
        store.appendDownload(source.subarray(50));
        const r = store.finishDownload();
        expect(r).toMatchObject({ kind: "ok", id });
        expect(store.ids()).toEqual([id]);
        const other = { endOffset: 60, epoch: 3 };
        const bad = encodeSnapshot(other, content, 0);
        bad[bad.length - 3]! ^= 0xff;
        store.beginDownload(other, bad.length);
        store.appendDownload(bad);
        expect(store.finishDownload().kind).toBe("corrupt");
        expect(store.ids()).toEqual([id]);
        expect(fs.readdir(dir).filter((n) => n.includes(".part"))).toEqual([]);
      } finally {
        cleanup();
      }
    });

    test("a corrupt complete snapshot stops open (the directory was damaged)", () => {
      const { fs, dir, cleanup } = make();
      try {
        const store = SnapshotStore.open(fs, dir);
        store.create(id, content, 0);
        const path = store.path(id);
        const bytes = fs.readFile(path);
        bytes[bytes.length - 2]! ^= 1;
        const fd = fs.open(path, "write");
        fs.append(fd, bytes);
        fs.fsync(fd);
        fs.close(fd);
        expect(() => SnapshotStore.open(fs, dir)).toThrow(SnapshotError);
      } finally {
        cleanup();
      }
    });
  });
}

storeSuite("the simulated filesystem", () => {
  const fs = new SimFileSystem(new SeededPrng(5));
  return { fs, dir: "/data/__cluster_metadata-0", cleanup: () => {} };
});

storeSuite("the real filesystem", () => {
  const root = mkdtempSync(join(tmpdir(), "bunka-snap-"));
  return { fs: new BunFileSystem(), dir: join(root, "__cluster_metadata-0"), cleanup: () => rmSync(root, { recursive: true, force: true }) };
});

test("a crash while creating or downloading leaves no snapshot or the whole one, never a torn one (simulated power loss)", () => {
  let whole = 0;
  let none = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const fs = new SimFileSystem(new SeededPrng(seed));
    const dir = "/d";
    const store = SnapshotStore.open(fs, dir);
    const source = encodeSnapshot(id, content, 0);
    if (seed % 2 === 0) {
      // Crash mid-download, or right after finishing it.
      store.beginDownload(id, source.length);
      store.appendDownload(source.subarray(0, 40));
      if (seed % 4 === 0) {
        store.appendDownload(source.subarray(40));
        store.finishDownload();
      }
    } else {
      // A creation whose rename may or may not have reached the disk: crash before the dir fsync.
      const tmp = `${dir}/${snapshotFileName(id)}.tmp`;
      const fd = fs.open(tmp, "write");
      fs.append(fd, source);
      if (seed % 3 === 0) fs.fsync(fd);
      fs.close(fd);
      fs.rename(tmp, `${dir}/${snapshotFileName(id)}`);
      // A complete file that was never fsynced may be torn by the crash: the reader must refuse it.
    }
    fs.crash();
    try {
      const after = SnapshotStore.open(fs, dir);
      if (after.ids().length === 1) {
        expect(after.readContent(id).length).toBe(content.length);
        whole++;
      } else {
        expect(after.ids()).toEqual([]);
        none++;
      }
      expect(fs.readdir(dir).filter((n) => n.endsWith(".part") || n.endsWith(".tmp"))).toEqual([]);
    } catch (e) {
      if (!(e instanceof SnapshotError)) throw e;
      // Only the unsynced rename (not done by the store) may leave a torn complete file.
      expect(seed % 2 === 1 && seed % 3 !== 0).toBe(true);
      expect(e).toBeInstanceOf(SnapshotError);
    }
  }
  expect(whole).toBeGreaterThan(0);
  expect(none).toBeGreaterThan(0);
});
