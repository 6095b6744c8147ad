/**
 * `bunka backup create|list|verify|restore`: argument parsing and the one-line outcomes.
 * The entry point (src/main.ts) passes the platform in and turns the returned code into
 * the process's exit code: 0 done, 1 the backup or the cluster failed a check or a request
 * (one line naming the cause), 2 bad command line.
 */
import { StorageError } from "../platform/fs.ts";
import { type BackupEnv, BackupFailure, createBackup } from "./create.ts";
import { BackupKey, keyFileBytesMax, parseKeyFile } from "./crypto.ts";
import { type BackupCodec, isBackupCodec } from "./format.ts";
import { listBackups } from "./reader.ts";
import { restoreBackup } from "./restore.ts";
import { verifyBackups } from "./verify.ts";

export const backupUsage = `usage:
  bunka backup create --bootstrap-server HOST:PORT --to DIR [--topics REGEX] [--groups REGEX]
                      [--encryption-key-file FILE] [--compression zstd|lz4|gzip|none] [--json]
  bunka backup list --from DIR [--json]
  bunka backup verify --from DIR [--encryption-key-file FILE] [--backup ID] [--json]
  bunka backup restore --from DIR --bootstrap-server HOST:PORT [--encryption-key-file FILE]
                      [--topics REGEX] [--rename FROM:TO ...] [--until TIME] [--backup ID]
                      [--keep-producer-ids] [--json]
REGEX matches whole names. TIME: epoch milliseconds or ISO-8601. The key file holds 64 hex
digits (openssl rand -hex 32) or 32 raw bytes.`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

type Flags = Map<string, string[]>;

const valueFlags = new Set(["--bootstrap-server", "--to", "--from", "--topics", "--groups", "--encryption-key-file", "--compression", "--rename", "--until", "--backup"]);
const boolFlags = new Set(["--json", "--keep-producer-ids"]);
const repeatable = new Set(["--rename"]);

class UsageError extends Error {}

function parseFlags(args: readonly string[], allowed: readonly string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    if (!allowed.includes(name)) throw new UsageError(`unknown argument "${a}" (bunka backup --help shows the usage)`);
    let value = "true";
    if (valueFlags.has(name)) {
      const v = eq > 0 && a.startsWith("--") ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      value = v;
    } else if (!boolFlags.has(name)) {
      throw new UsageError(`unknown argument "${a}"`);
    }
    const list = flags.get(name) ?? [];
    if (list.length > 0 && !repeatable.has(name)) throw new UsageError(`${name} given twice`);
    list.push(value);
    flags.set(name, list);
  }
  return flags;
}

function one(flags: Flags, name: string): string | null {
  return flags.get(name)?.[0] ?? null;
}

function need(flags: Flags, name: string, command: string): string {
  const v = one(flags, name);
  if (v === null) throw new UsageError(`backup ${command} needs ${name}`);
  return v;
}

function regex(flags: Flags, name: string): RegExp {
  const v = one(flags, name) ?? ".*";
  try {
    return new RegExp(`^(?:${v})$`);
  } catch (e) {
    throw new UsageError(`${name} ${JSON.stringify(v)} is not a regular expression: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Epoch ms or ISO-8601. */
export function parseTime(text: string): number | null {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : null;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

async function readKey(env: BackupEnv, flags: Flags): Promise<BackupKey | null> {
  const path = one(flags, "--encryption-key-file");
  if (path === null) return null;
  let bytes: Uint8Array;
  try {
    const st = env.fs.stat(path);
    if (st.size > keyFileBytesMax) throw new UsageError(`--encryption-key-file ${path}: ${st.size} bytes is not a key file`);
    bytes = env.fs.readFile(path);
  } catch (e) {
    if (e instanceof StorageError) throw new UsageError(`--encryption-key-file ${path}: cannot read it (${e.code})`);
    throw e;
  }
  const parsed = parseKeyFile(bytes);
  if (!parsed.ok) throw new UsageError(`--encryption-key-file ${path}: ${parsed.reason}`);
  return BackupKey.fromBytes(parsed.key, env.aead ?? null);
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** Runs a `backup` subcommand; returns the exit code. */
export async function runBackupCli(env: BackupEnv, args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case "create": {
        const f = parseFlags(rest, ["--bootstrap-server", "--to", "--topics", "--groups", "--encryption-key-file", "--compression", "--json"]);
        const codec = one(f, "--compression") ?? "zstd";
        if (!isBackupCodec(codec)) throw new UsageError(`--compression ${codec}: one of zstd, lz4, gzip, none`);
        const bootstrap = need(f, "--bootstrap-server", "create");
        const to = need(f, "--to", "create");
        const topics = regex(f, "--topics");
        const groups = regex(f, "--groups");
        const key = await readKey(env, f);
        if (key === null) io.err("warning: no --encryption-key-file: this backup is NOT encrypted (only SHA-256 digests protect it, and anyone who can read it can read the data)");
        const s = await createBackup(env, { bootstrap, dir: to, topics, groups, key, codec: codec as BackupCodec });
        if (f.has("--json")) io.out(JSON.stringify(s));
        else {
          const secs = s.durationMs / 1000;
          io.out(`backup ${s.id}${s.parent === null ? " (full)" : ` (incremental on ${s.parent})`}: ${s.topics} topics, ${s.partitions} partitions, ${s.records} records in ${s.batches} batches, ${mb(s.rawBytes)} MB read, ${mb(s.storedBytes)} MB stored, ${s.groups} groups, ${s.encrypted ? "encrypted" : "NOT encrypted"}, ${secs.toFixed(1)} s (${secs > 0 ? mb(s.rawBytes / secs) : "-"} MB/s)`);
        }
        return 0;
      }
      case "list": {
        const f = parseFlags(rest, ["--from", "--json"]);
        const listed = await listBackups(env.fs, need(f, "--from", "list"));
        if (f.has("--json")) {
          io.out(JSON.stringify(listed.map((b) => ({ id: b.id, problem: b.problem, parent: b.manifest?.parent ?? null, createdMs: b.manifest?.createdMs ?? null, encrypted: b.manifest === null ? null : b.manifest.encryption !== null }))));
          return 0;
        }
        if (listed.length === 0) io.out("no backups");
        for (const b of listed) {
          const m = b.manifest;
          if (m === null) {
            io.out(`${b.id}  UNREADABLE: ${b.problem ?? ""}`);
            continue;
          }
          let records = 0;
          let bytes = 0;
          for (const t of m.topics) for (const p of t.partitions) for (const c of p.chunks) {
            records += c.records;
            bytes += c.storedBytes;
          }
          io.out(`${m.id}  ${new Date(m.createdMs).toISOString()}  ${m.parent === null ? "full" : `incremental on ${m.parent}`}  cluster ${m.source.clusterId ?? "-"}  ${m.topics.length} topics  ${m.groups.length} groups  ${records} records  ${mb(bytes)} MB  ${m.encryption === null ? "NOT encrypted" : `encrypted (key id ${m.encryption.keyId})`}  ${m.compression}`);
        }
        return 0;
      }
      case "verify": {
        const f = parseFlags(rest, ["--from", "--encryption-key-file", "--backup", "--json"]);
        const dir = need(f, "--from", "verify");
        const key = await readKey(env, f);
        const results = await verifyBackups(env.fs, env.compression, dir, key, one(f, "--backup"));
        if (results.length === 0) {
          io.err(`bunka: no backup to verify in ${dir}`);
          return 1;
        }
        if (f.has("--json")) io.out(JSON.stringify(results));
        else for (const r of results) io.out(r.problem === null ? `${r.id}  ok: ${r.chunks} chunks, ${r.batches} batches, ${r.records} records, ${mb(r.rawBytes)} MB` : `${r.id}  FAILED: ${r.problem}`);
        return results.every((r) => r.problem === null) ? 0 : 1;
      }
      case "restore": {
        const f = parseFlags(rest, ["--from", "--bootstrap-server", "--encryption-key-file", "--topics", "--rename", "--until", "--backup", "--keep-producer-ids", "--json"]);
        const rename = new Map<string, string>();
        for (const r of f.get("--rename") ?? []) {
          const m = /^([^:]+):([^:]+)$/.exec(r);
          if (m === null) throw new UsageError(`--rename ${r}: expected FROM:TO`);
          rename.set(m[1] as string, m[2] as string);
        }
        const untilText = one(f, "--until");
        const untilMs = untilText === null ? null : parseTime(untilText);
        if (untilText !== null && untilMs === null) throw new UsageError(`--until ${untilText}: expected epoch milliseconds or ISO-8601 (2026-12-05T17:00:00Z)`);
        const dir = need(f, "--from", "restore");
        const bootstrap = need(f, "--bootstrap-server", "restore");
        const key = await readKey(env, f);
        const s = await restoreBackup(env, { bootstrap, dir, key, topics: regex(f, "--topics"), rename, untilMs, backupId: one(f, "--backup"), keepProducerIds: f.has("--keep-producer-ids") });
        if (f.has("--json")) io.out(JSON.stringify(s));
        else {
          const secs = s.durationMs / 1000;
          io.out(`restored ${s.backupId}: ${s.topics} topics, ${s.partitions} partitions, ${s.records} records in ${s.batches} batches (${s.rebuiltBatches} rebuilt, ${s.skippedBatches} skipped), ${mb(s.bytes)} MB, ${s.groups} groups (${s.translatedOffsets} offsets translated), ${secs.toFixed(1)} s (${secs > 0 ? mb(s.bytes / secs) : "-"} MB/s)`);
        }
        return 0;
      }
      case "--help":
      case "-h":
      case undefined:
        io.out(backupUsage);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown backup command "${sub}" (create, list, verify or restore)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`bunka: ${e.message}`);
      return 2;
    }
    if (e instanceof BackupFailure) {
      io.err(`bunka: ${e.message}`);
      return 1;
    }
    if (e instanceof StorageError) {
      io.err(`bunka: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
