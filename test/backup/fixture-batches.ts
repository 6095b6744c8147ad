/**
 * The record batches of test/backup/fixtures/v1-901599d (two chunks: 3 batches of ~0.5 MiB, then 1),
 * built deterministically so a test can compare what a restore reads with what was written.
 */
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";

export function fixtureBatches(): Uint8Array[][] {
  const enc = new TextEncoder();
  const chunks: Uint8Array[][] = [];
  let offset = 0;
  for (const count of [3, 1]) {
    const group: Uint8Array[] = [];
    for (let b = 0; b < count; b++) {
      const records = Array.from({ length: 500 }, (_, i) => ({ key: enc.encode(`k${offset + i}`), value: enc.encode(`value ${offset + i} ${"abcdefghij".repeat(100 + ((offset + i) % 7))}`), timestamp: 1_700_000_000_000 + offset + i }));
      const batch = buildRecordBatch(records);
      new DataView(batch.buffer, batch.byteOffset).setBigInt64(0, BigInt(offset)); // baseOffset (outside the CRC)
      group.push(batch);
      offset += 500;
    }
    chunks.push(group);
  }
  return chunks;
}
