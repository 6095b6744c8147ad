/**
 * Loading and validating the broker configuration.
 *
 * Sources, lowest precedence first: the defaults in `config-defs.ts` < the `--config` file
 * (Java properties) < environment variables `BUNKA_<KEY>` (upper case, dots as underscores:
 * BUNKA_LOG_DIRS) < `--set key=value` (repeatable, later wins). Every key from every source
 * must be known and its value valid; the first problem stops start-up with one message that
 * names the key, where the value came from (file:line, env var, --set) and the accepted form.
 * The project's own switches and tool variables (`nonConfigEnvVariables`) are not config.
 *
 * Derived settings follow Kafka's precedence rules:
 * - retention: log.retention.ms > log.retention.minutes > log.retention.hours (any negative
 *   value: unlimited, -1); roll: log.roll.ms > log.roll.hours;
 * - data dirs: log.dirs > log.dir; node id: node.id, or broker.id when only it is set (both
 *   set and different is an error);
 * - log.flush.interval.ms unset: log.flush.scheduler.interval.ms;
 * - advertised listeners unset: the bound listeners.
 *
 * The config is immutable once loaded. `describe()` lists every key with its value text,
 * source (DEFAULT_CONFIG / STATIC_BROKER_CONFIG), type, read-only flag and sensitivity, for
 * DescribeConfigs.
 */
import type { ZodIssue } from "zod";
import { parseUuid } from "../metadata/uuid.ts";
import { formatHostPort } from "../platform/network.ts";
import { parseProperties } from "../util/properties.ts";
import {
  configDefs,
  configNames,
  envVarName,
  isConfigName,
  type ConfigDef,
  type ConfigName,
  type ConfigValues,
  type KafkaConfigType,
  isNonConfigEnvVariable,
  nonConfigEnvVariables,
} from "./config-defs.ts";
import {
  longValueMax,
  nodeIdMax,
  portMax,
  queuedRequestBytesMin,
  queuedRequestBytesUnboundedCap,
  shutdownTimeoutMsMax,
  type ConnectionLimits,
} from "./limits.ts";

/** Where a value came from. */
export type ConfigOrigin =
  | { readonly kind: "default" }
  | { readonly kind: "file"; readonly path: string; readonly line: number }
  | { readonly kind: "env"; readonly variable: string }
  | { readonly kind: "set"; readonly index: number };

export function describeOrigin(origin: ConfigOrigin): string {
  switch (origin.kind) {
    case "default":
      return "the default";
    case "file":
      return `${origin.path}:${origin.line}`;
    case "env":
      return `environment variable ${origin.variable}`;
    case "set":
      return `--set (argument ${origin.index + 1})`;
  }
}

/** A configuration problem: start-up stops with `message`. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    message: string,
    readonly key: string | null,
    readonly origin: ConfigOrigin | null,
  ) {
    super(message);
  }
}

export interface ConfigSources {
  /** The `--config` file, already read by the caller. */
  readonly file?: { readonly path: string; readonly text: string };
  /** Usually `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `--set` arguments, `key=value`, in command-line order. */
  readonly sets?: readonly string[];
}

export type SecurityProtocol = "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL";

export interface ListenerAddress {
  readonly name: string;
  /** As written; "" means all interfaces. */
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: SecurityProtocol;
}

/** A broker config entry as DescribeConfigs shows it. */
export interface DescribedConfig {
  readonly name: string;
  readonly value: string | null;
  readonly source: "DEFAULT_CONFIG" | "STATIC_BROKER_CONFIG";
  readonly readOnly: boolean;
  readonly sensitive: boolean;
  readonly type: KafkaConfigType;
  readonly doc: string;
  readonly origin: ConfigOrigin;
}

interface Entry {
  readonly value: unknown;
  /** Text as given (trimmed), or the default's text. */
  readonly text: string | null;
  readonly origin: ConfigOrigin;
}

export class BrokerConfig {
  readonly #entries: ReadonlyMap<ConfigName, Entry>;
  readonly nodeId: number;
  readonly processRoles: readonly ("broker" | "controller")[];
  /** `controller.quorum.voters`; empty: this node alone is the quorum, or a dynamic one (`bootstrapServers`). */
  readonly voters: readonly QuorumVoter[];
  /** `controller.quorum.bootstrap.servers` (a dynamic quorum, KIP-853, when no voters are set). */
  readonly bootstrapServers: readonly { readonly host: string; readonly port: number }[];
  /** `controller.listener.names`, upper-cased. */
  readonly controllerListenerNames: readonly string[];
  readonly listeners: readonly ListenerAddress[];
  /** Null: advertise the bound listeners. */
  readonly advertisedListeners: readonly ListenerAddress[] | null;
  readonly logDirs: readonly string[];
  /** -1: keep forever. */
  readonly logRetentionMs: number;
  readonly logRollMs: number;
  readonly logFlushIntervalMs: number;
  readonly connectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** queued.max.request.bytes with -1 resolved to bunka's cap. */
  readonly queuedRequestBytesMax: number;

  /** Use `loadConfig`. */
  constructor(entries: ReadonlyMap<ConfigName, Entry>, derived: Derived) {
    this.#entries = entries;
    this.nodeId = derived.nodeId;
    this.processRoles = this.get("process.roles");
    this.voters = derived.voters;
    this.bootstrapServers = derived.bootstrapServers;
    this.controllerListenerNames = derived.controllerListenerNames;
    this.listeners = derived.listeners;
    this.advertisedListeners = derived.advertisedListeners;
    this.logDirs = derived.logDirs;
    this.logRetentionMs = derived.logRetentionMs;
    this.logRollMs = derived.logRollMs;
    this.logFlushIntervalMs = derived.logFlushIntervalMs;
    this.connectionsPerIpOverrides = derived.connectionsPerIpOverrides;
    this.queuedRequestBytesMax = derived.queuedRequestBytesMax;
  }

  get<K extends ConfigName>(name: K): ConfigValues[K] {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new Error(`BrokerConfig.get: no entry for ${name}`);
    return entry.value as ConfigValues[K];
  }

  origin(name: ConfigName): ConfigOrigin {
    return this.#entries.get(name)?.origin ?? { kind: "default" };
  }

  /** Keys set by some source (not defaults), in definition order. */
  explicitlySet(): ConfigName[] {
    return configNames.filter((n) => this.origin(n).kind !== "default");
  }

  /** Value text and source of one key, for resolving topic config defaults. */
  describeOne(name: string): DescribedConfig | undefined {
    if (!isConfigName(name)) return undefined;
    const d: ConfigDef<unknown> = configDefs[name];
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    return {
      name,
      value: d.sensitive ? null : entry.text,
      source: entry.origin.kind === "default" ? "DEFAULT_CONFIG" : "STATIC_BROKER_CONFIG",
      readOnly: d.mode === "read-only",
      sensitive: d.sensitive,
      type: d.type,
      doc: d.doc,
      origin: entry.origin,
    };
  }

  /**
   * The effective value text and source of a broker key, for resolving topic config defaults.
   * Keys Kafka derives from synonyms answer with the derived value when unset themselves:
   * log.retention.ms (from .minutes/.hours), log.roll.ms (from .hours), log.flush.interval.ms
   * (from log.flush.scheduler.interval.ms); the source is STATIC_BROKER_CONFIG when any synonym
   * was set, else DEFAULT_CONFIG.
   */
  brokerConfigValue(name: string): { value: string; source: "DEFAULT_CONFIG" | "STATIC_BROKER_CONFIG" } | undefined {
    const d = this.describeOne(name);
    if (d === undefined) return undefined;
    if (d.value !== null) return { value: d.value, source: d.source };
    const derived = (value: number, synonyms: readonly ConfigName[]) => ({
      value: value >= longValueMax ? "9223372036854775807" : String(value),
      source: synonyms.some((k) => this.origin(k).kind !== "default") ? ("STATIC_BROKER_CONFIG" as const) : ("DEFAULT_CONFIG" as const),
    });
    switch (name) {
      case "log.retention.ms":
        return derived(this.logRetentionMs, ["log.retention.minutes", "log.retention.hours"]);
      case "log.roll.ms":
        return derived(this.logRollMs, ["log.roll.hours"]);
      case "log.flush.interval.ms":
        return derived(this.logFlushIntervalMs, ["log.flush.scheduler.interval.ms"]);
      default:
        return undefined;
    }
  }

  /** Every key, in definition order (DescribeConfigs of the broker resource). */
  describe(): DescribedConfig[] {
    const out: DescribedConfig[] = [];
    for (const name of configNames) {
      const d = this.describeOne(name);
      if (d !== undefined) out.push(d);
    }
    return out;
  }

  /** The per-connection flow-control bounds. */
  connectionLimits(): ConnectionLimits {
    return {
      requestFrameBytesMax: this.get("socket.request.max.bytes"),
      inflightRequestsMax: this.get("connection.max.inflight.requests"),
      inflightRequestBytesMax: this.get("connection.max.inflight.request.bytes"),
      queuedResponseBytesMax: this.get("connection.max.queued.response.bytes"),
      idleTimeoutMs: this.get("connections.max.idle.ms"),
    };
  }
}

interface Derived {
  nodeId: number;
  voters: QuorumVoter[];
  bootstrapServers: { host: string; port: number }[];
  controllerListenerNames: string[];
  listeners: ListenerAddress[];
  advertisedListeners: ListenerAddress[] | null;
  logDirs: string[];
  logRetentionMs: number;
  logRollMs: number;
  logFlushIntervalMs: number;
  connectionsPerIpOverrides: Map<string, number>;
  queuedRequestBytesMax: number;
}

export type LoadResult = { readonly ok: true; readonly config: BrokerConfig } | { readonly ok: false; readonly error: ConfigError };

/** Loads, merges and validates; never throws for bad input (returns the one error). */
export function loadConfig(sources: ConfigSources = {}): LoadResult {
  try {
    return { ok: true, config: load(sources) };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, error };
    throw error;
  }
}

function load(sources: ConfigSources): BrokerConfig {
  const entries = new Map<ConfigName, Entry>();
  for (const name of configNames) {
    const d: ConfigDef<unknown> = configDefs[name];
    entries.set(name, { value: d.default, text: d.defaultText, origin: { kind: "default" } });
  }
  const apply = (key: string, text: string, origin: ConfigOrigin): void => {
    if (!isConfigName(key)) throw unknownKey(key, origin);
    const d: ConfigDef<unknown> = configDefs[key];
    const parsed = d.schema.safeParse(text);
    if (!parsed.success) throw badValue(key, text, origin, d, parsed.error.issues);
    entries.set(key, { value: parsed.data, text: text.trim(), origin });
  };

  if (sources.file !== undefined) {
    const { path, text } = sources.file;
    const props = parseProperties(text);
    if (!props.ok) throw new ConfigError(`config error: ${path}:${props.line}: ${props.message}`, null, { kind: "file", path, line: props.line });
    for (const e of props.entries) apply(e.key, e.value, { kind: "file", path, line: e.line });
  }

  if (sources.env !== undefined) {
    const byEnv = new Map<string, ConfigName>();
    for (const name of configNames) byEnv.set(envVarName(name), name);
    for (const variable of Object.keys(sources.env).sort()) {
      if (!variable.startsWith("BUNKA_") || isNonConfigEnvVariable(variable)) continue;
      const value = sources.env[variable];
      if (value === undefined) continue;
      const name = byEnv.get(variable);
      const origin: ConfigOrigin = { kind: "env", variable };
      if (name === undefined) {
        throw new ConfigError(
          `config error: environment variable ${variable} names no bunka config key${suggestEnv(variable, byEnv)} (BUNKA_<KEY>: upper case, dots as underscores; ${nonConfigEnvVariables.join(", ")} are the project's own switches)`,
          variable,
          origin,
        );
      }
      apply(name, value, origin);
    }
  }

  (sources.sets ?? []).forEach((arg, index) => {
    const origin: ConfigOrigin = { kind: "set", index };
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new ConfigError(`config error: --set "${arg}": expected key=value`, null, origin);
    apply(arg.slice(0, eq).trim(), arg.slice(eq + 1), origin);
  });

  const derived = derive(entries);
  return new BrokerConfig(entries, derived);
}

function unknownKey(key: string, origin: ConfigOrigin): ConfigError {
  return new ConfigError(`config error: unknown key "${key}" (from ${describeOrigin(origin)})${suggest(key)}`, key, origin);
}

function badValue(key: string, text: string, origin: ConfigOrigin, d: ConfigDef<unknown>, issues: readonly ZodIssue[]): ConfigError {
  const shown = d.sensitive ? "(hidden)" : JSON.stringify(text.trim());
  const why = issues[0]?.message ?? "invalid";
  return new ConfigError(`config error: ${key} = ${shown} (from ${describeOrigin(origin)}) is invalid (${why}): expected ${d.accepted}`, key, origin);
}

/** A cross-key problem: names the key, its source and what is accepted. */
function invalid(entries: ReadonlyMap<ConfigName, Entry>, key: ConfigName, problem: string, accepted: string): ConfigError {
  const entry = entries.get(key);
  const origin = entry?.origin ?? { kind: "default" as const };
  const text = entry?.text;
  return new ConfigError(
    `config error: ${key} = ${text === null || text === undefined ? "(unset)" : JSON.stringify(text)} (from ${describeOrigin(origin)}): ${problem}; expected ${accepted}`,
    key,
    origin,
  );
}

function derive(entries: ReadonlyMap<ConfigName, Entry>): Derived {
  const get = <K extends ConfigName>(name: K): ConfigValues[K] => entries.get(name)?.value as ConfigValues[K];
  const isSet = (name: ConfigName): boolean => entries.get(name)?.origin.kind !== "default";

  // node.id / broker.id
  let nodeId = get("node.id");
  const brokerId = get("broker.id");
  if (isSet("broker.id") && brokerId >= 0) {
    if (isSet("node.id") && nodeId !== brokerId) {
      throw invalid(entries, "broker.id", `differs from node.id ${nodeId}`, "the same id as node.id, or leave one of them unset");
    }
    nodeId = brokerId;
  }

  const roles = get("process.roles");
  if (!roles.includes("broker") || new Set(roles).size !== roles.length) {
    throw invalid(entries, "process.roles", "bunka runs nodes with the broker role", "broker or broker,controller");
  }
  const voters = parseQuorumVoters(entries, get("controller.quorum.voters"));
  const bootstrapServers: { host: string; port: number }[] = [];
  for (const item of get("controller.quorum.bootstrap.servers")) {
    if (item.trim() === "") continue;
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/]+):(\d{1,5})$/.exec(item.trim());
    if (m === null || m[1] === undefined || Number(m[2]) > 65535) throw invalid(entries, "controller.quorum.bootstrap.servers", `bad server "${item.trim()}"`, "host:port, ...");
    bootstrapServers.push({ host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) });
  }
  // With voters set too, the static voters rule, as in Kafka (the bootstrap servers go unused).
  const isController = roles.includes("controller");
  if (!isController && voters.length === 0 && bootstrapServers.length === 0) {
    throw invalid(entries, "process.roles", "a broker-only node needs controller.quorum.voters or controller.quorum.bootstrap.servers naming the controllers", "broker,controller, or set controller.quorum.voters");
  }
  if (!isController && voters.some((v) => v.id === nodeId)) {
    throw invalid(entries, "controller.quorum.voters", `names this node (${nodeId}), whose process.roles has no controller`, "add controller to process.roles, or remove this node from the voters");
  }
  if (isController && voters.length > 0 && !voters.some((v) => v.id === nodeId)) {
    throw invalid(entries, "controller.quorum.voters", `does not name this node (${nodeId}), whose process.roles has controller`, `this node among the voters (${nodeId}@host:port)`);
  }
  const multiNode = voters.length > 1 || voters.some((v) => v.id !== nodeId) || (voters.length === 0 && bootstrapServers.length > 0);

  // listeners
  const protocolMap = parseProtocolMap(entries, get("listener.security.protocol.map"));
  const listeners = parseListeners(entries, "listeners", get("listeners"), protocolMap, true);
  if (listeners.length === 0) throw invalid(entries, "listeners", "no listener", "at least one NAME://host:port");
  // Kafka's sample single-node server.properties points the bootstrap at the node itself: with
  // no voters and only this node's own listeners as bootstrap servers it stays a one-voter
  // quorum unless its storage was formatted for a dynamic one (quorum.ts decides).
  const ownBootstrapOnly = bootstrapServers.every((b) => isOwnListener(`${b.host.includes(":") ? `[${b.host}]` : b.host}:${b.port}`, listeners));
  const controllerNames = (get("controller.listener.names") ?? []).map((n) => n.trim().toUpperCase()).filter((n) => n !== "");
  for (const name of controllerNames) {
    if (isController && !listeners.some((l) => l.name === name)) {
      throw invalid(entries, "controller.listener.names", `listener ${name} is not in listeners`, "names of listeners this node binds");
    }
  }
  if (multiNode && isController && controllerNames.length === 0 && !(voters.length === 0 && ownBootstrapOnly)) {
    throw invalid(entries, "controller.listener.names", "unset on a controller of a multi-node quorum", "the listener the other voters reach this node on (e.g. CONTROLLER)");
  }
  if (multiNode && !isController && controllerNames.length === 0 && !(voters.length === 0 && ownBootstrapOnly)) {
    throw invalid(entries, "controller.listener.names", "unset: a broker-only node must know which listener name the controllers serve on", "the controllers' listener name (e.g. CONTROLLER)");
  }
  if (controllerNames.length > 0 && controllerNames.length === listeners.filter((l) => controllerNames.includes(l.name)).length && listeners.every((l) => controllerNames.includes(l.name))) {
    throw invalid(entries, "listeners", "every listener is a controller listener: clients would have none", "a broker listener besides the controller ones");
  }
  const advertisedText = get("advertised.listeners");
  let advertisedListeners: ListenerAddress[] | null = null;
  if (advertisedText !== null) {
    advertisedListeners = parseListeners(entries, "advertised.listeners", advertisedText, protocolMap, false);
    for (const a of advertisedListeners) {
      if (!listeners.some((l) => l.name === a.name)) {
        throw invalid(entries, "advertised.listeners", `listener ${a.name} is not in listeners`, "names that appear in listeners");
      }
    }
  }
  for (const l of listeners) {
    if (l.securityProtocol !== "PLAINTEXT") {
      throw invalid(entries, "listeners", `listener ${l.name} uses ${l.securityProtocol}, which bunka does not serve yet`, "listeners whose security protocol is PLAINTEXT");
    }
  }

  // data directories
  const dirsList = get("log.dirs");
  const logDirs = dirsList !== null ? dirsList.filter((d) => d !== "") : [get("log.dir")];
  if (logDirs.length === 0 || logDirs.some((d) => d === "")) {
    throw invalid(entries, dirsList !== null ? "log.dirs" : "log.dir", "no data directory", "one or more non-empty paths");
  }
  if (new Set(logDirs).size !== logDirs.length) throw invalid(entries, "log.dirs", "a directory is listed twice", "distinct paths");

  // retention: ms > minutes > hours; negative = unlimited
  const retentionMs = get("log.retention.ms");
  const retentionMinutes = get("log.retention.minutes");
  const hourMs = 60 * 60 * 1000;
  let logRetentionMs: number;
  if (retentionMs !== null) logRetentionMs = retentionMs;
  else if (retentionMinutes !== null) logRetentionMs = retentionMinutes * 60_000;
  else logRetentionMs = get("log.retention.hours") * hourMs;
  if (logRetentionMs < 0) logRetentionMs = -1;

  const rollMs = get("log.roll.ms");
  const logRollMs = rollMs !== null ? rollMs : get("log.roll.hours") * hourMs;

  const flushMs = get("log.flush.interval.ms");
  const logFlushIntervalMs = flushMs !== null ? flushMs : get("log.flush.scheduler.interval.ms");

  const alertRatio = get("log.dir.alert.usage.ratio");
  const cleanupRatio = get("log.dir.cleanup.usage.ratio");
  const rejectRatio = get("log.dir.reject.usage.ratio");
  if (!(alertRatio <= cleanupRatio)) throw invalid(entries, "log.dir.alert.usage.ratio", `exceeds log.dir.cleanup.usage.ratio ${cleanupRatio}`, "a value ≤ log.dir.cleanup.usage.ratio");
  if (!(cleanupRatio <= rejectRatio)) throw invalid(entries, "log.dir.cleanup.usage.ratio", `exceeds log.dir.reject.usage.ratio ${rejectRatio}`, "a value ≤ log.dir.reject.usage.ratio");
  for (const key of ["log.dir.alert.usage.ratio", "log.dir.cleanup.usage.ratio", "log.dir.reject.usage.ratio"] as const) {
    if (get(key) === 0) throw invalid(entries, key, "0 would refuse or clean up on an empty disk", "a number in (0, 1]");
  }

  if (get("group.min.session.timeout.ms") > get("group.max.session.timeout.ms")) {
    throw invalid(entries, "group.min.session.timeout.ms", `exceeds group.max.session.timeout.ms ${get("group.max.session.timeout.ms")}`, "a value ≤ group.max.session.timeout.ms");
  }

  const queued = get("queued.max.request.bytes");
  if (queued !== -1 && queued < queuedRequestBytesMin) {
    throw invalid(entries, "queued.max.request.bytes", "too small", `-1 or an integer ≥ ${queuedRequestBytesMin}`);
  }
  const queuedRequestBytesMax = queued === -1 ? queuedRequestBytesUnboundedCap : queued;

  if (get("shutdown.timeout.ms") > shutdownTimeoutMsMax) {
    throw invalid(entries, "shutdown.timeout.ms", "too large", `an integer in [0, ${shutdownTimeoutMsMax}]`);
  }

  const connectionsPerIpOverrides = parseConnectionsPerIpOverrides(get("max.connections.per.ip.overrides"));
  if (typeof connectionsPerIpOverrides === "string") {
    throw invalid(entries, "max.connections.per.ip.overrides", connectionsPerIpOverrides, connectionsPerIpOverridesAccepted);
  }
  if (get("max.connections.per.ip") === 0 && connectionsPerIpOverrides.size === 0) {
    throw invalid(entries, "max.connections.per.ip", "0 refuses every connection", "a positive integer, or 0 together with max.connections.per.ip.overrides");
  }

  const clusterId = get("cluster.id");
  if (clusterId !== null && parseUuid(clusterId) === null) {
    throw invalid(entries, "cluster.id", "not a Kafka UUID", "22 base64url characters (as kafka-storage.sh random-uuid prints)");
  }

  return {
    nodeId,
    voters,
    bootstrapServers: voters.length > 0 ? [] : bootstrapServers,
    controllerListenerNames: controllerNames,
    listeners,
    advertisedListeners,
    logDirs,
    logRetentionMs,
    logRollMs,
    logFlushIntervalMs,
    connectionsPerIpOverrides,
    queuedRequestBytesMax,
  };
}

export const connectionsPerIpOverridesAccepted = "host:count[,host:count...] with count in [0, 2147483647]";

/** max.connections.per.ip.overrides: address → limit, or the problem in words. */
export function parseConnectionsPerIpOverrides(text: string): Map<string, number> | string {
  const out = new Map<string, number>();
  if (text.trim() === "") return out;
  for (const item of text.split(",")) {
    const m = /^\s*(\[[^\]]+\]|[^:\s]+|[0-9a-fA-F:]+):(\d+)\s*$/.exec(item);
    const count = m?.[2] === undefined ? Number.NaN : Number(m[2]);
    if (m === null || m[1] === undefined || !(count >= 0 && count <= 0x7fffffff)) return `bad entry "${item.trim()}"`;
    out.set(m[1].replace(/^\[|\]$/g, ""), count);
  }
  return out;
}

/** host:port names a listener of this node: its port, and its host or a loopback name. */
function isOwnListener(hostPort: string, listeners: readonly ListenerAddress[]): boolean {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/]+):(\d+)$/.exec(hostPort);
  if (m === null || m[1] === undefined) return false;
  const host = m[1].replace(/^\[|\]$/g, "");
  const port = Number(m[2]);
  const loopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  return listeners.some((l) => l.port === port && (l.host === host || (loopback && (l.host === "" || l.host === "0.0.0.0" || l.host === "::" || l.host.startsWith("127.") || l.host === "localhost" || l.host === "::1"))));
}

export interface QuorumVoter {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

/** `controller.quorum.voters`: id@host:port entries, distinct ids. */
function parseQuorumVoters(entries: ReadonlyMap<ConfigName, Entry>, items: readonly string[]): QuorumVoter[] {
  const accepted = "id@host:port[,id@host:port...] with distinct node ids (IPv6 hosts in brackets)";
  const out: QuorumVoter[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === "") continue;
    const m = /^(\d+)@(\[[0-9A-Fa-f:.]+\]|[^:[\]@/]+):(\d+)$/.exec(item);
    const id = Number(m?.[1]);
    const port = Number(m?.[3]);
    if (m === null || m[2] === undefined || !(id >= 0 && id <= nodeIdMax) || !(port >= 1 && port <= portMax)) {
      throw invalid(entries, "controller.quorum.voters", `bad voter "${item}"`, accepted);
    }
    if (out.some((v) => v.id === id)) throw invalid(entries, "controller.quorum.voters", `node ${id} is listed twice`, accepted);
    out.push({ id, host: m[2].replace(/^\[|\]$/g, ""), port });
  }
  return out;
}

const securityProtocols: readonly SecurityProtocol[] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

function parseProtocolMap(entries: ReadonlyMap<ConfigName, Entry>, text: string): Map<string, SecurityProtocol> {
  const map = new Map<string, SecurityProtocol>();
  if (text.trim() === "") return map;
  for (const item of text.split(",")) {
    const [name, protocol, extra] = item.trim().split(":");
    const p = securityProtocols.find((s) => s === protocol?.toUpperCase());
    if (name === undefined || name === "" || p === undefined || extra !== undefined) {
      throw invalid(entries, "listener.security.protocol.map", `bad entry "${item.trim()}"`, `NAME:PROTOCOL[,NAME:PROTOCOL...] with PROTOCOL one of ${securityProtocols.join(", ")}`);
    }
    map.set(name.toUpperCase(), p);
  }
  return map;
}

function parseListeners(
  entries: ReadonlyMap<ConfigName, Entry>,
  key: "listeners" | "advertised.listeners",
  text: string,
  protocolMap: ReadonlyMap<string, SecurityProtocol>,
  allowPortZero: boolean,
): ListenerAddress[] {
  const out: ListenerAddress[] = [];
  const accepted = `NAME://host:port[,NAME://host:port...] (IPv6 hosts in brackets${allowPortZero ? "; port 0 picks a free port" : ""})`;
  if (text.trim() === "") return out;
  for (const raw of text.split(",")) {
    const item = raw.trim();
    const m = /^([A-Za-z0-9_]+):\/\/(\[[0-9A-Fa-f:.]+\]|[^:[\]/]*):(\d+)$/.exec(item);
    if (m === null || m[1] === undefined || m[2] === undefined || m[3] === undefined) {
      throw invalid(entries, key, `bad listener "${item}"`, accepted);
    }
    const name = m[1].toUpperCase();
    const host = m[2].replace(/^\[|\]$/g, "");
    const port = Number(m[3]);
    if (!(port >= (allowPortZero ? 0 : 1) && port <= portMax)) throw invalid(entries, key, `port ${port} in "${item}" is out of range`, accepted);
    const securityProtocol = protocolMap.get(name);
    if (securityProtocol === undefined) {
      throw invalid(entries, key, `listener name ${name} is not in listener.security.protocol.map`, "listener names mapped in listener.security.protocol.map");
    }
    if (out.some((l) => l.name === name)) throw invalid(entries, key, `listener name ${name} appears twice`, "distinct listener names");
    if (port !== 0 && out.some((l) => l.port === port && (l.host === host || l.host === "" || host === ""))) {
      throw invalid(entries, key, `two listeners bind ${formatHostPort(host, port)}`, "distinct ports");
    }
    out.push({ name, host, port, securityProtocol });
  }
  return out;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

function closest(key: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(key, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 5)) ? best : null;
}

function suggest(key: string): string {
  const c = closest(key, configNames);
  return c === null ? "" : `; did you mean "${c}"?`;
}

function suggestEnv(variable: string, byEnv: ReadonlyMap<string, ConfigName>): string {
  const c = closest(variable, byEnv.keys());
  return c === null ? "" : ` (did you mean ${c}?)`;
}
