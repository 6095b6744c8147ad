/**
 * The storage layer's public surface, for replication, the server and main.
 *
 * - `LogCleaner` (cleaner.ts): compaction of `cleanup.policy=compact` logs, run by LogManager.
 * - `LogManager`: log dirs, partition create/open/delete, checkpoints, retention, clean shutdown.
 * - `PartitionLog`: append (leader / follower), read (whole stored batches), offsets
 *   (logStartOffset, logEndOffset, highWatermark, recoveryPoint), truncation,
 *   deleteRecordsBefore, offsetForTimestamp, endOffsetForLeaderEpoch, flushing.
 * - Config types with Kafka's property names; typed results instead of exceptions for
 *   conditions (AppendResult / ReadResult kinds); `StorageError` (platform/fs.ts) for I/O.
 */
export { type CleanOutcome, LogCleaner } from "./cleaner.ts";
export { type LogConfig, type LogManagerConfig, defaultLogConfig, defaultLogManagerConfig } from "./config.ts";
export { type TopicPartition, partitionDirName, parsePartitionDirName } from "./file-names.ts";
export { type EpochEndOffset, undefinedEpoch, undefinedEpochOffset } from "./leader-epoch-cache.ts";
export { LogManager, type LogManagerOptions } from "./log-manager.ts";
export {
  type AppendError,
  type AppendInfo,
  type AppendResult,
  earliestTimestamp,
  latestTimestamp,
  LogDirHealth,
  maxTimestampQuery,
  PartitionLog,
  type ReadResult,
} from "./partition-log.ts";
