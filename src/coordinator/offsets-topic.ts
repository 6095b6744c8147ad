/**
 * Creating `__consumer_offsets` on first use, as Kafka does when a client first looks for a
 * group coordinator: `offsets.topic.num.partitions` partitions, `offsets.topic.replication.factor`
 * replicas, compacted, 100 MiB segments (Kafka's offsets.topic.segment.bytes), and
 * compression.type=producer as Kafka sets it, so the broker's compression.type does not make
 * every offset commit a recompression. Until it
 * exists and has a leader, FindCoordinator answers COORDINATOR_NOT_AVAILABLE and the client
 * retries.
 *
 * `offsets.topic.replication.factor` larger than the registered, unfenced brokers at the
 * moment of creation (as this node's image has them) is capped to their number (one warning
 * says so); the topic keeps that factor when brokers join later, as in Kafka (reassignment
 * adds replicas). The creation itself is a controller command: decided here on the active
 * controller, forwarded to it from any other node.
 *
 * Concurrent callers share one creation per MetadataManager, so a burst of FindCoordinator
 * requests submits one CreateTopics decision.
 */
import { internalTopicReplicationFactor, type CreatableTopic } from "../metadata/controller.ts";
import type { MetadataManager } from "../metadata/metadata-manager.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { Logger } from "../util/log.ts";
import { OFFSETS_TOPIC_NAME } from "./partitioner.ts";

export const OFFSETS_TOPIC_SEGMENT_BYTES = 100 * 1024 * 1024;

export function offsetsTopicCreation(numPartitions: number, replicationFactor: number): CreatableTopic {
  return {
    name: OFFSETS_TOPIC_NAME,
    numPartitions,
    replicationFactor,
    assignments: [],
    configs: [
      { name: "cleanup.policy", value: "compact" },
      { name: "segment.bytes", value: String(OFFSETS_TOPIC_SEGMENT_BYTES) },
      { name: "compression.type", value: "producer" },
    ],
  };
}

export type EnsureOffsetsTopicResult = { kind: "exists" } | { kind: "created" } | { kind: "failed"; errorCode: number; errorMessage: string | null };

const inFlight = new WeakMap<MetadataManager, Promise<EnsureOffsetsTopicResult>>();

/** Creates `__consumer_offsets` unless the metadata image already has it. */
export function ensureOffsetsTopic(
  metadata: MetadataManager,
  numPartitions: number,
  replicationFactor: number,
  log?: Logger,
): Promise<EnsureOffsetsTopicResult> {
  if (metadata.image.topic(OFFSETS_TOPIC_NAME) !== undefined) return Promise.resolve({ kind: "exists" });
  const pending = inFlight.get(metadata);
  if (pending !== undefined) return pending;
  const run = (async (): Promise<EnsureOffsetsTopicResult> => {
    try {
      // The command may be decided on another node (the active controller), so the cap is
      // taken from this node's image, which trails the controller's by the records not yet
      // replicated here: a broker fenced meanwhile makes the creation fail with
      // INVALID_REPLICATION_FACTOR (the next FindCoordinator tries again); one unfenced
      // meanwhile is missed, as it would be a moment earlier.
      const cap = internalTopicReplicationFactor(metadata.image, replicationFactor);
      const [result] = await metadata.command({ kind: "createTopics", topics: [offsetsTopicCreation(numPartitions, cap.replicationFactor)] });
      if (result === undefined) throw new Error("createTopics answered no result for __consumer_offsets");
      if (result.errorCode === ErrorCode.NONE) {
        if (cap.capped) {
          log?.warn(`offsets.topic.replication.factor is ${replicationFactor} but only ${cap.replicationFactor} broker(s) are available: ${OFFSETS_TOPIC_NAME} created with replication factor ${cap.replicationFactor}`, {
            configured: replicationFactor,
            replicationFactor: cap.replicationFactor,
          });
        }
        return { kind: "created" };
      }
      if (result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return { kind: "exists" };
      return { kind: "failed", errorCode: result.errorCode, errorMessage: result.errorMessage };
    } finally {
      inFlight.delete(metadata);
    }
  })();
  inFlight.set(metadata, run);
  return run;
}
