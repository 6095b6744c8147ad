/**
 * The voter set of a dynamic controller quorum (KIP-853): the voters, each keyed by (node id,
 * directory id) and carrying its controller endpoints, and the two control records that put
 * it into the metadata log — KRAFT_VERSION (the quorum's kraft.version feature, 1 when the
 * voter set lives in the log) and KRAFT_VOTERS (the whole voter set, written again on every
 * change). A static quorum (`controller.quorum.voters`) never writes either.
 *
 * Rules the log follows (enforced by the leader, raft-core.ts):
 * - The voter set in force at any offset is the one of the last KRAFT_VOTERS record at or
 *   before it, whether committed or not (a change takes effect when appended), else the one
 *   carried by the snapshot the log starts at, else the bootstrap checkpoint's.
 * - Two voter sets in a row differ by at most one voter (one added or one removed), and a
 *   change is appended only once the one before it is committed: so any two voter sets in
 *   force at once share a majority, and no two disjoint majorities can elect.
 *
 * Control record layouts (key: version int16 0 | type int16, as every control record):
 *   KRAFT_VERSION (type 5) value, flexible:
 *     version int16 (0) | kRaftVersion int16 | uvarint 0 (no tagged fields)
 *   KRAFT_VOTERS (type 6) value, flexible:
 *     version int16 (0)
 *     | voters: uvarint(n + 1), n × (
 *         voterId int32 | voterDirectoryId 16 bytes
 *         | endpoints: uvarint(m + 1), m × (name: uvarint(len + 1) utf-8 | host: uvarint(len + 1) utf-8 | port uint16 | uvarint 0)
 *         | kRaftVersionFeature: minSupportedVersion int16 | maxSupportedVersion int16 | uvarint 0
 *         | uvarint 0)
 *     | uvarint 0
 * Each rides alone in a control batch (one record, no compression).
 *
 * The bootstrap checkpoint (`bootstrap.checkpoint` in `__cluster_metadata-0/`) is written by
 * `bunka storage format --standalone | --initial-controllers`: the snapshot file layout
 * (snapshot.ts) holding a KRAFT_VERSION and a KRAFT_VOTERS batch. It is local: the first
 * leader of the quorum appends its voters to the log, from where every other node learns them.
 */
import { uuidBytesToText, uuidTextToBytes } from "../protocol/codec/uuid.ts";
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { ControlRecordType } from "../protocol/records/control-record.ts";
import { RecordsError } from "../protocol/records/records-error.ts";
import { walkBatches } from "../protocol/records/record-batch.ts";
import { assert } from "./assert.ts";
import { snapshotBytesMax, votersMax } from "./config.ts";
import type { ReplicaKey } from "./messages.ts";

export interface VoterEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface Voter {
  readonly id: number;
  readonly directoryId: string;
  readonly endpoints: readonly VoterEndpoint[];
}

/** The kraft.version of a quorum whose voter set is in the log. */
export const kraftVersionDynamic = 1;
/** Most endpoints one voter may name; most bytes of a name or host. */
export const voterEndpointsMax = 16;
export const voterEndpointTextBytesMax = 255;
/** The bootstrap checkpoint's file name in the metadata log dir. */
export const bootstrapCheckpointFileName = "bootstrap.checkpoint";

export function voterKey(v: Voter): ReplicaKey {
  return { id: v.id, directoryId: v.directoryId };
}

export function voterText(v: ReplicaKey): string {
  return `${v.id}@${v.directoryId}`;
}

/** Why `voters` is not a voter set (empty, too many, an id twice, a bad endpoint), or null. */
export function voterSetProblem(voters: readonly Voter[]): string | null {
  if (voters.length === 0) return "no voters";
  if (voters.length > votersMax) return `${voters.length} voters, at most ${votersMax}`;
  const ids = new Set<number>();
  for (const v of voters) {
    if (!(Number.isInteger(v.id) && v.id >= 0 && v.id <= 0x7fffffff)) return `voter id ${v.id}`;
    if (ids.has(v.id)) return `voter ${v.id} twice`;
    ids.add(v.id);
    if (v.endpoints.length > voterEndpointsMax) return `voter ${v.id}: ${v.endpoints.length} endpoints`;
    for (const e of v.endpoints) {
      if (!(Number.isInteger(e.port) && e.port >= 0 && e.port <= 0xffff)) return `voter ${v.id}: port ${e.port}`;
      if (utf8.encode(e.name).length > voterEndpointTextBytesMax || utf8.encode(e.host).length > voterEndpointTextBytesMax) return `voter ${v.id}: endpoint name or host too long`;
    }
  }
  return null;
}

/**
 * How `next` differs from `prev`: one voter added, one removed, the same keys (endpoints
 * may differ), or something else (more than one change: never appended).
 */
export function voterSetChange(prev: readonly Voter[], next: readonly Voter[]): { kind: "added" | "removed"; voter: Voter } | { kind: "same" } | { kind: "other" } {
  const has = (set: readonly Voter[], v: Voter): boolean => set.some((w) => w.id === v.id && w.directoryId === v.directoryId);
  const added = next.filter((v) => !has(prev, v));
  const removed = prev.filter((v) => !has(next, v));
  if (added.length === 0 && removed.length === 0) return { kind: "same" };
  if (added.length === 1 && removed.length === 0) return { kind: "added", voter: added[0]! };
  if (removed.length === 1 && added.length === 0) return { kind: "removed", voter: removed[0]! };
  return { kind: "other" };
}

// ---- codec ------------------------------------------------------------------------------------

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function writeI16(out: number[], v: number): void {
  out.push((v >>> 8) & 0xff, v & 0xff);
}
function writeI32(out: number[], v: number): void {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
function writeUvarint(out: number[], v: number): void {
  let x = v;
  while (x >= 0x80) {
    out.push((x & 0x7f) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
}
function writeText(out: number[], s: string): void {
  const b = utf8.encode(s);
  writeUvarint(out, b.length + 1);
  for (const x of b) out.push(x);
}

export function encodeKraftVersion(kraftVersion: number): Uint8Array {
  const out: number[] = [];
  writeI16(out, 0);
  writeI16(out, kraftVersion);
  writeUvarint(out, 0);
  return Uint8Array.from(out);
}

export function encodeVoters(voters: readonly Voter[]): Uint8Array {
  const problem = voterSetProblem(voters);
  assert(problem === null, () => `encoding a bad voter set: ${problem}`);
  const out: number[] = [];
  writeI16(out, 0);
  writeUvarint(out, voters.length + 1);
  const dir = new Uint8Array(16);
  for (const v of voters) {
    writeI32(out, v.id);
    assert(uuidTextToBytes(v.directoryId, dir, 0), () => `voter ${v.id}: directory id ${v.directoryId} is not a uuid`);
    for (const x of dir) out.push(x);
    writeUvarint(out, v.endpoints.length + 1);
    for (const e of v.endpoints) {
      writeText(out, e.name);
      writeText(out, e.host);
      writeI16(out, e.port);
      writeUvarint(out, 0);
    }
    writeI16(out, 0);
    writeI16(out, kraftVersionDynamic);
    writeUvarint(out, 0);
    writeUvarint(out, 0);
  }
  writeUvarint(out, 0);
  return Uint8Array.from(out);
}

class Cursor {
  p = 0;
  constructor(readonly b: Uint8Array) {}
  need(n: number): boolean {
    return this.p + n <= this.b.length;
  }
  i16(): number | null {
    if (!this.need(2)) return null;
    const v = ((this.b[this.p]! << 24) | (this.b[this.p + 1]! << 16)) >> 16;
    this.p += 2;
    return v;
  }
  u16(): number | null {
    const v = this.i16();
    return v === null ? null : v & 0xffff;
  }
  i32(): number | null {
    if (!this.need(4)) return null;
    const b = this.b;
    const v = (b[this.p]! << 24) | (b[this.p + 1]! << 16) | (b[this.p + 2]! << 8) | b[this.p + 3]!;
    this.p += 4;
    return v;
  }
  uvarint(): number | null {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.p >= this.b.length) return null;
      const x = this.b[this.p++]!;
      v += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return v;
    }
    return null;
  }
  /** Skips tagged fields (their sizes are bounded by the bytes left). */
  tagged(): boolean {
    const n = this.uvarint();
    if (n === null || n > this.b.length) return false;
    for (let i = 0; i < n; i++) {
      if (this.uvarint() === null) return false;
      const size = this.uvarint();
      if (size === null || !this.need(size)) return false;
      this.p += size;
    }
    return true;
  }
  text(): string | null {
    const n = this.uvarint();
    if (n === null || n < 1 || n - 1 > voterEndpointTextBytesMax || !this.need(n - 1)) return null;
    try {
      const s = utf8Decoder.decode(this.b.subarray(this.p, this.p + n - 1));
      this.p += n - 1;
      return s;
    } catch {
      return null;
    }
  }
}

export function decodeKraftVersion(value: Uint8Array): number | null {
  const c = new Cursor(value);
  const version = c.i16();
  if (version === null || version < 0) return null;
  const kraftVersion = c.i16();
  if (kraftVersion === null || kraftVersion < 0) return null;
  return kraftVersion;
}

/** The voters of a KRAFT_VOTERS value, or null when it is not one (bounded: no size read off it allocates). */
export function decodeVoters(value: Uint8Array): Voter[] | null {
  const c = new Cursor(value);
  const version = c.i16();
  if (version === null || version < 0) return null;
  const n = c.uvarint();
  if (n === null || n < 1 || n - 1 > votersMax) return null;
  const voters: Voter[] = [];
  for (let i = 0; i < n - 1; i++) {
    const id = c.i32();
    if (id === null || id < 0 || !c.need(16)) return null;
    const directoryId = uuidBytesToText(value, c.p);
    c.p += 16;
    const m = c.uvarint();
    if (m === null || m < 1 || m - 1 > voterEndpointsMax) return null;
    const endpoints: VoterEndpoint[] = [];
    for (let j = 0; j < m - 1; j++) {
      const name = c.text();
      const host = c.text();
      const port = c.u16();
      if (name === null || host === null || port === null || !c.tagged()) return null;
      endpoints.push({ name, host, port });
    }
    if (c.i16() === null || c.i16() === null || !c.tagged() || !c.tagged()) return null;
    voters.push({ id, directoryId, endpoints });
  }
  if (!c.tagged()) return null;
  if (version === 0 && c.p !== value.length) return null;
  return voterSetProblem(voters) === null ? voters : null;
}

function controlBatch(type: number, value: Uint8Array, timestampMs: number): Uint8Array {
  return buildRecordBatch([{ key: Uint8Array.of(0, 0, 0, type), value, timestamp: timestampMs }], { isControl: true });
}

/** The control batch of a KRAFT_VERSION record (offsets and epoch assigned on append). */
export function kraftVersionBatch(kraftVersion: number, timestampMs: number): Uint8Array {
  return controlBatch(ControlRecordType.KRAFT_VERSION, encodeKraftVersion(kraftVersion), timestampMs);
}

/** The control batch of a KRAFT_VOTERS record. */
export function votersBatch(voters: readonly Voter[], timestampMs: number): Uint8Array {
  return controlBatch(ControlRecordType.KRAFT_VOTERS, encodeVoters(voters), timestampMs);
}

/** A KRAFT_VOTERS record found in batches: its offset and voters. */
export interface VotersAt {
  readonly offset: number;
  readonly voters: readonly Voter[];
}

/**
 * The KRAFT_VOTERS records in `bytes` (whole v2 batches as the log holds them), in order.
 * Only control batches are opened; a KRAFT_VOTERS value that does not decode is an error
 * (RecordsError "badControlRecord"): a log that names no sound voter set cannot be followed.
 */
export function votersInBatches(bytes: Uint8Array, maxBatchBytes: number): VotersAt[] {
  const walk = walkBatches(bytes, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes });
  const found: VotersAt[] = [];
  for (const batch of walk.batches) {
    if (!batch.isControl) continue;
    const base = batch.baseOffset;
    let i = 0;
    for (const r of batch.records({ maxBytes: batch.sizeInBytes })) {
      const key = r.key;
      if (key !== null && key.length >= 4 && key[0] === 0 && key[1] === 0 && ((key[2]! << 8) | key[3]!) === ControlRecordType.KRAFT_VOTERS) {
        const voters = r.value === null ? null : decodeVoters(r.value);
        if (voters === null) throw new RecordsError("badControlRecord", `a KRAFT_VOTERS record at offset ${base + i} that does not decode`);
        found.push({ offset: base + i, voters });
      }
      i++;
    }
  }
  return found;
}

/** Splits snapshot content into the leading raft control batches and the state machine's batches after them. */
export function splitSnapshotContent(content: Uint8Array, maxBatchBytes: number): { readonly raft: Uint8Array; readonly state: Uint8Array } {
  const walk = walkBatches(content, { verifyCrc: false, requireDenseOffsets: false, maxBatchBytes });
  let p = 0;
  for (const batch of walk.batches) {
    if (!batch.isControl) break;
    p += batch.sizeInBytes;
  }
  return { raft: content.subarray(0, p), state: content.subarray(p) };
}

/** The voter set snapshot content carries in its leading raft batches, or null when it has none. Throws RecordsError. */
export function votersOfSnapshotContent(content: Uint8Array): readonly Voter[] | null {
  const found = votersInBatches(splitSnapshotContent(content, snapshotBytesMax).raft, snapshotBytesMax);
  return found.at(-1)?.voters ?? null;
}

/** Parses `id@host:port:directoryId` (as `--initial-controllers` takes it; the listener name is given). */
export function parseInitialController(text: string, listenerName: string): Voter | string {
  const m = /^([0-9]{1,10})@(.+):([0-9]{1,5}):([A-Za-z0-9_-]{22})$/.exec(text.trim());
  if (m === null) return `"${text}" is not id@host:port:directoryId`;
  const id = Number(m[1]);
  const port = Number(m[3]);
  const host = m[2]!.startsWith("[") && m[2]!.endsWith("]") ? m[2]!.slice(1, -1) : m[2]!;
  if (id > 0x7fffffff) return `"${text}": node id ${m[1]} out of range`;
  if (port > 0xffff) return `"${text}": port ${port} out of range`;
  const dir = new Uint8Array(16);
  if (!uuidTextToBytes(m[4]!, dir, 0) || dir.every((b) => b === 0)) return `"${text}": directory id ${m[4]} is not a (non-zero) uuid`;
  return { id, directoryId: m[4]!, endpoints: [{ name: listenerName, host, port }] };
}
