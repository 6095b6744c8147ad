/**
 * Reading backups back (format.ts owns the format): listing a backup directory, loading and
 * checking manifests, walking a partition's chain of backups, and streaming a data file's
 * chunks with every check verify makes — frame digest against the manifest, header fields
 * against the manifest, the seal, decompression to the announced size, each batch's CRC and
 * the batch count and offset range — so verify and restore share one reader and restore
 * never produces a byte verify would refuse.
 *
 * Bounds: manifest and sum sizes, and every chunk's sizes, are checked (format.ts) against
 * their limits and against the bytes left in the file before a buffer is allocated.
 */
import type { Compression } from "../platform/compression.ts";
import { type FileSystem, joinPath, StorageError } from "../platform/fs.ts";
import { type RecordBatchView, walkBatches } from "../protocol/records/record-batch.ts";
import { type BackupKey, hex, sha256 } from "./crypto.ts";
import {
  backupIdPattern,
  chunkHeaderBytes,
  chunkRawBytesMax,
  decodeManifest,
  fileDigest,
  type Manifest,
  manifestBytesMax,
  openChunk,
  type PartitionEntry,
  parseChunkHeader,
  sumBytesMax,
  type TopicEntry,
} from "./format.ts";

/** A backup that fails a check: `where` names the file (and chunk) at fault. */
export class BackupError extends Error {
  override readonly name = "BackupError";
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
  }
}

export interface ListedBackup {
  readonly id: string;
  readonly dir: string;
  /** The manifest when it parses and matches its SHA-256 (HMAC not checked without a key). */
  readonly manifest: Manifest | null;
  readonly problem: string | null;
}

function readBounded(fs: FileSystem, path: string, max: number): Uint8Array {
  const st = fs.stat(path);
  if (st.size > max) throw new BackupError(path, `${st.size} bytes, more than the ${max} allowed`);
  return fs.readFile(path);
}

/** Backup ids in `dir`, oldest first (names that are not ids are ignored). */
export function backupIds(fs: FileSystem, dir: string): string[] {
  if (!fs.exists(dir)) return [];
  return fs
    .readdir(dir)
    .filter((n) => backupIdPattern.test(n) && fs.stat(joinPath(dir, n)).isDirectory)
    .sort();
}

export async function loadManifest(fs: FileSystem, dir: string, id: string, key: BackupKey | null): Promise<Manifest> {
  const bdir = joinPath(dir, id);
  const mpath = joinPath(bdir, "manifest.json");
  const spath = joinPath(bdir, "manifest.sum");
  let bytes: Uint8Array;
  let sum: Uint8Array;
  try {
    bytes = readBounded(fs, mpath, manifestBytesMax);
    sum = readBounded(fs, spath, sumBytesMax);
  } catch (e) {
    if (e instanceof BackupError) throw e;
    if (e instanceof StorageError) throw new BackupError(e.path, `cannot read: ${e.code}`);
    throw e;
  }
  const checked = await decodeManifest(bytes, sum, key);
  if (!checked.ok) throw new BackupError(mpath, checked.reason);
  if (checked.manifest.id !== id) throw new BackupError(mpath, `names backup ${checked.manifest.id}, but sits in ${id}/`);
  return checked.manifest;
}

export async function listBackups(fs: FileSystem, dir: string): Promise<ListedBackup[]> {
  const out: ListedBackup[] = [];
  for (const id of backupIds(fs, dir)) {
    try {
      out.push({ id, dir: joinPath(dir, id), manifest: await loadManifest(fs, dir, id, null), problem: null });
    } catch (e) {
      if (!(e instanceof BackupError)) throw e;
      out.push({ id, dir: joinPath(dir, id), manifest: null, problem: e.message });
    }
  }
  return out;
}

/**
 * The manifests a restore of `id` reads, oldest first: `id` and its ancestors. A missing or
 * unreadable ancestor is an error (the chain is broken) — unless no partition needs it, which
 * `partitionChain` decides; here every ancestor named must load.
 */
export async function loadChain(fs: FileSystem, dir: string, id: string, key: BackupKey | null): Promise<Manifest[]> {
  const chain: Manifest[] = [];
  const seen = new Set<string>();
  let next: string | null = id;
  while (next !== null) {
    if (seen.has(next)) throw new BackupError(joinPath(dir, next), "the parent chain loops");
    seen.add(next);
    if (!fs.exists(joinPath(dir, next))) throw new BackupError(joinPath(dir, next), `missing: backup ${chain[0]?.id ?? id} needs it as an ancestor (incremental chain broken)`);
    const m = await loadManifest(fs, dir, next, key);
    chain.unshift(m);
    next = m.parent;
  }
  return chain;
}

export interface PartitionPiece {
  readonly manifest: Manifest;
  readonly topic: TopicEntry;
  readonly entry: PartitionEntry;
}

/**
 * The pieces of one partition a restore replays, oldest first: from the newest backup in the
 * chain back to the nearest `fresh` entry, following the same topic id.
 */
export function partitionChain(chain: readonly Manifest[], topicName: string, partition: number): PartitionPiece[] {
  const last = chain[chain.length - 1];
  const topic = last?.topics.find((t) => t.name === topicName);
  if (last === undefined || topic === undefined) return [];
  const pieces: PartitionPiece[] = [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const m = chain[i]!;
    const t = m.topics.find((x) => x.name === topicName && x.topicId === topic.topicId);
    const e = t?.partitions.find((p) => p.partition === partition);
    if (t === undefined || e === undefined) break;
    pieces.unshift({ manifest: m, topic: t, entry: e });
    if (e.fresh) break;
  }
  return pieces;
}

export interface ReadChunk {
  readonly index: number;
  readonly batches: RecordBatchView[];
  readonly rawBytes: number;
  readonly storedBytes: number;
}

/**
 * Streams the chunks of one partition's data file in a backup, checking each against the
 * manifest; throws BackupError naming the file and chunk at the first problem.
 */
export async function* readPartitionChunks(
  fs: FileSystem,
  compression: Compression,
  backupDir: string,
  manifest: Manifest,
  topic: string,
  entry: PartitionEntry,
  key: BackupKey | null,
): AsyncGenerator<ReadChunk> {
  if (entry.file === null) {
    if (entry.chunks.length !== 0) throw new BackupError(joinPath(backupDir, "manifest.json"), `${topic}-${entry.partition} lists chunks but no file`);
    return;
  }
  const path = joinPath(backupDir, entry.file);
  if (manifest.encryption !== null && key === null) throw new BackupError(path, "the backup is encrypted: give its key with --encryption-key-file");
  let fd;
  try {
    fd = fs.open(path, "read");
  } catch (e) {
    if (e instanceof StorageError) throw new BackupError(path, `cannot open: ${e.code} (missing data file)`);
    throw e;
  }
  const identity = { backupId: manifest.id, topic, partition: entry.partition };
  try {
    const size = fs.size(fd);
    if (size !== entry.fileBytes) throw new BackupError(path, `${size} bytes, the manifest says ${entry.fileBytes} (truncated or extended)`);
    let position = 0;
    const digests: string[] = [];
    const headerBuf = new Uint8Array(chunkHeaderBytes);
    for (let i = 0; i < entry.chunks.length; i++) {
      const where = `${path} chunk ${i}`;
      const expect = entry.chunks[i]!;
      const got = fs.read(fd, headerBuf, 0, chunkHeaderBytes, position);
      const parsed = parseChunkHeader(headerBuf.subarray(0, got), size - position);
      if (!parsed.ok) throw new BackupError(where, parsed.reason);
      const h = parsed.header;
      if (h.index !== i || h.firstOffset !== expect.firstOffset || h.nextOffset !== expect.nextOffset || h.batchCount !== expect.batches || h.rawBytes !== expect.rawBytes || h.storedBytes !== expect.storedBytes) {
        throw new BackupError(where, `header (index ${h.index}, offsets [${h.firstOffset}, ${h.nextOffset}), ${h.batchCount} batches) differs from the manifest (index ${i}, [${expect.firstOffset}, ${expect.nextOffset}), ${expect.batches} batches): chunks swapped or altered`);
      }
      if (h.sealed !== (manifest.encryption !== null)) throw new BackupError(where, `sealed flag ${h.sealed} but the manifest says the backup is ${manifest.encryption === null ? "not " : ""}encrypted`);
      if (h.codec !== manifest.compression) throw new BackupError(where, `codec ${h.codec}, the manifest says ${manifest.compression}`);
      const frameBytes = chunkHeaderBytes + h.storedBytes;
      const frame = new Uint8Array(frameBytes);
      const read = fs.read(fd, frame, 0, frameBytes, position);
      if (read !== frameBytes) throw new BackupError(where, `truncated: ${read} of ${frameBytes} bytes`);
      const digest = hex(await sha256(frame));
      if (digest !== expect.sha256) throw new BackupError(where, "SHA-256 differs from the manifest (altered bytes)");
      digests.push(digest);
      const opened = await openChunk(identity, frame, h, key, compression);
      if (!opened.ok) throw new BackupError(where, opened.reason);
      const walk = walkBatches(opened.raw, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: chunkRawBytesMax });
      if (walk.problem !== null) throw new BackupError(where, `batch ${walk.batches.length}: ${walk.problem}`);
      const batches = walk.batches;
      const first = batches[0];
      const last = batches[batches.length - 1];
      if (batches.length !== h.batchCount || first === undefined || last === undefined) throw new BackupError(where, `${batches.length} batches, header says ${h.batchCount}`);
      if (first.baseOffset !== h.firstOffset || last.nextOffset !== h.nextOffset) throw new BackupError(where, `batches span [${first.baseOffset}, ${last.nextOffset}), header says [${h.firstOffset}, ${h.nextOffset})`);
      let records = 0;
      let prevNext = -1;
      for (const b of batches) {
        if (b.baseOffset < prevNext) throw new BackupError(where, `batch at ${b.baseOffset} overlaps the previous one (ends ${prevNext})`);
        prevNext = b.nextOffset;
        records += b.recordCount;
      }
      if (records !== expect.records) throw new BackupError(where, `${records} records, the manifest says ${expect.records}`);
      position += frameBytes;
      yield { index: i, batches, rawBytes: h.rawBytes, storedBytes: h.storedBytes };
    }
    if (position !== size) throw new BackupError(path, `${size - position} bytes after the last chunk the manifest lists`);
    if (entry.fileSha256 !== (await fileDigest(digests))) throw new BackupError(path, "file digest differs from the manifest");
  } finally {
    fs.close(fd);
  }
}
