/**
 * In-process broker services for handler tests: settings, a MetadataManager over a
 * MemoryMetadataStore with this broker registered, a LogManager on the simulated filesystem
 * (or a real temp dir), the ReplicaManager attached to the metadata, SimClock + SeededPrng,
 * and a Logger writing into a capturing sink. `send` runs one request through the real
 * dispatcher: encode with the generated codecs, strip the size prefix, dispatch, decode the
 * response payload (the dispatcher returns payloads; the transport writes the size prefix).
 * `send` dispatches on `connection`, whose rate-limited lines (`ctx.logRepeated`) go to the
 * same sink, limited on the SimClock as a real connection's are.
 *
 * Time moves only by `clock.advance`, so purgatory deadlines are driven by the test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthorizerConfig, StandardAuthorizer } from "../../src/metadata/authorizer.ts";
import { type CreatableTopic, createTopics } from "../../src/metadata/controller.ts";
import { MemoryMetadataStore, MetadataManager } from "../../src/metadata/metadata-manager.ts";
import { randomUuid, type Uuid } from "../../src/metadata/uuid.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { SimClock } from "../../src/platform/clock.ts";
import type { FileSystem } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { encodeRequest, decodeResponse } from "../../src/protocol/frame.ts";
import type { ApiKey, RequestBodies, ResponseBodies } from "../../src/protocol/messages/index.ts";
import { ReplicaManager } from "../../src/replication/replica-manager.ts";
import { topicLogConfigSource } from "../../src/replication/topic-log-config.ts";
import { createDispatcher, type Dispatch } from "../../src/server/dispatch.ts";
import type { ApiHandler, ConnectionInfo } from "../../src/server/handlers/handler.ts";
import type { BrokerServices, BrokerSettings } from "../../src/server/services.ts";
import { loadConfig } from "../../src/server/config.ts";
import { DynamicBrokerConfig, dynamicConfigApplier } from "../../src/server/dynamic-config.ts";
import type { ServerConnectionCounts } from "../../src/server/server.ts";
import { defaultLogManagerConfig, type LogManagerConfig } from "../../src/storage/config.ts";
import { LogManager } from "../../src/storage/log-manager.ts";
import { Logger, memorySink, nullLogger } from "../../src/util/log.ts";
import { LogLimiter } from "../../src/util/log-limiter.ts";
import { repeatedLogIntervalMs, repeatedLogKindsPerConnectionMax, repeatedLogKindsPerServerMax } from "../../src/server/limits.ts";

export interface HarnessOptions {
  nodeId?: number;
  seed?: number;
  /** "sim" (default): the simulated filesystem; "real": a fresh temp dir, removed by close(). */
  fs?: "sim" | "real";
  /** Handlers the dispatcher serves. */
  handlers: readonly ApiHandler[];
  /** Broker config values (topic config fallbacks such as `message.max.bytes`). */
  brokerConfigs?: Readonly<Record<string, string>>;
  logManagerConfig?: Partial<LogManagerConfig>;
  /** Overrides of the broker settings handlers read (auto-creation, topic deletion, ...). */
  settings?: Partial<BrokerSettings>;
  /** An authorizer over the harness's metadata image; absent: none (ACL APIs answer SECURITY_DISABLED). */
  authorizer?: AuthorizerConfig;
}

export interface TestBroker {
  services: BrokerServices;
  clock: SimClock;
  prng: SeededPrng;
  fs: FileSystem;
  /** The simulated filesystem, when in use (fault injection). */
  sim: SimFileSystem | null;
  metadata: MetadataManager;
  store: MemoryMetadataStore;
  logs: LogManager;
  replicas: ReplicaManager;
  dispatch: Dispatch;
  /** The connection `send` dispatches on. */
  connection: ConnectionInfo;
  logLines: ReturnType<typeof memorySink>;
  nodeId: number;
  /** The effective broker config, and the connection counts last applied to the (absent) server. */
  dynamic: { config: DynamicBrokerConfig; connectionCounts: ServerConnectionCounts | null };
  /** Sends one request through the dispatcher; resolves with the decoded body, or null (no response). */
  send<K extends ApiKey>(apiKey: K, version: number, body: RequestBodies[K], clientId?: string | null): Promise<ResponseBodies[K] | null>;
  /** Creates a topic through the controller (replication factor 1); resolves with its id. */
  createTopic(name: string, partitions: number, configs?: Readonly<Record<string, string>>): Promise<Uuid>;
  /** Re-opens the log manager and replica manager over the same files (a restart). */
  restart(options?: { clean?: boolean }): TestBroker;
  close(): void;
}

/**
 * A connection for dispatching without a socket: its client software starts unknown, and its
 * rate-limited lines go to `log` through a limiter on `clock` (as a real connection's do).
 */
export function testConnectionInfo(log: Logger = nullLogger, clock: SimClock = new SimClock(), id = 1): ConnectionInfo {
  const limiter = new LogLimiter({ clock, intervalMs: repeatedLogIntervalMs, keysMax: repeatedLogKindsPerConnectionMax });
  const connLog = log.child({ conn: id, remote: "127.0.0.1:50000", listener: "PLAINTEXT" });
  return {
    id,
    remoteAddress: "127.0.0.1:50000",
    listenerName: "PLAINTEXT",
    client: { softwareName: null, softwareVersion: null },
    logRepeated: (level, kind, msg, fields) => void limiter.log(connLog, level, kind, msg, fields),
  };
}

/** A connection whose log lines are dropped, for tests that dispatch directly. */
export const testConnection: ConnectionInfo = testConnectionInfo();

/**
 * `TestBroker.send` over `dispatch`: encodes (correlation ids from `lastCorrelationId` + 1),
 * dispatches on `connection`, checks the response's correlation id, decodes.
 */
export function sender(dispatch: Dispatch, lastCorrelationId = 0, connection: ConnectionInfo = testConnection): TestBroker["send"] {
  let correlationId = lastCorrelationId;
  return async (apiKey, version, body, clientId = "harness") => {
    const id = ++correlationId;
    const frame = concat(encodeRequest(apiKey, version, id, clientId, body));
    const out = await dispatch(frame.subarray(4), connection);
    if (out === null) return null;
    const decoded = decodeResponse(apiKey, version, concat(out));
    if (decoded.header.correlationId !== id) throw new Error(`correlation id ${decoded.header.correlationId}, sent ${id}`);
    return decoded.body;
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export async function startTestBroker(options: HarnessOptions): Promise<TestBroker> {
  const nodeId = options.nodeId ?? 1;
  const seed = options.seed ?? 1;
  const clock = new SimClock();
  const prng = new SeededPrng(seed);
  let sim: SimFileSystem | null = null;
  let fs: FileSystem;
  let tempDir: string | null = null;
  let logDir: string;
  if (options.fs === "real") {
    tempDir = mkdtempSync(join(tmpdir(), "bunka-handlers-"));
    fs = new BunFileSystem();
    logDir = join(tempDir, "data");
  } else {
    sim = new SimFileSystem(new SeededPrng(seed + 1), clock);
    fs = sim;
    logDir = "/data";
  }
  const store = new MemoryMetadataStore();
  const metadata = MetadataManager.open(store, prng, { numPartitions: options.settings?.numPartitions ?? 1, defaultReplicationFactor: 1 });
  await metadata.submit(() => ({
    records: [
      {
        type: "registerBroker",
        brokerId: nodeId,
        incarnationId: randomUuid(prng),
        brokerEpoch: 1,
        endpoints: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT" }],
        rack: null,
        fenced: false,
      },
    ],
    response: undefined,
  }));
  return assemble({ options, nodeId, clock, prng, fs, sim, tempDir, logDir, store, metadata });
}

interface Parts {
  options: HarnessOptions;
  nodeId: number;
  clock: SimClock;
  prng: SeededPrng;
  fs: FileSystem;
  sim: SimFileSystem | null;
  tempDir: string | null;
  logDir: string;
  store: MemoryMetadataStore;
  /** null on restart: the store is replayed into a fresh manager, as the broker does. */
  metadata: MetadataManager | null;
}

function assemble(parts: Parts): TestBroker {
  const { options, nodeId, clock, prng, fs, sim, tempDir, logDir, store } = parts;
  const metadata = parts.metadata ?? MetadataManager.open(store, prng, { numPartitions: options.settings?.numPartitions ?? 1, defaultReplicationFactor: 1 });
  const brokerValues = new Map(Object.entries(options.brokerConfigs ?? {}));
  // As node.ts wires it: the static config (given as --set values) under the image's dynamic broker configs.
  const loaded = loadConfig({ sets: [...brokerValues].map(([k, v]) => `${k}=${v}`) });
  if (!loaded.ok) throw loaded.error;
  const dynamicConfig = new DynamicBrokerConfig(loaded.config, nodeId, () => metadata.image);
  const brokerConfigValue = (name: string) => dynamicConfig.brokerConfigValue(name);
  const logLines = memorySink();
  const log = new Logger({ sink: logLines.sink, level: "debug", nowMs: () => clock.nowMs() });
  const logs = LogManager.open({
    fs,
    clock,
    prng,
    config: { ...defaultLogManagerConfig([logDir]), ...options.logManagerConfig },
    topicConfig: topicLogConfigSource(() => metadata.image, brokerConfigValue),
    compression: bunCompression,
  });
  // As node.ts wires it: storage faults requests repeat are rate-limited on the clock.
  const faultLog = new LogLimiter({ clock, intervalMs: repeatedLogIntervalMs, keysMax: repeatedLogKindsPerServerMax });
  const replicas = new ReplicaManager({ nodeId, logs, clock, log: log.child({ component: "replicas" }), brokerConfigValue, compression: bunCompression, faultLog });
  replicas.attach(metadata);
  const dynamic: TestBroker["dynamic"] = { config: dynamicConfig, connectionCounts: null };
  const applyDynamic = dynamicConfigApplier(dynamicConfig, {
    server: { setConnectionCounts: (c) => void (dynamic.connectionCounts = c) },
    logs,
    log,
  });
  applyDynamic();
  metadata.onChange((next, previous) => {
    if (next.configs !== previous.configs) applyDynamic();
  });
  const settings: BrokerSettings = {
    nodeId,
    clusterId: "test-cluster-id-00000a",
    rack: null,
    advertisedListeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092, securityProtocol: "PLAINTEXT" }],
    autoCreateTopicsEnable: false,
    numPartitions: 1,
    defaultReplicationFactor: 1,
    deleteTopicEnable: true,
    messageMaxBytes: Number(brokerValues.get("message.max.bytes") ?? 1048588),
    offsetsTopicNumPartitions: 50,
    offsetsTopicReplicationFactor: 1,
    logDirs: [logDir],
    brokerConfigs: () => dynamicConfig.describe(),
    brokerDefaultConfigs: () => dynamicConfig.describeClusterDefault(),
    brokerConfigValue,
    brokerConfigSynonyms: (name) => dynamicConfig.synonyms(name),
    ...options.settings,
  };
  const authorizer = options.authorizer === undefined ? undefined : new StandardAuthorizer(options.authorizer, () => metadata.image.acls);
  const services: BrokerServices = { settings, metadata, replicas, logs, clock, prng, log, compression: bunCompression, ...(authorizer === undefined ? {} : { authorizer }) };
  const dispatch = createDispatcher(options.handlers, services);
  const connection = testConnectionInfo(log, clock);
  let closed = false;

  const broker: TestBroker = {
    services,
    clock,
    prng,
    fs,
    sim,
    metadata,
    store,
    logs,
    replicas,
    dispatch,
    connection,
    logLines,
    nodeId,
    dynamic,
    send: sender(dispatch, 0, connection),
    async createTopic(name, partitions, configs = {}) {
      const topic: CreatableTopic = {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
      };
      const [created] = await metadata.submit((ctx) => createTopics(ctx, [topic], false));
      if (created === undefined || created.errorCode !== 0 || created.topicId === null) {
        throw new Error(`createTopic ${name}: ${created?.errorMessage ?? "no result"}`);
      }
      return created.topicId;
    },
    restart(opts = {}) {
      replicas.close();
      if (opts.clean === false) {
        if (sim === null) throw new Error("an unclean restart needs the simulated filesystem");
        sim.crash();
      } else {
        logs.close();
      }
      closed = true;
      return assemble({ ...parts, metadata: null });
    },
    close() {
      if (closed) return;
      closed = true;
      replicas.close();
      logs.close();
      if (tempDir !== null) rmSync(tempDir, { recursive: true, force: true });
    },
  };
  return broker;
}
