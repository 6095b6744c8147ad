/**
 * Files of a compaction in progress, and how a crash at any point resolves (Kafka's scheme).
 *
 * A clean replaces a group of consecutive sealed segments `[B, N)` (B = base of the first
 * segment of the group, N = base of the segment after it) by one cleaned segment with base B:
 *   1. `<B>.log.cleaned` is written and fsynced (only the log: indexes come later);
 *   2. it is renamed `<B>.log.swap`, directory fsynced: the commit point;
 *   3. the group's files are renamed `*.deleted` (removed after file.delete.delay.ms),
 *      directory fsynced;
 *   4. `<B>.log.swap` is renamed `<B>.log`, directory fsynced;
 *   5. the new segment's `.index` / `.timeindex` are rebuilt from its log (write → rename).
 *
 * Recovery when a log is opened (`completeInterruptedSwaps`), before segments are listed:
 * - `*.cleaned` files are deleted: the clean never committed, the old segments are whole.
 * - `<B>.log.swap` committed: its batches end at N - 1 exactly (the cleaner always keeps the
 *   last batch of a group, with its last offset, possibly emptied of records), so every
 *   `<b>.log` with B <= b < N is a replaced segment: those and their index files are deleted
 *   and the swap is renamed `<B>.log`. Its indexes are rebuilt when the segment is first used.
 * - `.deleted` files are removed by PartitionLog.open as always.
 * So a crash leaves either the old segments or the cleaned one, never a mix and never a gap.
 */
import { type FileSystem, joinPath, StorageError } from "../platform/fs.ts";
import { readBatchHeader } from "./batch-header.ts";
import { batchHeaderBytes } from "./config.ts";
import { indexSuffix, logSuffix, offsetFileStem, parseOffsetFileName, timeIndexSuffix } from "./file-names.ts";

export const cleanedSuffix = ".cleaned";
export const swapSuffix = ".swap";
/** Per log dir: `topic partition offset` lines; the offset is where the next clean's dirty section starts. */
export const cleanerOffsetCheckpointName = "cleaner-offset-checkpoint";

const headerWindowBytes = 64 * 1024;

export function cleanedLogPath(dir: string, baseOffset: number): string {
  return joinPath(dir, offsetFileStem(baseOffset) + logSuffix + cleanedSuffix);
}

export function swapLogPath(dir: string, baseOffset: number): string {
  return joinPath(dir, offsetFileStem(baseOffset) + logSuffix + swapSuffix);
}

/**
 * Next offset after the last whole batch of the file at `path` (walking headers only), or
 * null when it holds no whole batch. Throws StorageError.
 */
export function fileNextOffset(fs: FileSystem, path: string): number | null {
  const fd = fs.open(path, "read");
  try {
    const size = fs.size(fd);
    let pos = 0;
    let next: number | null = null;
    let window = new Uint8Array(0);
    let windowPos = 0;
    while (pos + batchHeaderBytes <= size) {
      if (pos < windowPos || pos + batchHeaderBytes > windowPos + window.length) {
        // Always at least a header's bytes: the loop condition guarantees they exist.
        window = new Uint8Array(Math.min(headerWindowBytes, size - pos));
        if (fs.read(fd, window, 0, window.length, pos) !== window.length) break;
        windowPos = pos;
      }
      const h = readBatchHeader(window, pos - windowPos);
      if (h === null || pos + h.sizeBytes > size) break;
      next = h.lastOffset + 1;
      pos += h.sizeBytes;
    }
    return next;
  } finally {
    fs.close(fd);
  }
}

/**
 * Resolves an interrupted clean in partition dir `dir` (see the module doc). Returns the
 * number of swaps completed. Throws StorageError.
 */
export function completeInterruptedSwaps(fs: FileSystem, dir: string): number {
  const names = fs.readdir(dir);
  let changed = false;
  let completed = 0;
  for (const name of names) {
    if (!name.endsWith(cleanedSuffix)) continue;
    fs.unlink(joinPath(dir, name));
    changed = true;
  }
  const logBases: number[] = [];
  for (const name of names) {
    const b = parseOffsetFileName(name, logSuffix);
    if (b !== null) logBases.push(b);
  }
  for (const name of names) {
    if (!name.endsWith(swapSuffix)) continue;
    const swap = joinPath(dir, name);
    const base = parseOffsetFileName(name.slice(0, -swapSuffix.length), logSuffix);
    if (base === null) {
      // An index swap (older layout) or a stray name: never a commit point.
      fs.unlink(swap);
      changed = true;
      continue;
    }
    const next = fileNextOffset(fs, swap);
    if (next === null) {
      // A committed swap holds at least one batch (it was fsynced before the rename), so the
      // disk lost it: which segments it replaced is unknowable. Take the dir offline.
      throw new StorageError("EIO", "complete cleaner swap", swap, "holds no whole batch");
    }
    for (const b of logBases) {
      if (b < base || b >= next) continue;
      const stem = joinPath(dir, offsetFileStem(b));
      for (const suffix of [logSuffix, indexSuffix, timeIndexSuffix]) if (fs.exists(stem + suffix)) fs.unlink(stem + suffix);
    }
    const stem = joinPath(dir, offsetFileStem(base));
    for (const suffix of [indexSuffix, timeIndexSuffix]) if (fs.exists(stem + suffix)) fs.unlink(stem + suffix);
    fs.rename(swap, stem + logSuffix);
    changed = true;
    completed++;
  }
  if (changed) fs.fsyncDir(dir);
  return completed;
}
