/**
 * Metadata (key 3), v0–v12: the registered, unfenced brokers with their racks (endpoints of
 * the listener the client came in on), cluster id, controller id, and the requested topics
 * with each partition's leader, leader epoch, replicas, ISR and offline replicas (on fenced
 * or unregistered brokers); see cluster-view.ts for the rules. A missing topic
 * is created when the request allows it (v4+; always for v0–v3) and
 * `auto.create.topics.enable` is on, with the broker's default partitions and replication
 * factor; the response then carries the new topic in full (its logs exist by the time the
 * metadata change is applied).
 *
 * Topics by id (v10+): an unknown id gets UNKNOWN_TOPIC_ID. An internal topic is described
 * but never auto-created by a client's request; neither is `__cluster_metadata` (its directory
 * is the metadata log).
 */
import type { CreatedTopic } from "../../metadata/controller.ts";
import type { TopicImage } from "../../metadata/image.ts";
import { METADATA_TOPIC } from "../../metadata/log-store.ts";
import { INTERNAL_TOPICS, topicNameProblem } from "../../metadata/topic-name.ts";
import { ZERO_UUID } from "../../metadata/uuid.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultMetadataResponse,
  defaultMetadataResponseBroker,
  defaultMetadataResponsePartition,
  defaultMetadataResponseTopic,
  type MetadataResponseTopic,
} from "../../protocol/messages/metadata-response.ts";
import { ClusterView } from "./cluster-view.ts";
import { defineHandler } from "./handler.ts";
import { CLUSTER_RESOURCE_NAME, ResourceType } from "../../metadata/acl.ts";
import { AUTHORIZED_OPERATIONS_OMITTED, authorizedOperations } from "./authorized-operations.ts";

/** From Metadata v6 a leader without an endpoint on the client's listener is LISTENER_NOT_FOUND (Kafka's rule). */
const METADATA_LISTENER_NOT_FOUND_MIN = 6;

function describeTopic(topic: TopicImage, view: ClusterView, version: number, operations: (name: string) => number): MetadataResponseTopic {
  const opts = { filterUnlisted: version === 0, listenerNotFound: version >= METADATA_LISTENER_NOT_FOUND_MIN };
  return {
    ...defaultMetadataResponseTopic(),
    name: topic.name,
    topicId: version >= 10 ? topic.topicId : ZERO_UUID,
    isInternal: INTERNAL_TOPICS.has(topic.name),
    topicAuthorizedOperations: operations(topic.name),
    partitions: topic.partitions.map((p) => {
      const v = view.partition(p, opts);
      return {
        ...defaultMetadataResponsePartition(),
        errorCode: v.errorCode,
        partitionIndex: p.partition,
        leaderId: v.leaderId,
        leaderEpoch: v.leaderEpoch,
        replicaNodes: v.replicas,
        isrNodes: v.isr,
        offlineReplicas: version >= 5 ? v.offlineReplicas : [],
      };
    }),
  };
}

function topicError(name: string | null, topicId: string, errorCode: number, version: number): MetadataResponseTopic {
  return {
    ...defaultMetadataResponseTopic(),
    errorCode,
    name: name ?? (version >= 12 ? null : ""),
    topicId: version >= 10 ? topicId : ZERO_UUID,
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

export const metadataHandler = defineHandler({
  apiKey: ApiKeys.Metadata,
  minVersion: 0,
  maxVersion: 12,
  async handle(request, ctx) {
    const { services, apiVersion: version } = ctx;
    const { settings } = services;
    // v0 has no null: an empty list asks for every topic.
    const all = request.topics === null || (version === 0 && request.topics.length === 0);
    const allowAutoCreate = (version < 4 || request.allowAutoTopicCreation) && settings.autoCreateTopicsEnable;

    if (!all && allowAutoCreate) {
      const image = services.metadata.image;
      const missing = [
        ...new Set(
          request.topics!.flatMap((t) =>
            t.name !== null && image.topic(t.name) === undefined && topicNameProblem(t.name) === null && !INTERNAL_TOPICS.has(t.name) && t.name !== METADATA_TOPIC ? [t.name] : [],
          ),
        ),
      ];
      if (missing.length > 0) {
        // A failed creation leaves the topics unknown: the client retries its metadata request.
        let created: CreatedTopic[] = [];
        try {
          created = await services.metadata.command({ kind: "createTopics", topics: missing.map((name) => ({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] })) });
        } catch (error) {
          ctx.logRepeated("warn", "topic auto-creation failed", "topic auto-creation failed", { topics: missing.join(","), error: error instanceof Error ? error.message : String(error) });
        }
        for (const r of created) {
          if (r.errorCode !== ErrorCode.NONE && r.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
            ctx.logRepeated("warn", "topic auto-creation failed", "topic auto-creation failed", { topic: r.name, error: r.errorMessage ?? String(r.errorCode) });
          }
        }
      }
    }

    const view = ClusterView.of(ctx);
    const image = view.image;
    const withOperations = version >= 8 && request.includeTopicAuthorizedOperations;
    const operations = (name: string): number => (withOperations ? authorizedOperations(ctx, ResourceType.TOPIC, name) : AUTHORIZED_OPERATIONS_OMITTED);
    let topics: MetadataResponseTopic[];
    if (all) {
      topics = [...image.topicsByName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => describeTopic(t, view, version, operations));
    } else {
      topics = request.topics!.map((t) => {
        if (t.name === null) {
          const byId = image.topicsById.get(t.topicId as never);
          return byId === undefined ? topicError(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID, version) : describeTopic(byId, view, version, operations);
        }
        const topic = image.topic(t.name);
        if (topic !== undefined) return describeTopic(topic, view, version, operations);
        const problem = topicNameProblem(t.name);
        return topicError(t.name, ZERO_UUID, problem !== null ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, version);
      });
    }
    return {
      ...defaultMetadataResponse(),
      brokers: view.brokers.map((b) => ({ ...defaultMetadataResponseBroker(), nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
      clusterId: settings.clusterId,
      controllerId: view.controllerId,
      topics,
      clusterAuthorizedOperations:
        version >= 8 && version <= 10
          ? request.includeClusterAuthorizedOperations
            ? authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
            : AUTHORIZED_OPERATIONS_OMITTED
          : defaultMetadataResponse().clusterAuthorizedOperations,
    };
  },
});
