/**
 * `bunka storage format`: writes each log dir's meta.properties (cluster id, node id, a new
 * directory id) before the first start, as `kafka-storage.sh format` does, so every node of a
 * cluster can be given the same cluster id. A dir already formatted stops the command unless
 * `ignoreFormatted` (then it is left as it is). Dirs are locked while this runs, so a running
 * broker's dirs are never touched.
 */
import { joinPath, type FileSystem } from "../platform/fs.ts";
import type { Prng } from "../platform/prng.ts";
import { lockLogDirs } from "./log-dir-lock.ts";
import { ensureMetaProperties, metaPropertiesFileName, parseMetaProperties } from "./meta-properties.ts";
import { StartupError } from "./startup-error.ts";

export type FormatOutcome = { readonly dir: string; readonly kind: "formatted" | "already formatted"; readonly clusterId: string };

export interface FormatOptions {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly ignoreFormatted: boolean;
  readonly prng: Prng;
  readonly nowMs: number;
}

export function formatLogDirs(fs: FileSystem, dirs: readonly string[], options: FormatOptions): FormatOutcome[] {
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
    return dirs.map((dir): FormatOutcome => {
      const clusterId = existing.get(dir);
      if (clusterId !== undefined) return { dir, kind: "already formatted", clusterId };
      const { meta } = ensureMetaProperties(fs, dir, options);
      return { dir, kind: "formatted", clusterId: meta.clusterId };
    });
  } finally {
    for (const lock of locks) lock.release();
  }
}
