/** Chunk frames and manifests: round trip, and every tampering the format promises to catch. */
import { expect, test } from "bun:test";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { nodeAes256Gcm } from "../../src/platform/bun/aead.ts";
import { BackupKey, hex, parseKeyFile, sha256 } from "../../src/backup/crypto.ts";
import { backupCodecs, ChunkScratch, decodeManifest, encodeChunk, encodeManifest, type Manifest, openChunk, parseChunkHeader } from "../../src/backup/format.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";

const enc = new TextEncoder();
const keyA = await BackupKey.fromBytes(new Uint8Array(32).fill(7));
const keyB = await BackupKey.fromBytes(new Uint8Array(32).fill(8));
const identity = { backupId: "20261205T171500123Z-abcdef", topic: "t", partition: 0 };
const batch = buildRecordBatch([{ key: enc.encode("k"), value: enc.encode("v".repeat(500)), timestamp: 1_000, headers: [{ key: "h", value: enc.encode("x") }] }]);

async function frame(key: BackupKey | null, index = 0) {
  return encodeChunk(identity, { index, firstOffset: 0, nextOffset: 1, batchCount: 1 }, batch, "zstd", bunCompression, key, new Uint8Array(12).fill(index + 1));
}

async function open(bytes: Uint8Array, key: BackupKey | null, id = identity) {
  const h = parseChunkHeader(bytes, bytes.length);
  if (!h.ok) return h;
  return openChunk(id, bytes, h.header, key, bunCompression);
}

test("a sealed chunk opens to the exact batch bytes", async () => {
  const c = await frame(keyA);
  const r = await open(c.frame, keyA);
  expect(r.ok && Buffer.from(r.raw).equals(Buffer.from(batch))).toBe(true);
  const plain = await frame(null);
  const p = await open(plain.frame, null);
  expect(p.ok && Buffer.from(p.raw).equals(Buffer.from(batch))).toBe(true);
});

test("wrong key, a flipped byte anywhere, another identity or a truncation fail", async () => {
  const c = await frame(keyA);
  expect((await open(c.frame, keyB)).ok).toBe(false);
  expect((await open(c.frame, null)).ok).toBe(false);
  expect((await open(c.frame, keyA, { ...identity, partition: 1 })).ok).toBe(false);
  for (let i = 8; i < c.frame.length; i += 7) {
    const bad = c.frame.slice();
    bad[i]! ^= 0x01;
    expect((await open(bad, keyA)).ok).toBe(false);
  }
  expect((await open(c.frame.subarray(0, c.frame.length - 1), keyA)).ok).toBe(false);
});

test("a chunk header announcing more than the file holds is refused before allocating", () => {
  const h = new Uint8Array(52);
  h.set([0x42, 0x4b, 0x43, 0x31], 0);
  new DataView(h.buffer).setUint32(36, 0xffff_fff0);
  const r = parseChunkHeader(h, 52);
  expect(r.ok).toBe(false);
});

test("key files: hex with whitespace, raw bytes; anything else refused", () => {
  expect(parseKeyFile(enc.encode(`  ${"ab".repeat(32)}\n`)).ok).toBe(true);
  expect(parseKeyFile(new Uint8Array(32)).ok).toBe(true);
  expect(parseKeyFile(enc.encode("abc")).ok).toBe(false);
});

test("a manifest checks against its sum and its key", async () => {
  const m: Manifest = {
    format: "bunka-backup", version: 1, id: identity.backupId, parent: null, createdMs: 1, finishedMs: 2,
    source: { clusterId: "c", bootstrap: "x:1" }, encryption: { cipher: "AES-256-GCM", keyId: keyA.id }, compression: "zstd",
    topicsRegex: ".*", groupsRegex: ".*", topics: [], groups: [],
  };
  const e = await encodeManifest(m, keyA);
  expect((await decodeManifest(e.manifest, e.sum, keyA)).ok).toBe(true);
  const wrong = await decodeManifest(e.manifest, e.sum, keyB);
  expect(!wrong.ok && wrong.reason.includes("the key does not match")).toBe(true);
  const bad = e.manifest.slice();
  bad[10]! ^= 1;
  expect((await decodeManifest(bad, e.sum, keyA)).ok).toBe(false);
});

test("node:crypto's AES-256-GCM and Web Crypto's are interchangeable", async () => {
  const { nodeAes256Gcm } = await import("../../src/platform/bun/aead.ts");
  const fast = await BackupKey.fromBytes(new Uint8Array(32).fill(7), nodeAes256Gcm);
  const nonce = new Uint8Array(12).fill(3);
  const aad = enc.encode("id");
  const a = await fast.seal(batch, nonce, aad);
  const b = await keyA.seal(batch, nonce, aad);
  expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  expect(Buffer.from((await keyA.open(a, nonce, aad))!).equals(Buffer.from(batch))).toBe(true);
  const bad = a.slice();
  bad[0]! ^= 1;
  expect(await fast.open(bad, nonce, aad)).toBeNull();
});

// Frames written by format v1 before chunks were assembled in reused buffers (digests taken
// with the code of 901599d): the bytes must never change for the same inputs and nonce.
const goldenFrames: Record<string, string> = {
  "none/plain": "169290 b9ffcb7a75029d7084df932c8a29bb65e4560dc8d5e42d0c979f7d99220e9e0e",
  "none/sealed": "169306 fe9233bdb1d1bfccf717f31be95ab2a214650b0ee24256d4ba076ee99b2055ea",
  "gzip/plain": "42181 4742b661c912bb4fe7f8d8b05b04a0c2f6467657acc243309b7bab2ed9e06d53",
  "gzip/sealed": "42197 1f907d3e5c35b85b7e64d04ed59397df667a4ec5b704c4799d38bbf233b74130",
  "lz4/plain": "71983 e15ca65c6e503f728b78ebec79cc85a0a046c3ce8fd1afa59ab7976269bb63f9",
  "lz4/sealed": "71999 512ecc6e8eb61046d573aafa559d72f22a42c1fff93c54426744f64d447318e0",
  "zstd/plain": "34130 e8b25a48c40564eb8932a336eda703bd7a9ad786ce1c819e0c8f6fd69fd0830b",
  "zstd/sealed": "34146 07a2285afbacadab720ead0543ac2664fbe69800086f8bc986b484376dd05e2f",
};

test("chunk frames are byte for byte those of format v1 as first written, with or without a reused scratch", async () => {
  const lines: string[] = [];
  for (let i = 0; i < 6000; i++) lines.push(`line ${i} value ${(i * 2654435761) % 1000003} ${"abcdefgh".slice(i % 8)}`);
  const raw = enc.encode(lines.join("\n"));
  const key = await BackupKey.fromBytes(new Uint8Array(32).map((_, i) => i), nodeAes256Gcm);
  const id = { backupId: "20261205T171500123Z-abcdef", topic: "golden", partition: 3 };
  const scratch = new ChunkScratch();
  for (const codec of backupCodecs) {
    for (const k of [null, key]) {
      const name = `${codec}/${k === null ? "plain" : "sealed"}`;
      for (const s of [null, scratch]) {
        const c = await encodeChunk(id, { index: 2, firstOffset: 1000, nextOffset: 7000, batchCount: 6 }, raw, codec, bunCompression, k, new Uint8Array(12).fill(9), s);
        expect(`${c.frame.length} ${c.sha256}`, name).toBe(goldenFrames[name]!);
        expect(hex(await sha256(c.frame)), name).toBe(c.sha256);
      }
    }
  }
});
