/**
 * A whole bunka node: configuration + platform in, a broker serving Kafka clients out.
 *
 * Start-up, in order:
 *  1. `startBroker` formats the data directories (cluster id) and binds the listeners;
 *  2. the log manager opens every partition log (recovering after an unclean stop);
 *  3. the metadata image is loaded from the latest snapshot of the metadata log
 *     (`__cluster_metadata-0` in the first log dir) and the committed log after it replayed,
 *     then this broker registers with its bound endpoints and a new epoch;
 *  4. the replica manager follows the image (creates/opens/deletes partition logs), and the
 *     group coordinator loads the `__consumer_offsets` partitions this node leads;
 *  5. requests are served. A request that arrives before step 4 ends waits for it.
 * Shutdown (SIGTERM, `stop()`): connections drain, then the group coordinator, the replica
 * manager and the log manager close (flush, checkpoints, clean-shutdown marker).
 */
import { startGroupCoordinator } from "../coordinator/start.ts";
import { bunCompression } from "../platform/bun/compression.ts";
import { METADATA_TOPIC } from "../metadata/log-store.ts";
import { StandardAuthorizer } from "../metadata/authorizer.ts";
import { MetadataManager } from "../metadata/metadata-manager.ts";
import { ReplicaManager } from "../replication/replica-manager.ts";
import { NodeClient } from "../client/node-client.ts";
import { alterPartition as alterPartitionDecision } from "../metadata/replication-control.ts";
import type { Uuid } from "../metadata/uuid.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { topicLogConfigSource } from "../replication/topic-log-config.ts";
import { LogManager } from "../storage/log-manager.ts";
import { LogLimiter } from "../util/log-limiter.ts";
import { startBroker, type Broker, type BrokerContext, type BrokerPlatform } from "./broker.ts";
import type { BrokerConfig } from "./config.ts";
import type { Dispatcher } from "./connection.ts";
import { repeatedLogIntervalMs, repeatedLogKindsPerServerMax } from "./limits.ts";
import { createDispatcher } from "./dispatch.ts";
import { diskMonitorLogging } from "./disk-log.ts";
import { DynamicBrokerConfig, dynamicConfigApplier } from "./dynamic-config.ts";
import { apiVersionsHandler } from "./handlers/api-versions.ts";
import type { ApiHandler } from "./handlers/handler.ts";
import { controllerHandlers, handlers } from "./handlers/index.ts";
import { quorumHandlers } from "./handlers/quorum-apis.ts";
import { BrokerLifecycle, ControllerDuties, ControllerLink } from "./cluster.ts";
import { AlterPartitionBatcher, type AlterPartitionTransport } from "./alter-partition-batcher.ts";
import type { TopicData as AlterPartitionTopic } from "../protocol/messages/alter-partition-request.ts";
import { openQuorum, type Quorum } from "./quorum.ts";
import type { BrokerServices, BrokerSettings } from "./services.ts";
import { peekRequestHeader } from "../protocol/header.ts";
import { BrokerProbe } from "./metrics/broker-probe.ts";
import { ApiKeys } from "../protocol/messages/index.ts";

export interface Node {
  readonly broker: Broker;
  /** Resolves once the node serves requests (metadata loaded, broker registered). */
  readonly ready: Promise<BrokerServices>;
  stop(): Promise<void>;
}

/** What a simulator or test may watch of a node while it starts and runs. */
export interface NodeParts {
  readonly quorum: Quorum;
  readonly metadata: MetadataManager;
}

export interface NodeOptions {
  /**
   * Called once the quorum and the metadata manager exist, before the quorum starts (so its
   * first events can be seen): the deterministic cluster simulator checks them from there.
   */
  readonly observe?: (parts: NodeParts) => void;
  /**
   * The node cannot go on: its metadata log or quorum-state file failed to write (logged
   * already). The process should exit at once (`bunka broker` does, code 1, as Kafka halts);
   * without this option the node stops itself.
   */
  readonly onFatal?: (error: unknown) => void;
}

export async function startNode(config: BrokerConfig, platform: BrokerPlatform, options: NodeOptions = {}): Promise<Node> {
  let resolveReady!: (services: BrokerServices) => void;
  let rejectReady!: (error: unknown) => void;
  const ready = new Promise<BrokerServices>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nothing may be served before start-up ends; a start-up failure is reported by startNode.
  ready.catch(() => undefined);

  // Connections on a controller listener: the Raft RPCs (and ApiVersions) are served as soon
  // as the quorum is open — a quorum must form before start-up can end —, the rest of the
  // controller's APIs once the services exist.
  let quorumDispatch: Dispatch | null = null;
  let controllerDispatch: Dispatch | null = null;
  let controllerReady!: () => void;
  const controllerServices = new Promise<void>((resolve) => {
    controllerReady = resolve;
  });
  const controllerNames = new Set(config.controllerListenerNames);

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
          if (controllerNames.has(c.listenerName)) {
            const apiKey = peekRequestHeader(frame)?.apiKey ?? -1;
            if (quorumDispatch !== null && quorumApiKeys.has(apiKey)) return quorumDispatch(frame, c);
            if (controllerDispatch === null) await controllerServices;
            return controllerDispatch!(frame, c);
          }
          if (dispatch === null) await ready;
          return dispatch!(frame, c);
        };
      },
    },
  });
  const ctx = ctxOut as BrokerContext | null;
  if (ctx === null) throw new Error("startNode: the broker did not build its dispatcher");

  try {
    const services = await assemble(broker, ctx, platform, options, {
      quorumReady: (d) => {
        quorumDispatch = d;
      },
      controllerReady: (d) => {
        controllerDispatch = d;
        controllerReady();
      },
    });
    resolveReady(services);
    broker.log.info("ready", { brokerEpoch: services.cluster?.lifecycle.brokerEpoch ?? -1, controller: services.cluster?.link.activeControllerId() ?? -1 });
    return { broker, ready, stop: () => broker.stop() };
  } catch (error) {
    rejectReady(error);
    await broker.stop();
    throw error;
  }
}

type Dispatch = ReturnType<typeof createDispatcher>;

/** Raft RPCs: served by the quorum before the broker's services exist. */
const quorumApiKeys: ReadonlySet<number> = new Set([ApiKeys.ApiVersions, ApiKeys.Vote, ApiKeys.BeginQuorumEpoch, ApiKeys.EndQuorumEpoch, ApiKeys.Fetch, ApiKeys.FetchSnapshot]);

interface DispatchHooks {
  quorumReady(dispatch: Dispatch): void;
  controllerReady(dispatch: Dispatch): void;
}

async function assemble(broker: Broker, ctx: BrokerContext, platform: BrokerPlatform, options: NodeOptions, hooks: DispatchHooks): Promise<BrokerServices> {
  const { config } = broker;
  const log = broker.log;
  let metadata: MetadataManager | null = null;
  // Static config under the dynamic broker configs of the metadata image (once it is replayed).
  const dynamicConfig = new DynamicBrokerConfig(config, broker.nodeId, () => metadata?.image ?? null);
  const brokerConfigValue = (name: string) => dynamicConfig.brokerConfigValue(name);
  const logs = LogManager.open({
    fs: platform.fs,
    clock: platform.clock,
    prng: platform.prng,
    config: broker.logManagerConfig,
    readBuffers: broker.readBuffers,
    // The metadata log is the quorum's (quorum.ts), never a partition of the log manager.
    excludeTopics: new Set([METADATA_TOPIC]),
    topicConfig: (topic) => {
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

  const metadataLogDir = broker.logDirs[0]!;
  // The log manager's dirs are the broker's (logManagerConfigFrom); a path it does not monitor
  // would get a gate never sampled, i.e. no gate at all.
  if (!broker.logManagerConfig.logDirs.includes(metadataLogDir)) throw new Error(`metadata log dir ${metadataLogDir} is not one of the log manager's dirs`);
  const quorum = openQuorum({
    config,
    platform,
    clusterId: broker.clusterId,
    metadataLogDir,
    directoryId: broker.directoryIds[0] ?? null,
    metadataLogSpace: logs.disk.space(metadataLogDir),
    log,
    onFatal: (error) => {
      if (options.onFatal !== undefined) options.onFatal(error);
      else void broker.stop().catch((e: unknown) => log.error("stop after a fatal failure failed", { error: e instanceof Error ? e.message : String(e) }));
    },
  });
  broker.addShutdownHook("controller quorum", () => quorum.close());
  const nodeId = broker.nodeId;
  metadata = MetadataManager.open(quorum.store, platform.prng, {
    numPartitions: config.get("num.partitions"),
    defaultReplicationFactor: config.get("default.replication.factor"),
  });
  const link = new ControllerLink(quorum, nodeId, platform.clock, Math.max(config.get("controller.quorum.request.timeout.ms") * 5, 10_000), config.get("controller.quorum.request.timeout.ms"));
  metadata.setRemoteController(link.remote);
  // A longer interval than a year is as good as never, and the milliseconds stay a safe timer value.
  const rebalanceIntervalSecondsMax = 365 * 86_400;
  const duties = new ControllerDuties({
    metadata,
    quorum,
    clock: platform.clock,
    log: log.child({ component: "controller" }),
    sessionTimeoutMs: config.get("broker.session.timeout.ms"),
    uncleanDefault: config.get("unclean.leader.election.enable"),
    idleIntervalMs: config.get("metadata.max.idle.interval.ms"),
    ...(config.get("auto.leader.rebalance.enable")
      ? { leaderRebalance: { intervalMs: Math.min(config.get("leader.imbalance.check.interval.seconds"), rebalanceIntervalSecondsMax) * 1000, imbalancePercentage: config.get("leader.imbalance.per.broker.percentage") } }
      : {}),
    checkIntervalMs: Math.max(100, Math.floor(config.get("broker.heartbeat.interval.ms") / 2)),
  });
  broker.addShutdownHook("controller duties", () => duties.close());

  const controllerApis: ApiHandler[] = [];
  const raftApis = quorumHandlers(quorum);
  controllerApis.push(apiVersionsHandler(() => controllerApis) as ApiHandler, ...raftApis, ...controllerHandlers);
  // Only ApiVersions (which reads the image offset) and the Raft handlers (which use the
  // quorum they were built with) run on this dispatcher: they need no other service.
  hooks.quorumReady(createDispatcher([controllerApis[0]!, ...raftApis], { metadata } as unknown as BrokerServices));
  options.observe?.({ quorum, metadata });
  quorum.driver.start();

  // Replay the committed metadata before serving: the node learns the high watermark from
  // the quorum (at once for a single voter; after an election for a new cluster).
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (quorum.store.highWatermark > 0 && quorum.store.appliedOffset >= quorum.store.highWatermark) resolve();
      else platform.clock.schedule(5, check);
    };
    check();
  });
  log.info("metadata caught up", { offset: metadata.image.offset, controller: link.activeControllerId() });

  // Storage faults every request to a partition hits again: one line, then a count per interval.
  const faultLog = new LogLimiter({ clock: platform.clock, intervalMs: repeatedLogIntervalMs, keysMax: repeatedLogKindsPerServerMax });
  const replicas = new ReplicaManager({ nodeId, logs, clock: platform.clock, log: log.child({ component: "replicas" }),
    brokerConfigValue,
    compression: bunCompression,
    faultLog,
  });
  replicas.attach(metadata);
  broker.addShutdownHook("replicas", () => replicas.close());
  let lifecycle: BrokerLifecycle | null = null;
  startReplication(replicas, config, platform, nodeId, link, metadata, () => lifecycle?.brokerEpoch ?? -1, log);
  logs.startBackgroundTasks();
  // Dynamic broker configs outside topic defaults (which the replica manager re-resolves itself).
  const applyDynamic = dynamicConfigApplier(dynamicConfig, { server: broker.server, logs, log });
  applyDynamic();
  metadata.onChange((next, previous) => {
    if (next.configs !== previous.configs) applyDynamic();
  });

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
    brokerConfigs: () => dynamicConfig.describe(),
    brokerDefaultConfigs: () => dynamicConfig.describeClusterDefault(),
    brokerConfigValue,
    brokerConfigSynonyms: (name) => dynamicConfig.synonyms(name),
    // The Raft leader as this node knows it (-1 during an election); a single node names itself.
    activeControllerId: () => link.activeControllerId(),
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

  lifecycle = new BrokerLifecycle({
    nodeId,
    clusterId: broker.clusterId,
    metadata,
    link,
    duties,
    clock: platform.clock,
    prng: platform.prng,
    log: log.child({ component: "lifecycle" }),
    endpoints: ctx.advertisedListeners.map((l) => ({ name: l.name, host: l.host, port: l.port, securityProtocol: l.securityProtocol })),
    rack: config.get("broker.rack"),
    logDirs: broker.logDirs,
    heartbeatIntervalMs: config.get("broker.heartbeat.interval.ms"),
  });
  // At the start of a graceful stop: the controller fences this broker (controlled shutdown),
  // which moves the leadership of its partitions to other ISR members first — acks=all writes
  // waiting here then end NOT_LEADER_OR_FOLLOWER and their producers go to the new leaders.
  broker.addDrainHook("controlled shutdown", () => lifecycle.shutDown(Math.min(5000, config.get("broker.heartbeat.interval.ms") * 2)));
  // Then answer long polls now (fetches with what they have, acks=all waits expire, pending
  // group joins get NOT_COORDINATOR) so draining connections do not wait for their timeouts.
  broker.addDrainHook("complete delayed operations", () => {
    groups.shutdown();
    replicas.fetchWaits.expireAll();
    replicas.produceWaits.expireAll();
  });
  broker.addShutdownHook("broker lifecycle", () => lifecycle.stop());

  const authorizer =
    config.get("authorizer.class.name") === ""
      ? undefined
      : new StandardAuthorizer(
          { superUsers: new Set(config.get("super.users")), allowEveryoneIfNoAclFound: config.get("allow.everyone.if.no.acl.found") },
          () => metadata!.image.acls,
        );
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
    cluster: { quorum, link, duties, lifecycle },
    ...(authorizer === undefined ? {} : { authorizer }),
    probe: new BrokerProbe(),
  };
  hooks.controllerReady(createDispatcher(controllerApis, services));
  // Registered and unfenced by the controller before clients are served.
  await lifecycle.start();
  return services;

}

/**
 * Followers fetch from their leaders on the inter-broker listener (`inter.broker.listener.name`,
 * else the first listener that is not a controller's), with their own NodeClient; leaders send
 * ISR changes to the active controller (locally when this node is it).
 */
function startReplication(
  replicas: ReplicaManager,
  config: BrokerConfig,
  platform: BrokerPlatform,
  nodeId: number,
  link: ControllerLink,
  metadata: MetadataManager,
  brokerEpoch: () => number,
  log: Broker["log"],
): void {
  const controllerNames = new Set(config.controllerListenerNames);
  const listenerName = config.get("inter.broker.listener.name") ?? config.listeners.find((l) => !controllerNames.has(l.name))?.name ?? "";
  const socketTimeoutMs = config.get("replica.socket.timeout.ms");
  const client = new NodeClient({
    network: platform.network,
    clock: platform.clock,
    prng: platform.prng,
    config: { clientId: `broker-${nodeId}-fetcher`, requestTimeoutMs: socketTimeoutMs },
    log: log.child({ component: "replica-client" }),
  });
  // ISR changes go to the controller batched: one AlterPartition for every partition that
  // changed in the same turn, or while the previous request was in flight.
  const alterPartitions: AlterPartitionTransport = async (items) => {
    const epoch = brokerEpoch();
    if (link.isLocal()) {
      const r = await metadata.submit((c) => alterPartitionDecision(c, nodeId, epoch, items.map((item) => ({ ...item, topicId: item.topicId as Uuid, topicName: null }))));
      return items.map((_, i) => (r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.partitions[i]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR)));
    }
    const byTopic = new Map<string, AlterPartitionTopic>();
    for (const item of items) {
      let t = byTopic.get(item.topicId);
      if (t === undefined) byTopic.set(item.topicId, (t = { topicName: "", topicId: item.topicId, partitions: [], _unknownTaggedFields: undefined }));
      t.partitions.push({
        partitionIndex: item.partition,
        leaderEpoch: item.leaderEpoch,
        newIsr: [],
        newIsrWithEpochs: item.newIsr.map((m) => ({ brokerId: m.brokerId, brokerEpoch: m.brokerEpoch, _unknownTaggedFields: undefined })),
        leaderRecoveryState: 0,
        partitionEpoch: item.partitionEpoch,
        _unknownTaggedFields: undefined,
      });
    }
    const body = (await link.send(ApiKeys.AlterPartition, { brokerId: nodeId, brokerEpoch: epoch, topics: [...byTopic.values()] }, 3)).body;
    const codes = new Map<string, number>();
    for (const t of body.topics) for (const p of t.partitions) codes.set(`${t.topicId}:${p.partitionIndex}`, p.errorCode);
    return items.map((item) => (body.errorCode !== ErrorCode.NONE ? body.errorCode : (codes.get(`${item.topicId}:${item.partition}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR)));
  };
  const alterPartitionBatcher = new AlterPartitionBatcher(platform.clock, alterPartitions);
  const alterPartition = alterPartitionBatcher.send;
  replicas.startReplication({
    client,
    listenerName,
    fetcher: {
      fetchersPerBroker: config.get("num.replica.fetchers"),
      partitionMaxBytes: config.get("replica.fetch.max.bytes"),
      responseMaxBytes: config.get("replica.fetch.response.max.bytes"),
      minBytes: config.get("replica.fetch.min.bytes"),
      maxWaitMs: config.get("replica.fetch.wait.max.ms"),
      backoffMs: config.get("replica.fetch.backoff.ms"),
      requestTimeoutMs: socketTimeoutMs,
    },
    brokerEpoch,
    alterPartition,
    replicaLagTimeMs: config.get("replica.lag.time.max.ms"),
  });
}
