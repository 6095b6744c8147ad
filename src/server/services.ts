/**
 * What a request handler may use: the broker's settings, its metadata, its partitions, the
 * injected clock/prng and a logger. Built once by the broker wiring (broker.ts) and passed
 * to every handler through RequestContext, so handlers stay testable with fakes and never
 * reach for globals.
 */
import type { StandardAuthorizer } from "../metadata/authorizer.ts";
import type { GroupCoordinator } from "../coordinator/group-coordinator.ts";
import type { MetadataManager } from "../metadata/metadata-manager.ts";
import type { Clock } from "../platform/clock.ts";
import type { Compression } from "../platform/compression.ts";
import type { Prng } from "../platform/prng.ts";
import type { ReplicaManager } from "../replication/replica-manager.ts";
import type { LogManager } from "../storage/log-manager.ts";
import type { Logger } from "../util/log.ts";
import type { BrokerLifecycle, ControllerDuties, ControllerLink } from "./cluster.ts";
import type { Quorum } from "./quorum.ts";
import type { BrokerProbe } from "./metrics/broker-probe.ts";

/** This node's part in the cluster: the quorum, the way to the active controller, its own registration. */
export interface ClusterServices {
  readonly quorum: Quorum;
  readonly link: ControllerLink;
  readonly duties: ControllerDuties;
  readonly lifecycle: BrokerLifecycle;
}

export interface AdvertisedListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: string;
}

/** Where a broker config's value comes from (Kafka's ConfigSource names). */
export type BrokerConfigSource = "DEFAULT_CONFIG" | "STATIC_BROKER_CONFIG" | "DYNAMIC_BROKER_CONFIG" | "DYNAMIC_DEFAULT_BROKER_CONFIG";

/** A broker-level config as DescribeConfigs shows it. */
export interface BrokerConfigEntry {
  readonly name: string;
  readonly value: string | null;
  readonly source: BrokerConfigSource;
  readonly readOnly: boolean;
  readonly sensitive: boolean;
  /** Kafka's config type name: BOOLEAN, STRING, INT, SHORT, LONG, DOUBLE, LIST, CLASS, PASSWORD. */
  readonly type: string;
  /** Every level that sets it, highest precedence first; absent: the entry's own value only. */
  readonly synonyms?: readonly { readonly name: string; readonly value: string | null; readonly source: BrokerConfigSource }[];
}

/** The settings handlers read, resolved from the broker's configuration. */
export interface BrokerSettings {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly rack: string | null;
  readonly advertisedListeners: readonly AdvertisedListener[];
  readonly autoCreateTopicsEnable: boolean;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly deleteTopicEnable: boolean;
  /** message.max.bytes as started (static); Produce checks each topic's resolved max.message.bytes, which follows dynamic changes. */
  readonly messageMaxBytes: number;
  readonly offsetsTopicNumPartitions: number;
  readonly offsetsTopicReplicationFactor: number;
  readonly logDirs: readonly string[];
  /** Every broker config with its effective value and source (DescribeConfigs of the broker). */
  readonly brokerConfigs: () => readonly BrokerConfigEntry[];
  /** The configs set at the cluster default level (DescribeConfigs of the BROKER resource ""); absent: none. */
  readonly brokerDefaultConfigs?: () => readonly BrokerConfigEntry[];
  /** Effective broker config value lookup used to resolve topic config defaults (dynamic values first). */
  readonly brokerConfigValue: (name: string) => { value: string; source: BrokerConfigSource } | undefined;
  /** Every level that sets a broker key, highest precedence first (topic config synonyms); absent: brokerConfigValue's only. */
  readonly brokerConfigSynonyms?: (name: string) => readonly { name: string; value: string | null; source: BrokerConfigSource }[];
  /**
   * The node id of the active controller as this broker knows it (the Raft leader), or -1
   * when none is known. Metadata and DescribeCluster name it as the controller when it is
   * one of the brokers they list. Absent: this node (a single node is its own controller).
   */
  readonly activeControllerId?: () => number;
}

/** `settings.activeControllerId()`, or this node's id when the wiring does not supply one. */
export function activeControllerId(settings: BrokerSettings): number {
  return settings.activeControllerId?.() ?? settings.nodeId;
}

export interface BrokerServices {
  readonly settings: BrokerSettings;
  readonly metadata: MetadataManager;
  readonly replicas: ReplicaManager;
  readonly logs: LogManager;
  readonly clock: Clock;
  readonly prng: Prng;
  readonly log: Logger;
  /** Codecs for the few places that look inside stored batches (ListOffsets by timestamp). */
  readonly compression: Compression;
  /**
   * The classic group coordinator (coordinator/group-coordinator.ts). Optional until the broker
   * wiring and the test harness construct it; group APIs answer COORDINATOR_NOT_AVAILABLE without it.
   */
  readonly groups?: GroupCoordinator;
  /** Absent in tests that build services without a quorum (a single node deciding locally). */
  readonly cluster?: ClusterServices;
  /**
   * The authorizer (`authorizer.class.name`), over this node's metadata image. Absent: no
   * authorizer, every request is allowed and the ACL APIs answer SECURITY_DISABLED.
   */
  readonly authorizer?: StandardAuthorizer;
  /** Counters for the metrics endpoint (server/metrics/); absent in tests that do not read them. */
  readonly probe?: BrokerProbe;
}
