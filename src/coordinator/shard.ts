/**
 * One owned `__consumer_offsets` partition's slice of the coordinator (Kafka's coordinator
 * shard): its groups and committed offsets, its load state, the chain that keeps replays in
 * log order; and the runtime the group and offset managers act through.
 *
 * Invariant: a shard's state changes only while it is the coordinator's current shard for
 * its partition; a manager holding a shard across an await re-checks `ShardRuntime.owns`.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { Logger } from "../util/log.ts";
import type { GroupCoordinatorConfig } from "./config.ts";
import type { ClassicGroup } from "./group.ts";
import type { CoordinatorRecord, OffsetCommitValue } from "./records.ts";

/** What an operation decided: the records to make durable, and the answer once they are. */
export interface CoordinatorResult<T> {
  records: CoordinatorRecord[];
  response: T;
}

export type ShardState = { readonly kind: "loading" } | { readonly kind: "loaded" } | { readonly kind: "failed"; readonly reason: string };

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly value: OffsetCommitValue;
}

/** The coordinator's state for one owned `__consumer_offsets` partition. */
export class Shard {
  state: ShardState = { kind: "loading" };
  readonly groups = new Map<string, ClassicGroup>();
  /** group → "topic\0partition" → offset. */
  readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  /** The chain of replays: each waits for the previous append's, so replay follows log order. */
  tail: Promise<unknown> = Promise.resolve();
  /** Set while a failed load waits to be retried. */
  cancelRetry: CancelTimer | null = null;
  /**
   * @param leaderEpoch the leader epoch of the partition this shard was loaded for (-1: not
   *   known, as with an in-memory log); a later epoch means other leaders may have written
   *   meanwhile, so the shard is loaded again.
   */
  constructor(
    readonly partition: number,
    readonly leaderEpoch = -1,
  ) {}
}

export const offsetKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** What a failed append of the coordinator's records means to its client (Kafka's mapping). */
export function appendErrorToCoordinatorError(errorCode: number, forOffsetCommit: boolean): number {
  switch (errorCode) {
    case ErrorCode.NONE:
      return ErrorCode.NONE;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return forOffsetCommit ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE : ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}

/** What the managers act through: settings, time, logging, and the write path of the coordinator. */
export interface ShardRuntime {
  readonly config: GroupCoordinatorConfig;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  /**
   * Appends a result's records to the shard's partition, replays them, then yields its
   * response; on a failed append yields `onError(coordinator error)` and replays nothing.
   */
  write<T>(shard: Shard, result: CoordinatorResult<T>, onError: (errorCode: number) => T, forOffsetCommit?: boolean): Promise<T>;
  /** The shard is still the coordinator's, loaded. */
  owns(shard: Shard): boolean;
  /** The shard is still the coordinator's, loaded, and still holds this group object. */
  live(shard: Shard, group: ClassicGroup): boolean;
}
