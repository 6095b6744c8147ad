/**
 * `meta.properties` in each data directory: which cluster and node the directory belongs to,
 * so a directory is never silently reused by another node or cluster.
 *
 * Format (Kafka's KRaft v1, Java properties, readable by Kafka's tools):
 *   #
 *   #<comment>
 *   cluster.id=<22-char base64url UUID>
 *   directory.id=<22-char base64url UUID, unique per directory>
 *   node.id=<int>
 *   version=1
 * Written with write → fsync → rename → fsync(dir), so a crash leaves the old file or the new
 * one. A v0 file (ZooKeeper era: broker.id instead of node.id) is read as well.
 *
 * `ensureMetaProperties` is what the broker calls at start-up for each data directory: it
 * creates the directory and the file when missing (cluster id from the config, or freshly
 * generated), and otherwise checks the stored ids against the configuration.
 */
import { parseUuid, randomUuid, type Uuid } from "../metadata/uuid.ts";
import { StorageError, joinPath, writeFileAtomic, type FileSystem } from "../platform/fs.ts";
import type { Prng } from "../platform/prng.ts";
import { formatProperties, parseProperties, propertiesToMap } from "../util/properties.ts";
import { StartupError } from "./startup-error.ts";

export const metaPropertiesFileName = "meta.properties";

export interface MetaProperties {
  readonly clusterId: Uuid;
  readonly nodeId: number;
  /** Absent in v0 files and in files written by Kafka before directory ids. */
  readonly directoryId: Uuid | null;
  readonly version: 0 | 1;
}

/** The data directory does not belong to this node or cluster, or its metadata is unreadable. */
export class MetaPropertiesError extends StartupError {
  override readonly name = "MetaPropertiesError";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

export function parseMetaProperties(path: string, text: string): MetaProperties {
  const parsed = parseProperties(text);
  if (!parsed.ok) throw new MetaPropertiesError(path, `line ${parsed.line}: ${parsed.message}`);
  const props = propertiesToMap(parsed.entries);
  const versionText = props.get("version") ?? "0";
  if (versionText !== "0" && versionText !== "1") throw new MetaPropertiesError(path, `unsupported version ${versionText}`);
  const version = versionText === "1" ? 1 : 0;
  const idText = version === 1 ? props.get("node.id") : props.get("broker.id");
  const idKey = version === 1 ? "node.id" : "broker.id";
  if (idText === undefined || !/^\d+$/.test(idText) || Number(idText) > 0x7fffffff) {
    throw new MetaPropertiesError(path, `${idKey} is ${idText === undefined ? "missing" : `"${idText}", not a node id`}`);
  }
  const clusterText = props.get("cluster.id");
  const clusterId = clusterText === undefined ? null : parseUuid(clusterText);
  if (clusterId === null) throw new MetaPropertiesError(path, `cluster.id is ${clusterText === undefined ? "missing" : `"${clusterText}", not a Kafka UUID`}`);
  const dirText = props.get("directory.id");
  const directoryId = dirText === undefined ? null : parseUuid(dirText);
  if (dirText !== undefined && directoryId === null) throw new MetaPropertiesError(path, `directory.id "${dirText}" is not a Kafka UUID`);
  return { clusterId, nodeId: Number(idText), directoryId, version };
}

export function formatMetaProperties(meta: MetaProperties, comment: string): string {
  const entries: [string, string][] = [["cluster.id", meta.clusterId]];
  if (meta.directoryId !== null) entries.push(["directory.id", meta.directoryId]);
  entries.push([meta.version === 1 ? "node.id" : "broker.id", String(meta.nodeId)], ["version", String(meta.version)]);
  return formatProperties(entries, ["", comment]);
}

export interface EnsureMetaOptions {
  readonly nodeId: number;
  /** `cluster.id` from the configuration, if set. */
  readonly clusterId: string | null;
  /** For new ids. */
  readonly prng: Prng;
  /** Wall-clock ms, for the comment line. */
  readonly nowMs: number;
  /** The directory id to write for a new file (`storage format --initial-controllers` names it); a new random one when absent. */
  readonly directoryId?: Uuid;
}

/**
 * Reads or creates `<dir>/meta.properties`. Returns what is stored (after creating it) and
 * whether it was created. Throws `MetaPropertiesError` when the stored node or cluster id
 * contradicts the configuration, and lets `StorageError` through for I/O failures.
 */
export function ensureMetaProperties(fs: FileSystem, dir: string, options: EnsureMetaOptions): { meta: MetaProperties; created: boolean } {
  const path = joinPath(dir, metaPropertiesFileName);
  fs.mkdirp(dir);
  let existing: string | null = null;
  try {
    existing = new TextDecoder("utf-8", { fatal: false }).decode(fs.readFile(path));
  } catch (error) {
    if (!(error instanceof StorageError && error.code === "ENOENT")) throw error;
  }
  if (existing !== null) {
    const meta = parseMetaProperties(path, existing);
    if (meta.nodeId !== options.nodeId) {
      throw new MetaPropertiesError(path, `stored node id ${meta.nodeId} does not match node.id ${options.nodeId} (is this another node's data directory?)`);
    }
    if (options.clusterId !== null && meta.clusterId !== options.clusterId) {
      throw new MetaPropertiesError(path, `stored cluster.id ${meta.clusterId} does not match the configured cluster.id ${options.clusterId}`);
    }
    return { meta, created: false };
  }
  let clusterId: Uuid;
  if (options.clusterId === null) clusterId = randomUuid(options.prng);
  else {
    const parsed = parseUuid(options.clusterId);
    if (parsed === null) throw new MetaPropertiesError(path, `configured cluster.id "${options.clusterId}" is not a Kafka UUID`);
    clusterId = parsed;
  }
  const meta: MetaProperties = { clusterId, nodeId: options.nodeId, directoryId: options.directoryId ?? randomUuid(options.prng), version: 1 };
  const comment = `Written by bunka at ${new Date(options.nowMs).toISOString()}`;
  writeFileAtomic(fs, path, new TextEncoder().encode(formatMetaProperties(meta, comment)));
  return { meta, created: true };
}
