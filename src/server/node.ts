/**
 * A whole bunka node: configuration + platform in, a broker serving Kafka clients out.
 *
 * Start-up, in order:
 *  1. `startBroker` formats the data directories (cluster id) and binds the listeners;
 *  2. the log manager opens every partition log (recovering after an unclean stop);
 *  3. the metadata log (`__cluster_metadata-0` in the first log dir) is replayed into the
 *     metadata image, then this broker registers with its bound endpoints and a new epoch;
 *  4. the replica manager follows the image (creates/opens/deletes partition logs), and the
 *     group coordinator loads the `__consumer_offsets` partitions this node leads;
 *  5. requests are served. A request that arrives before step 4 ends waits for it.
 * Shutdown (SIGTERM, `stop()`): connections drain, then the group coordinator, the replica
 * manager and the log manager close (flush, checkpoints, clean-shutdown marker).
 */
import { startGroupCoordinator } from "../coordinator/start.ts";
import { bunCompression } from "../platform/bun/compression.ts";
import { LogMetadataStore, METADATA_BATCH_BYTES_MAX, METADATA_PARTITION, METADATA_TOPIC } from "../metadata/log-store.ts";
import { MetadataManager } from "../metadata/metadata-manager.ts";
import { randomUuid } from "../metadata/uuid.ts";
import { ReplicaManager } from "../replication/replica-manager.ts";
import { topicLogConfigSource } from "../replication/topic-log-config.ts";
import { LogManager } from "../storage/log-manager.ts";
import { LogLimiter } from "../util/log-limiter.ts";
import { startBroker, type Broker, type BrokerContext, type BrokerPlatform } from "./broker.ts";
import type { BrokerConfig } from "./config.ts";
import type { Dispatcher } from "./connection.ts";
import { repeatedLogIntervalMs, repeatedLogKindsPerServerMax } from "./limits.ts";
import { createDispatcher } from "./dispatch.ts";
import { diskMonitorLogging } from "./disk-log.ts";
import { handlers } from "./handlers/index.ts";
import type { BrokerServices, BrokerSettings } from "./services.ts";

export interface Node {
  readonly broker: Broker;
  /** Resolves once the node serves requests (metadata loaded, broker registered). */
  readonly ready: Promise<BrokerServices>;
  stop(): Promise<void>;
}

export async function startNode(config: BrokerConfig, platform: BrokerPlatform): Promise<Node> {
  let resolveReady!: (services: BrokerServices) => void;
  let rejectReady!: (error: unknown) => void;
  const ready = new Promise<BrokerServices>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nothing may be served before start-up ends; a start-up failure is reported by startNode.
  ready.catch(() => undefined);

  let ctxOut: BrokerContext | null = null;
  const broker = await startBroker(config, platform, {
    dispatcher: {
      create: (ctx): Dispatcher => {
        ctxOut = ctx;
        let dispatch: ((frame: Uint8Array, c: Parameters<Dispatcher>[1]) => ReturnType<Dispatcher>) | null = null;
        ready.then((services) => {
          const d = createDispatcher(handlers, services);
          dispatch = (frame, c) => d(frame, c);
        }, () => undefined);
        return async (frame, c) => {
          if (dispatch === null) await ready;
          return dispatch!(frame, c);
        };
      },
    },
  });
  const ctx = ctxOut as BrokerContext | null;
  if (ctx === null) throw new Error("startNode: the broker did not build its dispatcher");

  try {
    const services = await assemble(broker, ctx, platform);
    resolveReady(services);
    broker.log.info("ready", { brokerEpoch: services.metadata.image.brokers.get(broker.nodeId)?.brokerEpoch ?? -1 });
    return { broker, ready, stop: () => broker.stop() };
  } catch (error) {
    rejectReady(error);
    await broker.stop();
    throw error;
  }
}

async function assemble(broker: Broker, ctx: BrokerContext, platform: BrokerPlatform): Promise<BrokerServices> {
  const { config } = broker;
  const log = broker.log;
  let metadata: MetadataManager | null = null;
  const brokerConfigValue = (name: string) => config.brokerConfigValue(name);
  const logs = LogManager.open({
    fs: platform.fs,
    clock: platform.clock,
    prng: platform.prng,
    config: broker.logManagerConfig,
    readBuffers: broker.readBuffers,
    topicConfig: (topic) => {
      // The metadata log keeps every record: it is replayed in full at start.
      if (topic === METADATA_TOPIC) return { retentionMs: -1, retentionBytes: -1, maxMessageBytes: METADATA_BATCH_BYTES_MAX };
      if (metadata === null) return {};
      return topicLogConfigSource(() => metadata!.image, brokerConfigValue)(topic);
    },
    onLogDirOffline: (dir, error) => log.error("log dir offline", { dir, error: error.message }),
    ...diskMonitorLogging(log),
    compression: bunCompression,
    onCleanerOutcome: (tp, o) => {
      const partition = `${tp.topic}-${tp.partition}`;
      if (o.kind === "failed") log.error("log cleaner failed", { partition, reason: o.reason });
      else if (o.kind === "cleaned") log.info("log cleaned", { partition, bytesBefore: o.bytesBefore, bytesAfter: o.bytesAfter });
    },
  });
  broker.addShutdownHook("storage", () => logs.close());

  const metadataLog = logs.getOrCreateLog({ topic: METADATA_TOPIC, partition: METADATA_PARTITION });
  if (metadataLog === null) throw new Error("no online log dir for the metadata log");
  metadata = MetadataManager.open(new LogMetadataStore(metadataLog, platform.clock), platform.prng, {
    numPartitions: config.get("num.partitions"),
    defaultReplicationFactor: config.get("default.replication.factor"),
  });

  // Register (again) with this run's endpoints; the epoch is the offset the record will take,
  // so it grows with every start.
  const nodeId = broker.nodeId;
  await metadata.submit((c) => ({
    records: [
      {
        type: "registerBroker",
        brokerId: nodeId,
        incarnationId: randomUuid(c.prng),
        brokerEpoch: c.image.offset + 1,
        endpoints: ctx.advertisedListeners.map((l) => ({ name: l.name, host: l.host, port: l.port, securityProtocol: l.securityProtocol })),
        rack: config.get("broker.rack"),
        fenced: false,
      },
    ],
    response: undefined,
  }));

  // Storage faults every request to a partition hits again: one line, then a count per interval.
  const faultLog = new LogLimiter({ clock: platform.clock, intervalMs: repeatedLogIntervalMs, keysMax: repeatedLogKindsPerServerMax });
  const replicas = new ReplicaManager({ nodeId, logs, clock: platform.clock, log: log.child({ component: "replicas" }),
    brokerConfigValue,
    compression: bunCompression,
    faultLog,
  });
  replicas.attach(metadata);
  broker.addShutdownHook("replicas", () => replicas.close());
  logs.startBackgroundTasks();

  const settings: BrokerSettings = {
    nodeId,
    clusterId: broker.clusterId,
    rack: config.get("broker.rack"),
    advertisedListeners: ctx.advertisedListeners,
    autoCreateTopicsEnable: config.get("auto.create.topics.enable"),
    numPartitions: config.get("num.partitions"),
    defaultReplicationFactor: config.get("default.replication.factor"),
    deleteTopicEnable: config.get("delete.topic.enable"),
    messageMaxBytes: config.get("message.max.bytes"),
    offsetsTopicNumPartitions: config.get("offsets.topic.num.partitions"),
    offsetsTopicReplicationFactor: config.get("offsets.topic.replication.factor"),
    logDirs: broker.logDirs,
    brokerConfigs: () =>
      config.describe().map((d) => ({
        name: d.name,
        value: d.value,
        source: d.source,
        readOnly: d.readOnly,
        sensitive: d.sensitive,
        type: d.type,
      })),
    brokerConfigValue,
  };
  const groups = startGroupCoordinator({
    nodeId,
    metadata,
    replicas,
    clock: platform.clock,
    prng: platform.prng,
    logger: log.child({ component: "groups" }),
    configValue: (name) => settings.brokerConfigValue(name)?.value,
    faultLog,
  });
  broker.addShutdownHook("groups", () => groups.shutdown());
  // The last counts; lines after it (from the hooks that run later) are written unlimited.
  broker.addShutdownHook("fault log", () => faultLog.close());
  // At the start of a graceful stop: answer long polls now (fetches with what they have,
  // acks=all waits expire, pending group joins get NOT_COORDINATOR) so draining connections
  // do not wait for their timeouts.
  broker.addDrainHook("complete delayed operations", () => {
    groups.shutdown();
    replicas.fetchWaits.expireAll();
    replicas.produceWaits.expireAll();
  });

  const services: BrokerServices = {
    settings,
    metadata,
    replicas,
    logs,
    clock: platform.clock,
    prng: platform.prng,
    log,
    compression: bunCompression,
    groups,
  };
  return services;
}
