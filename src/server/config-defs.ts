/**
 * The broker's configuration keys: Kafka's names, types and defaults (where bunka differs, the
 * entry says why), each with a zod schema that parses the text form every source gives
 * (properties file, environment, --set) into its typed value.
 *
 * Value rules (Kafka's ConfigDef, as bunka applies them):
 * - int/short: decimal, surrounding whitespace trimmed, range-checked.
 * - long: decimal in [min, 2^63-1]. Values above 2^53-1 (in practice Long.MAX_VALUE, Kafka's
 *   "never") are stored as `longValueMax` (2^53-1): every long config is a count, size or
 *   duration for which 2^53-1 is already unreachable, so the clamp changes no behaviour; the
 *   text shown by DescribeConfigs keeps the original digits.
 * - boolean: `true`/`false`, any case.
 * - string: trimmed. list: comma-separated, items trimmed, empty text = empty list.
 * - A key whose default is null has no value unless set (Kafka's "null" default).
 *
 * `mode` is Kafka's dynamic-update mode (read-only / per-broker / cluster-wide): which keys
 * AlterConfigs may set on a BROKER resource, and at which level (a per-broker key needs a
 * broker id; a cluster-wide one may also be set as the cluster default). bunka's own keys
 * that it can change at run time are cluster-wide. What a dynamic value does in bunka (applied
 * live, stored without effect, or refused) is dynamic-config.ts's `dynamicEffect`.
 *
 * `ignored: true` marks Kafka keys bunka accepts so an existing server.properties loads, but
 * which mean nothing here (thread counts, socket buffer sizes); start-up logs each one set.
 */
import { z } from "zod";
import { STANDARD_AUTHORIZER_CLASS_NAMES } from "../metadata/authorizer.ts";
import { zstdLevelMax, zstdLevelMin } from "../metadata/topic-config.ts";
import { dropBehindBytesMin } from "../storage/config.ts";
import { isLogLevel, type LogLevel } from "../util/log.ts";
import {
  backupIntervalMsMin,
  backupRetentionDaysMax,
  idleTimeoutMsMin,
  inflightRequestBytesPerConnectionMin,
  inflightRequestsPerConnectionMax,
  inflightRequestsPerConnectionMin,
  int16Max,
  int32Max,
  longValueMax,
  nodeIdMax,
  queuedRequestBytesMin,
  queuedRequestBytesUnboundedCap,
  queuedResponseBytesPerConnectionMin,
  requestFrameBytesMin,
  shutdownTimeoutMsMax,
} from "./limits.ts";

/** Kafka's ConfigDef.Type names, as DescribeConfigs reports them. */
export type KafkaConfigType = "BOOLEAN" | "STRING" | "INT" | "SHORT" | "LONG" | "DOUBLE" | "LIST" | "CLASS" | "PASSWORD";
/** Kafka's DynamicBrokerConfig modes. */
export type ConfigMode = "read-only" | "per-broker" | "cluster-wide";

export interface ConfigDef<T> {
  readonly type: KafkaConfigType;
  /** The value when no source sets the key. */
  readonly default: T;
  /** The default as Kafka prints it (null for a null default). */
  readonly defaultText: string | null;
  readonly mode: ConfigMode;
  readonly doc: string;
  /** The accepted form, for error messages ("an integer in [1, 2147483647]"). */
  readonly accepted: string;
  readonly sensitive: boolean;
  /** A Kafka key that bunka accepts and ignores. */
  readonly ignored: boolean;
  /** Not a Kafka broker key: bunka's own. */
  readonly bunkaOnly: boolean;
  /** Parses the text form; zod issues become the "accepted form" message. */
  readonly schema: z.ZodType<T, z.ZodTypeDef, string>;
}

interface Common {
  mode?: ConfigMode;
  doc: string;
  ignored?: boolean;
  bunkaOnly?: boolean;
}

function def<T>(type: KafkaConfigType, schema: z.ZodType<T, z.ZodTypeDef, string>, accepted: string, dflt: T, defaultText: string | null, c: Common): ConfigDef<T> {
  return {
    type,
    default: dflt,
    defaultText,
    mode: c.mode ?? "read-only",
    doc: c.doc,
    accepted,
    sensitive: type === "PASSWORD",
    ignored: c.ignored ?? false,
    bunkaOnly: c.bunkaOnly ?? false,
    schema,
  };
}

const integerText = z.string().trim().regex(/^[+-]?\d+$/, "not an integer");

function intSchema(min: number, max: number): z.ZodType<number, z.ZodTypeDef, string> {
  return integerText.transform((s) => Number(s)).pipe(z.number().int().min(min).max(max));
}

function rangeText(kind: string, min: number | "-2^63", max: number | "2^63-1"): string {
  return `${kind} in [${min}, ${max}]`;
}

function int(dflt: number, min: number, max: number, c: Common): ConfigDef<number> {
  return def("INT", intSchema(min, max), rangeText("an integer", min, max), dflt, String(dflt), c);
}
function intOrNull(min: number, max: number, c: Common): ConfigDef<number | null> {
  return def<number | null>("INT", intSchema(min, max), rangeText("an integer", min, max), null, null, c);
}
function short(dflt: number, min: number, c: Common): ConfigDef<number> {
  return def("SHORT", intSchema(min, int16Max), rangeText("an integer", min, int16Max), dflt, String(dflt), c);
}

const longMaxBig = 9223372036854775807n;
/** -2^63, exact as a double: Kafka's Long.MIN_VALUE. */
const longMin = -(2 ** 63);

function longSchema(min: number): z.ZodType<number, z.ZodTypeDef, string> {
  return integerText.transform((s, ctx) => {
    const big = BigInt(s);
    if (big < BigInt(min) || big > longMaxBig) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "out of range" });
      return z.NEVER;
    }
    return big > BigInt(longValueMax) ? longValueMax : Number(big);
  });
}
function long(dflt: number, defaultText: string, min: number, c: Common): ConfigDef<number> {
  return def("LONG", longSchema(min), rangeText("an integer", min === longMin ? "-2^63" : min, "2^63-1"), dflt, defaultText, c);
}
function longOrNull(min: number, c: Common): ConfigDef<number | null> {
  return def<number | null>("LONG", longSchema(min), rangeText("an integer", min, "2^63-1"), null, null, c);
}

function double(dflt: number, min: number, max: number, c: Common): ConfigDef<number> {
  const schema = z
    .string()
    .trim()
    .regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, "not a number")
    .transform((s) => Number(s))
    .pipe(z.number().finite().min(min).max(max));
  return def("DOUBLE", schema, rangeText("a number", min, max), dflt, String(dflt), c);
}

const booleanSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false"]))
  .transform((s) => s === "true");
function bool(dflt: boolean, c: Common): ConfigDef<boolean> {
  return def("BOOLEAN", booleanSchema, "true or false", dflt, String(dflt), c);
}

const stringSchema = z.string().trim();
function str(dflt: string, c: Common): ConfigDef<string> {
  return def("STRING", stringSchema, "a string", dflt, dflt, c);
}
function strOrNull(c: Common): ConfigDef<string | null> {
  return def<string | null>("STRING", stringSchema, "a string", null, null, c);
}
function oneOf<const V extends readonly [string, ...string[]]>(values: V, dflt: V[number], c: Common): ConfigDef<V[number]> {
  return def("STRING", z.string().trim().pipe(z.enum(values)), `one of ${values.join(", ")}`, dflt, dflt, c);
}

const listSchema = z
  .string()
  .trim()
  .transform((s) => (s === "" ? [] : s.split(",").map((x) => x.trim())));
function list(dflt: string, c: Common): ConfigDef<readonly string[]> {
  return def<readonly string[]>("LIST", listSchema, "a comma-separated list", listSchema.parse(dflt), dflt, c);
}
function listOrNull(c: Common): ConfigDef<readonly string[] | null> {
  return def<readonly string[] | null>("LIST", listSchema, "a comma-separated list", null, null, c);
}
function listOf<const V extends readonly [string, ...string[]]>(values: V, dflt: string, c: Common): ConfigDef<readonly V[number][]> {
  const schema = listSchema.pipe(z.array(z.enum(values)));
  return def<readonly V[number][]>("LIST", schema, `a comma-separated list of ${values.join(", ")}`, schema.parse(dflt), dflt, c);
}

const logLevelSchema = z
  .string()
  .trim()
  .toLowerCase()
  .refine(isLogLevel, "not a level")
  .transform((s) => s as LogLevel);

/** Where the metrics endpoint listens (`metrics.listener`). */
export interface MetricsListener {
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

const metricsListenerSchema: z.ZodType<MetricsListener | null, z.ZodTypeDef, string> = z
  .string()
  .trim()
  .transform((s, ctx) => {
    if (s === "") return null;
    const m = /^http:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})(\/[A-Za-z0-9._~\/-]*)?$/.exec(s);
    const port = m === null ? -1 : Number(m[2]);
    if (m === null || port > 65535) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "not http://HOST:PORT/PATH" });
      return z.NEVER;
    }
    const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
    return { host, port, path: m[3] ?? "/metrics" };
  });

/** A regular expression matched against whole names: refused at start-up unless it compiles. */
function regexDef(dflt: string, c: Common): ConfigDef<string> {
  const schema = z
    .string()
    .trim()
    .refine((s) => {
      try {
        new RegExp(`^(?:${s})$`);
        return true;
      } catch {
        return false;
      }
    }, "not a regular expression");
  return def("STRING", schema, "a regular expression", dflt, dflt, c);
}

const ignoredNote = "Accepted for compatibility with Kafka's server.properties; bunka ignores it.";
const noKerberos = "Accepted for compatibility; bunka has no Kerberos (SASL/GSSAPI).";

/** Every key bunka knows. Order is the order of `--help`-style listings and DescribeConfigs. */
export const configDefs = {
  // --- identity and roles
  "node.id": int(1, 0, nodeIdMax, {
    doc: "This node's id. Kafka requires it in KRaft mode; bunka defaults to 1 so a bare `bunka broker` starts.",
  }),
  "broker.id": int(-1, -1, nodeIdMax, { doc: "Legacy alias of node.id; when both are set they must agree." }),
  "process.roles": listOf(["broker", "controller"] as const, "broker,controller", {
    doc: "Roles of this node. bunka runs single-node as broker+controller (Kafka's default is empty: ZooKeeper mode).",
  }),
  "cluster.id": strOrNull({
    bunkaOnly: true,
    doc: "Cluster id (22-character base64url UUID). When unset, the id in the log dir's meta.properties is used, or a new one is generated there.",
  }),
  "broker.rack": strOrNull({ doc: "Rack of this broker, for rack-aware assignment." }),

  // --- listeners
  listeners: str("PLAINTEXT://127.0.0.1:9092", {
    mode: "per-broker",
    doc: "Comma-separated NAME://host:port to bind. Empty host = all interfaces; port 0 = a free port. bunka binds loopback by default (Kafka: PLAINTEXT://:9092).",
  }),
  "advertised.listeners": strOrNull({
    mode: "per-broker",
    doc: "Addresses given to clients in Metadata, NAME://host:port; default: the bound listeners.",
  }),
  "listener.security.protocol.map": str("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", {
    mode: "per-broker",
    doc: "Listener name → security protocol. bunka serves PLAINTEXT only.",
  }),
  "controller.listener.names": listOrNull({ doc: "Listeners used by the controller quorum." }),
  "inter.broker.listener.name": strOrNull({ doc: "Listener brokers use to talk to each other." }),
  "controller.quorum.voters": list("", { doc: "Static controller quorum (id@host:port, ...)." }),
  "controller.quorum.bootstrap.servers": list("", { doc: "Controller quorum bootstrap servers (host:port, ...)." }),
  "controller.quorum.election.timeout.ms": int(1000, 1, int32Max, { doc: "A voter that hears from no leader for this long (plus a random part of it) starts an election." }),
  "controller.quorum.fetch.timeout.ms": int(2000, 1, int32Max, { doc: "A follower with no successful fetch for this long looks for a new leader; a leader without fetches from a majority for this long resigns." }),
  "controller.quorum.election.backoff.max.ms": int(1000, 0, int32Max, { doc: "Longest random wait before a new election after a failed one." }),
  "controller.quorum.request.timeout.ms": int(2000, 1, int32Max, { doc: "An unanswered quorum request is sent again after this." }),
  "controller.quorum.retry.backoff.ms": int(20, 0, int32Max, { doc: "Wait before retrying a failed quorum request." }),
  "metadata.max.idle.interval.ms": int(500, 0, int32Max, {
    doc: "The active controller writes a no-op record to the metadata log when nothing was committed for this long; 0: never.",
  }),
  "metadata.log.max.record.bytes.between.snapshots": long(20 * 1024 * 1024, String(20 * 1024 * 1024), 1, {
    doc: "Metadata log bytes applied since the latest snapshot after which every node snapshots its metadata image.",
  }),
  "metadata.log.max.snapshot.interval.ms": long(60 * 60 * 1000, String(60 * 60 * 1000), 0, {
    doc: "A node snapshots its metadata image this long after its latest snapshot if anything was applied since; 0: by size only.",
  }),
  "metadata.log.segment.bytes": int(1024 * 1024 * 1024, 16 * 1024, int32Max, {
    doc:
      "Size of one metadata log segment: what the log start passes (after a snapshot) leaves the disk a whole segment at a time. " +
      "One metadata decision (a batch) must fit in a segment: below Kafka's effective floor of 8 MiB, a CreateTopics of very many partitions is refused.",
  }),
  "metadata.log.segment.ms": long(7 * 24 * 60 * 60 * 1000, String(7 * 24 * 60 * 60 * 1000), 1, {
    doc: "A metadata log segment older than this is rolled at the next append.",
  }),
  // Kafka gives the two retention settings no validator: any negative value is no limit.
  "metadata.max.retention.bytes": long(100 * 1024 * 1024, String(100 * 1024 * 1024), longMin, {
    doc: "Above this total of metadata log and snapshot bytes the oldest snapshot and the log before the next one are deleted (the latest snapshot is always kept); negative: no limit.",
  }),
  "metadata.max.retention.ms": long(7 * 24 * 60 * 60 * 1000, String(7 * 24 * 60 * 60 * 1000), longMin, {
    doc: "A metadata snapshot older than this is deleted with the log before the next one (the latest snapshot is always kept); negative: no limit.",
  }),
  "broker.heartbeat.interval.ms": int(2000, 1, int32Max, { doc: "How often a broker heartbeats to the active controller." }),
  "broker.session.timeout.ms": int(9000, 1, int32Max, { doc: "A broker whose heartbeats stop for this long is fenced by the controller." }),

  // --- authorization (README "ACLs")
  "authorizer.class.name": def(
    "STRING",
    z
      .string()
      .trim()
      .refine((s) => s === "" || STANDARD_AUTHORIZER_CLASS_NAMES.has(s), "not an authorizer bunka has"),
    `empty (no authorizer) or one of ${[...STANDARD_AUTHORIZER_CLASS_NAMES].join(", ")}`,
    "",
    "",
    { doc: "The authorizer enforcing ACLs (stored in the metadata log). Empty: none; every request is allowed and the ACL APIs answer SECURITY_DISABLED." },
  ),
  "super.users": def(
    "STRING",
    z
      .string()
      .trim()
      .transform((s) => s.split(";").map((p) => p.trim()).filter((p) => p !== ""))
      .pipe(z.array(z.string().regex(/^[^:]+:.*$/, "a principal is Type:name"))),
    "semicolon-separated principals (User:alice;User:bob)",
    [] as string[],
    "",
    { doc: "Principals the authorizer allows everything, semicolon-separated." },
  ),
  "allow.everyone.if.no.acl.found": bool(false, { doc: "With an authorizer: a resource no ACL names is open to every principal." }),

  // --- connections
  "socket.request.max.bytes": int(104857600, requestFrameBytesMin, int32Max, { doc: "Largest request frame; a larger size prefix closes the connection." }),
  "max.connections": int(int32Max, 1, int32Max, { mode: "cluster-wide", doc: "Connections the broker accepts in total; beyond it new ones are refused." }),
  "max.connections.per.ip": int(int32Max, 0, int32Max, { mode: "cluster-wide", doc: "Connections accepted from one address." }),
  "max.connections.per.ip.overrides": str("", { mode: "cluster-wide", doc: "Per-address limits: host:count,host:count." }),
  "connections.max.idle.ms": long(600000, "600000", idleTimeoutMsMin, { doc: "Close a connection with nothing in flight after this long without traffic." }),
  "queued.max.requests": int(500, 1, int32Max, { doc: "Requests in flight across all connections before the broker stops reading." }),
  "queued.max.request.bytes": long(-1, "-1", -1, {
    doc: `Request bytes in flight across all connections before the broker stops reading: -1 (Kafka's "unbounded", the default) means bunka's cap of ${queuedRequestBytesUnboundedCap} bytes; otherwise at least ${queuedRequestBytesMin}.`,
  }),
  "connection.max.inflight.requests": int(128, inflightRequestsPerConnectionMin, inflightRequestsPerConnectionMax, {
    bunkaOnly: true,
    doc: "Pipelined requests one connection may have dispatched and unanswered before bunka stops reading it (Kafka handles one at a time).",
  }),
  "connection.max.inflight.request.bytes": long(64 * 1024 * 1024, String(64 * 1024 * 1024), inflightRequestBytesPerConnectionMin, {
    bunkaOnly: true,
    doc: "Request bytes one connection may hold in flight before bunka stops reading it (a single larger request still proceeds alone).",
  }),
  "connection.max.queued.response.bytes": long(16 * 1024 * 1024, String(16 * 1024 * 1024), queuedResponseBytesPerConnectionMin, {
    bunkaOnly: true,
    doc: "Response bytes waiting to be sent on one connection before bunka stops reading it.",
  }),
  "shutdown.timeout.ms": long(30000, "30000", 0, {
    bunkaOnly: true,
    doc: `How long graceful shutdown waits for in-flight requests before dropping connections (at most ${shutdownTimeoutMsMax}).`,
  }),
  "logger.level": def<LogLevel>("STRING", logLevelSchema, "one of debug, info, warn, error", "info", "info", {
    bunkaOnly: true,
    doc: "Lowest level of the broker's log lines (logfmt on stderr).",
  }),

  // --- log storage
  "log.dirs": listOrNull({ doc: "Directories holding partition data; overrides log.dir." }),
  "log.dir": str("./data", { doc: "Data directory when log.dirs is unset. bunka: ./data (Kafka: /tmp/kafka-logs)." }),
  "num.partitions": int(1, 1, int32Max, { doc: "Partitions of an auto-created topic." }),
  "default.replication.factor": int(1, 1, int16Max, { doc: "Replication factor of an auto-created topic." }),
  "auto.create.topics.enable": bool(true, { doc: "Create a topic when a client asks for metadata of an unknown one." }),
  "delete.topic.enable": bool(true, { doc: "Allow DeleteTopics." }),
  "message.max.bytes": int(1048588, 0, int32Max, { mode: "cluster-wide", doc: "Largest record batch accepted." }),
  "compression.type": oneOf(["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"] as const, "producer", {
    mode: "cluster-wide",
    doc: "Default compression.type of topics: batches in another codec are recompressed to this one when appended; `producer` keeps what the producer sent, `uncompressed` stores them uncompressed.",
  }),
  "compression.gzip.level": def("INT", intSchema(-1, 9).refine((v) => v !== 0, "0 is not a gzip level"), "-1 or an integer in [1, 9]", -1, "-1", {
    mode: "cluster-wide",
    doc: "Default compression.gzip.level of topics: the level of batches the broker recompresses to gzip; -1 is zlib's default (6).",
  }),
  "compression.lz4.level": int(9, 1, 17, { mode: "cluster-wide", ignored: true, doc: "Accepted for compatibility; bunka's LZ4 compressor has a single speed." }),
  "compression.zstd.level": int(3, zstdLevelMin, zstdLevelMax, {
    mode: "cluster-wide",
    doc: "Default compression.zstd.level of topics: the level of batches the broker recompresses to zstd.",
  }),
  "log.segment.bytes": int(1073741824, 14, int32Max, { mode: "cluster-wide", doc: "Size at which a segment is rolled." }),
  "log.roll.ms": longOrNull(1, { mode: "cluster-wide", doc: "Age at which a segment is rolled; overrides log.roll.hours." }),
  "log.roll.hours": int(168, 1, int32Max, { doc: "Age in hours at which a segment is rolled." }),
  "log.index.interval.bytes": int(4096, 0, int32Max, { mode: "cluster-wide", doc: "Bytes between offset index entries." }),
  "log.index.size.max.bytes": int(10485760, 4, int32Max, { mode: "cluster-wide", doc: "Largest offset/time index file." }),
  "log.retention.ms": longOrNull(-1, { mode: "cluster-wide", doc: "Retention time; -1 keeps data forever. Overrides minutes and hours." }),
  "log.retention.minutes": intOrNull(-1, int32Max, { doc: "Retention in minutes; overrides log.retention.hours." }),
  "log.retention.hours": int(168, -1, int32Max, { doc: "Retention in hours." }),
  "log.retention.bytes": long(-1, "-1", -1, { mode: "cluster-wide", doc: "Partition size beyond which old segments are deleted; -1: no limit." }),
  "log.retention.check.interval.ms": long(300000, "300000", 1, { doc: "How often retention runs." }),
  "log.flush.interval.messages": long(longValueMax, "9223372036854775807", 1, { mode: "cluster-wide", doc: "Messages appended before a partition is fsynced." }),
  "log.flush.interval.ms": longOrNull(0, { mode: "cluster-wide", doc: "Time a message may wait unflushed; default: log.flush.scheduler.interval.ms." }),
  "log.flush.scheduler.interval.ms": long(longValueMax, "9223372036854775807", 0, { doc: "How often the flusher checks for partitions to flush." }),
  "log.flush.offset.checkpoint.interval.ms": int(60000, 0, int32Max, { doc: "How often recovery points are checkpointed." }),
  "log.flush.start.offset.checkpoint.interval.ms": int(60000, 0, int32Max, { doc: "How often log start offsets are checkpointed." }),
  "log.drop.behind.bytes": long(0, "0", 0, {
    bunkaOnly: true,
    doc: `When > 0 (values below ${dropBehindBytesMin} act as ${dropBehindBytesMin}), appended log bytes further than this behind the end of a partition's active segment are written back and dropped from the page cache, so writes recycle cache pages instead of growing the cache; consumers reading that far behind read from disk, and what a fetch reads there is dropped again once read. 0 (the default) leaves caching to the kernel.`,
  }),
  "log.dir.monitor.interval.ms": long(10000, "10000", 1, {
    mode: "cluster-wide",
    bunkaOnly: true,
    doc: "How often the disk monitor samples each log dir's filesystem (DescribeLogDirs' total and usable bytes, the thresholds below). Between samples a write budget re-samples a dir early as it nears log.dir.reject.usage.ratio.",
  }),
  "log.dir.alert.usage.ratio": double(0.8, 0, 1, { mode: "cluster-wide", bunkaOnly: true, doc: "Usage (df's used / (used + available)) at which a log dir's filesystem is warned about, one log line per crossing." }),
  "log.dir.cleanup.usage.ratio": double(0.9, 0, 1, {
    mode: "cluster-wide",
    bunkaOnly: true,
    doc: "Usage at which the broker runs at once what would otherwise wait: retention checks, removal of deleted segments and partitions, compaction. Data within its retention is never deleted.",
  }),
  "log.dir.reject.usage.ratio": double(0.95, 0, 1, {
    mode: "cluster-wide",
    bunkaOnly: true,
    doc: "Usage at which produce to partitions in that log dir is refused with NOT_ENOUGH_REPLICAS (retriable) and a message naming the dir; fetches, deletes and retention go on, internal topics keep a reserve, and writes resume once usage falls 2% below.",
  }),
  "log.dir.min.free.bytes": long(1048576, "1048576", 0, { mode: "cluster-wide", bunkaOnly: true, doc: "A log dir with fewer available bytes than this refuses produce as at log.dir.reject.usage.ratio, whatever its usage." }),
  "log.segment.delete.delay.ms": long(60000, "60000", 0, { mode: "cluster-wide", doc: "How long a deleted segment's files wait before removal." }),
  "replica.high.watermark.checkpoint.interval.ms": long(5000, "5000", 1, { doc: "How often high watermarks are checkpointed." }),
  "log.cleanup.policy": listOf(["delete", "compact"] as const, "delete", { mode: "cluster-wide", doc: "delete and/or compact." }),
  "log.cleaner.enable": bool(true, { doc: "Run the log cleaner (compaction)." }),
  "log.cleaner.backoff.ms": long(15000, "15000", 0, { mode: "cluster-wide", doc: "Pause between cleaner passes when no log needs cleaning." }),
  "log.cleaner.dedupe.buffer.size": long(134217728, "134217728", 1024, { mode: "cluster-wide", doc: "Memory for the cleaner's key to offset map." }),
  "log.cleaner.delete.retention.ms": long(86400000, "86400000", 0, { mode: "cluster-wide", doc: "How long delete tombstones are kept in compacted topics." }),
  "log.cleaner.min.compaction.lag.ms": long(0, "0", 0, { mode: "cluster-wide", doc: "Minimum age of a message before it may be compacted." }),
  "log.cleaner.max.compaction.lag.ms": long(longValueMax, "9223372036854775807", 1, { mode: "cluster-wide", doc: "Maximum time a message stays ineligible for compaction." }),
  "log.cleaner.min.cleanable.ratio": double(0.5, 0, 1, { mode: "cluster-wide", doc: "Dirty ratio above which a log is compacted." }),
  "log.message.timestamp.type": oneOf(["CreateTime", "LogAppendTime"] as const, "CreateTime", { mode: "cluster-wide", doc: "Timestamp kept in stored batches." }),
  "log.message.timestamp.before.max.ms": long(longValueMax, "9223372036854775807", 0, {
    mode: "cluster-wide",
    doc: "CreateTime topics: how far behind the broker's clock a record's timestamp may be; older records are refused with INVALID_TIMESTAMP.",
  }),
  "log.message.timestamp.after.max.ms": long(longValueMax, "9223372036854775807", 0, {
    mode: "cluster-wide",
    doc: "CreateTime topics: how far ahead of the broker's clock a record's timestamp may be; later records are refused with INVALID_TIMESTAMP.",
  }),
  "log.message.timestamp.difference.max.ms": long(longValueMax, "9223372036854775807", 0, {
    mode: "cluster-wide",
    doc: "Deprecated in Kafka 3.6: the bound before.max.ms and after.max.ms use while they are unset.",
  }),
  "log.message.format.version": str("3.0-IV1", { ignored: true, doc: "Deprecated in Kafka 3.x and removed in 4.0; bunka stores v2 record batches only." }),
  "log.message.downconversion.enable": bool(true, { mode: "cluster-wide", ignored: true, doc: "bunka never down-converts record batches." }),
  "log.preallocate": bool(false, { mode: "cluster-wide", ignored: true, doc: "bunka does not preallocate segment files." }),
  "log.roll.jitter.ms": longOrNull(0, { mode: "cluster-wide", ignored: true, doc: "bunka rolls segments at log.roll.ms exactly, without jitter." }),
  "log.roll.jitter.hours": int(0, 0, int32Max, { ignored: true, doc: "bunka rolls segments at log.roll.hours exactly, without jitter." }),
  "log.local.retention.ms": long(-2, "-2", -2, { mode: "cluster-wide", ignored: true, doc: "Tiered storage: bunka has none." }),
  "log.local.retention.bytes": long(-2, "-2", -2, { mode: "cluster-wide", ignored: true, doc: "Tiered storage: bunka has none." }),
  "num.recovery.threads.per.data.dir": int(1, 1, int32Max, { mode: "cluster-wide", ignored: true, doc: ignoredNote }),

  // --- replication
  "min.insync.replicas": int(1, 1, int32Max, { mode: "cluster-wide", doc: "Replicas that must have a write for acks=all." }),
  "replica.lag.time.max.ms": long(30000, "30000", 1, { doc: "A follower that has not caught up for this long leaves the ISR." }),
  "unclean.leader.election.enable": bool(false, { mode: "cluster-wide", doc: "Allow an out-of-sync replica to become leader." }),
  "auto.leader.rebalance.enable": bool(true, { doc: "The active controller moves leadership back to preferred replicas (the first of each assignment) every leader.imbalance.check.interval.seconds." }),
  "leader.imbalance.check.interval.seconds": long(300, "300", 1, { doc: "How often the active controller checks the preferred-leader imbalance." }),
  "leader.imbalance.per.broker.percentage": int(10, 0, 100, { doc: "A broker not leading more than this percentage of the partitions that prefer it gets their leadership back." }),
  "num.replica.fetchers": int(1, 1, int32Max, { mode: "cluster-wide", doc: "Replica fetchers per source broker." }),
  "replica.fetch.max.bytes": int(1048576, 0, int32Max, { doc: "Bytes a follower asks per partition in one fetch (one whole batch at least)." }),
  "replica.fetch.response.max.bytes": int(10485760, 0, int32Max, { doc: "Bytes a follower asks for in one fetch response." }),
  "replica.fetch.min.bytes": int(1, 1, int32Max, { doc: "Bytes a follower's fetch waits for, up to replica.fetch.wait.max.ms." }),
  "replica.fetch.wait.max.ms": int(500, 0, int32Max, { doc: "Longest a follower's fetch waits for replica.fetch.min.bytes." }),
  "replica.fetch.backoff.ms": int(1000, 0, int32Max, { doc: "Wait of a follower after a failed fetch of a partition." }),
  "replica.socket.timeout.ms": int(30000, 1, int32Max, { doc: "Timeout of a follower's fetch beyond its wait." }),
  "max.incremental.fetch.session.cache.slots": int(1000, 0, int32Max, { doc: "Incremental fetch sessions (KIP-227) a broker keeps; 0 turns them off." }),

  // --- group coordinator
  "offsets.topic.num.partitions": int(50, 1, int32Max, { doc: "Partitions of __consumer_offsets." }),
  "offsets.topic.replication.factor": short(1, 1, {
    doc: "Replication factor of __consumer_offsets. bunka: 1 so a single node works (Kafka: 3).",
  }),
  "offsets.retention.minutes": int(10080, 1, int32Max, { doc: "How long committed offsets of an empty group are kept." }),
  "group.initial.rebalance.delay.ms": int(3000, 0, int32Max, { doc: "Wait for more members before the first rebalance of a new group." }),
  "group.min.session.timeout.ms": int(6000, 0, int32Max, { doc: "Smallest session timeout a member may ask for." }),
  "group.max.session.timeout.ms": int(1800000, 0, int32Max, { doc: "Largest session timeout a member may ask for." }),
  "group.max.size": int(int32Max, 1, int32Max, { doc: "Members one group may have." }),
  "transaction.state.log.replication.factor": short(1, 1, { doc: "Replication factor of __transaction_state. bunka: 1 (Kafka: 3)." }),
  "transaction.state.log.min.isr": int(1, 1, int32Max, { doc: "min.insync.replicas of __transaction_state. bunka: 1 (Kafka: 2)." }),

  // --- fetch
  "fetch.max.bytes": int(57671680, 1024, int32Max, { doc: "Most bytes one Fetch response carries." }),

  // --- metrics (bunka's own; src/server/metrics/)
  "metrics.listener": def<MetricsListener | null>("STRING", metricsListenerSchema, "http://HOST:PORT/PATH (port 0: any free port)", null, null, {
    bunkaOnly: true,
    doc: "Where the Prometheus metrics endpoint listens, e.g. http://127.0.0.1:9644/metrics; unset (the default) turns it off.",
  }),

  // --- scheduled backups (bunka's own; src/backup/schedule.ts)
  "backup.dir": str("", {
    bunkaOnly: true,
    doc: "Directory the broker writes scheduled backups into (the format of `bunka backup create`); empty (the default) turns scheduled backups off. In a cluster, the live broker with the lowest id runs the schedule for the whole cluster.",
  }),
  "backup.interval.ms": long(3_600_000, "3600000", backupIntervalMsMin, { bunkaOnly: true, doc: "Time between two scheduled backups; each is incremental on the previous one in backup.dir." }),
  "backup.topics": regexDef(".*", { bunkaOnly: true, doc: "Topics backed up: a regular expression matching whole names (internal topics never are)." }),
  "backup.groups": regexDef(".*", { bunkaOnly: true, doc: "Consumer groups whose committed offsets are backed up: a regular expression matching whole ids." }),
  "backup.retention.days": def("INT", intSchema(-1, backupRetentionDaysMax).refine((v) => v !== 0, "0 would remove every backup"), `-1 or an integer in [1, ${backupRetentionDaysMax}]`, 7, "7", {
    bunkaOnly: true,
    doc: "Scheduled backups older than this are removed, except those a younger incremental backup builds on; a new full backup starts a chain every half retention. -1 keeps every backup; 0 is refused.",
  }),
  "backup.compression.type": oneOf(["zstd", "lz4", "gzip", "none"] as const, "zstd", { bunkaOnly: true, doc: "Compression of backup chunks." }),
  "backup.encryption.key.file": strOrNull({
    bunkaOnly: true,
    doc: "File holding the 256-bit key that seals backup chunks (AES-256-GCM): 64 hex digits (openssl rand -hex 32) or 32 raw bytes. Unset: backups are written unencrypted, and each run says so.",
  }),

  // --- Kafka keys accepted and ignored
  "num.network.threads": int(3, 1, int32Max, { mode: "cluster-wide", ignored: true, doc: ignoredNote }),
  "num.io.threads": int(8, 1, int32Max, { mode: "cluster-wide", ignored: true, doc: ignoredNote }),
  "background.threads": int(10, 1, int32Max, { mode: "cluster-wide", ignored: true, doc: ignoredNote }),
  "log.cleaner.threads": int(1, 0, int32Max, { mode: "cluster-wide", ignored: true, doc: "Accepted for compatibility; bunka cleans logs on one task." }),
  "leader.replication.throttled.rate": long(longValueMax, "9223372036854775807", 0, {
    mode: "cluster-wide",
    ignored: true,
    doc: "Accepted for compatibility (kafka-reassign-partitions --throttle sets it); bunka has no replication quotas.",
  }),
  "follower.replication.throttled.rate": long(longValueMax, "9223372036854775807", 0, {
    mode: "cluster-wide",
    ignored: true,
    doc: "Accepted for compatibility (kafka-reassign-partitions --throttle sets it); bunka has no replication quotas.",
  }),
  "replica.alter.log.dirs.io.max.bytes.per.second": long(longValueMax, "9223372036854775807", 0, {
    mode: "cluster-wide",
    ignored: true,
    doc: "Accepted for compatibility; bunka does not move replicas between log dirs.",
  }),
  // Kerberos (SASL/GSSAPI): bunka has none. Kafka lets these be changed per broker at run time.
  "sasl.kerberos.service.name": strOrNull({ mode: "per-broker", ignored: true, doc: noKerberos }),
  "sasl.kerberos.kinit.cmd": str("/usr/bin/kinit", { mode: "per-broker", ignored: true, doc: noKerberos }),
  "sasl.kerberos.ticket.renew.window.factor": double(0.8, 0, 1, { mode: "per-broker", ignored: true, doc: noKerberos }),
  "sasl.kerberos.ticket.renew.jitter": double(0.05, 0, 1, { mode: "per-broker", ignored: true, doc: noKerberos }),
  "sasl.kerberos.min.time.before.relogin": long(60000, "60000", 0, { mode: "per-broker", ignored: true, doc: noKerberos }),
  "sasl.kerberos.principal.to.local.rules": list("DEFAULT", { mode: "per-broker", ignored: true, doc: noKerberos }),
  "socket.send.buffer.bytes": int(102400, -1, int32Max, { ignored: true, doc: ignoredNote }),
  "socket.receive.buffer.bytes": int(102400, -1, int32Max, { ignored: true, doc: ignoredNote }),
  "share.coordinator.state.topic.replication.factor": short(3, 1, { ignored: true, doc: ignoredNote }),
  "share.coordinator.state.topic.min.isr": short(2, 1, { ignored: true, doc: ignoredNote }),
} as const satisfies Record<string, ConfigDef<unknown>>;

export type ConfigDefs = typeof configDefs;
export type ConfigName = keyof ConfigDefs;
export type ConfigValue<D> = D extends ConfigDef<infer T> ? T : never;
/** The typed value of every key. */
export type ConfigValues = { readonly [K in ConfigName]: ConfigValue<ConfigDefs[K]> };

export const configNames: readonly ConfigName[] = Object.keys(configDefs) as ConfigName[];

export function isConfigName(name: string): name is ConfigName {
  return Object.hasOwn(configDefs, name);
}

/**
 * `BUNKA_` variables that are not config keys: the runtime switches (`BUNKA_WASM`,
 * `BUNKA_NATIVE_CRC`) and the variables the project's test, benchmark and compat tools read
 * (prefixes ending in `_`). Loading the config skips them; any other `BUNKA_` variable must
 * name a key, so a typo stops start-up.
 */
export const nonConfigEnvVariables: readonly string[] = [
  "BUNKA_WASM",
  "BUNKA_NATIVE_CRC",
  "BUNKA_CACHE",
  "BUNKA_BROKER_CMD",
  "BUNKA_SEED",
  "BUNKA_SIM_SEED",
  "BUNKA_TEST_",
  "BUNKA_FUZZ_",
  "BUNKA_INTEROP_",
];

export function isNonConfigEnvVariable(variable: string): boolean {
  return nonConfigEnvVariables.some((v) => (v.endsWith("_") ? variable.startsWith(v) : variable === v));
}

/** The environment variable for a key: `BUNKA_` + upper case, dots (and dashes) as underscores. */
export function envVarName(name: string): string {
  return `BUNKA_${name.toUpperCase().replace(/[.-]/g, "_")}`;
}
