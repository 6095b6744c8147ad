/**
 * Replica fetchers: how a follower copies its leader's log (Kafka's ReplicaFetcherManager and
 * AbstractFetcherThread, as one loop per fetcher on the event loop).
 *
 * The manager keeps `num.replica.fetchers` fetchers per source broker at most; a followed
 * partition goes to fetcher `hash(topic, partition) % n` of its leader. Each fetcher sends one
 * Fetch at a time to its leader (NodeClient, the inter-broker listener), at the highest
 * version both serve (v15+ with ReplicaState: this node's id and broker epoch; the replica id
 * field below), for every assigned partition not backing off: fetch offset = the log end
 * offset, lastFetchedEpoch = the latest epoch of the leader epoch cache (v12+),
 * currentLeaderEpoch = the epoch of the image that assigned it; long-polled by
 * `replica.fetch.wait.max.ms` and `replica.fetch.min.bytes`, bounded by
 * `replica.fetch.response.max.bytes` and `replica.fetch.max.bytes` per partition.
 *
 * Each fetcher keeps one fetch session (KIP-227, Fetch v7+) with its leader: a full fetch at
 * epoch 0 opens it, then a fetch names only partitions whose fetch state changed (offset,
 * epochs, log start, limits) and forgets the ones no longer fetched, so an idle follower's
 * fetch names none. A lost session (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH)
 * starts a new one at once; a failed or refused request makes the next fetch a full one.
 *
 * Before its first fetch under a leader epoch, a partition's log is checked against the
 * leader's. From Fetch v12 the leader does that on every fetch (diverging epoch, below). Below
 * v12 (an older leader, or `setFetchVersionMax`), and for a log with data but no epoch to send,
 * the follower asks OffsetForLeaderEpoch for its latest epoch (fenced by currentLeaderEpoch
 * like a fetch) and truncates as `truncationByEpoch` says (KIP-101; KIP-279's ask-again when
 * the leader answers an epoch we never had) before it fetches at all: a fetch offset from an
 * unchecked log would count, on the leader, bytes that may differ from its own.
 *
 * Per partition in the answer:
 * - records: appended as they are (`Partition.appendAsFollower`: the leader's offsets, epochs
 *   and bytes, CRCs checked once here), the epoch cache and the producer state follow the
 *   batches; then the HW becomes
 *   min(the leader's HW, our log end offset), never lower than it was, and the log start
 *   follows the leader's (DeleteRecords) up to that HW.
 * - diverging epoch (KIP-320/595, the leader's end of our last epoch is below our log end):
 *   truncate to min(the leader's end offset for that epoch, ours for it), and fetch again
 *   with the now latest epoch — repeated until both agree, so a follower never keeps bytes
 *   the leader does not have (KIP-101/279, not truncation to the HW).
 * - OFFSET_OUT_OF_RANGE: below the leader's log start → start over there; else truncate to
 *   the leader's HW (everything above may be unreplicated) and fetch again.
 * - a leadership or epoch error: the partition backs off `replica.fetch.backoff.ms`; the
 *   metadata image, when it changes, reassigns it. UNKNOWN_LEADER_EPOCH and
 *   NOT_LEADER_OR_FOLLOWER (the leader has not applied the image that made it leader yet)
 *   retry after 50 ms instead: a new leader's HW waits for its followers' fetches.
 * A failed request (connection, timeout) backs the whole fetcher off.
 *
 * After every `await` a fetcher re-checks that it is open and that each answered partition is
 * still assigned to it under the same leader epoch and still followed: a stale answer is
 * dropped (STYLE habit 3).
 */
import type { NodeClient } from "../client/node-client.ts";
import { type MetadataImage, NO_LEADER } from "../metadata/image.ts";
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { StorageError } from "../platform/fs.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { defaultFetchPartition, defaultFetchRequest, defaultFetchTopic, defaultForgottenTopic } from "../protocol/messages/fetch-request.ts";
import type { PartitionData } from "../protocol/messages/fetch-response.ts";
import { defaultApiVersionsRequest } from "../protocol/messages/api-versions-request.ts";
import {
  defaultOffsetForLeaderEpochRequest,
  defaultOffsetForLeaderPartition,
  defaultOffsetForLeaderTopic,
  type OffsetForLeaderTopic,
} from "../protocol/messages/offset-for-leader-epoch-request.ts";
import { ApiKeys } from "../protocol/messages/index.ts";
import type { Logger } from "../util/log.ts";
import { finalSessionEpoch, initialSessionEpoch, nextEpoch } from "./fetch-sessions.ts";
import type { Partition } from "./partition.ts";

export interface ReplicaFetcherConfig {
  /** num.replica.fetchers: fetchers per source broker. */
  readonly fetchersPerBroker: number;
  /** replica.fetch.max.bytes: per partition. */
  readonly partitionMaxBytes: number;
  /** replica.fetch.response.max.bytes. */
  readonly responseMaxBytes: number;
  /** replica.fetch.min.bytes. */
  readonly minBytes: number;
  /** replica.fetch.wait.max.ms. */
  readonly maxWaitMs: number;
  /** replica.fetch.backoff.ms. */
  readonly backoffMs: number;
  /** Bound of one request beyond its wait. */
  readonly requestTimeoutMs: number;
}

export interface ReplicaFetcherOptions {
  readonly nodeId: number;
  readonly client: NodeClient;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: ReplicaFetcherConfig;
  /** The inter-broker listener: leaders are reached on their endpoint of this name. */
  readonly listenerName: string;
  /** This broker's epoch (ReplicaState.replicaEpoch); -1 before registration. */
  readonly brokerEpoch: () => number;
  /** A followed partition's log or HW changed (wakes local waiters). */
  readonly onProgress: (p: Partition) => void;
}

/** Retry of a partition whose leader has not applied the metadata that made it leader yet. */
const metadataLagBackoffMs = 50;

/** Fetch v4 is the oldest served (v2 batches); v12 carries lastFetchedEpoch; v13 topic ids; v15 ReplicaState (KIP-903). */
const fetchVersionMin = 4;
const fetchLastFetchedEpochMin = 12;
/** Fetch v7 carries fetch sessions (KIP-227). */
const fetchSessionsMin = 7;
const fetchTopicIdsMin = 13;
const fetchReplicaStateMin = 15;
/** OffsetForLeaderEpoch v3 carries the replica id; Kafka 4 serves v2+. */
const offsetForLeaderEpochVersionMin = 2;

/** What a follower's log offers the truncation decision (PartitionLog has it). */
export interface EpochLog {
  readonly logEndOffset: number;
  readonly highWatermark: number;
  endOffsetForLeaderEpoch(epoch: number): { leaderEpoch: number; endOffset: number };
}

/**
 * Where a follower truncates given the leader's answer to OffsetForLeaderEpoch for the
 * follower's latest epoch (the leader's largest epoch at or below it and where that epoch
 * ends on the leader), as KIP-101 and KIP-279 define it:
 * - the leader knows no such epoch (endOffset -1): nothing better than our HW is known to be
 *   shared (the pre-KIP-101 rule, for logs without epochs);
 * - we hold the leader's epoch: cut at the smaller of the two ends of that epoch — done;
 * - we do not hold it (our largest epoch below it is smaller, KIP-279's fast double
 *   failover): cut at the end of our own epoch and ask again with our now latest epoch;
 * - we hold no epoch at or below it: cut at the leader's end of it.
 * `complete` false means: ask again. Never above our log end.
 */
export function truncationByEpoch(log: EpochLog, leader: { leaderEpoch: number; endOffset: number }): { offset: number; complete: boolean } {
  const leo = log.logEndOffset;
  if (leader.endOffset < 0) return { offset: Math.min(log.highWatermark, leo), complete: true };
  if (leader.leaderEpoch < 0) return { offset: Math.min(leader.endOffset, leo), complete: true };
  const mine = log.endOffsetForLeaderEpoch(leader.leaderEpoch);
  if (mine.leaderEpoch < 0 || mine.endOffset < 0) return { offset: Math.min(leader.endOffset, leo), complete: true };
  if (mine.leaderEpoch !== leader.leaderEpoch) {
    if (!(mine.leaderEpoch < leader.leaderEpoch)) throw new Error(`truncationByEpoch: our epoch ${mine.leaderEpoch} at or below ${leader.leaderEpoch} is above it`);
    return { offset: Math.min(mine.endOffset, leo), complete: false };
  }
  return { offset: Math.min(mine.endOffset, leader.endOffset, leo), complete: true };
}

interface Assignment {
  readonly partition: Partition;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  delayedUntilMs: number;
  /**
   * The log was checked against the leader's for this leader epoch: by OffsetForLeaderEpoch
   * (the leader's Fetch is below v12, or our log has no epoch to send as lastFetchedEpoch),
   * or trusted to Fetch's diverging-epoch check (v12+). No fetch is sent before it is.
   */
  epochChecked: boolean;
}

export class ReplicaFetcherManager {
  readonly #o: ReplicaFetcherOptions;
  readonly #fetchers = new Map<string, ReplicaFetcher>();
  /** partition key → the fetcher it is assigned to. */
  readonly #assigned = new Map<string, ReplicaFetcher>();
  readonly #versionCap: VersionCap = { max: Number.MAX_SAFE_INTEGER };
  #closed = false;

  constructor(o: ReplicaFetcherOptions) {
    if (!(o.config.fetchersPerBroker >= 1)) throw new Error(`num.replica.fetchers must be >= 1, got ${o.config.fetchersPerBroker}`);
    this.#o = o;
  }

  /** Leaders' endpoints from the registered brokers of `image` (on its inter-broker listener). */
  updateEndpoints(image: MetadataImage): void {
    if (this.#closed) return;
    for (const b of image.brokers.values()) {
      if (b.brokerId === this.#o.nodeId) continue;
      this.#o.client.setEndpointFromListeners(b.brokerId, b.endpoints, this.#o.listenerName);
    }
    for (const id of this.#o.client.nodeIds()) if (!image.brokers.has(id)) this.#o.client.removeNode(id);
  }

  /**
   * Brings the assignments in line with `partitions` (every hosted partition): each follower
   * with a leader goes to its leader's fetcher under its current epoch; others leave theirs.
   */
  update(partitions: Iterable<Partition>): void {
    if (this.#closed) return;
    const wanted = new Set<string>();
    for (const p of partitions) {
      const s = p.state;
      if (s.kind !== "follower" || s.leaderId === NO_LEADER || s.leaderId === this.#o.nodeId || !p.online) continue;
      wanted.add(p.key);
      const index = fetcherIndex(p.topic, p.partition, this.#o.config.fetchersPerBroker);
      const fkey = `${s.leaderId}:${index}`;
      const current = this.#assigned.get(p.key);
      const existing = current?.assignment(p.key);
      if (current !== undefined && current.key === fkey && existing !== undefined && existing.partition === p && existing.leaderEpoch === s.leaderEpoch) continue;
      current?.remove(p.key);
      let fetcher = this.#fetchers.get(fkey);
      if (fetcher === undefined) {
        fetcher = new ReplicaFetcher(this.#o, fkey, s.leaderId, this.#versionCap);
        this.#fetchers.set(fkey, fetcher);
      }
      fetcher.add({ partition: p, leaderId: s.leaderId, leaderEpoch: s.leaderEpoch, delayedUntilMs: 0, epochChecked: false });
      this.#assigned.set(p.key, fetcher);
    }
    for (const [key, fetcher] of [...this.#assigned]) {
      if (wanted.has(key)) continue;
      fetcher.remove(key);
      this.#assigned.delete(key);
    }
    for (const [fkey, fetcher] of [...this.#fetchers]) {
      if (fetcher.size > 0) continue;
      fetcher.close();
      this.#fetchers.delete(fkey);
    }
  }

  /**
   * Caps the Fetch version followers send, as an older inter-broker protocol would: below v12
   * there is no lastFetchedEpoch, and followers truncate by OffsetForLeaderEpoch instead.
   * Applies to the next request of every fetcher. For tests and mixed-version clusters.
   */
  setFetchVersionMax(version: number): void {
    if (!(Number.isInteger(version) && version >= fetchVersionMin)) throw new Error(`replica fetch version ${version} below v${fetchVersionMin}`);
    this.#versionCap.max = version;
  }

  /** Fetchers by "leader:index" with their partition count and fetch-session figures (tests, metrics). */
  fetchers(): FetcherInfo[] {
    return [...this.#fetchers.values()].map((f) => ({ key: f.key, leaderId: f.leaderId, partitions: f.size, ...f.stats }));
  }

  close(): void {
    this.#closed = true;
    for (const f of this.#fetchers.values()) f.close();
    this.#fetchers.clear();
    this.#assigned.clear();
    this.#o.client.close();
  }
}

/** Kafka's `Utils.abs(31 * topic.hashCode + partition) % n`, with a string hash of our own. */
function fetcherIndex(topic: string, partition: number, n: number): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (Math.imul(h, 31) + topic.charCodeAt(i)) | 0;
  return Math.abs((Math.imul(h, 31) + partition) | 0) % n;
}

export interface FetcherInfo {
  readonly key: string;
  readonly leaderId: number;
  readonly partitions: number;
  /** The fetch session with the leader (0: none). */
  readonly sessionId: number;
  /** Fetches answered, and of those the ones that named no partition (incremental, nothing changed). */
  readonly fetches: number;
  readonly fetchesNamingNone: number;
}

interface VersionCap {
  max: number;
}

/** What a session partition was last sent with (the leader keeps the same). */
interface SessionPartitionState {
  readonly currentLeaderEpoch: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  readonly logStartOffset: number;
  readonly partitionMaxBytes: number;
}

/** This fetcher's fetch session with its leader: id 0 none; epoch 0 the next fetch is full. */
interface FetcherSession {
  readonly id: number;
  readonly epoch: number;
  /** The Fetch version the keys are for (ids from v13, names before). */
  readonly version: number;
  readonly partitions: Map<string, SessionPartitionState>;
}

function sameState(a: SessionPartitionState | undefined, b: SessionPartitionState): boolean {
  return (
    a !== undefined &&
    a.currentLeaderEpoch === b.currentLeaderEpoch &&
    a.fetchOffset === b.fetchOffset &&
    a.lastFetchedEpoch === b.lastFetchedEpoch &&
    a.logStartOffset === b.logStartOffset &&
    a.partitionMaxBytes === b.partitionMaxBytes
  );
}

class ReplicaFetcher {
  readonly key: string;
  readonly leaderId: number;
  readonly #o: ReplicaFetcherOptions;
  readonly #versionCap: VersionCap;
  readonly #partitions = new Map<string, Assignment>();
  #session: FetcherSession = { id: 0, epoch: initialSessionEpoch, version: -1, partitions: new Map() };
  #fetches = 0;
  #fetchesNamingNone = 0;
  #closed = false;
  #running = false;
  #wake: (() => void) | null = null;

  constructor(o: ReplicaFetcherOptions, key: string, leaderId: number, versionCap: VersionCap) {
    this.#o = o;
    this.#versionCap = versionCap;
    this.key = key;
    this.leaderId = leaderId;
  }

  get size(): number {
    return this.#partitions.size;
  }

  get stats(): { sessionId: number; fetches: number; fetchesNamingNone: number } {
    return { sessionId: this.#session.id, fetches: this.#fetches, fetchesNamingNone: this.#fetchesNamingNone };
  }

  assignment(key: string): Assignment | undefined {
    return this.#partitions.get(key);
  }

  add(a: Assignment): void {
    if (a.leaderId !== this.leaderId) throw new Error(`fetcher ${this.key}: partition ${a.partition.key} follows ${a.leaderId}`);
    this.#partitions.set(a.partition.key, a);
    if (!this.#running && !this.#closed) {
      this.#running = true;
      void this.#run().catch((error: unknown) => {
        this.#running = false;
        this.#o.log.error("replica fetcher failed", { fetcher: this.key, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      });
    }
    this.#wake?.();
  }

  remove(key: string): void {
    this.#partitions.delete(key);
  }

  close(): void {
    this.#closed = true;
    this.#partitions.clear();
    this.#wake?.();
  }

  /** Sleeps `ms` or until woken (a partition added, the fetcher closed). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: CancelTimer | null = null;
      const done = (): void => {
        timer?.();
        timer = null;
        if (this.#wake === done) this.#wake = null;
        resolve();
      };
      this.#wake = done;
      timer = this.#o.clock.schedule(Math.max(1, ms), done);
    });
  }

  /** Whether `a` is still this fetcher's assignment of a partition followed under its epoch. */
  #current(a: Assignment): boolean {
    const s = a.partition.state;
    return this.#partitions.get(a.partition.key) === a && s.kind === "follower" && s.leaderId === a.leaderId && s.leaderEpoch === a.leaderEpoch && a.partition.online;
  }

  async #run(): Promise<void> {
    const { config, clock, client, log } = this.#o;
    while (!this.#closed) {
      if (this.#partitions.size === 0) {
        await this.#sleep(config.backoffMs * 10);
        continue;
      }
      const now = clock.monotonicMs();
      const ready: Assignment[] = [];
      let nextDue = Number.POSITIVE_INFINITY;
      for (const a of this.#partitions.values()) {
        if (!this.#current(a)) continue;
        if (a.delayedUntilMs > now) nextDue = Math.min(nextDue, a.delayedUntilMs);
        else ready.push(a);
      }
      if (ready.length === 0) {
        await this.#sleep(Number.isFinite(nextDue) ? nextDue - now : config.backoffMs);
        continue;
      }
      const version = await this.#fetchVersion();
      if (this.#closed) return;
      if (version === null) {
        await this.#sleep(config.backoffMs);
        continue;
      }
      // A partition fetches only once its log is known to agree with the leader's.
      const unchecked = ready.filter((a) => !a.epochChecked);
      for (const a of unchecked) {
        const log = a.partition.log;
        if (version >= fetchLastFetchedEpochMin && (log.leaderEpochCache.latestEpoch() >= 0 || log.logEndOffset === log.logStartOffset)) a.epochChecked = true;
      }
      const truncating = unchecked.filter((a) => !a.epochChecked);
      if (truncating.length > 0) {
        await this.#truncateByEpoch(truncating);
        continue;
      }
      const body = defaultFetchRequest();
      if (version >= fetchReplicaStateMin) {
        body.replicaState = { replicaId: this.#o.nodeId, replicaEpoch: this.#o.brokerEpoch(), _unknownTaggedFields: undefined };
      } else {
        body.replicaId = this.#o.nodeId;
      }
      body.maxWaitMs = config.maxWaitMs;
      body.minBytes = config.minBytes;
      body.maxBytes = config.responseMaxBytes;
      body.isolationLevel = 0;
      const keyOf = (p: Partition): string => (version >= fetchTopicIdsMin ? `${p.topicId}:${p.partition}` : `${p.topic}:${p.partition}`);
      const wanted = new Map<string, { a: Assignment; state: SessionPartitionState }>();
      for (const a of ready) {
        const p = a.partition;
        wanted.set(keyOf(p), {
          a,
          state: {
            currentLeaderEpoch: a.leaderEpoch,
            fetchOffset: p.log.logEndOffset,
            lastFetchedEpoch: version >= fetchLastFetchedEpochMin ? p.log.leaderEpochCache.latestEpoch() : -1,
            logStartOffset: p.log.logStartOffset,
            partitionMaxBytes: config.partitionMaxBytes,
          },
        });
      }
      // The session (KIP-227): a full fetch opens one; then only what changed is named.
      if (this.#session.version !== version) this.#session = { id: 0, epoch: initialSessionEpoch, version, partitions: new Map() };
      const useSessions = version >= fetchSessionsMin;
      const incremental = useSessions && this.#session.id !== 0 && this.#session.epoch !== initialSessionEpoch;
      body.sessionId = useSessions ? this.#session.id : 0;
      body.sessionEpoch = useSessions ? this.#session.epoch : finalSessionEpoch;
      const byTopic = new Map<string, ReturnType<typeof defaultFetchTopic>>();
      for (const [key, { a, state }] of wanted) {
        if (incremental && sameState(this.#session.partitions.get(key), state)) continue;
        const p = a.partition;
        let t = byTopic.get(p.topicId);
        if (t === undefined) {
          t = { ...defaultFetchTopic(), topic: p.topic, topicId: p.topicId, partitions: [] };
          byTopic.set(p.topicId, t);
        }
        t.partitions.push({ ...defaultFetchPartition(), partition: p.partition, ...state });
      }
      body.topics = [...byTopic.values()];
      if (incremental) {
        const forgotten = new Map<string, ReturnType<typeof defaultForgottenTopic>>();
        for (const key of this.#session.partitions.keys()) {
          if (wanted.has(key)) continue;
          const cut = key.lastIndexOf(":");
          const topicKey = key.slice(0, cut);
          let f = forgotten.get(topicKey);
          if (f === undefined) {
            f = version >= fetchTopicIdsMin ? { ...defaultForgottenTopic(), topicId: topicKey, partitions: [] } : { ...defaultForgottenTopic(), topic: topicKey, partitions: [] };
            forgotten.set(topicKey, f);
          }
          f.partitions.push(Number(key.slice(cut + 1)));
        }
        body.forgottenTopicsData = [...forgotten.values()];
      }
      const result = await client.send(this.leaderId, ApiKeys.Fetch, body, {
        timeoutMs: config.maxWaitMs + config.requestTimeoutMs,
        // Exactly the version the body was built for (a reconnect may have changed the leader's ranges).
        minVersion: version,
        maxVersion: version,
        // A dead leader fails the fetch at once: the fetcher backs off, and the metadata moves the partition.
        waitForConnection: false,
      });
      if (this.#closed) return;
      if (!result.ok) {
        log.debug("replica fetch failed", { fetcher: this.key, error: result.error.message });
        // The leader may or may not have taken the epoch: the next fetch is full, closing the session.
        this.#session = { id: this.#session.id, epoch: initialSessionEpoch, version, partitions: new Map() };
        await this.#sleep(config.backoffMs);
        continue;
      }
      const code = result.body.errorCode;
      if (code === ErrorCode.FETCH_SESSION_ID_NOT_FOUND || code === ErrorCode.INVALID_FETCH_SESSION_EPOCH) {
        // Evicted, or the leader restarted: start a new session at once.
        log.debug("replica fetch session lost", { fetcher: this.key, sessionId: this.#session.id, error: code });
        this.#session = { id: 0, epoch: initialSessionEpoch, version, partitions: new Map() };
        continue;
      }
      if (code !== ErrorCode.NONE) {
        log.debug("replica fetch refused", { fetcher: this.key, error: code });
        this.#session = { id: this.#session.id, epoch: initialSessionEpoch, version, partitions: new Map() };
        await this.#sleep(config.backoffMs);
        continue;
      }
      this.#fetches++;
      if (body.topics.length === 0) this.#fetchesNamingNone++;
      if (useSessions) {
        const next = incremental ? this.#session.partitions : new Map<string, SessionPartitionState>();
        if (incremental) for (const key of [...next.keys()]) if (!wanted.has(key)) next.delete(key);
        for (const [key, { state }] of wanted) next.set(key, state);
        this.#session =
          result.body.sessionId === 0
            ? { id: 0, epoch: initialSessionEpoch, version, partitions: new Map() }
            : { id: result.body.sessionId, epoch: incremental ? nextEpoch(this.#session.epoch) : 1, version, partitions: next };
      }
      for (const t of result.body.responses) {
        for (const pd of t.partitions) {
          const w = wanted.get(version >= fetchTopicIdsMin ? `${t.topicId}:${pd.partitionIndex}` : `${t.topic}:${pd.partitionIndex}`);
          if (w === undefined || !this.#current(w.a)) continue;
          this.#handle(w.a, pd);
        }
      }
    }
    this.#running = false;
  }

  /**
   * The Fetch version to send the leader: the highest both sides serve up to the cap, once a
   * connection has told the leader's ranges (connecting first when none has). Null when the
   * leader cannot be reached or serves no usable version.
   */
  async #fetchVersion(): Promise<number | null> {
    const { client, config, log } = this.#o;
    let table = client.versions(this.leaderId);
    if (table === null) {
      // Connect by an ApiVersions request that fails at once when the leader cannot be reached
      // (as fetches do: the fetcher backs off and the metadata moves the partition).
      const probe = await client.send(this.leaderId, ApiKeys.ApiVersions, defaultApiVersionsRequest(), { timeoutMs: config.requestTimeoutMs, waitForConnection: false });
      table = probe.ok ? client.versions(this.leaderId) : null;
      if (table === null) {
        log.debug("replica fetcher cannot reach its leader", { fetcher: this.key, error: probe.ok ? "no versions" : probe.error.message });
        return null;
      }
    }
    const version = table.pick(ApiKeys.Fetch, fetchVersionMin, this.#versionCap.max);
    if (version === null) log.warn("leader serves no Fetch version a follower can use", { fetcher: this.key, leaderId: this.leaderId });
    return version;
  }

  /**
   * One OffsetForLeaderEpoch round for partitions whose log is not yet checked against the
   * leader's (KIP-101/279): each asks with its latest epoch and the assignment's leader epoch
   * (fenced on the leader like a fetch), truncates where `truncationByEpoch` says, and is
   * checked once the answer is final — else it asks again next round with the epoch now
   * latest. Errors back the partition off as a fetch error would.
   */
  async #truncateByEpoch(partitions: readonly Assignment[]): Promise<void> {
    const { config, clock, client, log } = this.#o;
    const body = defaultOffsetForLeaderEpochRequest();
    body.replicaId = this.#o.nodeId;
    const byTopic = new Map<string, OffsetForLeaderTopic>();
    const sent = new Map<string, { a: Assignment; asked: number }>();
    for (const a of partitions) {
      const p = a.partition;
      let t = byTopic.get(p.topic);
      if (t === undefined) {
        t = { ...defaultOffsetForLeaderTopic(), topic: p.topic, partitions: [] };
        byTopic.set(p.topic, t);
      }
      const asked = p.log.leaderEpochCache.latestEpoch();
      t.partitions.push({ ...defaultOffsetForLeaderPartition(), partition: p.partition, currentLeaderEpoch: a.leaderEpoch, leaderEpoch: asked });
      sent.set(`${p.topic}:${p.partition}`, { a, asked });
    }
    body.topics = [...byTopic.values()];
    const result = await client.send(this.leaderId, ApiKeys.OffsetForLeaderEpoch, body, {
      timeoutMs: config.requestTimeoutMs,
      minVersion: offsetForLeaderEpochVersionMin,
      waitForConnection: false,
    });
    if (this.#closed) return;
    if (!result.ok) {
      log.debug("offset for leader epoch failed", { fetcher: this.key, error: result.error.message });
      await this.#sleep(config.backoffMs);
      return;
    }
    for (const t of result.body.topics) {
      for (const r of t.partitions) {
        const entry = sent.get(`${t.topic}:${r.partition}`);
        if (entry === undefined || !this.#current(entry.a)) continue;
        const { a, asked } = entry;
        const p = a.partition;
        // The log moved under the request (it cannot while unchecked: no fetch appends): ask again.
        if (p.log.leaderEpochCache.latestEpoch() !== asked) continue;
        if (r.errorCode !== ErrorCode.NONE) {
          const lagging = r.errorCode === ErrorCode.UNKNOWN_LEADER_EPOCH || r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER;
          a.delayedUntilMs = clock.monotonicMs() + (lagging ? Math.min(config.backoffMs, metadataLagBackoffMs) : config.backoffMs);
          continue;
        }
        try {
          const cut = truncationByEpoch(p.log, r);
          if (cut.offset < p.log.logEndOffset) {
            log.info("truncating to the leader's log (offset for leader epoch)", {
              partition: p.key,
              leaderEpoch: a.leaderEpoch,
              askedEpoch: asked,
              leaderAnswerEpoch: r.leaderEpoch,
              leaderAnswerEndOffset: r.endOffset,
              from: p.log.logEndOffset,
              to: cut.offset,
            });
            p.truncateTo(cut.offset);
            this.#o.onProgress(p);
          }
          // Epochs starting at the cut hold no batch (a leadership of ours that never appended): dropped too.
          p.log.leaderEpochCache.truncateFromEnd(cut.offset);
          if (cut.complete) a.epochChecked = true;
          else if (p.log.leaderEpochCache.latestEpoch() >= asked) throw new Error(`follower ${p.key}: truncation to ${cut.offset} left epoch ${asked} in place`);
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          log.error("follower storage error", { partition: p.key, error: e.message });
          a.delayedUntilMs = clock.monotonicMs() + config.backoffMs;
        }
      }
    }
  }

  #handle(a: Assignment, pd: PartitionData): void {
    const { config, clock, log } = this.#o;
    const p = a.partition;
    const backOff = (): void => {
      a.delayedUntilMs = clock.monotonicMs() + config.backoffMs;
    };
    try {
      switch (pd.errorCode) {
        case ErrorCode.NONE:
          break;
        case ErrorCode.OFFSET_OUT_OF_RANGE: {
          const leo = p.log.logEndOffset;
          if (pd.logStartOffset >= 0 && leo < pd.logStartOffset) {
            log.warn("follower below the leader's log start: starting over there", { partition: p.key, logEndOffset: leo, leaderLogStartOffset: pd.logStartOffset });
            p.truncateFullyAndStartAt(pd.logStartOffset);
          } else if (pd.highWatermark >= 0 && leo > pd.highWatermark) {
            log.warn("follower ahead of its leader: truncating to the leader's high watermark", { partition: p.key, logEndOffset: leo, leaderHighWatermark: pd.highWatermark });
            p.truncateTo(pd.highWatermark);
          } else {
            backOff();
          }
          this.#o.onProgress(p);
          return;
        }
        case ErrorCode.UNKNOWN_LEADER_EPOCH:
        case ErrorCode.NOT_LEADER_OR_FOLLOWER:
          // Our image names this node leader at this epoch and its own does not yet: it is
          // about to (metadata reaches brokers within ms); waiting the whole backoff would
          // hold the new leader's HW, and every acks=all write, that long.
          a.delayedUntilMs = clock.monotonicMs() + Math.min(config.backoffMs, metadataLagBackoffMs);
          return;
        default:
          backOff();
          return;
      }
      const div = pd.divergingEpoch;
      if (div.epoch >= 0 || div.endOffset >= 0) {
        const mine = p.log.endOffsetForLeaderEpoch(div.epoch);
        const leaderEnd = div.endOffset < 0 ? p.log.highWatermark : div.endOffset;
        const target = Math.min(leaderEnd, mine.endOffset < 0 ? p.log.logEndOffset : mine.endOffset);
        if (target < p.log.logEndOffset) {
          log.info("truncating to the leader's log (diverging epoch)", {
            partition: p.key,
            leaderEpoch: a.leaderEpoch,
            divergingEpoch: div.epoch,
            divergingEndOffset: div.endOffset,
            from: p.log.logEndOffset,
            to: target,
          });
          p.truncateTo(target);
          this.#o.onProgress(p);
        } else {
          // Nothing to cut but epochs that start at our end (a leadership of ours that never
          // appended): drop them, or the next fetch would diverge the same way.
          const before = p.log.leaderEpochCache.latestEpoch();
          p.log.leaderEpochCache.truncateFromEnd(target);
          if (p.log.leaderEpochCache.latestEpoch() === before) backOff();
        }
        return;
      }
      const records = pd.records;
      if (records !== null && records.length > 0) {
        const before = p.log.logEndOffset;
        const appended = p.appendAsFollower(records);
        if (appended.kind !== "ok") {
          log.error("follower append failed", { partition: p.key, result: appended.kind, detail: "detail" in appended ? appended.detail : "" });
          backOff();
          return;
        }
        if (!(appended.firstOffset >= before && p.log.logEndOffset === appended.lastOffset + 1)) {
          throw new Error(`follower ${p.key}: appended ${appended.firstOffset}..${appended.lastOffset} at log end ${before}, now ${p.log.logEndOffset}`);
        }
      }
      if (pd.highWatermark >= 0) {
        const hw = Math.min(pd.highWatermark, p.log.logEndOffset);
        if (hw > p.log.highWatermark) p.log.setHighWatermark(hw);
      }
      // DeleteRecords (and retention) on the leader: the follower's log start follows, within its HW.
      if (pd.logStartOffset > p.log.logStartOffset && pd.logStartOffset <= p.log.highWatermark) p.log.deleteRecordsBefore(pd.logStartOffset);
      this.#o.onProgress(p);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      log.error("follower storage error", { partition: p.key, error: e.message });
      backOff();
    }
  }
}
