/**
 * `bunka mirror --config FILE`: the mirror's settings, read from a Java properties file with
 * MirrorMaker 2's key names, so an MM2 `connect-mirror-maker.properties` works as it is.
 *
 * Shape of the file:
 * - `clusters = A, B` names the cluster aliases; `A.bootstrap.servers` each one's brokers, and
 *   `A.<client key>` its client settings (`clientKeys` below; `A.consumer.`, `A.producer.` and
 *   `A.admin.` prefixes are accepted for the same keys, as MM2 passes them to those clients).
 * - A flow `A->B` copies topics of A into B; `A->B.enabled = true` turns it on (MM2's default
 *   is off). Every flow setting (`flowKeys`) may be given at the top level, as the default of
 *   every flow, or as `A->B.<key>` for one flow; the flow's own value wins.
 * - `topics`, `topics.exclude`, `groups`, `groups.exclude`: comma-separated regular
 *   expressions matching whole names (MM2's lists); a name is taken when it matches one of
 *   the first list and none of the exclude list.
 *
 * Unknown keys and bad values refuse the whole file with one message naming `file:line`:
 * a mirror that silently ignored `A->B.topics.exlude` would copy what it was told not to.
 * Keys MM2 has that only tune Kafka Connect (`tasks.max`) are accepted and have no effect.
 *
 * Defaults differ from MM2 in one place: `replication.factor` (MM2: 2) defaults to -1, the
 * target broker's `default.replication.factor`, so a one-node target works unconfigured.
 */
import type { ClientConfig } from "../client/config.ts";
import { parseBootstrapServers } from "../client/bootstrap.ts";
import { parseProperties, type PropertyEntry } from "../util/properties.ts";

export type ReplicationPolicyKind = "default" | "identity";
export type OffsetSyncsLocation = "source" | "target";

export interface ClusterSettings {
  readonly alias: string;
  readonly bootstrapServers: string;
  readonly client: Partial<ClientConfig>;
}

export interface FlowSettings {
  readonly source: string;
  readonly target: string;
  readonly topics: readonly RegExp[];
  readonly topicsExclude: readonly RegExp[];
  readonly groups: readonly RegExp[];
  readonly groupsExclude: readonly RegExp[];
  readonly policy: ReplicationPolicyKind;
  readonly separator: string;
  /** -1: the target broker's default. */
  readonly replicationFactor: number;
  readonly syncTopicConfigs: boolean;
  readonly refreshTopicsIntervalMs: number;
  readonly emitHeartbeats: boolean;
  readonly emitHeartbeatsIntervalMs: number;
  readonly emitCheckpoints: boolean;
  readonly emitCheckpointsIntervalMs: number;
  readonly syncGroupOffsets: boolean;
  readonly syncGroupOffsetsIntervalMs: number;
  readonly refreshGroupsIntervalMs: number;
  readonly offsetSyncsLocation: OffsetSyncsLocation;
}

export interface MirrorConfig {
  readonly clusters: ReadonlyMap<string, ClusterSettings>;
  /** Enabled flows only, in file order of their `enabled` line. */
  readonly flows: readonly FlowSettings[];
}

export type MirrorConfigResult = { readonly ok: true; readonly config: MirrorConfig } | { readonly ok: false; readonly message: string };

/** Cluster aliases at most (each pair may be a flow). */
export const clustersMax = 16;
/** Bounds of the `*.interval.seconds` settings. */
export const intervalSecondsMin = 0.01;
export const intervalSecondsMax = 7 * 24 * 3600;
export const replicationFactorMax = 32;
/**
 * Requests in flight per connection unless `A.max.in.flight.requests.per.connection` says
 * otherwise: every partition of a flow keeps up to 5 produces in flight on the one connection
 * to a target broker, so Kafka's client default of 5 would serialise them.
 */
export const clientInflightDefault = 64;
/** Regular expressions in one list at most. */
export const patternsMax = 1_000;

const aliasRe = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

const policyNames: ReadonlyMap<string, ReplicationPolicyKind> = new Map([
  ["DefaultReplicationPolicy", "default"],
  ["org.apache.kafka.connect.mirror.DefaultReplicationPolicy", "default"],
  ["IdentityReplicationPolicy", "identity"],
  ["org.apache.kafka.connect.mirror.IdentityReplicationPolicy", "identity"],
]);

type FlowKey =
  | "enabled"
  | "topics"
  | "topics.exclude"
  | "groups"
  | "groups.exclude"
  | "replication.policy.class"
  | "replication.policy.separator"
  | "replication.factor"
  | "sync.topic.configs.enabled"
  | "refresh.topics.interval.seconds"
  | "emit.heartbeats.enabled"
  | "emit.heartbeats.interval.seconds"
  | "emit.checkpoints.enabled"
  | "emit.checkpoints.interval.seconds"
  | "sync.group.offsets.enabled"
  | "sync.group.offsets.interval.seconds"
  | "refresh.groups.interval.seconds"
  | "offset-syncs.topic.location"
  | "tasks.max";

/** Flow settings with MM2's defaults (replication.factor aside, see the module doc). */
const flowDefaults: Readonly<Record<FlowKey, string>> = {
  enabled: "false",
  topics: ".*",
  "topics.exclude": ".*[\\-.]internal, .*\\.replica, __.*",
  groups: ".*",
  "groups.exclude": "console-consumer-.*, connect-.*, __.*",
  "replication.policy.class": "DefaultReplicationPolicy",
  "replication.policy.separator": ".",
  "replication.factor": "-1",
  "sync.topic.configs.enabled": "true",
  "refresh.topics.interval.seconds": "600",
  "emit.heartbeats.enabled": "true",
  "emit.heartbeats.interval.seconds": "1",
  "emit.checkpoints.enabled": "true",
  "emit.checkpoints.interval.seconds": "60",
  "sync.group.offsets.enabled": "false",
  "sync.group.offsets.interval.seconds": "60",
  "refresh.groups.interval.seconds": "600",
  "offset-syncs.topic.location": "source",
  "tasks.max": "1",
};
const flowKeys: ReadonlySet<string> = new Set(Object.keys(flowDefaults));

type ClientKey =
  | "client.id"
  | "request.timeout.ms"
  | "socket.connection.setup.timeout.ms"
  | "reconnect.backoff.ms"
  | "reconnect.backoff.max.ms"
  | "max.in.flight.requests.per.connection"
  | "security.protocol";
const clientKeys: ReadonlySet<string> = new Set<ClientKey>([
  "client.id",
  "request.timeout.ms",
  "socket.connection.setup.timeout.ms",
  "reconnect.backoff.ms",
  "reconnect.backoff.max.ms",
  "max.in.flight.requests.per.connection",
  "security.protocol",
]);
const clientPrefixes = ["", "consumer.", "producer.", "admin."] as const;

class ConfigProblem extends Error {}

function where(e: PropertyEntry | undefined, file: string): string {
  return e === undefined ? file : `${file}:${e.line}`;
}

function parseBool(text: string, key: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true") return true;
  if (t === "false") return false;
  throw new ConfigProblem(`${key} = ${JSON.stringify(text)} is not true or false`);
}

function parseInteger(text: string, key: string, min: number, max: number): number {
  const t = text.trim();
  const v = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!(Number.isSafeInteger(v) && v >= min && v <= max)) throw new ConfigProblem(`${key} = ${JSON.stringify(text)} must be an integer in [${min}, ${max}]`);
  return v;
}

function parseSeconds(text: string, key: string): number {
  const t = text.trim();
  const v = /^\d+(?:\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
  if (!(v >= intervalSecondsMin && v <= intervalSecondsMax)) {
    throw new ConfigProblem(`${key} = ${JSON.stringify(text)} must be a number of seconds in [${intervalSecondsMin}, ${intervalSecondsMax}]`);
  }
  return Math.round(v * 1000);
}

/** MM2's regex list: comma-separated, each matching whole names; empty entries are dropped. */
export function parsePatternList(text: string, key: string): RegExp[] {
  const parts = text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length > patternsMax) throw new ConfigProblem(`${key} has ${parts.length} patterns (at most ${patternsMax})`);
  return parts.map((p) => {
    try {
      return new RegExp(`^(?:${p})$`);
    } catch (e) {
      throw new ConfigProblem(`${key}: ${JSON.stringify(p)} is not a regular expression (${e instanceof Error ? e.message : String(e)})`);
    }
  });
}

/** A name passes a flow's filter when it matches an include pattern and no exclude pattern. */
export function selected(name: string, include: readonly RegExp[], exclude: readonly RegExp[]): boolean {
  return include.some((r) => r.test(name)) && !exclude.some((r) => r.test(name));
}

function clientSetting(key: ClientKey, text: string, fullKey: string, out: Record<string, unknown>): void {
  switch (key) {
    case "client.id":
      out.clientId = text;
      return;
    case "request.timeout.ms":
      out.requestTimeoutMs = parseInteger(text, fullKey, 1, 24 * 3600 * 1000);
      return;
    case "socket.connection.setup.timeout.ms":
      out.connectionSetupTimeoutMs = parseInteger(text, fullKey, 1, 24 * 3600 * 1000);
      return;
    case "reconnect.backoff.ms":
      out.reconnectBackoffMs = parseInteger(text, fullKey, 0, 3600 * 1000);
      return;
    case "reconnect.backoff.max.ms":
      out.reconnectBackoffMaxMs = parseInteger(text, fullKey, 0, 3600 * 1000);
      return;
    case "max.in.flight.requests.per.connection":
      out.inflightRequestsMax = parseInteger(text, fullKey, 1, 1000);
      return;
    case "security.protocol":
      if (text.trim().toUpperCase() !== "PLAINTEXT") throw new ConfigProblem(`${fullKey} = ${JSON.stringify(text)}: the mirror speaks PLAINTEXT only`);
      return;
  }
}

/** Parses the text of a mirror properties file; `file` names it in messages. */
export function parseMirrorConfig(text: string, file: string): MirrorConfigResult {
  const parsed = parseProperties(text);
  if (!parsed.ok) return { ok: false, message: `${file}:${parsed.line}: ${parsed.message}` };
  const byKey = new Map<string, PropertyEntry>();
  for (const e of parsed.entries) byKey.set(e.key, e);
  let current: PropertyEntry | undefined;
  try {
    const clustersEntry = byKey.get("clusters");
    current = clustersEntry;
    if (clustersEntry === undefined) throw new ConfigProblem("clusters is not set (e.g. clusters = A, B)");
    const aliases = clustersEntry.value
      .split(",")
      .map((a) => a.trim())
      .filter((a) => a.length > 0);
    if (aliases.length < 2) throw new ConfigProblem(`clusters = ${JSON.stringify(clustersEntry.value)} names fewer than two clusters`);
    if (aliases.length > clustersMax) throw new ConfigProblem(`clusters names ${aliases.length} clusters (at most ${clustersMax})`);
    for (const a of aliases) {
      if (!aliasRe.test(a)) throw new ConfigProblem(`cluster alias ${JSON.stringify(a)} must match ${aliasRe.source}`);
    }
    if (new Set(aliases).size !== aliases.length) throw new ConfigProblem("clusters names an alias twice");
    const aliasSet = new Set(aliases);

    const clusterClient = new Map<string, Record<string, unknown>>(aliases.map((a) => [a, {}]));
    const flowValues = new Map<string, Map<string, string>>();
    const topValues = new Map<string, string>();
    const flowOrder: string[] = [];

    for (const e of parsed.entries) {
      current = e;
      const key = e.key;
      if (key === "clusters") continue;
      const arrow = /^([^.]+)->([^.]+)\.(.+)$/.exec(key);
      if (arrow !== null) {
        const [, src = "", dst = "", rest = ""] = arrow;
        if (!aliasSet.has(src) || !aliasSet.has(dst)) throw new ConfigProblem(`${key}: ${src}->${dst} names a cluster not in clusters`);
        if (src === dst) throw new ConfigProblem(`${key}: a flow from ${src} to itself`);
        if (!flowKeys.has(rest)) throw new ConfigProblem(`unknown key ${key}`);
        const id = `${src}->${dst}`;
        if (!flowValues.has(id)) {
          flowValues.set(id, new Map());
          flowOrder.push(id);
        }
        flowValues.get(id)?.set(rest, e.value);
        continue;
      }
      const dot = key.indexOf(".");
      const alias = dot > 0 ? key.slice(0, dot) : "";
      if (aliasSet.has(alias)) {
        const rest = key.slice(dot + 1);
        if (rest === "bootstrap.servers") {
          const b = parseBootstrapServers(e.value);
          if (!b.ok) throw new ConfigProblem(`${key}: ${b.reason}`);
          continue;
        }
        const prefix = clientPrefixes.find((p) => rest.startsWith(p) && clientKeys.has(rest.slice(p.length)));
        if (prefix === undefined) throw new ConfigProblem(`unknown key ${key}`);
        clientSetting(rest.slice(prefix.length) as ClientKey, e.value, key, clusterClient.get(alias) ?? {});
        continue;
      }
      if (flowKeys.has(key) && key !== "enabled") {
        topValues.set(key, e.value);
        continue;
      }
      throw new ConfigProblem(`unknown key ${key}`);
    }

    const clusters = new Map<string, ClusterSettings>();
    for (const a of aliases) {
      const e = byKey.get(`${a}.bootstrap.servers`);
      current = clustersEntry;
      if (e === undefined) throw new ConfigProblem(`${a}.bootstrap.servers is not set`);
      clusters.set(a, { alias: a, bootstrapServers: e.value, client: { clientId: `bunka-mirror-${a}`, inflightRequestsMax: clientInflightDefault, ...(clusterClient.get(a) ?? {}) } as Partial<ClientConfig> });
    }

    const flows: FlowSettings[] = [];
    for (const id of flowOrder) {
      const own = flowValues.get(id) ?? new Map<string, string>();
      const [source = "", target = ""] = id.split("->");
      const get = (k: FlowKey): { value: string; key: string } => {
        const v = own.get(k);
        if (v !== undefined) {
          current = byKey.get(`${id}.${k}`);
          return { value: v, key: `${id}.${k}` };
        }
        const t = topValues.get(k);
        if (t !== undefined) {
          current = byKey.get(k);
          return { value: t, key: k };
        }
        current = undefined;
        return { value: flowDefaults[k], key: k };
      };
      const bool = (k: FlowKey): boolean => {
        const g = get(k);
        return parseBool(g.value, g.key);
      };
      const seconds = (k: FlowKey): number => {
        const g = get(k);
        return parseSeconds(g.value, g.key);
      };
      const list = (k: FlowKey): RegExp[] => {
        const g = get(k);
        return parsePatternList(g.value, g.key);
      };
      if (!bool("enabled")) continue;
      const policyText = get("replication.policy.class");
      const policy = policyNames.get(policyText.value.trim());
      if (policy === undefined) {
        throw new ConfigProblem(`${policyText.key} = ${JSON.stringify(policyText.value)}: DefaultReplicationPolicy or IdentityReplicationPolicy (or their org.apache.kafka.connect.mirror. class names)`);
      }
      const sep = get("replication.policy.separator");
      if (sep.value.length === 0 || sep.value.length > 16 || /[^A-Za-z0-9._-]/.test(sep.value)) {
        throw new ConfigProblem(`${sep.key} = ${JSON.stringify(sep.value)} must be 1-16 characters of a topic name ([A-Za-z0-9._-])`);
      }
      const rf = get("replication.factor");
      const replicationFactor = parseInteger(rf.value, rf.key, -1, replicationFactorMax);
      if (replicationFactor === 0) throw new ConfigProblem(`${rf.key} = 0: -1 (the broker's default) or at least 1`);
      const loc = get("offset-syncs.topic.location");
      const location = loc.value.trim();
      if (location !== "source" && location !== "target") throw new ConfigProblem(`${loc.key} = ${JSON.stringify(loc.value)} must be source or target`);
      const tasks = get("tasks.max");
      parseInteger(tasks.value, tasks.key, 1, 10_000);
      flows.push({
        source,
        target,
        topics: list("topics"),
        topicsExclude: list("topics.exclude"),
        groups: list("groups"),
        groupsExclude: list("groups.exclude"),
        policy,
        separator: sep.value,
        replicationFactor,
        syncTopicConfigs: bool("sync.topic.configs.enabled"),
        refreshTopicsIntervalMs: seconds("refresh.topics.interval.seconds"),
        emitHeartbeats: bool("emit.heartbeats.enabled"),
        emitHeartbeatsIntervalMs: seconds("emit.heartbeats.interval.seconds"),
        emitCheckpoints: bool("emit.checkpoints.enabled"),
        emitCheckpointsIntervalMs: seconds("emit.checkpoints.interval.seconds"),
        syncGroupOffsets: bool("sync.group.offsets.enabled"),
        syncGroupOffsetsIntervalMs: seconds("sync.group.offsets.interval.seconds"),
        refreshGroupsIntervalMs: seconds("refresh.groups.interval.seconds"),
        offsetSyncsLocation: location,
      });
    }
    current = clustersEntry;
    if (flows.length === 0) throw new ConfigProblem("no flow is enabled (set e.g. A->B.enabled = true)");
    // Top-level values are checked even when every flow overrides them: a typo is still a typo.
    for (const [k, v] of topValues) {
      current = byKey.get(k);
      if (k.endsWith(".enabled")) parseBool(v, k);
      else if (k.endsWith(".seconds")) parseSeconds(v, k);
      else if (k === "topics" || k === "topics.exclude" || k === "groups" || k === "groups.exclude") parsePatternList(v, k);
    }
    return { ok: true, config: { clusters, flows } };
  } catch (e) {
    if (e instanceof ConfigProblem) return { ok: false, message: `${where(current, file)}: ${e.message}` };
    throw e;
  }
}
