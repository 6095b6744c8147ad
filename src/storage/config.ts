/**
 * Storage configuration: one typed object per log (topic-level settings) and one per log
 * manager (broker-level settings). Each field names the Kafka property it stands for; the
 * broker maps properties onto these objects. Limits that are not configuration live here
 * too, named `*Max`/`*Min`.
 */
import { defaultDiskThresholds, type DiskThresholds } from "./disk-monitor.ts";

/** Per-log (topic) settings. */
export interface LogConfig {
  /** `segment.bytes`: roll the active segment when an append would pass this size. */
  segmentBytes: number;
  /** `segment.ms`: roll the active segment when its first append is older than this. */
  segmentMs: number;
  /** `segment.index.bytes`: the most bytes an offset index may hold (time index: 12/8 of it, as Kafka). */
  segmentIndexBytes: number;
  /** `index.interval.bytes`: bytes of log between two index entries. */
  indexIntervalBytes: number;
  /** `max.message.bytes`: the largest record batch accepted (after the 12-byte log overhead). */
  maxMessageBytes: number;
  /** `flush.messages`: fsync after this many records; `Infinity` = never (Kafka's default). */
  flushMessages: number;
  /** `flush.ms`: fsync data older than this; `Infinity` = never (Kafka's default). */
  flushMs: number;
  /** `retention.ms`: delete segments whose newest timestamp is older than this; -1 = keep. */
  retentionMs: number;
  /** `retention.bytes`: delete the oldest segments while the log is larger than this; -1 = keep. */
  retentionBytes: number;
  /** `file.delete.delay.ms`: how long a `.deleted` file waits before it is removed. */
  fileDeleteDelayMs: number;
  /**
   * `cleanup.policy`: `delete` applies retention (retention.ms / retention.bytes); `compact`
   * lets the log cleaner (cleaner.ts) keep only the latest record per key. Both may be set.
   */
  cleanupPolicy: { delete: boolean; compact: boolean };
  /** `delete.retention.ms`: how long a tombstone survives after the clean that first saw it. */
  deleteRetentionMs: number;
  /** `min.cleanable.dirty.ratio`: compact once dirty bytes / cleanable bytes reach this. */
  minCleanableDirtyRatio: number;
  /** `min.compaction.lag.ms`: a segment is compacted only once its newest record is this old. */
  minCompactionLagMs: number;
  /**
   * `max.compaction.lag.ms` (compacted logs): the active segment rolls at the latest this long
   * after its first append (segment.ms when that is shorter), and a log whose dirty section
   * holds a batch older than this is cleaned whatever its dirty ratio. `Infinity` = no bound
   * (Kafka's default, Long.MAX_VALUE).
   */
  maxCompactionLagMs: number;
  /**
   * `log.drop.behind.bytes` (bunka's, broker-wide, no topic override): when > 0, appended
   * bytes further than this behind the end of the active segment are queued for writeback
   * and then dropped from the page cache, so a partition's write stream keeps only its tail
   * cached. 0 leaves caching to the kernel (Kafka's behaviour).
   */
  dropBehindBytes: number;
}

export const defaultLogConfig: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  maxMessageBytes: 1024 * 1024 + 12,
  flushMessages: Number.POSITIVE_INFINITY,
  flushMs: Number.POSITIVE_INFINITY,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  fileDeleteDelayMs: 60_000,
  cleanupPolicy: Object.freeze({ delete: true, compact: false }),
  deleteRetentionMs: 24 * 60 * 60 * 1000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.POSITIVE_INFINITY,
  dropBehindBytes: 0,
});

/** The page size page-cache advice is rounded to. */
export const pageBytes = 4096;
/** Drop-behind advice goes out in steps of a quarter of the kept tail, at most this many bytes. */
export const dropBehindStepBytesMax = 8 * 1024 * 1024;
/** The smallest effective `log.drop.behind.bytes`: four pages, so each step is at least a page. */
export const dropBehindBytesMin = 4 * pageBytes;

/** Broker-level storage settings. */
export interface LogManagerConfig {
  /** `log.dirs`: absolute directory paths. */
  logDirs: string[];
  /** `log.retention.check.interval.ms`. */
  retentionCheckIntervalMs: number;
  /** `log.flush.offset.checkpoint.interval.ms`: how often recovery points are checkpointed. */
  flushOffsetCheckpointIntervalMs: number;
  /** `log.flush.start.offset.checkpoint.interval.ms`. */
  flushStartOffsetCheckpointIntervalMs: number;
  /** `replica.high.watermark.checkpoint.interval.ms`. */
  highWatermarkCheckpointIntervalMs: number;
  /** Open segment file descriptors kept at most (cold sealed segments are closed first). */
  openFilesMax: number;
  /**
   * Consecutive I/O failures in one log dir after which it is marked offline (Kafka marks
   * a dir offline at the first IOException; we tolerate transient ENOSPC a few times so
   * appends resume once space is freed).
   */
  logDirFailuresMax: number;
  /** Defaults for every log; per-topic overrides are merged on top. */
  logDefaults: LogConfig;
  /** `log.cleaner.enable`: run the log cleaner for logs whose cleanup policy includes compact. */
  cleanerEnable: boolean;
  /** `log.cleaner.backoff.ms`: pause between cleaner passes when no log needed cleaning. */
  cleanerBackoffMs: number;
  /**
   * `log.cleaner.dedupe.buffer.size`: memory bound of one clean's key → offset map (key bytes
   * plus `cleanerMapEntryOverheadBytes` per key). A clean covers as much of the dirty section
   * as fits; the rest waits for the next pass.
   */
  cleanerDedupeBufferBytes: number;
  /** The disk monitor's interval and thresholds (`log.dir.*`, disk-monitor.ts). */
  disk: DiskThresholds;
}

export const defaultLogManagerConfig = (logDirs: string[]): LogManagerConfig => ({
  logDirs,
  retentionCheckIntervalMs: 5 * 60 * 1000,
  flushOffsetCheckpointIntervalMs: 60_000,
  flushStartOffsetCheckpointIntervalMs: 60_000,
  highWatermarkCheckpointIntervalMs: 5_000,
  openFilesMax: 4096,
  logDirFailuresMax: 5,
  logDefaults: { ...defaultLogConfig },
  cleanerEnable: true,
  cleanerBackoffMs: 15_000,
  cleanerDedupeBufferBytes: 128 * 1024 * 1024,
  disk: { ...defaultDiskThresholds },
});

/** Kafka's record-batch overhead before `batchLength` counts: baseOffset (8) + batchLength (4). */
export const logOverheadBytes = 12;
/** The smallest well-formed v2 batch (header only). */
export const batchHeaderBytes = 61;
/** Relative offsets in an index are unsigned 32-bit, but Kafka keeps them below 2^31. */
export const relativeOffsetMax = 0x7fff_ffff;
/** Offset index entry: u32 relative offset, u32 position. */
export const offsetIndexEntryBytes = 8;
/** Time index entry: i64 timestamp, u32 relative offset. */
export const timeIndexEntryBytes = 12;
/** Largest single read the log performs for a fetch (guards maxBytes from callers). */
export const readBytesMax = 64 * 1024 * 1024;
/** A checkpoint file larger than this is rejected as corrupt before parsing. */
export const checkpointFileBytesMax = 64 * 1024 * 1024;
/** What one key costs in the cleaner's offset map besides its bytes (Map entry, string header, offset). */
export const cleanerMapEntryOverheadBytes = 64;
/** Largest decompressed records section the cleaner inflates (bounds zip bombs in stored batches). */
export const cleanerBatchInflatedBytesMax = 256 * 1024 * 1024;
