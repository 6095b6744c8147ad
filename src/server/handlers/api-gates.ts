/**
 * Each API's authorization (see authorize.ts `gated`), with Kafka's operations and error
 * codes:
 * - Produce: TRANSACTIONAL_ID WRITE for a transactional producer; TOPIC WRITE per topic.
 * - Fetch: a follower (replicaId >= 0) needs CLUSTER CLUSTER_ACTION; a consumer TOPIC READ.
 * - ListOffsets, OffsetForLeaderEpoch (consumers): TOPIC DESCRIBE; followers CLUSTER_ACTION.
 * - Metadata: TOPIC DESCRIBE (unauthorized topics are left out of an all-topics answer, and
 *   answered TOPIC_AUTHORIZATION_FAILED when named); auto-creation needs CREATE on the
 *   cluster or the topic.
 * - CreateTopics: CLUSTER CREATE or TOPIC CREATE; DeleteTopics: TOPIC DELETE;
 *   CreatePartitions: TOPIC ALTER; DeleteRecords: TOPIC DELETE.
 * - DescribeConfigs / (Incremental)AlterConfigs: DESCRIBE_CONFIGS / ALTER_CONFIGS on the
 *   topic, or on the cluster for a broker (or broker logger) resource.
 * - Group APIs: GROUP READ (Join, Sync, Heartbeat, Leave, OffsetCommit), DESCRIBE
 *   (OffsetFetch, DescribeGroups, FindCoordinator), DELETE (DeleteGroups, OffsetDelete);
 *   OffsetCommit and OffsetDelete also TOPIC READ, OffsetFetch TOPIC DESCRIBE; ListGroups
 *   shows every group with CLUSTER DESCRIBE, else the groups the principal may DESCRIBE.
 * - InitProducerId: TRANSACTIONAL_ID WRITE, or for an idempotent producer CLUSTER
 *   IDEMPOTENT_WRITE or WRITE on some topic (Kafka 3+).
 * - DescribeCluster, DescribeLogDirs, DescribeQuorum, DescribeAcls: CLUSTER DESCRIBE;
 *   CreateAcls, DeleteAcls: CLUSTER ALTER.
 * - ElectLeaders, AlterPartitionReassignments, AddRaftVoter, RemoveRaftVoter: CLUSTER ALTER;
 *   ListPartitionReassignments:
 *   CLUSTER DESCRIBE.
 * Denied items are added after the handler's own, as Kafka does.
 */
import { AclOperation as Op, CLUSTER_RESOURCE_NAME, ResourceType as Res } from "../../metadata/acl.ts";
import type { Uuid } from "../../metadata/uuid.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { defaultAddRaftVoterResponse } from "../../protocol/messages/add-raft-voter-response.ts";
import { defaultCreateAclsResponse } from "../../protocol/messages/create-acls-response.ts";
import { defaultRemoveRaftVoterResponse } from "../../protocol/messages/remove-raft-voter-response.ts";
import { defaultCreatableTopicResult } from "../../protocol/messages/create-topics-response.ts";
import { defaultDeleteAclsResponse } from "../../protocol/messages/delete-acls-response.ts";
import { defaultDeleteRecordsPartitionResult } from "../../protocol/messages/delete-records-response.ts";
import { defaultDeletableTopicResult } from "../../protocol/messages/delete-topics-response.ts";
import { defaultDescribeAclsResponse } from "../../protocol/messages/describe-acls-response.ts";
import { defaultDescribeClusterResponse } from "../../protocol/messages/describe-cluster-response.ts";
import { defaultDescribeConfigsResult } from "../../protocol/messages/describe-configs-response.ts";
import { defaultDescribeLogDirsResponse } from "../../protocol/messages/describe-log-dirs-response.ts";
import { defaultDescribedGroup } from "../../protocol/messages/describe-groups-response.ts";
import { defaultDescribeQuorumResponse } from "../../protocol/messages/describe-quorum-response.ts";
import { defaultFetchResponse, defaultPartitionData } from "../../protocol/messages/fetch-response.ts";
import { defaultCoordinator, defaultFindCoordinatorResponse } from "../../protocol/messages/find-coordinator-response.ts";
import { defaultHeartbeatResponse } from "../../protocol/messages/heartbeat-response.ts";
import { defaultInitProducerIdResponse } from "../../protocol/messages/init-producer-id-response.ts";
import { defaultJoinGroupResponse } from "../../protocol/messages/join-group-response.ts";
import { defaultLeaveGroupResponse } from "../../protocol/messages/leave-group-response.ts";
import { defaultListOffsetsPartitionResponse } from "../../protocol/messages/list-offsets-response.ts";
import { defaultMetadataResponseTopic } from "../../protocol/messages/metadata-response.ts";
import { defaultOffsetCommitResponse } from "../../protocol/messages/offset-commit-response.ts";
import { defaultOffsetDeleteResponse } from "../../protocol/messages/offset-delete-response.ts";
import { defaultOffsetFetchResponse, defaultOffsetFetchResponseGroup } from "../../protocol/messages/offset-fetch-response.ts";
import { defaultEpochEndOffset } from "../../protocol/messages/offset-for-leader-epoch-response.ts";
import { defaultPartitionProduceResponse } from "../../protocol/messages/produce-response.ts";
import { defaultSyncGroupResponse } from "../../protocol/messages/sync-group-response.ts";
import { ApiKeys, type ApiKey } from "../../protocol/messages/index.ts";
import type { Authz, Gate } from "./authorize.ts";
import type { RequestContext } from "./handler.ts";

const cluster = (authz: Authz, op: number): boolean => authz.allowed(op, Res.CLUSTER, CLUSTER_RESOURCE_NAME);

/** Splits `items` by whether `ok` holds; null when every item passes (the request goes on untouched). */
function split<T>(items: readonly T[], ok: (item: T) => boolean): { allowed: T[]; denied: T[] } | null {
  const allowed: T[] = [];
  const denied: T[] = [];
  for (const item of items) (ok(item) ? allowed : denied).push(item);
  return denied.length === 0 ? null : { allowed, denied };
}

/** Config resource types (DescribeConfigs/AlterConfigs). */
const CONFIG_TOPIC = 2;
const CONFIG_BROKER = 4;
const CONFIG_BROKER_LOGGER = 8;

function configResourceAllowed(authz: Authz, op: number, resourceType: number, name: string): number {
  if (resourceType === CONFIG_TOPIC) return authz.allowed(op, Res.TOPIC, name) ? ErrorCode.NONE : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (resourceType === CONFIG_BROKER || resourceType === CONFIG_BROKER_LOGGER) return cluster(authz, op) ? ErrorCode.NONE : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  return ErrorCode.NONE;
}

function topicNameOfId(ctx: RequestContext, topicId: string): string | undefined {
  return ctx.services.metadata.image.topicsById.get(topicId as Uuid)?.name;
}

const produce: Gate<typeof ApiKeys.Produce> = (request, _ctx, authz) => {
  const deniedAll = request.transactionalId !== null && !authz.allowed(Op.WRITE, Res.TRANSACTIONAL_ID, request.transactionalId);
  const parts = split(request.topicData, (t) => !deniedAll && authz.allowed(Op.WRITE, Res.TOPIC, t.name));
  if (parts === null) return null;
  const errorCode = deniedAll ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  const denied = parts.denied.map((t) => ({
    name: t.name,
    partitionResponses: t.partitionData.map((p) => ({ ...defaultPartitionProduceResponse(), index: p.index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 })),
    _unknownTaggedFields: undefined,
  }));
  if (parts.allowed.length === 0) {
    if (request.acks === 0) return { answer: null };
    return { answer: { responses: denied, throttleTimeMs: 0, nodeEndpoints: [], _unknownTaggedFields: undefined } };
  }
  return { request: { ...request, topicData: parts.allowed }, finish: (r) => ({ ...r, responses: [...r.responses, ...denied] }) };
};

const FETCH_TOPIC_IDS_MIN = 13;

const fetch: Gate<typeof ApiKeys.Fetch> = (request, ctx, authz) => {
  const replicaId = ctx.apiVersion >= 15 ? request.replicaState.replicaId : request.replicaId;
  if (replicaId >= 0) {
    if (cluster(authz, Op.CLUSTER_ACTION)) return null;
    return { answer: { ...defaultFetchResponse(), errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, sessionId: 0 } };
  }
  const byId = ctx.apiVersion >= FETCH_TOPIC_IDS_MIN;
  const parts = split(request.topics, (t) => {
    const name = byId ? topicNameOfId(ctx, t.topicId) : t.topic;
    // An unknown topic id is the handler's to answer (UNKNOWN_TOPIC_ID).
    return name === undefined || authz.allowed(Op.READ, Res.TOPIC, name);
  });
  if (parts === null) return null;
  const denied = parts.denied.map((t) => ({
    topic: t.topic,
    topicId: t.topicId,
    partitions: t.partitions.map((p) => ({
      ...defaultPartitionData(),
      partitionIndex: p.partition,
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: -1,
      records: new Uint8Array(0),
    })),
    _unknownTaggedFields: undefined,
  }));
  if (parts.allowed.length === 0) return { answer: { ...defaultFetchResponse(), sessionId: 0, responses: denied } };
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, responses: [...r.responses, ...denied] }) };
};

const listOffsets: Gate<typeof ApiKeys.ListOffsets> = (request, _ctx, authz) => {
  if (request.replicaId >= 0 && !cluster(authz, Op.CLUSTER_ACTION)) {
    return { answer: { throttleTimeMs: 0, topics: request.topics.map((t) => deniedListOffsets(t, ErrorCode.CLUSTER_AUTHORIZATION_FAILED)), _unknownTaggedFields: undefined } };
  }
  const parts = split(request.topics, (t) => authz.allowed(Op.DESCRIBE, Res.TOPIC, t.name));
  if (parts === null) return null;
  const denied = parts.denied.map((t) => deniedListOffsets(t, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
  if (parts.allowed.length === 0) return { answer: { throttleTimeMs: 0, topics: denied, _unknownTaggedFields: undefined } };
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...r.topics, ...denied] }) };
};

function deniedListOffsets(t: { name: string; partitions: { partitionIndex: number }[] }, errorCode: number) {
  return {
    name: t.name,
    partitions: t.partitions.map((p) => ({ ...defaultListOffsetsPartitionResponse(), partitionIndex: p.partitionIndex, errorCode, timestamp: -1, offset: -1 })),
    _unknownTaggedFields: undefined,
  };
}

const offsetForLeaderEpoch: Gate<typeof ApiKeys.OffsetForLeaderEpoch> = (request, ctx, authz) => {
  const follower = ctx.apiVersion >= 3 && request.replicaId >= 0;
  const ok = (t: { topic: string }): boolean => (follower ? cluster(authz, Op.CLUSTER_ACTION) : authz.allowed(Op.DESCRIBE, Res.TOPIC, t.topic));
  const parts = split(request.topics, ok);
  if (parts === null) return null;
  const errorCode = follower ? ErrorCode.CLUSTER_AUTHORIZATION_FAILED : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  const denied = parts.denied.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p) => ({ ...defaultEpochEndOffset(), errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1 })),
    _unknownTaggedFields: undefined,
  }));
  if (parts.allowed.length === 0) return { answer: { throttleTimeMs: 0, topics: denied, _unknownTaggedFields: undefined } };
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...r.topics, ...denied] }) };
};

const metadata: Gate<typeof ApiKeys.Metadata> = (request, ctx, authz) => {
  const describable = (name: string | null): boolean => name === null || authz.allowed(Op.DESCRIBE, Res.TOPIC, name);
  const hideUndescribable = (topics: ReturnType<typeof defaultMetadataResponseTopic>[]) => topics.filter((t) => describable(t.name));
  // v0 asks for every topic with an empty list (it has no null).
  const all = request.topics === null || (ctx.apiVersion === 0 && request.topics.length === 0);
  if (all) return { request, finish: (r) => ({ ...r, topics: hideUndescribable(r.topics) }) };
  const image = ctx.services.metadata.image;
  const autoCreate = ctx.services.settings.autoCreateTopicsEnable && (ctx.apiVersion < 4 || request.allowAutoTopicCreation);
  const mayCreate = (name: string): boolean => cluster(authz, Op.CREATE) || authz.allowed(Op.CREATE, Res.TOPIC, name);
  const topics = request.topics ?? [];
  const parts = split(topics, (t) => t.name === null || (describable(t.name) && (!autoCreate || image.topic(t.name) !== undefined || mayCreate(t.name))));
  const denied = (parts?.denied ?? []).map((t) => ({ ...defaultMetadataResponseTopic(), errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name: t.name, topicId: t.topicId }));
  // Topics named by id (v10+) are resolved by the handler: hide those the principal may not see.
  const finish = (r: { topics: ReturnType<typeof defaultMetadataResponseTopic>[] }) =>
    r.topics.map((t) => (describable(t.name) ? t : { ...defaultMetadataResponseTopic(), errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, topicId: t.topicId, name: null }));
  return { request: parts === null ? request : { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...finish(r), ...denied] }) };
};

const createTopics: Gate<typeof ApiKeys.CreateTopics> = (request, _ctx, authz) => {
  if (cluster(authz, Op.CREATE)) return null;
  const parts = split(request.topics, (t) => authz.allowed(Op.CREATE, Res.TOPIC, t.name));
  if (parts === null) return null;
  const denied = parts.denied.map((t) => ({ ...defaultCreatableTopicResult(), name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, numPartitions: -1, replicationFactor: -1, configs: null }));
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...r.topics, ...denied] }) };
};

const deleteTopics: Gate<typeof ApiKeys.DeleteTopics> = (request, ctx, authz) => {
  const may = (name: string | null | undefined): boolean => name === null || name === undefined || authz.allowed(Op.DELETE, Res.TOPIC, name);
  if (ctx.apiVersion >= 6) {
    // A topic named by an unknown id is the handler's to answer (UNKNOWN_TOPIC_ID).
    const parts = split(request.topics, (t) => may(t.name ?? topicNameOfId(ctx, t.topicId)));
    if (parts === null) return null;
    const denied = parts.denied.map((t) => ({ ...defaultDeletableTopicResult(), name: t.name, topicId: t.topicId, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }));
    return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, responses: [...r.responses, ...denied] }) };
  }
  const parts = split(request.topicNames, may);
  if (parts === null) return null;
  const denied = parts.denied.map((name) => ({ ...defaultDeletableTopicResult(), name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }));
  return { request: { ...request, topicNames: parts.allowed }, finish: (r) => ({ ...r, responses: [...r.responses, ...denied] }) };
};

const createPartitions: Gate<typeof ApiKeys.CreatePartitions> = (request, _ctx, authz) => {
  const parts = split(request.topics, (t) => authz.allowed(Op.ALTER, Res.TOPIC, t.name));
  if (parts === null) return null;
  const denied = parts.denied.map((t) => ({ name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null, _unknownTaggedFields: undefined }));
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, results: [...r.results, ...denied] }) };
};

const deleteRecords: Gate<typeof ApiKeys.DeleteRecords> = (request, _ctx, authz) => {
  const parts = split(request.topics, (t) => authz.allowed(Op.DELETE, Res.TOPIC, t.name));
  if (parts === null) return null;
  const denied = parts.denied.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ ...defaultDeleteRecordsPartitionResult(), partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })),
    _unknownTaggedFields: undefined,
  }));
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...r.topics, ...denied] }) };
};

const describeConfigs: Gate<typeof ApiKeys.DescribeConfigs> = (request, _ctx, authz) => {
  const parts = split(request.resources, (r) => configResourceAllowed(authz, Op.DESCRIBE_CONFIGS, r.resourceType, r.resourceName) === ErrorCode.NONE);
  if (parts === null) return null;
  const denied = parts.denied.map((r) => ({
    ...defaultDescribeConfigsResult(),
    errorCode: configResourceAllowed(authz, Op.DESCRIBE_CONFIGS, r.resourceType, r.resourceName),
    errorMessage: null,
    resourceType: r.resourceType,
    resourceName: r.resourceName,
  }));
  return { request: { ...request, resources: parts.allowed }, finish: (r) => ({ ...r, results: [...r.results, ...denied] }) };
};

function alterConfigsGate<K extends typeof ApiKeys.AlterConfigs | typeof ApiKeys.IncrementalAlterConfigs>(): Gate<K> {
  return ((request: { resources: { resourceType: number; resourceName: string }[] }, _ctx: RequestContext, authz: Authz) => {
    const parts = split(request.resources, (r) => configResourceAllowed(authz, Op.ALTER_CONFIGS, r.resourceType, r.resourceName) === ErrorCode.NONE);
    if (parts === null) return null;
    const denied = parts.denied.map((r) => ({
      errorCode: configResourceAllowed(authz, Op.ALTER_CONFIGS, r.resourceType, r.resourceName),
      errorMessage: null,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      _unknownTaggedFields: undefined,
    }));
    return {
      request: { ...request, resources: parts.allowed },
      finish: (r: { responses: unknown[] }) => ({ ...r, responses: [...r.responses, ...denied] }),
    };
  }) as unknown as Gate<K>;
}

const groupRead = (authz: Authz, groupId: string): boolean => authz.allowed(Op.READ, Res.GROUP, groupId);
const GROUP_DENIED = ErrorCode.GROUP_AUTHORIZATION_FAILED;

const joinGroup: Gate<typeof ApiKeys.JoinGroup> = (request, _ctx, authz) =>
  groupRead(authz, request.groupId) ? null : { answer: { ...defaultJoinGroupResponse(), errorCode: GROUP_DENIED, generationId: -1, memberId: request.memberId } };
const syncGroup: Gate<typeof ApiKeys.SyncGroup> = (request, _ctx, authz) => (groupRead(authz, request.groupId) ? null : { answer: { ...defaultSyncGroupResponse(), errorCode: GROUP_DENIED } });
const heartbeat: Gate<typeof ApiKeys.Heartbeat> = (request, _ctx, authz) => (groupRead(authz, request.groupId) ? null : { answer: { ...defaultHeartbeatResponse(), errorCode: GROUP_DENIED } });
const leaveGroup: Gate<typeof ApiKeys.LeaveGroup> = (request, _ctx, authz) => (groupRead(authz, request.groupId) ? null : { answer: { ...defaultLeaveGroupResponse(), errorCode: GROUP_DENIED } });

const offsetCommit: Gate<typeof ApiKeys.OffsetCommit> = (request, _ctx, authz) => {
  const deniedAll = !groupRead(authz, request.groupId);
  const parts = split(request.topics, (t) => !deniedAll && authz.allowed(Op.READ, Res.TOPIC, t.name));
  if (parts === null) return null;
  const errorCode = deniedAll ? GROUP_DENIED : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  const denied = parts.denied.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, _unknownTaggedFields: undefined })),
    _unknownTaggedFields: undefined,
  }));
  if (parts.allowed.length === 0) return { answer: { ...defaultOffsetCommitResponse(), topics: denied } };
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...r.topics, ...denied] }) };
};

const OFFSET_FETCH_GROUPS_MIN = 8;
const OFFSET_FETCH_ERROR_CODE_MIN = 2;

function deniedOffsetTopics(topics: readonly { name: string; partitionIndexes: number[] }[], errorCode: number) {
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode, _unknownTaggedFields: undefined })),
    _unknownTaggedFields: undefined,
  }));
}

const offsetFetch: Gate<typeof ApiKeys.OffsetFetch> = (request, ctx, authz) => {
  const describable = (t: { name: string }): boolean => authz.allowed(Op.DESCRIBE, Res.TOPIC, t.name);
  const groupOk = (g: string): boolean => authz.allowed(Op.DESCRIBE, Res.GROUP, g);
  if (ctx.apiVersion < OFFSET_FETCH_GROUPS_MIN) {
    if (!groupOk(request.groupId)) {
      if (ctx.apiVersion >= OFFSET_FETCH_ERROR_CODE_MIN) return { answer: { ...defaultOffsetFetchResponse(), errorCode: GROUP_DENIED } };
      return { answer: { ...defaultOffsetFetchResponse(), topics: deniedOffsetTopics(request.topics ?? [], GROUP_DENIED) } };
    }
    if (request.topics === null) return { request, finish: (r) => ({ ...r, topics: r.topics.filter(describable) }) };
    const parts = split(request.topics, describable);
    if (parts === null) return null;
    const denied = deniedOffsetTopics(parts.denied, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...r.topics, ...denied] }) };
  }
  const deniedGroups = request.groups.filter((g) => !groupOk(g.groupId)).map((g) => ({ ...defaultOffsetFetchResponseGroup(), groupId: g.groupId, errorCode: GROUP_DENIED }));
  const deniedTopics = new Map<string, ReturnType<typeof deniedOffsetTopics>>();
  const groups = request.groups
    .filter((g) => groupOk(g.groupId))
    .map((g) => {
      if (g.topics === null) return g;
      const parts = split(g.topics, describable);
      if (parts === null) return g;
      deniedTopics.set(g.groupId, deniedOffsetTopics(parts.denied, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
      return { ...g, topics: parts.allowed };
    });
  return {
    request: { ...request, groups },
    finish: (r) => ({
      ...r,
      groups: [...r.groups.map((g) => ({ ...g, topics: [...g.topics.filter(describable), ...(deniedTopics.get(g.groupId) ?? [])] })), ...deniedGroups],
    }),
  };
};

const offsetDelete: Gate<typeof ApiKeys.OffsetDelete> = (request, _ctx, authz) => {
  if (!authz.allowed(Op.DELETE, Res.GROUP, request.groupId)) return { answer: { ...defaultOffsetDeleteResponse(), errorCode: GROUP_DENIED } };
  const parts = split(request.topics, (t) => authz.allowed(Op.READ, Res.TOPIC, t.name));
  if (parts === null) return null;
  const denied = parts.denied.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, _unknownTaggedFields: undefined })),
    _unknownTaggedFields: undefined,
  }));
  return { request: { ...request, topics: parts.allowed }, finish: (r) => ({ ...r, topics: [...r.topics, ...denied] }) };
};

const describeGroups: Gate<typeof ApiKeys.DescribeGroups> = (request, _ctx, authz) => {
  const parts = split(request.groups, (g) => authz.allowed(Op.DESCRIBE, Res.GROUP, g));
  if (parts === null) return null;
  const denied = parts.denied.map((groupId) => ({ ...defaultDescribedGroup(), groupId, errorCode: GROUP_DENIED }));
  return { request: { ...request, groups: parts.allowed }, finish: (r) => ({ ...r, groups: [...r.groups, ...denied] }) };
};

const deleteGroups: Gate<typeof ApiKeys.DeleteGroups> = (request, _ctx, authz) => {
  const parts = split(request.groupsNames, (g) => authz.allowed(Op.DELETE, Res.GROUP, g));
  if (parts === null) return null;
  const denied = parts.denied.map((groupId) => ({ groupId, errorCode: GROUP_DENIED, _unknownTaggedFields: undefined }));
  return { request: { ...request, groupsNames: parts.allowed }, finish: (r) => ({ ...r, results: [...r.results, ...denied] }) };
};

const listGroups: Gate<typeof ApiKeys.ListGroups> = (request, _ctx, authz) => {
  if (cluster(authz, Op.DESCRIBE)) return null;
  return { request, finish: (r) => ({ ...r, groups: r.groups.filter((g) => authz.allowed(Op.DESCRIBE, Res.GROUP, g.groupId)) }) };
};

const KEY_TYPE_TRANSACTION = 1;
const FIND_COORDINATOR_KEYS_MIN = 4;

const findCoordinator: Gate<typeof ApiKeys.FindCoordinator> = (request, ctx, authz) => {
  const txn = request.keyType === KEY_TYPE_TRANSACTION;
  const ok = (key: string): boolean => authz.allowed(Op.DESCRIBE, txn ? Res.TRANSACTIONAL_ID : Res.GROUP, key);
  const errorCode = txn ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : GROUP_DENIED;
  if (ctx.apiVersion < FIND_COORDINATOR_KEYS_MIN) {
    return ok(request.key) ? null : { answer: { ...defaultFindCoordinatorResponse(), errorCode, nodeId: -1, host: "", port: -1 } };
  }
  const parts = split(request.coordinatorKeys, ok);
  if (parts === null) return null;
  const denied = parts.denied.map((key) => ({ ...defaultCoordinator(), key, nodeId: -1, host: "", port: -1, errorCode }));
  if (parts.allowed.length === 0) return { answer: { ...defaultFindCoordinatorResponse(), coordinators: denied } };
  return { request: { ...request, coordinatorKeys: parts.allowed }, finish: (r) => ({ ...r, coordinators: [...r.coordinators, ...denied] }) };
};

const initProducerId: Gate<typeof ApiKeys.InitProducerId> = (request, _ctx, authz) => {
  const deny = (errorCode: number) => ({ answer: { ...defaultInitProducerIdResponse(), errorCode, producerId: -1, producerEpoch: -1 } });
  if (request.transactionalId !== null) {
    return authz.allowed(Op.WRITE, Res.TRANSACTIONAL_ID, request.transactionalId) ? null : deny(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  }
  if (cluster(authz, Op.IDEMPOTENT_WRITE) || authz.allowedOnSomeOf(Op.WRITE, Res.TOPIC)) return null;
  return deny(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
};

const describeCluster: Gate<typeof ApiKeys.DescribeCluster> = (_request, _ctx, authz) =>
  cluster(authz, Op.DESCRIBE) ? null : { answer: { ...defaultDescribeClusterResponse(), errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null } };

const DESCRIBE_LOG_DIRS_ERROR_CODE_MIN = 3;
const describeLogDirs: Gate<typeof ApiKeys.DescribeLogDirs> = (_request, ctx, authz) => {
  if (cluster(authz, Op.DESCRIBE)) return null;
  const errorCode = ctx.apiVersion >= DESCRIBE_LOG_DIRS_ERROR_CODE_MIN ? ErrorCode.CLUSTER_AUTHORIZATION_FAILED : ErrorCode.NONE;
  return { answer: { ...defaultDescribeLogDirsResponse(), errorCode, results: [] } };
};

const describeQuorum: Gate<typeof ApiKeys.DescribeQuorum> = (_request, _ctx, authz) =>
  cluster(authz, Op.DESCRIBE) ? null : { answer: { ...defaultDescribeQuorumResponse(), errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null } };

const describeAcls: Gate<typeof ApiKeys.DescribeAcls> = (_request, _ctx, authz) =>
  cluster(authz, Op.DESCRIBE) ? null : { answer: { ...defaultDescribeAclsResponse(), errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null } };

const createAcls: Gate<typeof ApiKeys.CreateAcls> = (request, _ctx, authz) =>
  cluster(authz, Op.ALTER)
    ? null
    : { answer: { ...defaultCreateAclsResponse(), results: request.creations.map(() => ({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, _unknownTaggedFields: undefined })) } };

const deleteAcls: Gate<typeof ApiKeys.DeleteAcls> = (request, _ctx, authz) =>
  cluster(authz, Op.ALTER)
    ? null
    : {
        answer: {
          ...defaultDeleteAclsResponse(),
          filterResults: request.filters.map(() => ({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, matchingAcls: [], _unknownTaggedFields: undefined })),
        },
      };

const electLeaders: Gate<typeof ApiKeys.ElectLeaders> = (_request, _ctx, authz) =>
  cluster(authz, Op.ALTER) ? null : { answer: { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, replicaElectionResults: [] } };

const alterPartitionReassignments: Gate<typeof ApiKeys.AlterPartitionReassignments> = (_request, _ctx, authz) =>
  cluster(authz, Op.ALTER) ? null : { answer: { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, responses: [] } };

const listPartitionReassignments: Gate<typeof ApiKeys.ListPartitionReassignments> = (_request, _ctx, authz) =>
  cluster(authz, Op.DESCRIBE) ? null : { answer: { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, topics: [] } };

const addRaftVoter: Gate<typeof ApiKeys.AddRaftVoter> = (_request, _ctx, authz) =>
  cluster(authz, Op.ALTER) ? null : { answer: { ...defaultAddRaftVoterResponse(), errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED } };

const removeRaftVoter: Gate<typeof ApiKeys.RemoveRaftVoter> = (_request, _ctx, authz) =>
  cluster(authz, Op.ALTER) ? null : { answer: { ...defaultRemoveRaftVoterResponse(), errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED } };

/** The gate of every API that has one. */
export const apiGates: { readonly [K in ApiKey]?: Gate<K> } = {
  [ApiKeys.Produce]: produce,
  [ApiKeys.Fetch]: fetch,
  [ApiKeys.ListOffsets]: listOffsets,
  [ApiKeys.OffsetForLeaderEpoch]: offsetForLeaderEpoch,
  [ApiKeys.Metadata]: metadata,
  [ApiKeys.CreateTopics]: createTopics,
  [ApiKeys.DeleteTopics]: deleteTopics,
  [ApiKeys.CreatePartitions]: createPartitions,
  [ApiKeys.DeleteRecords]: deleteRecords,
  [ApiKeys.DescribeConfigs]: describeConfigs,
  [ApiKeys.AlterConfigs]: alterConfigsGate<typeof ApiKeys.AlterConfigs>(),
  [ApiKeys.IncrementalAlterConfigs]: alterConfigsGate<typeof ApiKeys.IncrementalAlterConfigs>(),
  [ApiKeys.JoinGroup]: joinGroup,
  [ApiKeys.SyncGroup]: syncGroup,
  [ApiKeys.Heartbeat]: heartbeat,
  [ApiKeys.LeaveGroup]: leaveGroup,
  [ApiKeys.OffsetCommit]: offsetCommit,
  [ApiKeys.OffsetFetch]: offsetFetch,
  [ApiKeys.OffsetDelete]: offsetDelete,
  [ApiKeys.DescribeGroups]: describeGroups,
  [ApiKeys.DeleteGroups]: deleteGroups,
  [ApiKeys.ListGroups]: listGroups,
  [ApiKeys.FindCoordinator]: findCoordinator,
  [ApiKeys.InitProducerId]: initProducerId,
  [ApiKeys.DescribeCluster]: describeCluster,
  [ApiKeys.DescribeLogDirs]: describeLogDirs,
  [ApiKeys.DescribeQuorum]: describeQuorum,
  [ApiKeys.DescribeAcls]: describeAcls,
  [ApiKeys.CreateAcls]: createAcls,
  [ApiKeys.DeleteAcls]: deleteAcls,
  [ApiKeys.ElectLeaders]: electLeaders,
  [ApiKeys.AddRaftVoter]: addRaftVoter,
  [ApiKeys.RemoveRaftVoter]: removeRaftVoter,
  [ApiKeys.AlterPartitionReassignments]: alterPartitionReassignments,
  [ApiKeys.ListPartitionReassignments]: listPartitionReassignments,
};
