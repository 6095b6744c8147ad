/**
 * FindCoordinator (key 10), v0–v6: which broker coordinates a group. A group's coordinator is
 * the leader of `__consumer_offsets` partition `abs(hashCode(groupId)) % offsets.topic.num.partitions`
 * (coordinator/partitioner.ts), answered with its endpoint on the listener the client came in
 * on. The first lookup creates `__consumer_offsets` (coordinator/offsets-topic.ts), as Kafka
 * does; while it has no leader the answer is COORDINATOR_NOT_AVAILABLE and the client retries.
 * v4+ batches keys. Key type 1 (transactions) is COORDINATOR_NOT_AVAILABLE until the
 * transaction coordinator exists; other key types are INVALID_REQUEST.
 *
 * The lookup also brings the coordinator up to date with the metadata image
 * (GroupCoordinator.onMetadataImage: idempotent; the broker wiring normally calls it on every
 * metadata change), so a partition this broker leads starts loading at the latest here.
 */
import { OFFSETS_TOPIC_NAME } from "../../coordinator/partitioner.ts";
import { ensureOffsetsTopic } from "../../coordinator/offsets-topic.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultCoordinator, defaultFindCoordinatorResponse } from "../../protocol/messages/find-coordinator-response.ts";
import type { RequestContext } from "./handler.ts";
import { defineHandler } from "./handler.ts";
import { brokerEndpoint, responseListener } from "./cluster-view.ts";

export const COORDINATOR_KEY_TYPE_GROUP = 0;
export const COORDINATOR_KEY_TYPE_TRANSACTION = 1;

interface Found {
  nodeId: number;
  host: string;
  port: number;
  errorCode: number;
  errorMessage: string | null;
}

const notFound = (errorCode: number, errorMessage: string): Found => ({ nodeId: -1, host: "", port: -1, errorCode, errorMessage });

async function findGroupCoordinator(groupId: string, ctx: RequestContext): Promise<Found> {
  const { services } = ctx;
  const groups = services.groups;
  if (groups === undefined) return notFound(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the group coordinator is not running");
  if (services.metadata.image.topic(OFFSETS_TOPIC_NAME) === undefined) {
    const created = await ensureOffsetsTopic(services.metadata, groups.config.offsetsTopicNumPartitions, groups.config.offsetsTopicReplicationFactor, services.log);
    if (created.kind === "failed") {
      ctx.logRepeated("warn", "offsets topic creation failed", "could not create __consumer_offsets", { errorCode: created.errorCode, error: created.errorMessage ?? undefined });
      return notFound(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${OFFSETS_TOPIC_NAME} could not be created: ${created.errorMessage ?? created.errorCode}`);
    }
  }
  const image = services.metadata.image;
  // Normally a no-op: the broker wiring already follows the image (see the module doc).
  groups.onMetadataImage(image, services.settings.nodeId);
  const partition = groups.partitionFor(groupId);
  const leader = image.partition(OFFSETS_TOPIC_NAME, partition)?.leader ?? -1;
  if (leader < 0) return notFound(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${OFFSETS_TOPIC_NAME}-${partition} has no leader`);
  const listenerName = responseListener(services.settings, ctx.connection.listenerName);
  let endpoint: { host: string; port: number } | undefined;
  if (leader === services.settings.nodeId) {
    const listeners = services.settings.advertisedListeners;
    endpoint = listeners.find((l) => l.name === listenerName) ?? listeners[0];
  } else {
    const broker = image.brokers.get(leader);
    endpoint = broker === undefined || broker.fenced ? undefined : brokerEndpoint(broker, listenerName);
  }
  if (endpoint === undefined) return notFound(ErrorCode.COORDINATOR_NOT_AVAILABLE, `broker ${leader} has no endpoint for listener ${listenerName}`);
  return { nodeId: leader, host: endpoint.host, port: endpoint.port, errorCode: ErrorCode.NONE, errorMessage: null };
}

function findCoordinator(key: string, keyType: number, ctx: RequestContext): Promise<Found> {
  if (keyType === COORDINATOR_KEY_TYPE_GROUP) return findGroupCoordinator(key, ctx);
  if (keyType === COORDINATOR_KEY_TYPE_TRANSACTION) {
    return Promise.resolve(notFound(ErrorCode.COORDINATOR_NOT_AVAILABLE, "bunka has no transaction coordinator yet"));
  }
  return Promise.resolve(notFound(ErrorCode.INVALID_REQUEST, `unknown coordinator key type ${keyType}`));
}

export const findCoordinatorHandler = defineHandler({
  apiKey: ApiKeys.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  async handle(request, ctx) {
    const version = ctx.apiVersion;
    const keyType = version >= 1 ? request.keyType : COORDINATOR_KEY_TYPE_GROUP;
    if (version >= 4) {
      const found = await Promise.all(request.coordinatorKeys.map((key) => findCoordinator(key, keyType, ctx)));
      return {
        ...defaultFindCoordinatorResponse(),
        coordinators: request.coordinatorKeys.map((key, i) => ({ ...defaultCoordinator(), key, ...found[i]! })),
      };
    }
    const f = await findCoordinator(request.key, keyType, ctx);
    return {
      ...defaultFindCoordinatorResponse(),
      errorCode: f.errorCode,
      errorMessage: version >= 1 ? f.errorMessage : null,
      nodeId: f.nodeId,
      host: f.host,
      port: f.port,
    };
  },
});
