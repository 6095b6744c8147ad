/**
 * Layering check: imports only go down, and only the Bun platform adapter and the entry
 * points touch `Bun.*` or `node:*`.
 *
 * Layers, lowest first (DESIGN.md): util, platform, wasm, protocol, storage, client (the
 * node-to-node Kafka client), raft (the controller quorum), metadata, replication,
 * coordinator, then server, backup and mirror side by side: backup and mirror are Kafka client
 * tools on top of client/, and none of the three may import another. `src/main.ts`, its commands in
 * `src/cli/` and `bin/` sit above everything.
 * Core layers (protocol … coordinator, and backup) take platform interfaces as parameters,
 * so they may not import `src/platform/bun/` either; `wasm/` may, to read its module bytes.
 *
 * Run: `bun scripts/check-layers.ts` (exit 1 and one line per violation).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";

const root = resolve(import.meta.dir, "..");
const src = join(root, "src");
/** Layers by rank, lowest first; names in one entry share a rank and may not import each other. */
const layers: readonly (readonly string[])[] = [["util"], ["platform"], ["wasm"], ["protocol"], ["storage"], ["client"], ["raft"], ["metadata"], ["replication"], ["coordinator"], ["server", "backup", "mirror"]];
const coreLayers = new Set(["protocol", "storage", "client", "raft", "metadata", "replication", "coordinator", "backup", "mirror"]);

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Layer rank of a path under src/, or Infinity for the entry point. */
function rankOf(file: string): number {
  const rel = relative(src, file);
  if (rel.startsWith("..")) return Number.POSITIVE_INFINITY;
  const top = rel.split("/")[0] ?? "";
  const i = layers.findIndex((names) => names.includes(top));
  return i === -1 ? Number.POSITIVE_INFINITY : i;
}

const violations: string[] = [];
const importRe = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
for (const file of walk(src, [])) {
  const rel = relative(root, file);
  const text = readFileSync(file, "utf8");
  const rank = rankOf(file);
  const top = relative(src, file).split("/")[0] ?? "";
  const isBunAdapter = rel.startsWith("src/platform/bun/");
  const isEntry = rel === "src/main.ts" || rel.startsWith("src/cli/");
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? "";
    if (spec.startsWith("node:") || spec === "bun" || spec.startsWith("bun:")) {
      if (!isBunAdapter && !isEntry) violations.push(`${rel}: imports ${spec} (only src/platform/bun/, src/main.ts and src/cli/ may)`);
      continue;
    }
    if (!spec.startsWith(".")) continue;
    const target = resolve(dirname(file), spec);
    const targetRank = rankOf(target);
    if (targetRank > rank) violations.push(`${rel}: imports ${relative(root, target)} from a higher layer`);
    const targetRel = relative(root, target);
    const targetTop = relative(src, target).split("/")[0] ?? "";
    if (targetRank === rank && Number.isFinite(rank) && targetTop !== top) violations.push(`${rel}: imports ${targetRel} from the sibling layer ${targetTop}`);
    if (coreLayers.has(top) && targetRel.startsWith("src/platform/bun")) {
      violations.push(`${rel}: core layer imports the Bun adapter ${targetRel}; take a platform interface instead`);
    }
  }
  if (!isBunAdapter && !isEntry) {
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    if (/\bBun\.[A-Za-z]/.test(code)) violations.push(`${rel}: uses Bun.* (only src/platform/bun/, src/main.ts and src/cli/ may)`);
  }
}
for (const v of violations) console.error(v);
if (violations.length > 0) process.exit(1);
console.log("layers: ok");
