/** A partition of a topic with a maximal (249-character) name can be deleted: its `-delete` dir name fits in 255 bytes. */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { defaultLogManagerConfig } from "../../src/storage/config.ts";
import { deleteDirName, fileNameBytesMax } from "../../src/storage/file-names.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import { simpleBatch } from "./batch-builder.ts";

test("deleteDirName keeps the suffix whole and cuts a long topic to fit", () => {
  const hex = "0123456789abcdef0123456789abcdef";
  expect(deleteDirName({ topic: "orders", partition: 7 }, hex)).toBe(`orders-7.${hex}-delete`);
  const long = "t".repeat(249);
  const name = deleteDirName({ topic: long, partition: 123456 }, hex);
  expect(name.length).toBe(fileNameBytesMax);
  expect(name.endsWith(`-123456.${hex}-delete`)).toBe(true);
  expect(name.startsWith("t".repeat(100))).toBe(true);
});

test("deleting a 249-character topic's partition on a real filesystem removes its data", () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-longname-"));
  try {
    const clock = new SimClock();
    const open = () => LogManager.open({ fs: new BunFileSystem(), clock, prng: new SeededPrng(3), config: defaultLogManagerConfig([dir]) });
    const topic = "x".repeat(249);
    const m = open();
    const log = m.getOrCreateLog({ topic, partition: 11 })!;
    log.append(simpleBatch(1, 10), 0);
    expect(m.deleteLog({ topic, partition: 11 })).toBe(true);
    clock.advance(0);
    expect(readdirSync(dir).filter((n) => n.startsWith("xxx"))).toEqual([]);
    m.close();
    // A re-created partition of that name starts empty.
    const m2 = open();
    expect(m2.getLog({ topic, partition: 11 })).toBeNull();
    expect(m2.getOrCreateLog({ topic, partition: 11 })!.logEndOffset).toBe(0);
    m2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
