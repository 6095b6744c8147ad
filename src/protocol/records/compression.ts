/**
 * Kafka's compression codecs for record batches (attributes bits 0-2): 0 none, 1 gzip,
 * 2 snappy (xerial-framed; raw accepted), 3 lz4 (LZ4 frame), 4 zstd. Values 5-7 are invalid.
 *
 * The platform's raw codecs come in as a `Compression` object (src/platform/compression.ts):
 * the caller passes it, usually the one the entry point built (`bunCompression`). Nothing here
 * holds global state, so the simulator can inject its own.
 *
 * Invariants: every decompression takes an explicit `maxBytes` and returns at most that many
 * bytes or throws RecordsError "tooLarge"; every codec failure becomes a RecordsError
 * ("badCompression" / "tooLarge"); compressed output is what Kafka's Java client would frame.
 */
import { CodecFailure, type CodecName, type Compression } from "../../platform/compression.ts";
import { lz4FrameCompress, lz4FrameDecompress } from "./lz4-frame.ts";
import { RecordsError } from "./records-error.ts";
import { snappyCompress, snappyDecompress } from "./snappy-framing.ts";

export const CompressionCodec = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionCodecName = keyof typeof CompressionCodec;
export type CompressionCodecId = (typeof CompressionCodec)[CompressionCodecName];

const namesById: readonly CompressionCodecName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

/** Kafka's default levels (compression.gzip.level, compression.zstd.level). */
export const gzipLevelDefault = 6;
export const zstdLevelDefault = 3;

/** The codec name for attribute bits 0-2; RecordsError "unknownCodec" for 5-7. */
export function codecName(id: number): CompressionCodecName {
  const name = namesById[id];
  if (name === undefined) throw new RecordsError("unknownCodec", `compression codec id ${id}`);
  return name;
}

function checkLimit(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`decompress: maxBytes ${maxBytes} is not a non-negative integer`);
}

function asRecordsError(e: unknown): unknown {
  if (!(e instanceof CodecFailure)) return e;
  return new RecordsError(e.reason === "tooLarge" ? "tooLarge" : "badCompression", e.message);
}

export interface CompressOptions {
  /** gzip level 1..9 (default 6) or zstd level (default 3); ignored by snappy and lz4. */
  level?: number;
}

/** Compresses a records section with `codec` ("none" returns `data` itself). */
export function compressRecords(
  codec: CompressionCodecName,
  data: Uint8Array,
  compression: Compression | undefined,
  options: CompressOptions = {},
): Uint8Array {
  if (codec === "none") return data;
  if (compression === undefined) throw new Error(`compressRecords: codec ${codec} needs a Compression implementation`);
  return compressWith(codec, data, compression, options.level);
}

function compressWith(codec: CodecName, data: Uint8Array, compression: Compression, level: number | undefined): Uint8Array {
  switch (codec) {
    case "gzip":
      return compression.gzipCompress(data, level ?? gzipLevelDefault);
    case "snappy":
      return snappyCompress(data, compression);
    case "lz4":
      return lz4FrameCompress(data, compression);
    case "zstd":
      return compression.zstdCompress(data, level ?? zstdLevelDefault);
  }
}

/**
 * Decompresses a records section into at most `maxBytes` ("none" returns `data` after the
 * same size check). Throws RecordsError "badCompression" or "tooLarge".
 */
export function decompressRecords(
  codec: CompressionCodecName,
  data: Uint8Array,
  maxBytes: number,
  compression: Compression | undefined,
): Uint8Array {
  checkLimit(maxBytes);
  if (codec === "none") {
    if (data.length > maxBytes) throw new RecordsError("tooLarge", `records section of ${data.length} bytes exceeds ${maxBytes}`);
    return data;
  }
  if (compression === undefined) throw new Error(`decompressRecords: codec ${codec} needs a Compression implementation`);
  let out: Uint8Array;
  try {
    out = decompressWith(codec, data, maxBytes, compression);
  } catch (e) {
    throw asRecordsError(e);
  }
  if (out.length > maxBytes) throw new Error(`decompressRecords: ${codec} returned ${out.length} bytes past the limit ${maxBytes}`);
  return out;
}

function decompressWith(codec: CodecName, data: Uint8Array, maxBytes: number, compression: Compression): Uint8Array {
  switch (codec) {
    case "gzip":
      return compression.gzipDecompress(data, maxBytes);
    case "snappy":
      return snappyDecompress(data, maxBytes, compression);
    case "lz4":
      return lz4FrameDecompress(data, maxBytes, compression);
    case "zstd":
      return compression.zstdDecompress(data, maxBytes);
  }
}
