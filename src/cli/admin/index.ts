/**
 * `bunka topics|groups|cluster describe|cluster health|log-dirs|produce|consume`: the admin
 * CLI, a Kafka client on src/client/ (so it works against Apache Kafka too). This module
 * parses the command line, connects through `--bootstrap-server` (default 127.0.0.1:9092),
 * runs the command and turns every outcome into an exit code and at most one error line
 * (common.ts has the codes). Human tables by default, `--json` for scripts.
 */
import { createInterface } from "node:readline";
import { ClusterClient, parseBootstrapServers } from "../../client/bootstrap.ts";
import { systemClock } from "../../platform/bun/clock.ts";
import { bunNetwork } from "../../platform/bun/network.ts";
import { SeededPrng } from "../../platform/prng.ts";
import { clusterSpecs, clusterUsage, logDirsSpecs, runCluster, runLogDirs } from "./cluster.ts";
import { type AdminIo, type CommandContext, CommandError, ExitCode, failure, type FlagSpec, intValue, parseArgs, UsageError, value } from "./common.ts";
import { groupsSpecs, groupsUsage, runGroups } from "./groups.ts";
import { consumeSpec, produceSpec, recordsUsage, runConsume, runProduce } from "./records.ts";
import { runTopics, topicsSpecs, topicsUsage } from "./topics.ts";

export const adminCommands: ReadonlySet<string> = new Set(["topics", "groups", "log-dirs", "produce", "consume"]);
/** `bunka cluster SUB` is the admin CLI for these; anything else starts a local cluster. */
export const clusterAdminCommands: ReadonlySet<string> = new Set(["describe", "health"]);

const defaultBootstrap = "127.0.0.1:9092";
const defaultTimeoutMs = 30_000;

interface Route {
  readonly usage: string;
  readonly specs: Readonly<Record<string, FlagSpec>> | null;
  readonly single?: FlagSpec;
  readonly run: (sub: string, ctx: CommandContext) => Promise<void>;
}

const routes: Readonly<Record<string, Route>> = {
  topics: { usage: topicsUsage, specs: topicsSpecs, run: runTopics },
  groups: { usage: groupsUsage, specs: groupsSpecs, run: runGroups },
  cluster: { usage: clusterUsage, specs: clusterSpecs, run: runCluster },
  "log-dirs": { usage: clusterUsage, specs: logDirsSpecs, run: runLogDirs },
  produce: { usage: recordsUsage, specs: null, single: produceSpec, run: (_sub, ctx) => runProduce(ctx) },
  consume: { usage: recordsUsage, specs: null, single: consumeSpec, run: (_sub, ctx) => runConsume(ctx) },
};

async function* stdinLines(): AsyncIterable<string> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) yield line;
}

/** Runs one admin command; resolves with the process exit code. */
export async function runAdminCli(command: string, args: readonly string[], io: AdminIo): Promise<number> {
  const route = routes[command];
  if (route === undefined) {
    io.err(`bunka: unknown command "${command}"`);
    return ExitCode.usage;
  }
  if (args.includes("--help") || args.includes("-h")) {
    io.out(route.usage);
    return ExitCode.ok;
  }
  let cluster: ClusterClient | null = null;
  try {
    let sub = "";
    let rest = args;
    let spec: FlagSpec;
    if (route.specs === null) spec = route.single!;
    else {
      sub = args[0] ?? "";
      rest = args.slice(1);
      const s = route.specs[sub];
      if (s === undefined) throw new UsageError(`${command}: ${sub === "" || sub.startsWith("-") ? "needs a command first" : `unknown command "${sub}"`} (${Object.keys(route.specs).join(", ")}; bunka ${command} --help)`);
      spec = s;
    }
    const parsed = parseArgs(sub === "" ? command : `${command} ${sub}`, rest, spec);
    const bootstrap = value(parsed, "--bootstrap-server") ?? defaultBootstrap;
    const servers = parseBootstrapServers(bootstrap);
    if (!servers.ok) throw new UsageError(`--bootstrap-server: ${servers.reason}`);
    const timeoutMs = intValue(parsed, "--timeout-ms", 1, 3_600_000) ?? defaultTimeoutMs;
    const connect = async (): Promise<void> => {
      if (cluster !== null) return;
      const connected = await ClusterClient.connect({
        network: bunNetwork,
        clock: systemClock,
        prng: new SeededPrng(crypto.getRandomValues(new Uint32Array(1))[0] ?? 0),
        bootstrapServers: bootstrap,
        config: { clientId: "bunka-admin", requestTimeoutMs: timeoutMs, connectionSetupTimeoutMs: Math.min(timeoutMs, 10_000) },
      });
      if (!connected.ok) throw failure(`cannot reach ${bootstrap}`, connected.error);
      cluster = connected.value;
    };
    await route.run(sub, {
      get cluster(): ClusterClient {
        if (cluster === null) throw new Error("admin command used the cluster before connect()");
        return cluster;
      },
      connect,
      args: parsed,
      io,
      json: parsed.bools.has("--json"),
      timeoutMs,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      nowMs: () => Date.now(),
      stdinLines,
    });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommandError) {
      if (error.message !== "") io.err(`bunka: ${error.message}`);
      return error.exitCode;
    }
    io.err(`bunka: ${command} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return ExitCode.failed;
  } finally {
    (cluster as ClusterClient | null)?.close();
  }
}
