/**
 * The "unproven" marker of a voter in a static quorum: `quorum-unproven` in the metadata
 * partition's directory, beside `quorum-state`. A voter keyed with the zero directory id
 * (a static `controller.quorum.voters` list) cannot tell a fresh metadata dir from a wiped
 * one, so it opens such a dir unproven and stays so, across restarts, until it has caught up
 * with a leader (the rule and why it keeps committed records: raft-core.ts, `#onVoteRequest`).
 * The file exists exactly while the node is unproven.
 *
 * Byte layout (data version 1): one line of UTF-8 JSON, keys in this order, then "\n":
 *
 *   {"fetchDirectoryId":"<22-char uuid>","votes":[[3,1],[4,2]],"data_version":1}
 *
 * - fetchDirectoryId: the directory id this node names in its Fetch requests while unproven.
 *   It is not its voter key (whose directory id is zero), so the leader counts it as an
 *   observer: its fetches move neither the high watermark nor check-quorum. Drawn at random
 *   when the marker is created, and kept, so the leader sees one observer across restarts.
 * - votes: [epoch, candidate id] of the votes this node granted since the marker was created
 *   (all of them for empty logs), oldest first, the last `unprovenVotesMax` kept. Quorum-state
 *   holds only the current epoch's vote; these let the node recognise, in a later epoch, the
 *   election among empty logs it took part in (raft-core.ts, P4). Rewritten before the vote
 *   is answered; a crash before that loses only the chance to be proven that way.
 *
 * Crash behaviour: created by write → fsync → rename → fsync(dir) (`writeFileAtomic`) when
 * the core opens, before it sends anything or writes quorum-state; removed by unlink →
 * fsync(dir) before the node acts as proven. A crash before the removal is durable brings
 * the marker back: the node is unproven again and catches up again, which is safe (being
 * unproven only takes rights away). A `quorum-unproven.tmp` left by a crash is removed
 * unread; a marker that does not parse is reported (`QuorumStateError`), never dropped.
 */
import { type FileSystem, joinPath, parentPath, writeFileAtomic } from "../platform/fs.ts";
import { uuidBytesToText, ZERO_UUID_TEXT } from "../protocol/codec/uuid.ts";
import type { Prng } from "../platform/prng.ts";
import { quorumStateBytesMax } from "./config.ts";
import { QuorumStateError } from "./quorum-state.ts";

export const unprovenFileName = "quorum-unproven";
export const unprovenDataVersion = 1;

/** Votes an unproven node remembers (it grants few: only to empty logs, in rounds every voter pre-voted for). */
export const unprovenVotesMax = 16;

export interface UnprovenVote {
  readonly epoch: number;
  readonly candidateId: number;
}

export interface UnprovenMarker {
  readonly fetchDirectoryId: string;
  readonly votes: readonly UnprovenVote[];
}

export function unprovenPath(metadataDir: string): string {
  return joinPath(metadataDir, unprovenFileName);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const uuidText = /^[A-Za-z0-9_-]{21}[AQgw]$/;

/** A marker with a random fetch directory id (never the zero id, which is the voter key). */
export function newUnprovenMarker(prng: Prng): UnprovenMarker {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 4; i++) view.setUint32(i * 4, prng.nextU32());
  // A zero draw (2^-128) would name the voter key; any non-zero id will do.
  if (bytes.every((b) => b === 0)) bytes[15] = 1;
  return { fetchDirectoryId: uuidBytesToText(bytes, 0), votes: [] };
}

/** `m` with the vote added (kept once, the oldest dropped past `unprovenVotesMax`). */
export function withUnprovenVote(m: UnprovenMarker, vote: UnprovenVote): UnprovenMarker {
  if (m.votes.some((v) => v.epoch === vote.epoch && v.candidateId === vote.candidateId)) return m;
  return { ...m, votes: [...m.votes, vote].slice(-unprovenVotesMax) };
}

function markerProblem(m: UnprovenMarker): string | null {
  if (!uuidText.test(m.fetchDirectoryId) || m.fetchDirectoryId === ZERO_UUID_TEXT) return `fetchDirectoryId ${JSON.stringify(m.fetchDirectoryId)}`;
  if (m.votes.length > unprovenVotesMax) return `${m.votes.length} votes, more than ${unprovenVotesMax}`;
  for (const v of m.votes) {
    if (!(Number.isSafeInteger(v.epoch) && v.epoch > 0 && v.epoch <= 0x7fff_ffff && Number.isSafeInteger(v.candidateId) && v.candidateId >= 0 && v.candidateId <= 0x7fff_ffff)) {
      return `vote ${JSON.stringify(v)}`;
    }
  }
  return null;
}

export function encodeUnprovenMarker(m: UnprovenMarker): Uint8Array {
  const votes = m.votes.map((v) => `[${v.epoch},${v.candidateId}]`).join(",");
  return encoder.encode(`{"fetchDirectoryId":${JSON.stringify(m.fetchDirectoryId)},"votes":[${votes}],"data_version":${unprovenDataVersion}}\n`);
}

export function decodeUnprovenMarker(path: string, bytes: Uint8Array): UnprovenMarker {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new QuorumStateError(path, "not UTF-8 JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new QuorumStateError(path, "not a JSON object");
  const o = parsed as Record<string, unknown>;
  if (o.data_version !== unprovenDataVersion) throw new QuorumStateError(path, `unsupported data_version ${JSON.stringify(o.data_version)}`);
  const id = o.fetchDirectoryId;
  const votes = o.votes;
  if (typeof id !== "string") throw new QuorumStateError(path, "fetchDirectoryId missing");
  if (!Array.isArray(votes)) throw new QuorumStateError(path, "votes missing");
  const marker: UnprovenMarker = {
    fetchDirectoryId: id,
    votes: votes.map((v: unknown) => {
      if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "number" || typeof v[1] !== "number") throw new QuorumStateError(path, `vote ${JSON.stringify(v)}`);
      return { epoch: v[0], candidateId: v[1] };
    }),
  };
  const problem = markerProblem(marker);
  if (problem !== null) throw new QuorumStateError(path, problem);
  return marker;
}

/** The marker in `path`, or null when there is none. Removes a `.tmp` left by a crash. Throws QuorumStateError or StorageError. */
export function readUnprovenMarker(fs: FileSystem, path: string): UnprovenMarker | null {
  const tmp = `${path}.tmp`;
  if (fs.exists(tmp)) fs.unlink(tmp);
  if (!fs.exists(path)) return null;
  const size = fs.stat(path).size;
  if (size > quorumStateBytesMax) throw new QuorumStateError(path, `${size} bytes, more than ${quorumStateBytesMax}`);
  return decodeUnprovenMarker(path, fs.readFile(path));
}

/** Creates or replaces the marker durably. Throws StorageError. */
export function writeUnprovenMarker(fs: FileSystem, path: string, m: UnprovenMarker): void {
  const problem = markerProblem(m);
  if (problem !== null) throw new Error(`writeUnprovenMarker: ${problem}`);
  writeFileAtomic(fs, path, encodeUnprovenMarker(m));
}

/** Removes the marker durably (unlink, then fsync of the directory). Throws StorageError. */
export function removeUnprovenMarker(fs: FileSystem, path: string): void {
  if (fs.exists(path)) fs.unlink(path);
  fs.fsyncDir(parentPath(path));
}
