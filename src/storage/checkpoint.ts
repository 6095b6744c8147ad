/**
 * Kafka's text checkpoint files, written write → fsync → rename (see `writeFileAtomic`), so
 * a reader sees the old or the new file, never half of one; a torn `<name>.tmp` left by a
 * crash is ignored and removed.
 *
 * Offset checkpoints (`recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
 * `replication-offset-checkpoint`), one per log dir:
 *   0\n<count>\n<topic> <partition> <offset>\n ...
 * Leader epoch checkpoint (`leader-epoch-checkpoint`), one per partition:
 *   0\n<count>\n<epoch> <startOffset>\n ...
 * Parsing is strict: wrong version, count mismatch, bad numbers → `CheckpointError` (callers
 * fall back to safe defaults: recovery from the start, log start at the first segment).
 */
import { type FileSystem, StorageError, writeFileAtomic } from "../platform/fs.ts";
import { checkpointFileBytesMax } from "./config.ts";
import { tmpSuffix } from "./file-names.ts";

export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`checkpoint ${path}: ${detail}`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads the lines of a version-0 checkpoint; null when the file does not exist. */
function readLines(fs: FileSystem, path: string, fieldsPerLine: number): string[][] | null {
  const tmp = path + tmpSuffix;
  if (fs.exists(tmp)) fs.unlink(tmp);
  if (!fs.exists(path)) return null;
  const st = fs.stat(path);
  if (st.size > checkpointFileBytesMax) throw new CheckpointError(path, `${st.size} bytes is too large`);
  let text: string;
  try {
    text = decoder.decode(fs.readFile(path));
  } catch (e) {
    if (e instanceof StorageError) throw e;
    throw new CheckpointError(path, "not UTF-8");
  }
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines[0] !== "0") throw new CheckpointError(path, `unsupported version line ${JSON.stringify(lines[0] ?? "")}`);
  const countLine = lines[1] ?? "";
  if (!/^[0-9]{1,9}$/.test(countLine)) throw new CheckpointError(path, `bad count line ${JSON.stringify(countLine)}`);
  const count = Number(countLine);
  if (lines.length !== count + 2) throw new CheckpointError(path, `count ${count} but ${lines.length - 2} entries`);
  const out: string[][] = [];
  for (let i = 2; i < lines.length; i++) {
    const fields = (lines[i] ?? "").split(" ");
    if (fields.length !== fieldsPerLine || fields.some((f) => f === "")) {
      throw new CheckpointError(path, `line ${i + 1} malformed`);
    }
    out.push(fields);
  }
  return out;
}

function parseInt64(path: string, s: string): number {
  if (!/^-?[0-9]{1,16}$/.test(s)) throw new CheckpointError(path, `bad number ${JSON.stringify(s)}`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new CheckpointError(path, `number ${s} out of range`);
  return v;
}

/** `topic partition` → offset. */
export type OffsetCheckpoint = Map<string, number>;

export function checkpointKey(topic: string, partition: number): string {
  return `${topic} ${partition}`;
}

export function readOffsetCheckpoint(fs: FileSystem, path: string): OffsetCheckpoint | null {
  const lines = readLines(fs, path, 3);
  if (lines === null) return null;
  const out: OffsetCheckpoint = new Map();
  for (const [topic, partition, offset] of lines) {
    const p = parseInt64(path, partition ?? "");
    if (p < 0 || p > 0x7fff_ffff) throw new CheckpointError(path, `bad partition ${partition}`);
    out.set(checkpointKey(topic ?? "", p), parseInt64(path, offset ?? ""));
  }
  return out;
}

export function writeOffsetCheckpoint(fs: FileSystem, path: string, entries: Iterable<[string, number]>): void {
  const lines: string[] = [];
  for (const [key, offset] of entries) lines.push(`${key} ${offset}`);
  writeFileAtomic(fs, path, encoder.encode(`0\n${lines.length}\n${lines.map((l) => `${l}\n`).join("")}`));
}

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export function readEpochCheckpoint(fs: FileSystem, path: string): EpochEntry[] | null {
  const lines = readLines(fs, path, 2);
  if (lines === null) return null;
  return lines.map(([e, o]) => ({ epoch: parseInt64(path, e ?? ""), startOffset: parseInt64(path, o ?? "") }));
}

export function writeEpochCheckpoint(fs: FileSystem, path: string, entries: readonly EpochEntry[]): void {
  const body = entries.map((e) => `${e.epoch} ${e.startOffset}\n`).join("");
  writeFileAtomic(fs, path, encoder.encode(`0\n${entries.length}\n${body}`));
}
