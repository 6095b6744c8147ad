/**
 * The broker wiring of the group coordinator in one call: settings from broker config values,
 * persistence on this broker's `__consumer_offsets` partitions through the ReplicaManager,
 * loading/unloading those partitions as leadership in the metadata image moves, deleting the
 * committed offsets of deleted topics, and the offset-retention timer.
 *
 * Call it after `replicas.attach(metadata)`: metadata listeners run in registration order, and
 * the replica manager must create a partition before the coordinator reads it (the read also
 * waits one turn, see GroupCoordinator.loadPartition). Put the result in
 * `BrokerServices.groups`; call `shutdown()` on it when the broker stops.
 */
import type { MetadataManager } from "../metadata/metadata-manager.ts";
import type { Clock } from "../platform/clock.ts";
import type { Compression } from "../platform/compression.ts";
import type { Prng } from "../platform/prng.ts";
import type { ReplicaManager } from "../replication/replica-manager.ts";
import type { Logger } from "../util/log.ts";
import type { LogLimiter } from "../util/log-limiter.ts";
import { groupCoordinatorConfigFrom } from "./config.ts";
import { GroupCoordinator } from "./group-coordinator.ts";
import { ReplicaOffsetsTopicLog } from "./replica-offsets-log.ts";

export interface StartGroupCoordinatorOptions {
  nodeId: number;
  metadata: MetadataManager;
  replicas: ReplicaManager;
  clock: Clock;
  prng: Prng;
  logger: Logger;
  /** A broker config value by Kafka name (undefined: Kafka's default). */
  configValue: (name: string) => string | undefined;
  compression?: Compression;
  /** Where lines of failed writes are rate-limited (GroupCoordinatorDeps.faultLog). */
  faultLog?: LogLimiter;
}

export function startGroupCoordinator(o: StartGroupCoordinatorOptions): GroupCoordinator {
  const commitTimeout = o.configValue("offsets.commit.timeout.ms");
  const loadBuffer = o.configValue("offsets.load.buffer.size");
  const log = new ReplicaOffsetsTopicLog(o.replicas, {
    ...(commitTimeout === undefined ? {} : { commitTimeoutMs: Number(commitTimeout) }),
    ...(loadBuffer === undefined ? {} : { readBytes: Number(loadBuffer) }),
    ...(o.compression === undefined ? {} : { compression: o.compression }),
  });
  const groups = new GroupCoordinator({
    config: groupCoordinatorConfigFrom(o.configValue),
    clock: o.clock,
    prng: o.prng,
    log,
    topicPartitions: (name) => o.metadata.image.topic(name)?.partitions.length,
    logger: o.logger.child({ component: "groups" }),
    ...(o.faultLog === undefined ? {} : { faultLog: o.faultLog }),
  });
  o.metadata.onChange((next, previous) => {
    groups.onMetadataImage(next, o.nodeId);
    void groups.onTopicsDeleted(previous, next);
  });
  groups.onMetadataImage(o.metadata.image, o.nodeId);
  groups.start();
  return groups;
}
