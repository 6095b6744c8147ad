/**
 * The Raft log: the replicated log of `__cluster_metadata-0`, kept by the project's real
 * storage (`PartitionLog`: segments, indexes, leader-epoch checkpoint, recovery) behind the
 * few operations Raft needs.
 *
 * Invariants:
 * - `flushedOffset <= logEndOffset`, and every offset below `flushedOffset` is fsynced (it is
 *   PartitionLog's recovery point). Raft counts only flushed offsets toward the high
 *   watermark: durable before visible.
 * - Every batch carries the epoch of the leader that appended it, and the epoch cache maps
 *   each epoch to the offset where it starts, ascending. `lastFetchedEpoch` is the epoch of
 *   the last batch.
 * - `endOffsetForEpoch(e)` is Kafka's raft semantics (not PartitionLog's OffsetForLeaderEpoch
 *   one): the largest epoch `<= e` present in the log and the offset where it ends (the
 *   start of the next epoch, or the log end); `{ epoch: -1, endOffset: logStartOffset }` when
 *   the log has no epoch `<= e`.
 *
 * - Snapshots (snapshot.ts) live beside the log. With none, the log starts at 0; with some,
 *   the log starts exactly at the end offset of the oldest (`logStartOffset ===
 *   snapshots()[0].endOffset`), so the epoch just before the log start is that snapshot's
 *   epoch. Taking a snapshot at S (<= high watermark, on a batch boundary) moves the log start
 *   to the oldest snapshot kept; segments wholly below the log start are deleted. Of the
 *   snapshots, at most `snapshotsRetainedMax` are kept, fewer when the retention settings say.
 * - Installing a downloaded snapshot at S (a follower behind the leader's log start) makes the
 *   log empty at S (log start = log end = S) and drops every other snapshot.
 *
 * Crash order: a snapshot is durable (renamed, dir fsynced) before the log is cut for it; an
 * old snapshot is deleted before the log start moves past it. So at open, snapshots below the
 * first segment are leftovers and are deleted, and when the newest snapshot is not consistent
 * with the log (it ends past the log end, or the log's record at S - 1 has another epoch) the
 * install was interrupted: the log is emptied at S as the install would have. Either the old
 * state or the new, never a mix.
 *
 * Opening: the log is recovered from its first segment on every open (the metadata log is
 * small; there is no separate recovery-point checkpoint to trust), and the epoch cache is
 * checked against the batches past its last entry: a process killed between writing a batch
 * and checkpointing its new epoch leaves that batch on disk without its epoch (Kafka rebuilds
 * the cache during recovery; PartitionLog does not), so the missing entries are added.
 */
import type { Clock } from "../platform/clock.ts";
import type { FileSystem, StorageError } from "../platform/fs.ts";
import type { AppendError } from "../storage/partition-log.ts";
import { RecordBatchView } from "../protocol/records/record-batch.ts";
import { defaultLogConfig, type LogConfig } from "../storage/config.ts";
import type { LogDirSpace } from "../storage/disk-monitor.ts";
import { FileCache } from "../storage/file-cache.ts";
import { LogDirHealth, PartitionLog } from "../storage/partition-log.ts";
import { assert } from "./assert.ts";
import { snapshotBytesMax, snapshotsRetainedMax } from "./config.ts";
import { RecordsError } from "../protocol/records/records-error.ts";
import { splitSnapshotContent, type Voter, votersOfSnapshotContent } from "./voter-set.ts";
import type { EpochEndOffset } from "./messages.ts";
import { type SnapshotId, snapshotIdText, SnapshotError, SnapshotStore } from "./snapshot.ts";

export const metadataTopic = "__cluster_metadata";
export const metadataPartition = 0;

export type RaftAppendResult = { kind: "ok"; firstOffset: number; lastOffset: number } | { kind: "error"; detail: string };

export type RaftReadResult = { kind: "ok"; records: Uint8Array } | { kind: "error"; detail: string };

export interface RaftLog {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Everything below this offset is on disk. */
  readonly flushedOffset: number;
  /** Epoch of the last batch; -1 when the log is empty. */
  lastFetchedEpoch(): number;
  /** See the module doc. */
  endOffsetForEpoch(epoch: number): EpochEndOffset;
  /** Appends whole batches as the leader of `epoch` (offsets and epoch assigned). Not flushed. */
  appendAsLeader(batches: Uint8Array, epoch: number): RaftAppendResult;
  /** Appends the leader's batches as they are; the first must start at the log end. Not flushed. */
  appendAsFollower(batches: Uint8Array): RaftAppendResult;
  /** Removes every offset >= `offset` (`offset` must be a batch boundary). Durable. Throws StorageError. */
  truncateTo(offset: number): void;
  /** Whole batches from the one holding `fromOffset`, about `maxBytes` (at least one batch). */
  read(fromOffset: number, maxBytes: number): RaftReadResult;
  /** fsyncs everything appended. Throws MetadataLogFailure when that failed (never retried). */
  flush(): void;
  /** Tells storage the committed offset (readers of the metadata log stop there). */
  setHighWatermark(offset: number): void;

  // ---- snapshots ----
  /** Snapshots kept, oldest first; the first ends at the log start. */
  snapshots(): readonly SnapshotId[];
  latestSnapshot(): SnapshotId | null;
  /** Bytes of snapshot `id`, or null when it is not kept. */
  snapshotSize(id: SnapshotId): number | null;
  /** File bytes of snapshot `id` from `position` (< its size), at most `maxBytes`. Throws StorageError. */
  readSnapshotChunk(id: SnapshotId, position: number, maxBytes: number): Uint8Array;
  /** The state machine's content of snapshot `id` (the raft control batches before it left out). Throws SnapshotError or StorageError. */
  readSnapshotContent(id: SnapshotId): Uint8Array;
  /** The voter set snapshot `id` carries (its KRAFT_VOTERS batch), or null (a static quorum's). Throws SnapshotError, StorageError or RecordsError. */
  readSnapshotVoters(id: SnapshotId): readonly Voter[] | null;
  /**
   * The epoch of the record at `endOffset - 1`, when `endOffset` can end a snapshot: within
   * (log start, log end], on a batch boundary. Else why not.
   */
  snapshotEpochAt(endOffset: number): { kind: "ok"; epoch: number } | { kind: "error"; detail: string };
  /** Writes snapshot `id` (see snapshotEpochAt; `id.endOffset` <= the high watermark set). Throws StorageError or RecordsError. */
  createSnapshot(id: SnapshotId, content: Uint8Array, timestampMs: number): void;
  /** Deletes snapshots past the retention (see RetentionPolicy) and the log before the oldest kept. Returns whether the log start moved. Throws StorageError. */
  maybeDeleteBeforeSnapshots(policy: RetentionPolicy): boolean;
  /** The download in progress. */
  readonly snapshotDownload: { readonly id: SnapshotId; readonly size: number; readonly position: number } | null;
  beginSnapshotDownload(id: SnapshotId, size: number): void;
  appendSnapshotDownload(bytes: Uint8Array): void;
  /**
   * Completes the download and installs it: the snapshot is made durable, then the whole log
   * is dropped and starts (empty) at its end offset, and the other snapshots are deleted.
   * Throws StorageError.
   */
  finishSnapshotDownload(): { kind: "ok"; id: SnapshotId; content: Uint8Array; voters: readonly Voter[] | null } | { kind: "corrupt"; detail: string };
  abortSnapshotDownload(): void;
}

/** When old snapshots go: beyond `snapshotsRetainedMax`, and per Kafka's metadata retention settings (-1: no limit). */
export interface RetentionPolicy {
  readonly retentionBytes: number;
  readonly retentionMs: number;
  /** Wall-clock now, for the age of a snapshot. */
  readonly nowMs: number;
}

/**
 * A metadata-log write failed in a way that leaves its files in an unknown state: an I/O
 * error on a write or an fsync, or the log's dir taken offline. Never retried: after a failed
 * fsync the kernel may have dropped the dirty pages and report the next fsync as a success,
 * so a retry could count records (or a vote) as durable that are not. Whoever runs the Raft
 * core stops the node on it, as Kafka halts on a metadata log failure. A full disk (ENOSPC
 * on a write, or the disk monitor's refusal) is not such a failure: nothing was written, and
 * the append is answered with an error and may be retried.
 */
export class MetadataLogFailure extends Error {
  override readonly name = "MetadataLogFailure";
  constructor(
    readonly operation: "append" | "flush",
    readonly detail: string,
    readonly storageError: StorageError | null,
  ) {
    super(`metadata log ${operation} failed: ${detail}`);
  }
}

/** The RaftAppendResult of a refused append, or a throw when the refusal is a MetadataLogFailure. */
function appendRefused(r: AppendError): RaftAppendResult {
  switch (r.kind) {
    case "storageError":
      if (r.error.code === "ENOSPC") return { kind: "error", detail: r.error.message };
      throw new MetadataLogFailure("append", r.error.message, r.error);
    case "logDirOffline":
      throw new MetadataLogFailure("append", "the log dir is offline after an I/O error", null);
    case "logDirFull":
      return { kind: "error", detail: `logDirFull: ${r.detail}` };
    default:
      return { kind: "error", detail: `${r.kind}: ${r.detail}` };
  }
}

/** Settings of the metadata log's storage: kept whole (no retention, no compaction), flushed by Raft. */
export function raftLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    ...defaultLogConfig,
    retentionMs: -1,
    retentionBytes: -1,
    cleanupPolicy: { delete: false, compact: false },
    flushMessages: Number.POSITIVE_INFINITY,
    flushMs: Number.POSITIVE_INFINITY,
    fileDeleteDelayMs: 0,
    ...overrides,
  };
}

export interface OpenRaftLogOptions {
  fs: FileSystem;
  clock: Clock;
  /** The partition directory, `<log dir>/__cluster_metadata-0`. */
  dir: string;
  config?: LogConfig;
  files?: FileCache;
  health?: LogDirHealth;
  /**
   * The disk monitor's gate of the log dir holding this log (storage/disk-monitor.ts): at the
   * reject level leader appends go on, as an internal topic's, down to the reserve's floor.
   * None: no limit but ENOSPC.
   */
  space?: LogDirSpace | null;
}

/** A RaftLog over a PartitionLog. */
export class PartitionRaftLog implements RaftLog {
  readonly partitionLog: PartitionLog;
  readonly snapshotStore: SnapshotStore;

  constructor(partitionLog: PartitionLog, snapshotStore: SnapshotStore) {
    this.partitionLog = partitionLog;
    this.snapshotStore = snapshotStore;
  }

  /**
   * Opens (creating when missing) and recovers the log and its snapshots in `opts.dir`,
   * finishing or undoing what a crash interrupted (see the module doc). Throws StorageError,
   * and SnapshotError when a snapshot is corrupt.
   */
  static open(opts: OpenRaftLogOptions): PartitionRaftLog {
    const config = opts.config ?? raftLogConfig();
    const store = SnapshotStore.open(opts.fs, opts.dir);
    const latest = store.latest();
    const log = PartitionLog.open({
      fs: opts.fs,
      clock: opts.clock,
      dir: opts.dir,
      topicPartition: { topic: metadataTopic, partition: metadataPartition },
      config,
      files: opts.files ?? new FileCache(opts.fs, 64),
      health: opts.health ?? new LogDirHealth(opts.dir, 1),
      space: opts.space ?? null,
      recoveryPoint: 0,
      // The segments' start for now: the check against the snapshots needs the epochs below the oldest.
      logStartOffset: 0,
      highWatermark: latest?.endOffset ?? 0,
      hadCleanShutdown: false,
    });
    const raftLog = new PartitionRaftLog(log, store);
    raftLog.#repairEpochCache();
    raftLog.#reconcileWithSnapshots();
    raftLog.#checkSnapshotInvariant();
    return raftLog;
  }

  /** At open: completes an interrupted install, drops snapshots a crash left below the log (see the module doc). */
  #reconcileWithSnapshots(): void {
    const store = this.snapshotStore;
    const latest = store.latest();
    if (latest === null) {
      if (this.logStartOffset > 0) throw new SnapshotError(this.partitionLog.dir, `the log starts at ${this.logStartOffset} and no snapshot covers what is before`);
      return;
    }
    const log = this.partitionLog;
    // The log holds the snapshot's last record in the snapshot's epoch (so, by log matching,
    // everything before it), or starts right at the snapshot's end (cut there, or installed).
    // A log cut at the snapshot keeps the segment below it, but its epoch cache starts at the
    // cut: no epoch there before the snapshot's end is the cut, not a divergence.
    const cache = log.leaderEpochCache;
    const epochBefore = cache.epochForOffset(latest.endOffset - 1);
    const cacheStart = cache.entries()[0]?.startOffset ?? log.logEndOffset;
    const consistent =
      latest.endOffset <= log.logEndOffset &&
      (latest.endOffset === log.logStartOffset ||
        (latest.endOffset > log.logStartOffset && (epochBefore === latest.epoch || (epochBefore < 0 && cacheStart >= latest.endOffset))));
    if (!consistent) {
      log.truncateFullyAndStartAt(latest.endOffset);
      log.setHighWatermark(latest.endOffset);
    }
    const below = store.ids().filter((id) => id.endOffset < log.logStartOffset || (!consistent && id.endOffset !== latest.endOffset));
    store.delete(below);
    const earliest = store.earliest()!;
    if (earliest.endOffset > log.logStartOffset) {
      assert(log.deleteRecordsBefore(earliest.endOffset).kind === "ok", () => `log start to the oldest snapshot ${snapshotIdText(earliest)}`);
    }
  }

  /** No snapshot: the log starts at 0; else it starts at the oldest one's end. */
  #checkSnapshotInvariant(): void {
    const earliest = this.snapshotStore.earliest();
    assert(
      earliest === null ? this.logStartOffset === 0 : this.logStartOffset === earliest.endOffset,
      () => `log start ${this.logStartOffset} with snapshots ${this.snapshotStore.ids().map(snapshotIdText).join(",") || "none"}`,
    );
  }

  get logStartOffset(): number {
    return this.partitionLog.logStartOffset;
  }

  get logEndOffset(): number {
    return this.partitionLog.logEndOffset;
  }

  get flushedOffset(): number {
    return Math.min(this.partitionLog.recoveryPoint, this.partitionLog.logEndOffset);
  }

  lastFetchedEpoch(): number {
    if (this.logEndOffset === this.logStartOffset) return this.snapshotStore.earliest()?.epoch ?? -1;
    return this.partitionLog.leaderEpochCache.latestEpoch();
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset {
    const entries = this.partitionLog.leaderEpochCache.entries();
    let floor = -1;
    for (let i = 0; i < entries.length; i++) if (entries[i]!.epoch <= epoch) floor = i;
    if (floor < 0) {
      // Before the log's first epoch: the snapshot at the log start knows the epoch there.
      const atStart = this.snapshotStore.earliest();
      if (atStart !== null && atStart.epoch <= epoch) return { epoch: atStart.epoch, endOffset: this.logStartOffset };
      return { epoch: -1, endOffset: this.logStartOffset };
    }
    const next = entries[floor + 1];
    return { epoch: entries[floor]!.epoch, endOffset: next === undefined ? this.logEndOffset : next.startOffset };
  }

  appendAsLeader(batches: Uint8Array, epoch: number): RaftAppendResult {
    assert(epoch >= this.partitionLog.leaderEpochCache.latestEpoch(), () => `leader append in epoch ${epoch} after epoch ${this.lastFetchedEpoch()}`);
    const r = this.partitionLog.append(batches, epoch);
    if (r.kind !== "ok") return appendRefused(r);
    return { kind: "ok", firstOffset: r.firstOffset, lastOffset: r.lastOffset };
  }

  appendAsFollower(batches: Uint8Array): RaftAppendResult {
    const first = RecordBatchView.at(batches, 0);
    if (first.baseOffset !== this.logEndOffset) return { kind: "error", detail: `first batch at ${first.baseOffset}, log ends at ${this.logEndOffset}` };
    if (first.partitionLeaderEpoch < this.partitionLog.leaderEpochCache.latestEpoch()) {
      return { kind: "error", detail: `batch epoch ${first.partitionLeaderEpoch} below the log's ${this.lastFetchedEpoch()}` };
    }
    const r = this.partitionLog.appendAsFollower(batches);
    if (r.kind !== "ok") return appendRefused(r);
    return { kind: "ok", firstOffset: r.firstOffset, lastOffset: r.lastOffset };
  }

  truncateTo(offset: number): void {
    assert(offset >= this.logStartOffset, () => `truncation to ${offset} below the log start ${this.logStartOffset}`);
    this.partitionLog.truncateTo(offset);
    assert(this.logEndOffset === Math.min(offset, this.logEndOffset), () => `truncation to ${offset} left the log end at ${this.logEndOffset}`);
  }

  read(fromOffset: number, maxBytes: number): RaftReadResult {
    const r = this.partitionLog.read(fromOffset, maxBytes);
    switch (r.kind) {
      case "ok":
        return { kind: "ok", records: r.records };
      case "offsetOutOfRange":
        return { kind: "error", detail: `offset ${fromOffset} outside [${r.logStartOffset}, ${r.logEndOffset}]` };
      case "corrupt":
        return { kind: "error", detail: r.detail };
      case "storageError":
        return { kind: "error", detail: r.error.message };
    }
  }

  flush(): void {
    const e = this.partitionLog.flush();
    if (e !== null) throw new MetadataLogFailure("flush", e.message, e);
  }

  setHighWatermark(offset: number): void {
    this.partitionLog.setHighWatermark(offset);
  }

  // ---- snapshots ----------------------------------------------------------------------------

  snapshots(): readonly SnapshotId[] {
    return this.snapshotStore.ids();
  }

  latestSnapshot(): SnapshotId | null {
    return this.snapshotStore.latest();
  }

  snapshotSize(id: SnapshotId): number | null {
    return this.snapshotStore.sizeOf(id);
  }

  readSnapshotChunk(id: SnapshotId, position: number, maxBytes: number): Uint8Array {
    return this.snapshotStore.readChunk(id, position, maxBytes);
  }

  readSnapshotContent(id: SnapshotId): Uint8Array {
    return splitSnapshotContent(this.snapshotStore.readContent(id), snapshotBytesMax).state;
  }

  readSnapshotVoters(id: SnapshotId): readonly Voter[] | null {
    return votersOfSnapshotContent(this.snapshotStore.readContent(id));
  }

  snapshotEpochAt(endOffset: number): { kind: "ok"; epoch: number } | { kind: "error"; detail: string } {
    if (!(Number.isSafeInteger(endOffset) && endOffset > this.logStartOffset && endOffset <= this.logEndOffset)) {
      return { kind: "error", detail: `end offset ${endOffset} outside (${this.logStartOffset}, ${this.logEndOffset}]` };
    }
    if (endOffset < this.logEndOffset) {
      const r = this.read(endOffset, 1);
      if (r.kind !== "ok") return r;
      const base = RecordBatchView.at(r.records, 0).baseOffset;
      if (base !== endOffset) return { kind: "error", detail: `end offset ${endOffset} inside the batch at ${base}` };
    }
    const epoch = this.partitionLog.leaderEpochCache.epochForOffset(endOffset - 1);
    assert(epoch >= 0, () => `no epoch for offset ${endOffset - 1} in a log starting at ${this.logStartOffset}`);
    return { kind: "ok", epoch };
  }

  createSnapshot(id: SnapshotId, content: Uint8Array, timestampMs: number): void {
    const at = this.snapshotEpochAt(id.endOffset);
    assert(at.kind === "ok" && at.epoch === id.epoch, () => `snapshot ${snapshotIdText(id)}: ${at.kind === "ok" ? `the log has epoch ${at.epoch} there` : at.detail}`);
    const latest = this.snapshotStore.latest();
    assert(latest === null || latest.endOffset < id.endOffset, () => `snapshot ${snapshotIdText(id)} not past the latest ${latest === null ? "" : snapshotIdText(latest)}`);
    assert(id.endOffset <= this.partitionLog.highWatermark, () => `snapshot ${snapshotIdText(id)} past the high watermark ${this.partitionLog.highWatermark}`);
    this.snapshotStore.create(id, content, timestampMs);
    // The first snapshot: the log now starts where it ends.
    if (this.snapshotStore.ids().length === 1) this.#moveLogStart(id.endOffset);
    this.#checkSnapshotInvariant();
  }

  maybeDeleteBeforeSnapshots(policy: RetentionPolicy): boolean {
    const store = this.snapshotStore;
    let moved = false;
    for (;;) {
      const ids = store.ids();
      const oldest = ids[0];
      const next = ids[1];
      if (oldest === undefined || next === undefined) break;
      const tooMany = ids.length > snapshotsRetainedMax;
      const tooBig = policy.retentionBytes >= 0 && this.partitionLog.sizeBytes() + store.totalBytes() > policy.retentionBytes;
      const tooOld = policy.retentionMs >= 0 && policy.nowMs - (store.createdMs(oldest) ?? policy.nowMs) > policy.retentionMs;
      if (!tooMany && !tooBig && !tooOld) break;
      // The snapshot goes first: a crash between the two leaves the log start at a kept snapshot.
      store.delete([oldest]);
      this.#moveLogStart(next.endOffset);
      moved = true;
    }
    this.#checkSnapshotInvariant();
    return moved;
  }

  #moveLogStart(offset: number): void {
    const r = this.partitionLog.deleteRecordsBefore(offset);
    assert(r.kind === "ok" && r.logStartOffset === offset, () => `log start to ${offset}: ${JSON.stringify(r)} (high watermark ${this.partitionLog.highWatermark})`);
  }

  get snapshotDownload(): { readonly id: SnapshotId; readonly size: number; readonly position: number } | null {
    return this.snapshotStore.download;
  }

  beginSnapshotDownload(id: SnapshotId, size: number): void {
    this.snapshotStore.beginDownload(id, size);
  }

  appendSnapshotDownload(bytes: Uint8Array): void {
    this.snapshotStore.appendDownload(bytes);
  }

  finishSnapshotDownload(): { kind: "ok"; id: SnapshotId; content: Uint8Array; voters: readonly Voter[] | null } | { kind: "corrupt"; detail: string } {
    const done = this.snapshotStore.finishDownload();
    if (done.kind !== "ok") return done;
    let voters: readonly Voter[] | null;
    try {
      voters = votersOfSnapshotContent(done.content);
    } catch (e) {
      if (!(e instanceof RecordsError)) throw e;
      return { kind: "corrupt", detail: e.message };
    }
    const r = { kind: "ok" as const, id: done.id, content: splitSnapshotContent(done.content, snapshotBytesMax).state, voters };
    // Durable first (finishDownload renamed it and fsynced the dir), then the log goes.
    this.partitionLog.truncateFullyAndStartAt(r.id.endOffset);
    this.partitionLog.setHighWatermark(r.id.endOffset);
    this.snapshotStore.delete(this.snapshotStore.ids().filter((id) => id.endOffset !== r.id.endOffset || id.epoch !== r.id.epoch));
    this.#checkSnapshotInvariant();
    return r;
  }

  abortSnapshotDownload(): void {
    this.snapshotStore.abortDownload();
  }

  /** Adds epochs of batches past the cache's last entry that the cache lacks (see the module doc). */
  #repairEpochCache(): void {
    const cache = this.partitionLog.leaderEpochCache;
    let at = cache.entries().at(-1)?.startOffset ?? this.logStartOffset;
    while (at < this.logEndOffset) {
      const r = this.read(at, 1 << 20);
      assert(r.kind === "ok" && r.records.length > 0, () => `metadata log unreadable at ${at} during open: ${r.kind === "error" ? r.detail : "no batch"}`);
      let pos = 0;
      while (pos < r.records.length) {
        const batch = RecordBatchView.at(r.records, pos);
        if (batch.partitionLeaderEpoch > cache.latestEpoch()) cache.assign(batch.partitionLeaderEpoch, batch.baseOffset);
        at = batch.lastOffset + 1;
        pos += batch.sizeInBytes;
      }
    }
  }
}
