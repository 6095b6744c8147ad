/**
 * Kafka's file and directory names in a log dir.
 * - Partition dir: `<topic>-<partition>`; a dir being deleted: `<topic>-<partition>.<uuid>-delete`.
 * - Segment files: `<20-digit zero-padded base offset>.log|.index|.timeindex`; a file
 *   queued for removal carries a `.deleted` suffix; a half-written replacement `.tmp`.
 */

export const logSuffix = ".log";
export const indexSuffix = ".index";
export const timeIndexSuffix = ".timeindex";
export const deletedSuffix = ".deleted";
export const tmpSuffix = ".tmp";
export const leaderEpochCheckpointName = "leader-epoch-checkpoint";
export const partitionMetadataName = "partition.metadata";
export const cleanShutdownName = ".kafka_cleanshutdown";
export const recoveryPointCheckpointName = "recovery-point-offset-checkpoint";
export const logStartOffsetCheckpointName = "log-start-offset-checkpoint";
export const replicationOffsetCheckpointName = "replication-offset-checkpoint";
export const deleteDirSuffix = "-delete";

export function offsetFileStem(baseOffset: number): string {
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new Error(`file-names: bad base offset ${baseOffset}`);
  return String(baseOffset).padStart(20, "0");
}

/** Base offset of `name` if it is `<20 digits><suffix>`, else null. */
export function parseOffsetFileName(name: string, suffix: string): number | null {
  if (!name.endsWith(suffix) || name.length !== 20 + suffix.length) return null;
  const stem = name.slice(0, 20);
  if (!/^[0-9]{20}$/.test(stem)) return null;
  const v = Number(stem);
  return Number.isSafeInteger(v) ? v : null;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export function partitionDirName(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

/** Longest file name the log dirs' filesystems take (ext4, xfs: 255 bytes). */
export const fileNameBytesMax = 255;

/**
 * Name a partition dir takes while it is deleted: `<topic>-<partition>.<unique>-delete`, with
 * the topic cut short when the whole would pass `fileNameBytesMax` (topic names are ASCII, at
 * most 249 characters, so a long one plus the suffix does not fit). Start-up removes any dir
 * ending in `-delete`, whatever its prefix.
 */
export function deleteDirName(tp: TopicPartition, uniqueHex: string): string {
  const suffix = `-${tp.partition}.${uniqueHex}${deleteDirSuffix}`;
  return `${tp.topic.slice(0, Math.max(0, fileNameBytesMax - suffix.length))}${suffix}`;
}

/** Parses `<topic>-<partition>`; null for anything else (including dirs being deleted). */
export function parsePartitionDirName(name: string): TopicPartition | null {
  const i = name.lastIndexOf("-");
  if (i <= 0 || i === name.length - 1) return null;
  const p = name.slice(i + 1);
  if (!/^[0-9]{1,10}$/.test(p)) return null;
  const partition = Number(p);
  if (partition > 0x7fff_ffff) return null;
  const topic = name.slice(0, i);
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) return null;
  return { topic, partition };
}
