/**
 * This node's place in the controller quorum: the Raft log of `__cluster_metadata-0` in the
 * first log dir, the Raft core and its driver, the client that reaches the other voters, and
 * the metadata store every node replays committed records from.
 *
 * - No `controller.quorum.voters`: the node alone is the quorum (one voter; it elects itself
 *   at once). That is `bun run broker` with no settings.
 * - With voters: this node is one of them (process.roles has controller) or an observer
 *   (broker only), and reaches the voters on the `controller.listener.names` listener at the
 *   addresses the voters list gives.
 * - Directory ids (KIP-853): a single voter is keyed by the id of its metadata dir, so a
 *   wiped and re-formatted dir is another replica. A static multi-voter quorum names no
 *   directory ids (as Kafka's `controller.quorum.voters`), so every voter is keyed with the
 *   zero id there; that start-up logs a warning.
 * - Dynamic quorum (KIP-853): no voters but `controller.quorum.bootstrap.servers` naming other
 *   nodes, or a `bootstrap.checkpoint` written by `storage format --standalone |
 *   --initial-controllers`. The voter set is the log's (raft-core.ts); this node is keyed by
 *   its metadata dir's directory id; the bootstrap servers get node ids -2, -3, ... in the
 *   clients; every voter set the core announces, and the leader endpoint a Fetch answer
 *   names, become the clients' endpoints.
 * - A metadata log written before the quorum existed (no quorum-state file) is adopted once,
 *   for a single voter only: its epoch is taken from the log.
 * - Snapshots: every node snapshots its metadata image (raft-store.ts) per
 *   `metadata.log.max.record.bytes.between.snapshots` / `metadata.log.max.snapshot.interval.ms`,
 *   and the log before the oldest snapshot kept goes per `metadata.max.retention.bytes` /
 *   `.ms`; segments roll per `metadata.log.segment.bytes` / `.ms`, so what the log start
 *   passes leaves the disk. A node behind the leader's log start fetches its snapshot.
 */
import { NodeClient } from "../client/node-client.ts";
import { RaftMetadataStore } from "../metadata/raft-store.ts";
import { ZERO_UUID } from "../metadata/uuid.ts";
import { joinPath, StorageError } from "../platform/fs.ts";
import { raftConfigFromProperties } from "../raft/config.ts";
import { RaftDriver } from "../raft/driver.ts";
import type { ReplicaKey } from "../raft/messages.ts";
import { emptyQuorumState, quorumStatePath, readQuorumState, writeQuorumState } from "../raft/quorum-state.ts";
import { type DynamicQuorumOptions, RaftCore } from "../raft/raft-core.ts";
import type { Voter } from "../raft/voter-set.ts";
import { readBootstrapCheckpoint } from "./storage-format.ts";
import { MetadataLogFailure, metadataPartition, metadataTopic, PartitionRaftLog, raftLogConfig } from "../raft/raft-log.ts";
import type { Logger } from "../util/log.ts";
import type { BrokerPlatform } from "./broker.ts";
import type { BrokerConfig, QuorumVoter } from "./config.ts";
import { StartupError } from "./startup-error.ts";
import { METADATA_BATCH_BYTES_MAX } from "../metadata/log-store.ts";
import type { LogDirSpace } from "../storage/disk-monitor.ts";

export interface Quorum {
  readonly core: RaftCore;
  readonly driver: RaftDriver;
  readonly store: RaftMetadataStore;
  /** The Raft log of `__cluster_metadata-0`; written by the core only (others read: tests, the simulator). */
  readonly log: PartitionRaftLog;
  /** Raft's connections to the voters' controller listeners (node id = voter id). */
  readonly client: NodeClient;
  /**
   * The broker-to-controller channel: other connections to the same listeners, for
   * registration, heartbeats and forwarded requests. Kept apart from Raft's because a peer
   * answers a connection's requests in order: a BrokerRegistration waiting on the controller
   * for its record to commit must not hold back the Fetch that commits it.
   */
  readonly channel: NodeClient;
  readonly voters: readonly QuorumVoter[];
  /** The controller listener name peers are reached on ("" for a single voter). */
  readonly listenerName: string;
  /** The active controller's id, -1 while there is none. */
  activeControllerId(): number;
  /** This node is the Raft leader. */
  isActiveController(): boolean;
  close(): void;
}

export interface OpenQuorumOptions {
  readonly config: BrokerConfig;
  readonly platform: BrokerPlatform;
  readonly clusterId: string;
  /** The first log dir (absolute): it holds the metadata log. */
  readonly metadataLogDir: string;
  /** The directory id of `metadataLogDir` (meta.properties), null for a v0 file. */
  readonly directoryId: string | null;
  /** The disk monitor's gate of `metadataLogDir` (the log manager's): the metadata log writes into the internal topics' reserve. */
  readonly metadataLogSpace?: LogDirSpace;
  readonly log: Logger;
  /**
   * Told once when the quorum stopped on a metadata-log or quorum-state write failure (or a
   * broken invariant): the node must stop. Logged here first.
   */
  readonly onFatal?: (error: unknown) => void;
}

export function openQuorum(opts: OpenQuorumOptions): Quorum {
  const { config, platform, log } = opts;
  const nodeId = config.nodeId;
  const dir = joinPath(opts.metadataLogDir, `${metadataTopic}-${metadataPartition}`);
  const raftLog = PartitionRaftLog.open({
    fs: platform.fs,
    clock: platform.clock,
    dir,
    config: raftLogConfig({ maxMessageBytes: METADATA_BATCH_BYTES_MAX, segmentBytes: config.get("metadata.log.segment.bytes"), segmentMs: config.get("metadata.log.segment.ms") }),
    space: opts.metadataLogSpace ?? null,
  });

  const bootstrapVoters = readBootstrapCheckpoint(platform.fs, dir);
  const ownListener = (b: { host: string; port: number }): boolean =>
    config.listeners.some((l) => l.port === b.port && (l.host === b.host || ["", "0.0.0.0", "::", "localhost", "127.0.0.1", "::1"].includes(l.host)) && ["localhost", "127.0.0.1", "::1", l.host].includes(b.host));
  const dynamicQuorum = config.voters.length === 0 && (bootstrapVoters !== null || (config.bootstrapServers.length > 0 && !config.bootstrapServers.every(ownListener)));
  const single = config.voters.length === 0 && !dynamicQuorum;
  const ownDirectoryId = opts.directoryId ?? ZERO_UUID;
  const controllerListener = config.controllerListenerNames[0] ?? "";
  let local: ReplicaKey;
  let voters: ReplicaKey[];
  let dynamic: DynamicQuorumOptions | undefined;
  if (dynamicQuorum) {
    if (opts.directoryId === null) throw new StartupError(`a dynamic controller quorum needs a directory.id in ${opts.metadataLogDir}/meta.properties (format it with bunka storage format)`);
    local = { id: nodeId, directoryId: ownDirectoryId };
    voters = [];
    dynamic = { bootstrapVoters, bootstrapServerIds: config.bootstrapServers.map((_, i) => -2 - i), listenerName: controllerListener };
    log.info("dynamic controller quorum: the voter set is in the metadata log", {
      directoryId: ownDirectoryId,
      bootstrapVoters: bootstrapVoters === null ? "none (joins as an observer)" : bootstrapVoters.map((v) => `${v.id}@${v.directoryId}`).join(","),
      bootstrapServers: config.bootstrapServers.map((b) => `${b.host}:${b.port}`).join(","),
    });
  } else if (single) {
    local = { id: nodeId, directoryId: ownDirectoryId };
    voters = [local];
  } else {
    local = { id: nodeId, directoryId: ZERO_UUID };
    voters = config.voters.map((v) => ({ id: v.id, directoryId: ZERO_UUID }));
    log.warn("static controller quorum: voters carry no directory ids, so a voter whose metadata dir is wiped comes back as the one it was (it opens unproven and counts for nothing until it has caught up)", {
      voters: config.voters.map((v) => `${v.id}@${v.host}:${v.port}`).join(","),
    });
  }

  // A single node's metadata log from before the quorum: adopt it once.
  const statePath = quorumStatePath(dir);
  if (readQuorumState(platform.fs, statePath) === null && raftLog.logEndOffset > raftLog.logStartOffset) {
    if (!single && !(dynamicQuorum && bootstrapVoters !== null && bootstrapVoters.length === 1 && bootstrapVoters[0]!.id === nodeId)) throw new StartupError(`metadata log in ${dir} has records but no quorum-state file: the directory was damaged, or belongs to a single-node broker`);
    writeQuorumState(platform.fs, statePath, { ...emptyQuorumState, leaderEpoch: Math.max(0, raftLog.lastFetchedEpoch()) });
    log.info("adopted a metadata log written before the controller quorum", { dir, endOffset: raftLog.logEndOffset });
  }

  const props = new Map<string, string>();
  for (const name of [
    "controller.quorum.election.timeout.ms",
    "controller.quorum.fetch.timeout.ms",
    "controller.quorum.election.backoff.max.ms",
    "controller.quorum.request.timeout.ms",
    "controller.quorum.retry.backoff.ms",
    "metadata.log.max.record.bytes.between.snapshots",
    "metadata.log.max.snapshot.interval.ms",
    "metadata.max.retention.bytes",
    "metadata.max.retention.ms",
  ] as const) {
    // Negative retention is no limit, as in Kafka; the Raft layer spells it -1.
    props.set(name, String(Math.max(-1, config.get(name))));
  }
  const raftConfig = raftConfigFromProperties(props);
  if (!raftConfig.ok) throw new StartupError(`controller quorum settings: ${raftConfig.message}`);
  // Storage refuses an append larger than a segment: no proposal, and no fetched chunk a
  // follower appends, may be larger (Kafka keeps metadata segments >= 8 MiB for this).
  const segmentBytes = config.get("metadata.log.segment.bytes");
  raftConfig.config.appendBytesMax = Math.min(raftConfig.config.appendBytesMax, segmentBytes);
  raftConfig.config.fetchBytesMax = Math.min(raftConfig.config.fetchBytesMax, segmentBytes);

  const core = RaftCore.open({
    clusterId: opts.clusterId,
    local,
    voters,
    ...(dynamic === undefined ? {} : { dynamic }),
    config: raftConfig.config,
    fs: platform.fs,
    metadataDir: dir,
    log: raftLog,
    prng: platform.prng,
    clock: platform.clock,
    nowMs: platform.clock.monotonicMs(),
  });

  const listenerName = controllerListener;
  const client = new NodeClient({
    network: platform.network,
    clock: platform.clock,
    prng: platform.prng,
    config: { clientId: `bunka-raft-${nodeId}`, requestTimeoutMs: raftConfig.config.requestTimeoutMs + raftConfig.config.fetchMaxWaitMs, reconnectBackoffMaxMs: 1000 },
    log: log.child({ component: "quorum-client" }),
  });
  const channel = new NodeClient({
    network: platform.network,
    clock: platform.clock,
    prng: platform.prng,
    config: { clientId: `bunka-controller-channel-${nodeId}`, requestTimeoutMs: raftConfig.config.requestTimeoutMs, reconnectBackoffMaxMs: 1000 },
    log: log.child({ component: "controller-channel" }),
  });
  for (const v of config.voters) {
    if (v.id === nodeId) continue;
    client.setEndpoint(v.id, { host: v.host, port: v.port, listenerName });
    channel.setEndpoint(v.id, { host: v.host, port: v.port, listenerName });
  }
  const setEndpoint = (id: number, host: string, port: number): void => {
    if (id === nodeId) return;
    client.setEndpoint(id, { host, port, listenerName });
    channel.setEndpoint(id, { host, port, listenerName });
  };
  if (dynamic !== undefined) config.bootstrapServers.forEach((b, i) => setEndpoint(-2 - i, b.host, b.port));
  const learnVoters = (set: readonly Voter[]): void => {
    for (const v of set) {
      const e = v.endpoints.find((x) => x.name === listenerName) ?? v.endpoints[0];
      if (e !== undefined) setEndpoint(v.id, e.host, e.port);
    }
  };
  learnVoters(core.voterSet);
  const rlog = log.child({ component: "raft" });
  const driver = new RaftDriver({
    core,
    clock: platform.clock,
    client,
    log: rlog,
    requestTimeoutMs: raftConfig.config.requestTimeoutMs,
    onLeaderEndpoint: (id, e) => setEndpoint(id, e.host, e.port),
    onFatal: (error) => {
      rlog.error("the controller quorum stopped: a node cannot go on without its metadata log", {
        dir,
        error: error instanceof Error ? error.message : String(error),
        ...(error instanceof Error && !(error instanceof MetadataLogFailure) && !(error instanceof StorageError) ? { stack: error.stack ?? "" } : {}),
      });
      store.fail(error instanceof Error ? error : new Error(String(error)));
      opts.onFatal?.(error);
    },
  });
  const store = new RaftMetadataStore(driver, raftLog, platform.clock, { snapshot: raftConfig.config, log: rlog });
  driver.onEvent((e) => {
    if (e.kind === "votersChanged") {
      learnVoters(e.voters);
      rlog.info("quorum voter set", { voters: e.voters.map((v) => `${v.id}@${v.directoryId}`).join(","), reason: e.reason });
    } else if (e.kind === "roleChanged") rlog.info("quorum role changed", { role: e.role, epoch: e.epoch, leader: e.leaderId, reason: e.reason });
    else if (e.kind === "provenChanged") {
      if (e.proven) rlog.info("quorum voter proven: quorum-unproven removed", { dir, reason: e.reason });
      else rlog.warn("quorum voter unproven: quorum-unproven written; it votes and counts only once caught up with a leader", { dir, reason: e.reason });
    }
  });

  let closed = false;
  return {
    core,
    driver,
    store,
    log: raftLog,
    client,
    channel,
    voters: config.voters,
    listenerName,
    activeControllerId: () => (core.role.kind === "leader" ? nodeId : core.leaderId),
    isActiveController: () => core.role.kind === "leader",
    close: () => {
      if (closed) return;
      closed = true;
      store.close();
      driver.close();
      client.close();
      channel.close();
      // After a failed write nothing more is written (a retried fsync may lie; raft-log.ts).
      if (!driver.failed) {
        try {
          raftLog.flush();
        } catch (e) {
          rlog.error("metadata log flush at close failed", { error: e instanceof Error ? e.message : String(e) });
        }
      }
      raftLog.partitionLog.close();
    },
  };
}
