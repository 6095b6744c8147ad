/**
 * The record layer's public surface: v2 batch views and walks, record decoding, control
 * records, the batch builder, Kafka's compression framings, and the one error type.
 */
export * from "./builder.ts";
export * from "./compression.ts";
export * from "./control-record.ts";
export * from "./record.ts";
export * from "./record-batch.ts";
export * from "./records-error.ts";
export { lz4FrameCompress, lz4FrameDecompress } from "./lz4-frame.ts";
export { hasXerialMagic, snappyCompress, snappyDecompress } from "./snappy-framing.ts";
