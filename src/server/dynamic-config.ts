/**
 * Dynamic broker configs (Kafka's KIP-226): values set with AlterConfigs /
 * IncrementalAlterConfigs on a BROKER resource, stored as config records in the metadata log
 * (resource type "broker"; name = a broker id for one broker, "" for the cluster-wide
 * default) and replayed on every node. Precedence, highest first, as in Kafka:
 * per-broker dynamic > cluster default dynamic > static (server.properties, env, --set) >
 * the default of config-defs.ts.
 *
 * Which keys may be set is Kafka's choice (config-defs.ts `mode`): read-only keys are refused,
 * per-broker keys (listeners, SASL/Kerberos) only with a broker id, cluster-wide keys at both
 * levels. What a stored value then does in bunka is `dynamicEffect`, one of:
 * - live: applied at once, without a restart (topic defaults through the topics' resolved
 *   configs, connection limits, disk thresholds, cleaner limits: `applyDynamicConfigs`);
 * - no-effect: stored, described and kept, but bunka has nothing it changes (Kerberos, thread
 *   counts, replication throttles) — README lists them;
 * - refused: Kafka allows it but bunka cannot do it at run time (rebinding listeners).
 * Every non-read-only key is exactly one of these; `dynamicEffect` throws for a key that is
 * none (a test walks every key), so no key is accepted silently.
 *
 * Errors follow Kafka's broker-side validation: a key that cannot be changed, a per-broker key
 * at the default level, or a bad value is INVALID_REQUEST; a key Kafka does not know is
 * INVALID_CONFIG.
 */
import type { BrokerConfigValidator } from "../metadata/controller.ts";
import { MetadataImage } from "../metadata/image.ts";
import { TOPIC_CONFIG_DEFS, type TopicConfigDef } from "../metadata/topic-config.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { LogManager } from "../storage/log-manager.ts";
import type { Logger } from "../util/log.ts";
import { configDefs, configNames, isConfigName, type ConfigDef, type ConfigName, type ConfigValues } from "./config-defs.ts";
import { parseConnectionsPerIpOverrides, connectionsPerIpOverridesAccepted, type BrokerConfig } from "./config.ts";
import type { Server } from "./server.ts";
import type { BrokerConfigEntry, BrokerConfigSource } from "./services.ts";

export type DynamicEffect =
  | { readonly kind: "live"; readonly how: string }
  | { readonly kind: "no-effect"; readonly why: string }
  | { readonly kind: "refused"; readonly why: string };

const restartOnly = "bunka binds its listeners at start-up only: change it in server.properties or with --set, and restart";

/** Keys Kafka lets change at run time that bunka cannot. */
const REFUSED: Readonly<Record<string, string>> = {
  listeners: restartOnly,
  "advertised.listeners": restartOnly,
  "listener.security.protocol.map": restartOnly,
  "num.replica.fetchers": "the replica fetchers are created at start-up; set it in server.properties or with --set, and restart",
};

/** Non-topic keys bunka applies at once (`applyDynamicConfigs`), and how. */
const LIVE_BROKER_KEYS: Readonly<Record<string, string>> = {
  "max.connections": "counts from the next accepted connection (open ones stay)",
  "max.connections.per.ip": "counts from the next accepted connection (open ones stay)",
  "max.connections.per.ip.overrides": "counts from the next accepted connection (open ones stay)",
  "log.dir.monitor.interval.ms": "the disk monitor's next tick",
  "log.dir.alert.usage.ratio": "every log dir is re-sampled against the new thresholds at once",
  "log.dir.cleanup.usage.ratio": "every log dir is re-sampled against the new thresholds at once",
  "log.dir.reject.usage.ratio": "every log dir is re-sampled against the new thresholds at once",
  "log.dir.min.free.bytes": "every log dir is re-sampled against the new thresholds at once",
  "log.cleaner.backoff.ms": "the cleaner's next idle wait",
  "log.cleaner.dedupe.buffer.size": "the cleaner's next clean",
};

const TOPIC_DEF_BY_BROKER_KEY: ReadonlyMap<string, TopicConfigDef> = new Map(
  TOPIC_CONFIG_DEFS.flatMap((d) => (d.brokerKey === null ? [] : [[d.brokerKey, d] as const])),
);

/** What a dynamic value of `name` does in bunka; null for a read-only key. Throws for a dynamic key that is neither applied nor listed (a bug). */
export function dynamicEffect(name: ConfigName): DynamicEffect | null {
  const d: ConfigDef<unknown> = configDefs[name];
  if (d.mode === "read-only") return null;
  const refused = REFUSED[name];
  if (refused !== undefined) return { kind: "refused", why: refused };
  if (d.ignored) return { kind: "no-effect", why: d.doc };
  const topic = TOPIC_DEF_BY_BROKER_KEY.get(name);
  if (topic !== undefined) {
    return topic.effect.kind === "honoured"
      ? { kind: "live", how: `the ${topic.name} of every topic that does not set its own, at once` }
      : { kind: "no-effect", why: topic.effect.why };
  }
  const how = LIVE_BROKER_KEYS[name];
  if (how !== undefined) return { kind: "live", how };
  throw new Error(`dynamicEffect: ${name} is ${d.mode} but bunka neither applies it nor lists it as without effect`);
}

/** The keys accepted dynamically without effect, with why (README's list). */
export function dynamicKeysWithoutEffect(): { name: ConfigName; why: string }[] {
  return configNames.flatMap((name) => {
    const e = dynamicEffect(name);
    return e?.kind === "no-effect" ? [{ name, why: e.why }] : [];
  });
}

type Problem = { errorCode: number; errorMessage: string };
const invalidRequest = (errorMessage: string): Problem => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage });

const usageRatioKeys = ["log.dir.alert.usage.ratio", "log.dir.cleanup.usage.ratio", "log.dir.reject.usage.ratio"] as const;

/**
 * Checks one dynamic value (null: removed) at a level (`perBroker`: the resource names a
 * broker; false: the cluster default).
 */
export function dynamicConfigProblem(name: string, value: string | null, perBroker: boolean): Problem | null {
  if (!isConfigName(name)) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `unknown broker config ${name}` };
  const effect = dynamicEffect(name);
  if (effect === null) return invalidRequest(`${name} cannot be changed at run time (read-only): set it in server.properties or with --set, and restart`);
  if (effect.kind === "refused") return invalidRequest(`${name} cannot be changed at run time in bunka: ${effect.why}`);
  const d: ConfigDef<unknown> = configDefs[name];
  if (!perBroker && d.mode === "per-broker") return invalidRequest(`${name} is a per-broker config: it cannot be set as the cluster default; name a broker id`);
  if (value === null) return null;
  const parsed = d.schema.safeParse(value);
  const shown = d.sensitive ? "(hidden)" : JSON.stringify(value.trim());
  if (!parsed.success) return invalidRequest(`${name} = ${shown} is invalid (${parsed.error.issues[0]?.message ?? "invalid"}): expected ${d.accepted}`);
  if (name === "max.connections.per.ip.overrides") {
    const overrides = parseConnectionsPerIpOverrides(value);
    if (typeof overrides === "string") return invalidRequest(`${name}: ${overrides}: expected ${connectionsPerIpOverridesAccepted}`);
  }
  if ((usageRatioKeys as readonly string[]).includes(name) && parsed.data === 0) return invalidRequest(`${name}: 0 would refuse or clean up on an empty disk; expected a number in (0, 1]`);
  return null;
}

/**
 * Checks across the values of one level: the disk usage ratios set there must keep
 * alert ≤ cleanup ≤ reject. (Levels combine on each node with its static values; a mix that
 * breaks the order there is logged and leaves that node's thresholds as they were.)
 */
export function dynamicConfigSetProblem(values: ReadonlyMap<string, string>): Problem | null {
  const set = usageRatioKeys.flatMap((k) => (values.has(k) ? [[k, Number(values.get(k)!.trim())] as const] : []));
  for (let i = 1; i < set.length; i++) {
    const [lowKey, low] = set[i - 1]!;
    const [highKey, high] = set[i]!;
    if (!(low <= high)) return invalidRequest(`${lowKey} (${low}) must not exceed ${highKey} (${high})`);
  }
  return null;
}

/** The controller's validator of broker resources. */
export const dynamicConfigValidator: BrokerConfigValidator = {
  check: (name, value, resourceName) => dynamicConfigProblem(name, value, resourceName !== ""),
  checkSet: (values) => dynamicConfigSetProblem(values),
  isList: (name) => isConfigName(name) && (configDefs[name] as ConfigDef<unknown>).type === "LIST",
  listDefault: (name) => (isConfigName(name) ? ((configDefs[name] as ConfigDef<unknown>).defaultText ?? "") : ""),
};

export interface ConfigSynonym {
  readonly name: string;
  readonly value: string | null;
  readonly source: BrokerConfigSource;
}

type EffectiveValue = { readonly value: string; readonly source: BrokerConfigSource };

interface LookupCache {
  readonly configs: MetadataImage["configs"];
  readonly levels: Map<ConfigName, DynamicLevels>;
  readonly values: Map<string, EffectiveValue | undefined>;
}

interface DynamicLevels {
  readonly perBroker: string | undefined;
  readonly clusterDefault: string | undefined;
}

/** Keys whose static value Kafka derives from other keys when they are unset. */
const DERIVED_FROM: Readonly<Record<string, readonly ConfigName[]>> = {
  "log.retention.ms": ["log.retention.minutes", "log.retention.hours"],
  "log.roll.ms": ["log.roll.hours"],
  "log.flush.interval.ms": ["log.flush.scheduler.interval.ms"],
};

/**
 * The broker's effective configuration: its static `BrokerConfig` under the dynamic values
 * of the metadata image `image()` returns (read at each call, so a replayed record counts at
 * once).
 */
export class DynamicBrokerConfig {
  readonly static: BrokerConfig;
  readonly nodeId: number;
  readonly #image: () => MetadataImage;

  constructor(staticConfig: BrokerConfig, nodeId: number, image: () => MetadataImage | null) {
    this.static = staticConfig;
    this.nodeId = nodeId;
    this.#image = () => image() ?? MetadataImage.EMPTY;
  }

  /**
   * Per image configs map (the static config never changes): the checked dynamic texts and
   * the effective value of each key looked up so far. Lookups run for every topic config of
   * every partition a change touches (thousands at topic creation), so each is a map read.
   */
  #cache: LookupCache | null = null;

  #cached(): LookupCache {
    const configs = this.#image().configs;
    if (this.#cache === null || this.#cache.configs !== configs) this.#cache = { configs, levels: new Map(), values: new Map() };
    return this.#cache;
  }

  /** The dynamic text of `name` at each level; a value that no longer parses (written by another version) is skipped. */
  #dynamic(name: ConfigName): DynamicLevels {
    const image = this.#image();
    const cache = this.#cached();
    const cached = cache.levels.get(name);
    if (cached !== undefined) return cached;
    const usable = (v: string | undefined): string | undefined => {
      if (v === undefined || dynamicEffect(name) === null) return undefined;
      return (configDefs[name] as ConfigDef<unknown>).schema.safeParse(v).success ? v.trim() : undefined;
    };
    const levels = {
      perBroker: usable(image.configsOf("broker", String(this.nodeId)).get(name)),
      clusterDefault: usable(image.configsOf("broker", "").get(name)),
    };
    cache.levels.set(name, levels);
    return levels;
  }

  /** The typed effective value of a key. */
  get<K extends ConfigName>(name: K): ConfigValues[K] {
    const { perBroker, clusterDefault } = this.#dynamic(name);
    const text = perBroker ?? clusterDefault;
    if (text === undefined) return this.static.get(name);
    return (configDefs[name] as ConfigDef<unknown>).schema.parse(text) as ConfigValues[K];
  }

  /**
   * The effective text and source of a broker key, for topic config defaults: dynamic values
   * first, then the static value (with Kafka's derived synonyms, BrokerConfig.brokerConfigValue).
   */
  brokerConfigValue(name: string): EffectiveValue | undefined {
    const cache = this.#cached();
    if (cache.values.has(name)) return cache.values.get(name);
    let value: EffectiveValue | undefined;
    if (isConfigName(name)) {
      const { perBroker, clusterDefault } = this.#dynamic(name);
      if (perBroker !== undefined) value = { value: perBroker, source: "DYNAMIC_BROKER_CONFIG" };
      else if (clusterDefault !== undefined) value = { value: clusterDefault, source: "DYNAMIC_DEFAULT_BROKER_CONFIG" };
      else value = this.static.brokerConfigValue(name);
    }
    cache.values.set(name, value);
    return value;
  }

  /** Every level that gives `name` a value, highest precedence first (DescribeConfigs synonyms). */
  synonyms(name: string): ConfigSynonym[] {
    if (!isConfigName(name)) return [];
    const out: ConfigSynonym[] = [];
    const { perBroker, clusterDefault } = this.#dynamic(name);
    if (perBroker !== undefined) out.push({ name, value: perBroker, source: "DYNAMIC_BROKER_CONFIG" });
    if (clusterDefault !== undefined) out.push({ name, value: clusterDefault, source: "DYNAMIC_DEFAULT_BROKER_CONFIG" });
    const keys: ConfigName[] = [name, ...(DERIVED_FROM[name] ?? [])];
    for (const key of keys) {
      const d = this.static.describeOne(key);
      if (d !== undefined && d.source === "STATIC_BROKER_CONFIG") out.push({ name: key, value: d.value, source: "STATIC_BROKER_CONFIG" });
    }
    for (const key of keys) {
      const text = (configDefs[key] as ConfigDef<unknown>).defaultText;
      if (text !== null) out.push({ name: key, value: text, source: "DEFAULT_CONFIG" });
    }
    return out;
  }

  #entry(name: ConfigName, value: string | null, source: BrokerConfigSource, synonyms: ConfigSynonym[]): BrokerConfigEntry {
    const d: ConfigDef<unknown> = configDefs[name];
    const effect = dynamicEffect(name);
    return {
      name,
      value: d.sensitive ? null : value,
      source,
      readOnly: effect === null || effect.kind === "refused",
      sensitive: d.sensitive,
      type: d.type,
      synonyms: synonyms.map((s) => ({ ...s, value: d.sensitive ? null : s.value })),
    };
  }

  /** Every key with its effective value and source (DescribeConfigs of this broker). */
  describe(): BrokerConfigEntry[] {
    return configNames.map((name) => {
      const synonyms = this.synonyms(name);
      const top = this.brokerConfigValue(name);
      const value = top?.value ?? this.static.describeOne(name)?.value ?? null;
      const source = top?.source ?? (this.static.origin(name).kind === "default" ? "DEFAULT_CONFIG" : "STATIC_BROKER_CONFIG");
      return this.#entry(name, value, source, synonyms);
    });
  }

  /** The keys set at the cluster default level (DescribeConfigs of the BROKER resource ""), as Kafka lists them. */
  describeClusterDefault(): BrokerConfigEntry[] {
    const values = this.#image().configsOf("broker", "");
    return configNames.flatMap((name) => {
      const v = values.get(name);
      if (v === undefined) return [];
      return [this.#entry(name, v, "DYNAMIC_DEFAULT_BROKER_CONFIG", [{ name, value: v, source: "DYNAMIC_DEFAULT_BROKER_CONFIG" }])];
    });
  }
}

export interface DynamicConfigTargets {
  readonly server: Pick<Server, "setConnectionCounts">;
  readonly logs: Pick<LogManager, "disk" | "cleaner">;
  readonly log: Logger;
}

/**
 * Applies the live keys outside topic configs (topic defaults need nothing here: the replica
 * manager re-resolves every topic's config when the image's configs change). Call it once the
 * metadata is replayed and after every image whose configs changed; it logs each key whose
 * effective value changed since the previous call (keys without effect too, saying so), and
 * each value it cannot apply (the previous value stays).
 */
export function dynamicConfigApplier(dyn: DynamicBrokerConfig, targets: DynamicConfigTargets): () => void {
  const log = targets.log.child({ component: "dynamic-config" });
  let applied = new Map<string, string>();
  return () => {
    const now = new Map<string, string>();
    for (const name of configNames) {
      const kind = dynamicEffect(name)?.kind;
      if (kind !== "live" && kind !== "no-effect") continue;
      const v = dyn.brokerConfigValue(name);
      now.set(name, v === undefined ? "" : `${v.value} (${v.source})`);
    }
    const changed = [...now].filter(([k, v]) => applied.get(k) !== v).map(([k]) => k);
    const first = applied.size === 0;
    applied = now;
    // At start-up, the dynamic values in force; later, every change (and whether it does anything here).
    for (const key of changed) {
      const value = now.get(key) ?? "";
      if (first && !value.includes("(DYNAMIC_")) continue;
      const live = dynamicEffect(key as ConfigName)?.kind === "live";
      const msg = first ? "dynamic broker config in force" : live ? "broker config changed" : "broker config stored; it has no effect in bunka";
      log.info(msg, { key, value });
    }
    if (!changed.some((k) => dynamicEffect(k as ConfigName)?.kind === "live")) return;

    const overrides = parseConnectionsPerIpOverrides(dyn.get("max.connections.per.ip.overrides"));
    const perIp = dyn.get("max.connections.per.ip");
    if (typeof overrides === "string") log.warn("dynamic config not applied", { key: "max.connections.per.ip.overrides", problem: overrides });
    else if (perIp === 0 && overrides.size === 0) log.warn("dynamic config not applied", { key: "max.connections.per.ip", problem: "0 refuses every connection without overrides" });
    else targets.server.setConnectionCounts({ connectionsMax: dyn.get("max.connections"), connectionsPerIpMax: perIp, connectionsPerIpOverrides: overrides });

    const disk = targets.logs.disk;
    const thresholds = {
      intervalMs: dyn.get("log.dir.monitor.interval.ms"),
      alertUsageRatio: dyn.get("log.dir.alert.usage.ratio"),
      cleanupUsageRatio: dyn.get("log.dir.cleanup.usage.ratio"),
      rejectUsageRatio: dyn.get("log.dir.reject.usage.ratio"),
      minFreeBytes: dyn.get("log.dir.min.free.bytes"),
    };
    const current = disk.thresholds;
    if (Object.entries(thresholds).some(([k, v]) => current[k as keyof typeof current] !== v)) {
      const problem = disk.setThresholds(thresholds);
      if (problem !== null) log.warn("dynamic config not applied", { key: "log.dir.*", problem });
    }
    targets.logs.cleaner.reconfigure({ backoffMs: dyn.get("log.cleaner.backoff.ms"), dedupeBufferBytes: dyn.get("log.cleaner.dedupe.buffer.size") });
  };
}
