/**
 * `bunka topics list|describe|create|alter|delete`. Describe marks each partition offline (no
 * leader) or under-replicated (ISR smaller than its replicas) and lists the configs set on the
 * topic itself (not broker defaults).
 */
import { createTopic } from "../../client/admin.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import type { MetadataResponseTopic } from "../../protocol/messages/metadata-response.ts";
import { type CommandContext, failure, ids, intValue, keyValues, must, printJson, table, UsageError } from "./common.ts";
import { alterConfigs, ConfigOp, createPartitions, deleteTopics, describeConfigs, describeTopics, topicResourceType } from "./requests.ts";

export const topicsUsage = `usage:
  bunka topics list [--internal]
  bunka topics describe [TOPIC ...] [--under-replicated] [--offline]
  bunka topics create TOPIC [--partitions N] [--replication-factor N] [--config KEY=VALUE ...]
  bunka topics alter TOPIC [--partitions N] [--config KEY=VALUE ...] [--delete-config KEY ...]
  bunka topics delete TOPIC ...
every command: --bootstrap-server HOST:PORT[,...] [--json] [--timeout-ms MS]`;

export const topicsSpecs = {
  list: { bools: ["--internal"], positional: [0, 0] },
  describe: { bools: ["--under-replicated", "--offline"], positional: [0, 10_000] },
  create: { values: ["--partitions", "--replication-factor"], repeatable: ["--config"], positional: [1, 1], positionalName: "a topic name" },
  alter: { values: ["--partitions"], repeatable: ["--config", "--delete-config"], positional: [1, 1], positionalName: "a topic name" },
  delete: { positional: [1, 10_000], positionalName: "a topic name" },
} as const;

export interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  offline: boolean;
  underReplicated: boolean;
}

export interface TopicInfo {
  name: string;
  topicId: string;
  internal: boolean;
  partitions: PartitionInfo[];
  replicationFactor: number;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function topicInfo(t: MetadataResponseTopic): TopicInfo {
  const partitions = [...t.partitions]
    .sort((a, b) => a.partitionIndex - b.partitionIndex)
    .map((p) => ({
      partition: p.partitionIndex,
      leader: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicaNodes,
      isr: p.isrNodes,
      offlineReplicas: p.offlineReplicas,
      offline: p.leaderId < 0,
      underReplicated: p.isrNodes.length < p.replicaNodes.length,
    }));
  return { name: t.name ?? "", topicId: t.topicId, internal: t.isInternal, partitions, replicationFactor: partitions[0]?.replicas.length ?? 0 };
}

export async function runTopics(sub: string, ctx: CommandContext): Promise<void> {
  switch (sub) {
    case "list":
      return list(ctx);
    case "describe":
      return describe(ctx);
    case "create":
      return create(ctx);
    case "alter":
      return alter(ctx);
    case "delete":
      return remove(ctx);
    default:
      throw new UsageError(`topics: unknown command "${sub}" (list, describe, create, alter, delete)`);
  }
}

async function list(ctx: CommandContext): Promise<void> {
  await ctx.connect();
  const md = must("topics list", await describeTopics(ctx.cluster, null));
  const topics = md.topics.map(topicInfo).filter((t) => ctx.args.bools.has("--internal") || !t.internal).sort(byName);
  if (ctx.json) return printJson(ctx.io, topics.map((t) => ({ name: t.name, topicId: t.topicId, internal: t.internal, partitions: t.partitions.length, replicationFactor: t.replicationFactor })));
  for (const line of table(["TOPIC", "PARTITIONS", "REPLICATION", "INTERNAL"], topics.map((t) => [t.name, t.partitions.length, t.replicationFactor, t.internal ? "yes" : "no"]))) ctx.io.out(line);
}

async function describe(ctx: CommandContext): Promise<void> {
  const names = ctx.args.positional;
  await ctx.connect();
  const md = must("topics describe", await describeTopics(ctx.cluster, names.length === 0 ? null : names));
  for (const t of md.topics) if (t.errorCode !== ErrorCode.NONE) throw failure(`topics describe ${t.name ?? ""}`, { errorCode: t.errorCode, message: "" });
  const onlyUnder = ctx.args.bools.has("--under-replicated");
  const onlyOffline = ctx.args.bools.has("--offline");
  const out: (TopicInfo & { configs: Record<string, string | null> })[] = [];
  for (const t of md.topics.map(topicInfo).sort(byName)) {
    if (names.length === 0 && t.internal) continue;
    const partitions = t.partitions.filter((p) => (!onlyUnder && !onlyOffline) || (onlyUnder && p.underReplicated) || (onlyOffline && p.offline));
    if ((onlyUnder || onlyOffline) && partitions.length === 0) continue;
    const configs = must(`topics describe ${t.name}: configs`, await describeConfigs(ctx.cluster, topicResourceType, t.name));
    out.push({ ...t, partitions, configs: Object.fromEntries(configs.filter((c) => c.source === 1).map((c) => [c.name, c.value])) });
  }
  if (ctx.json) return printJson(ctx.io, out);
  out.forEach((t, i) => {
    if (i > 0) ctx.io.out("");
    const configText = Object.entries(t.configs).map(([k, v]) => `${k}=${v ?? "(sensitive)"}`).join(",");
    ctx.io.out(`Topic: ${t.name}  TopicId: ${t.topicId}  Partitions: ${t.partitions.length}  ReplicationFactor: ${t.replicationFactor}  Configs: ${configText === "" ? "-" : configText}`);
    const rows = t.partitions.map((p) => [p.partition, p.leader < 0 ? "none" : p.leader, p.leaderEpoch, ids(p.replicas), ids(p.isr), p.offline ? "OFFLINE" : p.underReplicated ? "UNDER-REPLICATED" : "ok"]);
    for (const line of table(["  PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "STATUS"], rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]))) ctx.io.out(line);
  });
}

async function create(ctx: CommandContext): Promise<void> {
  const name = ctx.args.positional[0]!;
  const partitions = intValue(ctx.args, "--partitions", 1) ?? -1;
  const replicationFactor = intValue(ctx.args, "--replication-factor", 1, 32_767) ?? -1;
  const configs = keyValues(ctx.args, "--config");
  await ctx.connect();
  const created = must(`topics create ${name}`, await createTopic(ctx.cluster, { name, numPartitions: partitions, replicationFactor, configs }, ctx.timeoutMs));
  if (ctx.json) return printJson(ctx.io, { name, topicId: created.topicId });
  ctx.io.out(`created topic ${name} (id ${created.topicId})`);
}

async function alter(ctx: CommandContext): Promise<void> {
  const name = ctx.args.positional[0]!;
  const partitions = intValue(ctx.args, "--partitions", 1);
  const set = keyValues(ctx.args, "--config");
  const removed = ctx.args.values.get("--delete-config") ?? [];
  if (partitions === undefined && set.size === 0 && removed.length === 0) throw new UsageError("topics alter: nothing to change (--partitions, --config or --delete-config)");
  await ctx.connect();
  const done: string[] = [];
  if (set.size > 0 || removed.length > 0) {
    const changes = [...[...set].map(([k, v]) => ({ name: k, op: ConfigOp.set, value: v })), ...removed.map((k) => ({ name: k, op: ConfigOp.delete, value: null }))];
    must(`topics alter ${name}: configs`, await alterConfigs(ctx.cluster, topicResourceType, name, changes));
    done.push(`configs (${changes.map((c) => (c.op === ConfigOp.set ? `${c.name}=${c.value}` : `-${c.name}`)).join(",")})`);
  }
  if (partitions !== undefined) {
    must(`topics alter ${name}: partitions`, await createPartitions(ctx.cluster, name, partitions, ctx.timeoutMs));
    done.push(`partitions → ${partitions}`);
  }
  if (ctx.json) return printJson(ctx.io, { name, partitions: partitions ?? null, set: Object.fromEntries(set), deleted: removed });
  ctx.io.out(`altered topic ${name}: ${done.join("; ")}`);
}

async function remove(ctx: CommandContext): Promise<void> {
  const names = ctx.args.positional;
  await ctx.connect();
  const results = must("topics delete", await deleteTopics(ctx.cluster, names, ctx.timeoutMs));
  const failed = results.find((r) => r.errorCode !== ErrorCode.NONE);
  if (failed !== undefined) throw failure(`topics delete ${failed.name}`, { errorCode: failed.errorCode, message: failed.message ?? "" });
  if (ctx.json) return printJson(ctx.io, { deleted: names });
  for (const n of names) ctx.io.out(`deleted topic ${n}`);
}
