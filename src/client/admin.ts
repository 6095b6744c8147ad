/**
 * Admin requests for tools that are Kafka clients (backup, mirror, the admin CLI): topic
 * configs, topic creation, consumer groups and their committed offsets. Only public Kafka
 * APIs, so they work against Apache Kafka as well as bunka.
 *
 * Routing: topic admin goes to any broker (a broker forwards to the controller); group
 * requests go to the group's coordinator (FindCoordinator, retried while the coordinator
 * loads or moves, up to `coordinatorRetriesMax` times); ListGroups asks every broker, since
 * each answers only for the groups it coordinates.
 *
 * Kafka error codes come back in values; transport failures as `ClientError` (errors.ts).
 */
import type { ClusterClient } from "./bootstrap.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { defaultAlterableConfig, defaultAlterConfigsRequest, defaultAlterConfigsResource } from "../protocol/messages/alter-configs-request.ts";
import { defaultCreatePartitionsRequest, defaultCreatePartitionsTopic } from "../protocol/messages/create-partitions-request.ts";
import { defaultCreatableTopic, defaultCreatableTopicConfig, defaultCreateTopicsRequest } from "../protocol/messages/create-topics-request.ts";
import { defaultInitProducerIdRequest } from "../protocol/messages/init-producer-id-request.ts";
import { defaultDescribeConfigsRequest, defaultDescribeConfigsResource } from "../protocol/messages/describe-configs-request.ts";
import { defaultFindCoordinatorRequest } from "../protocol/messages/find-coordinator-request.ts";
import { ApiKeys } from "../protocol/messages/index.ts";
import { defaultListGroupsRequest } from "../protocol/messages/list-groups-request.ts";
import {
  defaultOffsetCommitRequest,
  defaultOffsetCommitRequestPartition,
  defaultOffsetCommitRequestTopic,
} from "../protocol/messages/offset-commit-request.ts";
import { defaultOffsetFetchRequest } from "../protocol/messages/offset-fetch-request.ts";
import { ClientError } from "./errors.ts";
import type { KafkaFailure, PartitionResult } from "./partition-io.ts";

export const coordinatorRetriesMax = 10;
/** Wait between coordinator retries (the coordinator is loading or moving). */
export const coordinatorRetryWaitMs = 200;
/** DescribeConfigs' resource type for topics. */
const topicResourceType = 2;
/** DescribeConfigs config sources (Kafka's ConfigSource). */
export const ConfigSource = { unknown: 0, dynamicTopic: 1, dynamicBroker: 2, dynamicDefaultBroker: 3, staticBroker: 4, default: 5 } as const;

export type AdminResult<T> = PartitionResult<T>;

function kafka(errorCode: number, message: string | null): { readonly ok: false; readonly error: KafkaFailure } {
  return { ok: false, error: { errorCode, message: message ?? "" } };
}

/** A topic's configs set on the topic itself (not broker defaults), name → value. */
export async function describeTopicConfigs(cluster: ClusterClient, topic: string): Promise<AdminResult<Map<string, string | null>>> {
  const body = {
    ...defaultDescribeConfigsRequest(),
    resources: [{ ...defaultDescribeConfigsResource(), resourceType: topicResourceType, resourceName: topic, configurationKeys: null }],
  };
  const r = await cluster.sendToAny(ApiKeys.DescribeConfigs, body, { minVersion: 1 });
  if (!r.ok) return r;
  const result = r.body.results[0];
  if (result === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "DescribeConfigs answered no resource");
  if (result.errorCode !== ErrorCode.NONE) return kafka(result.errorCode, result.errorMessage);
  const out = new Map<string, string | null>();
  for (const c of result.configs) if (c.configSource === ConfigSource.dynamicTopic && !c.isSensitive) out.set(c.name, c.value);
  return { ok: true, value: out };
}

export interface NewTopic {
  readonly name: string;
  readonly numPartitions: number;
  /** -1: the broker's default. */
  readonly replicationFactor: number;
  readonly configs: ReadonlyMap<string, string | null>;
}

/** Creates one topic; TOPIC_ALREADY_EXISTS comes back as a Kafka failure like any other. */
export async function createTopic(cluster: ClusterClient, topic: NewTopic, timeoutMs = 30_000): Promise<AdminResult<{ topicId: string }>> {
  const body = {
    ...defaultCreateTopicsRequest(),
    timeoutMs,
    topics: [
      {
        ...defaultCreatableTopic(),
        name: topic.name,
        numPartitions: topic.numPartitions,
        replicationFactor: topic.replicationFactor,
        configs: [...topic.configs].map(([name, value]) => ({ ...defaultCreatableTopicConfig(), name, value })),
      },
    ],
  };
  // v4 accepts -1 for the broker's default replication factor.
  const r = await cluster.sendToAny(ApiKeys.CreateTopics, body, { minVersion: topic.replicationFactor === -1 ? 4 : 0, timeoutMs: cluster.nodes.config.requestTimeoutMs + timeoutMs });
  if (!r.ok) return r;
  const t = r.body.topics.find((x) => x.name === topic.name);
  if (t === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, `CreateTopics answer lacks ${topic.name}`);
  if (t.errorCode !== ErrorCode.NONE) return kafka(t.errorCode, t.errorMessage);
  return { ok: true, value: { topicId: t.topicId } };
}

/** Grows a topic to `count` partitions (CreatePartitions); a count not above the current one is refused by the broker. */
export async function createPartitions(cluster: ClusterClient, topic: string, count: number, timeoutMs = 30_000): Promise<AdminResult<null>> {
  const body = { ...defaultCreatePartitionsRequest(), timeoutMs, topics: [{ ...defaultCreatePartitionsTopic(), name: topic, count, assignments: null }] };
  const r = await cluster.sendToAny(ApiKeys.CreatePartitions, body, { timeoutMs: cluster.nodes.config.requestTimeoutMs + timeoutMs });
  if (!r.ok) return r;
  const t = r.body.results.find((x) => x.name === topic);
  if (t === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, `CreatePartitions answer lacks ${topic}`);
  if (t.errorCode !== ErrorCode.NONE) return kafka(t.errorCode, t.errorMessage);
  return { ok: true, value: null };
}

/**
 * Replaces a topic's own configs with `configs` (AlterConfigs: every dynamic topic config not
 * named returns to its default), as a tool that keeps one topic's configs equal to another's wants.
 */
export async function replaceTopicConfigs(cluster: ClusterClient, topic: string, configs: ReadonlyMap<string, string | null>): Promise<AdminResult<null>> {
  const body = {
    ...defaultAlterConfigsRequest(),
    resources: [
      {
        ...defaultAlterConfigsResource(),
        resourceType: topicResourceType,
        resourceName: topic,
        configs: [...configs].map(([name, value]) => ({ ...defaultAlterableConfig(), name, value })),
      },
    ],
  };
  const r = await cluster.sendToAny(ApiKeys.AlterConfigs, body);
  if (!r.ok) return r;
  const result = r.body.responses[0];
  if (result === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "AlterConfigs answered no resource");
  if (result.errorCode !== ErrorCode.NONE) return kafka(result.errorCode, result.errorMessage);
  return { ok: true, value: null };
}

/** A new idempotent producer id and epoch (InitProducerId without a transactional id). */
export async function initProducerId(cluster: ClusterClient): Promise<AdminResult<{ producerId: number; producerEpoch: number }>> {
  const body = { ...defaultInitProducerIdRequest(), transactionalId: null, transactionTimeoutMs: 60_000 };
  const r = await cluster.sendToAny(ApiKeys.InitProducerId, body);
  if (!r.ok) return r;
  if (r.body.errorCode !== ErrorCode.NONE) return kafka(r.body.errorCode, "InitProducerId");
  return { ok: true, value: { producerId: r.body.producerId, producerEpoch: r.body.producerEpoch } };
}

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly state: string;
}

/** Every consumer group the cluster knows (ListGroups to each broker). */
export async function listGroups(cluster: ClusterClient): Promise<AdminResult<ListedGroup[]>> {
  const out = new Map<string, ListedGroup>();
  for (const b of cluster.brokers) {
    const r = await cluster.send(b.nodeId, ApiKeys.ListGroups, defaultListGroupsRequest());
    if (!r.ok) return r;
    if (r.body.errorCode !== ErrorCode.NONE) return kafka(r.body.errorCode, `ListGroups on node ${b.nodeId}`);
    for (const g of r.body.groups) out.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType, state: g.groupState });
  }
  return { ok: true, value: [...out.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0)) };
}

const coordinatorMovedCodes: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR]);

/** The node id of a group's coordinator (its endpoint is registered with the node client). */
export async function findGroupCoordinator(cluster: ClusterClient, groupId: string): Promise<AdminResult<number>> {
  // v1-v3 name one key (v4+ a list); every Kafka since 0.11 serves them.
  const body = { ...defaultFindCoordinatorRequest(), key: groupId, keyType: 0 };
  const r = await cluster.sendToAny(ApiKeys.FindCoordinator, body, { minVersion: 1, maxVersion: 3 });
  if (!r.ok) return r;
  const c = { nodeId: r.body.nodeId, host: r.body.host, port: r.body.port, errorCode: r.body.errorCode, errorMessage: r.body.errorMessage };
  if (c === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "FindCoordinator answered no coordinator");
  if (c.errorCode !== ErrorCode.NONE) return kafka(c.errorCode, c.errorMessage);
  if (cluster.nodes.endpoint(c.nodeId) === undefined) cluster.nodes.setEndpoint(c.nodeId, { host: c.host, port: c.port, listenerName: "PLAINTEXT" });
  return { ok: true, value: c.nodeId };
}

async function withCoordinator<T>(cluster: ClusterClient, groupId: string, attempt: (nodeId: number) => Promise<AdminResult<T>>, sleep: (ms: number) => Promise<void>): Promise<AdminResult<T>> {
  let last: AdminResult<T> = kafka(ErrorCode.COORDINATOR_NOT_AVAILABLE, `no coordinator for group ${groupId}`);
  for (let tries = 0; tries <= coordinatorRetriesMax; tries++) {
    const c = await findGroupCoordinator(cluster, groupId);
    if (c.ok) {
      last = await attempt(c.value);
      if (last.ok || last.error instanceof ClientError || !coordinatorMovedCodes.has(last.error.errorCode)) return last;
    } else {
      last = c;
      if (c.error instanceof ClientError || !coordinatorMovedCodes.has(c.error.errorCode)) return c;
    }
    await sleep(coordinatorRetryWaitMs);
  }
  return last;
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** -1 when unknown. */
  readonly leaderEpoch: number;
  readonly metadata: string | null;
}

/** A group's committed offsets (every topic). */
export function fetchGroupOffsets(cluster: ClusterClient, groupId: string, sleep: (ms: number) => Promise<void>): Promise<AdminResult<CommittedOffset[]>> {
  return withCoordinator(cluster, groupId, async (nodeId) => {
    const body = {
      ...defaultOffsetFetchRequest(),
      groupId,
      topics: null,
    };
    // v2 is the first where null topics means every topic; v8+ batches groups (one here).
    const r = await cluster.send(nodeId, ApiKeys.OffsetFetch, body, { minVersion: 2, maxVersion: 7 });
    if (!r.ok) return r;
    const out: CommittedOffset[] = [];
    {
      if (r.body.errorCode !== ErrorCode.NONE) return kafka(r.body.errorCode, null);
      for (const t of r.body.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== ErrorCode.NONE) return kafka(p.errorCode, `${t.name}-${p.partitionIndex}`);
          if (p.committedOffset >= 0) out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.metadata });
        }
      }
    }
    return { ok: true, value: out };
  }, sleep);
}

/**
 * Commits offsets for a group as an admin (generation -1, no member): Kafka accepts it only
 * while the group has no active members.
 */
export function commitGroupOffsets(
  cluster: ClusterClient,
  groupId: string,
  offsets: readonly CommittedOffset[],
  sleep: (ms: number) => Promise<void>,
): Promise<AdminResult<null>> {
  const byTopic = new Map<string, CommittedOffset[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  return withCoordinator(cluster, groupId, async (nodeId) => {
    const body = {
      ...defaultOffsetCommitRequest(),
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [...byTopic].map(([name, list]) => ({
        ...defaultOffsetCommitRequestTopic(),
        name,
        partitions: list.map((o) => ({
          ...defaultOffsetCommitRequestPartition(),
          partitionIndex: o.partition,
          committedOffset: o.offset,
          committedLeaderEpoch: o.leaderEpoch,
          commitTimestamp: -1,
          committedMetadata: o.metadata,
        })),
      })),
    };
    const r = await cluster.send(nodeId, ApiKeys.OffsetCommit, body, { minVersion: 2 });
    if (!r.ok) return r;
    for (const t of r.body.topics) for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) return kafka(p.errorCode, `${t.name}-${p.partitionIndex}`);
    return { ok: true, value: null };
  }, sleep);
}
