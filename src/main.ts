/**
 * bunka's entry point (also `bin/bunka.ts`, `bun run broker`):
 *
 *   bun src/main.ts broker [--config server.properties] [--set key=value ...]
 *   bun src/main.ts configs        list every config key with its default
 *   bun src/main.ts --help | --version
 *
 * Kept thin: parse arguments, read the config file, build the Bun platform, call
 * `startNode`, print where it listens, and turn SIGTERM/SIGINT into a graceful stop and
 * exit 0. Exit codes: 0 stopped cleanly, 1 start-up failed (port taken, data dir unusable),
 * 2 bad command line or configuration (one message on stderr).
 */
import { readFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { systemClock } from "./platform/bun/clock.ts";
import { BunFileSystem } from "./platform/bun/fs.ts";
import { bunNetwork } from "./platform/bun/network.ts";
import { exitProcess, onTerminationSignal, printStdout, stderrSink } from "./platform/bun/process.ts";
import { NetworkError, formatHostPort } from "./platform/network.ts";
import { SeededPrng } from "./platform/prng.ts";
import { startNode } from "./server/node.ts";
import { formatLogDirs } from "./server/storage-format.ts";
import { runLocalCluster } from "./cli/local-cluster.ts";
import { formatInitialControllers, runQuorumCli } from "./cli/quorum.ts";
import { cryptoPrng } from "./platform/bun/crypto-prng.ts";
import { parseUuid, randomUuid } from "./metadata/uuid.ts";
import { loadConfig, type BrokerConfig } from "./server/config.ts";
import { configDefs, configNames, envVarName, type ConfigDef } from "./server/config-defs.ts";
import { StorageError } from "./platform/fs.ts";
import { describeStorageError, StartupError } from "./server/startup-error.ts";
import { core, crcImplementation } from "./wasm/index.ts";
import { runBackupCli } from "./backup/cli.ts";
import { bunCompression } from "./platform/bun/compression.ts";
import { nodeAes256Gcm } from "./platform/bun/aead.ts";
import { readScheduledBackupKey, startScheduledBackups } from "./cli/broker-backups.ts";
import { startMetricsEndpoint } from "./cli/metrics-endpoint.ts";
import { clusterAdminCommands, runAdminCli } from "./cli/admin/index.ts";
import { runMirrorCli } from "./cli/mirror.ts";

const adminIo = { out: printStdout, err: (line: string) => void writeSync(2, `${line}\n`) };

const usage = `usage:
  bunka [broker] [--config FILE] [--set key=value ...] start a broker
  bunka configs                                        list config keys, defaults and docs
  bunka storage random-uuid                            print a new cluster id
  bunka storage format --cluster-id ID [--config FILE] [--set key=value ...] [--ignore-formatted]
                       [--standalone | --initial-controllers id@host:port:dirId,... | --no-initial-controllers]
  bunka quorum describe|add-controller|remove-controller ...   (bunka quorum --help)
                                                       write meta.properties in each log dir
  bunka cluster [--nodes N] [--dir DIR]                a local cluster of N nodes (default 3, data in ./data/cluster)
  bunka backup create|list|verify|restore ...          back up and restore topics, configs and
                                                       group offsets (bunka backup --help)
  bunka topics list|describe|create|alter|delete ...   admin a cluster through --bootstrap-server
  bunka groups list|describe|delete|reset-offsets ...  (default 127.0.0.1:9092); --json for scripts;
  bunka cluster describe|health                        each command's --help shows its usage
  bunka log-dirs describe
  bunka produce TOPIC | bunka consume TOPIC            records from stdin / to stdout (kcat-like)
  bunka mirror [status|translate-offsets] --config FILE mirror topics between clusters
                                                       (MirrorMaker 2 properties; bunka mirror --help)
  bunka --help | --version

With no options the broker listens on PLAINTEXT://127.0.0.1:9092 and keeps data in ./data.
Configuration, lowest precedence first: defaults < --config FILE (Java properties, Kafka's
key names) < environment BUNKA_<KEY> (e.g. BUNKA_LOG_DIRS=/var/lib/bunka) < --set key=value.
SIGTERM or SIGINT stops the broker gracefully (exit 0).`;

function version(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    if (typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string") return pkg.version;
  } catch {
    // fall through
  }
  return "unknown";
}

function fail(code: number, message: string): never {
  stderrSink(`bunka: ${message}`, "error");
  exitProcess(code);
}

interface BrokerArgs {
  configFile: string | null;
  sets: string[];
  /** `storage format` only. */
  clusterId: string | null;
  ignoreFormatted: boolean;
  /** `storage format` only: --standalone, --initial-controllers LIST, --no-initial-controllers. */
  initial: { kind: "standalone" } | { kind: "list"; text: string } | { kind: "none" } | null;
}

function parseBrokerArgs(args: readonly string[], command: "broker" | "storage format" = "broker"): BrokerArgs {
  const out: BrokerArgs = { configFile: null, sets: [], clusterId: null, ignoreFormatted: false, initial: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const takeValue = (flag: string): string => {
      const eq = a.indexOf("=");
      if (a.startsWith(`${flag}=`) && eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) fail(2, `${flag} needs a value (bunka --help shows the usage)`);
      return v;
    };
    if (command === "storage format" && (a === "--cluster-id" || a.startsWith("--cluster-id=") || a === "-t")) {
      if (out.clusterId !== null) fail(2, "--cluster-id given twice");
      out.clusterId = takeValue(a === "-t" ? "-t" : "--cluster-id");
    } else if (command === "storage format" && (a === "--ignore-formatted" || a === "-g")) {
      out.ignoreFormatted = true;
    } else if (command === "storage format" && (a === "--standalone" || a === "-s" || a === "--no-initial-controllers" || a === "-N" || a === "--initial-controllers" || a.startsWith("--initial-controllers=") || a === "-I")) {
      if (out.initial !== null) fail(2, "give one of --standalone, --initial-controllers, --no-initial-controllers");
      if (a === "--standalone" || a === "-s") out.initial = { kind: "standalone" };
      else if (a === "--no-initial-controllers" || a === "-N") out.initial = { kind: "none" };
      else out.initial = { kind: "list", text: takeValue(a === "-I" ? "-I" : "--initial-controllers") };
    } else if (a === "--config" || a.startsWith("--config=") || (command === "storage format" && a === "-c")) {
      if (out.configFile !== null) fail(2, "--config given twice");
      out.configFile = takeValue(a === "-c" ? "-c" : "--config");
    } else if (a === "--set" || a.startsWith("--set=")) {
      out.sets.push(takeValue("--set"));
    } else if (a === "--help" || a === "-h") {
      printStdout(usage);
      exitProcess(0);
    } else {
      fail(2, `unknown argument "${a}" (bunka --help shows the usage)`);
    }
  }
  return out;
}

function listConfigs(): void {
  const lines: string[] = [];
  for (const name of configNames) {
    const d: ConfigDef<unknown> = configDefs[name];
    const tags = [d.type.toLowerCase(), d.mode, d.bunkaOnly ? "bunka" : null, d.ignored ? "ignored" : null].filter((t) => t !== null).join(", ");
    lines.push(`${name} = ${d.defaultText ?? "(unset)"}   [${tags}] env ${envVarName(name)}\n    ${d.doc}`);
  }
  printStdout(lines.join("\n"));
}

function loadBrokerConfig(parsed: BrokerArgs): BrokerConfig {
  let file: { path: string; text: string } | undefined;
  if (parsed.configFile !== null) {
    try {
      file = { path: parsed.configFile, text: readFileSync(parsed.configFile, "utf8") };
    } catch (error) {
      fail(2, `cannot read --config ${parsed.configFile}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const loaded = loadConfig({ ...(file === undefined ? {} : { file }), env: process.env, sets: parsed.sets });
  if (!loaded.ok) fail(2, loaded.error.message);
  return loaded.config;
}

function runStorage(args: readonly string[]): void {
  const [sub, ...rest] = args;
  if (sub === "random-uuid") {
    printStdout(randomUuid(cryptoPrng));
    return;
  }
  if (sub !== "format") fail(2, `unknown storage command "${sub ?? ""}" (random-uuid or format) (bunka --help shows the usage)`);
  const parsed = parseBrokerArgs(rest, "storage format");
  if (parsed.clusterId === null) fail(2, "storage format needs --cluster-id ID (bunka storage random-uuid makes one)");
  if (parseUuid(parsed.clusterId) === null) fail(2, `--cluster-id "${parsed.clusterId}" is not a Kafka UUID (22 base64url characters)`);
  const config = loadBrokerConfig(parsed);
  const configured = config.get("cluster.id");
  if (configured !== null && configured !== parsed.clusterId) fail(2, `--cluster-id ${parsed.clusterId} differs from the configured cluster.id ${configured}`);
  const initialControllers = formatInitialControllers(parsed.initial, config);
  try {
    const outcomes = formatLogDirs(new BunFileSystem(), config.logDirs.map((d) => resolve(d)), {
      clusterId: parsed.clusterId,
      nodeId: config.nodeId,
      ignoreFormatted: parsed.ignoreFormatted,
      prng: cryptoPrng,
      nowMs: systemClock.nowMs(),
      initialControllers,
    });
    for (const o of outcomes) printStdout(`${o.kind}: ${o.dir} (cluster ${o.clusterId}, node ${config.nodeId})`);
  } catch (error) {
    if (error instanceof StartupError) fail(1, error.message);
    if (error instanceof StorageError) fail(1, `storage format failed: ${describeStorageError(error)}`);
    throw error;
  }
}

async function runBroker(args: readonly string[]): Promise<void> {
  const config = loadBrokerConfig(parseBrokerArgs(args));

  const seed = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  let node;
  let backupKey;
  try {
    backupKey = await readScheduledBackupKey(config);
  } catch (error) {
    if (error instanceof StartupError) fail(2, error.message);
    throw error;
  }
  try {
    node = await startNode(config, {
      network: bunNetwork,
      clock: systemClock,
      fs: new BunFileSystem(),
      prng: new SeededPrng(seed),
      logSink: stderrSink,
      hostname: hostname(),
      absolutePath: (p) => resolve(p),
    }, {
      // Logged by the quorum; exit at once, without the graceful stop's flushes and
      // controlled shutdown (a retried write could lie about what is on disk).
      onFatal: () => exitProcess(1),
    });
  } catch (error) {
    // Conditions an operator fixes get one line; anything else is a bug and keeps its stack.
    if (error instanceof NetworkError || error instanceof StartupError) fail(1, error.message);
    if (error instanceof StorageError) fail(1, `start-up failed: ${describeStorageError(error)}`);
    fail(1, `start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  const { broker } = node;
  const backupState = await startScheduledBackups(node, config, backupKey);
  let metricsUrl: string | null;
  try {
    metricsUrl = await startMetricsEndpoint(node, config, backupState);
  } catch (error) {
    await broker.stop();
    fail(1, error instanceof Error ? error.message : String(error));
  }

  // The handler is in place before the ready line: whoever reads that line may signal at once.
  let stopping = false;
  onTerminationSignal((signal) => {
    if (stopping) return;
    stopping = true;
    broker.log.info("signal received; stopping", { signal });
    broker.stop().then(
      () => exitProcess(0),
      (error: unknown) => fail(1, `shutdown failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  });

  const where = broker.listeners.map((l) => `${l.name}://${formatHostPort(l.host, l.port)}`).join(", ");
  const dirs = broker.logDirs.join(", ");
  printStdout(`bunka ${version()}: node ${broker.nodeId} of cluster ${broker.clusterId} listening on ${where}; data in ${dirs}`);
  if (metricsUrl !== null) printStdout(`metrics on ${metricsUrl}`);
  broker.log.info("hot-path core", { core: core.kind, crc32c: crcImplementation });
}

const argv = process.argv.slice(2);
const [command, ...rest] = argv;
switch (command) {
  case "broker":
    await runBroker(rest);
    break;
  case undefined: // a bare `bunka` starts a single node with the defaults
    await runBroker([]);
    break;
  case "configs":
    listConfigs();
    break;
  case "quorum":
    await runQuorumCli(rest);
    break;
  case "storage":
    runStorage(rest);
    break;
  case "cluster":
    if (clusterAdminCommands.has(rest[0] ?? "")) exitProcess(await runAdminCli("cluster", rest, adminIo));
    await runLocalCluster(rest, fail);
    break;
  case "topics":
  case "groups":
  case "log-dirs":
  case "produce":
  case "consume":
    exitProcess(await runAdminCli(command, rest, adminIo));
  case "backup": {
    const code = await runBackupCli(
      {
        fs: new BunFileSystem(),
        compression: bunCompression,
        clock: systemClock,
        network: bunNetwork,
        prng: cryptoPrng,
        randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
        aead: nodeAes256Gcm,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        note: (line) => process.stderr.write(`${line}\n`),
      },
      rest,
      { out: printStdout, err: (line) => process.stderr.write(`${line}\n`) },
    );
    exitProcess(code);
  }
  case "mirror":
    exitProcess(await runMirrorCli(rest));
  case "--version":
  case "-v":
    printStdout(`bunka ${version()}`);
    break;
  case "--help":
  case "-h":
  case "help":
    printStdout(usage);
    break;
  default:
    fail(2, `unknown command "${command}" (bunka --help shows the usage)`);
}
