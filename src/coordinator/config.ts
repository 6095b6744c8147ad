/**
 * The group coordinator's settings: Kafka's broker configs of the same names, with Kafka's
 * defaults. One place for every limit the coordinator enforces.
 */

export interface GroupCoordinatorConfig {
  /** offsets.topic.num.partitions */
  readonly offsetsTopicNumPartitions: number;
  /** offsets.topic.replication.factor */
  readonly offsetsTopicReplicationFactor: number;
  /** group.min.session.timeout.ms */
  readonly groupMinSessionTimeoutMs: number;
  /** group.max.session.timeout.ms */
  readonly groupMaxSessionTimeoutMs: number;
  /** group.max.size */
  readonly groupMaxSize: number;
  /** group.initial.rebalance.delay.ms */
  readonly groupInitialRebalanceDelayMs: number;
  /** offset.metadata.max.bytes */
  readonly offsetMetadataMaxBytes: number;
  /** offsets.retention.minutes, in ms */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms */
  readonly offsetsRetentionCheckIntervalMs: number;
}

/** How long a new member's JoinGroup may wait before it counts as gone (Kafka's NewMemberJoinTimeoutMs). */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

export const groupCoordinatorConfigDefaults: GroupCoordinatorConfig = {
  offsetsTopicNumPartitions: 50,
  offsetsTopicReplicationFactor: 1,
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1_800_000,
  groupMaxSize: 0x7fff_ffff,
  groupInitialRebalanceDelayMs: 3000,
  offsetMetadataMaxBytes: 4096,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
};

/**
 * Reads the settings from broker config values by Kafka name (`lookup` returns the string
 * value or undefined for "use the default"). Throws on a value that is not a number in range.
 */
export function groupCoordinatorConfigFrom(lookup: (name: string) => string | undefined): GroupCoordinatorConfig {
  const d = groupCoordinatorConfigDefaults;
  const int = (name: string, fallback: number, min: number): number => {
    const text = lookup(name);
    if (text === undefined) return fallback;
    const v = Number(text.trim());
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name}=${text}: expected an integer >= ${min}`);
    return v;
  };
  const config: GroupCoordinatorConfig = {
    offsetsTopicNumPartitions: int("offsets.topic.num.partitions", d.offsetsTopicNumPartitions, 1),
    offsetsTopicReplicationFactor: int("offsets.topic.replication.factor", d.offsetsTopicReplicationFactor, 1),
    groupMinSessionTimeoutMs: int("group.min.session.timeout.ms", d.groupMinSessionTimeoutMs, 0),
    groupMaxSessionTimeoutMs: int("group.max.session.timeout.ms", d.groupMaxSessionTimeoutMs, 0),
    groupMaxSize: int("group.max.size", d.groupMaxSize, 1),
    groupInitialRebalanceDelayMs: int("group.initial.rebalance.delay.ms", d.groupInitialRebalanceDelayMs, 0),
    offsetMetadataMaxBytes: int("offset.metadata.max.bytes", d.offsetMetadataMaxBytes, 0),
    offsetsRetentionMs: int("offsets.retention.minutes", d.offsetsRetentionMs / 60_000, 1) * 60_000,
    offsetsRetentionCheckIntervalMs: int("offsets.retention.check.interval.ms", d.offsetsRetentionCheckIntervalMs, 1),
  };
  if (config.groupMinSessionTimeoutMs > config.groupMaxSessionTimeoutMs) {
    throw new RangeError(`group.min.session.timeout.ms ${config.groupMinSessionTimeoutMs} > group.max.session.timeout.ms ${config.groupMaxSessionTimeoutMs}`);
  }
  return config;
}
