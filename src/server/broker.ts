/**
 * Wiring of one broker process: configuration + platform in, a running `Broker` out.
 * `main.ts` calls it with the Bun platform; tests call it in-process with fakes or with the
 * real platform on port 0.
 *
 * Start-up, in order (each failure stops start-up with one error; nothing stays bound):
 *  1. logger at `logger.level`; a warning for each ignored Kafka key that was set;
 *  2. each data directory is created and locked (one broker per dir: log-dir-lock.ts), then
 *     its meta.properties read or written (cluster id);
 *  3. the server binds every listener; advertised listeners are resolved (port 0 → bound
 *     port, all-interfaces host → the machine's host name);
 *  4. one "started" log line.
 * `stop()` is the server's graceful shutdown (which runs registered hooks, last first).
 *
 * Until the Kafka API handler registry exists, the default dispatcher closes every
 * connection with a log line ("no Kafka API handlers yet"); pass `dispatcher` to replace it.
 */
import type { Clock } from "../platform/clock.ts";
import type { FileSystem } from "../platform/fs.ts";
import { formatHostPort, type Network } from "../platform/network.ts";
import type { Prng } from "../platform/prng.ts";
import { ApiKeys } from "../protocol/messages/index.ts";
import { defaultLogManagerConfig, type LogManagerConfig } from "../storage/config.ts";
import { BufferPool } from "../util/buffer-pool.ts";
import { Logger, type LogSink } from "../util/log.ts";
import type { BrokerConfig, ListenerAddress } from "./config.ts";
import { configDefs, type ConfigDef } from "./config-defs.ts";
import { FramePool } from "./frame-pool.ts";
import {
  framePoolIdleBytesMax,
  framePoolMaxBytes,
  framePoolMinBytes,
  longValueMax,
  readBufferPoolIdleBytesMax,
  readBufferPoolMaxBytes,
  readBufferPoolMinBytes,
} from "./limits.ts";
import type { Dispatcher } from "./connection.ts";
import { lockLogDirs } from "./log-dir-lock.ts";
import { ensureMetaProperties } from "./meta-properties.ts";
import { Server, type BoundListener, type ShutdownHook } from "./server.ts";
import { StartupError } from "./startup-error.ts";

export interface BrokerPlatform {
  readonly network: Network;
  readonly clock: Clock;
  readonly fs: FileSystem;
  /** For generated ids (cluster, directory). */
  readonly prng: Prng;
  readonly logSink: LogSink;
  /** The host name advertised for listeners bound to all interfaces. */
  readonly hostname: string;
  /** Makes a configured path absolute (relative to the working directory); identity in a simulator. */
  readonly absolutePath: (path: string) => string;
}

/** What a dispatcher factory may use. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly nodeId: number;
  readonly clusterId: string;
  readonly advertisedListeners: readonly ListenerAddress[];
  readonly log: Logger;
  readonly platform: BrokerPlatform;
}

export interface BrokerOptions {
  /**
   * The request dispatcher. A function of the broker context is called once the cluster id
   * is known and the listeners are bound (so advertised ports are real), before any
   * connection is accepted.
   */
  readonly dispatcher?: Dispatcher | { readonly create: (ctx: BrokerContext) => Dispatcher };
  /** Replaces the logger built from the platform sink (tests). */
  readonly log?: Logger;
}

export interface Broker {
  readonly config: BrokerConfig;
  readonly nodeId: number;
  readonly clusterId: string;
  /** Absolute data directories. */
  readonly logDirs: readonly string[];
  /** Each log dir's directory id (meta.properties), null for a file without one. */
  readonly directoryIds: readonly (string | null)[];
  /** Storage settings derived from the config (for the log manager). */
  readonly logManagerConfig: LogManagerConfig;
  /** Buffers fetches read records into (for the log manager); connections give them back once sent. */
  readonly readBuffers: BufferPool;
  /** Bound addresses (real ports). */
  readonly listeners: readonly BoundListener[];
  readonly advertisedListeners: readonly ListenerAddress[];
  readonly server: Server;
  readonly log: Logger;
  /** Work for graceful shutdown after connections are done (flush, checkpoint); last added runs first. */
  addShutdownHook(name: string, run: ShutdownHook): void;
  /** Work at the start of graceful shutdown, before in-flight requests are awaited (complete long polls). */
  addDrainHook(name: string, run: ShutdownHook): void;
  /** Graceful shutdown; idempotent. */
  stop(): Promise<void>;
}

export const noHandlersReason = "no Kafka API handlers yet";

/** The placeholder dispatcher: logs and closes each connection at its first request. */
export const noHandlersDispatcher: Dispatcher = (_frame, ctx) => {
  ctx.close(noHandlersReason);
  return null;
};

export async function startBroker(config: BrokerConfig, platform: BrokerPlatform, options: BrokerOptions = {}): Promise<Broker> {
  const log =
    options.log ??
    new Logger({ sink: platform.logSink, level: config.get("logger.level"), nowMs: () => platform.clock.nowMs() });
  const blog = log.child({ component: "broker", node: config.nodeId });

  for (const name of config.explicitlySet()) {
    const d: ConfigDef<unknown> = configDefs[name];
    if (d.ignored) blog.warn("config key has no effect in bunka", { key: name });
  }

  // Data directories: locked before anything in them is read, released last on stop.
  const logDirs = config.logDirs.map((d) => platform.absolutePath(d));
  const dirLocks = lockLogDirs(platform.fs, logDirs);
  const releaseDirLocks = (): void => {
    for (const lock of dirLocks) lock.release();
  };
  try {
    return await startLocked(config, platform, options, log, blog, logDirs, releaseDirLocks);
  } catch (error) {
    releaseDirLocks();
    throw error;
  }
}

async function startLocked(
  config: BrokerConfig,
  platform: BrokerPlatform,
  options: BrokerOptions,
  log: Logger,
  blog: Logger,
  logDirs: readonly string[],
  releaseDirLocks: () => void,
): Promise<Broker> {
  let clusterId: string | null = config.get("cluster.id");
  const directoryIds: (string | null)[] = [];
  for (const dir of logDirs) {
    const { meta, created } = ensureMetaProperties(platform.fs, dir, {
      nodeId: config.nodeId,
      clusterId,
      prng: platform.prng,
      nowMs: platform.clock.nowMs(),
    });
    if (clusterId !== null && meta.clusterId !== clusterId) {
      throw new StartupError(`data directory ${dir} belongs to cluster ${meta.clusterId}, other directories to ${clusterId}`);
    }
    clusterId = meta.clusterId;
    directoryIds.push(meta.directoryId);
    if (created) blog.info("formatted data directory", { dir, clusterId: meta.clusterId, directoryId: meta.directoryId });
  }
  if (clusterId === null) throw new Error("startBroker: no data directory gave a cluster id");
  const knownClusterId = clusterId;

  // The dispatcher may depend on bound ports, which exist only after start(): route through a
  // late-bound reference that is set before the first connection can deliver data.
  let dispatcher: Dispatcher | null = null;
  const readBuffers = new BufferPool({ minBytes: readBufferPoolMinBytes, maxBytes: readBufferPoolMaxBytes, idleBytesMax: readBufferPoolIdleBytesMax });
  const server = new Server({
    network: platform.network,
    clock: platform.clock,
    log,
    dispatcher: (frame, ctx) => {
      if (dispatcher === null) throw new Error("broker: request before the dispatcher was installed");
      return dispatcher(frame, ctx);
    },
    listeners: config.listeners.map((l) => ({ name: l.name, host: l.host === "" ? "0.0.0.0" : l.host, port: l.port })),
    limits: config.connectionLimits(),
    connectionsMax: config.get("max.connections"),
    connectionsPerIpMax: config.get("max.connections.per.ip"),
    connectionsPerIpOverrides: config.connectionsPerIpOverrides,
    queuedRequestBytesMax: config.queuedRequestBytesMax,
    queuedRequestsMax: config.get("queued.max.requests"),
    shutdownTimeoutMs: config.get("shutdown.timeout.ms"),
    // Produce only: its handler copies the records into the log before its first await and
    // keeps no view of the frame (see frame-pool.ts for the rule a pooled API must follow).
    framePool: new FramePool({ apiKeys: [ApiKeys.Produce], minBytes: framePoolMinBytes, maxBytes: framePoolMaxBytes, idleBytesMax: framePoolIdleBytesMax }),
    responseBuffers: readBuffers,
  });
  // Registered first, so it runs last: the dirs stay locked until storage has closed.
  server.addShutdownHook("log dir locks", releaseDirLocks);
  const bound = server.start();

  const advertisedListeners = resolveAdvertised(config, bound, platform.hostname);
  const ctx: BrokerContext = { config, nodeId: config.nodeId, clusterId: knownClusterId, advertisedListeners, log, platform };
  const given = options.dispatcher ?? noHandlersDispatcher;
  try {
    dispatcher = typeof given === "function" ? given : given.create(ctx);
  } catch (error) {
    await server.stop();
    throw error;
  }

  blog.info("started", {
    clusterId: knownClusterId,
    listeners: bound.map((l) => `${l.name}://${formatHostPort(l.host, l.port)}`).join(","),
    advertised: advertisedListeners.map((l) => `${l.name}://${formatHostPort(l.host, l.port)}`).join(","),
    logDirs: logDirs.join(","),
  });

  return {
    config,
    nodeId: config.nodeId,
    clusterId: knownClusterId,
    logDirs,
    directoryIds,
    logManagerConfig: logManagerConfigFrom(config, logDirs),
    readBuffers,
    listeners: bound,
    advertisedListeners,
    server,
    log,
    addShutdownHook: (name, run) => server.addShutdownHook(name, run),
    addDrainHook: (name, run) => server.addDrainHook(name, run),
    stop: () => server.stop(),
  };
}

/** Storage's settings from the broker config (Kafka's log.* keys → LogManagerConfig / LogConfig). */
export function logManagerConfigFrom(config: BrokerConfig, absoluteLogDirs: readonly string[]): LogManagerConfig {
  // Long.MAX_VALUE ("never") is stored clamped to 2^53-1 (config-defs.ts); storage says Infinity.
  const never = (v: number): number => (v >= longValueMax ? Number.POSITIVE_INFINITY : v);
  const base = defaultLogManagerConfig([...absoluteLogDirs]);
  return {
    ...base,
    retentionCheckIntervalMs: config.get("log.retention.check.interval.ms"),
    flushOffsetCheckpointIntervalMs: config.get("log.flush.offset.checkpoint.interval.ms"),
    flushStartOffsetCheckpointIntervalMs: config.get("log.flush.start.offset.checkpoint.interval.ms"),
    highWatermarkCheckpointIntervalMs: config.get("replica.high.watermark.checkpoint.interval.ms"),
    cleanerEnable: config.get("log.cleaner.enable"),
    cleanerBackoffMs: config.get("log.cleaner.backoff.ms"),
    cleanerDedupeBufferBytes: config.get("log.cleaner.dedupe.buffer.size"),
    disk: {
      intervalMs: config.get("log.dir.monitor.interval.ms"),
      alertUsageRatio: config.get("log.dir.alert.usage.ratio"),
      cleanupUsageRatio: config.get("log.dir.cleanup.usage.ratio"),
      rejectUsageRatio: config.get("log.dir.reject.usage.ratio"),
      minFreeBytes: config.get("log.dir.min.free.bytes"),
    },
    logDefaults: {
      ...base.logDefaults,
      segmentBytes: config.get("log.segment.bytes"),
      segmentMs: config.logRollMs,
      segmentIndexBytes: config.get("log.index.size.max.bytes"),
      indexIntervalBytes: config.get("log.index.interval.bytes"),
      maxMessageBytes: config.get("message.max.bytes"),
      flushMessages: never(config.get("log.flush.interval.messages")),
      flushMs: never(config.logFlushIntervalMs),
      retentionMs: config.logRetentionMs,
      retentionBytes: config.get("log.retention.bytes"),
      fileDeleteDelayMs: config.get("log.segment.delete.delay.ms"),
      dropBehindBytes: config.get("log.drop.behind.bytes"),
    },
  };
}

/** advertised.listeners, or the bound non-controller listeners; port 0 → bound port; wildcard host → hostname. */
export function resolveAdvertised(config: BrokerConfig, bound: readonly BoundListener[], hostname: string): ListenerAddress[] {
  const byName = new Map(config.listeners.map((l) => [l.name, l]));
  // Like Kafka, controller listeners are not advertised to clients unless listed explicitly.
  const controllerNames = new Set((config.get("controller.listener.names") ?? []).map((n) => n.toUpperCase()));
  const source = config.advertisedListeners ?? config.listeners.filter((l) => !controllerNames.has(l.name));
  return source.map((a) => {
    const b = bound.find((x) => x.name === a.name);
    const l = byName.get(a.name);
    if (b === undefined || l === undefined) throw new Error(`resolveAdvertised: listener ${a.name} is not bound`);
    const wildcard = a.host === "" || a.host === "0.0.0.0" || a.host === "::";
    return {
      name: a.name,
      host: wildcard ? hostname : a.host,
      port: a.port === 0 ? b.port : a.port,
      securityProtocol: a.securityProtocol,
    };
  });
}
