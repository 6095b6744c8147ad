/**
 * `bunka mirror`: cross-cluster mirroring (src/mirror/), configured with MirrorMaker 2's
 * property names.
 *
 *   bunka mirror --config FILE                          run until SIGTERM/SIGINT
 *   bunka mirror status --config FILE                   each flow's topics, partitions and lag
 *   bunka mirror translate-offsets --config FILE --group G [--flow A->B]
 *
 * Exit codes: 0 done (a stopped mirror included), 1 the configuration was refused or a
 * cluster failed a request (one line naming the cause), 2 bad command line.
 */
import { readFileSync } from "node:fs";
import type { ClusterClient } from "../client/bootstrap.ts";
import { completeBatches, describeFailure, fetchPartition, listOffset, OffsetSpec } from "../client/partition-io.ts";
import { type MirrorConfig, parseMirrorConfig } from "../mirror/config.ts";
import { Flow, FlowIncident, heartbeatRecord } from "../mirror/flow.ts";
import { Mirror } from "../mirror/mirror.ts";
import type { MirrorEnv } from "../mirror/partition-mirror.ts";
import { heartbeatsTopic, shouldMirrorTopic, targetTopicName } from "../mirror/policy.ts";
import { systemClock } from "../platform/bun/clock.ts";
import { bunCompression } from "../platform/bun/compression.ts";
import { cryptoPrng } from "../platform/bun/crypto-prng.ts";
import { bunNetwork } from "../platform/bun/network.ts";
import { onTerminationSignal, printStdout, stderrSink } from "../platform/bun/process.ts";
import { isLogLevel, Logger } from "../util/log.ts";

export const mirrorUsage = `usage:
  bunka mirror --config FILE                          mirror topics between clusters until stopped
  bunka mirror status --config FILE                   each flow's topics, partitions and lag
  bunka mirror translate-offsets --config FILE --group G [--flow SOURCE->TARGET]
FILE is a MirrorMaker 2 properties file (clusters = A, B; A.bootstrap.servers = ...;
A->B.enabled = true; A->B.topics = ...). SIGTERM or SIGINT stops the mirror cleanly.
BUNKA_MIRROR_LOG_LEVEL=debug|info|warn|error sets the log level (info).`;

class UsageError extends Error {}

interface Args {
  command: "run" | "status" | "translate-offsets";
  config: string;
  group: string | null;
  flow: string | null;
}

function parseArgs(argv: readonly string[]): Args | "help" {
  let command: Args["command"] = "run";
  let rest = argv;
  if (argv[0] === "status" || argv[0] === "translate-offsets") {
    command = argv[0];
    rest = argv.slice(1);
  }
  const values = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === "--help" || a === "-h") return "help";
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    const allowed = command === "translate-offsets" ? ["--config", "--group", "--flow"] : ["--config"];
    if (!allowed.includes(name)) throw new UsageError(`unknown argument "${a}" (bunka mirror --help shows the usage)`);
    const v = eq > 0 && a.startsWith("--") ? a.slice(eq + 1) : rest[++i];
    if (v === undefined) throw new UsageError(`${name} needs a value`);
    if (values.has(name)) throw new UsageError(`${name} given twice`);
    values.set(name, v);
  }
  const config = values.get("--config");
  if (config === undefined) throw new UsageError("mirror needs --config FILE");
  const group = values.get("--group") ?? null;
  if (command === "translate-offsets" && group === null) throw new UsageError("translate-offsets needs --group G");
  return { command, config, group, flow: values.get("--flow") ?? null };
}

function env(): MirrorEnv {
  const level = process.env.BUNKA_MIRROR_LOG_LEVEL ?? "info";
  return {
    clock: systemClock,
    network: bunNetwork,
    prng: cryptoPrng,
    compression: bunCompression,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    log: new Logger({ sink: stderrSink, level: isLogLevel(level) ? level : "info" }).child({ component: "mirror" }),
  };
}

/** Runs `bunka mirror ...`; resolves with the exit code. */
export async function runMirrorCli(argv: readonly string[]): Promise<number> {
  const err = (line: string): void => stderrSink(`bunka mirror: ${line}`, "error");
  let args: Args | "help";
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(e.message);
    return 2;
  }
  if (args === "help") {
    printStdout(mirrorUsage);
    return 0;
  }
  let text: string;
  try {
    text = readFileSync(args.config, "utf8");
  } catch (e) {
    err(`cannot read --config ${args.config}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const parsed = parseMirrorConfig(text, args.config);
  if (!parsed.ok) {
    err(parsed.message);
    return 1;
  }
  const config = parsed.config;
  try {
    switch (args.command) {
      case "run":
        return await runMirror(config);
      case "status":
        return await status(config, err);
      case "translate-offsets":
        return await translate(config, args.group as string, args.flow, err);
    }
  } catch (e) {
    if (e instanceof FlowIncident) {
      err(e.message);
      return 1;
    }
    throw e;
  }
}

async function runMirror(config: MirrorConfig): Promise<number> {
  const e = env();
  const mirror = new Mirror(e, config);
  onTerminationSignal((signal) => {
    e.log.info("signal received; stopping", { signal });
    mirror.stop();
  });
  e.log.info("mirror starting", { flows: config.flows.map((f) => `${f.source}->${f.target}`).join(",") });
  await mirror.run();
  e.log.info("mirror stopped");
  return 0;
}

/** Connects (once, no retry) for the one-shot commands; null after printing why not. */
async function openFlows(config: MirrorConfig, onlyFlow: string | null, err: (l: string) => void): Promise<{ mirror: Mirror; flows: Flow[] } | null> {
  const e = env();
  const mirror = new Mirror(e, config);
  const wanted = config.flows.filter((f) => onlyFlow === null || `${f.source}->${f.target}` === onlyFlow);
  if (wanted.length === 0) {
    err(`no enabled flow ${onlyFlow ?? ""}`);
    return null;
  }
  const timer = setTimeout(() => mirror.stop(), 15_000);
  const opened = await mirror.open();
  clearTimeout(timer);
  if (!opened) {
    err("a cluster did not answer within 15 s");
    mirror.close();
    return null;
  }
  const flows = mirror.flows.filter((f) => wanted.includes(f.settings));
  for (const f of flows) {
    const why = await f.loadSyncs();
    if (why !== null) {
      err(`${f.name}: offset syncs: ${why}`);
      mirror.close();
      return null;
    }
  }
  return { mirror, flows };
}

async function translate(config: MirrorConfig, group: string, onlyFlow: string | null, err: (l: string) => void): Promise<number> {
  const opened = await openFlows(config, onlyFlow, err);
  if (opened === null) return 1;
  try {
    printStdout("flow\tsource-topic\tpartition\tsource-offset\ttarget-topic\ttarget-offset");
    for (const f of opened.flows) {
      const list = await f.translateGroups(group, (topic, partition) => f.targetHighWatermark(topic, partition));
      for (const t of list) {
        printStdout(`${f.name}\t${t.sourceTopic}\t${t.partition}\t${t.upstream}\t${t.targetTopic}\t${t.downstream === null ? "untranslatable" : t.downstream}`);
      }
    }
    return 0;
  } finally {
    opened.mirror.close();
  }
}

/** Time of the newest heartbeat of flow source->target in the target's heartbeats topic, or null. */
async function lastHeartbeat(target: ClusterClient, source: string, targetAlias: string): Promise<number | null> {
  await target.refreshMetadata([heartbeatsTopic]);
  const end = await listOffset(target, { topic: heartbeatsTopic, partition: 0 }, OffsetSpec.latest);
  if (!end.ok || end.value === 0) return null;
  // The last few hundred records are enough: every flow into this cluster writes one a second.
  let newest: number | null = null;
  const from = Math.max(0, end.value - 500);
  const r = await fetchPartition(target, { topic: heartbeatsTopic, partition: 0 }, { fetchOffset: from, maxBytes: 1 << 20 });
  if (!r.ok) return null;
  const want = heartbeatRecord(source, targetAlias, 0).key;
  for (const b of completeBatches(r.value.records, from, 1 << 20).batches) {
    if (b.isControl) continue;
    for (const rec of b.records({ maxBytes: 1 << 22, compression: bunCompression })) {
      if (rec.key !== null && rec.key.length === want.length && rec.key.every((x, i) => x === want[i])) newest = Math.max(newest ?? 0, rec.timestamp);
    }
  }
  return newest;
}

async function status(config: MirrorConfig, err: (l: string) => void): Promise<number> {
  const opened = await openFlows(config, null, err);
  if (opened === null) return 1;
  try {
    const aliases = new Set(config.clusters.keys());
    for (const f of opened.flows) {
      const source = await opened.mirror.connect(f.settings.source);
      const target = await opened.mirror.connect(f.settings.target);
      if (source === null || target === null) return 1;
      const meta = await source.refreshMetadata(null);
      if (!meta.ok) {
        err(`${f.name}: source Metadata: ${meta.error.message}`);
        return 1;
      }
      const topics = meta.value.topics.filter((t) => t.name !== null && t.errorCode === 0 && !t.isInternal && shouldMirrorTopic(f.settings, t.name, aliases));
      printStdout(`flow ${f.name} (${f.settings.policy} policy): ${topics.length} topics`);
      let totalLag = 0;
      for (const t of topics.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : 1))) {
        const name = t.name as string;
        const targetName = targetTopicName(f.settings, name);
        for (const p of [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)) {
          const sHw = await listOffset(source, { topic: name, partition: p.partitionIndex }, OffsetSpec.latest);
          const tHw = await target.refreshMetadata([targetName]).then(() => listOffset(target, { topic: targetName, partition: p.partitionIndex }, OffsetSpec.latest));
          const sync = tHw.ok ? f.syncs.latestAtOrBefore(name, p.partitionIndex, tHw.value) : null;
          let line = `  ${name}-${p.partitionIndex} -> ${targetName}-${p.partitionIndex}: source end ${sHw.ok ? sHw.value : `? (${describeFailure(sHw.error)})`}`;
          line += `, target end ${tHw.ok ? tHw.value : `? (${describeFailure(tHw.error)})`}`;
          if (sHw.ok && tHw.ok && sync !== null) {
            const copied = sync.upstream + (tHw.value - sync.downstream);
            const lag = Math.max(0, sHw.value - copied);
            totalLag += lag;
            line += `, copied to source offset ${copied}, lag ${lag} records`;
          } else if (sHw.ok && tHw.ok) {
            line += ", not started";
          }
          printStdout(line);
        }
      }
      printStdout(`  total lag ${totalLag} records`);
      const beat = await lastHeartbeat(target, f.settings.source, f.settings.target);
      printStdout(beat === null ? "  no heartbeat on the target (emit.heartbeats.enabled = false, or the mirror never ran)" : `  last heartbeat ${((Date.now() - beat) / 1000).toFixed(1)} s ago`);
    }
    return 0;
  } finally {
    opened.mirror.close();
  }
}
