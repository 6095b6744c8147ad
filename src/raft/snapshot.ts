/**
 * Snapshots of the metadata log (KIP-630): files beside the log in `__cluster_metadata-0/`,
 * each holding what the state machine above wrote as its state at a committed offset. The
 * Raft layer never interprets the content; it stores, validates, serves and installs it.
 *
 * Name: `<endOffset, 20 digits>-<epoch, 10 digits>.checkpoint`, as Kafka names them. The
 * snapshot id (endOffset, epoch): every record below endOffset is in the snapshot, none at or
 * above it; epoch is the epoch of the log record at endOffset - 1.
 *
 * Byte layout: v2 record batches only (Kafka's layout), offsets counted from 0 within the
 * file, every partitionLeaderEpoch = the snapshot's epoch:
 *   - batch 0: one control record SNAPSHOT_HEADER (key: version int16 0 | type int16 3;
 *     value: version int16 0 | lastContainedLogTimestamp int64 | uvarint 0 tagged fields);
 *   - the content: the state machine's batches, as it gave them (their CRCs cover neither
 *     base offset nor epoch, so renumbering them keeps the CRCs);
 *   - last batch: one control record SNAPSHOT_FOOTER (key: version 0 | type 4; value:
 *     version int16 0 | uvarint 0).
 * A reader checks every CRC, that the batches cover the file exactly, that the first is the
 * header and the last the footer (so a file cut at a batch boundary is refused too), that the
 * offsets ascend from 0, and that no size exceeds `snapshotBytesMax`.
 *
 * Crash behaviour:
 * - Creation: the whole file is written to `<name>.tmp`, fsynced, renamed to `<name>`, and
 *   the directory fsynced: a crash leaves no snapshot or the whole one (and perhaps a `.tmp`,
 *   removed at open).
 * - Download (a follower fetching the leader's snapshot in chunks): chunks are appended to
 *   `<name>.part`; the last one is followed by fsync, a full read-back check, the rename to
 *   `<name>` and a directory fsync. A `.part` left by a crash is removed at open: the fetch
 *   starts over.
 * - Deletion: unlink, then a directory fsync. Deleting is only ever of snapshots older than
 *   one that stays, so a crash midway leaves an extra old snapshot at worst.
 */
import { type Fd, type FileSystem, joinPath, StorageError } from "../platform/fs.ts";
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { ControlRecordType, controlRecordKey } from "../protocol/records/control-record.ts";
import { RecordsError } from "../protocol/records/records-error.ts";
import { type RecordBatchView, walkBatches } from "../protocol/records/record-batch.ts";
import { assert } from "./assert.ts";
import { snapshotBytesMax } from "./config.ts";

export interface SnapshotId {
  readonly endOffset: number;
  readonly epoch: number;
}

export const snapshotSuffix = ".checkpoint";
export const partialSuffix = ".part";
const tmpSuffix = ".tmp";
const headerVersion = 0;
const footerVersion = 0;

export function sameSnapshotId(a: SnapshotId, b: SnapshotId): boolean {
  return a.endOffset === b.endOffset && a.epoch === b.epoch;
}

/** Orders ids by end offset, then epoch. */
export function compareSnapshotIds(a: SnapshotId, b: SnapshotId): number {
  return a.endOffset - b.endOffset || a.epoch - b.epoch;
}

export function snapshotIdText(id: SnapshotId): string {
  return `${id.endOffset}-${id.epoch}`;
}

/** Why `id` cannot name a snapshot, or null: end offset >= 1 (a snapshot holds at least one record) and epoch >= 0. */
export function snapshotIdProblem(id: SnapshotId): string | null {
  if (!(Number.isSafeInteger(id.endOffset) && id.endOffset >= 1 && id.endOffset < 10 ** 20)) return `end offset ${id.endOffset}`;
  if (!(Number.isSafeInteger(id.epoch) && id.epoch >= 0 && id.epoch <= 0x7fff_ffff)) return `epoch ${id.epoch}`;
  return null;
}

export function snapshotFileName(id: SnapshotId): string {
  const problem = snapshotIdProblem(id);
  assert(problem === null, () => `snapshot file name for a bad id: ${problem}`);
  return `${String(id.endOffset).padStart(20, "0")}-${String(id.epoch).padStart(10, "0")}${snapshotSuffix}`;
}

/** The id a file name stands for and whether it is a partial download; null for other files. */
export function parseSnapshotFileName(name: string): { id: SnapshotId; partial: boolean } | null {
  const m = /^([0-9]{20})-([0-9]{10})\.checkpoint(\.part)?$/.exec(name);
  if (m === null) return null;
  const id = { endOffset: Number(m[1]), epoch: Number(m[2]) };
  return snapshotIdProblem(id) === null ? { id, partial: m[3] !== undefined } : null;
}

export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

// ---- encoding ---------------------------------------------------------------------------------

function controlBatch(type: number, value: Uint8Array, timestampMs: number): Uint8Array {
  return buildRecordBatch([{ key: controlRecordKey(type), value, timestamp: timestampMs }], { isControl: true });
}

function headerValue(lastContainedLogTimestampMs: number): Uint8Array {
  const v = new Uint8Array(11);
  const dv = new DataView(v.buffer);
  dv.setInt16(0, headerVersion);
  dv.setBigInt64(2, BigInt(lastContainedLogTimestampMs));
  v[10] = 0;
  return v;
}

/**
 * The file bytes of snapshot `id` holding `content` (whole v2 batches, CRCs valid; copied, not
 * changed). Throws RecordsError when the content is not that, or the result exceeds `bytesMax`.
 */
export function encodeSnapshot(id: SnapshotId, content: Uint8Array, lastContainedLogTimestampMs: number, bytesMax: number = snapshotBytesMax): Uint8Array {
  const header = controlBatch(ControlRecordType.SNAPSHOT_HEADER, headerValue(lastContainedLogTimestampMs), lastContainedLogTimestampMs);
  const footer = controlBatch(ControlRecordType.SNAPSHOT_FOOTER, Uint8Array.of(0, footerVersion, 0), lastContainedLogTimestampMs);
  const size = header.length + content.length + footer.length;
  if (size > bytesMax) throw new RecordsError("badLength", `a snapshot of ${size} bytes, more than ${bytesMax}`);
  const out = new Uint8Array(size);
  out.set(header, 0);
  out.set(content, header.length);
  out.set(footer, header.length + content.length);
  const walk = walkBatches(out, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: bytesMax, assign: { firstOffset: 0, leaderEpoch: id.epoch } });
  if (walk.problem !== null) {
    throw new RecordsError(walk.problem, `snapshot content: batch ${walk.batches.length - 1} at byte ${walk.validBytes - header.length} of ${content.length}`);
  }
  return out;
}

export type SnapshotDecodeResult =
  | { readonly kind: "ok"; readonly content: Uint8Array; readonly lastContainedLogTimestampMs: number; readonly batches: number }
  | { readonly kind: "corrupt"; readonly detail: string };

function controlType(batch: RecordBatchView): number | null {
  if (!batch.isControl || batch.recordCount !== 1 || batch.compressionId !== 0) return null;
  try {
    const [record] = batch.records({ maxBytes: batch.sizeInBytes });
    const key = record?.key ?? null;
    if (key === null || key.length !== 4 || key[0] !== 0 || key[1] !== 0) return null;
    return (key[2]! << 8) | key[3]!;
  } catch (e) {
    if (e instanceof RecordsError) return null;
    throw e;
  }
}

/** Checks the bytes of a whole snapshot file (see the module doc); `epoch`, when given, must be every batch's. */
export function decodeSnapshot(bytes: Uint8Array, epoch: number | null, bytesMax: number = snapshotBytesMax): SnapshotDecodeResult {
  if (bytes.length > bytesMax) return { kind: "corrupt", detail: `${bytes.length} bytes, more than ${bytesMax}` };
  const walk = walkBatches(bytes, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: bytesMax });
  if (walk.problem !== null) return { kind: "corrupt", detail: `${walk.problem} at byte ${walk.validBytes} of ${bytes.length}` };
  const batches = walk.batches;
  const first = batches[0];
  const last = batches.at(-1);
  if (first === undefined || last === undefined || batches.length < 2) return { kind: "corrupt", detail: `${batches.length} batches, a snapshot has a header and a footer` };
  if (controlType(first) !== ControlRecordType.SNAPSHOT_HEADER) return { kind: "corrupt", detail: "the first batch is not a SNAPSHOT_HEADER control record" };
  if (controlType(last) !== ControlRecordType.SNAPSHOT_FOOTER) return { kind: "corrupt", detail: "the last batch is not a SNAPSHOT_FOOTER control record (the file was cut short?)" };
  let next = 0;
  for (const b of batches) {
    let base: number;
    try {
      base = b.baseOffset;
    } catch (e) {
      if (e instanceof RecordsError) return { kind: "corrupt", detail: e.message };
      throw e;
    }
    if (base !== next) return { kind: "corrupt", detail: `a batch at offset ${base} where ${next} was next` };
    if (epoch !== null && b.partitionLeaderEpoch !== epoch) return { kind: "corrupt", detail: `a batch of epoch ${b.partitionLeaderEpoch} in a snapshot of epoch ${epoch}` };
    next = base + b.lastOffsetDelta + 1;
  }
  const [headerRecord] = first.records({ maxBytes: first.sizeInBytes });
  const value = headerRecord?.value ?? null;
  if (value === null || value.length < 10) return { kind: "corrupt", detail: "a SNAPSHOT_HEADER without its value" };
  const ts = new DataView(value.buffer, value.byteOffset, value.byteLength).getBigInt64(2);
  const contentEnd = bytes.length - last.sizeInBytes;
  return { kind: "ok", content: bytes.subarray(first.sizeInBytes, contentEnd), lastContainedLogTimestampMs: Number(ts), batches: batches.length - 2 };
}

// ---- files ------------------------------------------------------------------------------------

/** Reads and checks the snapshot at `path` (size bounded before reading). Throws StorageError on I/O failure. */
export function readSnapshotFile(fs: FileSystem, path: string, id: SnapshotId, bytesMax: number = snapshotBytesMax): SnapshotDecodeResult & { bytes?: Uint8Array } {
  const size = fs.stat(path).size;
  if (size > bytesMax) return { kind: "corrupt", detail: `${size} bytes, more than ${bytesMax}` };
  const bytes = fs.readFile(path);
  const r = decodeSnapshot(bytes, id.epoch, bytesMax);
  return r.kind === "ok" ? { ...r, bytes } : r;
}

/** Creates `path` durably from `bytes` (tmp, fsync, rename, fsync dir). Throws StorageError. */
function writeDurably(fs: FileSystem, dir: string, name: string, bytes: Uint8Array): void {
  const tmp = joinPath(dir, name + tmpSuffix);
  const fd = fs.open(tmp, "write");
  try {
    fs.append(fd, bytes);
    fs.fsync(fd);
  } finally {
    fs.close(fd);
  }
  fs.rename(tmp, joinPath(dir, name));
  fs.fsyncDir(dir);
}

interface Download {
  readonly id: SnapshotId;
  readonly size: number;
  readonly path: string;
  fd: Fd;
  position: number;
}

/**
 * The snapshots in one metadata directory: their ids (ascending), sizes, creation, reading,
 * chunked serving, deletion, and the one download in progress.
 */
export class SnapshotStore {
  readonly dir: string;
  readonly #fs: FileSystem;
  readonly #bytesMax: number;
  /** Complete snapshots, ascending by id, with their file sizes. */
  #snapshots: { id: SnapshotId; size: number; mtimeMs: number }[] = [];
  #download: Download | null = null;

  private constructor(fs: FileSystem, dir: string, bytesMax: number) {
    this.#fs = fs;
    this.dir = dir;
    this.#bytesMax = bytesMax;
  }

  /**
   * Lists the snapshots in `dir`, removing leftovers of interrupted writes and downloads, and
   * checks every one (CRCs, header, footer, sizes). Throws SnapshotError when a complete
   * snapshot is corrupt (it was written whole and renamed: the directory was damaged), and
   * StorageError on I/O failure.
   */
  static open(fs: FileSystem, dir: string, bytesMax: number = snapshotBytesMax): SnapshotStore {
    const store = new SnapshotStore(fs, dir, bytesMax);
    fs.mkdirp(dir);
    let removed = false;
    for (const name of fs.readdir(dir)) {
      const path = joinPath(dir, name);
      if (name.endsWith(snapshotSuffix + tmpSuffix) || name.endsWith(snapshotSuffix + partialSuffix)) {
        fs.unlink(path);
        removed = true;
        continue;
      }
      const parsed = parseSnapshotFileName(name);
      if (parsed === null || parsed.partial) continue;
      const r = readSnapshotFile(fs, path, parsed.id, bytesMax);
      if (r.kind !== "ok") throw new SnapshotError(path, r.detail);
      const stat = fs.stat(path);
      store.#snapshots.push({ id: parsed.id, size: stat.size, mtimeMs: stat.mtimeMs });
    }
    if (removed) fs.fsyncDir(dir);
    store.#snapshots.sort((a, b) => compareSnapshotIds(a.id, b.id));
    return store;
  }

  /** Complete snapshots, oldest first. */
  ids(): SnapshotId[] {
    return this.#snapshots.map((s) => s.id);
  }

  latest(): SnapshotId | null {
    return this.#snapshots.at(-1)?.id ?? null;
  }

  earliest(): SnapshotId | null {
    return this.#snapshots[0]?.id ?? null;
  }

  /** File size of snapshot `id`, or null when there is no such snapshot. */
  sizeOf(id: SnapshotId): number | null {
    return this.#snapshots.find((s) => sameSnapshotId(s.id, id))?.size ?? null;
  }

  /** Total bytes of the complete snapshots. */
  totalBytes(): number {
    return this.#snapshots.reduce((sum, s) => sum + s.size, 0);
  }

  /** Wall-clock time snapshot `id` was written (its file's mtime), or null. */
  createdMs(id: SnapshotId): number | null {
    return this.#snapshots.find((s) => sameSnapshotId(s.id, id))?.mtimeMs ?? null;
  }

  path(id: SnapshotId): string {
    return joinPath(this.dir, snapshotFileName(id));
  }

  /**
   * Writes snapshot `id` holding `content` durably. Throws RecordsError when the content is
   * not whole valid batches or too large, StorageError on I/O failure (nothing is listed then).
   */
  create(id: SnapshotId, content: Uint8Array, lastContainedLogTimestampMs: number): void {
    const problem = snapshotIdProblem(id);
    assert(problem === null, () => `snapshot id ${snapshotIdText(id)}: ${problem}`);
    assert(this.sizeOf(id) === null, () => `snapshot ${snapshotIdText(id)} exists`);
    const bytes = encodeSnapshot(id, content, lastContainedLogTimestampMs, this.#bytesMax);
    writeDurably(this.#fs, this.dir, snapshotFileName(id), bytes);
    this.#add(id, bytes.length);
  }

  #add(id: SnapshotId, size: number): void {
    const stat = this.#fs.stat(this.path(id));
    assert(stat.size === size, () => `snapshot ${snapshotIdText(id)}: ${stat.size} bytes on disk, ${size} written`);
    this.#snapshots.push({ id, size, mtimeMs: stat.mtimeMs });
    this.#snapshots.sort((a, b) => compareSnapshotIds(a.id, b.id));
  }

  /** The content of snapshot `id` (checked again on the way in). Throws SnapshotError when corrupt, StorageError on I/O failure. */
  readContent(id: SnapshotId): Uint8Array {
    assert(this.sizeOf(id) !== null, () => `no snapshot ${snapshotIdText(id)}`);
    const path = this.path(id);
    const r = readSnapshotFile(this.#fs, path, id, this.#bytesMax);
    if (r.kind !== "ok") throw new SnapshotError(path, r.detail);
    return r.content;
  }

  /** Up to `maxBytes` file bytes of snapshot `id` from `position` (< its size). Throws StorageError. */
  readChunk(id: SnapshotId, position: number, maxBytes: number): Uint8Array {
    const size = this.sizeOf(id);
    assert(size !== null && position >= 0 && position < size && maxBytes > 0, () => `chunk of snapshot ${snapshotIdText(id)} at ${position} (size ${size}), ${maxBytes} bytes`);
    const length = Math.min(maxBytes, size - position);
    const out = new Uint8Array(length);
    const fd = this.#fs.open(this.path(id), "read");
    try {
      let done = 0;
      while (done < length) {
        const n = this.#fs.read(fd, out, done, length - done, position + done);
        if (n <= 0) throw new StorageError("EIO", "read", this.path(id), `snapshot ended at ${position + done} of ${size}`);
        done += n;
      }
    } finally {
      this.#fs.close(fd);
    }
    return out;
  }

  /** Removes snapshot `id` durably. Throws StorageError. */
  delete(ids: readonly SnapshotId[]): void {
    if (ids.length === 0) return;
    for (const id of ids) {
      assert(this.sizeOf(id) !== null, () => `no snapshot ${snapshotIdText(id)} to delete`);
      this.#fs.unlink(this.path(id));
      this.#snapshots = this.#snapshots.filter((s) => !sameSnapshotId(s.id, id));
    }
    this.#fs.fsyncDir(this.dir);
  }

  // ---- download -----------------------------------------------------------------------------

  /** The download in progress: its id, announced size and how many bytes it has. */
  get download(): { readonly id: SnapshotId; readonly size: number; readonly position: number } | null {
    const d = this.#download;
    return d === null ? null : { id: d.id, size: d.size, position: d.position };
  }

  /** Starts downloading snapshot `id` of `size` bytes into `<name>.part` (dropping any other download). Throws StorageError. */
  beginDownload(id: SnapshotId, size: number): void {
    assert(snapshotIdProblem(id) === null && size > 0 && size <= this.#bytesMax, () => `download of ${snapshotIdText(id)}, ${size} bytes`);
    this.abortDownload();
    const path = `${this.path(id)}${partialSuffix}`;
    const fd = this.#fs.open(path, "write");
    this.#download = { id, size, path, fd, position: 0 };
  }

  /** Appends the next chunk. Throws StorageError (the download is dropped then). */
  appendDownload(bytes: Uint8Array): void {
    const d = this.#download;
    assert(d !== null && d.position + bytes.length <= d.size, () => `chunk of ${bytes.length} bytes past the download's size`);
    try {
      this.#fs.append(d.fd, bytes);
    } catch (e) {
      this.abortDownload();
      throw e;
    }
    d.position += bytes.length;
  }

  /**
   * Completes the download: fsync, check the whole file, rename it to its snapshot name,
   * fsync the directory. Returns the content, or why the file is refused (the download is
   * dropped either way). Throws StorageError.
   */
  finishDownload(): { kind: "ok"; id: SnapshotId; content: Uint8Array } | { kind: "corrupt"; detail: string } {
    const d = this.#download;
    assert(d !== null && d.position === d.size, () => `download finished at ${d?.position} of ${d?.size}`);
    try {
      this.#fs.fsync(d.fd);
    } catch (e) {
      this.abortDownload();
      throw e;
    }
    this.#fs.close(d.fd);
    this.#download = null;
    const r = readSnapshotFile(this.#fs, d.path, d.id, this.#bytesMax);
    if (r.kind !== "ok") {
      this.#fs.unlink(d.path);
      return r;
    }
    const exists = this.sizeOf(d.id) !== null;
    if (exists) this.#snapshots = this.#snapshots.filter((s) => !sameSnapshotId(s.id, d.id));
    this.#fs.rename(d.path, this.path(d.id));
    this.#fs.fsyncDir(this.dir);
    this.#add(d.id, d.size);
    return { kind: "ok", id: d.id, content: r.content };
  }

  /** Drops the download in progress, if any, and its partial file. */
  abortDownload(): void {
    const d = this.#download;
    if (d === null) return;
    this.#download = null;
    try {
      this.#fs.close(d.fd);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
    }
    try {
      if (this.#fs.exists(d.path)) this.#fs.unlink(d.path);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
    }
  }

  /** Closes the download's file (without removing it: open removes it). */
  close(): void {
    const d = this.#download;
    this.#download = null;
    if (d === null) return;
    try {
      this.#fs.close(d.fd);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
    }
  }
}
