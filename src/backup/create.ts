/**
 * `backup create`: reads a cluster through public Kafka APIs (Metadata, DescribeConfigs,
 * ListOffsets, Fetch at read_uncommitted, ListGroups, OffsetFetch) and writes one backup
 * (format.ts) into a backup directory.
 *
 * Per partition, the range backed up is [start, end): `end` is the high watermark read
 * before the partition is fetched (a snapshot; later appends wait for the next backup);
 * `start` is where the parent backup of the partition ended, or the log start offset for a
 * fresh partition (no parent entry, a new topic id, or a log that no longer reaches the
 * parent's end). Batches are stored exactly as fetched; a fetch's trailing partial batch is
 * fetched again whole, and batches at or past `end` are left for the next backup.
 *
 * Group offsets are fetched after the data, and only those on the topics backed up are kept:
 * a committed offset is thus never past the data it points into by more than what was
 * appended meanwhile (restore clamps it to the data restored).
 *
 * Nothing outside `.<id>.partial/` is written until the rename that publishes the backup.
 */
import { ClusterClient } from "../client/bootstrap.ts";
import { describeTopicConfigs, fetchGroupOffsets, listGroups } from "../client/admin.ts";
import { completeBatches, describeFailure, fetchPartition, listOffset, OffsetSpec, type PartitionRef } from "../client/partition-io.ts";
import type { Aes256Gcm } from "../platform/aead.ts";
import type { Clock } from "../platform/clock.ts";
import type { Compression } from "../platform/compression.ts";
import { type Fd, type FileSystem, joinPath, writeFileAtomic } from "../platform/fs.ts";
import type { Network } from "../platform/network.ts";
import type { Prng } from "../platform/prng.ts";
import type { RecordBatchView } from "../protocol/records/record-batch.ts";
import { type BackupKey, nonceBytes } from "./crypto.ts";
import {
  type BackupCodec,
  backupIdFor,
  type ChunkEntry,
  chunkRawBytesMax,
  ChunkScratch,
  chunkTargetBytes,
  dataFileName,
  encodeChunk,
  encodeManifest,
  fileDigest,
  type GroupEntry,
  type Manifest,
  type PartitionEntry,
  type TopicEntry,
} from "./format.ts";
import { BackupError, backupIds, loadManifest } from "./reader.ts";


export interface BackupEnv {
  readonly fs: FileSystem;
  readonly compression: Compression;
  readonly clock: Clock;
  readonly network: Network;
  readonly prng: Prng;
  /** Cryptographically random bytes (nonces, ids). */
  readonly randomBytes: (n: number) => Uint8Array;
  /** A faster AES-256-GCM than Web Crypto's, when the platform has one. */
  readonly aead?: Aes256Gcm;
  readonly sleep: (ms: number) => Promise<void>;
  /** Progress and warnings, one line each (stderr in the CLI). */
  readonly note?: (line: string) => void;
}

export interface CreateOptions {
  readonly bootstrap: string;
  readonly dir: string;
  /** Full-match patterns (the CLI anchors them). */
  readonly topics: RegExp;
  readonly groups: RegExp;
  readonly key: BackupKey | null;
  readonly codec: BackupCodec;
  /** Bytes asked per Fetch. */
  readonly fetchBytes?: number;
  /** A full backup even when the directory holds one to build on (starts a new chain). */
  readonly full?: boolean;
}

export interface CreateSummary {
  readonly id: string;
  readonly parent: string | null;
  readonly topics: number;
  readonly partitions: number;
  readonly batches: number;
  readonly records: number;
  /** Batch bytes fetched and stored (before compression). */
  readonly rawBytes: number;
  /** Bytes written to data files. */
  readonly storedBytes: number;
  readonly groups: number;
  readonly encrypted: boolean;
  readonly durationMs: number;
}

/** A failure of the cluster or of the backup directory: one line for the operator. */
export class BackupFailure extends Error {
  override readonly name = "BackupFailure";
}

const fetchBytesDefault = 8 * 1024 * 1024;

export async function createBackup(env: BackupEnv, options: CreateOptions): Promise<CreateSummary> {
  const { fs } = env;
  const startedMono = env.clock.monotonicMs();
  const createdMs = env.clock.nowMs();
  const id = backupIdFor(createdMs, env.randomBytes(3));
  fs.mkdirp(options.dir);
  // Leftovers of interrupted runs.
  for (const name of fs.readdir(options.dir)) if (name.startsWith(".") && name.endsWith(".partial")) removeTree(fs, joinPath(options.dir, name));

  const connected = await ClusterClient.connect({ network: env.network, clock: env.clock, prng: env.prng, bootstrapServers: options.bootstrap, config: { clientId: "bunka-backup" } });
  if (!connected.ok) throw new BackupFailure(`cannot reach ${options.bootstrap}: ${connected.error.message}`);
  const cluster = connected.value;
  try {
    const parent = await findParent(env, options, cluster.clusterId);
    const meta = await cluster.refreshMetadata(null);
    if (!meta.ok) throw new BackupFailure(`Metadata failed: ${meta.error.message}`);
    const selected = meta.value.topics
      .filter((t) => t.name !== null && !t.isInternal && t.errorCode === 0 && options.topics.test(t.name))
      .sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : 1));

    const partialDir = joinPath(options.dir, `.${id}.partial`);
    fs.mkdirp(joinPath(partialDir, "data"));
    const totals = { batches: 0, records: 0, rawBytes: 0, storedBytes: 0, partitions: 0 };
    const topics: TopicEntry[] = [];
    for (const t of selected) {
      const name = t.name as string;
      const configs = await describeTopicConfigs(cluster, name);
      if (!configs.ok) throw new BackupFailure(`DescribeConfigs ${name}: ${describeFailure(configs.error)}`);
      const partitions: PartitionEntry[] = [];
      const sorted = [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
      const prevTopic = parent?.topics.find((x) => x.name === name && x.topicId === t.topicId);
      for (const p of sorted) {
        const prev = prevTopic?.partitions.find((x) => x.partition === p.partitionIndex);
        const entry = await backupPartition(env, options, cluster, partialDir, id, { topic: name, topicId: t.topicId, partition: p.partitionIndex }, prev ?? null, totals);
        partitions.push(entry);
        totals.partitions++;
      }
      topics.push({
        name,
        topicId: t.topicId,
        partitionCount: sorted.length,
        replicationFactor: Math.max(1, sorted[0]?.replicaNodes.length ?? 1),
        configs: Object.fromEntries(configs.value),
        partitions,
      });
    }

    const groups: GroupEntry[] = [];
    const listed = await listGroups(cluster);
    if (!listed.ok) throw new BackupFailure(`ListGroups: ${describeFailure(listed.error)}`);
    const topicNames = new Set(topics.map((t) => t.name));
    for (const g of listed.value) {
      if (!options.groups.test(g.groupId)) continue;
      const offsets = await fetchGroupOffsets(cluster, g.groupId, env.sleep);
      if (!offsets.ok) throw new BackupFailure(`OffsetFetch for group ${g.groupId}: ${describeFailure(offsets.error)}`);
      const kept = offsets.value.filter((o) => topicNames.has(o.topic)).sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
      if (kept.length > 0) groups.push({ groupId: g.groupId, offsets: kept });
    }

    const manifest: Manifest = {
      format: "bunka-backup",
      version: 1,
      id,
      parent: parent?.id ?? null,
      createdMs,
      finishedMs: env.clock.nowMs(),
      source: { clusterId: cluster.clusterId, bootstrap: options.bootstrap },
      encryption: options.key === null ? null : { cipher: "AES-256-GCM", keyId: options.key.id },
      compression: options.codec,
      topicsRegex: options.topics.source,
      groupsRegex: options.groups.source,
      topics,
      groups,
    };
    const encoded = await encodeManifest(manifest, options.key);
    writeFileAtomic(fs, joinPath(partialDir, "manifest.json"), encoded.manifest);
    writeFileAtomic(fs, joinPath(partialDir, "manifest.sum"), encoded.sum);
    fs.fsyncDir(joinPath(partialDir, "data"));
    fs.rename(partialDir, joinPath(options.dir, id));
    fs.fsyncDir(options.dir);
    return {
      id,
      parent: manifest.parent,
      topics: topics.length,
      partitions: totals.partitions,
      batches: totals.batches,
      records: totals.records,
      rawBytes: totals.rawBytes,
      storedBytes: totals.storedBytes,
      groups: groups.length,
      encrypted: options.key !== null,
      durationMs: env.clock.monotonicMs() - startedMono,
    };
  } finally {
    cluster.close();
  }
}

/** The newest complete backup of the same cluster in the directory, checked with the key. */
async function findParent(env: BackupEnv, options: CreateOptions, clusterId: string | null): Promise<Manifest | null> {
  const ids = backupIds(env.fs, options.dir);
  const newest = ids[ids.length - 1];
  if (newest === undefined || options.full === true) return null;
  let m: Manifest;
  try {
    m = await loadManifest(env.fs, options.dir, newest, options.key);
  } catch (e) {
    if (e instanceof BackupError) throw new BackupFailure(`the newest backup in ${options.dir} cannot be the base of an incremental one: ${e.message}`);
    throw e;
  }
  if (m.source.clusterId !== clusterId) {
    env.note?.(`note: the newest backup ${m.id} is of cluster ${m.source.clusterId ?? "(none)"}, this is ${clusterId ?? "(none)"}: taking a full backup`);
    return null;
  }
  if (m.encryption !== null && options.key === null) throw new BackupFailure(`backup ${m.id} in ${options.dir} is encrypted (key id ${m.encryption.keyId}); give its key with --encryption-key-file, or back up to another directory`);
  if (m.encryption === null && options.key !== null) throw new BackupFailure(`backup ${m.id} in ${options.dir} is not encrypted; an incremental backup must not mix keys: back up to another directory`);
  return m;
}

async function backupPartition(
  env: BackupEnv,
  options: CreateOptions,
  cluster: ClusterClient,
  partialDir: string,
  backupId: string,
  ref: PartitionRef & { topicId: string },
  prev: PartitionEntry | null,
  totals: { batches: number; records: number; rawBytes: number; storedBytes: number },
): Promise<PartitionEntry> {
  const name = `${ref.topic}-${ref.partition}`;
  const earliest = await listOffset(cluster, ref, OffsetSpec.earliest);
  if (!earliest.ok) throw new BackupFailure(`ListOffsets earliest ${name}: ${describeFailure(earliest.error)}`);
  const latest = await listOffset(cluster, ref, OffsetSpec.latest);
  if (!latest.ok) throw new BackupFailure(`ListOffsets latest ${name}: ${describeFailure(latest.error)}`);
  const logStartOffset = earliest.value;
  const end = latest.value;
  let fresh = prev === null;
  if (prev !== null && prev.endOffset > end) {
    env.note?.(`note: ${name} ends at ${end}, before the ${prev.endOffset} the previous backup reached (log truncated?): backing it up afresh`);
    fresh = true;
  }
  const start = fresh ? logStartOffset : Math.max((prev as PartitionEntry).endOffset, logStartOffset);
  if (!fresh && prev !== null && logStartOffset > prev.endOffset) env.note?.(`note: ${name}: offsets [${prev.endOffset}, ${logStartOffset}) were deleted from the log before this backup could read them`);

  const file = dataFileName(ref.topic, ref.partition);
  const identity = { backupId, topic: ref.topic, partition: ref.partition };
  const chunks: ChunkEntry[] = [];
  const digests: string[] = [];
  let fd: Fd | null = null;
  let fileBytes = 0;
  let pending: RecordBatchView[] = [];
  let pendingBytes = 0;
  const scratch = new ChunkScratch();

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const raw = scratch.raw(pendingBytes);
    let at = 0;
    for (const b of pending) {
      raw.set(b.bytes, at);
      at += b.bytes.length;
    }
    if (at !== raw.length) throw new Error(`chunk assembly: ${at} batch bytes copied, ${raw.length} counted`);
    const first = pending[0]!;
    const last = pending[pending.length - 1]!;
    let records = 0;
    let maxTimestamp = -1;
    for (const b of pending) {
      records += b.recordCount;
      maxTimestamp = Math.max(maxTimestamp, b.maxTimestamp);
    }
    const index = chunks.length;
    const sealed = await encodeChunk(identity, { index, firstOffset: first.baseOffset, nextOffset: last.nextOffset, batchCount: pending.length }, raw, options.codec, env.compression, options.key, env.randomBytes(nonceBytes), scratch);
    if (fd === null) fd = env.fs.open(joinPath(partialDir, file), "append");
    env.fs.append(fd, sealed.frame);
    fileBytes += sealed.frame.length;
    chunks.push({ index, firstOffset: first.baseOffset, nextOffset: last.nextOffset, batches: pending.length, records, rawBytes: raw.length, storedBytes: sealed.storedBytes, maxTimestamp, sha256: sealed.sha256 });
    digests.push(sealed.sha256);
    totals.batches += pending.length;
    totals.records += records;
    totals.rawBytes += raw.length;
    totals.storedBytes += sealed.frame.length;
    pending = [];
    pendingBytes = 0;
  };

  const fetchBytes = options.fetchBytes ?? fetchBytesDefault;
  const fetchAt = (offset: number) => fetchPartition(cluster, ref, { fetchOffset: offset, maxBytes: fetchBytes });
  let offset = start;
  let inFlight = offset < end ? fetchAt(offset) : null;
  try {
    while (inFlight !== null) {
      const r = await inFlight;
      inFlight = null;
      if (!r.ok) throw new BackupFailure(`Fetch ${name} at ${offset}: ${describeFailure(r.error)}`);
      const whole = completeBatches(r.value.records, offset, chunkRawBytesMax);
      if (whole.problem !== null) throw new BackupFailure(`Fetch ${name} at ${offset}: ${whole.problem}`);
      const batches = whole.batches.filter((b) => b.baseOffset < end);
      if (batches.length === 0) {
        if (r.value.highWatermark < end) throw new BackupFailure(`${name}: the high watermark went back from ${end} to ${r.value.highWatermark} during the backup`);
        if (r.value.records.length > 0 && whole.batches.length === 0) throw new BackupFailure(`${name}: a batch at ${offset} is larger than the ${fetchBytes}-byte fetch size`);
        break; // nothing below end past offset (a trailing gap)
      }
      const last = batches[batches.length - 1]!;
      offset = last.nextOffset;
      // Ask for the next range while this one is compressed, sealed and written.
      if (offset < end) inFlight = fetchAt(offset);
      for (const b of batches) {
        if (b.sizeInBytes > chunkRawBytesMax) throw new BackupFailure(`${name}: batch at ${b.baseOffset} of ${b.sizeInBytes} bytes exceeds the ${chunkRawBytesMax}-byte chunk bound`);
        if (pendingBytes + b.sizeInBytes > chunkTargetBytes && pending.length > 0) await flush();
        pending.push(b);
        pendingBytes += b.sizeInBytes;
      }
      if (pendingBytes >= chunkTargetBytes) await flush();
    }
    await flush();
    if (fd !== null) env.fs.fsync(fd);
  } finally {
    if (inFlight !== null) await inFlight;
    if (fd !== null) env.fs.close(fd);
  }
  env.note?.(`${name}: [${start}, ${end}) ${chunks.reduce((n, c) => n + c.records, 0)} records in ${chunks.length} chunks`);
  return {
    partition: ref.partition,
    logStartOffset,
    startOffset: start,
    endOffset: Math.max(start, end),
    fresh,
    file: chunks.length === 0 ? null : file,
    fileBytes,
    fileSha256: chunks.length === 0 ? null : await fileDigest(digests),
    chunks,
  };
}

/** Removes a file or a directory tree (no symlinks are followed: backups hold none). */
export function removeTree(fs: FileSystem, path: string): void {
  if (!fs.exists(path)) return;
  if (fs.stat(path).isDirectory) {
    for (const n of fs.readdir(path)) removeTree(fs, joinPath(path, n));
    fs.rmdir(path);
  } else {
    fs.unlink(path);
  }
}
