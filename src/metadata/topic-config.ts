/**
 * Topic-level configs that bunka honours, with Kafka's names, types and defaults, and the
 * broker config each one falls back to (`retention.ms` ← `log.retention.ms`). Only configs
 * that change behaviour are listed: DescribeConfigs shows exactly these, and setting any
 * other name is INVALID_CONFIG rather than a silent no-op.
 *
 * Values travel as strings (as on the wire and in metadata records) and are parsed here,
 * once, into a typed `TopicConfig`.
 */

export type ConfigType = "long" | "int" | "double" | "boolean" | "string" | "list";

export interface TopicConfigDef {
  readonly name: string;
  readonly type: ConfigType;
  /** The broker config whose value is this topic config's default. */
  readonly brokerKey: string;
  readonly defaultValue: string;
  /** Returns an error message for a bad value, or null. The value is already type-checked. */
  readonly check?: (value: string) => string | null;
}

const LONG_MAX = "9223372036854775807";

const oneOf =
  (...allowed: string[]) =>
  (value: string): string | null =>
    allowed.includes(value) ? null : `must be one of ${allowed.join(", ")}`;

const atLeast =
  (min: number) =>
  (value: string): string | null =>
    Number(value) >= min ? null : `must be >= ${min}`;

export const TOPIC_CONFIG_DEFS: readonly TopicConfigDef[] = [
  {
    name: "cleanup.policy",
    type: "list",
    brokerKey: "log.cleanup.policy",
    defaultValue: "delete",
    check: (v) => {
      const parts = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (parts.length === 0) return null;
      for (const p of parts) if (p !== "delete" && p !== "compact") return "must be a list of delete, compact";
      return null;
    },
  },
  { name: "retention.ms", type: "long", brokerKey: "log.retention.ms", defaultValue: "604800000", check: atLeast(-1) },
  { name: "retention.bytes", type: "long", brokerKey: "log.retention.bytes", defaultValue: "-1", check: atLeast(-1) },
  { name: "segment.bytes", type: "int", brokerKey: "log.segment.bytes", defaultValue: "1073741824", check: atLeast(14) },
  { name: "segment.ms", type: "long", brokerKey: "log.roll.ms", defaultValue: "604800000", check: atLeast(1) },
  { name: "segment.index.bytes", type: "int", brokerKey: "log.index.size.max.bytes", defaultValue: "10485760", check: atLeast(8) },
  { name: "index.interval.bytes", type: "int", brokerKey: "log.index.interval.bytes", defaultValue: "4096", check: atLeast(0) },
  { name: "flush.messages", type: "long", brokerKey: "log.flush.interval.messages", defaultValue: LONG_MAX, check: atLeast(1) },
  { name: "flush.ms", type: "long", brokerKey: "log.flush.interval.ms", defaultValue: LONG_MAX, check: atLeast(0) },
  { name: "max.message.bytes", type: "int", brokerKey: "message.max.bytes", defaultValue: "1048588", check: atLeast(0) },
  { name: "min.insync.replicas", type: "int", brokerKey: "min.insync.replicas", defaultValue: "1", check: atLeast(1) },
  {
    name: "message.timestamp.type",
    type: "string",
    brokerKey: "log.message.timestamp.type",
    defaultValue: "CreateTime",
    check: oneOf("CreateTime", "LogAppendTime"),
  },
  { name: "file.delete.delay.ms", type: "long", brokerKey: "log.segment.delete.delay.ms", defaultValue: "60000", check: atLeast(0) },
  { name: "delete.retention.ms", type: "long", brokerKey: "log.cleaner.delete.retention.ms", defaultValue: "86400000", check: atLeast(0) },
  { name: "min.compaction.lag.ms", type: "long", brokerKey: "log.cleaner.min.compaction.lag.ms", defaultValue: "0", check: atLeast(0) },
  {
    name: "min.cleanable.dirty.ratio",
    type: "double",
    brokerKey: "log.cleaner.min.cleanable.ratio",
    defaultValue: "0.5",
    check: (v) => (Number(v) >= 0 && Number(v) <= 1 ? null : "must be in [0, 1]"),
  },
  {
    name: "unclean.leader.election.enable",
    type: "boolean",
    brokerKey: "unclean.leader.election.enable",
    defaultValue: "false",
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
  uncleanLeaderElectionEnable: boolean;
}

export type ConfigSource = "TOPIC_CONFIG" | "STATIC_BROKER_CONFIG" | "DYNAMIC_BROKER_CONFIG" | "DEFAULT_CONFIG";

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
    const broker = brokerValue(def.brokerKey);
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
    uncleanLeaderElectionEnable: get("unclean.leader.election.enable").toLowerCase() === "true",
  };
}
