/** Chunk frames and manifests: round trip, and every tampering the format promises to catch. */
import { expect, test } from "bun:test";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { BackupKey, parseKeyFile } from "../../src/backup/crypto.ts";
import { decodeManifest, encodeChunk, encodeManifest, type Manifest, openChunk, parseChunkHeader } from "../../src/backup/format.ts";
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
