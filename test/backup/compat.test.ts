/**
 * A backup written before chunks were sealed into reused buffers still verifies and reads back
 * batch for batch, and today's writer produces its chunks byte for byte. The fixture (one
 * topic, two zstd chunks sealed with key bytes 0..31 and nonces filled with index + 1, the
 * first 1.5 MiB raw) was written by format.ts's encodeChunk/encodeManifest at 901599d from the
 * batches of fixture-batches.ts.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BackupKey } from "../../src/backup/crypto.ts";
import { ChunkScratch, encodeChunk } from "../../src/backup/format.ts";
import { loadManifest, readPartitionChunks } from "../../src/backup/reader.ts";
import { verifyBackups } from "../../src/backup/verify.ts";
import { nodeAes256Gcm } from "../../src/platform/bun/aead.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { fixtureBatches } from "./fixture-batches.ts";

const dir = join(import.meta.dir, "fixtures/v1-901599d");
const id = "20261206T000000000Z-01d01d";
const key = await BackupKey.fromBytes(new Uint8Array(32).map((_, i) => i), nodeAes256Gcm);
const fs = new BunFileSystem();

test("a backup written by the code before this change verifies and reads back batch for batch", async () => {
  const [verified] = await verifyBackups(fs, bunCompression, dir, key);
  expect(verified).toMatchObject({ id, problem: null, chunks: 2, batches: 4, records: 2000 });
  const manifest = await loadManifest(fs, dir, id, key);
  const topic = manifest.topics[0]!;
  expect(manifest.topics[0]!.partitions[0]!.chunks[0]!.rawBytes).toBeGreaterThan(1024 * 1024);
  const read: Uint8Array[][] = [];
  for await (const c of readPartitionChunks(fs, bunCompression, join(dir, id), manifest, topic.name, topic.partitions[0]!, key)) read.push(c.batches.map((b) => b.bytes.slice()));
  expect(read).toEqual(fixtureBatches());
});

test("today's writer gives the fixture's chunk frames byte for byte (same nonces), with and without a reused scratch", async () => {
  const manifest = await loadManifest(fs, dir, id, key);
  const entry = manifest.topics[0]!.partitions[0]!;
  const identity = { backupId: id, topic: "fx", partition: 0 };
  const scratch = new ChunkScratch();
  for (const [index, group] of fixtureBatches().entries()) {
    const raw = new Uint8Array(group.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of group) {
      raw.set(b, at);
      at += b.length;
    }
    const c = entry.chunks[index]!;
    for (const s of [null, scratch]) {
      const frame = await encodeChunk(identity, { index, firstOffset: c.firstOffset, nextOffset: c.nextOffset, batchCount: c.batches }, raw, "zstd", bunCompression, key, new Uint8Array(12).fill(index + 1), s);
      expect(frame.sha256).toBe(c.sha256);
    }
  }
});
