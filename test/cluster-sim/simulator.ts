/**
 * A deterministic simulator of a whole bunka cluster: N combined nodes (broker + controller)
 * and, in some seeds, a broker-only node (an observer of the quorum), each the real `startNode` — quorum over `__cluster_metadata` (RaftCore, RaftDriver,
 * NodeClient), RaftMetadataStore, MetadataManager and controller, BrokerLifecycle
 * registration and heartbeats, ControllerDuties fencing, the Kafka listeners — in one process
 * on a simulated TCP network (`SimNetwork`), one `SimClock` and a `SimFileSystem` per node.
 * Everything random comes from the seed, so a seed replays exactly (the trace digest says so).
 *
 * Driving: a step takes the clock to its next due timer and fires the timers due at that
 * instant one at a time; after each one, every promise callback runs to completion
 * (`setImmediate` comes after the whole microtask queue), as an event loop would run them.
 * Then the checker runs.
 *
 * Workload: a client on its own host sends CreateTopics (new names, now and then an old one),
 * CreatePartitions, IncrementalAlterConfigs (a value no other operation uses),
 * AlterPartitionReassignments (random targets of 1-3 brokers, or a cancellation) and
 * DeleteTopics (by id) of acknowledged topics, ElectLeaders (preferred or unclean, every
 * partition) and InitProducerId (idempotent producers) to random nodes; the answers are
 * recorded. Reassigned replicas are created and deleted by the real brokers. A CreateTopics that timed out or met no controller
 * is retried under the same name, as admin clients do.
 *
 * Faults (fault phase), every ~1.5 s of simulated time on average: a node crash — killed
 * (its connections reset) or powered off (peers hear nothing until it reboots) — with
 * `SimFileSystem.crash()` (only fsynced bytes survive, unsynced tails torn, unsynced directory
 * entries lost or kept) and a restart with `startNode` on the same disk after a while; a
 * pause (SIGSTOP: timers and sockets wait); full partitions (a random side, the client
 * included or not); isolation of the active controller or of any node; one-way cuts; slow,
 * jittery and lossy links (a lost segment resets its connection); heal. Besides, crashes tied
 * to the moments a lost write would matter: a few ms after a node grants a vote, wins an
 * election, or commits as leader, or within 60 ms of starting; a quarter of the crashes last
 * 5-15 s (past Kafka's 9 s session timeout: fencing, then registering again). Half the seeds run a ~3x faster timing (more elections,
 * fencings and re-registrations per simulated second). The network is TCP: within a
 * connection nothing is duplicated or reordered; requests are duplicated by clients that
 * retry and reordered across connections (held segments released after a cut heals).
 *
 * Not in CI: disk errors (`diskFaults`, EIO on a node's next append or fsync, wherever it
 * lands). A failed metadata-log or quorum-state write stops the node (its `onFatal`, where
 * `bunka broker` exits 1); the simulator ends that life and starts the node again, as a
 * supervisor would, and counts it in `fatalStops`. The invariants and liveness hold as for
 * crashes.
 *
 * After every step the checker asserts:
 * - one leader per epoch (role changes are watched as they happen);
 * - per node, the epoch never goes back (the quorum-state file across lives, the core's
 *   epoch too), and within an epoch a vote never changes;
 * - committed = below the highest high watermark a leader reported; from its log start to its
 *   own high watermark every node's metadata log holds exactly the committed batches (offset,
 *   epoch, CRC, size), so does a leader up to what earlier leaders committed; a leader of epoch E
 *   holds everything committed before E; no node's high watermark passes what is committed
 *   or goes back within a life;
 * - every node's MetadataImage equals the image the checker builds by replaying the committed
 *   batches up to the same offset (digest of topics, partitions, brokers, configs, features,
 *   producer ids), and a node never applies past what is committed;
 * - every node's latest metadata snapshot (KIP-630; checked once per snapshot and life) ends
 *   on a committed batch boundary in that batch's epoch, its content is the committed log's
 *   image there, and that image plus the node's log after it, replayed to its high watermark,
 *   is the committed log's image there (what the node rebuilds when it restarts). In two seeds
 *   of five (`snapshots: "small"`) nodes snapshot every few KiB, retention deletes the log
 *   before the newest snapshot, and nodes that fall behind install the leader's snapshot;
 * - an acknowledged change is committed when its answer arrives: the topic (same id) and the
 *   partition count are in the image replayed from the committed log, the config value is in
 *   a committed record, a deleted topic id is gone; and every node's image past it shows it
 *   too (until a deletion of that topic is sent);
 * - no producer id is handed out twice (any node, any life);
 * - no exception escapes a node's code, and no code of a dead node runs.
 * Then the faults stop (heal, restart, resume) and, within a bounded simulated time (15 s), a
 * CreateTopics through some node must be acknowledged, and every node must see the topic and
 * list every broker unfenced.
 */
import { NodeClient } from "../../src/client/node-client.ts";
import { MetadataDelta, MetadataImage, MetadataReplayError } from "../../src/metadata/image.ts";
import { decodeImageSnapshot } from "../../src/metadata/image-snapshot.ts";
import type { MetadataManager } from "../../src/metadata/metadata-manager.ts";
import { decodeMetadataRecord } from "../../src/metadata/records.ts";
import { randomUuid, ZERO_UUID } from "../../src/metadata/uuid.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { type LinkConfig, SimNetwork } from "../../src/platform/sim/network.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultCreatePartitionsRequest } from "../../src/protocol/messages/create-partitions-request.ts";
import { defaultCreateTopicsRequest } from "../../src/protocol/messages/create-topics-request.ts";
import { defaultDeleteTopicsRequest } from "../../src/protocol/messages/delete-topics-request.ts";
import { defaultInitProducerIdRequest } from "../../src/protocol/messages/init-producer-id-request.ts";
import { defaultIncrementalAlterConfigsRequest } from "../../src/protocol/messages/incremental-alter-configs-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { RecordBatchView, walkBatches } from "../../src/protocol/records/record-batch.ts";
import { decodeQuorumState, type QuorumStateData, quorumStatePath } from "../../src/raft/quorum-state.ts";
import type { RaftEvent } from "../../src/raft/driver.ts";
import type { PartitionRaftLog } from "../../src/raft/raft-log.ts";
import { sameSnapshotId, type SnapshotId, snapshotIdText } from "../../src/raft/snapshot.ts";
import type { BrokerPlatform } from "../../src/server/broker.ts";
import { type BrokerConfig, loadConfig } from "../../src/server/config.ts";
import { type Node, type NodeParts, startNode } from "../../src/server/node.ts";
import { METADATA_BATCH_BYTES_MAX } from "../../src/metadata/log-store.ts";
import { SimProcess } from "./process.ts";

export interface ClusterSimOptions {
  seed: number;
  /** Combined nodes (voters): 3 or 5. */
  nodes: number;
  /** Broker-only nodes (observers of the quorum), ids after the voters'. */
  observers?: number;
  /** Steps of the fault phase; the recovery phase that follows has its own bound. */
  steps: number;
  /**
   * "kafka": Kafka's defaults (election 1000 ms, fetch 2000, heartbeat 2000, session 9000);
   * "fast": about 3-4x shorter, so more elections, fencings and re-registrations per second.
   */
  timing?: "kafka" | "fast";
  /**
   * Also make a node's next append or fsync fail with EIO now and then (off in CI: bunka has
   * no answer to a failed metadata-log write yet, see the module doc).
   */
  diskFaults?: boolean;
  /**
   * "kafka": Kafka's snapshot and metadata retention settings (20 MiB between snapshots: none
   * happen in a run); "small": a snapshot every few KiB of metadata log or few seconds, and
   * retention that deletes the log before the newest snapshot, in 16 KiB segments — so
   * snapshots, log deletion and FetchSnapshot installs happen in a run.
   */
  snapshots?: "kafka" | "small";
  /** False: no random faults (scenario tests drive their own). */
  randomFaults?: boolean;
  /** Simulated time after the faults stop within which the cluster must serve again. */
  livenessBoundMs?: number;
  /** Every event as a line (replays). */
  trace?: (line: string) => void;
  /** Extra `key=value` broker settings for every node, after the simulator's own (scenario tests: e.g. a short leader.imbalance.check.interval.seconds). */
  sets?: readonly string[];
  /** Also trace the nodes' own log lines (default: with `trace`). */
  traceNodeLogs?: boolean;
}

export interface ClusterSimStats {
  steps: number;
  timersFired: number;
  simulatedMs: number;
  crashes: number;
  /** Lives ended by the node itself on a fatal metadata-log failure (disk faults only). */
  fatalStops: number;
  pauses: number;
  partitions: number;
  /** Brokers fenced by the controller for missed heartbeats. */
  fencings: number;
  elections: number;
  maxEpoch: number;
  committedOffset: number;
  opsSent: number;
  topicsAcked: number;
  partitionsAcked: number;
  configsAcked: number;
  deletionsAcked: number;
  /** AlterPartitionReassignments (a new target or a cancellation) acknowledged. */
  reassignmentsAcked: number;
  /** ElectLeaders answers, and the partitions they elected a leader for. */
  electionsAnswered: number;
  leadersElected: number;
  producerIds: number;
  opsFailed: number;
  /** Metadata snapshots nodes took of their images (all lives). */
  snapshotsTaken: number;
  /** Snapshots fetched from the leader (FetchSnapshot) and installed. */
  snapshotsLoaded: number;
  /** Snapshots after which retention moved a node's log start (the log before it deleted). */
  logStartMoves: number;
  /** Node snapshots checked against the committed log (decoded, then the log after them replayed). */
  snapshotsChecked: number;
  /** Simulated ms from the end of the faults until the cluster served again. */
  recoveryMs: number;
  /** Digest of the whole trace (node log lines included): equal for equal seeds. */
  traceDigest: string;
}

export type ClusterSimResult =
  | { ok: true; stats: ClusterSimStats }
  | { ok: false; invariant: string; failure: string; stats: ClusterSimStats; recent: string[] };

class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

const clientHost = "10.0.1.1";
/** Kafka's ConfigResource type of a topic. */
const topicResourceType = 2;
const brokerPort = 9092;
const controllerPort = 9093;
const dataDir = "/data";
const metadataDir = `${dataDir}/__cluster_metadata-0`;
const linkDefault: LinkConfig = { delayMs: 1, jitterMs: 2, dropProbability: 0 };
/** Mean simulated time between two random faults, and between two client operations. */
const faultMeanMs = 1500;
const opMeanMs = 400;
/** Client operations in flight at most. */
const opsInFlightMax = 8;
/** Retries of a CreateTopics that timed out or met no controller. */
const createRetries = 3;
const recentEventsMax = 80;
/** A step with nothing due moves the clock this far at most. */
const idleStepMsMax = 1000;
const livenessBoundMsDefault = 15_000;
const fastTiming = [
  "controller.quorum.election.timeout.ms=300",
  "controller.quorum.fetch.timeout.ms=600",
  "controller.quorum.election.backoff.max.ms=300",
  "controller.quorum.request.timeout.ms=600",
  "broker.heartbeat.interval.ms=500",
  "broker.session.timeout.ms=2500",
];
/** Snapshot settings of `snapshots: "small"` (see ClusterSimOptions). */
const smallSnapshots = [
  "metadata.log.max.record.bytes.between.snapshots=4096",
  "metadata.log.max.snapshot.interval.ms=4000",
  "metadata.max.retention.bytes=8192",
  "metadata.max.retention.ms=20000",
  "metadata.log.segment.bytes=16384",
];
/** Chance that a node is crashed a few ms after it wins an election, grants a vote, or commits as leader. */
const crashOnElectedP = 0.1;
const crashOnVoteP = 0.1;
const crashOnCommitP = 0.01;
/** Chance that a node loses power within 60 ms of starting (formatting, log recovery, registration). */
const crashOnStartP = 0.1;

interface BatchId {
  base: number;
  last: number;
  epoch: number;
  crc: number;
  size: number;
}

interface SimNode {
  readonly id: number;
  readonly address: string;
  readonly fs: SimFileSystem;
  readonly config: BrokerConfig;
  proc: SimProcess | null;
  life: number;
  parts: NodeParts | null;
  handle: Node | null;
  restartTimer: (() => void) | null;
  pauseTimer: (() => void) | null;
  // ---- checker state ----
  /** The quorum-state file as last seen (across lives: what a crash keeps). */
  lastState: QuorumStateData | null;
  /** The core's durable state when the file was last read. */
  lastDurable: QuorumStateData | null;
  /** Log end offset and epoch at the last check (a truncation below them needs a new epoch). */
  lastLogEnd: number;
  /** Highest core epoch seen (across lives). */
  lastEpoch: number;
  /** Within a life: committed batches below this were verified; and the batch ending there. */
  checkedEnd: number;
  checkedLast: BatchId | null;
  lastHighWatermark: number;
  /** Within a life: acks below this index were checked against its image. */
  ackChecked: number;
  /** The latest snapshot of this node's log checked against the committed log. */
  snapshotChecked: SnapshotId | null;
}

/**
 * An acknowledged change: what an image past it must show. It stays true of every later image:
 * partition counts only grow, topic ids are never reused, and what a deletion that was sent
 * may undo is no longer asked.
 */
interface AckedTopic {
  readonly topicId: string;
  readonly partitions: number;
}

interface Ack {
  readonly what: string;
  /** Committed offset (exclusive) when the answer arrived: the change is below it. */
  readonly committedEnd: number;
  /** Why `image` does not show the change, or null. */
  readonly problem: (image: MetadataImage) => string | null;
}

export class ClusterSimulation {
  readonly options: ClusterSimOptions;
  readonly clock = new SimClock();
  readonly prng: SeededPrng;
  readonly net: SimNetwork;
  readonly nodes: SimNode[] = [];
  readonly clusterId: string;
  readonly client: NodeClient;
  readonly stats: ClusterSimStats = {
    steps: 0,
    timersFired: 0,
    simulatedMs: 0,
    crashes: 0,
    fatalStops: 0,
    pauses: 0,
    partitions: 0,
    fencings: 0,
    elections: 0,
    maxEpoch: 0,
    committedOffset: 0,
    opsSent: 0,
    topicsAcked: 0,
    partitionsAcked: 0,
    configsAcked: 0,
    reassignmentsAcked: 0,
    electionsAnswered: 0,
    leadersElected: 0,
    deletionsAcked: 0,
    producerIds: 0,
    opsFailed: 0,
    snapshotsTaken: 0,
    snapshotsLoaded: 0,
    logStartMoves: 0,
    snapshotsChecked: 0,
    recoveryMs: 0,
    traceDigest: "",
  };
  #faultsOn: boolean;
  #workloadOn = true;
  #failure: InvariantViolation | null = null;
  readonly #recent: string[] = [];
  #digest = 0n;
  #opsInFlight = 0;
  #opCount = 0;
  /** Directed cuts in force, counted (overlapping faults). */
  readonly #cuts = new Map<string, number>();
  readonly #degraded = new Map<string, number>();
  // ---- checker state ----
  readonly #leaders = new Map<number, number>();
  readonly #history: BatchId[] = [];
  #committedEnd = 0;
  readonly #committedByEpoch = new Map<number, number>();
  /**
   * The image replayed from the committed batches, and its digest (offset left out) after each
   * batch's last record, at the offsets in `#refOffsets` (ascending): the image at offset X is
   * the one at the last record offset <= X.
   */
  #refImage: MetadataImage = MetadataImage.EMPTY;
  readonly #refDigests = new Map<number, string>();
  readonly #refOffsets: number[] = [];
  readonly #acks: Ack[] = [];
  /** `topic|name|value` of every config record committed. */
  readonly #committedConfigs = new Set<string>();
  /** topicId:partition:replicas of every committed partitionChange that set replicas. */
  readonly #committedReplicaSets = new Set<string>();
  /** Topics acknowledged and not deleted since: name → id and partitions acknowledged. */
  readonly #ackedTopics = new Map<string, AckedTopic>();
  /** Producer ids handed out → the operation that got it. */
  readonly #producerIds = new Map<number, string>();
  /** Topic ids a DeleteTopics was sent for (answered or not). */
  readonly #deletionsSent = new Set<string>();
  readonly #digests = new WeakMap<MetadataImage, string>();
  readonly #partDigests = new WeakMap<object, string>();
  readonly #onRejection = (reason: unknown): void => {
    this.#fail("no unhandled rejection", reason instanceof Error ? (reason.stack ?? reason.message) : String(reason));
  };

  constructor(options: ClusterSimOptions) {
    this.options = options;
    this.prng = new SeededPrng(options.seed);
    this.#faultsOn = options.randomFaults ?? true;
    this.net = new SimNetwork({ clock: this.clock, prng: new SeededPrng(this.prng.nextU32()), link: linkDefault });
    this.clusterId = randomUuid(new SeededPrng(this.prng.nextU32()));
    const voters = Array.from({ length: options.nodes }, (_, i) => `${i + 1}@${addressOf(i + 1)}:${controllerPort}`).join(",");
    const total = options.nodes + (options.observers ?? 0);
    for (let id = 1; id <= total; id++) {
      const address = addressOf(id);
      const voter = id <= options.nodes;
      const loaded = loadConfig({
        sets: [
          `node.id=${id}`,
          voter ? "process.roles=broker,controller" : "process.roles=broker",
          `cluster.id=${this.clusterId}`,
          `controller.quorum.voters=${voters}`,
          voter ? `listeners=PLAINTEXT://${address}:${brokerPort},CONTROLLER://${address}:${controllerPort}` : `listeners=PLAINTEXT://${address}:${brokerPort}`,
          "controller.listener.names=CONTROLLER",
          "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
          `log.dirs=${dataDir}`,
          ...(options.timing === "fast" ? fastTiming : []),
          ...(options.snapshots === "small" ? smallSnapshots : []),
          ...(options.sets ?? []),
        ],
      });
      if (!loaded.ok) throw loaded.error;
      const fs = new SimFileSystem(new SeededPrng(this.prng.nextU32()), this.clock);
      fs.mkdirp(dataDir);
      this.nodes.push({
        id,
        address,
        fs,
        config: loaded.config,
        proc: null,
        life: 0,
        parts: null,
        handle: null,
        restartTimer: null,
        pauseTimer: null,
        lastState: null,
        lastDurable: null,
        lastLogEnd: -1,
        lastEpoch: -1,
        checkedEnd: 0,
        checkedLast: null,
        lastHighWatermark: 0,
        ackChecked: 0,
        snapshotChecked: null,
      });
    }
    this.client = new NodeClient({
      network: this.net.host(clientHost),
      clock: this.clock,
      prng: new SeededPrng(this.prng.nextU32()),
      config: { clientId: "sim-client", requestTimeoutMs: 10_000, connectionSetupTimeoutMs: 3_000, reconnectBackoffMs: 50, reconnectBackoffMaxMs: 1_000 },
    });
    for (const n of this.nodes) this.client.setEndpoint(n.id, { host: n.address, port: brokerPort, listenerName: "PLAINTEXT" });
  }

  get now(): number {
    return this.clock.monotonicMs();
  }

  // ---- trace -------------------------------------------------------------------------------

  #trace(line: string): void {
    const text = `${String(this.now).padStart(7)} ${line}`;
    this.#digest = BigInt(Bun.hash.wyhash(text, this.#digest));
    this.#recent.push(text);
    if (this.#recent.length > recentEventsMax) this.#recent.shift();
    this.options.trace?.(text);
  }

  #fail(invariant: string, detail: string): void {
    if (this.#failure === null) this.#failure = new InvariantViolation(invariant, detail);
  }

  #expMs(meanMs: number): number {
    return Math.max(1, Math.round(-Math.log(1 - this.prng.nextFloat()) * meanMs));
  }

  // ---- node lives --------------------------------------------------------------------------

  #start(node: SimNode): void {
    if ((node.proc?.zombieCalls ?? 0) > 0) this.#fail("no code of a dead node runs", `n${node.id} life ${node.life}: ${node.proc!.zombieCalls} filesystem calls after it died`);
    node.proc?.reap(); // the rebooted machine resets what its previous life left open
    const proc = new SimProcess(this.clock, this.net.host(node.address), node.fs);
    node.proc = proc;
    node.life++;
    node.parts = null;
    node.handle = null;
    node.checkedEnd = 0;
    node.checkedLast = null;
    node.lastDurable = null;
    node.lastLogEnd = -1;
    node.lastHighWatermark = 0;
    node.ackChecked = 0;
    node.snapshotChecked = null;
    const life = node.life;
    const traceLogs = this.options.traceNodeLogs ?? this.options.trace !== undefined;
    const platform: BrokerPlatform = {
      network: proc.network,
      clock: proc.clock,
      fs: proc.fs,
      prng: new SeededPrng(this.prng.nextU32()),
      logSink: (line) => {
        if (line.includes('msg="fenced a broker whose heartbeats stopped"')) this.stats.fencings++;
        // Hashed always (determinism), printed with the trace.
        if (traceLogs) this.#trace(`n${node.id} | ${line}`);
        else this.#digest = BigInt(Bun.hash.wyhash(line, this.#digest));
      },
      hostname: node.address,
      absolutePath: (p) => p,
    };
    this.#trace(`n${node.id} start (life ${life})`);
    if (this.#faultsOn && this.prng.nextFloat() < crashOnStartP) {
      const inMs = this.prng.int(60);
      const downMs = 1 + this.prng.int(500);
      this.clock.schedule(inMs, () => {
        if (this.#faultsOn && node.proc === proc) {
          this.#trace(`n${node.id} crash ${inMs} ms after starting`);
          this.#crash(node, "power", downMs);
        }
      });
    }
    let fatal = false;
    const onFatal = (): void => {
      fatal = true;
      // `bunka broker` exits 1 here; the simulator kills this life from outside the node's
      // code (a timer at 0 ms) and, as a supervisor would, starts the node again.
      this.clock.schedule(0, () => {
        if (node.proc !== proc || proc.state === "dead") return;
        this.stats.fatalStops++;
        this.#trace(`n${node.id} stopped on a fatal metadata-log failure (exit 1)`);
        this.#crash(node, "kill", 200 + this.prng.int(1000));
      });
    };
    startNode(node.config, platform, { observe: (parts) => this.#observe(node, proc, parts), onFatal }).then(
      (handle) => {
        if (node.proc !== proc) return;
        node.handle = handle;
        this.#trace(`n${node.id} ready (life ${life})`);
      },
      (error: unknown) => {
        if (node.proc !== proc || proc.state === "dead" || fatal) return;
        this.#fail("a node starts (again after a crash)", `n${node.id} life ${life}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      },
    );
  }

  #observe(node: SimNode, proc: SimProcess, parts: NodeParts): void {
    node.parts = parts;
    parts.quorum.driver.onEvent((e) => {
      if (node.proc !== proc || proc.state === "dead") return;
      try {
        this.#onRaftEvent(node, parts, e);
      } catch (error) {
        if (error instanceof InvariantViolation) this.#fail(error.invariant, error.message);
        else this.#fail("checker", String(error));
      }
    });
  }

  /**
   * Crashes `node` a few ms from now (never from inside its own code): the moments a lost
   * write would matter — a vote just granted, an election just won, a commit just reported.
   */
  #maybeCrashSoon(node: SimNode, p: number, why: string): void {
    if (!this.#faultsOn || this.prng.nextFloat() >= p) return;
    const proc = node.proc;
    const inMs = this.prng.int(20);
    const downMs = 1 + this.prng.int(2000);
    const mode = this.prng.int(2) === 0 ? "kill" : "power";
    this.clock.schedule(inMs, () => {
      if (this.#faultsOn && node.proc === proc) {
        this.#trace(`n${node.id} crash ${inMs} ms after ${why}`);
        this.#crash(node, mode, downMs);
      }
    });
  }

  #onRaftEvent(node: SimNode, parts: NodeParts, e: RaftEvent): void {
    if (e.kind === "roleChanged") {
      this.#trace(`n${node.id} → ${e.role} epoch ${e.epoch} leader ${e.leaderId} (${e.reason})`);
      if (e.role === "leader") this.#maybeCrashSoon(node, crashOnElectedP, "winning an election");
      else if (e.reason.startsWith("voted for")) this.#maybeCrashSoon(node, crashOnVoteP, "granting a vote");
      this.stats.maxEpoch = Math.max(this.stats.maxEpoch, e.epoch);
      if (e.role === "leader") {
        this.stats.elections++;
        const holder = this.#leaders.get(e.epoch);
        if (holder !== undefined && holder !== node.id) throw new InvariantViolation("one leader per epoch", `epoch ${e.epoch}: n${holder} and n${node.id}`);
        this.#leaders.set(e.epoch, node.id);
      }
      return;
    }
    if (e.kind === "snapshotLoaded") {
      this.#trace(`n${node.id} installed the leader's snapshot ${snapshotIdText(e.snapshotId)} (${e.content.length} bytes)`);
      return;
    }
    if (e.kind === "committed" && e.byLeader) {
      this.#recordCommit(node, parts.quorum.log, e.highWatermark, e.epoch);
      this.#maybeCrashSoon(node, crashOnCommitP, "committing as leader");
    }
  }

  /** A leader reported `hw`: everything below is committed; extend the history (and the reference image) from its log. */
  #recordCommit(node: SimNode, log: PartitionRaftLog, hw: number, epoch: number): void {
    this.#committedByEpoch.set(epoch, Math.max(this.#committedByEpoch.get(epoch) ?? 0, hw));
    if (hw <= this.#committedEnd) return;
    let at = this.#committedEnd;
    while (at < hw) {
      const r = log.read(at, 1 << 20);
      if (r.kind !== "ok" || r.records.length === 0) throw new InvariantViolation("log readable", `leader n${node.id} read at ${at}: ${r.kind === "ok" ? "nothing" : r.detail}`);
      const walk = walkBatches(r.records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: METADATA_BATCH_BYTES_MAX });
      if (walk.batches.length === 0) throw new InvariantViolation("log readable", `leader n${node.id} at ${at}: ${walk.problem}`);
      for (const b of walk.batches) {
        if (at >= hw) break;
        const id: BatchId = { base: b.baseOffset, last: b.lastOffset, epoch: b.partitionLeaderEpoch, crc: b.crc, size: b.sizeInBytes };
        if (id.base !== at) throw new InvariantViolation("log matching", `leader n${node.id}: committed batch at ${id.base}, history ends at ${at}`);
        if (id.last >= hw) throw new InvariantViolation("high watermark on a batch boundary", `leader n${node.id}: HW ${hw} inside batch ${id.base}..${id.last}`);
        this.#history.push(id);
        if (!b.isControl) this.#replayReference(b);
        at = id.last + 1;
      }
    }
    this.#committedEnd = at;
    this.stats.committedOffset = at;
    this.#trace(`n${node.id} committed to ${hw} (epoch ${epoch})`);
  }

  #replayReference(b: RecordBatchView): void {
    const delta = new MetadataDelta(this.#refImage);
    let last = -1;
    try {
      for (const r of b.records({ maxBytes: METADATA_BATCH_BYTES_MAX })) {
        if (r.value === null) throw new MetadataReplayError(r.offset, "record without a value");
        const decoded = decodeMetadataRecord(r.value);
        if (!decoded.ok) throw new MetadataReplayError(r.offset, decoded.reason);
        delta.replay(decoded.record, r.offset);
        const rec = decoded.record;
        if (rec.type === "config" && rec.value !== null) this.#committedConfigs.add(`${rec.resourceName}|${rec.name}|${rec.value}`);
        if (rec.type === "partitionChange" && rec.replicas !== undefined) this.#committedReplicaSets.add(`${rec.topicId}:${rec.partition}:${rec.replicas.join(",")}`);
        last = r.offset;
      }
    } catch (error) {
      throw new InvariantViolation("the committed log replays", error instanceof Error ? error.message : String(error));
    }
    if (last < 0) return;
    this.#refImage = delta.apply();
    this.#refDigests.set(last, this.#imageDigest(this.#refImage));
    this.#refOffsets.push(last);
  }

  /** The reference image's digest at `offset`: the one after the last committed record at or below it. */
  #refDigestAt(offset: number): string {
    let lo = 0;
    let hi = this.#refOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#refOffsets[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? this.#imageDigest(MetadataImage.EMPTY) : this.#refDigests.get(this.#refOffsets[lo - 1]!)!;
  }

  /** Adds the snapshot work of `node`'s current life to the run's figures (at its end). */
  #countSnapshots(node: SimNode): void {
    const stats = node.parts?.quorum.store.stats;
    if (stats === undefined) return;
    this.stats.snapshotsTaken += stats.taken;
    this.stats.snapshotsLoaded += stats.loaded;
    this.stats.logStartMoves += stats.logStartMoves;
  }

  /**
   * A digest of everything an image holds but its offset (a snapshot's image stands at the
   * snapshot's last offset, maybe a control record's; see #refDigestAt). Images share unchanged topics and brokers with
   * their predecessor, so those parts' digests are cached per object.
   */
  #imageDigest(image: MetadataImage): string {
    const cached = this.#digests.get(image);
    if (cached !== undefined) return cached;
    const part = (o: object): string => {
      let d = this.#partDigests.get(o);
      if (d === undefined) {
        d = Bun.hash.wyhash(JSON.stringify(o)).toString(36);
        this.#partDigests.set(o, d);
      }
      return d;
    };
    const byKey = <V>(m: ReadonlyMap<string | number, V>): [string | number, V][] => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const text = [
      byKey(image.topicsByName).map(([, t]) => part(t)).join(","),
      byKey(image.topicsById).map(([id, t]) => `${id}:${t.name}`).join(","),
      byKey(image.brokers).map(([, b]) => part(b)).join(","),
      JSON.stringify(byKey(image.configs).map(([k, v]) => [k, byKey(v)])),
      JSON.stringify(byKey(image.features)),
      image.nextProducerId,
    ].join("|");
    const digest = Bun.hash.wyhash(text).toString(36);
    this.#digests.set(image, digest);
    return digest;
  }

  #crash(node: SimNode, mode: "kill" | "power", downMs: number): void {
    const proc = node.proc;
    if (proc === null || proc.state === "dead") return;
    proc.kill(mode);
    node.fs.crash();
    this.#countSnapshots(node);
    node.parts = null;
    node.handle = null;
    node.pauseTimer?.();
    node.pauseTimer = null;
    this.stats.crashes++;
    this.#trace(`n${node.id} ${mode === "kill" ? "killed" : "power lost"}, down ${downMs} ms`);
    node.restartTimer = this.clock.schedule(downMs, () => {
      node.restartTimer = null;
      this.#start(node);
    });
  }

  #pause(node: SimNode, ms: number): void {
    const proc = node.proc;
    if (proc === null || proc.state !== "running") return;
    proc.pause();
    this.stats.pauses++;
    this.#trace(`n${node.id} paused for ${ms} ms`);
    node.pauseTimer = this.clock.schedule(ms, () => {
      node.pauseTimer = null;
      if (node.proc !== proc) return;
      proc.resume();
      this.#trace(`n${node.id} resumed`);
    });
  }

  // ---- network faults ----------------------------------------------------------------------

  #hosts(): string[] {
    return [...this.nodes.map((n) => n.address), clientHost];
  }

  #cut(from: string, to: string, ms: number): void {
    const key = `${from}>${to}`;
    const count = this.#cuts.get(key) ?? 0;
    if (count === 0) this.net.cut(from, to);
    this.#cuts.set(key, count + 1);
    this.clock.schedule(ms, () => {
      const left = (this.#cuts.get(key) ?? 0) - 1;
      if (left > 0) {
        this.#cuts.set(key, left);
        return;
      }
      if (!this.#cuts.has(key)) return; // healed meanwhile
      this.#cuts.delete(key);
      this.net.uncut(from, to);
    });
  }

  #isolate(address: string, ms: number): void {
    for (const h of this.#hosts()) {
      if (h === address) continue;
      this.#cut(address, h, ms);
      this.#cut(h, address, ms);
    }
  }

  #degrade(from: string, to: string, link: Partial<LinkConfig>, ms: number): void {
    const key = `${from}>${to}`;
    const generation = (this.#degraded.get(key) ?? 0) + 1;
    this.#degraded.set(key, generation);
    this.net.setLink(from, to, link);
    this.clock.schedule(ms, () => {
      if (this.#degraded.get(key) !== generation) return;
      this.#degraded.delete(key);
      this.net.setLink(from, to, linkDefault);
    });
  }

  #healNetwork(): void {
    this.#cuts.clear();
    this.net.heal();
    for (const key of this.#degraded.keys()) {
      const [from, to] = key.split(">") as [string, string];
      this.net.setLink(from, to, linkDefault);
    }
    this.#degraded.clear();
  }

  #activeController(): SimNode | undefined {
    return this.nodes.find((n) => n.proc?.state === "running" && n.parts?.quorum.core.role.kind === "leader");
  }

  #injectFault(): void {
    const p = this.prng;
    const pick = (): SimNode => this.nodes[p.int(this.nodes.length)]!;
    const hosts = this.#hosts();
    const kind = p.int(100);
    if (kind < 20) {
      const n = pick();
      this.#crash(n, p.int(2) === 0 ? "kill" : "power", p.int(4) === 0 ? 5000 + p.int(10_000) : 200 + p.int(5000));
    } else if (kind < 32) {
      this.#pause(pick(), 100 + p.int(4000));
    } else if (kind < 48) {
      const side = hosts.filter(() => p.int(2) === 0);
      const ms = 300 + p.int(6000);
      for (const a of hosts) for (const b of hosts) if (side.includes(a) !== side.includes(b)) this.#cut(a, b, ms);
      this.stats.partitions++;
      this.#trace(`partition {${side.join(",")}} for ${ms} ms`);
    } else if (kind < 60) {
      const leader = this.#activeController();
      if (leader !== undefined) {
        const ms = 300 + p.int(6000);
        this.#isolate(leader.address, ms);
        this.stats.partitions++;
        this.#trace(`active controller n${leader.id} isolated for ${ms} ms`);
      }
    } else if (kind < 68) {
      const n = pick();
      const ms = 300 + p.int(6000);
      this.#isolate(n.address, ms);
      this.stats.partitions++;
      this.#trace(`n${n.id} isolated for ${ms} ms`);
    } else if (kind < 80) {
      const a = hosts[p.int(hosts.length)]!;
      const b = hosts[p.int(hosts.length)]!;
      if (a !== b) {
        const ms = 300 + p.int(6000);
        this.#cut(a, b, ms);
        this.#trace(`one-way cut ${a} → ${b} for ${ms} ms`);
      }
    } else if (kind < 94) {
      const a = hosts[p.int(hosts.length)]!;
      const b = hosts[p.int(hosts.length)]!;
      if (a !== b) {
        const ms = 300 + p.int(8000);
        const link = { delayMs: 1 + p.int(60), jitterMs: p.int(120), dropProbability: p.nextFloat() < 0.5 ? p.nextFloat() * 0.02 : 0 };
        this.#degrade(a, b, link, ms);
        this.#trace(`link ${a} → ${b} ${JSON.stringify(link)} for ${ms} ms`);
      }
    } else if (kind < 97 && this.options.diskFaults === true) {
      const n = pick();
      const op = p.int(2) === 0 ? "fsync" : "append";
      n.fs.failNext(op, "EIO");
      this.#trace(`n${n.id} disk: next ${op} fails with EIO`);
    } else {
      this.#healNetwork();
      this.#trace("network healed");
    }
  }

  #scheduleFaults(): void {
    this.clock.schedule(this.#expMs(faultMeanMs), () => {
      if (!this.#faultsOn) return;
      this.#injectFault();
      this.#scheduleFaults();
    });
  }

  // ---- workload ----------------------------------------------------------------------------

  #scheduleOps(): void {
    this.clock.schedule(this.#expMs(opMeanMs), () => {
      if (!this.#workloadOn) return;
      if (this.#opsInFlight < opsInFlightMax) this.#issueOp();
      this.#scheduleOps();
    });
  }

  #issueOp(): void {
    const p = this.prng;
    const via = 1 + p.int(this.nodes.length);
    const acked = [...this.#ackedTopics.keys()];
    const pickAcked = (): string => acked[p.int(acked.length)]!;
    const kind = p.int(100);
    if (acked.length > 0 && kind < 18) {
      const name = pickAcked();
      void this.#createPartitions(via, name, this.#ackedTopics.get(name)!);
    } else if (acked.length > 0 && kind < 30) {
      void this.#alterConfig(via, pickAcked());
    } else if (acked.length > 0 && kind < 40) {
      void this.#deleteTopic(via, pickAcked());
    } else if (kind < 52) {
      void this.#initProducerId(via);
    } else if (acked.length > 0 && kind < 60) {
      void this.#reassign(via, pickAcked());
    } else if (kind < 64) {
      void this.#electLeaders(via);
    } else {
      const reuse = acked.length > 0 && p.int(100) < 25;
      const name = reuse ? pickAcked() : `t${this.#opCount}`;
      const partitions = 1 + p.int(3);
      const rf = 1 + p.int(Math.min(3, this.nodes.length));
      void this.#createTopic(via, name, partitions, rf, createRetries);
    }
  }

  /** What an image must show of topic `t` once an answer acknowledged it (nothing, once a deletion of it was sent). */
  #topicProblem(image: MetadataImage, name: string, t: AckedTopic): string | null {
    return this.#deletionsSent.has(t.topicId) ? null : topicProblem(image, name, t.topicId, t.partitions);
  }

  /**
   * Creates a topic; a timed-out or NOT_CONTROLLER attempt is retried with the same name
   * through a random node, as admin clients do (`retries` times, after 20-320 ms), so a retry
   * may meet the first attempt's record, or a controller that has not applied it yet.
   */
  async #createTopic(via: number, name: string, partitions: number, rf: number, retries: number): Promise<boolean> {
    const op = this.#opCount++;
    this.#opsInFlight++;
    this.stats.opsSent++;
    try {
      for (let attempt = 0; ; attempt++) {
        this.#trace(`op${op} CreateTopics ${name} (${partitions}x${rf}) via n${via}${attempt === 0 ? "" : ` (retry ${attempt})`}`);
        const outcome = await this.#createTopicOnce(op, via, name, partitions, rf);
        if (outcome !== "retriable" || attempt >= retries || !this.#workloadOn) return outcome === "acked";
        await new Promise<void>((resolve) => this.clock.schedule(20 + this.prng.int(300), resolve));
        via = 1 + this.prng.int(this.nodes.length);
      }
    } finally {
      this.#opsInFlight--;
    }
  }

  async #createTopicOnce(op: number, via: number, name: string, partitions: number, rf: number): Promise<"acked" | "refused" | "retriable"> {
    const body = { ...defaultCreateTopicsRequest(), timeoutMs: 8_000, topics: [{ name, numPartitions: partitions, replicationFactor: rf, assignments: [], configs: [] }] };
    const r = await this.client.send(via, ApiKeys.CreateTopics, body, { timeoutMs: 10_000 });
    if (!r.ok) {
      this.stats.opsFailed++;
      this.#trace(`op${op} failed: ${r.error.kind} ${r.error.message}`);
      return r.error.retriable ? "retriable" : "refused";
    }
    const t = r.body.topics[0];
    if (t === undefined || t.name !== name || r.version < 7) {
      this.#fail("a CreateTopics v7 answer names its topic", `op${op} v${r.version}: ${JSON.stringify(r.body.topics)}`);
      return "refused";
    }
    this.#trace(`op${op} → error ${t.errorCode}${t.errorMessage === null ? "" : ` (${t.errorMessage})`} id ${t.topicId}`);
    if (t.errorCode !== ErrorCode.NONE) {
      this.stats.opsFailed++;
      return t.errorCode === ErrorCode.NOT_CONTROLLER || t.errorCode === ErrorCode.REQUEST_TIMED_OUT ? "retriable" : "refused";
    }
    if (t.topicId === ZERO_UUID) this.#fail("an acknowledged CreateTopics carries its topic id", `op${op} ${name}`);
    const acked: AckedTopic = { topicId: t.topicId, partitions };
    this.#ackedTopics.set(name, acked);
    this.#ack({ what: `op${op} CreateTopics ${name}`, committedEnd: this.#committedEnd, problem: (image) => this.#topicProblem(image, name, acked) });
    this.stats.topicsAcked++;
    return "acked";
  }

  /** Asks for one partition more than acknowledged so far. */
  async #createPartitions(via: number, name: string, known: AckedTopic): Promise<void> {
    const op = this.#opCount++;
    const count = known.partitions + 1;
    this.#opsInFlight++;
    this.stats.opsSent++;
    this.#trace(`op${op} CreatePartitions ${name} → ${count} via n${via}`);
    const body = { ...defaultCreatePartitionsRequest(), timeoutMs: 8_000, topics: [{ name, count, assignments: null }] };
    const r = await this.client.send(via, ApiKeys.CreatePartitions, body, { timeoutMs: 10_000 });
    this.#opsInFlight--;
    if (!r.ok) {
      this.stats.opsFailed++;
      this.#trace(`op${op} failed: ${r.error.kind} ${r.error.message}`);
      return;
    }
    const t = r.body.results[0];
    this.#trace(`op${op} → error ${t?.errorCode}${t?.errorMessage == null ? "" : ` (${t.errorMessage})`}`);
    if (t?.errorCode !== ErrorCode.NONE) {
      this.stats.opsFailed++;
      return;
    }
    // By name: the topic it reached is the acknowledged one unless a deletion of that one was sent.
    const acked: AckedTopic = { topicId: known.topicId, partitions: count };
    const current = this.#ackedTopics.get(name);
    if (current?.topicId === known.topicId && current.partitions < count) this.#ackedTopics.set(name, acked);
    this.#ack({ what: `op${op} CreatePartitions ${name} → ${count}`, committedEnd: this.#committedEnd, problem: (image) => this.#topicProblem(image, name, acked) });
    this.stats.partitionsAcked++;
  }

  /** Sets a topic config to a value no other operation uses, so the committed log shows whether it got in. */
  async #alterConfig(via: number, name: string): Promise<void> {
    const op = this.#opCount++;
    const value = String(3_600_000 + op);
    this.#opsInFlight++;
    this.stats.opsSent++;
    this.#trace(`op${op} IncrementalAlterConfigs ${name} retention.ms=${value} via n${via}`);
    const body = {
      ...defaultIncrementalAlterConfigsRequest(),
      resources: [{ resourceType: topicResourceType, resourceName: name, configs: [{ name: "retention.ms", configOperation: 0, value }] }],
    };
    const r = await this.client.send(via, ApiKeys.IncrementalAlterConfigs, body, { timeoutMs: 10_000 });
    this.#opsInFlight--;
    if (!r.ok) {
      this.stats.opsFailed++;
      this.#trace(`op${op} failed: ${r.error.kind} ${r.error.message}`);
      return;
    }
    const t = r.body.responses[0];
    this.#trace(`op${op} → error ${t?.errorCode}${t?.errorMessage == null ? "" : ` (${t.errorMessage})`}`);
    if (t?.errorCode !== ErrorCode.NONE) {
      this.stats.opsFailed++;
      return;
    }
    this.stats.configsAcked++;
    // Later alterations may replace the value: that it was committed is what is checked.
    const key = `${name}|retention.ms|${value}`;
    if (!this.#committedConfigs.has(key)) this.#fail("an acknowledged change is committed when its answer arrives", `op${op} set ${key}, not in the committed log`);
  }

  /**
   * Reassigns one partition of an acknowledged topic to 1-3 random brokers (a fifth of the time
   * cancels instead). Acknowledged: the committed log holds a partitionChange whose replicas
   * are the target followed by the removed ones (started) or the target alone (completed at
   * once), or the partition had the target already.
   */
  async #reassign(via: number, name: string): Promise<void> {
    const op = this.#opCount++;
    const known = this.#ackedTopics.get(name)!;
    const p = this.prng;
    const partition = p.int(known.partitions);
    const brokers = this.nodes.map((n) => n.id);
    let target: number[] | null = null;
    if (p.int(5) !== 0) {
      const rf = 1 + p.int(Math.min(3, brokers.length));
      const pool = brokers.slice();
      target = [];
      while (target.length < rf) target.push(pool.splice(p.int(pool.length), 1)[0]!);
    }
    this.#opsInFlight++;
    this.stats.opsSent++;
    this.#trace(`op${op} AlterPartitionReassignments ${name}-${partition} → ${target === null ? "cancel" : `[${target.join(",")}]`} via n${via}`);
    const body = { timeoutMs: 8_000, topics: [{ name, partitions: [{ partitionIndex: partition, replicas: target }] }] };
    const r = await this.client.send(via, ApiKeys.AlterPartitionReassignments, body, { timeoutMs: 10_000 });
    this.#opsInFlight--;
    if (!r.ok) {
      this.stats.opsFailed++;
      this.#trace(`op${op} failed: ${r.error.kind} ${r.error.message}`);
      return;
    }
    const e = r.body.errorCode !== ErrorCode.NONE ? r.body.errorCode : (r.body.responses[0]?.partitions[0]?.errorCode ?? -1);
    this.#trace(`op${op} → error ${e}`);
    if (e !== ErrorCode.NONE) {
      this.stats.opsFailed++;
      return;
    }
    this.stats.reassignmentsAcked++;
    if (target === null || this.#deletionsSent.has(known.topicId)) return;
    const prefix = `${known.topicId}:${partition}:${target.join(",")}`;
    const committed = [...this.#committedReplicaSets].some((k) => k === prefix || k.startsWith(`${prefix},`));
    const already = this.#refImage.topicsById.get(known.topicId as never)?.partitions[partition]?.replicas.join(",") === target.join(",");
    if (!committed && !already) this.#fail("an acknowledged change is committed when its answer arrives", `op${op} reassignment of ${name}-${partition} to [${target.join(",")}] is not in the committed log`);
  }

  /** ElectLeaders (preferred or unclean) for every partition; the image checks cover what it commits. */
  async #electLeaders(via: number): Promise<void> {
    const op = this.#opCount++;
    const type = this.prng.int(4) === 0 ? 1 : 0;
    this.#opsInFlight++;
    this.stats.opsSent++;
    this.#trace(`op${op} ElectLeaders ${type === 0 ? "preferred" : "unclean"} (all partitions) via n${via}`);
    const r = await this.client.send(via, ApiKeys.ElectLeaders, { electionType: type, topicPartitions: null, timeoutMs: 8_000 }, { timeoutMs: 10_000 });
    this.#opsInFlight--;
    if (!r.ok) {
      this.stats.opsFailed++;
      this.#trace(`op${op} failed: ${r.error.kind} ${r.error.message}`);
      return;
    }
    const elected = r.body.replicaElectionResults.reduce((n, t) => n + t.partitionResult.filter((x) => x.errorCode === ErrorCode.NONE).length, 0);
    this.#trace(`op${op} → error ${r.body.errorCode}, ${elected} elected`);
    this.stats.electionsAnswered++;
    this.stats.leadersElected += elected;
  }

  /** An idempotent producer's id: no two answers, from any node in any life, may carry the same one. */
  async #initProducerId(via: number): Promise<void> {
    const op = this.#opCount++;
    this.#opsInFlight++;
    this.stats.opsSent++;
    this.#trace(`op${op} InitProducerId via n${via}`);
    const r = await this.client.send(via, ApiKeys.InitProducerId, { ...defaultInitProducerIdRequest(), transactionalId: null, transactionTimeoutMs: 60_000 }, { timeoutMs: 10_000 });
    this.#opsInFlight--;
    if (!r.ok) {
      this.stats.opsFailed++;
      this.#trace(`op${op} failed: ${r.error.kind} ${r.error.message}`);
      return;
    }
    this.#trace(`op${op} → error ${r.body.errorCode} producer id ${r.body.producerId} epoch ${r.body.producerEpoch}`);
    if (r.body.errorCode !== ErrorCode.NONE) {
      this.stats.opsFailed++;
      return;
    }
    const before = this.#producerIds.get(r.body.producerId);
    if (before !== undefined) this.#fail("a producer id is handed out once", `op${op} via n${via} got ${r.body.producerId}, as ${before} did`);
    this.#producerIds.set(r.body.producerId, `op${op} via n${via}`);
    this.stats.producerIds++;
  }

  /** Deletes an acknowledged topic by id: once acknowledged, no image past it may hold that id again (ids are never reused). */
  async #deleteTopic(via: number, name: string): Promise<void> {
    const op = this.#opCount++;
    const topicId = this.#ackedTopics.get(name)!.topicId;
    // Sent: it may take effect whatever the answer, so the topic's other acknowledgements no longer bind.
    this.#deletionsSent.add(topicId);
    this.#ackedTopics.delete(name);
    this.#opsInFlight++;
    this.stats.opsSent++;
    this.#trace(`op${op} DeleteTopics ${name} (${topicId}) via n${via}`);
    const body = { ...defaultDeleteTopicsRequest(), timeoutMs: 8_000, topics: [{ name: null, topicId }] };
    const r = await this.client.send(via, ApiKeys.DeleteTopics, body, { timeoutMs: 10_000 });
    this.#opsInFlight--;
    if (!r.ok) {
      this.stats.opsFailed++;
      this.#trace(`op${op} failed: ${r.error.kind} ${r.error.message}`);
      return;
    }
    const t = r.body.responses[0];
    this.#trace(`op${op} → error ${t?.errorCode}${t?.errorMessage == null ? "" : ` (${t.errorMessage})`}`);
    if (t?.errorCode !== ErrorCode.NONE) {
      this.stats.opsFailed++;
      return;
    }
    this.stats.deletionsAcked++;
    this.#ack({
      what: `op${op} DeleteTopics ${name} (${topicId})`,
      committedEnd: this.#committedEnd,
      problem: (image) => (image.topicsById.has(topicId as never) ? `deleted topic ${name} (${topicId}) is still there at offset ${image.offset}` : null),
    });
  }

  /** An acknowledged change must be committed already: the reference image holds it. */
  #ack(ack: Ack): void {
    this.#acks.push(ack);
    const problem = ack.problem(this.#refImage);
    if (problem !== null) this.#fail("an acknowledged change is committed when its answer arrives", `${ack.what}: ${problem}`);
  }

  // ---- stepping ----------------------------------------------------------------------------

  /** One step: fire the timers due at the next instant, one at a time, letting promises settle after each; then check. */
  async step(): Promise<void> {
    this.stats.steps++;
    // Callbacks started between steps (begin, scripted calls) run before the next timer: a
    // crash must never find a node with promise callbacks still pending.
    await settle();
    const due = this.clock.nextDueMs();
    if (due === null) this.clock.advance(idleStepMsMax);
    while (due !== null && this.clock.fireNext(due)) {
      this.stats.timersFired++;
      await settle();
      if (this.#failure !== null) throw this.#failure;
    }
    await settle();
    this.#check();
    if (this.#failure !== null) throw this.#failure;
  }

  /** Stops the faults: heal the network, restart crashed nodes, resume paused ones. */
  heal(): void {
    this.#faultsOn = false;
    this.#healNetwork();
    for (const n of this.nodes) {
      n.pauseTimer?.();
      n.pauseTimer = null;
      if (n.proc?.state === "paused") n.proc.resume();
      if (n.proc === null || n.proc.state === "dead") {
        n.restartTimer?.();
        n.restartTimer = null;
        this.#start(n);
      }
    }
    this.#trace("faults stop");
  }

  // ---- invariants --------------------------------------------------------------------------

  #maxCommittedBelow(epoch: number): number {
    let max = 0;
    for (const [e, hw] of this.#committedByEpoch) if (e < epoch && hw > max) max = hw;
    return max;
  }

  #check(): void {
    for (const n of this.nodes) {
      if ((n.proc?.zombieCalls ?? 0) > 0) throw new InvariantViolation("no code of a dead node runs", `n${n.id} life ${n.life}: ${n.proc!.zombieCalls} filesystem calls after it died`);
    }
    // A leader's high watermark is the commit point it reports, also when a listener before
    // the checker's threw and its "committed" event went unseen.
    for (const n of this.nodes) {
      const core = n.parts?.quorum.core;
      if (core === undefined || n.proc === null || n.proc.state === "dead" || core.role.kind !== "leader") continue;
      if (core.highWatermark > this.#committedEnd) this.#recordCommit(n, n.parts!.quorum.log, core.highWatermark, core.epoch);
    }
    for (const n of this.nodes) {
      const parts = n.parts;
      if (parts === null || n.proc === null || n.proc.state === "dead") continue;
      const { core, store } = parts.quorum;
      const log = parts.quorum.log;
      const who = `n${n.id} (life ${n.life}, ${core.role.kind} epoch ${core.epoch}, HW ${core.highWatermark}, log ${log.logStartOffset}..${log.logEndOffset} last epoch ${log.lastFetchedEpoch()})`;
      // The quorum-state file: what a crash would leave (read again when the core wrote it).
      const statePath = quorumStatePath(metadataDir);
      if (core.durableState !== n.lastDurable && n.fs.exists(statePath)) {
        n.lastDurable = core.durableState;
        const state = decodeQuorumState(statePath, n.fs.readFile(statePath));
        const prev = n.lastState;
        if (prev !== null) {
          if (state.leaderEpoch < prev.leaderEpoch) throw new InvariantViolation("epochs never go back", `${who}: quorum-state epoch ${prev.leaderEpoch} → ${state.leaderEpoch}`);
          if (state.leaderEpoch === prev.leaderEpoch && prev.votedId !== -1 && state.votedId !== prev.votedId) {
            throw new InvariantViolation("one vote per epoch", `${who}: vote in epoch ${state.leaderEpoch} changed from ${prev.votedId} to ${state.votedId}`);
          }
        }
        n.lastState = state;
        if (log.lastFetchedEpoch() > state.leaderEpoch) throw new InvariantViolation("durable before acted", `${who}: log holds epoch ${log.lastFetchedEpoch()}, quorum-state says ${state.leaderEpoch}`);
      }
      if (core.epoch < n.lastEpoch) throw new InvariantViolation("epochs never go back", `${who}: epoch ${n.lastEpoch} → ${core.epoch}`);
      // A log that kept its end offset in the same epoch was not truncated and refilled.
      const logMoved = core.epoch !== n.lastEpoch || log.logEndOffset !== n.lastLogEnd;
      n.lastEpoch = core.epoch;
      n.lastLogEnd = log.logEndOffset;
      // High watermark.
      const hw = core.highWatermark;
      if (hw < n.lastHighWatermark) throw new InvariantViolation("high watermark never goes back", `${who}: ${n.lastHighWatermark} → ${hw}`);
      n.lastHighWatermark = hw;
      if (hw > this.#committedEnd) throw new InvariantViolation("high watermark only covers committed records", `${who}: HW ${hw}, committed ${this.#committedEnd}`);
      // Log matching on the committed prefix this node vouches for.
      this.#checkLog(n, who, log, core.role.kind === "leader" ? Math.max(hw, this.#maxCommittedBelow(core.epoch + 1)) : hw, logMoved);
      if (core.role.kind === "leader") {
        const holder = this.#leaders.get(core.epoch);
        if (holder !== n.id) throw new InvariantViolation("one leader per epoch", `epoch ${core.epoch}: n${holder} and n${n.id}`);
        const need = this.#maxCommittedBelow(core.epoch);
        if (log.logEndOffset < need) throw new InvariantViolation("leader completeness", `${who} leads epoch ${core.epoch} with log end ${log.logEndOffset}, but ${need} was committed before`);
      }
      // The image: exactly the committed prefix it claims, replayed.
      this.#checkImage(n, who, parts.metadata, store.appliedOffset);
      this.#checkSnapshot(n, who, log, hw);
    }
  }

  #checkLog(n: SimNode, who: string, log: PartitionRaftLog, vouched: number, logMoved: boolean): void {
    // Below the log start the log is gone (a snapshot holds it, checked in #checkSnapshot).
    if (n.checkedLast !== null && n.checkedLast.base < log.logStartOffset) n.checkedLast = null;
    if (n.checkedEnd < log.logStartOffset) n.checkedEnd = log.logStartOffset;
    // A batch verified before must still be there, unchanged (nothing committed is lost).
    if (log.logEndOffset < n.checkedEnd) throw new InvariantViolation("committed records never lost or changed", `${who}: log end ${log.logEndOffset} below the committed ${n.checkedEnd} it held`);
    if (n.checkedLast !== null && logMoved) {
      const again = readBatchIds(log, n.checkedLast.base, n.checkedLast.last + 1, who, n.checkedLast.size);
      const b = again[0];
      if (b === undefined || !sameBatch(b, n.checkedLast)) {
        throw new InvariantViolation("committed records never lost or changed", `${who}: committed batch ${JSON.stringify(n.checkedLast)} is now ${JSON.stringify(b ?? null)}`);
      }
    }
    const upTo = Math.min(log.logEndOffset, vouched);
    if (n.checkedEnd >= upTo) return;
    let i = this.#historyIndex(n.checkedEnd);
    for (const b of readBatchIds(log, n.checkedEnd, upTo, who)) {
      const want = this.#history[i++];
      if (want === undefined || !sameBatch(b, want)) {
        throw new InvariantViolation("committed records never lost or changed (log matching)", `${who}: batch ${JSON.stringify(b)} where the committed batch is ${JSON.stringify(want ?? null)}`);
      }
      n.checkedLast = b;
      n.checkedEnd = b.last + 1;
    }
  }

  #historyIndex(offset: number): number {
    let lo = 0;
    let hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#history[mid]!.last < offset) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.#history.length && this.#history[lo]!.base !== offset) {
      throw new InvariantViolation("committed records never lost or changed (log matching)", `offset ${offset} is inside committed batch ${this.#history[lo]!.base}`);
    }
    return lo;
  }

  #checkImage(n: SimNode, who: string, metadata: MetadataManager, applied: number): void {
    if (applied > this.#committedEnd) throw new InvariantViolation("only committed records are applied", `${who}: applied to ${applied}, committed ${this.#committedEnd}`);
    const image = metadata.image;
    if (image.offset >= applied) throw new InvariantViolation("only committed records are applied", `${who}: image at offset ${image.offset}, applied below ${applied}`);
    if (image.offset >= 0) {
      const want = this.#refDigestAt(image.offset);
      const got = this.#imageDigest(image);
      if (want !== got) {
        throw new InvariantViolation("images equal the committed log replayed", `${who}: image at offset ${image.offset} has digest ${got}, the committed log replayed to there ${want}`);
      }
    }
    while (n.ackChecked < this.#acks.length && this.#acks[n.ackChecked]!.committedEnd <= applied) {
      const ack = this.#acks[n.ackChecked++]!;
      const problem = ack.problem(image);
      if (problem !== null) throw new InvariantViolation("acknowledged changes are in every image past them", `${who} applied to ${applied}: ${ack.what}: ${problem}`);
    }
  }

  /**
   * A node's latest snapshot (checked once per snapshot and life): it ends on a committed
   * batch boundary, in that batch's epoch; its content read back is the committed log's image
   * there; and that image with the node's log after it replayed up to its high watermark is
   * the committed log's image there — what the node would rebuild at a restart.
   */
  #checkSnapshot(n: SimNode, who: string, log: PartitionRaftLog, hw: number): void {
    const latest = log.latestSnapshot();
    if (latest === null || (n.snapshotChecked !== null && sameSnapshotId(latest, n.snapshotChecked))) return;
    n.snapshotChecked = latest;
    this.stats.snapshotsChecked++;
    const what = `${who}: snapshot ${snapshotIdText(latest)}`;
    if (latest.endOffset > this.#committedEnd) throw new InvariantViolation("snapshots hold committed records only", `${what} ends past the committed ${this.#committedEnd}`);
    const before = this.#history[this.#historyIndex(latest.endOffset) - 1];
    if (before === undefined || before.last !== latest.endOffset - 1 || before.epoch !== latest.epoch) {
      throw new InvariantViolation("a snapshot ends on a committed batch, in its epoch", `${what}; the committed batch before it: ${JSON.stringify(before ?? null)}`);
    }
    let image: MetadataImage;
    try {
      image = decodeImageSnapshot(log.readSnapshotContent(latest), latest.endOffset - 1);
    } catch (error) {
      throw new InvariantViolation("a snapshot holds an image", `${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const want = this.#refDigestAt(image.offset);
    if (this.#imageDigest(image) !== want) throw new InvariantViolation("a snapshot's image equals the committed log replayed", `${what}: digest ${this.#imageDigest(image)}, the committed log replayed to there ${want}`);
    // Then the log after it, as a restart replays it.
    const delta = new MetadataDelta(image);
    let last = image.offset;
    let at = latest.endOffset;
    const end = Math.min(hw, log.logEndOffset);
    try {
      while (at < end) {
        const r = log.read(at, 1 << 20);
        if (r.kind !== "ok" || r.records.length === 0) throw new InvariantViolation("log readable", `${what}: read at ${at}: ${r.kind === "ok" ? "nothing" : r.detail}`);
        const walk = walkBatches(r.records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: METADATA_BATCH_BYTES_MAX });
        if (walk.batches.length === 0) throw new InvariantViolation("log readable", `${what}: at ${at}: ${walk.problem}`);
        for (const b of walk.batches) {
          if (b.baseOffset >= end) break;
          if (!b.isControl) {
            for (const rec of b.records({ maxBytes: METADATA_BATCH_BYTES_MAX })) {
              if (rec.value === null) throw new MetadataReplayError(rec.offset, "record without a value");
              const decoded = decodeMetadataRecord(rec.value);
              if (!decoded.ok) throw new MetadataReplayError(rec.offset, decoded.reason);
              delta.replay(decoded.record, rec.offset);
              last = rec.offset;
            }
          }
          at = b.lastOffset + 1;
        }
      }
    } catch (error) {
      if (error instanceof InvariantViolation) throw error;
      throw new InvariantViolation("a snapshot and the log after it replay", `${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const rebuilt = delta.apply();
    const wantRebuilt = this.#refDigestAt(last);
    if (this.#imageDigest(rebuilt) !== wantRebuilt) {
      throw new InvariantViolation("a node's snapshot plus its log equals the committed log replayed", `${what} and its log to ${at}: digest ${this.#imageDigest(rebuilt)}, the committed log replayed to ${last} ${wantRebuilt}`);
    }
  }

  // ---- the run -----------------------------------------------------------------------------

  /** Once the faults stop: a CreateTopics is acknowledged through some node; every node sees it and all brokers unfenced. */
  async #recover(): Promise<string> {
    let attempt = 0;
    for (;;) {
      const via = 1 + (attempt % this.nodes.length);
      const name = `live-${attempt}`;
      attempt++;
      const created = await this.#createTopic(via, name, 1, 1, 0);
      if (!created) {
        await new Promise<void>((resolve) => this.clock.schedule(200, resolve));
        continue;
      }
      return name;
    }
  }

  #served(name: string | null): boolean {
    if (name === null) return false;
    return this.nodes.every((n) => {
      if (n.proc?.state !== "running" || n.parts === null || n.handle === null) return false;
      const image = n.parts.metadata.image;
      return image.topic(name) !== undefined && image.liveBrokers().length === this.nodes.length;
    });
  }

  /** Starts every node, the random faults (unless off) and the workload. */
  begin(): void {
    process.on("unhandledRejection", this.#onRejection);
    for (const n of this.nodes) this.#start(n);
    if (this.#faultsOn) this.#scheduleFaults();
    this.#scheduleOps();
  }

  async run(): Promise<ClusterSimResult> {
    try {
      this.begin();
      for (let i = 0; i < this.options.steps; i++) await this.step();
      this.#workloadOn = false;
      this.heal();
      const healedMs = this.now;
      const bound = this.options.livenessBoundMs ?? livenessBoundMsDefault;
      let marker: string | null = null;
      void this.#recover().then((name) => {
        marker = name;
      });
      while (!this.#served(marker)) {
        if (this.now - healedMs > bound) {
          const roles = this.nodes
            .map((n) => {
              const core = n.parts?.quorum.core;
              const image = n.parts?.metadata.image;
              return `n${n.id}=${n.proc?.state ?? "none"}${n.handle === null ? "(starting)" : ""} ${core === undefined ? "" : `${core.role.kind}@${core.epoch} hw ${core.highWatermark}`} image ${image?.offset ?? "-"} live [${image?.liveBrokers().map((b) => b.brokerId).join(",") ?? ""}]`;
            })
            .join("; ");
          throw new InvariantViolation("liveness", `not served again within ${bound} ms after the faults stopped (marker ${marker}; ${roles})`);
        }
        await this.step();
      }
      this.stats.recoveryMs = this.now - healedMs;
      this.#trace(`served again after ${this.stats.recoveryMs} ms`);
    } catch (error) {
      this.#finish();
      const invariant = error instanceof InvariantViolation ? error.invariant : `exception (${error instanceof Error ? error.name : "unknown"})`;
      const message = error instanceof Error ? (error instanceof InvariantViolation ? error.message : (error.stack ?? error.message)) : String(error);
      return { ok: false, invariant, failure: `step ${this.stats.steps} at ${this.now} ms: ${message}`, stats: { ...this.stats }, recent: [...this.#recent] };
    }
    this.#finish();
    // A copy: operations still in flight fail when the client closes, after the run.
    return { ok: true, stats: { ...this.stats } };
  }

  // ---- scripted faults and views, for scenario tests ---------------------------------------

  /** Steps (checking after every one) until `ms` of simulated time have passed. */
  async runFor(ms: number): Promise<void> {
    const end = this.now + ms;
    while (this.now < end) await this.step();
  }

  /** Steps until `cond` holds; false when `msMax` passed first. */
  async runUntil(cond: () => boolean, msMax: number): Promise<boolean> {
    const end = this.now + msMax;
    while (!cond()) {
      if (this.now >= end) return false;
      await this.step();
    }
    return true;
  }

  /** Cuts node `id` off from every other host (the client's included), both ways, for `ms`. */
  isolateNode(id: number, ms: number): void {
    this.#isolate(this.#node(id).address, ms);
    this.#trace(`n${id} isolated for ${ms} ms (scripted)`);
  }

  crashNode(id: number, mode: "kill" | "power", downMs: number): void {
    this.#crash(this.#node(id), mode, downMs);
  }

  /** The running node that leads the quorum, if one does. */
  activeControllerId(): number | null {
    return this.#activeController()?.id ?? null;
  }

  /** Node `id`'s metadata image (null while it is down or before its quorum opened). */
  imageOf(id: number): MetadataImage | null {
    const n = this.#node(id);
    return n.proc?.state === "dead" ? null : (n.parts?.metadata.image ?? null);
  }

  /** CreateTopics of `name` through node `via`, once; steps until its answer. True when acknowledged. */
  async createTopicThrough(via: number, name: string, msMax = 15_000): Promise<boolean> {
    let outcome: boolean | null = null;
    void this.#createTopic(via, name, 1, 1, 0).then((ok) => {
      outcome = ok;
    });
    await this.runUntil(() => outcome !== null, msMax);
    return outcome === true;
  }

  /** Stops the random workload (scenario tests send their own). */
  stopWorkload(): void {
    this.#workloadOn = false;
  }

  /** The invariant a scenario run broke, if any (checked after every step; also thrown by step). */
  get failure(): string | null {
    return this.#failure?.message ?? null;
  }

  /** Ends the run: stops every node and the client. */
  end(): ClusterSimStats {
    this.#finish();
    return { ...this.stats };
  }

  #node(id: number): SimNode {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  #finish(): void {
    process.off("unhandledRejection", this.#onRejection);
    this.#faultsOn = false;
    this.#workloadOn = false;
    for (const n of this.nodes) {
      if (n.proc !== null && n.proc.state !== "dead") this.#countSnapshots(n);
      n.proc?.kill("kill");
    }
    this.client.close();
    this.stats.simulatedMs = this.now;
    this.stats.traceDigest = this.#digest.toString(16);
  }
}

function addressOf(id: number): string {
  return `10.0.0.${id}`;
}

/** Lets every pending promise callback run (a macrotask comes after the whole microtask queue). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sameBatch(a: BatchId, b: BatchId): boolean {
  return a.base === b.base && a.last === b.last && a.epoch === b.epoch && a.crc === b.crc && a.size === b.size;
}

function readBatchIds(log: PartitionRaftLog, from: number, to: number, who: string, chunkBytes = 64 * 1024): BatchId[] {
  const out: BatchId[] = [];
  let at = from;
  while (at < to) {
    const r = log.read(at, chunkBytes);
    if (r.kind !== "ok" || r.records.length === 0) throw new InvariantViolation("log readable", `${who} read at ${at}: ${r.kind === "ok" ? "nothing" : r.detail}`);
    let pos = 0;
    while (pos < r.records.length && at < to) {
      const b = RecordBatchView.at(r.records, pos);
      out.push({ base: b.baseOffset, last: b.lastOffset, epoch: b.partitionLeaderEpoch, crc: b.crc, size: b.sizeInBytes });
      at = b.lastOffset + 1;
      pos += b.sizeInBytes;
    }
  }
  return out;
}

/** Topic `name` exists (with `topicId` when given) with at least `partitions` partitions. */
function topicProblem(image: MetadataImage, name: string, topicId: string | null, partitions: number): string | null {
  const t = image.topic(name);
  if (t === undefined) return `topic ${name} missing at offset ${image.offset}`;
  if (topicId !== null && t.topicId !== topicId) return `topic ${name} has id ${t.topicId}, acknowledged ${topicId}`;
  if (t.partitions.length < partitions) return `topic ${name} has ${t.partitions.length} partitions, acknowledged ${partitions}`;
  return null;
}

export function replayCommand(o: Pick<ClusterSimOptions, "seed" | "steps" | "nodes" | "observers" | "timing" | "snapshots" | "diskFaults">): string {
  return `bun test/cluster-sim/main.ts --seed ${o.seed} --steps ${o.steps} --nodes ${o.nodes} --observers ${o.observers ?? 0} --timing ${o.timing ?? "kafka"} --snapshots ${o.snapshots ?? "kafka"}${o.diskFaults === true ? " --disk-faults" : ""} --trace`;
}

export function runClusterSimulation(options: ClusterSimOptions): Promise<ClusterSimResult> {
  return new ClusterSimulation(options).run();
}

/** The CI shape of seed `seed`: 3 or 5 voters, an observer every third seed, Kafka's or the fast timing, small snapshot settings in two seeds of five. */
export function mixedShape(seed: number): Pick<ClusterSimOptions, "nodes" | "observers" | "timing" | "snapshots"> {
  return { nodes: seed % 2 === 0 ? 3 : 5, observers: seed % 3 === 0 ? 1 : 0, timing: seed % 4 >= 2 ? "fast" : "kafka", snapshots: seed % 5 < 2 ? "small" : "kafka" };
}
