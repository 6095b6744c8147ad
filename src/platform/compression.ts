/**
 * Compression primitives, injected. The protocol layer owns Kafka's framings (xerial snappy
 * chunks, the LZ4 frame container, size limits) in `src/protocol/records/compression.ts`;
 * this interface supplies only the raw codecs it cannot write itself, so that no core layer
 * touches `node:zlib` or a native module. `src/platform/bun/compression.ts` implements it.
 *
 * Invariants every implementation keeps (the conformance tests check them):
 * - Decompression never produces more than the `maxBytes` it is given: it stops and throws
 *   `CodecFailure` with reason "tooLarge" instead of allocating past the limit.
 * - Corrupt or truncated input throws `CodecFailure` with reason "corrupt"; no other
 *   exception type escapes, and input arrays are never modified.
 * - Outputs are fresh arrays the caller owns.
 */

/** Kafka's compression codecs other than none, by the names its configs use. */
export type CodecName = "gzip" | "snappy" | "lz4" | "zstd";

export type CodecFailureReason = "corrupt" | "tooLarge";

/** A codec refused its input. Conditions of untrusted bytes, not bugs. */
export class CodecFailure extends Error {
  override readonly name = "CodecFailure";
  constructor(
    readonly codec: CodecName,
    readonly reason: CodecFailureReason,
    message: string,
  ) {
    super(`${codec}: ${message}`);
  }
}

export interface Compression {
  /** Which implementation, for logs and benchmarks. */
  readonly kind: string;

  /** gzip (RFC 1952) at `level` 1..9. */
  gzipCompress(data: Uint8Array, level: number): Uint8Array;
  /** Inflates one or more concatenated gzip members, at most `maxBytes` of output. */
  gzipDecompress(data: Uint8Array, maxBytes: number): Uint8Array;

  /** One zstd frame at `level` (Kafka's default is 3). */
  zstdCompress(data: Uint8Array, level: number): Uint8Array;
  /** Decodes one or more complete zstd frames, at most `maxBytes` of output. Truncation is "corrupt". */
  zstdDecompress(data: Uint8Array, maxBytes: number): Uint8Array;

  /** One raw snappy block (varint uncompressed length + elements), no framing. */
  snappyCompressBlock(data: Uint8Array): Uint8Array;
  /**
   * Decodes one raw snappy block whose uncompressed length (its varint preamble, already
   * read and bounded by the caller) is `uncompressedBytes`. Output length must equal it.
   */
  snappyDecompressBlock(block: Uint8Array, uncompressedBytes: number): Uint8Array;

  /** One raw LZ4 block (sequences only: no size prefix, no frame), fast compressor. */
  lz4CompressBlock(data: Uint8Array): Uint8Array;
  /**
   * Decodes one raw LZ4 block into at most `maxBytes`. `dictionary` (the preceding output,
   * up to 64 KiB) is given for frames with linked blocks.
   */
  lz4DecompressBlock(block: Uint8Array, maxBytes: number, dictionary?: Uint8Array): Uint8Array;
}
