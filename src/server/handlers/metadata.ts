/**
 * Metadata (key 3), v0–v12: brokers (the endpoint of the listener the client came in on),
 * cluster id, controller id, and the requested topics with their partitions. A missing topic
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
import type { BrokerImage, MetadataImage, TopicImage } from "../../metadata/image.ts";
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
  type MetadataResponseBroker,
  type MetadataResponseTopic,
} from "../../protocol/messages/metadata-response.ts";
import type { AdvertisedListener } from "../services.ts";
import { defineHandler } from "./handler.ts";

/** Kafka's "authorized operations not requested" sentinel. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export function brokerEndpoint(broker: BrokerImage, listenerName: string): AdvertisedListener | undefined {
  return broker.endpoints.find((e) => e.name === listenerName) ?? broker.endpoints[0];
}

export function describeBrokers(image: MetadataImage, listenerName: string): MetadataResponseBroker[] {
  const out: MetadataResponseBroker[] = [];
  for (const broker of image.liveBrokers()) {
    const endpoint = brokerEndpoint(broker, listenerName);
    if (endpoint === undefined) continue;
    out.push({ ...defaultMetadataResponseBroker(), nodeId: broker.brokerId, host: endpoint.host, port: endpoint.port, rack: broker.rack });
  }
  return out;
}

function describeTopic(topic: TopicImage, liveBrokers: ReadonlySet<number>, version: number): MetadataResponseTopic {
  return {
    ...defaultMetadataResponseTopic(),
    name: topic.name,
    topicId: version >= 10 ? topic.topicId : ZERO_UUID,
    isInternal: INTERNAL_TOPICS.has(topic.name),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    partitions: topic.partitions.map((p) => {
      const offline = p.replicas.filter((b) => !liveBrokers.has(b));
      return {
        ...defaultMetadataResponsePartition(),
        errorCode: p.leader === -1 || !liveBrokers.has(p.leader) ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: p.partition,
        leaderId: liveBrokers.has(p.leader) ? p.leader : -1,
        leaderEpoch: p.leaderEpoch,
        replicaNodes: p.replicas.slice(),
        isrNodes: p.isr.slice(),
        offlineReplicas: version >= 5 ? offline : [],
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

    const image = services.metadata.image;
    const live = new Set(image.liveBrokers().map((b) => b.brokerId));
    let topics: MetadataResponseTopic[];
    if (all) {
      topics = [...image.topicsByName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => describeTopic(t, live, version));
    } else {
      topics = request.topics!.map((t) => {
        if (t.name === null) {
          const byId = image.topicsById.get(t.topicId as never);
          return byId === undefined ? topicError(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID, version) : describeTopic(byId, live, version);
        }
        const topic = image.topic(t.name);
        if (topic !== undefined) return describeTopic(topic, live, version);
        const problem = topicNameProblem(t.name);
        return topicError(t.name, ZERO_UUID, problem !== null ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, version);
      });
    }
    return {
      ...defaultMetadataResponse(),
      brokers: describeBrokers(image, ctx.connection.listenerName),
      clusterId: settings.clusterId,
      controllerId: settings.nodeId,
      topics,
      clusterAuthorizedOperations: version >= 8 && version <= 10 ? AUTHORIZED_OPERATIONS_OMITTED : defaultMetadataResponse().clusterAuthorizedOperations,
    };
  },
});
