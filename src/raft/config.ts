/**
 * Raft (KRaft) settings and limits. Each setting names the Kafka property it stands for and
 * has Kafka's default; limits that are not configuration are `*Max` constants, kept here.
 */

export interface RaftConfig {
  /** `controller.quorum.election.timeout.ms`: an election waits this plus a random part of it. */
  electionTimeoutMs: number;
  /** `controller.quorum.fetch.timeout.ms`: a follower with no successful fetch for this long starts a pre-vote; a leader without fetches from a majority for this long resigns (check-quorum). */
  fetchTimeoutMs: number;
  /** `controller.quorum.election.backoff.max.ms`: the most a failed election waits (randomly) before the next. */
  electionBackoffMaxMs: number;
  /** `controller.quorum.request.timeout.ms`: an unanswered request is sent again after this. */
  requestTimeoutMs: number;
  /** `controller.quorum.retry.backoff.ms`: the wait before retrying a request that failed. */
  retryBackoffMs: number;
  /** How long the leader holds a Fetch that has nothing to return (Kafka's raft client uses 500). */
  fetchMaxWaitMs: number;
  /** Most record bytes a follower asks for in one Fetch (at least one whole batch is returned). */
  fetchBytesMax: number;
  /** Most bytes one proposal (`propose`) may carry. */
  appendBytesMax: number;
  /** `metadata.log.max.record.bytes.between.snapshots`: log bytes applied since the last snapshot that call for a new one. */
  snapshotRecordBytesBetween: number;
  /** `metadata.log.max.snapshot.interval.ms`: a new snapshot is due this long after the last one when anything was applied since (0: never by time). */
  snapshotIntervalMs: number;
  /** `metadata.max.retention.bytes`: above this total of log and snapshot bytes the oldest snapshot and the log before the next go (-1: no limit). */
  retentionBytes: number;
  /** `metadata.max.retention.ms`: a snapshot older than this goes with the log before the next one (-1: no limit). */
  retentionMs: number;
}

export const defaultRaftConfig: Readonly<RaftConfig> = Object.freeze({
  electionTimeoutMs: 1000,
  fetchTimeoutMs: 2000,
  electionBackoffMaxMs: 1000,
  requestTimeoutMs: 2000,
  retryBackoffMs: 20,
  fetchMaxWaitMs: 500,
  fetchBytesMax: 8 * 1024 * 1024,
  appendBytesMax: 8 * 1024 * 1024,
  snapshotRecordBytesBetween: 20 * 1024 * 1024,
  snapshotIntervalMs: 60 * 60 * 1000,
  retentionBytes: 100 * 1024 * 1024,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
});

/** Kafka property name → RaftConfig field, for the settings an operator may set. */
export const raftConfigProperties = {
  "controller.quorum.election.timeout.ms": "electionTimeoutMs",
  "controller.quorum.fetch.timeout.ms": "fetchTimeoutMs",
  "controller.quorum.election.backoff.max.ms": "electionBackoffMaxMs",
  "controller.quorum.request.timeout.ms": "requestTimeoutMs",
  "controller.quorum.retry.backoff.ms": "retryBackoffMs",
  "metadata.log.max.record.bytes.between.snapshots": "snapshotRecordBytesBetween",
  "metadata.log.max.snapshot.interval.ms": "snapshotIntervalMs",
  "metadata.max.retention.bytes": "retentionBytes",
  "metadata.max.retention.ms": "retentionMs",
} as const satisfies Record<string, keyof RaftConfig>;

/** Most voters a quorum may have (the voter set is small: 3 or 5 in practice). */
export const votersMax = 64;
/** Most observers the leader tracks for DescribeQuorum; the least recently seen is dropped past it. */
export const observersMax = 1024;
/** An observer not seen for this long is dropped from DescribeQuorum (Kafka: 5 minutes). */
export const observerSessionMs = 5 * 60 * 1000;
/** A quorum-state file larger than this is corrupt (a real one is about 120 bytes). */
export const quorumStateBytesMax = 4096;
/** Most requests of one kind in flight from one node (one per peer in practice). */
export const inflightRequestsMax = votersMax;
/** A snapshot file larger than this is refused (written, served, fetched or read): a bound on what a peer can make us store. */
export const snapshotBytesMax = 1024 * 1024 * 1024;
/** Snapshots kept beside the log: the newest, and one before it so a replica a little behind can still fetch the log. */
export const snapshotsRetainedMax = 2;
/** Most bytes a FetchSnapshot response carries (the request may ask for fewer). */
export const fetchSnapshotBytesMax = 8 * 1024 * 1024;

/**
 * Whether the state machine above should snapshot now: it applied at least
 * `metadata.log.max.record.bytes.between.snapshots` log bytes since its last snapshot, or
 * applied anything and the last snapshot is `metadata.log.max.snapshot.interval.ms` old.
 * (Kafka's controller asks the same two questions; when to ask is the caller's.)
 */
export function shouldSnapshot(
  config: Pick<RaftConfig, "snapshotRecordBytesBetween" | "snapshotIntervalMs">,
  appliedBytesSinceSnapshot: number,
  msSinceSnapshot: number,
): boolean {
  if (appliedBytesSinceSnapshot <= 0) return false;
  if (appliedBytesSinceSnapshot >= config.snapshotRecordBytesBetween) return true;
  return config.snapshotIntervalMs > 0 && msSinceSnapshot >= config.snapshotIntervalMs;
}

/** Reads the Kafka properties into a config over `base`; the first bad value is the error. */
export function raftConfigFromProperties(
  props: ReadonlyMap<string, string>,
  base: Readonly<RaftConfig> = defaultRaftConfig,
): { ok: true; config: RaftConfig } | { ok: false; message: string } {
  const config: RaftConfig = { ...base };
  for (const [name, field] of Object.entries(raftConfigProperties)) {
    const text = props.get(name);
    if (text === undefined) continue;
    const signed = field === "retentionBytes" || field === "retentionMs";
    const value = (signed ? /^-?[0-9]{1,16}$/ : /^[0-9]{1,16}$/).test(text.trim()) ? Number(text.trim()) : Number.NaN;
    if (!Number.isSafeInteger(value)) return { ok: false, message: `${name}=${text}: not a ${signed ? "" : "non-negative "}whole number` };
    config[field] = value;
  }
  const problem = raftConfigProblem(config);
  return problem === null ? { ok: true, config } : { ok: false, message: problem };
}

/** Why `config` cannot run a quorum, or null. */
export function raftConfigProblem(config: Readonly<RaftConfig>): string | null {
  if (!(config.electionTimeoutMs > 0)) return "controller.quorum.election.timeout.ms must be > 0";
  if (!(config.fetchTimeoutMs > 0)) return "controller.quorum.fetch.timeout.ms must be > 0";
  if (!(config.requestTimeoutMs > 0)) return "controller.quorum.request.timeout.ms must be > 0";
  if (!(config.electionBackoffMaxMs >= 0)) return "controller.quorum.election.backoff.max.ms must be >= 0";
  if (!(config.retryBackoffMs >= 0)) return "controller.quorum.retry.backoff.ms must be >= 0";
  if (!(config.fetchMaxWaitMs >= 0 && config.fetchMaxWaitMs < config.requestTimeoutMs)) {
    return `the fetch wait ${config.fetchMaxWaitMs} ms must be below controller.quorum.request.timeout.ms ${config.requestTimeoutMs}`;
  }
  if (!(config.fetchBytesMax > 0 && config.appendBytesMax > 0)) return "fetch and append byte limits must be > 0";
  if (!(config.snapshotRecordBytesBetween >= 1)) return "metadata.log.max.record.bytes.between.snapshots must be >= 1";
  if (!(config.snapshotIntervalMs >= 0)) return "metadata.log.max.snapshot.interval.ms must be >= 0";
  if (!(config.retentionBytes === -1 || config.retentionBytes >= 0)) return "metadata.max.retention.bytes must be -1 or >= 0";
  if (!(config.retentionMs === -1 || config.retentionMs >= 0)) return "metadata.max.retention.ms must be -1 or >= 0";
  return null;
}
