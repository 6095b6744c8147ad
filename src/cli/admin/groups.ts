/**
 * `bunka groups list|describe|delete|reset-offsets`. Lag is the partition's high watermark
 * (ListOffsets latest) minus the committed offset. reset-offsets prints the plan and changes
 * nothing unless --execute is given (as Kafka's tool); the commit is an admin commit, which
 * the coordinator accepts only while the group has no active members.
 */
import { commitGroupOffsets, fetchGroupOffsets, listGroups, type CommittedOffset } from "../../client/admin.ts";
import { type CommandContext, intValue, must, printJson, table, UsageError, value } from "./common.ts";
import { deleteGroups, describeGroup, describeTopics, listOffsets, offsetKey } from "./requests.ts";

export const groupsUsage = `usage:
  bunka groups list
  bunka groups describe GROUP
  bunka groups delete GROUP
  bunka groups reset-offsets GROUP (--topic TOPIC[:P,P...] ... | --all-topics)
        (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME | --shift-by N) [--execute]
TIME: epoch milliseconds or ISO-8601. Without --execute the plan is printed and nothing changes.
every command: --bootstrap-server HOST:PORT[,...] [--json] [--timeout-ms MS]`;

export const groupsSpecs = {
  list: { positional: [0, 0] },
  describe: { positional: [1, 1], positionalName: "a group id" },
  delete: { positional: [1, 1], positionalName: "a group id" },
  "reset-offsets": {
    values: ["--to-offset", "--to-datetime", "--shift-by"],
    repeatable: ["--topic"],
    bools: ["--all-topics", "--to-earliest", "--to-latest", "--execute"],
    positional: [1, 1],
    positionalName: "a group id",
  },
} as const;

export async function runGroups(sub: string, ctx: CommandContext): Promise<void> {
  switch (sub) {
    case "list":
      return list(ctx);
    case "describe":
      return describe(ctx);
    case "delete":
      return remove(ctx);
    case "reset-offsets":
      return reset(ctx);
    default:
      throw new UsageError(`groups: unknown command "${sub}" (list, describe, delete, reset-offsets)`);
  }
}

async function list(ctx: CommandContext): Promise<void> {
  await ctx.connect();
  const groups = must("groups list", await listGroups(ctx.cluster));
  if (ctx.json) return printJson(ctx.io, groups);
  for (const line of table(["GROUP", "STATE", "PROTOCOL-TYPE"], groups.map((g) => [g.groupId, g.state === "" ? "-" : g.state, g.protocolType === "" ? "-" : g.protocolType]))) ctx.io.out(line);
}

interface OffsetRow {
  topic: string;
  partition: number;
  committed: number;
  logEndOffset: number;
  lag: number;
  memberId: string | null;
}

async function describe(ctx: CommandContext): Promise<void> {
  const groupId = ctx.args.positional[0]!;
  await ctx.connect();
  const g = must(`groups describe ${groupId}`, await describeGroup(ctx.cluster, groupId));
  if (g.state === "Dead") throw new UsageError(`groups describe ${groupId}: GROUP_ID_NOT_FOUND: the group does not exist (bunka groups list shows the groups)`).withCode(1);
  const committed = must(`groups describe ${groupId}: offsets`, await fetchGroupOffsets(ctx.cluster, groupId, ctx.sleep));
  const ends = committed.length === 0 ? new Map<string, number>() : must(`groups describe ${groupId}: log end offsets`, await listOffsets(ctx.cluster, committed, -1));
  const owner = new Map<string, string>();
  for (const m of g.members) for (const a of m.assignment) for (const p of a.partitions) owner.set(offsetKey(a.topic, p), m.memberId);
  const rows: OffsetRow[] = committed
    .map((c) => {
      const end = ends.get(offsetKey(c.topic, c.partition)) ?? -1;
      return { topic: c.topic, partition: c.partition, committed: c.offset, logEndOffset: end, lag: end < 0 ? -1 : Math.max(0, end - c.offset), memberId: owner.get(offsetKey(c.topic, c.partition)) ?? null };
    })
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  const out = { ...g, offsets: rows, totalLag: rows.reduce((s, r) => s + Math.max(0, r.lag), 0) };
  if (ctx.json) return printJson(ctx.io, out);
  ctx.io.out(`Group: ${g.groupId}  State: ${g.state}  Coordinator: ${g.coordinator}  Protocol: ${g.protocolType === "" ? "-" : g.protocolType}/${g.protocol === "" ? "-" : g.protocol}  Members: ${g.members.length}  Total lag: ${out.totalLag}`);
  if (g.members.length > 0) {
    ctx.io.out("");
    const members = g.members.map((m) => [m.memberId, m.clientId, m.clientHost, m.assignment.map((a) => `${a.topic}:${a.partitions.join(",")}`).join(" ") || "-"]);
    for (const line of table(["MEMBER", "CLIENT-ID", "HOST", "ASSIGNMENT"], members)) ctx.io.out(line);
  }
  ctx.io.out("");
  for (const line of table(["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"], rows.map((r) => [r.topic, r.partition, r.committed, r.logEndOffset, r.lag, r.memberId ?? "-"]))) ctx.io.out(line);
}

async function remove(ctx: CommandContext): Promise<void> {
  const groupId = ctx.args.positional[0]!;
  await ctx.connect();
  must(`groups delete ${groupId}`, await deleteGroups(ctx.cluster, groupId));
  if (ctx.json) return printJson(ctx.io, { deleted: groupId });
  ctx.io.out(`deleted group ${groupId}`);
}

type Target = { kind: "earliest" } | { kind: "latest" } | { kind: "offset"; offset: number } | { kind: "datetime"; ms: number } | { kind: "shift"; by: number };

function target(ctx: CommandContext): Target {
  const a = ctx.args;
  const chosen: Target[] = [];
  if (a.bools.has("--to-earliest")) chosen.push({ kind: "earliest" });
  if (a.bools.has("--to-latest")) chosen.push({ kind: "latest" });
  const offset = intValue(a, "--to-offset", 0, Number.MAX_SAFE_INTEGER);
  if (offset !== undefined) chosen.push({ kind: "offset", offset });
  const shift = intValue(a, "--shift-by", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (shift !== undefined) chosen.push({ kind: "shift", by: shift });
  const when = value(a, "--to-datetime");
  if (when !== undefined) {
    const ms = /^\d+$/.test(when) ? Number(when) : Date.parse(when);
    if (!Number.isSafeInteger(ms) || ms < 0) throw new UsageError(`--to-datetime ${JSON.stringify(when)} is neither epoch milliseconds nor ISO-8601`);
    chosen.push({ kind: "datetime", ms });
  }
  if (chosen.length !== 1) throw new UsageError("groups reset-offsets: give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by");
  return chosen[0]!;
}

async function reset(ctx: CommandContext): Promise<void> {
  const groupId = ctx.args.positional[0]!;
  const to = target(ctx);
  const topicArgs = ctx.args.values.get("--topic") ?? [];
  const all = ctx.args.bools.has("--all-topics");
  if ((topicArgs.length === 0) === !all) throw new UsageError("groups reset-offsets: give --topic TOPIC[:P,...] (repeatable) or --all-topics");
  await ctx.connect();
  const committed = must(`groups reset-offsets ${groupId}: offsets`, await fetchGroupOffsets(ctx.cluster, groupId, ctx.sleep));
  const current = new Map(committed.map((c) => [offsetKey(c.topic, c.partition), c]));
  let parts: { topic: string; partition: number }[];
  if (all) parts = committed.map((c) => ({ topic: c.topic, partition: c.partition }));
  else {
    parts = [];
    const md = must(`groups reset-offsets ${groupId}: metadata`, await describeTopics(ctx.cluster, topicArgs.map((t) => t.split(":")[0]!)));
    for (const arg of topicArgs) {
      const [topic, list] = arg.split(":") as [string, string | undefined];
      const t = md.topics.find((x) => x.name === topic);
      if (t === undefined || t.partitions.length === 0) throw new UsageError(`groups reset-offsets: topic ${topic} does not exist (bunka topics list shows the topics)`).withCode(1);
      const known = t.partitions.map((p) => p.partitionIndex).sort((a, b) => a - b);
      const chosen = list === undefined ? known : list.split(",").map((s) => Number(s));
      for (const p of chosen) {
        if (!known.includes(p)) throw new UsageError(`groups reset-offsets: ${topic} has no partition ${JSON.stringify(p)}`);
        parts.push({ topic, partition: p });
      }
    }
  }
  if (parts.length === 0) throw new UsageError(`groups reset-offsets ${groupId}: the group has no committed offsets; name --topic`).withCode(1);
  const earliest = must("groups reset-offsets: earliest offsets", await listOffsets(ctx.cluster, parts, -2));
  const latest = must("groups reset-offsets: latest offsets", await listOffsets(ctx.cluster, parts, -1));
  const atTime = to.kind === "datetime" ? must("groups reset-offsets: offsets by time", await listOffsets(ctx.cluster, parts, to.ms)) : null;
  const plan: (CommittedOffset & { previous: number | null })[] = parts.map((p) => {
    const key = offsetKey(p.topic, p.partition);
    const lo = earliest.get(key)!;
    const hi = latest.get(key)!;
    const prev = current.get(key)?.offset ?? null;
    let next: number;
    switch (to.kind) {
      case "earliest":
        next = lo;
        break;
      case "latest":
        next = hi;
        break;
      case "offset":
        next = to.offset;
        break;
      case "shift":
        next = (prev ?? lo) + to.by;
        break;
      case "datetime": {
        const o = atTime!.get(key) ?? -1;
        next = o < 0 ? hi : o;
        break;
      }
    }
    next = Math.min(hi, Math.max(lo, next));
    return { topic: p.topic, partition: p.partition, offset: next, leaderEpoch: -1, metadata: null, previous: prev };
  });
  const execute = ctx.args.bools.has("--execute");
  if (execute) must(`groups reset-offsets ${groupId}`, await commitGroupOffsets(ctx.cluster, groupId, plan, ctx.sleep));
  if (ctx.json) return printJson(ctx.io, { group: groupId, executed: execute, offsets: plan.map((p) => ({ topic: p.topic, partition: p.partition, previous: p.previous, offset: p.offset })) });
  for (const line of table(["TOPIC", "PARTITION", "CURRENT", "NEW"], plan.map((p) => [p.topic, p.partition, p.previous ?? "-", p.offset]))) ctx.io.out(line);
  ctx.io.out(execute ? `reset ${plan.length} offsets of group ${groupId}` : "dry run: nothing changed (add --execute to commit these offsets)");
}
