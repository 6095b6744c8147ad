/**
 * `bunka cluster describe|health` and `bunka log-dirs describe`.
 *
 * Brokers come from DescribeCluster, which lists the registered, unfenced brokers; a node the
 * metadata quorum knows (a voter, or an observer that fetched) but DescribeCluster does not
 * list is shown as fenced (registered and fenced, or down). The quorum comes from
 * DescribeQuorum: leader, epoch, high watermark, and each voter's log end and lag behind it.
 *
 * Health: unhealthy (exit 3, one line per reason) when a partition is offline or
 * under-replicated, a node the quorum knows is fenced or down, or the quorum has no leader.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import type { DescribeQuorumResponse } from "../../protocol/messages/describe-quorum-response.ts";
import { type CommandContext, CommandError, ExitCode, failure, ids, must, printJson, table, UsageError } from "./common.ts";
import { describeCluster, describeLogDirs, describeQuorum, describeTopics } from "./requests.ts";
import { topicInfo } from "./topics.ts";

export const clusterUsage = `usage:
  bunka cluster describe      brokers (rack, fenced), controller, metadata quorum (voters, lag)
  bunka cluster health        exit 0 when healthy; 3 and one line per reason when a partition is
                              offline or under-replicated, a broker is fenced or down, or the
                              quorum has no leader (a readiness probe)
  bunka log-dirs describe [--broker ID ...]
every command: --bootstrap-server HOST:PORT[,...] [--json] [--timeout-ms MS]
(bunka cluster --nodes N starts a local cluster: bunka --help)`;

export const clusterSpecs = {
  describe: { positional: [0, 0] },
  health: { positional: [0, 0] },
} as const;

export const logDirsSpecs = {
  describe: { repeatable: ["--broker"], positional: [0, 0] },
} as const;

interface QuorumView {
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  voters: { id: number; logEndOffset: number; lag: number; lastFetchMsAgo: number | null }[];
  observers: { id: number; logEndOffset: number; lag: number; lastFetchMsAgo: number | null }[];
}

function quorumView(q: DescribeQuorumResponse, nowMs: number): QuorumView {
  const p = q.topics[0]!.partitions[0]!;
  const replica = (r: (typeof p.currentVoters)[number]) => ({
    id: r.replicaId,
    logEndOffset: r.logEndOffset,
    lag: Math.max(0, p.highWatermark - r.logEndOffset),
    lastFetchMsAgo: r.lastFetchTimestamp < 0 ? null : Math.max(0, nowMs - r.lastFetchTimestamp),
  });
  return { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, highWatermark: p.highWatermark, voters: p.currentVoters.map(replica), observers: p.observers.map(replica) };
}

async function gather(ctx: CommandContext, what: string) {
  await ctx.connect();
  const cluster = must(what, await describeCluster(ctx.cluster));
  const q = await describeQuorum(ctx.cluster);
  // Apache Kafka answers DescribeQuorum only to clients allowed on the cluster; bunka always.
  const quorum = q.ok ? quorumView(q.value, ctx.nowMs()) : null;
  const quorumError = q.ok ? null : failure("DescribeQuorum", q.error).message;
  const listed = new Set(cluster.brokers.map((b) => b.brokerId));
  const known = new Set([...(quorum?.voters ?? []), ...(quorum?.observers ?? [])].map((r) => r.id));
  const brokers = [
    ...cluster.brokers.map((b) => ({ id: b.brokerId, host: b.host, port: b.port, rack: b.rack, fenced: false })),
    ...[...known].filter((id) => !listed.has(id)).map((id) => ({ id, host: null, port: null, rack: null, fenced: true })),
  ].sort((a, b) => a.id - b.id);
  return { clusterId: cluster.clusterId, controllerId: cluster.controllerId, brokers, quorum, quorumError };
}

export async function runCluster(sub: string, ctx: CommandContext): Promise<void> {
  switch (sub) {
    case "describe":
      return describe(ctx);
    case "health":
      return health(ctx);
    default:
      throw new UsageError(`cluster: unknown command "${sub}" (describe, health; or --nodes N for a local cluster)`);
  }
}

async function describe(ctx: CommandContext): Promise<void> {
  const d = await gather(ctx, "cluster describe");
  if (ctx.json) return printJson(ctx.io, d);
  ctx.io.out(`Cluster: ${d.clusterId}  Controller: ${d.controllerId}`);
  ctx.io.out("");
  for (const line of table(["BROKER", "HOST", "PORT", "RACK", "STATE"], d.brokers.map((b) => [b.id, b.host ?? "-", b.port ?? "-", b.rack ?? "-", b.fenced ? "FENCED" : "ok"]))) ctx.io.out(line);
  ctx.io.out("");
  const q = d.quorum;
  if (q === null) {
    ctx.io.out(`Quorum: not described (${d.quorumError})`);
    return;
  }
  ctx.io.out(`Quorum: leader ${q.leaderId < 0 ? "none" : q.leaderId}  epoch ${q.leaderEpoch}  high watermark ${q.highWatermark}`);
  const rows = [...q.voters.map((v) => ({ ...v, role: v.id === q.leaderId ? "leader" : "voter" })), ...q.observers.map((o) => ({ ...o, role: "observer" }))];
  for (const line of table(["NODE", "ROLE", "LOG-END", "LAG", "LAST-FETCH"], rows.map((r) => [r.id, r.role, r.logEndOffset, r.lag, r.lastFetchMsAgo === null ? "-" : `${r.lastFetchMsAgo} ms ago`]))) ctx.io.out(line);
}

async function health(ctx: CommandContext): Promise<void> {
  const d = await gather(ctx, "cluster health");
  const md = must("cluster health: metadata", await describeTopics(ctx.cluster, null));
  const problems: string[] = [];
  for (const t of md.topics) {
    if (t.errorCode !== ErrorCode.NONE) continue;
    const info = topicInfo(t);
    const offline = info.partitions.filter((p) => p.offline).map((p) => p.partition);
    const under = info.partitions.filter((p) => !p.offline && p.underReplicated);
    if (offline.length > 0) problems.push(`offline partitions: ${info.name} ${ids(offline)} (no leader: their replicas' brokers are down or fenced)`);
    if (under.length > 0) problems.push(`under-replicated partitions: ${info.name} ${under.map((p) => `${p.partition} (isr ${ids(p.isr)} of ${ids(p.replicas)})`).join(", ")}`);
  }
  for (const b of d.brokers) if (b.fenced) problems.push(`broker ${b.id} is fenced or down (known to the metadata quorum, not serving)`);
  if (d.quorum === null) problems.push(`metadata quorum not described: ${d.quorumError}`);
  else if (d.quorum.leaderId < 0) problems.push("the metadata quorum has no leader (an election is in progress, or a majority of voters is down)");
  if (ctx.json) printJson(ctx.io, { healthy: problems.length === 0, problems, brokers: d.brokers.length, quorumLeader: d.quorum?.leaderId ?? -1 });
  if (problems.length > 0) {
    if (!ctx.json) for (const p of problems) ctx.io.err(`unhealthy: ${p}`);
    throw new CommandError("", ExitCode.unhealthy);
  }
  if (!ctx.json) ctx.io.out(`healthy: ${d.brokers.length} brokers serving, quorum leader ${d.quorum!.leaderId} at epoch ${d.quorum!.leaderEpoch}, no offline or under-replicated partitions`);
}

export async function runLogDirs(sub: string, ctx: CommandContext): Promise<void> {
  if (sub !== "describe") throw new UsageError(`log-dirs: unknown command "${sub}" (describe)`);
  const wanted = (ctx.args.values.get("--broker") ?? []).map((v) => {
    if (!/^\d+$/.test(v)) throw new UsageError(`--broker ${JSON.stringify(v)} is not a broker id`);
    return Number(v);
  });
  await ctx.connect();
  const brokers = wanted.length > 0 ? wanted : ctx.cluster.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
  const out: { broker: number; logDir: string; error: string | null; totalBytes: number; usableBytes: number; partitions: { topic: string; partition: number; sizeBytes: number; offsetLag: number }[] }[] = [];
  for (const id of brokers) {
    if (ctx.cluster.nodes.endpoint(id) === undefined) throw new CommandError(`log-dirs describe: broker ${id} is not in the cluster's metadata (bunka cluster describe lists the brokers)`);
    for (const dir of must(`log-dirs describe: broker ${id}`, await describeLogDirs(ctx.cluster, id))) {
      out.push({
        broker: id,
        logDir: dir.logDir,
        error: dir.errorCode === ErrorCode.NONE ? null : failure("", { errorCode: dir.errorCode, message: "" }).message.replace(/^: /, ""),
        totalBytes: dir.totalBytes,
        usableBytes: dir.usableBytes,
        partitions: dir.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, sizeBytes: p.partitionSize, offsetLag: p.offsetLag }))).sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1)),
      });
    }
  }
  if (ctx.json) return printJson(ctx.io, out);
  const rows = out.map((d) => [d.broker, d.logDir, d.error ?? "ok", d.partitions.length, d.partitions.reduce((s, p) => s + p.sizeBytes, 0), d.totalBytes < 0 ? "-" : d.totalBytes, d.usableBytes < 0 ? "-" : d.usableBytes]);
  for (const line of table(["BROKER", "LOG-DIR", "STATE", "PARTITIONS", "SIZE-BYTES", "TOTAL-BYTES", "USABLE-BYTES"], rows)) ctx.io.out(line);
}
