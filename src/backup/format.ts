/**
 * The on-disk format of a bunka backup (format version 1). This file owns it.
 *
 * A backup directory (`--to DIR`) holds one subdirectory per backup, named by its id
 * (`20261205T171500123Z-1a2b3c`: UTC creation time, then 6 random hex digits, so names sort
 * by time). A backup being written lives in `.<id>.partial/` and is renamed into place after
 * every file in it was fsynced, so a directory named by an id is always complete; names
 * starting with "." are ignored by every reader.
 *
 *   <id>/manifest.json                 the manifest (JSON, UTF-8; schema below)
 *   <id>/manifest.sum                  {"sha256": hex of manifest.json's bytes,
 *                                        "hmacSha256": HMAC of them under the key's MAC key, or null}
 *   <id>/data/<topic>-<partition>.chunks   chunks back to back, nothing else
 *
 * Incremental backups: a backup names its parent (the newest complete backup of the same
 * cluster in DIR when it started); a partition's data in a backup starts where its data in
 * the parent ended (`startOffset` = parent's `endOffset`), unless `fresh` is set (first
 * backup of it, a topic id that changed — deleted and re-created —, or a log that no longer
 * reaches the parent's end). Restoring a backup replays, per partition, the chain of its
 * ancestors back to the nearest `fresh` entry.
 *
 * Chunk frame (all integers big-endian):
 *    0 magic        4 bytes "BKC1"
 *    4 codec        u8: 0 none, 1 gzip, 3 lz4 (frame), 4 zstd — Kafka's codec ids
 *    5 flags        u8: bit 0 = sealed with AES-256-GCM; other bits 0
 *    6 reserved     u16 = 0
 *    8 chunkIndex   u32: position of the chunk in its file, from 0
 *   12 firstOffset  i64: baseOffset of the first batch
 *   20 nextOffset   i64: lastOffset + 1 of the last batch
 *   28 batchCount   u32
 *   32 rawBytes     u32: length of the batches, uncompressed (≤ chunkRawBytesMax)
 *   36 storedBytes  u32: length of the payload that follows (≤ chunkStoredBytesMax)
 *   40 nonce        12 bytes: the GCM nonce; zeros when not sealed
 *   52 payload      storedBytes: the batches, exactly as fetched (offsets, timestamps, producer
 *                   ids, headers, compression and CRCs untouched), concatenated, compressed
 *                   with `codec`, then sealed when flag bit 0 is set (ciphertext ‖ 16-byte tag)
 * Associated data of the seal: "bunka-backup/1\0" ‖ backup id ‖ "\0" ‖ topic ‖ "\0" ‖
 * partition (decimal) ‖ "\0" ‖ header bytes 0..51. So a chunk moved to another file, another
 * backup or another position, or with any header byte changed, fails to open.
 * The manifest lists every chunk with its header fields and the SHA-256 of its whole frame;
 * the file's digest is SHA-256 over those chunk digests in order (computable while
 * streaming). Readers check every size against its bound and against the bytes left in the
 * file before allocating.
 *
 * Crash behaviour: files are written only inside `.<id>.partial/`; a crash leaves that
 * directory behind (ignored; the next `create` removes it) and no manifest of that id.
 */
import { z } from "zod";
import type { Compression } from "../platform/compression.ts";
import { lz4FrameCompress, lz4FrameDecompress } from "../protocol/records/lz4-frame.ts";
import { type BackupKey, concat, gcmTagBytes, hex, nonceBytes, sha256 } from "./crypto.ts";

export const formatName = "bunka-backup";
export const formatVersion = 1;
export const chunkMagic = new Uint8Array([0x42, 0x4b, 0x43, 0x31]); // "BKC1"
export const chunkHeaderBytes = 52;
/** A chunk closes once its batches reach this many bytes (a larger batch gets a chunk of its own). */
export const chunkTargetBytes = 8 * 1024 * 1024;
/** The largest chunk, uncompressed: bounds what a reader allocates. Batches above it are refused. */
export const chunkRawBytesMax = 128 * 1024 * 1024;
/** Compressed and sealed size bound: the worst expansion of the codecs used, plus the tag. */
export const chunkStoredBytesMax = chunkRawBytesMax + (chunkRawBytesMax >>> 6) + 64 * 1024 + gcmTagBytes;
/** Bytes of manifest.json / manifest.sum read at most. */
export const manifestBytesMax = 256 * 1024 * 1024;
export const sumBytesMax = 4096;

export const backupCodecs = ["none", "gzip", "lz4", "zstd"] as const;
export type BackupCodec = (typeof backupCodecs)[number];
const codecIds: Record<BackupCodec, number> = { none: 0, gzip: 1, lz4: 3, zstd: 4 };
const flagSealed = 0x01;
/** zstd level of chunks (see compressChunk). */
export const zstdLevel = 1;

export function isBackupCodec(s: string): s is BackupCodec {
  return (backupCodecs as readonly string[]).includes(s);
}

// ---- manifest --------------------------------------------------------------------------------

const chunkEntry = z.object({
  index: z.number().int().nonnegative(),
  firstOffset: z.number().int().nonnegative(),
  nextOffset: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative(),
  records: z.number().int().nonnegative(),
  rawBytes: z.number().int().nonnegative().max(chunkRawBytesMax),
  storedBytes: z.number().int().nonnegative().max(chunkStoredBytesMax),
  maxTimestamp: z.number().int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ChunkEntry = z.infer<typeof chunkEntry>;

const partitionEntry = z.object({
  partition: z.number().int().nonnegative(),
  /** The source's log start offset when backed up. */
  logStartOffset: z.number().int().nonnegative(),
  /** First offset this backup covers (its data may start later: gaps, compaction). */
  startOffset: z.number().int().nonnegative(),
  /** Offset after the last one covered (the high watermark read when the backup started). */
  endOffset: z.number().int().nonnegative(),
  /** True when restore must not look at ancestors for this partition. */
  fresh: z.boolean(),
  /** Relative path of the data file, null when this backup holds no batch of the partition. */
  file: z.string().nullable(),
  fileBytes: z.number().int().nonnegative(),
  fileSha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  chunks: z.array(chunkEntry),
});
export type PartitionEntry = z.infer<typeof partitionEntry>;

const topicEntry = z.object({
  name: z.string().min(1).max(249),
  topicId: z.string(),
  partitionCount: z.number().int().positive(),
  replicationFactor: z.number().int().positive(),
  /** Configs set on the topic (DescribeConfigs source DYNAMIC_TOPIC_CONFIG). */
  configs: z.record(z.string(), z.string().nullable()),
  partitions: z.array(partitionEntry),
});
export type TopicEntry = z.infer<typeof topicEntry>;

const groupEntry = z.object({
  groupId: z.string(),
  offsets: z.array(
    z.object({
      topic: z.string(),
      partition: z.number().int().nonnegative(),
      offset: z.number().int().nonnegative(),
      leaderEpoch: z.number().int(),
      metadata: z.string().nullable(),
    }),
  ),
});
export type GroupEntry = z.infer<typeof groupEntry>;

export const manifestSchema = z.object({
  format: z.literal(formatName),
  version: z.literal(formatVersion),
  id: z.string().regex(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/),
  parent: z.string().nullable(),
  createdMs: z.number().int(),
  finishedMs: z.number().int(),
  source: z.object({ clusterId: z.string().nullable(), bootstrap: z.string() }),
  encryption: z.object({ cipher: z.literal("AES-256-GCM"), keyId: z.string().regex(/^[0-9a-f]{16}$/) }).nullable(),
  compression: z.enum(backupCodecs),
  topicsRegex: z.string(),
  groupsRegex: z.string(),
  topics: z.array(topicEntry),
  groups: z.array(groupEntry),
});
export type Manifest = z.infer<typeof manifestSchema>;

const sumSchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), hmacSha256: z.string().regex(/^[0-9a-f]{64}$/).nullable() });
export type ManifestSum = z.infer<typeof sumSchema>;

const encoder = new TextEncoder();

export async function encodeManifest(manifest: Manifest, key: BackupKey | null): Promise<{ manifest: Uint8Array; sum: Uint8Array }> {
  const bytes = encoder.encode(`${JSON.stringify(manifest, null, 1)}\n`);
  const sum: ManifestSum = { sha256: hex(await sha256(bytes)), hmacSha256: key === null ? null : await key.mac(bytes) };
  return { manifest: bytes, sum: encoder.encode(`${JSON.stringify(sum)}\n`) };
}

export type ManifestCheck = { ok: true; manifest: Manifest; sum: ManifestSum } | { ok: false; reason: string };

/**
 * Parses and checks a manifest against its sum. With a key: the key id must match and the
 * HMAC must check. Without one, an encrypted manifest is still parsed (list needs no key) and
 * only its SHA-256 is checked.
 */
export async function decodeManifest(bytes: Uint8Array, sumBytes: Uint8Array, key: BackupKey | null): Promise<ManifestCheck> {
  let sum: ManifestSum;
  try {
    sum = sumSchema.parse(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(sumBytes)));
  } catch (e) {
    return { ok: false, reason: `manifest.sum is not valid: ${firstLine(e)}` };
  }
  if (hex(await sha256(bytes)) !== sum.sha256) return { ok: false, reason: "manifest.json does not match the SHA-256 in manifest.sum (altered or truncated)" };
  let manifest: Manifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)));
  } catch (e) {
    return { ok: false, reason: `manifest.json is not a bunka backup manifest: ${firstLine(e)}` };
  }
  if (key !== null && manifest.encryption !== null) {
    if (manifest.encryption.keyId !== key.id) return { ok: false, reason: `the key does not match backup ${manifest.id}: it was written with key id ${manifest.encryption.keyId}, the key given has id ${key.id}` };
    if (sum.hmacSha256 === null || sum.hmacSha256 !== (await key.mac(bytes))) return { ok: false, reason: "manifest.json fails its HMAC (altered)" };
  }
  return { ok: true, manifest, sum };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n").slice(0, 3).join(" ").slice(0, 300);
}

// ---- chunks ----------------------------------------------------------------------------------

export interface ChunkIdentity {
  readonly backupId: string;
  readonly topic: string;
  readonly partition: number;
}

export interface ChunkHeader {
  readonly codec: BackupCodec;
  readonly sealed: boolean;
  readonly index: number;
  readonly firstOffset: number;
  readonly nextOffset: number;
  readonly batchCount: number;
  readonly rawBytes: number;
  readonly storedBytes: number;
  readonly nonce: Uint8Array;
}

function associatedData(identity: ChunkIdentity, header: Uint8Array): Uint8Array {
  return concat(encoder.encode(`bunka-backup/1\0${identity.backupId}\0${identity.topic}\0${identity.partition}\0`), header.subarray(0, chunkHeaderBytes));
}

function writeU32(b: DataView, p: number, v: number): void {
  b.setUint32(p, v);
}

function writeI64(b: DataView, p: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`chunk offset ${v}`);
  b.setUint32(p, Math.floor(v / 0x1_0000_0000));
  b.setUint32(p + 4, v % 0x1_0000_0000);
}

function readI64(b: DataView, p: number): number {
  const hi = b.getUint32(p);
  if (hi > 0x1f_ffff) return -1;
  return hi * 0x1_0000_0000 + b.getUint32(p + 4);
}

export function compressChunk(codec: BackupCodec, raw: Uint8Array, compression: Compression): Uint8Array {
  switch (codec) {
    case "none":
      return raw;
    case "gzip":
      return compression.gzipCompress(raw, 6);
    case "lz4":
      return lz4FrameCompress(raw, compression);
    case "zstd":
      // Level 1: ~300 MB/s here against ~60 at level 3 on payloads that compress ~2:1
      // (bench/backup.ts), for a few percent more bytes.
      return compression.zstdCompress(raw, zstdLevel);
  }
}

export function decompressChunk(codec: BackupCodec, stored: Uint8Array, rawBytes: number, compression: Compression): Uint8Array {
  switch (codec) {
    case "none":
      return stored;
    case "gzip":
      return compression.gzipDecompress(stored, rawBytes);
    case "lz4":
      return lz4FrameDecompress(stored, rawBytes, compression);
    case "zstd":
      return compression.zstdDecompress(stored, rawBytes);
  }
}

export interface SealedChunk {
  /** The whole frame: header ‖ payload. */
  readonly frame: Uint8Array;
  readonly sha256: string;
  readonly storedBytes: number;
}

/**
 * Buffers reused from one chunk to the next by a writer. A fresh large `Uint8Array` costs far
 * more than the copy into it on these VMs (zeroed pages the host must fault in again: an 8 MiB
 * allocation + copy ran at ~0.4-0.8 GB/s of CPU against ~20 GB/s for a copy into a buffer
 * already touched), and `create` used to allocate three per chunk (batches, frame, sealed
 * payload). Views handed out stay valid until the next call for the same buffer.
 */
export class ChunkScratch {
  #raw = new Uint8Array(0);
  #frame = new Uint8Array(0);

  /** `bytes` bytes to assemble a chunk's batches in. */
  raw(bytes: number): Uint8Array {
    if (!(bytes >= 0 && bytes <= chunkRawBytesMax)) throw new RangeError(`chunk of ${bytes} bytes exceeds ${chunkRawBytesMax}`);
    if (this.#raw.length < bytes) this.#raw = new Uint8Array(grown(this.#raw.length, bytes));
    return this.#raw.subarray(0, bytes);
  }

  /** `bytes` bytes to assemble a frame in. */
  frame(bytes: number): Uint8Array {
    if (!(bytes >= chunkHeaderBytes && bytes <= chunkHeaderBytes + chunkStoredBytesMax)) throw new RangeError(`frame of ${bytes} bytes`);
    if (this.#frame.length < bytes) this.#frame = new Uint8Array(grown(this.#frame.length, bytes));
    return this.#frame.subarray(0, bytes);
  }
}

/** Grows by at least half, so a run of slightly larger chunks reallocates only a few times. */
function grown(have: number, need: number): number {
  return Math.max(need, Math.min(have + (have >>> 1), chunkHeaderBytes + chunkStoredBytesMax));
}

/**
 * Builds one chunk frame from batches already concatenated (`raw`). With `scratch`, the frame
 * is assembled in its buffer: `frame` is then a view valid until the scratch's next frame.
 */
export async function encodeChunk(
  identity: ChunkIdentity,
  fields: ChunkFields,
  raw: Uint8Array,
  codec: BackupCodec,
  compression: Compression,
  key: BackupKey | null,
  nonce: Uint8Array,
  scratch: ChunkScratch | null = null,
): Promise<SealedChunk> {
  if (raw.length > chunkRawBytesMax) throw new RangeError(`chunk of ${raw.length} bytes exceeds ${chunkRawBytesMax}`);
  return sealChunk(identity, fields, raw.length, compressChunk(codec, raw, compression), codec, key, nonce, scratch);
}

export interface ChunkFields {
  readonly index: number;
  readonly firstOffset: number;
  readonly nextOffset: number;
  readonly batchCount: number;
}

/** Builds a chunk frame around a payload compressed already (`rawBytes` before compression). */
export async function sealChunk(
  identity: ChunkIdentity,
  fields: ChunkFields,
  rawBytes: number,
  compressed: Uint8Array,
  codec: BackupCodec,
  key: BackupKey | null,
  nonce: Uint8Array,
  scratch: ChunkScratch | null = null,
): Promise<SealedChunk> {
  if (!(rawBytes >= 0 && rawBytes <= chunkRawBytesMax)) throw new RangeError(`chunk of ${rawBytes} bytes exceeds ${chunkRawBytesMax}`);
  const header = new Uint8Array(chunkHeaderBytes);
  const view = new DataView(header.buffer);
  header.set(chunkMagic, 0);
  header[4] = codecIds[codec];
  header[5] = key === null ? 0 : flagSealed;
  writeU32(view, 8, fields.index);
  writeI64(view, 12, fields.firstOffset);
  writeI64(view, 20, fields.nextOffset);
  writeU32(view, 28, fields.batchCount);
  writeU32(view, 32, rawBytes);
  const storedBytes = key === null ? compressed.length : compressed.length + gcmTagBytes;
  if (storedBytes > chunkStoredBytesMax) throw new RangeError(`chunk payload of ${storedBytes} bytes exceeds ${chunkStoredBytesMax}`);
  writeU32(view, 36, storedBytes);
  if (key !== null) header.set(nonce.subarray(0, nonceBytes), 40);
  let frame: Uint8Array;
  if (scratch !== null) {
    // Sealed straight into the frame: no payload-sized allocation at all.
    frame = scratch.frame(chunkHeaderBytes + storedBytes);
    frame.set(header, 0);
    const payload = frame.subarray(chunkHeaderBytes);
    if (key === null) payload.set(compressed);
    else await key.sealInto(compressed, header.subarray(40, 52), associatedData(identity, header), payload);
  } else {
    const payload = key === null ? compressed : await key.seal(compressed, header.subarray(40, 52), associatedData(identity, header));
    if (payload.length !== storedBytes) throw new Error(`sealed payload is ${payload.length} bytes, expected ${storedBytes}`);
    frame = concat(header, payload);
  }
  return { frame, sha256: hex(await sha256(frame)), storedBytes };
}

export type HeaderParse = { ok: true; header: ChunkHeader } | { ok: false; reason: string };

/** Parses and bounds a chunk header; `bytesLeft` counts the file bytes from the header on. */
export function parseChunkHeader(bytes: Uint8Array, bytesLeft: number): HeaderParse {
  if (bytes.length < chunkHeaderBytes) return { ok: false, reason: `truncated header (${bytes.length} of ${chunkHeaderBytes} bytes)` };
  for (let i = 0; i < 4; i++) if (bytes[i] !== chunkMagic[i]) return { ok: false, reason: "bad magic (not a chunk boundary)" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, chunkHeaderBytes);
  const codecId = bytes[4];
  const codec = backupCodecs.find((c) => codecIds[c] === codecId);
  if (codec === undefined) return { ok: false, reason: `unknown codec id ${codecId}` };
  const flags = bytes[5] ?? 0;
  if ((flags & ~flagSealed) !== 0 || view.getUint16(6) !== 0) return { ok: false, reason: `unknown flags 0x${flags.toString(16)}` };
  const firstOffset = readI64(view, 12);
  const nextOffset = readI64(view, 20);
  if (firstOffset < 0 || nextOffset < firstOffset) return { ok: false, reason: `bad offset range [${firstOffset}, ${nextOffset})` };
  const rawBytes = view.getUint32(32);
  const storedBytes = view.getUint32(36);
  if (rawBytes > chunkRawBytesMax) return { ok: false, reason: `rawBytes ${rawBytes} exceeds ${chunkRawBytesMax}` };
  if (storedBytes > chunkStoredBytesMax) return { ok: false, reason: `storedBytes ${storedBytes} exceeds ${chunkStoredBytesMax}` };
  if (storedBytes > bytesLeft - chunkHeaderBytes) return { ok: false, reason: `storedBytes ${storedBytes} but only ${bytesLeft - chunkHeaderBytes} bytes follow (truncated)` };
  return {
    ok: true,
    header: {
      codec,
      sealed: (flags & flagSealed) !== 0,
      index: view.getUint32(8),
      firstOffset,
      nextOffset,
      batchCount: view.getUint32(28),
      rawBytes,
      storedBytes,
      nonce: bytes.slice(40, 52),
    },
  };
}

export type ChunkOpen = { ok: true; raw: Uint8Array } | { ok: false; reason: string };

/** Opens (unseals, decompresses) a chunk's payload; the frame must be whole. */
export async function openChunk(identity: ChunkIdentity, frame: Uint8Array, header: ChunkHeader, key: BackupKey | null, compression: Compression): Promise<ChunkOpen> {
  const payload = frame.subarray(chunkHeaderBytes, chunkHeaderBytes + header.storedBytes);
  let compressed: Uint8Array;
  if (header.sealed) {
    if (key === null) return { ok: false, reason: "the chunk is encrypted and no key was given (--encryption-key-file)" };
    const opened = await key.open(payload, header.nonce, associatedData(identity, frame));
    if (opened === null) return { ok: false, reason: "fails authentication (altered, moved from another file or position, or a wrong key)" };
    compressed = opened;
  } else {
    compressed = payload;
  }
  let raw: Uint8Array;
  try {
    raw = decompressChunk(header.codec, compressed, header.rawBytes, compression);
  } catch (e) {
    return { ok: false, reason: `does not decompress (${header.codec}): ${firstLine(e)}` };
  }
  if (raw.length !== header.rawBytes) return { ok: false, reason: `decompresses to ${raw.length} bytes, header says ${header.rawBytes}` };
  return { ok: true, raw };
}

/** SHA-256 over the chunk digests in order: the data file's digest in the manifest. */
export async function fileDigest(chunkDigests: readonly string[]): Promise<string> {
  return hex(await sha256(encoder.encode(chunkDigests.join("\n"))));
}

/** A backup id for a creation time (UTC) and 3 random bytes. */
export function backupIdFor(nowMs: number, random: Uint8Array): string {
  const iso = new Date(nowMs).toISOString(); // 2026-12-05T17:15:00.123Z
  const compact = iso.replace(/[-:.]/g, "");
  return `${compact}-${hex(random.subarray(0, 3))}`;
}

export const backupIdPattern = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

export function dataFileName(topic: string, partition: number): string {
  return `data/${topic}-${partition}.chunks`;
}
