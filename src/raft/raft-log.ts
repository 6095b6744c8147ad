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
import type { EpochEndOffset } from "./messages.ts";

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

  constructor(partitionLog: PartitionLog) {
    this.partitionLog = partitionLog;
  }

  /** Opens (creating when missing) and recovers the log in `opts.dir`. Throws StorageError. */
  static open(opts: OpenRaftLogOptions): PartitionRaftLog {
    const config = opts.config ?? raftLogConfig();
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
      logStartOffset: 0,
      highWatermark: 0,
      hadCleanShutdown: false,
    });
    const raftLog = new PartitionRaftLog(log);
    raftLog.#repairEpochCache();
    return raftLog;
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
    if (this.logEndOffset === this.logStartOffset) return -1;
    return this.partitionLog.leaderEpochCache.latestEpoch();
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset {
    const entries = this.partitionLog.leaderEpochCache.entries();
    let floor = -1;
    for (let i = 0; i < entries.length; i++) if (entries[i]!.epoch <= epoch) floor = i;
    if (floor < 0) return { epoch: -1, endOffset: this.logStartOffset };
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
