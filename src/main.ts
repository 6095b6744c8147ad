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
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { systemClock } from "./platform/bun/clock.ts";
import { BunFileSystem } from "./platform/bun/fs.ts";
import { bunNetwork } from "./platform/bun/network.ts";
import { exitProcess, onTerminationSignal, printStdout, stderrSink } from "./platform/bun/process.ts";
import { NetworkError, formatHostPort } from "./platform/network.ts";
import { SeededPrng } from "./platform/prng.ts";
import { startNode } from "./server/node.ts";
import { loadConfig } from "./server/config.ts";
import { configDefs, configNames, envVarName, type ConfigDef } from "./server/config-defs.ts";
import { StorageError } from "./platform/fs.ts";
import { describeStorageError, StartupError } from "./server/startup-error.ts";
import { core, crcImplementation } from "./wasm/index.ts";

const usage = `usage:
  bunka [broker] [--config FILE] [--set key=value ...] start a broker
  bunka configs                                        list config keys, defaults and docs
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
}

function parseBrokerArgs(args: readonly string[]): BrokerArgs {
  const out: BrokerArgs = { configFile: null, sets: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const takeValue = (flag: string): string => {
      const eq = a.indexOf("=");
      if (a.startsWith(`${flag}=`) && eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) fail(2, `${flag} needs a value\n${usage}`);
      return v;
    };
    if (a === "--config" || a.startsWith("--config=")) {
      if (out.configFile !== null) fail(2, "--config given twice");
      out.configFile = takeValue("--config");
    } else if (a === "--set" || a.startsWith("--set=")) {
      out.sets.push(takeValue("--set"));
    } else if (a === "--help" || a === "-h") {
      printStdout(usage);
      exitProcess(0);
    } else {
      fail(2, `unknown argument "${a}"\n${usage}`);
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

async function runBroker(args: readonly string[]): Promise<void> {
  const parsed = parseBrokerArgs(args);
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
  const config = loaded.config;

  const seed = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  let node;
  try {
    node = await startNode(config, {
      network: bunNetwork,
      clock: systemClock,
      fs: new BunFileSystem(),
      prng: new SeededPrng(seed),
      logSink: stderrSink,
      hostname: hostname(),
      absolutePath: (p) => resolve(p),
    });
  } catch (error) {
    // Conditions an operator fixes get one line; anything else is a bug and keeps its stack.
    if (error instanceof NetworkError || error instanceof StartupError) fail(1, error.message);
    if (error instanceof StorageError) fail(1, `start-up failed: ${describeStorageError(error)}`);
    fail(1, `start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  const { broker } = node;

  const where = broker.listeners.map((l) => `${l.name}://${formatHostPort(l.host, l.port)}`).join(", ");
  const dirs = broker.logDirs.join(", ");
  printStdout(`bunka ${version()}: node ${broker.nodeId} of cluster ${broker.clusterId} listening on ${where}; data in ${dirs}`);
  broker.log.info("hot-path core", { core: core.kind, crc32c: crcImplementation });

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
    fail(2, `unknown command "${command}"\n${usage}`);
}
