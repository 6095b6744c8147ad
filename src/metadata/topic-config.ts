/**
 * Topic-level configs: every one Kafka 3.x documents, with Kafka's names, types, defaults and
 * value rules, and the broker config each falls back to (`retention.ms` ← `log.retention.ms`).
 * DescribeConfigs shows exactly these; setting any other name is INVALID_CONFIG.
 *
 * Each def says whether bunka honours it (`effect`). Some are accepted only so that clients
 * and tools that set or copy them back (kafka-configs, librdkafka's admin tests, Terraform
 * providers) keep working: their values are validated as Kafka validates them, stored,
 * shown, and change nothing here. `effect.why` says why for each (`IGNORED_TOPIC_CONFIGS`).
 *
 * Values travel as strings (as on the wire and in metadata records) and are parsed here,
 * once, into a typed `TopicConfig` holding the configs that have an effect.
 */

export type ConfigType = "long" | "int" | "double" | "boolean" | "string" | "list";

/** Whether a topic config changes what bunka does. */
export type TopicConfigEffect = { readonly kind: "honoured" } | { readonly kind: "ignored"; readonly why: string };

export interface TopicConfigDef {
  readonly name: string;
  readonly type: ConfigType;
  /** The broker config whose value is this topic config's default; null when Kafka has none. */
  readonly brokerKey: string | null;
  readonly defaultValue: string;
  /** Returns an error message for a bad value, or null. The value is already type-checked and trimmed. */
  readonly check?: (value: string) => string | null;
  readonly effect: TopicConfigEffect;
}

const LONG_MAX = "9223372036854775807";

/** The values of `compression.type` (Kafka's BrokerCompressionType names). */
export const TOPIC_COMPRESSION_TYPES = ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"] as const;
export type TopicCompressionType = (typeof TOPIC_COMPRESSION_TYPES)[number];

/** zstd's level range (ZSTD_minCLevel() .. ZSTD_maxCLevel()), as Kafka validates compression.zstd.level. */
export const zstdLevelMin = -131072;
export const zstdLevelMax = 22;

const honoured: TopicConfigEffect = { kind: "honoured" };
const ignored = (why: string): TopicConfigEffect => ({ kind: "ignored", why });

const noTieredStorage = "bunka has no tiered (remote) storage: every segment stays in the local log";

const oneOf =
  (...allowed: string[]) =>
  (value: string): string | null =>
    allowed.includes(value) ? null : `must be one of ${allowed.join(", ")}`;

const atLeast =
  (min: number) =>
  (value: string): string | null =>
    Number(value) >= min ? null : `must be >= ${min}`;

const between =
  (min: number, max: number) =>
  (value: string): string | null =>
    Number(value) >= min && Number(value) <= max ? null : `must be in [${min}, ${max}]`;

const listItems = (value: string): string[] =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** Kafka's ThrottledReplicaListValidator: `*`, or `partition:broker` pairs. */
function throttledReplicas(value: string): string | null {
  const items = listItems(value);
  if (items.length === 1 && items[0] === "*") return null;
  return items.every((i) => /^\d+:\d+$/.test(i)) ? null : "must be * or a list of partitionId:brokerId";
}

/**
 * Kafka releases whose version strings `message.format.version` accepts (MetadataVersion's
 * short forms). A value may add patch segments (`0.10.0.1`, `2.8.1`) and an `-IVn` suffix.
 */
const KAFKA_RELEASES = new Set([
  "0.8.0", "0.8.1", "0.8.2", "0.9.0", "0.10.0", "0.10.1", "0.10.2", "0.11.0",
  "1.0", "1.1", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8",
  "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9",
]);

/** A Kafka version as MetadataVersion.fromVersionString reads it: release key (0.x: three segments, else two), optional -IVn. */
export function kafkaVersionProblem(value: string): string | null {
  const [release = "", iv, ...rest] = value.split("-");
  if (rest.length > 0 || (iv !== undefined && !/^IV\d+$/.test(iv))) return "must be a Kafka version such as 2.8 or 3.0-IV1";
  const segments = release.split(".");
  if (!segments.every((s) => /^\d+$/.test(s))) return "must be a Kafka version such as 2.8 or 3.0-IV1";
  const key = segments.slice(0, release.startsWith("0.") ? 3 : 2).join(".");
  return KAFKA_RELEASES.has(key) ? null : `${value} is not a Kafka version`;
}

/** In Kafka's definition order of the documentation (alphabetical). */
export const TOPIC_CONFIG_DEFS: readonly TopicConfigDef[] = [
  {
    name: "cleanup.policy",
    type: "list",
    brokerKey: "log.cleanup.policy",
    defaultValue: "delete",
    check: (v) => {
      for (const p of listItems(v)) if (p !== "delete" && p !== "compact") return "must be a list of delete, compact";
      return null;
    },
    effect: honoured,
  },
  {
    name: "compression.gzip.level",
    type: "int",
    brokerKey: "compression.gzip.level",
    defaultValue: "-1",
    check: (v) => (v === "-1" || (Number(v) >= 1 && Number(v) <= 9) ? null : "must be -1 or in [1, 9]"),
    effect: honoured,
  },
  {
    name: "compression.lz4.level",
    type: "int",
    brokerKey: "compression.lz4.level",
    defaultValue: "9",
    check: between(1, 17),
    effect: ignored("bunka's LZ4 compressor (lz4_flex block mode) has one speed; recompressed lz4 batches are written at it"),
  },
  {
    name: "compression.type",
    type: "string",
    brokerKey: "compression.type",
    defaultValue: "producer",
    check: oneOf(...TOPIC_COMPRESSION_TYPES),
    effect: honoured,
  },
  {
    name: "compression.zstd.level",
    type: "int",
    brokerKey: "compression.zstd.level",
    defaultValue: "3",
    check: between(zstdLevelMin, zstdLevelMax),
    effect: honoured,
  },
  { name: "delete.retention.ms", type: "long", brokerKey: "log.cleaner.delete.retention.ms", defaultValue: "86400000", check: atLeast(0), effect: honoured },
  { name: "file.delete.delay.ms", type: "long", brokerKey: "log.segment.delete.delay.ms", defaultValue: "60000", check: atLeast(0), effect: honoured },
  { name: "flush.messages", type: "long", brokerKey: "log.flush.interval.messages", defaultValue: LONG_MAX, check: atLeast(1), effect: honoured },
  { name: "flush.ms", type: "long", brokerKey: "log.flush.interval.ms", defaultValue: LONG_MAX, check: atLeast(0), effect: honoured },
  {
    name: "follower.replication.throttled.replicas",
    type: "list",
    brokerKey: null,
    defaultValue: "",
    check: throttledReplicas,
    effect: ignored("bunka has no replication quotas (leader/follower.replication.throttled.rate), so there is nothing to throttle"),
  },
  { name: "index.interval.bytes", type: "int", brokerKey: "log.index.interval.bytes", defaultValue: "4096", check: atLeast(0), effect: honoured },
  {
    name: "leader.replication.throttled.replicas",
    type: "list",
    brokerKey: null,
    defaultValue: "",
    check: throttledReplicas,
    effect: ignored("bunka has no replication quotas (leader/follower.replication.throttled.rate), so there is nothing to throttle"),
  },
  { name: "local.retention.bytes", type: "long", brokerKey: "log.local.retention.bytes", defaultValue: "-2", check: atLeast(-2), effect: ignored(noTieredStorage) },
  { name: "local.retention.ms", type: "long", brokerKey: "log.local.retention.ms", defaultValue: "-2", check: atLeast(-2), effect: ignored(noTieredStorage) },
  {
    name: "max.compaction.lag.ms",
    type: "long",
    brokerKey: "log.cleaner.max.compaction.lag.ms",
    defaultValue: LONG_MAX,
    check: atLeast(1),
    effect: honoured,
  },
  { name: "max.message.bytes", type: "int", brokerKey: "message.max.bytes", defaultValue: "1048588", check: atLeast(0), effect: honoured },
  {
    name: "message.downconversion.enable",
    type: "boolean",
    brokerKey: "log.message.downconversion.enable",
    defaultValue: "true",
    effect: ignored("bunka never down-converts: it serves Fetch v4+ and stores only v2 record batches"),
  },
  {
    name: "message.format.version",
    type: "string",
    brokerKey: "log.message.format.version",
    defaultValue: "3.0-IV1",
    check: kafkaVersionProblem,
    effect: ignored("deprecated in Kafka 3.x (no effect with inter.broker.protocol.version 3.0+, removed in 4.0); bunka writes v2 batches only"),
  },
  {
    name: "message.timestamp.after.max.ms",
    type: "long",
    brokerKey: "log.message.timestamp.after.max.ms",
    defaultValue: LONG_MAX,
    check: atLeast(0),
    effect: honoured,
  },
  {
    name: "message.timestamp.before.max.ms",
    type: "long",
    brokerKey: "log.message.timestamp.before.max.ms",
    defaultValue: LONG_MAX,
    check: atLeast(0),
    effect: honoured,
  },
  {
    name: "message.timestamp.difference.max.ms",
    type: "long",
    brokerKey: "log.message.timestamp.difference.max.ms",
    defaultValue: LONG_MAX,
    check: atLeast(0),
    effect: honoured,
  },
  {
    name: "message.timestamp.type",
    type: "string",
    brokerKey: "log.message.timestamp.type",
    defaultValue: "CreateTime",
    check: oneOf("CreateTime", "LogAppendTime"),
    effect: honoured,
  },
  {
    name: "min.cleanable.dirty.ratio",
    type: "double",
    brokerKey: "log.cleaner.min.cleanable.ratio",
    defaultValue: "0.5",
    check: between(0, 1),
    effect: honoured,
  },
  { name: "min.compaction.lag.ms", type: "long", brokerKey: "log.cleaner.min.compaction.lag.ms", defaultValue: "0", check: atLeast(0), effect: honoured },
  { name: "min.insync.replicas", type: "int", brokerKey: "min.insync.replicas", defaultValue: "1", check: atLeast(1), effect: honoured },
  {
    name: "preallocate",
    type: "boolean",
    brokerKey: "log.preallocate",
    defaultValue: "false",
    effect: ignored("segments grow by appends; bunka does not preallocate segment files (an append fd must not see fallocated zeros)"),
  },
  {
    name: "remote.log.copy.disable",
    type: "boolean",
    brokerKey: null,
    defaultValue: "false",
    effect: ignored(noTieredStorage),
  },
  {
    name: "remote.log.delete.on.disable",
    type: "boolean",
    brokerKey: null,
    defaultValue: "false",
    effect: ignored(noTieredStorage),
  },
  {
    name: "remote.storage.enable",
    type: "boolean",
    brokerKey: null,
    defaultValue: "false",
    // As Kafka answers when the broker's remote.log.storage.system.enable is false.
    check: (v) => (v.toLowerCase() === "false" ? null : "tiered storage is not available in bunka; only false is accepted"),
    effect: ignored(`${noTieredStorage}; true is refused`),
  },
  { name: "retention.bytes", type: "long", brokerKey: "log.retention.bytes", defaultValue: "-1", check: atLeast(-1), effect: honoured },
  { name: "retention.ms", type: "long", brokerKey: "log.retention.ms", defaultValue: "604800000", check: atLeast(-1), effect: honoured },
  { name: "segment.bytes", type: "int", brokerKey: "log.segment.bytes", defaultValue: "1073741824", check: atLeast(14), effect: honoured },
  { name: "segment.index.bytes", type: "int", brokerKey: "log.index.size.max.bytes", defaultValue: "10485760", check: atLeast(4), effect: honoured },
  {
    name: "segment.jitter.ms",
    type: "long",
    brokerKey: "log.roll.jitter.ms",
    defaultValue: "0",
    check: atLeast(0),
    effect: ignored("segments roll at segment.ms exactly, without a random jitter"),
  },
  { name: "segment.ms", type: "long", brokerKey: "log.roll.ms", defaultValue: "604800000", check: atLeast(1), effect: honoured },
  {
    name: "unclean.leader.election.enable",
    type: "boolean",
    brokerKey: "unclean.leader.election.enable",
    defaultValue: "false",
    // Read by the controller's elections (replication-control.ts `uncleanPolicy`).
    effect: honoured,
  },
];

export const TOPIC_CONFIGS: ReadonlyMap<string, TopicConfigDef> = new Map(TOPIC_CONFIG_DEFS.map((d) => [d.name, d]));

/** Checks a value's form for its type: returns an error message or null. */
function checkType(type: ConfigType, value: string): string | null {
  switch (type) {
    case "long":
      return /^-?\d{1,19}$/.test(value.trim()) && BigInt(value.trim()) <= 9223372036854775807n && BigInt(value.trim()) >= -9223372036854775808n
        ? null
        : "must be a 64-bit integer";
    case "int":
      return /^-?\d{1,10}$/.test(value.trim()) && Math.abs(Number(value)) <= 2147483647 ? null : "must be a 32-bit integer";
    case "double":
      return value.trim() !== "" && Number.isFinite(Number(value)) ? null : "must be a number";
    case "boolean":
      return value.trim().toLowerCase() === "true" || value.trim().toLowerCase() === "false" ? null : "must be true or false";
    case "string":
    case "list":
      return null;
  }
}

/** Validates one topic config; returns an error message for INVALID_CONFIG, or null. */
export function validateTopicConfig(name: string, value: string | null): string | null {
  const def = TOPIC_CONFIGS.get(name);
  if (def === undefined) return `unknown topic config ${name}`;
  if (value === null) return null;
  return checkType(def.type, value) ?? def.check?.(value.trim()) ?? null;
}

/**
 * Checks across the configs of one topic (each already valid on its own), as Kafka's
 * LogConfig.validateValues: min.compaction.lag.ms must not exceed max.compaction.lag.ms.
 * Missing values are Kafka's defaults.
 */
export function topicConfigSetProblem(values: ReadonlyMap<string, string>): string | null {
  const valueOf = (name: string): bigint => BigInt((values.get(name) ?? TOPIC_CONFIGS.get(name)!.defaultValue).trim());
  const minLag = valueOf("min.compaction.lag.ms");
  const maxLag = valueOf("max.compaction.lag.ms");
  if (minLag > maxLag) return `min.compaction.lag.ms (${minLag}) must not exceed max.compaction.lag.ms (${maxLag})`;
  return null;
}

/** The configs bunka accepts without acting on them, with why (README's list). */
export const IGNORED_TOPIC_CONFIGS: readonly { name: string; why: string }[] = TOPIC_CONFIG_DEFS.flatMap((d) =>
  d.effect.kind === "ignored" ? [{ name: d.name, why: d.effect.why }] : [],
);

/** The typed, resolved configuration of one topic's log. Long values past 2^53 saturate to MAX_SAFE_INTEGER ("never"). */
export interface TopicConfig {
  cleanupPolicy: { delete: boolean; compact: boolean };
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  segmentMs: number;
  segmentIndexBytes: number;
  indexIntervalBytes: number;
  flushMessages: number;
  flushMs: number;
  maxMessageBytes: number;
  minInsyncReplicas: number;
  messageTimestampType: "CreateTime" | "LogAppendTime";
  fileDeleteDelayMs: number;
  deleteRetentionMs: number;
  minCompactionLagMs: number;
  minCleanableDirtyRatio: number;
  maxCompactionLagMs: number;
  /** Parsed for completeness: the controller reads the topic's value from the image (replication-control.ts `uncleanPolicy`). */
  uncleanLeaderElectionEnable: boolean;
  /** `producer`: batches are stored in the codec they came in; otherwise recompressed to this. */
  compressionType: TopicCompressionType;
  /** gzip level for batches the broker compresses; -1 is zlib's default (6). */
  compressionGzipLevel: number;
  /** zstd level for batches the broker compresses. */
  compressionZstdLevel: number;
  /**
   * CreateTime topics: a record's timestamp may be at most this far behind / ahead of the
   * broker's clock (message.timestamp.before/after.max.ms, each falling back to the deprecated
   * message.timestamp.difference.max.ms while unset, as Kafka 3.x does). MAX_SAFE_INTEGER:
   * unbounded.
   */
  messageTimestampBeforeMaxMs: number;
  messageTimestampAfterMaxMs: number;
}

export type ConfigSource = "TOPIC_CONFIG" | "STATIC_BROKER_CONFIG" | "DYNAMIC_BROKER_CONFIG" | "DYNAMIC_DEFAULT_BROKER_CONFIG" | "DEFAULT_CONFIG";

export interface ResolvedConfigEntry {
  name: string;
  value: string;
  source: ConfigSource;
}

/**
 * Resolves every topic config: the topic's own value, else the broker's value of the
 * matching broker key (`brokerValue` returns it with its source, or undefined), else Kafka's
 * default.
 */
export function resolveTopicConfigEntries(
  topicValues: ReadonlyMap<string, string>,
  brokerValue: (brokerKey: string) => { value: string; source: ConfigSource } | undefined,
): ResolvedConfigEntry[] {
  return TOPIC_CONFIG_DEFS.map((def) => {
    const own = topicValues.get(def.name);
    if (own !== undefined) return { name: def.name, value: own, source: "TOPIC_CONFIG" };
    const broker = def.brokerKey === null ? undefined : brokerValue(def.brokerKey);
    if (broker !== undefined) return { name: def.name, value: broker.value, source: broker.source };
    return { name: def.name, value: def.defaultValue, source: "DEFAULT_CONFIG" };
  });
}

function toSafeNumber(value: string): number {
  const n = Number(value.trim());
  return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n;
}

export function toTopicConfig(entries: readonly ResolvedConfigEntry[]): TopicConfig {
  const get = (name: string): string => {
    const e = entries.find((x) => x.name === name);
    if (e === undefined) throw new Error(`toTopicConfig: ${name} missing`);
    return e.value.trim();
  };
  const policy = get("cleanup.policy").split(",").map((s) => s.trim());
  return {
    cleanupPolicy: { delete: policy.includes("delete"), compact: policy.includes("compact") },
    retentionMs: toSafeNumber(get("retention.ms")),
    retentionBytes: toSafeNumber(get("retention.bytes")),
    segmentBytes: toSafeNumber(get("segment.bytes")),
    segmentMs: toSafeNumber(get("segment.ms")),
    segmentIndexBytes: toSafeNumber(get("segment.index.bytes")),
    indexIntervalBytes: toSafeNumber(get("index.interval.bytes")),
    flushMessages: toSafeNumber(get("flush.messages")),
    flushMs: toSafeNumber(get("flush.ms")),
    maxMessageBytes: toSafeNumber(get("max.message.bytes")),
    minInsyncReplicas: toSafeNumber(get("min.insync.replicas")),
    messageTimestampType: get("message.timestamp.type") === "LogAppendTime" ? "LogAppendTime" : "CreateTime",
    fileDeleteDelayMs: toSafeNumber(get("file.delete.delay.ms")),
    deleteRetentionMs: toSafeNumber(get("delete.retention.ms")),
    minCompactionLagMs: toSafeNumber(get("min.compaction.lag.ms")),
    minCleanableDirtyRatio: Number(get("min.cleanable.dirty.ratio")),
    maxCompactionLagMs: toSafeNumber(get("max.compaction.lag.ms")),
    uncleanLeaderElectionEnable: get("unclean.leader.election.enable").toLowerCase() === "true",
    compressionType: compressionTypeOf(get("compression.type")),
    compressionGzipLevel: Number(get("compression.gzip.level")),
    compressionZstdLevel: Number(get("compression.zstd.level")),
    messageTimestampBeforeMaxMs: toSafeNumber(orDifference("message.timestamp.before.max.ms")),
    messageTimestampAfterMaxMs: toSafeNumber(orDifference("message.timestamp.after.max.ms")),
  };

  /** Kafka 3.x: before/after at their default (Long.MAX_VALUE) defer to message.timestamp.difference.max.ms. */
  function orDifference(name: string): string {
    const own = get(name);
    return BigInt(own) === LONG_MAX_BIG ? get("message.timestamp.difference.max.ms") : own;
  }
}

const LONG_MAX_BIG = BigInt(LONG_MAX);

/** Values are validated before they are stored; anything else reads as Kafka's default. */
function compressionTypeOf(value: string): TopicCompressionType {
  return TOPIC_COMPRESSION_TYPES.find((t) => t === value) ?? "producer";
}
