/**
 * ReplicaManager: the partitions this broker hosts (image partitions whose replicas include
 * this node) and the data path over them — leader appends with acks, fetch reads with
 * minBytes/maxWait, and the lookups ListOffsets / OffsetForLeaderEpoch / DeleteRecords use.
 *
 * Metadata drives it (`applyMetadata`, registered by `attach`): a partition that appears is
 * given a log (`LogManager.getOrCreateLog` with the topic id) and a `Partition` whose role
 * follows the image; a partition that disappears (topic deleted, replica moved away) has its
 * log deleted (logs found at start that the image does not place here are kept and reported,
 * never deleted); topic config changes reach the partitions' `TopicConfig` and their logs'
 * `LogConfig` at once (`LogManager.reconfigure`, also when a partition is created over a log
 * opened at startup with the broker defaults).
 *
 * Invariants: every hosted Partition has an open log or sits in `#offline`; a Partition's
 * topic id is the image's (a topic re-created under the same name replaces the old log);
 * appends are synchronous from validation to the log write (no await in between, so the
 * role checked is the role written under); waiters in the two purgatories are notified of a
 * partition's key whenever its HW, log start, role or existence changes.
 *
 * Produce-path validation here works on the wire batch: one v2 batch, CRC, lengths, dense
 * offsets, size against max.message.bytes, zstd only from Produce v7, no control batches
 * from clients, transactional batches refused (no transaction coordinator yet), idempotent
 * sequence checks; LogAppendTime topics get the batch's time patched in place before the
 * write. Records are inflated (Kafka's LogValidator does the same) only when the topic asks
 * for something the header cannot answer:
 * - cleanup.policy includes compact: a record without a key is INVALID_RECORD;
 * - message.timestamp.before/after.max.ms bound a CreateTime topic: a record timestamp out of
 *   [now - before, now + after] is INVALID_TIMESTAMP (each with a per-record error);
 * - compression.type is a codec and the batch is in another one: the batch is rewritten
 *   under the topic's codec (`recompressBatch`: same header fields, same records, new CRC).
 * A batch already in the topic's codec (or any batch under `producer`) is appended as it
 * came, without inflating. Compressed batches are inflated only given `compression`; without
 * codecs they are neither checked nor recompressed.
 *
 * The broker's own writers and readers (the group coordinator's `__consumer_offsets`) use
 * `appendInternal` (acks=all, internal topics allowed) and `readCommitted` (below the HW).
 *
 * Faults that every request on a partition hits again (a storage error, corrupt data) are
 * logged through `faultLog` when given, keyed by kind and partition: the first line at once,
 * then one count per interval (util/log-limiter.ts).
 */
import type { MetadataManager } from "../metadata/metadata-manager.ts";
import { MetadataImage, type PartitionImage } from "../metadata/image.ts";
import type { TopicConfig } from "../metadata/topic-config.ts";
import { INTERNAL_TOPICS, topicNameProblem } from "../metadata/topic-name.ts";
import type { Clock } from "../platform/clock.ts";
import { StorageError } from "../platform/fs.ts";
import { ErrorCode, errorName } from "../protocol/errors.ts";
import type { Compression } from "../platform/compression.ts";
import { recompressBatch } from "../protocol/records/builder.ts";
import { type CompressionCodecName, codecName } from "../protocol/records/compression.ts";
import type { DecodedRecord } from "../protocol/records/record.ts";
import { RecordBatchView, walkBatches } from "../protocol/records/record-batch.ts";
import { RecordsError } from "../protocol/records/records-error.ts";
import { readBytesMax } from "../storage/config.ts";
import type { TopicPartition } from "../storage/file-names.ts";
import type { LogManager } from "../storage/log-manager.ts";
import type { AppendResult } from "../storage/partition-log.ts";
import type { Logger, LogFields } from "../util/log.ts";
import type { LogLimiter } from "../util/log-limiter.ts";
import { type IsrChange, noLeaderEpoch, Partition, partitionKey } from "./partition.ts";
import { type ReplicaFetcherConfig, ReplicaFetcherManager } from "./replica-fetcher.ts";
import type { NodeClient } from "../client/node-client.ts";
import { ProducerIdManager } from "./producer-ids.ts";
import { lastSequenceOf } from "./producer-state.ts";
import { METADATA_TOPIC } from "../metadata/log-store.ts";
import { Purgatory } from "./purgatory.ts";
import { type BrokerConfigLookup, resolveTopicConfig } from "./topic-log-config.ts";

export { Partition, partitionKey } from "./partition.ts";
import { ReplicaProbe } from "./probe.ts";

export interface ReplicaManagerOptions {
  nodeId: number;
  logs: LogManager;
  clock: Clock;
  log: Logger;
  /** Broker values topic configs fall back to (BrokerSettings.brokerConfigValue). */
  brokerConfigValue: BrokerConfigLookup;
  /**
   * Codecs for inflating and recompressing produced batches (the record checks and
   * compression.type above); without them compressed batches are appended as they came.
   */
  compression?: Compression;
  /** Where lines of faults requests repeat are rate-limited (see the module doc); absent: not limited. */
  faultLog?: LogLimiter;
}

export type LeaderLookup = { kind: "ok"; partition: Partition } | { kind: "error"; errorCode: number; message: string };

export type IsolationLevel = "readUncommitted" | "readCommitted";

/** Compression id 4 in the batch attributes. */
const zstdCompressionId = 4;
const compressionMask = 0x07;
const controlBit = 0x20;
const transactionalBit = 0x10;

export interface ProduceOptions {
  /** 0, 1 or -1 (validated by the caller). */
  requiredAcks: number;
  /** Produce v7+ may carry zstd batches. */
  allowZstd: boolean;
  /** Only the broker's own writers may append to internal topics. */
  internalTopicsAllowed: boolean;
}

export type AppendOutcome =
  | {
      kind: "appended";
      partition: Partition;
      firstOffset: number;
      lastOffset: number;
      /** -1 unless the topic uses LogAppendTime. */
      logAppendTimeMs: number;
      logStartOffset: number;
      /** True when the batch was a retry already in the log (nothing appended). */
      duplicate: boolean;
    }
  | {
      kind: "error";
      errorCode: number;
      message: string;
      /** Per-record errors (Produce v8+ recordErrors): index of the record in the batch. */
      recordErrors?: { batchIndex: number; message: string }[];
    };

/** Largest records section inflated for the record checks and recompression. */
const inflatedBytesMax = readBytesMax;

/** The codec a topic's compression.type stores batches in; null for `producer` (as produced). */
function targetCodec(type: TopicConfig["compressionType"]): CompressionCodecName | null {
  switch (type) {
    case "producer":
      return null;
    case "uncompressed":
      return "none";
    case "gzip":
    case "snappy":
    case "lz4":
    case "zstd":
      return type;
    default: {
      const never: never = type;
      throw new Error(`unhandled compression.type ${String(never)}`);
    }
  }
}

/** The CreateTime window a topic allows, or null when it is unbounded (or LogAppendTime). */
function timestampWindow(config: TopicConfig, nowMs: number): { earliest: number; latest: number } | null {
  if (config.messageTimestampType !== "CreateTime") return null;
  const before = config.messageTimestampBeforeMaxMs;
  const after = config.messageTimestampAfterMaxMs;
  if (before >= Number.MAX_SAFE_INTEGER && after >= Number.MAX_SAFE_INTEGER) return null;
  return {
    earliest: before >= Number.MAX_SAFE_INTEGER ? Number.NEGATIVE_INFINITY : nowMs - before,
    latest: after >= Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : nowMs + after,
  };
}

/** Kafka's RecordBatch.NO_TIMESTAMP: records carrying it are not checked against the window. */
const noTimestamp = -1;

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  fetchOffset: number;
  /** -1: not given. */
  currentLeaderEpoch: number;
  /** -1: not given (Fetch < v12). */
  lastFetchedEpoch: number;
  partitionMaxBytes: number;
}

export interface FetchPartitionResult {
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  /** Whole batches as stored (a view of the read buffer); empty when none. */
  records: Uint8Array;
  /** Set when the fetcher's last fetched epoch diverges from this log (KIP-320/595). */
  divergingEpoch: { epoch: number; endOffset: number } | null;
  /** The leader as this node knows it (for currentLeader on leadership errors). */
  leaderId: number;
  leaderEpoch: number;
}

export interface FetchOptions {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolation: IsolationLevel;
  /** A follower's fetch (Fetch replicaId / ReplicaState): reads up to the log end, reports its progress. */
  replica?: { replicaId: number; brokerEpoch: number };
}

/**
 * Sends one ISR change of a led partition to the active controller (AlterPartition) and
 * resolves with its answer's error code once the controller committed it or refused it;
 * rejects (or resolves UNKNOWN_SERVER_ERROR) when it could not be sent.
 */
export type AlterPartitionSender = (request: {
  topicId: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: { brokerId: number; brokerEpoch: number }[];
}) => Promise<number>;

export interface ReplicationOptions {
  /** The fetchers' own client (closed with them). */
  client: NodeClient;
  /** The listener followers reach leaders on (inter.broker.listener.name). */
  listenerName: string;
  fetcher: ReplicaFetcherConfig;
  /** This broker's epoch, -1 before registration. */
  brokerEpoch: () => number;
  alterPartition: AlterPartitionSender;
  /** replica.lag.time.max.ms */
  replicaLagTimeMs: number;
}

export type AckOutcome = { errorCode: number };

const emptyRecords = new Uint8Array(0);

export class ReplicaManager {
  readonly #nodeId: number;
  readonly #logs: LogManager;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #faultLog: LogLimiter | null;
  readonly #brokerConfigValue: BrokerConfigLookup;
  readonly #compression: Compression | undefined;
  readonly #partitions = new Map<string, Partition>();
  /** Hosted partitions whose log could not be created or opened (no online log dir). */
  readonly #offline = new Set<string>();
  readonly #topicConfigs = new Map<string, TopicConfig>();
  #image: MetadataImage = MetadataImage.EMPTY;
  /** Fetches waiting for minBytes, keyed by partition key. */
  readonly fetchWaits: Purgatory<string>;
  /** acks=all produces waiting for the high watermark, keyed by partition key. */
  readonly produceWaits: Purgatory<string>;
  #producerIds: ProducerIdManager | null = null;
  #closed = false;
  #fetchers: ReplicaFetcherManager | null = null;
  #replication: ReplicationOptions | null = null;
  #isrTimer: (() => void) | null = null;
  /** ISR change counters for the metrics endpoint. */
  readonly probe = new ReplicaProbe();

  constructor(opts: ReplicaManagerOptions) {
    this.#nodeId = opts.nodeId;
    this.#logs = opts.logs;
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#faultLog = opts.faultLog ?? null;
    this.#brokerConfigValue = opts.brokerConfigValue;
    this.#compression = opts.compression;
    this.fetchWaits = new Purgatory(opts.clock);
    this.produceWaits = new Purgatory(opts.clock);
  }

  get nodeId(): number {
    return this.#nodeId;
  }

  /** The metadata image last applied. */
  get image(): MetadataImage {
    return this.#image;
  }

  /** Applies the manager's current image and follows its changes. Call once at start. */
  attach(metadata: MetadataManager): void {
    if (this.#producerIds !== null) throw new Error("ReplicaManager.attach called twice");
    this.#producerIds = new ProducerIdManager(metadata, this.#nodeId);
    this.applyMetadata(metadata.image, MetadataImage.EMPTY);
    this.#reportStrayLogs();
    metadata.onChange((next, previous) => this.applyMetadata(next, previous));
  }

  /** Producer ids for idempotent producers (InitProducerId). Needs `attach`. */
  producerIds(): ProducerIdManager {
    if (this.#producerIds === null) throw new Error("ReplicaManager.producerIds before attach");
    return this.#producerIds;
  }

  /** Hosted partitions (for tests and DescribeLogDirs). */
  partitions(): Partition[] {
    return [...this.#partitions.values()];
  }

  getPartition(topic: string, partition: number): Partition | undefined {
    return this.#partitions.get(partitionKey(topic, partition));
  }

  topicConfig(topic: string): TopicConfig {
    let tc = this.#topicConfigs.get(topic);
    if (tc === undefined) {
      tc = resolveTopicConfig(this.#image, topic, this.#brokerConfigValue);
      this.#topicConfigs.set(topic, tc);
    }
    return tc;
  }

  /**
   * Starts replication: followers fetch from their leaders, leaders track their followers
   * and propose ISR changes (expansion on a follower's fetch, shrink checked every half
   * replica.lag.time.max.ms, as Kafka's isr-expiration task). Without it (a single node)
   * followers do nothing and a multi-replica ISR holds the HW.
   */
  startReplication(o: ReplicationOptions): void {
    if (this.#replication !== null) throw new Error("ReplicaManager.startReplication called twice");
    this.#replication = o;
    this.#fetchers = new ReplicaFetcherManager({
      nodeId: this.#nodeId,
      client: o.client,
      clock: this.#clock,
      log: this.#log.child({ component: "fetcher" }),
      config: o.fetcher,
      listenerName: o.listenerName,
      brokerEpoch: o.brokerEpoch,
      onProgress: (p) => this.#notify(p.key),
    });
    this.#fetchers.updateEndpoints(this.#image);
    this.#fetchers.update(this.#partitions.values());
    const interval = Math.max(1, Math.floor(o.replicaLagTimeMs / 2));
    const tick = (): void => {
      this.#isrTimer = this.#clock.schedule(interval, tick);
      this.#maybeShrinkIsrs();
    };
    this.#isrTimer = this.#clock.schedule(interval, tick);
  }

  /** The replica fetchers (tests). */
  get fetcherManager(): ReplicaFetcherManager | null {
    return this.#fetchers;
  }

  #maybeShrinkIsrs(): void {
    const o = this.#replication;
    if (o === null || this.#closed) return;
    const now = this.#clock.monotonicMs();
    for (const p of this.#partitions.values()) {
      const change = p.isrShrink(now, o.replicaLagTimeMs);
      if (change !== null) this.#proposeIsr(p, change, "shrink");
    }
  }

  #maybeExpandIsr(p: Partition): void {
    if (this.#replication === null) return;
    const change = p.isrExpansion();
    if (change !== null) this.#proposeIsr(p, change, "expand");
  }

  /** Sends an ISR change; the ISR changes only when the committed record reaches the image. */
  #proposeIsr(p: Partition, change: IsrChange, kind: "shrink" | "expand"): void {
    const o = this.#replication;
    if (o === null) return;
    p.beginIsrChange(change);
    const before = p.state.kind === "leader" ? p.state.isr : [];
    this.#log.info(kind === "shrink" ? "shrinking ISR" : "expanding ISR", { partition: p.key, from: `[${before.join(",")}]`, to: `[${change.isr.join(",")}]`, leaderEpoch: change.leaderEpoch, partitionEpoch: change.partitionEpoch });
    const newIsr = change.isr.map((id) => ({ brokerId: id, brokerEpoch: id === this.#nodeId ? o.brokerEpoch() : p.followerBrokerEpoch(id) }));
    const done = (errorCode: number): void => {
      const accepted = errorCode === ErrorCode.NONE;
      if (!accepted) this.#log.info("ISR change refused", { partition: p.key, error: errorName(errorCode) });
      p.endIsrChange(change, accepted);
    };
    o.alterPartition({ topicId: p.topicId, partition: p.partition, leaderEpoch: change.leaderEpoch, partitionEpoch: change.partitionEpoch, newIsr }).then(done, (error: unknown) => {
      this.#log.debug("ISR change not sent", { partition: p.key, error: error instanceof Error ? error.message : String(error) });
      done(ErrorCode.UNKNOWN_SERVER_ERROR);
    });
  }

  // ---- metadata -----------------------------------------------------------------------------

  /** Brings hosted partitions in line with `next`. Synchronous; never throws for storage errors. */
  applyMetadata(next: MetadataImage, previous: MetadataImage): void {
    if (this.#closed) return;
    if (next.offset < this.#image.offset) throw new Error(`replica manager: image offset ${next.offset} is older than ${this.#image.offset}`);
    this.#image = next;
    const configsChanged = next.configs !== previous.configs;
    if (configsChanged) this.#topicConfigs.clear();
    const touched = new Set<string>();
    const wanted = new Set<string>();

    for (const topic of next.topicsByName.values()) {
      const before = previous.topicsById.get(topic.topicId);
      for (const image of topic.partitions) {
        if (!image.replicas.includes(this.#nodeId)) continue;
        const key = partitionKey(topic.name, image.partition);
        wanted.add(key);
        const existing = this.#partitions.get(key);
        if (existing !== undefined && existing.topicId !== topic.topicId) {
          // Same name, new topic: the old one was deleted in this change.
          this.#removePartition(existing, true);
        }
        const current = this.#partitions.get(key);
        if (current === undefined) {
          if (this.#createPartition(topic.name, image)) touched.add(key);
          continue;
        }
        const stateBefore = current.state;
        if (before?.partitions[image.partition] !== image && current.applyImage(image, this.#clock.monotonicMs())) {
          this.#log.info("partition role changed", { partition: key, role: current.state.kind, leaderEpoch: current.leaderEpoch });
        }
        this.probe.noteState(stateBefore, current.state);
        if (before?.partitions[image.partition] !== image) touched.add(key);
        if (configsChanged) {
          current.config = this.topicConfig(topic.name);
          this.#logs.reconfigure({ topic: topic.name, partition: image.partition });
        }
      }
    }
    for (const [key, p] of this.#partitions) {
      if (wanted.has(key)) continue;
      this.#removePartition(p, true);
      touched.add(key);
    }
    for (const key of this.#offline) if (!wanted.has(key)) this.#offline.delete(key);
    for (const key of touched) this.#notify(key);
    if (next.brokers !== previous.brokers) this.#fetchers?.updateEndpoints(next);
    this.#fetchers?.update(this.#partitions.values());
  }

  #createPartition(topic: string, image: PartitionImage): boolean {
    const key = partitionKey(topic, image.partition);
    const tp: TopicPartition = { topic, partition: image.partition };
    try {
      const onDisk = this.#logs.topicId(tp);
      if (onDisk !== null && onDisk !== image.topicId) {
        this.#log.warn("deleting the log of a deleted topic with the same name", { partition: key, staleTopicId: onDisk, topicId: image.topicId });
        this.#logs.deleteLog(tp);
      }
      const log = this.#logs.getOrCreateLog(tp, image.topicId);
      if (log === null) {
        this.#offline.add(key);
        this.#log.error("no online log dir for partition", { partition: key });
        return false;
      }
      // A log opened at startup, before the metadata was replayed, has the broker defaults:
      // give it the topic's config (cleanup.policy, retention, segment sizes) now.
      this.#logs.reconfigure(tp);
      const p = new Partition(this.#nodeId, image, topic, log, this.topicConfig(topic), this.#clock.monotonicMs());
      this.#partitions.set(key, p);
      this.#offline.delete(key);
      return true;
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.#offline.add(key);
      this.#log.error("cannot create partition log", { partition: key, error: e });
      return false;
    }
  }

  #removePartition(p: Partition, deleteLog: boolean): void {
    this.#partitions.delete(p.key);
    if (!deleteLog) return;
    try {
      this.#logs.deleteLog({ topic: p.topic, partition: p.partition });
      this.#log.info("deleted partition log", { partition: p.key, topicId: p.topicId });
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.#log.error("cannot delete partition log", { partition: p.key, error: e });
    }
  }

  /**
   * Logs on disk for partitions the image does not place here (a topic deleted while we were
   * down, or metadata that lost records). Like Kafka's stray logs they are kept, not
   * deleted: a wrong or truncated metadata log must not cost data. They are not served; an
   * operator removes them, and re-creating a topic of that name replaces them.
   * One exception: the image holds the same topic (same id) with that partition, on other
   * brokers — it was reassigned away while this broker was down, and is deleted as it would
   * have been had the broker been up.
   */
  #reportStrayLogs(): void {
    for (const log of this.#logs.allLogs()) {
      const tp = log.topicPartition;
      const key = partitionKey(tp.topic, tp.partition);
      // The metadata log is the broker's own, not a partition of the image.
      if (this.#partitions.has(key) || tp.topic === METADATA_TOPIC) continue;
      const placed = this.#image.partition(tp.topic, tp.partition);
      const onDisk = this.#logs.topicId(tp);
      if (placed !== undefined && onDisk === placed.topicId && !placed.replicas.includes(this.#nodeId)) {
        try {
          this.#logs.deleteLog(tp);
          this.#log.info("deleted the log of a partition reassigned away while this broker was down", { partition: key, topicId: onDisk, replicas: placed.replicas.join(",") });
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          this.#log.error("cannot delete partition log", { partition: key, error: e });
        }
        continue;
      }
      this.#log.warn("stray partition log: not in the metadata for this broker, kept and not served", {
        partition: key,
        topicId: this.#logs.topicId(tp) ?? "none",
        dir: log.dir,
      });
    }
  }

  #notify(key: string): void {
    this.fetchWaits.notify(key);
    this.produceWaits.notify(key);
  }

  // ---- lookups ------------------------------------------------------------------------------

  /**
   * The partition when this node leads it at an epoch compatible with `currentLeaderEpoch`
   * (-1: unchecked), else the error Kafka answers: UNKNOWN_TOPIC_OR_PARTITION (not in the
   * metadata), NOT_LEADER_OR_FOLLOWER (elsewhere, or follower here), FENCED_LEADER_EPOCH /
   * UNKNOWN_LEADER_EPOCH, KAFKA_STORAGE_ERROR (log offline).
   */
  lookupLeader(topic: string, partition: number, currentLeaderEpoch: number = noLeaderEpoch): LeaderLookup {
    const key = partitionKey(topic, partition);
    const image = this.#image.partition(topic, partition);
    if (image === undefined) return { kind: "error", errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `unknown partition ${key}` };
    const p = this.#partitions.get(key);
    if (p === undefined) {
      if (this.#offline.has(key)) return { kind: "error", errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: `partition ${key} is offline` };
      return { kind: "error", errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: `partition ${key} is not hosted by broker ${this.#nodeId}` };
    }
    const code = p.checkLeader(currentLeaderEpoch);
    if (code !== null) return { kind: "error", errorCode: code, message: `partition ${key}: leader epoch ${p.leaderEpoch}, ${p.state.kind} here` };
    return { kind: "ok", partition: p };
  }

  // ---- produce ------------------------------------------------------------------------------

  /**
   * Validates and appends one partition's records as leader. Synchronous. Checks, in Kafka's
   * order: topic name, internal topic, leadership, batch shape, min.insync.replicas (acks=-1),
   * producer sequence, then the write.
   */
  appendRecords(topic: string, partition: number, records: Uint8Array | null, opts: ProduceOptions): AppendOutcome {
    const fail = (errorCode: number, message: string): AppendOutcome => ({ kind: "error", errorCode, message });
    const nameProblem = topicNameProblem(topic);
    if (nameProblem !== null) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (INTERNAL_TOPICS.has(topic) && !opts.internalTopicsAllowed) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `cannot append to internal topic ${topic}`);
    const lookup = this.lookupLeader(topic, partition);
    if (lookup.kind === "error") return fail(lookup.errorCode, lookup.message);
    const p = lookup.partition;
    const config = p.config;

    if (records === null || records.length === 0) return fail(ErrorCode.INVALID_RECORD, "produce requests must carry exactly one record batch");
    const walk = walkBatches(records, { verifyCrc: true, requireDenseOffsets: true, maxBatchBytes: Math.max(records.length, 61) });
    if (walk.problem !== null) {
      switch (walk.problem) {
        case "legacyMagic":
          return fail(ErrorCode.INVALID_RECORD, "record batches of magic 0 and 1 are not supported; produce magic 2");
        case "badRecordCount":
          return fail(ErrorCode.INVALID_RECORD, `batch ${walk.batches.length}: record count does not match lastOffsetDelta + 1`);
        default:
          return fail(ErrorCode.CORRUPT_MESSAGE, `${walk.problem} record batch at byte ${walk.validBytes} of ${records.length}`);
      }
    }
    if (walk.batches.length !== 1) return fail(ErrorCode.INVALID_RECORD, `produce v3+ must carry exactly one record batch, got ${walk.batches.length}`);
    const batch = walk.batches[0]!;
    if (batch.sizeInBytes > config.maxMessageBytes) {
      return fail(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${batch.sizeInBytes} bytes exceeds max.message.bytes ${config.maxMessageBytes}`);
    }
    const attributes = walk.scan.attributes[0]!;
    const compression = attributes & compressionMask;
    if (compression > zstdCompressionId) return fail(ErrorCode.CORRUPT_MESSAGE, `unknown compression codec id ${compression}`);
    if (compression === zstdCompressionId && !opts.allowZstd) {
      return fail(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, "zstd-compressed batches need Produce v7 or later");
    }
    if ((attributes & controlBit) !== 0) return fail(ErrorCode.INVALID_RECORD, "clients may not append control batches");
    if ((attributes & transactionalBit) !== 0) {
      return fail(ErrorCode.INVALID_TXN_STATE, "transactional produce is not supported by this broker yet");
    }
    const codec = codecName(compression);
    const target = targetCodec(config.compressionType);
    // Control batches never reach here from clients; the broker's own stay as written (Kafka's rule).
    const recompress = target !== null && target !== codec && (attributes & controlBit) === 0;
    const window = timestampWindow(config, this.#clock.nowMs());
    let inflated: Uint8Array | null = null;
    if (config.cleanupPolicy.compact || window !== null || recompress) {
      const inspected = this.#inspectRecords(batch, config.cleanupPolicy.compact, window);
      if (inspected.kind === "error") return inspected;
      inflated = inspected.section;
    }
    if (opts.requiredAcks === -1 && p.isrSize < config.minInsyncReplicas) {
      return fail(ErrorCode.NOT_ENOUGH_REPLICAS, `ISR has ${p.isrSize} replicas, min.insync.replicas is ${config.minInsyncReplicas}`);
    }

    let producerId: number;
    let producerEpoch: number;
    let baseSequence: number;
    try {
      producerId = batch.producerId;
      producerEpoch = batch.producerEpoch;
      baseSequence = batch.baseSequence;
    } catch {
      return fail(ErrorCode.INVALID_RECORD, "producer id is not a valid int64");
    }
    const lastSeq = producerId >= 0 ? lastSequenceOf(baseSequence, batch.lastOffsetDelta) : -1;
    if (producerId >= 0) {
      if (baseSequence < 0) return fail(ErrorCode.INVALID_RECORD, `idempotent batch of producer ${producerId} has no sequence`);
      const check = p.producers.check(producerId, producerEpoch, baseSequence, lastSeq);
      if (check.kind === "error") return fail(check.errorCode, check.message);
      if (check.kind === "duplicate") {
        return {
          kind: "appended",
          partition: p,
          firstOffset: check.firstOffset,
          lastOffset: check.lastOffset,
          logAppendTimeMs: -1,
          logStartOffset: p.log.logStartOffset,
          duplicate: true,
        };
      }
    }

    let stored = batch;
    if (recompress && inflated !== null && (target === "none" || this.#compression !== undefined)) {
      const level = target === "gzip" ? config.compressionGzipLevel : target === "zstd" ? config.compressionZstdLevel : undefined;
      const bytes = recompressBatch(batch, inflated, target, this.#compression, level === undefined || level === -1 ? {} : { level });
      stored = RecordBatchView.at(bytes);
      if (stored.recordCount !== batch.recordCount || stored.lastOffsetDelta !== batch.lastOffsetDelta) {
        throw new Error(`recompression changed the batch: ${batch.recordCount} → ${stored.recordCount} records`);
      }
      // As Kafka re-checks a rebuilt batch: recompression may have made it larger.
      if (stored.sizeInBytes > config.maxMessageBytes) {
        return fail(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${stored.sizeInBytes} bytes as ${target} exceeds max.message.bytes ${config.maxMessageBytes}`);
      }
    }

    let logAppendTimeMs = -1;
    if (config.messageTimestampType === "LogAppendTime") {
      logAppendTimeMs = this.#clock.nowMs();
      stored.setLogAppendTime(logAppendTimeMs);
    }

    let result: AppendResult;
    try {
      result = p.log.append(stored.bytes, p.leaderEpoch, { crcVerified: true });
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      return fail(ErrorCode.KAFKA_STORAGE_ERROR, e.message);
    }
    switch (result.kind) {
      case "ok":
        break;
      case "messageTooLarge":
        return fail(ErrorCode.MESSAGE_TOO_LARGE, result.detail);
      case "recordListTooLarge":
        return fail(ErrorCode.RECORD_LIST_TOO_LARGE, result.detail);
      case "corruptMessage":
        return fail(ErrorCode.CORRUPT_MESSAGE, result.detail);
      case "invalidOffsets":
        return fail(ErrorCode.INVALID_RECORD, result.detail);
      case "storageError":
        this.#logFault("append failed", p.key, { partition: p.key, error: result.error });
        return fail(ErrorCode.KAFKA_STORAGE_ERROR, result.error.message);
      case "logDirOffline":
        return fail(ErrorCode.KAFKA_STORAGE_ERROR, `the log dir of ${p.key} is offline`);
      case "logDirFull":
        // Retriable and not persisted in every client (KAFKA_STORAGE_ERROR would say the dir
        // failed, and Kafka moves leadership away for that); the message names the dir and
        // its usage. Writes resume on their own once space is freed. Not logged per request:
        // the disk monitor logs the crossing.
        return fail(ErrorCode.NOT_ENOUGH_REPLICAS, result.detail);
      default: {
        const never: never = result;
        throw new Error(`unhandled append result ${JSON.stringify(never)}`);
      }
    }
    if (producerId >= 0) {
      p.producers.update(producerId, producerEpoch, { firstSeq: baseSequence, lastSeq, firstOffset: result.firstOffset, lastOffset: result.lastOffset });
    }
    p.maybeIncrementHighWatermark();
    // Notified even when the HW stays (multi-replica ISR): waiters may care about LEO later.
    this.#notify(p.key);
    return {
      kind: "appended",
      partition: p,
      firstOffset: result.firstOffset,
      lastOffset: result.lastOffset,
      logAppendTimeMs,
      logStartOffset: result.logStartOffset,
      duplicate: false,
    };
  }

  /**
   * Inflates the batch's records and checks what the topic asks (Kafka's LogValidator):
   * with `requireKeys` (compacted topic) every record has a key (INVALID_RECORD), within
   * `window` every CreateTime timestamp but NO_TIMESTAMP lies in it (INVALID_TIMESTAMP); one
   * record error per bad record, the partition's code being the first's. CORRUPT_MESSAGE when
   * the records do not decode. Returns the decompressed section, or null when the batch is
   * compressed and no codecs were given (nothing checked).
   */
  #inspectRecords(
    batch: RecordBatchView,
    requireKeys: boolean,
    window: { earliest: number; latest: number } | null,
  ): { kind: "ok"; section: Uint8Array | null } | Extract<AppendOutcome, { kind: "error" }> {
    const codecs = this.#compression;
    if (batch.compressionId !== 0 && codecs === undefined) return { kind: "ok", section: null };
    let inflated: { section: Uint8Array; records: DecodedRecord[] };
    try {
      inflated = batch.inflate(codecs === undefined ? { maxBytes: inflatedBytesMax } : { maxBytes: inflatedBytesMax, compression: codecs });
    } catch (e) {
      if (!(e instanceof RecordsError)) throw e;
      return { kind: "error", errorCode: ErrorCode.CORRUPT_MESSAGE, message: `records do not decode: ${e.message}` };
    }
    const recordErrors: { batchIndex: number; message: string }[] = [];
    let firstCode: number = ErrorCode.NONE;
    let keyless = 0;
    let outOfWindow = 0;
    inflated.records.forEach((r, i) => {
      let code: number = ErrorCode.NONE;
      if (requireKeys && r.key === null) {
        keyless++;
        code = ErrorCode.INVALID_RECORD;
        recordErrors.push({ batchIndex: i, message: "Compacted topic cannot accept message without key." });
      } else if (window !== null && r.timestamp !== noTimestamp && (r.timestamp < window.earliest || r.timestamp > window.latest)) {
        outOfWindow++;
        code = ErrorCode.INVALID_TIMESTAMP;
        recordErrors.push({ batchIndex: i, message: `timestamp ${r.timestamp} is outside [${window.earliest}, ${window.latest}]` });
      }
      if (firstCode === ErrorCode.NONE) firstCode = code;
    });
    if (recordErrors.length === 0) return { kind: "ok", section: inflated.section };
    const count = inflated.records.length;
    const problems = [
      ...(keyless > 0 ? [`compacted topic: ${keyless} of ${count} records have no key`] : []),
      ...(outOfWindow > 0 ? [`${outOfWindow} of ${count} records have a timestamp out of the topic's range`] : []),
    ];
    return { kind: "error", errorCode: firstCode, message: problems.join("; "), recordErrors };
  }

  /**
   * acks=all: waits until each partition's HW passes its `lastOffset` or `timeoutMs` passes.
   * Per entry: NONE, NOT_LEADER_OR_FOLLOWER (leadership lost), NOT_ENOUGH_REPLICAS_AFTER_APPEND
   * (ISR shrank below min.insync.replicas) or REQUEST_TIMED_OUT.
   */
  async awaitReplication(entries: readonly { partition: Partition; lastOffset: number }[], timeoutMs: number): Promise<AckOutcome[]> {
    const outcome = (e: { partition: Partition; lastOffset: number }): AckOutcome | null => {
      const p = e.partition;
      if (this.#partitions.get(p.key) !== p || !p.isLeader || !p.online) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
      if (p.log.highWatermark <= e.lastOffset) return null;
      // Replicated by the ISR, but the ISR is smaller than required: the write is not as safe as asked.
      if (p.isrSize < p.config.minInsyncReplicas) return { errorCode: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND };
      return { errorCode: ErrorCode.NONE };
    };
    await this.produceWaits.wait(
      entries.map((e) => e.partition.key),
      timeoutMs,
      () => entries.every((e) => outcome(e) !== null),
    );
    return entries.map((e) => outcome(e) ?? { errorCode: ErrorCode.REQUEST_TIMED_OUT });
  }

  /**
   * The broker's own writers (group coordinator, later transaction markers): appends one
   * batch to a led partition, internal topics allowed, and waits for acks=all. Resolves
   * with NONE and the batch's base offset, or the error a producer would get.
   */
  async appendInternal(topic: string, partition: number, batch: Uint8Array, timeoutMs: number): Promise<{ errorCode: number; baseOffset: number }> {
    const outcome = this.appendRecords(topic, partition, batch, { requiredAcks: -1, allowZstd: true, internalTopicsAllowed: true });
    if (outcome.kind === "error") return { errorCode: outcome.errorCode, baseOffset: -1 };
    const [acked] = await this.awaitReplication([{ partition: outcome.partition, lastOffset: outcome.lastOffset }], timeoutMs);
    if (acked === undefined) throw new Error("awaitReplication returned no outcome");
    return acked.errorCode === ErrorCode.NONE ? { errorCode: ErrorCode.NONE, baseOffset: outcome.firstOffset } : { errorCode: acked.errorCode, baseOffset: -1 };
  }

  /**
   * For the broker's own readers of a partition it just came to lead (coordinator loading):
   * waits until the high watermark reaches the start offset of this leader's epoch, so that
   * everything an earlier leader had acknowledged is below it. A follower's HW trails the old
   * leader's (it learns it one fetch later), so a new leader's HW may sit below records acks=all
   * already confirmed until its ISR fetches once: reading to the HW before that would miss them.
   * Resolves NONE, the lookup's error (leadership lost, or moved to another epoch than
   * `leaderEpoch` when given), or REQUEST_TIMED_OUT after `timeoutMs`.
   */
  async awaitLeaderCommitted(topic: string, partition: number, leaderEpoch: number, timeoutMs: number): Promise<number> {
    if (!(Number.isInteger(leaderEpoch) && leaderEpoch >= noLeaderEpoch)) throw new Error(`awaitLeaderCommitted ${topic}-${partition}: leader epoch ${leaderEpoch}`);
    if (!(timeoutMs > 0)) throw new Error(`awaitLeaderCommitted ${topic}-${partition}: timeout ${timeoutMs} ms`);
    const check = (): number | null => {
      const lookup = this.lookupLeader(topic, partition, leaderEpoch);
      if (lookup.kind === "error") return lookup.errorCode;
      const p = lookup.partition;
      return p.log.highWatermark >= p.leaderEpochStartOffset ? ErrorCode.NONE : null;
    };
    await this.produceWaits.wait([partitionKey(topic, partition)], timeoutMs, () => check() !== null);
    return check() ?? ErrorCode.REQUEST_TIMED_OUT;
  }

  /**
   * Whole batches of a led partition from `fromOffset` up to the high watermark, at most
   * `maxBytes` (at least one batch), while this node leads it (at `leaderEpoch` when given).
   * For the broker's own readers (coordinator loading).
   */
  readCommitted(
    topic: string,
    partition: number,
    fromOffset: number,
    maxBytes: number,
    leaderEpoch: number = noLeaderEpoch,
  ): { errorCode: number; records: Uint8Array; nextOffset: number; highWatermark: number } {
    const lookup = this.lookupLeader(topic, partition, leaderEpoch);
    if (lookup.kind === "error") return { errorCode: lookup.errorCode, records: emptyRecords, nextOffset: fromOffset, highWatermark: -1 };
    const log = lookup.partition.log;
    const r = log.read(Math.max(fromOffset, log.logStartOffset), Math.min(maxBytes, readBytesMax), log.highWatermark, true);
    switch (r.kind) {
      case "ok":
        return { errorCode: ErrorCode.NONE, records: r.records, nextOffset: r.lastOffset >= 0 ? r.lastOffset + 1 : fromOffset, highWatermark: r.highWatermark };
      case "offsetOutOfRange":
        return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: emptyRecords, nextOffset: fromOffset, highWatermark: log.highWatermark };
      case "corrupt":
        return { errorCode: ErrorCode.CORRUPT_MESSAGE, records: emptyRecords, nextOffset: fromOffset, highWatermark: log.highWatermark };
      case "storageError":
        return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, records: emptyRecords, nextOffset: fromOffset, highWatermark: log.highWatermark };
      default: {
        const never: never = r;
        throw new Error(`unhandled read result ${JSON.stringify(never)}`);
      }
    }
  }

  // ---- fetch --------------------------------------------------------------------------------

  /**
   * Reads the partitions in order within `maxBytes` (each within its partitionMaxBytes; the
   * first partition with data returns at least one whole batch even when it is larger —
   * Kafka's minOneMessage), then, unless minBytes is met, an error occurred or maxWaitMs is
   * 0, waits in the fetch purgatory for appends and reads again.
   */
  async fetch(requests: readonly FetchPartitionRequest[], opts: FetchOptions): Promise<FetchPartitionResult[]> {
    if (opts.replica !== undefined) this.#updateFollowers(requests, opts.replica.replicaId, opts.replica.brokerEpoch);
    let results = this.#readAll(requests, opts);
    const enough = (rs: readonly FetchPartitionResult[]): boolean => {
      let bytes = 0;
      for (const r of rs) {
        if (r.errorCode !== ErrorCode.NONE || r.divergingEpoch !== null) return true;
        bytes += r.records.length;
      }
      return bytes >= opts.minBytes;
    };
    if (opts.maxWaitMs <= 0 || requests.length === 0 || enough(results)) return results;
    const replica = opts.replica !== undefined;
    let seen = this.#signature(requests, replica);
    const outcome = await this.fetchWaits.wait(
      requests.map((r) => partitionKey(r.topic, r.partition)),
      opts.maxWaitMs,
      () => {
        const now = this.#signature(requests, replica);
        if (now === seen) return false;
        seen = now;
        results = this.#readAll(requests, opts);
        return enough(results);
      },
    );
    if (outcome === "expired") results = this.#readAll(requests, opts);
    return results;
  }

  /**
   * A follower fetched from `fetchOffset` (its log end offset): the leader's view of it moves,
   * the HW may advance (acks=all waiters are woken), the follower may rejoin the ISR. Only for
   * a replica of a partition led here at the epoch the follower names, whose fetch neither
   * diverges nor lies beyond our log end (those tell nothing of what it holds).
   */
  #updateFollowers(requests: readonly FetchPartitionRequest[], replicaId: number, brokerEpoch: number): void {
    const now = this.#clock.monotonicMs();
    for (const r of requests) {
      const p = this.#partitions.get(partitionKey(r.topic, r.partition));
      if (p === undefined || !p.isLeader || !p.online) continue;
      if (r.currentLeaderEpoch !== noLeaderEpoch && r.currentLeaderEpoch !== p.leaderEpoch) continue;
      if (r.fetchOffset > p.log.logEndOffset || r.fetchOffset < 0) continue;
      if (r.lastFetchedEpoch >= 0) {
        const end = p.log.endOffsetForLeaderEpoch(r.lastFetchedEpoch);
        if (end.leaderEpoch < r.lastFetchedEpoch || end.endOffset < r.fetchOffset) continue;
      }
      if (p.updateFollowerFetchState(replicaId, brokerEpoch, r.fetchOffset, now)) this.#notify(p.key);
      this.#maybeExpandIsr(p);
    }
  }

  /** What a waiting fetch's answer depends on: each partition's HW, log start and role (and log end, for a follower). */
  #signature(requests: readonly FetchPartitionRequest[], replica: boolean): string {
    let s = `${this.#image.offset}`;
    for (const r of requests) {
      const p = this.#partitions.get(partitionKey(r.topic, r.partition));
      s += p === undefined || !p.online ? "|x" : `|${p.log.highWatermark},${p.log.logStartOffset},${p.leaderEpoch},${p.state.kind}${replica ? `,${p.log.logEndOffset}` : ""}`;
    }
    return s;
  }

  #readAll(requests: readonly FetchPartitionRequest[], opts: FetchOptions): FetchPartitionResult[] {
    let budget = Math.max(0, opts.maxBytes);
    let minOneMessage = true;
    return requests.map((r) => {
      const result = this.#readOne(r, Math.max(0, Math.min(r.partitionMaxBytes, budget, readBytesMax)), minOneMessage, opts.isolation, opts.replica?.replicaId ?? -1);
      if (result.records.length > 0) {
        minOneMessage = false;
        budget = Math.max(0, budget - result.records.length);
      }
      return result;
    });
  }

  /** One partition's read; `replicaId` >= 0: a follower's, up to the log end instead of the HW. */
  #readOne(r: FetchPartitionRequest, maxBytes: number, minOneMessage: boolean, isolation: IsolationLevel, replicaId: number): FetchPartitionResult {
    const lookup = this.lookupLeader(r.topic, r.partition, r.currentLeaderEpoch);
    // The leader as known here: the hosted partition's, else the image's (a partition led elsewhere).
    const hosted = this.#partitions.get(partitionKey(r.topic, r.partition));
    const inImage = hosted === undefined ? this.#image.partition(r.topic, r.partition) : undefined;
    const base: FetchPartitionResult = {
      errorCode: ErrorCode.NONE,
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: -1,
      records: emptyRecords,
      divergingEpoch: null,
      leaderId: hosted?.leaderId ?? inImage?.leader ?? -1,
      leaderEpoch: hosted?.leaderEpoch ?? inImage?.leaderEpoch ?? -1,
    };
    if (lookup.kind === "error") return { ...base, errorCode: lookup.errorCode };
    const p = lookup.partition;
    const log = p.log;
    const offsets = { highWatermark: log.highWatermark, lastStableOffset: log.highWatermark, logStartOffset: log.logStartOffset };
    if (r.lastFetchedEpoch >= 0) {
      const end = log.endOffsetForLeaderEpoch(r.lastFetchedEpoch);
      if (end.leaderEpoch < r.lastFetchedEpoch || end.endOffset < r.fetchOffset) {
        return { ...base, ...offsets, divergingEpoch: { epoch: end.leaderEpoch, endOffset: end.endOffset } };
      }
    }
    if (replicaId >= 0 && !(p.state.kind === "leader" && p.state.replicas.includes(replicaId))) {
      return { ...base, ...offsets, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    }
    // No transactions yet: the last stable offset is the high watermark. Followers copy everything.
    const upperBound = replicaId >= 0 ? log.logEndOffset : isolation === "readCommitted" ? offsets.lastStableOffset : offsets.highWatermark;
    const read = log.read(r.fetchOffset, maxBytes, upperBound, minOneMessage);
    switch (read.kind) {
      case "ok":
        return { ...base, ...offsets, records: read.records };
      case "offsetOutOfRange":
        return { ...base, ...offsets, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
      case "corrupt":
        this.#logFault("corrupt data in log", p.key, { partition: p.key, detail: read.detail });
        return { ...base, ...offsets, errorCode: ErrorCode.CORRUPT_MESSAGE };
      case "storageError":
        this.#logFault("fetch read failed", p.key, { partition: p.key, error: read.error });
        return { ...base, errorCode: ErrorCode.KAFKA_STORAGE_ERROR };
      default: {
        const never: never = read;
        throw new Error(`unhandled read result ${JSON.stringify(never)}`);
      }
    }
  }

  // ---- offsets and deletion -----------------------------------------------------------------

  /**
   * DeleteRecords on a led partition: `offset` -1 means the high watermark. Returns the new
   * log start (low watermark) or the error code.
   */
  deleteRecords(p: Partition, offset: number): { errorCode: number; lowWatermark: number } {
    if (!p.config.cleanupPolicy.delete) {
      return { errorCode: ErrorCode.POLICY_VIOLATION, lowWatermark: -1 };
    }
    const target = offset === -1 ? p.log.highWatermark : offset;
    try {
      const r = p.log.deleteRecordsBefore(target);
      if (r.kind === "offsetOutOfRange") return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 };
      this.#notify(p.key);
      return { errorCode: ErrorCode.NONE, lowWatermark: r.logStartOffset };
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.#logFault("delete records failed", p.key, { partition: p.key, error: e });
      return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, lowWatermark: -1 };
    }
  }

  /** An error line a request on `partition` caused, and the next request there will cause again. */
  #logFault(msg: string, partition: string, fields: LogFields): void {
    if (this.#faultLog === null) this.#log.error(msg, fields);
    else this.#faultLog.log(this.#log, "error", `${msg} ${partition}`, msg, fields);
  }

  /** Stops: every waiting fetch and produce completes now (with what it has). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#isrTimer?.();
    this.#isrTimer = null;
    this.#fetchers?.close();
    this.fetchWaits.expireAll();
    this.produceWaits.expireAll();
  }
}
