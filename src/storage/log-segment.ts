/**
 * One log segment: `<base>.log` (v2 record batches in wire form, back to back), and its
 * sparse `<base>.index` / `<base>.timeindex` (formats in indexes.ts).
 *
 * States: active (appendable; indexes in owned memory, written to disk on seal, truncation
 * and clean close) or sealed (read-only; indexes mapped lazily from their files, checked
 * on first use and rebuilt from the log when implausible).
 *
 * Invariants:
 * - `sizeBytes` is the end of the last whole, validated batch. Bytes past it (a torn append
 *   that failed) are cut before the next append (`#tailDirty`).
 * - Batch base offsets ascend; every offset in the segment is in [baseOffset, baseOffset + 2^31 - 1].
 * - The index files of a sealed segment are a valid sparse index of a prefix of its log file:
 *   they are replaced only by write → fsync → rename, before the log is truncated. The
 *   active segment's index files are stale while it is active and trusted only after a
 *   clean shutdown (an unclean stop rescans the active segment).
 * - A mapped index file is never truncated or written (see platform/fs.ts).
 */
import { type Fd, joinPath, writeFileAtomic } from "../platform/fs.ts";
import type { BufferPool } from "../util/buffer-pool.ts";
import { core } from "../wasm/index.ts";
import { type BatchHeader, readBatchHeader } from "./batch-header.ts";
import {
  batchHeaderBytes,
  dropBehindBytesMin,
  dropBehindStepBytesMax,
  type LogConfig,
  pageBytes,
  offsetIndexEntryBytes,
  relativeOffsetMax,
  timeIndexEntryBytes,
} from "./config.ts";
import { CachedFile, type FileCache } from "./file-cache.ts";
import { deletedSuffix, indexSuffix, logSuffix, offsetFileStem, timeIndexSuffix } from "./file-names.ts";
import { OffsetIndex, TimeIndex } from "./indexes.ts";

/** Bytes read per call while scanning a segment (recovery, index rebuild). */
const scanChunkBytes = 4 * 1024 * 1024;
/** Bytes read per call while walking batch headers. */
const walkWindowBytes = 64 * 1024;
/** A fetch read looks for its first batch in at most this much past the index entry (plus a header). */
const headerWindowBytesMax = 64 * 1024;
/** No stored batch may be larger than this (bounds allocations while scanning untrusted files). */
const storedBatchBytesMax = 0x7fff_ffff;

export type SegmentRead =
  /** Whole batches starting with the one holding the target offset. */
  | { kind: "data"; bytes: Uint8Array; firstOffset: number; lastOffset: number }
  /** No batch at or after the target in this segment. */
  | { kind: "none" }
  /** The target's batch exists but may not be returned (upper bound, or maxBytes without minOneMessage). */
  | { kind: "empty" }
  /** Stored bytes are not a plausible batch at `position`. */
  | { kind: "corrupt"; position: number };

export interface SegmentContext {
  dir: string;
  files: FileCache;
  config: LogConfig;
  /**
   * Where `read` takes its buffers (null: fresh arrays). The records it returns may then be
   * a view of a pooled buffer; the server gives it back once the bytes are on the socket.
   * Storage gives back only buffers it did not return, so other readers just keep theirs.
   */
  readBuffers: BufferPool | null;
}

export interface RecoveryResult {
  nextOffset: number;
  /** Bytes cut from the end (torn or corrupt tail). */
  truncatedBytes: number;
  /** Why the scan stopped early, when it did. */
  reason: string | null;
}

export class LogSegment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  readonly file: CachedFile;
  /** End of the last whole batch. */
  sizeBytes: number;
  /** Set on the active segment; on a sealed one, the base of the next segment is the bound. */
  nextOffset: number;
  /** Wall-clock ms when the segment started receiving data (segment.ms rolls). */
  rollBaseMs: number;
  #ctx: SegmentContext;
  #sealed: boolean;
  #tailDirty = false;
  #offsetIndex: OffsetIndex | null = null;
  #timeIndex: TimeIndex | null = null;
  #bytesSinceIndexEntry = 0;
  /** Drop-behind progress (log.drop.behind.bytes): writeback was started for [0, #writebackEnd), the cache dropped for [0, #droppedEnd). */
  #writebackEnd = 0;
  #droppedEnd = 0;
  /** Largest batch maxTimestamp and the base offset of that batch; null until known (sealed, lazy). */
  #maxTimestamp: { ts: number; offset: number } | null = null;

  private constructor(ctx: SegmentContext, baseOffset: number, sizeBytes: number, sealed: boolean, nowMs: number) {
    this.#ctx = ctx;
    this.baseOffset = baseOffset;
    const stem = joinPath(ctx.dir, offsetFileStem(baseOffset));
    this.logPath = stem + logSuffix;
    this.indexPath = stem + indexSuffix;
    this.timeIndexPath = stem + timeIndexSuffix;
    this.file = new CachedFile(ctx.files, this.logPath, sealed ? "read" : "append");
    this.sizeBytes = sizeBytes;
    this.nextOffset = baseOffset;
    this.#sealed = sealed;
    this.rollBaseMs = nowMs;
  }

  /** A new, empty active segment (stale files with the same base are replaced). */
  static create(ctx: SegmentContext, baseOffset: number, nowMs: number): LogSegment {
    const fs = ctx.files.fs;
    const seg = new LogSegment(ctx, baseOffset, 0, false, nowMs);
    for (const p of [seg.indexPath, seg.timeIndexPath]) if (fs.exists(p)) fs.unlink(p);
    const fd = seg.file.fd();
    if (fs.size(fd) !== 0) fs.truncate(fd, 0);
    seg.#offsetIndex = OffsetIndex.empty(seg.#offsetEntriesMax());
    seg.#timeIndex = TimeIndex.empty(seg.#timeEntriesMax());
    seg.#maxTimestamp = { ts: -1, offset: baseOffset };
    return seg;
  }

  /** An existing segment of `sizeBytes`, opened lazily as sealed (nothing is read). */
  static openSealed(ctx: SegmentContext, baseOffset: number, sizeBytes: number, nowMs: number): LogSegment {
    return new LogSegment(ctx, baseOffset, sizeBytes, true, nowMs);
  }

  get sealed(): boolean {
    return this.#sealed;
  }

  #offsetEntriesMax(): number {
    return Math.max(1, Math.floor(this.#ctx.config.segmentIndexBytes / offsetIndexEntryBytes));
  }

  #timeEntriesMax(): number {
    return Math.max(1, Math.floor(this.#ctx.config.segmentIndexBytes / timeIndexEntryBytes));
  }

  #fs() {
    return this.#ctx.files.fs;
  }

  // ---- indexes ----------------------------------------------------------------------------

  /** The offset index, loading (mapping, checking, maybe rebuilding) it on first use. */
  offsetIndex(): OffsetIndex {
    if (this.#offsetIndex === null) this.#loadIndexes();
    return this.#offsetIndex!;
  }

  timeIndex(): TimeIndex {
    if (this.#timeIndex === null) this.#loadIndexes();
    return this.#timeIndex!;
  }

  #mapOrNull(path: string): Uint8Array | null {
    const fs = this.#fs();
    if (!fs.exists(path)) return null;
    return fs.mmap(path);
  }

  /** Maps both index files and checks them; rebuilds both from the log when either is implausible. */
  #loadIndexes(): void {
    const relLimit = Math.min(relativeOffsetMax, Math.max(0, this.nextOffset - this.baseOffset));
    const oView = this.#mapOrNull(this.indexPath);
    const tView = this.#mapOrNull(this.timeIndexPath);
    if (oView !== null && tView !== null && oView.length % offsetIndexEntryBytes === 0 && tView.length % timeIndexEntryBytes === 0) {
      const oi = OffsetIndex.fromView(oView, true, this.#offsetEntriesMax());
      const ti = TimeIndex.fromView(tView, true, this.#timeEntriesMax());
      const sealedLimit = this.#sealed && this.nextOffset > this.baseOffset ? relLimit : relativeOffsetMax;
      if (oi.validate(Math.max(this.sizeBytes, 1), sealedLimit) === null && ti.validate(sealedLimit) === null) {
        this.#offsetIndex = oi;
        this.#timeIndex = ti;
        if (this.#maxTimestamp === null && ti.count > 0) {
          this.#maxTimestamp = { ts: ti.lastTimestamp(), offset: this.baseOffset + ti.relativeOffsetAt(ti.count - 1) };
        }
        return;
      }
    }
    this.rebuildIndexes();
  }

  /** Rebuilds both indexes by walking the log's batch headers, and writes them (rename over). */
  rebuildIndexes(): void {
    const oi = OffsetIndex.empty(this.#offsetEntriesMax());
    const ti = TimeIndex.empty(this.#timeEntriesMax());
    let since = 0;
    let max = { ts: -1, offset: this.baseOffset };
    let lastTimeEntryTs = -1;
    this.#walk(0, (h, pos) => {
      if (since > this.#ctx.config.indexIntervalBytes && !oi.isFull()) {
        oi.append(h.baseOffset - this.baseOffset, pos);
        since = 0;
        if (max.ts > lastTimeEntryTs && !ti.isFull()) {
          ti.append(max.ts, max.offset - this.baseOffset);
          lastTimeEntryTs = max.ts;
        }
      }
      if (h.maxTimestamp > max.ts) max = { ts: h.maxTimestamp, offset: h.baseOffset };
      since += h.sizeBytes;
      return true;
    });
    if (max.ts > lastTimeEntryTs) ti.append(max.ts, max.offset - this.baseOffset);
    this.#offsetIndex = oi;
    this.#timeIndex = ti;
    this.#bytesSinceIndexEntry = since;
    this.#maxTimestamp = max;
    this.persistIndexes();
  }

  /** Writes both indexes as they are in memory (write → fsync → rename; never in place). */
  persistIndexes(): void {
    const fs = this.#fs();
    writeFileAtomic(fs, this.indexPath, this.offsetIndex().bytes());
    writeFileAtomic(fs, this.timeIndexPath, this.timeIndex().bytes());
  }

  /** Largest batch maxTimestamp in the segment and that batch's base offset (ts -1 when none). */
  maxTimestamp(): { ts: number; offset: number } {
    if (this.#maxTimestamp === null) {
      const ti = this.timeIndex();
      this.#maxTimestamp ??=
        ti.count > 0
          ? { ts: ti.lastTimestamp(), offset: this.baseOffset + ti.relativeOffsetAt(ti.count - 1) }
          : { ts: -1, offset: this.baseOffset };
    }
    return this.#maxTimestamp;
  }

  // ---- scanning ---------------------------------------------------------------------------

  /**
   * Walks batch headers from `startPos` to the end (`sizeBytes`), calling `visit` until it
   * returns false. Returns where it stopped and whether the bytes there were plausible.
   */
  #walk(startPos: number, visit: (h: BatchHeader, pos: number) => boolean): { pos: number; ok: boolean } {
    const fs = this.#fs();
    const end = this.sizeBytes;
    let pos = startPos;
    let buf = new Uint8Array(Math.min(walkWindowBytes, Math.max(batchHeaderBytes, end - pos)));
    while (pos < end) {
      if (end - pos < batchHeaderBytes) return { pos, ok: false };
      const want = Math.min(buf.length, end - pos);
      const n = fs.read(this.file.fd(), buf, 0, want, pos);
      const view = buf.subarray(0, n);
      let at = 0;
      while (at + batchHeaderBytes <= view.length) {
        const h = readBatchHeader(view, at);
        if (h === null || pos + at + h.sizeBytes > end) return { pos: pos + at, ok: false };
        if (!visit(h, pos + at)) return { pos: pos + at, ok: true };
        at += h.sizeBytes;
      }
      if (at === 0 && n < batchHeaderBytes) return { pos, ok: false };
      pos += at;
      if (buf.length < batchHeaderBytes) buf = new Uint8Array(batchHeaderBytes);
    }
    return { pos, ok: pos === end };
  }

  /**
   * Re-validates the whole log file (CRC, lengths, ascending offsets from `minOffset`),
   * cuts it after the last valid batch (fsync), rebuilds the indexes in memory, and on disk
   * when `persist` (sealed segments; the active one's index files are only trusted after
   * a clean shutdown, so they are written at seal, truncation and clean close).
   */
  recover(minOffset: number, persist: boolean): RecoveryResult {
    const fs = this.#fs();
    const fd = this.file.fd();
    const fileSize = fs.size(fd);
    const oi = OffsetIndex.empty(this.#offsetEntriesMax());
    const ti = TimeIndex.empty(this.#timeEntriesMax());
    let since = 0;
    let max = { ts: -1, offset: this.baseOffset };
    let lastTimeEntryTs = -1;
    let next = Math.max(minOffset, this.baseOffset);
    let pos = 0;
    let reason: string | null = null;
    let buf = new Uint8Array(Math.min(scanChunkBytes, Math.max(fileSize, batchHeaderBytes)));
    scan: while (pos < fileSize) {
      const want = Math.min(buf.length, fileSize - pos);
      const n = fs.read(fd, buf, 0, want, pos);
      const chunk = buf.subarray(0, n);
      const scan = core.scanBatches(chunk, {
        verifyCrc: true,
        requireDenseOffsets: false,
        maxBatchBytes: storedBatchBytesMax,
      });
      for (let i = 0; i < scan.count; i++) {
        const base = scan.baseOffsets[i]!;
        const last = base + scan.lastOffsetDeltas[i]!;
        const at = pos + scan.positions[i]!;
        if (base < next || last - this.baseOffset > relativeOffsetMax) {
          reason = `batch at ${at} has offsets ${base}..${last}, expected from ${next}`;
          pos = at;
          break scan;
        }
        if (since > this.#ctx.config.indexIntervalBytes && !oi.isFull()) {
          oi.append(base - this.baseOffset, at);
          since = 0;
          if (max.ts > lastTimeEntryTs && !ti.isFull()) {
            ti.append(max.ts, max.offset - this.baseOffset);
            lastTimeEntryTs = max.ts;
          }
        }
        const ts = scan.maxTimestamps[i]!;
        if (ts > max.ts) max = { ts, offset: base };
        since += scan.sizes[i]!;
        next = last + 1;
      }
      pos += scan.validBytes;
      if (scan.error === null) continue;
      if (scan.error === "truncated" && fileSize - pos >= batchHeaderBytes) {
        // A batch straddles the chunk end: read it whole if the file really holds it.
        const hdr = new Uint8Array(12);
        fs.read(fd, hdr, 0, 12, pos);
        const need = new DataView(hdr.buffer).getInt32(8) + 12;
        if (need >= batchHeaderBytes && pos + need <= fileSize && need > chunk.length - scan.validBytes) {
          if (need > buf.length) buf = new Uint8Array(need);
          continue;
        }
      }
      reason = `${scan.error} batch at position ${pos}`;
      break;
    }
    if (max.ts > lastTimeEntryTs) ti.append(max.ts, max.offset - this.baseOffset);
    const truncatedBytes = fileSize - pos;
    this.#offsetIndex = oi;
    this.#timeIndex = ti;
    this.#bytesSinceIndexEntry = since;
    this.#maxTimestamp = max;
    this.sizeBytes = pos;
    this.nextOffset = next;
    if (persist) this.persistIndexes();
    if (truncatedBytes > 0) {
      this.#makeWritable();
      fs.truncate(this.file.fd(), pos);
      fs.fsync(this.file.fd());
    }
    return { nextOffset: next, truncatedBytes, reason };
  }

  /**
   * Opens the last segment after a clean shutdown: trusts its (checked) indexes and walks
   * the headers after the last index entry to find the next offset. False when anything is
   * implausible (the caller then runs `recover`).
   */
  openActiveClean(fileSize: number): boolean {
    this.sizeBytes = fileSize;
    this.nextOffset = this.baseOffset + relativeOffsetMax + 1;
    const oi = this.offsetIndex();
    const last = oi.count - 1;
    let next = last < 0 ? this.baseOffset : this.baseOffset + oi.relativeOffsetAt(last);
    let since = 0;
    let max = this.maxTimestamp();
    const walked = this.#walk(last < 0 ? 0 : oi.positionAt(last), (h) => {
      if (h.baseOffset < next) return false;
      next = h.lastOffset + 1;
      since += h.sizeBytes;
      if (h.maxTimestamp > max.ts) max = { ts: h.maxTimestamp, offset: h.baseOffset };
      return true;
    });
    if (!walked.ok || walked.pos !== fileSize) return false;
    this.nextOffset = next;
    this.#bytesSinceIndexEntry = since;
    this.#maxTimestamp = max;
    this.activate();
    return true;
  }

  /** Makes a sealed segment the active one again (after truncation into it, or at open). */
  activate(): void {
    this.#sealed = false;
    this.file.setMode("append");
    // Owned copies: the active index is appended to in memory, never through a mapping.
    const oi = this.offsetIndex();
    const ti = this.timeIndex();
    this.#offsetIndex = OffsetIndex.fromView(oi.bytes().slice(), false, this.#offsetEntriesMax());
    this.#timeIndex = TimeIndex.fromView(ti.bytes().slice(), false, this.#timeEntriesMax());
  }

  #makeWritable(): void {
    if (this.file.mode !== "append") this.file.setMode("append");
  }

  // ---- append -----------------------------------------------------------------------------

  /**
   * Appends validated batches. `positions`/`sizes`/`baseOffsets`/`lastOffsets`/`maxTimestamps`
   * describe the batches within `bytes`. Throws StorageError (nothing recorded) on I/O failure.
   */
  append(
    bytes: Uint8Array,
    count: number,
    positions: Int32Array,
    sizes: Int32Array,
    baseOffsets: Float64Array,
    lastOffsets: (i: number) => number,
    maxTimestamps: Float64Array,
  ): void {
    if (this.#sealed) throw new Error(`segment ${this.logPath}: append to a sealed segment`);
    const fs = this.#fs();
    const fd = this.file.fd();
    if (this.#tailDirty) {
      fs.truncate(fd, this.sizeBytes);
      this.#tailDirty = false;
    }
    try {
      fs.append(fd, bytes);
    } catch (e) {
      // Cut the torn bytes now if we can; otherwise before the next append or flush.
      this.#tailDirty = true;
      try {
        fs.truncate(fd, this.sizeBytes);
        this.#tailDirty = false;
      } catch {
        // keep #tailDirty
      }
      throw e;
    }
    const oi = this.offsetIndex();
    const ti = this.timeIndex();
    let max = this.maxTimestamp();
    for (let i = 0; i < count; i++) {
      const base = baseOffsets[i]!;
      const at = this.sizeBytes + positions[i]!;
      if (this.#bytesSinceIndexEntry > this.#ctx.config.indexIntervalBytes && !oi.isFull()) {
        oi.append(base - this.baseOffset, at);
        this.#bytesSinceIndexEntry = 0;
        if (max.ts > ti.lastTimestamp() && !ti.isFull()) ti.append(max.ts, max.offset - this.baseOffset);
      }
      const ts = maxTimestamps[i]!;
      if (ts > max.ts) max = { ts, offset: base };
      this.#bytesSinceIndexEntry += sizes[i]!;
    }
    this.#maxTimestamp = max;
    this.sizeBytes += bytes.length;
    this.nextOffset = lastOffsets(count - 1) + 1;
    this.#dropBehind(fd);
  }

  /**
   * Drop-behind (log.drop.behind.bytes = K > 0): once bytes are K/2 behind the end their
   * writeback is started, once K behind their clean pages are dropped, a step at a time.
   * The half-K gap gives writeback time to finish, since only clean pages can be dropped;
   * pages still dirty then simply stay cached. Advice only: the file is never changed.
   */
  #dropBehind(fd: Fd): void {
    const setting = this.#ctx.config.dropBehindBytes;
    if (!(setting > 0)) return;
    const keep = Math.max(setting, dropBehindBytesMin);
    const step = Math.min(dropBehindStepBytesMax, Math.floor(keep / 4 / pageBytes) * pageBytes);
    if (this.#droppedEnd > this.sizeBytes || this.#writebackEnd > this.sizeBytes) {
      // Truncated since the last advice: start over below the new end.
      this.#writebackEnd = this.#droppedEnd = Math.floor(this.sizeBytes / step) * step;
    }
    const fs = this.#fs();
    const writebackTo = Math.floor((this.sizeBytes - keep / 2) / step) * step;
    if (writebackTo > this.#writebackEnd) {
      fs.startWriteback(fd, this.#writebackEnd, writebackTo - this.#writebackEnd);
      this.#writebackEnd = writebackTo;
    }
    const dropTo = Math.min(this.#writebackEnd, Math.floor((this.sizeBytes - keep) / step) * step);
    if (dropTo > this.#droppedEnd) {
      fs.dropCache(fd, this.#droppedEnd, dropTo - this.#droppedEnd);
      this.#droppedEnd = dropTo;
    }
  }

  /** True when an append of `bytes` ending at `lastOffset` must go to a new segment. */
  needsRoll(appendBytes: number, lastOffset: number, nowMs: number): boolean {
    if (this.sizeBytes === 0) return false;
    const cfg = this.#ctx.config;
    // Kafka's maxSegmentMs: a compacted log's records must become cleanable within max.compaction.lag.ms.
    const rollMs = cfg.cleanupPolicy.compact ? Math.min(cfg.segmentMs, cfg.maxCompactionLagMs) : cfg.segmentMs;
    return (
      this.sizeBytes + appendBytes > cfg.segmentBytes ||
      nowMs - this.rollBaseMs >= rollMs ||
      this.offsetIndex().isFull() ||
      this.timeIndex().isFull() ||
      lastOffset - this.baseOffset > relativeOffsetMax
    );
  }

  /** fsync the log file (and cut a torn tail first). */
  flush(): void {
    const fs = this.#fs();
    const fd = this.file.fd();
    if (this.#tailDirty) {
      fs.truncate(fd, this.sizeBytes);
      this.#tailDirty = false;
    }
    fs.fsync(fd);
  }

  /**
   * Active → sealed: cut a torn tail, final time index entry, indexes to disk, then served
   * from mappings. The log file is fsynced separately (`flush`), off the append path.
   */
  seal(): void {
    if (this.#sealed) return;
    if (this.#tailDirty) {
      this.#fs().truncate(this.file.fd(), this.sizeBytes);
      this.#tailDirty = false;
    }
    const ti = this.timeIndex();
    const max = this.maxTimestamp();
    if (max.ts > ti.lastTimestamp()) ti.append(max.ts, max.offset - this.baseOffset);
    this.persistIndexes();
    this.#sealed = true;
    this.#offsetIndex = null;
    this.#timeIndex = null;
    this.file.setMode("read");
  }

  /** Clean close of the active segment: final time index entry and indexes on disk. */
  closeClean(): void {
    if (!this.#sealed) {
      this.flush();
      const ti = this.timeIndex();
      const max = this.maxTimestamp();
      if (max.ts > ti.lastTimestamp() && !ti.isFull()) ti.append(max.ts, max.offset - this.baseOffset);
      this.persistIndexes();
    }
    this.file.close();
  }

  close(): void {
    this.file.close();
  }

  // ---- reads ------------------------------------------------------------------------------

  /** `pooled`: a fetch's read, into a buffer from the read-buffer pool when it fits. */
  #readAt(pos: number, length: number, pooled = false): Uint8Array {
    const pool = this.#ctx.readBuffers;
    const buf = pooled && pool !== null && pool.fits(length) ? pool.take(length) : new Uint8Array(length);
    const n = this.#fs().read(this.file.fd(), buf, 0, length, pos);
    return n === length ? buf : buf.subarray(0, n);
  }

  /**
   * Drop-behind for reads (log.drop.behind.bytes = K > 0): once a fetch returns the batches
   * of [from, to), their whole pages leave the page cache if they lie more than K behind the
   * end of this segment, or anywhere in a sealed one, so a consumer catching up reuses cache
   * pages as the write stream does. The partial page at the end stays for the next read.
   */
  #dropBehindRead(from: number, to: number): void {
    const setting = this.#ctx.config.dropBehindBytes;
    if (!(setting > 0)) return;
    const limit = this.#sealed ? to : Math.min(to, this.sizeBytes - Math.max(setting, dropBehindBytesMin));
    const start = Math.floor(from / pageBytes) * pageBytes;
    const end = Math.floor(limit / pageBytes) * pageBytes;
    if (end > start) this.#fs().dropCache(this.file.fd(), start, end - start);
  }

  /**
   * Whole batches from the one holding `target`: at most `maxBytes` (but at least the first
   * batch when `minOneMessage`), only batches whose last offset is below `upperBound`.
   * One positional read in the common case.
   */
  read(target: number, maxBytes: number, upperBound: number, minOneMessage: boolean): SegmentRead {
    let pos = this.offsetIndex().lookupPosition(target - this.baseOffset);
    const end = this.sizeBytes;
    // The index entry can lie up to an index interval before the target's batch. When the
    // read below would be bigger than that stretch, find the batch from the headers in a
    // small read first: the big read then starts at it, and a batch that cannot be sent
    // (beyond upperBound, or too big for what is left of the response) is refused without
    // reading data. A fetch over many partitions ends the latter way for most of them.
    const window = Math.min(end - pos, Math.min(this.#ctx.config.indexIntervalBytes, headerWindowBytesMax) + batchHeaderBytes);
    if (window >= batchHeaderBytes && window < Math.min(end - pos, maxBytes)) {
      const head = this.#readAt(pos, window);
      for (let at = 0; at + batchHeaderBytes <= head.length; ) {
        const h = readBatchHeader(head, at);
        if (h === null || pos + at + h.sizeBytes > end) break; // the read below reports it
        if (h.lastOffset >= target) {
          if (h.lastOffset >= upperBound || (!minOneMessage && h.sizeBytes > maxBytes)) return { kind: "empty" };
          pos += at;
          break;
        }
        at += h.sizeBytes;
      }
    }
    // A read buffer this method does not return goes back to the pool: nothing else saw it.
    const pool = this.#ctx.readBuffers;
    const drop = (buf: Uint8Array): void => pool?.give(buf);
    for (;;) {
      if (pos >= end) return { kind: "none" };
      const buf = this.#readAt(pos, Math.min(end - pos, Math.max(maxBytes, batchHeaderBytes)), true);
      let at = 0;
      let found = -1;
      let first: BatchHeader | null = null;
      while (at + batchHeaderBytes <= buf.length) {
        const h = readBatchHeader(buf, at);
        if (h === null || pos + at + h.sizeBytes > end) {
          drop(buf);
          return { kind: "corrupt", position: pos + at };
        }
        if (h.lastOffset >= target) {
          found = at;
          first = h;
          break;
        }
        at += h.sizeBytes;
      }
      if (first === null) {
        drop(buf);
        if (at === 0) return { kind: "corrupt", position: pos };
        pos += at;
        continue;
      }
      if (first.lastOffset >= upperBound) {
        drop(buf);
        return { kind: "empty" };
      }
      let cut = found;
      let lastOffset = -1;
      while (cut + batchHeaderBytes <= buf.length) {
        const h = readBatchHeader(buf, cut);
        if (h === null || h.lastOffset >= upperBound || cut + h.sizeBytes > buf.length) break;
        if (cut + h.sizeBytes - found > maxBytes && cut > found) break;
        lastOffset = h.lastOffset;
        cut += h.sizeBytes;
      }
      if (cut > found) {
        this.#dropBehindRead(pos, pos + cut);
        return { kind: "data", bytes: buf.subarray(found, cut), firstOffset: first.baseOffset, lastOffset };
      }
      // The first batch did not fit in what was read.
      drop(buf);
      if (!minOneMessage && first.sizeBytes > maxBytes) return { kind: "empty" };
      if (found > 0 && first.sizeBytes <= maxBytes) {
        pos += found;
        continue;
      }
      const whole = this.#readAt(pos + found, first.sizeBytes, true);
      if (whole.length !== first.sizeBytes) {
        drop(whole);
        return { kind: "corrupt", position: pos + found };
      }
      this.#dropBehindRead(pos + found, pos + found + first.sizeBytes);
      return { kind: "data", bytes: whole, firstOffset: first.baseOffset, lastOffset: first.lastOffset };
    }
  }

  /** The first batch whose maxTimestamp >= `timestamp` at or after `minOffset`, or null. */
  offsetForTimestamp(timestamp: number, minOffset: number): { offset: number; timestamp: number } | null {
    const startRel = Math.max(this.timeIndex().lookupStart(timestamp), minOffset - this.baseOffset);
    const pos = this.offsetIndex().lookupPosition(startRel);
    let result: { offset: number; timestamp: number } | null = null;
    this.#walk(pos, (h) => {
      if (h.lastOffset >= minOffset && h.maxTimestamp >= timestamp) {
        result = { offset: h.baseOffset, timestamp: h.maxTimestamp };
        return false;
      }
      return true;
    });
    return result;
  }

  /** Position and header of the first batch whose last offset >= `offset`, or null. */
  findBatch(offset: number): { pos: number; header: BatchHeader } | null {
    const start = this.offsetIndex().lookupPosition(offset - this.baseOffset);
    let found: { pos: number; header: BatchHeader } | null = null;
    this.#walk(start, (h, pos) => {
      if (h.lastOffset >= offset) {
        found = { pos, header: h };
        return false;
      }
      return true;
    });
    return found;
  }

  /**
   * Removes every batch whose last offset >= `offset` (a batch straddling it goes whole).
   * Indexes are rewritten (rename) before the log is cut and fsynced. Returns the new next offset.
   */
  truncateTo(offset: number): number {
    const found = this.findBatch(offset);
    if (found === null) {
      if (this.#sealed) this.activate();
      this.nextOffset = Math.min(offset, this.nextOffset);
      return this.nextOffset;
    }
    const newSize = found.pos;
    const newNext = Math.min(offset, found.header.baseOffset);
    this.activate();
    const oi = this.offsetIndex();
    const ti = this.timeIndex();
    oi.truncateFrom(newNext - this.baseOffset, Math.max(newSize, 1));
    ti.truncateFrom(newNext - this.baseOffset);
    if (newSize === 0) oi.truncateToEntries(0);
    // Recompute the max timestamp and the index spacing from the last entries onwards.
    this.sizeBytes = newSize;
    let max =
      ti.count > 0
        ? { ts: ti.lastTimestamp(), offset: this.baseOffset + ti.relativeOffsetAt(ti.count - 1) }
        : { ts: -1, offset: this.baseOffset };
    const fromRel = ti.count > 0 ? ti.relativeOffsetAt(ti.count - 1) : 0;
    this.#walk(oi.lookupPosition(fromRel), (h) => {
      if (h.maxTimestamp > max.ts) max = { ts: h.maxTimestamp, offset: h.baseOffset };
      return true;
    });
    this.#maxTimestamp = max;
    this.#bytesSinceIndexEntry = 0;
    this.persistIndexes();
    const fs = this.#fs();
    const fd = this.file.fd();
    fs.truncate(fd, newSize);
    fs.fsync(fd);
    this.#tailDirty = false;
    this.nextOffset = newNext;
    return newNext;
  }

  /** Renames the segment's files to `*.deleted`; returns the new paths (to unlink later). */
  markDeleted(): string[] {
    this.file.retire();
    const fs = this.#fs();
    const out: string[] = [];
    for (const p of [this.logPath, this.indexPath, this.timeIndexPath]) {
      if (!fs.exists(p)) continue;
      fs.rename(p, p + deletedSuffix);
      out.push(p + deletedSuffix);
    }
    this.#offsetIndex = null;
    this.#timeIndex = null;
    return out;
  }
}

