/**
 * The durable election state of one node: `quorum-state` in the metadata partition's
 * directory (`<log dir>/__cluster_metadata-0/quorum-state`), as Kafka keeps it.
 *
 * Byte layout (data version 1): one line of UTF-8 JSON, keys in this order, then "\n":
 *
 *   {"leaderId":2,"leaderEpoch":7,"votedId":2,"votedDirectoryId":"<22-char uuid>","data_version":1}
 *
 * - leaderEpoch: the highest epoch this node has acted in (>= 0).
 * - leaderId: the leader it knows for that epoch, -1 when none.
 * - votedId / votedDirectoryId: the candidate it voted for in that epoch, -1 and the zero
 *   uuid when none. A vote is a promise for the whole epoch: it is never changed or dropped
 *   within an epoch, and a node never votes twice in one.
 * Kafka's data version 0 files (`clusterId`, `appliedOffset`, `currentVoters`, no directory
 * id) are read too; other keys are ignored, so a later version may add fields.
 *
 * Crash behaviour: written by write → fsync → rename → fsync(dir) (`writeFileAtomic`), and
 * always before the state it records is acted on (a vote granted, a request sent in a new
 * epoch), so after a crash the file holds the old or the new state, never part of one, and
 * never less than what the node told anyone. A `quorum-state.tmp` left by a crash is removed
 * unread. A file that exists but does not parse is reported (`QuorumStateError`), never
 * replaced by a fresh state: forgetting a vote could elect two leaders in one epoch.
 */
import { type FileSystem, joinPath, StorageError, writeFileAtomic } from "../platform/fs.ts";
import { ZERO_UUID_TEXT } from "../protocol/codec/uuid.ts";
import { quorumStateBytesMax } from "./config.ts";

export const quorumStateFileName = "quorum-state";
export const quorumStateDataVersion = 1;

export interface QuorumStateData {
  readonly leaderEpoch: number;
  readonly leaderId: number;
  readonly votedId: number;
  readonly votedDirectoryId: string;
}

export const emptyQuorumState: QuorumStateData = Object.freeze({
  leaderEpoch: 0,
  leaderId: -1,
  votedId: -1,
  votedDirectoryId: ZERO_UUID_TEXT,
});

export class QuorumStateError extends Error {
  override readonly name = "QuorumStateError";
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

export function quorumStatePath(metadataDir: string): string {
  return joinPath(metadataDir, quorumStateFileName);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeQuorumState(s: QuorumStateData): Uint8Array {
  return encoder.encode(
    `{"leaderId":${s.leaderId},"leaderEpoch":${s.leaderEpoch},"votedId":${s.votedId},"votedDirectoryId":${JSON.stringify(s.votedDirectoryId)},"data_version":${quorumStateDataVersion}}\n`,
  );
}

/** Why `s` is not a state a node can be in, or null. */
export function quorumStateProblem(s: QuorumStateData): string | null {
  if (!(Number.isSafeInteger(s.leaderEpoch) && s.leaderEpoch >= 0 && s.leaderEpoch <= 0x7fff_ffff)) return `leaderEpoch ${s.leaderEpoch}`;
  if (!(Number.isSafeInteger(s.leaderId) && s.leaderId >= -1 && s.leaderId <= 0x7fff_ffff)) return `leaderId ${s.leaderId}`;
  if (!(Number.isSafeInteger(s.votedId) && s.votedId >= -1 && s.votedId <= 0x7fff_ffff)) return `votedId ${s.votedId}`;
  if (!/^[A-Za-z0-9_-]{21}[AQgw]$/.test(s.votedDirectoryId)) return `votedDirectoryId ${JSON.stringify(s.votedDirectoryId)}`;
  if (s.votedId === -1 && s.votedDirectoryId !== ZERO_UUID_TEXT) return "a voted directory id without a voted id";
  return null;
}

export function decodeQuorumState(path: string, bytes: Uint8Array): QuorumStateData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new QuorumStateError(path, "not UTF-8 JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new QuorumStateError(path, "not a JSON object");
  const o = parsed as Record<string, unknown>;
  const version = o.data_version;
  if (version !== 0 && version !== 1) throw new QuorumStateError(path, `unsupported data_version ${JSON.stringify(version)}`);
  const int = (key: string): number => {
    const v = o[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new QuorumStateError(path, `${key} is ${JSON.stringify(v)}, not a whole number`);
    return v;
  };
  let votedDirectoryId = ZERO_UUID_TEXT;
  if (version === 1) {
    const d = o.votedDirectoryId;
    if (typeof d !== "string") throw new QuorumStateError(path, "votedDirectoryId missing");
    votedDirectoryId = d;
  }
  const state: QuorumStateData = { leaderEpoch: int("leaderEpoch"), leaderId: int("leaderId"), votedId: int("votedId"), votedDirectoryId };
  const problem = quorumStateProblem(state);
  if (problem !== null) throw new QuorumStateError(path, problem);
  return state;
}

/**
 * The state in `path`, or null when there is none (a node that never took part in an
 * election). Removes a `.tmp` left by a crash. Throws QuorumStateError (corrupt) or
 * StorageError (I/O).
 */
export function readQuorumState(fs: FileSystem, path: string): QuorumStateData | null {
  const tmp = `${path}.tmp`;
  if (fs.exists(tmp)) fs.unlink(tmp);
  if (!fs.exists(path)) return null;
  const size = fs.stat(path).size;
  if (size > quorumStateBytesMax) throw new QuorumStateError(path, `${size} bytes, more than ${quorumStateBytesMax}`);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFile(path);
  } catch (e) {
    if (e instanceof StorageError && e.code === "ENOENT") return null;
    throw e;
  }
  return decodeQuorumState(path, bytes);
}

/** Replaces the state in `path` durably (see the module doc). Throws StorageError. */
export function writeQuorumState(fs: FileSystem, path: string, state: QuorumStateData): void {
  const problem = quorumStateProblem(state);
  if (problem !== null) throw new Error(`writeQuorumState: ${problem}`);
  writeFileAtomic(fs, path, encodeQuorumState(state));
}

export function sameQuorumState(a: QuorumStateData, b: QuorumStateData): boolean {
  return a.leaderEpoch === b.leaderEpoch && a.leaderId === b.leaderId && a.votedId === b.votedId && a.votedDirectoryId === b.votedDirectoryId;
}
