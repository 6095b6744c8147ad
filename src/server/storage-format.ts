/**
 * `bunka storage format`: writes each log dir's meta.properties (cluster id, node id, a new
 * directory id) before the first start, as `kafka-storage.sh format` does, so every node of a
 * cluster can be given the same cluster id. A dir already formatted stops the command unless
 * `ignoreFormatted` (then it is left as it is). Dirs are locked while this runs, so a running
 * broker's dirs are never touched.
 *
 * A dynamic controller quorum (KIP-853) is formed here too:
 * - `--standalone`: this node is the only initial voter (its controller endpoint, the
 *   metadata log dir's directory id);
 * - `--initial-controllers id@host:port:directoryId,...`: the initial voters; the metadata
 *   log dir (the first log dir) gets the directory id given for this node;
 * - `--no-initial-controllers`: a controller that joins a running quorum later (AddRaftVoter).
 * The first two write `__cluster_metadata-0/bootstrap.checkpoint` (voter-set.ts: the
 * snapshot layout holding KRAFT_VERSION 1 and the voters) in the metadata log dir, after its
 * meta.properties; the node reads it at start-up, and its first leader puts it in the log.
 */
import { joinPath, type FileSystem, writeFileAtomic } from "../platform/fs.ts";
import type { Prng } from "../platform/prng.ts";
import { type Uuid } from "../metadata/uuid.ts";
import { metadataPartition, metadataTopic } from "../raft/raft-log.ts";
import { decodeSnapshot, encodeSnapshot } from "../raft/snapshot.ts";
import { bootstrapCheckpointFileName, kraftVersionBatch, kraftVersionDynamic, type Voter, votersBatch, votersOfSnapshotContent, voterSetProblem } from "../raft/voter-set.ts";
import { lockLogDirs } from "./log-dir-lock.ts";
import { ensureMetaProperties, metaPropertiesFileName, parseMetaProperties } from "./meta-properties.ts";
import { StartupError } from "./startup-error.ts";

export type FormatOutcome = { readonly dir: string; readonly kind: "formatted" | "already formatted"; readonly clusterId: string };

/** How the controller quorum starts: static (nothing written), or dynamic with these initial voters / none (joins later). */
export type InitialControllers =
  | { readonly kind: "static" }
  | { readonly kind: "standalone"; readonly endpoint: { readonly name: string; readonly host: string; readonly port: number } }
  | { readonly kind: "list"; readonly voters: readonly Voter[] }
  | { readonly kind: "none" };

export interface FormatOptions {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly ignoreFormatted: boolean;
  readonly prng: Prng;
  readonly nowMs: number;
  readonly initialControllers?: InitialControllers;
}

export function formatLogDirs(fs: FileSystem, dirs: readonly string[], options: FormatOptions): FormatOutcome[] {
  const initial = options.initialControllers ?? { kind: "static" };
  let ownDirectoryId: Uuid | undefined;
  if (initial.kind === "list") {
    const problem = voterSetProblem(initial.voters);
    if (problem !== null) throw new StartupError(`--initial-controllers: ${problem}`);
    const own = initial.voters.find((v) => v.id === options.nodeId);
    if (own !== undefined) ownDirectoryId = own.directoryId as Uuid;
  }
  const locks = lockLogDirs(fs, dirs);
  try {
    const existing = new Map<string, string>();
    for (const dir of dirs) {
      const path = joinPath(dir, metaPropertiesFileName);
      if (!fs.exists(path)) continue;
      const meta = parseMetaProperties(path, new TextDecoder().decode(fs.readFile(path)));
      if (!options.ignoreFormatted) {
        throw new StartupError(`log dir ${dir} is already formatted (cluster ${meta.clusterId}, node ${meta.nodeId}); use --ignore-formatted to leave formatted dirs as they are`);
      }
      existing.set(dir, meta.clusterId);
    }
    return dirs.map((dir, i): FormatOutcome => {
      const clusterId = existing.get(dir);
      if (clusterId !== undefined) return { dir, kind: "already formatted", clusterId };
      const metadataDir = i === 0;
      const { meta } = ensureMetaProperties(fs, dir, { ...options, ...(metadataDir && ownDirectoryId !== undefined ? { directoryId: ownDirectoryId } : {}) });
      if (metadataDir && (initial.kind === "standalone" || initial.kind === "list")) {
        const directoryId = meta.directoryId;
        if (directoryId === null) throw new StartupError(`log dir ${dir}: meta.properties has no directory.id`);
        const voters = initial.kind === "standalone" ? [{ id: options.nodeId, directoryId, endpoints: [initial.endpoint] }] : initial.voters;
        writeBootstrapCheckpoint(fs, joinPath(dir, `${metadataTopic}-${metadataPartition}`), voters, options.nowMs);
      }
      return { dir, kind: "formatted", clusterId: meta.clusterId };
    });
  } finally {
    for (const lock of locks) lock.release();
  }
}

/** Writes `bootstrap.checkpoint` (crash-safe: write, fsync, rename, fsync dir). */
export function writeBootstrapCheckpoint(fs: FileSystem, metadataLogDir: string, voters: readonly Voter[], nowMs: number): void {
  fs.mkdirp(metadataLogDir);
  const version = kraftVersionBatch(kraftVersionDynamic, nowMs);
  const set = votersBatch(voters, nowMs);
  const content = new Uint8Array(version.length + set.length);
  content.set(version, 0);
  content.set(set, version.length);
  writeFileAtomic(fs, joinPath(metadataLogDir, bootstrapCheckpointFileName), encodeSnapshot({ endOffset: 0, epoch: 0 }, content, nowMs));
}

/** The voters of `<metadataLogDir>/bootstrap.checkpoint`, or null when there is none. Throws StartupError when it is damaged. */
export function readBootstrapCheckpoint(fs: FileSystem, metadataLogDir: string): readonly Voter[] | null {
  const path = joinPath(metadataLogDir, bootstrapCheckpointFileName);
  if (!fs.exists(path)) return null;
  const bytes = fs.readFile(path);
  const decoded = decodeSnapshot(bytes, 0);
  if (decoded.kind !== "ok") throw new StartupError(`${path}: ${decoded.detail}`);
  const voters = votersOfSnapshotContent(decoded.content);
  if (voters === null) throw new StartupError(`${path}: holds no voter set`);
  return voters;
}
