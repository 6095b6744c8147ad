/**
 * `backup verify`: reads every backup in a directory (or one and its ancestors) back
 * through the reader (reader.ts) — manifest digest and HMAC, every chunk's digest, seal,
 * decompression, batch CRCs and counts, file sizes and digests, the parent chain — and
 * reports the first problem of each backup, naming the file and chunk.
 */
import type { Compression } from "../platform/compression.ts";
import { type FileSystem, joinPath } from "../platform/fs.ts";
import type { BackupKey } from "./crypto.ts";
import { BackupError, backupIds, loadManifest, readPartitionChunks } from "./reader.ts";

export interface VerifiedBackup {
  readonly id: string;
  readonly problem: string | null;
  readonly chunks: number;
  readonly batches: number;
  readonly records: number;
  readonly rawBytes: number;
}

export async function verifyBackups(fs: FileSystem, compression: Compression, dir: string, key: BackupKey | null, only: string | null = null): Promise<VerifiedBackup[]> {
  const ids = backupIds(fs, dir);
  const selected = only === null ? ids : ids.filter((i) => i === only);
  const out: VerifiedBackup[] = [];
  for (const id of selected) {
    let chunks = 0;
    let batches = 0;
    let records = 0;
    let rawBytes = 0;
    let problem: string | null = null;
    try {
      const m = await loadManifest(fs, dir, id, key);
      if (m.encryption !== null && key === null) throw new BackupError(joinPath(joinPath(dir, id), "manifest.json"), `encrypted (key id ${m.encryption.keyId}): give its key with --encryption-key-file`);
      if (m.parent !== null && !ids.includes(m.parent)) throw new BackupError(joinPath(dir, id), `its parent ${m.parent} is missing (incremental chain broken)`);
      for (const t of m.topics) {
        for (const p of t.partitions) {
          for await (const c of readPartitionChunks(fs, compression, joinPath(dir, id), m, t.name, p, key)) {
            chunks++;
            batches += c.batches.length;
            for (const b of c.batches) records += b.recordCount;
            rawBytes += c.rawBytes;
          }
        }
      }
    } catch (e) {
      if (!(e instanceof BackupError)) throw e;
      problem = e.message;
    }
    out.push({ id, problem, chunks, batches, records, rawBytes });
  }
  return out;
}
