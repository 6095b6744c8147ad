/**
 * Scheduled backups of a running broker (`backup.*` keys): builds the schedule of
 * src/backup/schedule.ts from the broker's config and the Bun platform, once the node serves.
 *
 * Why here and not in src/server/node.ts: the backup engine is a Kafka client tool beside
 * server/ (scripts/check-layers.ts forbids either to import the other), and only the entry
 * point sits above both. The node's side is two calls: a shutdown hook and its metadata image.
 *
 * The engine reads through this node's own client listener (the first listener that is not a
 * controller listener), with the same Kafka client as `bunka backup create`, not in-process
 * reads: one engine and one format path for the CLI and the schedule, reads that see exactly
 * what a consumer sees (high watermark, transactions), leaders on other brokers reached by the
 * client as usual, and a backup that cannot reach into broker state it should not touch. The
 * cost is a loopback copy of the data (~4.5 GB/s here, far above the backup's own speed).
 */
import { readFileSync } from "node:fs";
import { createBackup, type BackupEnv } from "../backup/create.ts";
import { BackupKey, keyFileBytesMax, parseKeyFile } from "../backup/crypto.ts";
import { BackupSchedule, type ScheduleState } from "../backup/schedule.ts";
import { nodeAes256Gcm } from "../platform/bun/aead.ts";
import { bunCompression } from "../platform/bun/compression.ts";
import { BunFileSystem } from "../platform/bun/fs.ts";
import { bunNetwork } from "../platform/bun/network.ts";
import { formatHostPort } from "../platform/network.ts";
import { SeededPrng } from "../platform/prng.ts";
import type { BrokerConfig } from "../server/config.ts";
import type { Node } from "../server/node.ts";
import { StartupError } from "../server/startup-error.ts";

const dayMs = 86_400_000;

/** The backup key named by `backup.encryption.key.file`; a bad file refuses start-up naming the key. */
export async function readScheduledBackupKey(config: BrokerConfig): Promise<BackupKey | null> {
  const path = config.get("backup.encryption.key.file");
  if (config.get("backup.dir") === "" || path === null) return null;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new StartupError(`backup.encryption.key.file ${path}: cannot read it (${e instanceof Error && "code" in e ? String(e.code) : String(e)})`);
  }
  if (bytes.length > keyFileBytesMax) throw new StartupError(`backup.encryption.key.file ${path}: ${bytes.length} bytes is not a key file`);
  const parsed = parseKeyFile(bytes);
  if (!parsed.ok) throw new StartupError(`backup.encryption.key.file ${path}: ${parsed.reason}`);
  return BackupKey.fromBytes(parsed.key, nodeAes256Gcm);
}

/** Starts the schedule when `backup.dir` is set; returns its state reader, or null when off. */
export async function startScheduledBackups(node: Node, config: BrokerConfig, key: BackupKey | null): Promise<(() => ScheduleState) | null> {
  const dir = config.get("backup.dir");
  if (dir === "") return null;
  const { broker } = node;
  const services = await node.ready;
  const log = broker.log.child({ component: "backup" });
  const controllerNames = new Set(config.controllerListenerNames);
  const listener = broker.listeners.find((l) => !controllerNames.has(l.name));
  if (listener === undefined || !config.get("process.roles").includes("broker")) {
    log.warn("backup.dir is set on a node without the broker role or a client listener: this node never runs scheduled backups", { dir });
    return null;
  }
  const host = listener.host === "0.0.0.0" || listener.host === "" ? "127.0.0.1" : listener.host === "::" ? "::1" : listener.host;
  const bootstrap = formatHostPort(host, listener.port);
  const topics = new RegExp(`^(?:${config.get("backup.topics")})$`);
  const groups = new RegExp(`^(?:${config.get("backup.groups")})$`);
  const codec = config.get("backup.compression.type");
  const retentionDays = config.get("backup.retention.days");
  const clock = services.clock;
  const env: BackupEnv = {
    fs: new BunFileSystem(),
    compression: bunCompression,
    clock,
    network: bunNetwork,
    prng: new SeededPrng(crypto.getRandomValues(new Uint32Array(1))[0] ?? 0),
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    aead: nodeAes256Gcm,
    sleep: (ms) => new Promise((r) => clock.schedule(ms, r)),
    note: (line) => log.debug(line),
  };
  const schedule = new BackupSchedule(
    { dir, intervalMs: config.get("backup.interval.ms"), retentionMs: retentionDays < 0 ? null : retentionDays * dayMs, key },
    {
      clock,
      fs: env.fs,
      log,
      create: (full) => createBackup(env, { bootstrap, dir, topics, groups, key, codec, full }),
      // The live broker with the lowest id (schedule.ts says why).
      isResponsible: () => services.metadata.image.liveBrokers()[0]?.brokerId === broker.nodeId,
    },
  );
  // At the start of a graceful stop no new run starts (a run cut off by the closing
  // connections is logged as abandoned, not failed); the stop waits for a run in progress.
  broker.addDrainHook("scheduled backups", () => schedule.cancel());
  broker.addShutdownHook("scheduled backups", () => schedule.stop());
  schedule.start();
  if (key === null) log.warn("scheduled backups are NOT encrypted: anyone who can read backup.dir reads the data (set backup.encryption.key.file)", { dir });
  log.info("scheduled backups on", { dir, intervalMs: config.get("backup.interval.ms"), bootstrap, topics: topics.source, groups: groups.source, compression: codec, retentionDays, encrypted: key !== null });
  return () => schedule.state();
}
