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
});

/** Kafka property name → RaftConfig field, for the settings an operator may set. */
export const raftConfigProperties = {
  "controller.quorum.election.timeout.ms": "electionTimeoutMs",
  "controller.quorum.fetch.timeout.ms": "fetchTimeoutMs",
  "controller.quorum.election.backoff.max.ms": "electionBackoffMaxMs",
  "controller.quorum.request.timeout.ms": "requestTimeoutMs",
  "controller.quorum.retry.backoff.ms": "retryBackoffMs",
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

/** Reads the Kafka properties into a config over `base`; the first bad value is the error. */
export function raftConfigFromProperties(
  props: ReadonlyMap<string, string>,
  base: Readonly<RaftConfig> = defaultRaftConfig,
): { ok: true; config: RaftConfig } | { ok: false; message: string } {
  const config: RaftConfig = { ...base };
  for (const [name, field] of Object.entries(raftConfigProperties)) {
    const text = props.get(name);
    if (text === undefined) continue;
    const value = /^[0-9]{1,9}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
    if (!Number.isSafeInteger(value)) return { ok: false, message: `${name}=${text}: not a non-negative whole number of milliseconds` };
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
  return null;
}
