/**
 * The admin CLI's Kafka requests, on the project's client (src/client/): only public Kafka
 * APIs, so `bunka topics ...` works against Apache Kafka as well as bunka. Each function
 * returns a value or a failure (a transport `ClientError` or a Kafka error code with its
 * message); nothing throws for a condition the cluster reports.
 *
 * Bounds: a consumer-protocol assignment is read with every length checked against the bytes
 * left (a broker's answer is input like any other).
 */
import type { ClusterClient } from "../../client/bootstrap.ts";
import { ClientError } from "../../client/errors.ts";
import { findGroupCoordinator, type AdminResult } from "../../client/admin.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDescribeConfigsRequest, defaultDescribeConfigsResource } from "../../protocol/messages/describe-configs-request.ts";
import { defaultListOffsetsPartition, defaultListOffsetsRequest, defaultListOffsetsTopic } from "../../protocol/messages/list-offsets-request.ts";
import { defaultMetadataRequest, defaultMetadataRequestTopic } from "../../protocol/messages/metadata-request.ts";
import { defaultDescribeClusterRequest } from "../../protocol/messages/describe-cluster-request.ts";
import { defaultDescribeQuorumRequest, defaultPartitionData, defaultTopicData } from "../../protocol/messages/describe-quorum-request.ts";
import { defaultDescribeLogDirsRequest } from "../../protocol/messages/describe-log-dirs-request.ts";
import { defaultDeleteTopicsRequest, defaultDeleteTopicState } from "../../protocol/messages/delete-topics-request.ts";
import { defaultDescribeGroupsRequest } from "../../protocol/messages/describe-groups-request.ts";
import { defaultDeleteGroupsRequest } from "../../protocol/messages/delete-groups-request.ts";
import { defaultCreatePartitionsRequest, defaultCreatePartitionsTopic } from "../../protocol/messages/create-partitions-request.ts";
import { defaultAlterableConfig, defaultAlterConfigsResource, defaultIncrementalAlterConfigsRequest } from "../../protocol/messages/incremental-alter-configs-request.ts";
import type { MetadataResponse } from "../../protocol/messages/metadata-response.ts";
import type { DescribeQuorumResponse } from "../../protocol/messages/describe-quorum-response.ts";
import type { DescribeClusterResponse } from "../../protocol/messages/describe-cluster-response.ts";
import type { DescribeLogDirsResult } from "../../protocol/messages/describe-log-dirs-response.ts";

export const topicResourceType = 2;
export const brokerResourceType = 4;
/** IncrementalAlterConfigs operations. */
export const ConfigOp = { set: 0, delete: 1 } as const;

function kafka(errorCode: number, message: string | null): { readonly ok: false; readonly error: { errorCode: number; message: string } } {
  return { ok: false, error: { errorCode, message: message ?? "" } };
}

/** Metadata of `topics` (null: every topic), with partitions' leaders, replicas and ISR. */
export async function describeTopics(cluster: ClusterClient, topics: readonly string[] | null): Promise<AdminResult<MetadataResponse>> {
  const body = { ...defaultMetadataRequest(), topics: topics === null ? null : topics.map((name) => ({ ...defaultMetadataRequestTopic(), name })), allowAutoTopicCreation: false };
  const r = await cluster.sendToAny(ApiKeys.Metadata, body, { minVersion: 1 });
  if (!r.ok) return r;
  return { ok: true, value: r.body };
}

export interface ConfigEntry {
  readonly name: string;
  readonly value: string | null;
  /** Kafka's ConfigSource number; 1 = set on the topic. */
  readonly source: number;
  readonly sensitive: boolean;
}

export async function describeConfigs(cluster: ClusterClient, resourceType: number, name: string): Promise<AdminResult<ConfigEntry[]>> {
  const body = { ...defaultDescribeConfigsRequest(), resources: [{ ...defaultDescribeConfigsResource(), resourceType, resourceName: name, configurationKeys: null }] };
  const r = await cluster.sendToAny(ApiKeys.DescribeConfigs, body, { minVersion: 1 });
  if (!r.ok) return r;
  const result = r.body.results[0];
  if (result === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "DescribeConfigs answered no resource");
  if (result.errorCode !== ErrorCode.NONE) return kafka(result.errorCode, result.errorMessage);
  return { ok: true, value: result.configs.map((c) => ({ name: c.name, value: c.isSensitive ? null : c.value, source: c.configSource, sensitive: c.isSensitive })) };
}

export async function deleteTopics(cluster: ClusterClient, names: readonly string[], timeoutMs: number): Promise<AdminResult<{ name: string; errorCode: number; message: string | null }[]>> {
  const r = await cluster.sendToAny(ApiKeys.DeleteTopics, { ...defaultDeleteTopicsRequest(), topics: names.map((name) => ({ ...defaultDeleteTopicState(), name })), topicNames: [...names], timeoutMs }, { minVersion: 1, timeoutMs: cluster.nodes.config.requestTimeoutMs + timeoutMs });
  if (!r.ok) return r;
  return { ok: true, value: r.body.responses.map((t) => ({ name: t.name ?? "", errorCode: t.errorCode, message: t.errorMessage })) };
}

export async function createPartitions(cluster: ClusterClient, topic: string, count: number, timeoutMs: number): Promise<AdminResult<null>> {
  const r = await cluster.sendToAny(ApiKeys.CreatePartitions, { ...defaultCreatePartitionsRequest(), topics: [{ ...defaultCreatePartitionsTopic(), name: topic, count, assignments: null }], timeoutMs }, { timeoutMs: cluster.nodes.config.requestTimeoutMs + timeoutMs });
  if (!r.ok) return r;
  const t = r.body.results[0];
  if (t === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "CreatePartitions answered no topic");
  if (t.errorCode !== ErrorCode.NONE) return kafka(t.errorCode, t.errorMessage);
  return { ok: true, value: null };
}

export async function alterConfigs(cluster: ClusterClient, resourceType: number, name: string, changes: readonly { name: string; op: number; value: string | null }[]): Promise<AdminResult<null>> {
  const body = {
    ...defaultIncrementalAlterConfigsRequest(),
    resources: [{ ...defaultAlterConfigsResource(), resourceType, resourceName: name, configs: changes.map((c) => ({ ...defaultAlterableConfig(), name: c.name, configOperation: c.op, value: c.value })) }],
  };
  const r = await cluster.sendToAny(ApiKeys.IncrementalAlterConfigs, body);
  if (!r.ok) return r;
  const res = r.body.responses[0];
  if (res === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "IncrementalAlterConfigs answered no resource");
  if (res.errorCode !== ErrorCode.NONE) return kafka(res.errorCode, res.errorMessage);
  return { ok: true, value: null };
}

/** Offsets of many partitions at once (`spec`: -2 earliest, -1 latest, else a timestamp), grouped by leader. */
export async function listOffsets(cluster: ClusterClient, partitions: readonly { topic: string; partition: number }[], spec: number): Promise<AdminResult<Map<string, number>>> {
  const byLeader = new Map<number, { topic: string; partition: number }[]>();
  const md = await describeTopics(cluster, [...new Set(partitions.map((p) => p.topic))]);
  if (!md.ok) return md;
  for (const p of partitions) {
    const leader = md.value.topics.find((t) => t.name === p.topic)?.partitions.find((x) => x.partitionIndex === p.partition)?.leaderId ?? -1;
    if (leader < 0) return kafka(ErrorCode.LEADER_NOT_AVAILABLE, `${p.topic}-${p.partition} has no leader`);
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
  }
  const out = new Map<string, number>();
  for (const [leader, list] of byLeader) {
    const topics = new Map<string, number[]>();
    for (const p of list) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
    const body = {
      ...defaultListOffsetsRequest(),
      replicaId: -1,
      topics: [...topics].map(([name, ps]) => ({ ...defaultListOffsetsTopic(), name, partitions: ps.map((partitionIndex) => ({ ...defaultListOffsetsPartition(), partitionIndex, timestamp: spec })) })),
    };
    const r = await cluster.send(leader, ApiKeys.ListOffsets, body, { minVersion: 1 });
    if (!r.ok) return r;
    for (const t of r.body.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) return kafka(p.errorCode, `${t.name}-${p.partitionIndex}`);
        out.set(`${t.name}\u0000${p.partitionIndex}`, p.offset);
      }
    }
  }
  return { ok: true, value: out };
}

export function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export interface GroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly assignment: { topic: string; partitions: number[] }[];
}

export interface GroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  readonly protocol: string;
  readonly coordinator: number;
  readonly members: GroupMember[];
}

export async function describeGroup(cluster: ClusterClient, groupId: string): Promise<AdminResult<GroupDescription>> {
  const c = await findGroupCoordinator(cluster, groupId);
  if (!c.ok) return c;
  const r = await cluster.send(c.value, ApiKeys.DescribeGroups, { ...defaultDescribeGroupsRequest(), groups: [groupId] });
  if (!r.ok) return r;
  const g = r.body.groups[0];
  if (g === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "DescribeGroups answered no group");
  if (g.errorCode !== ErrorCode.NONE) return kafka(g.errorCode, null);
  const members = g.members.map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    assignment: g.protocolType === "consumer" ? (decodeAssignment(m.memberAssignment) ?? []) : [],
  }));
  return { ok: true, value: { groupId: g.groupId, state: g.groupState, protocolType: g.protocolType, protocol: g.protocolData, coordinator: c.value, members } };
}

/** A consumer-protocol assignment (version, [topic, [partition]], user data); null when malformed. */
export function decodeAssignment(bytes: Uint8Array): { topic: string; partitions: number[] }[] | null {
  if (bytes.length < 6) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 2; // version
  const need = (n: number): boolean => p + n <= bytes.length;
  if (!need(4)) return null;
  const topics = view.getInt32(p);
  p += 4;
  if (topics < 0 || topics > bytes.length) return null;
  const out: { topic: string; partitions: number[] }[] = [];
  for (let i = 0; i < topics; i++) {
    if (!need(2)) return null;
    const len = view.getInt16(p);
    p += 2;
    if (len < 0 || !need(len)) return null;
    const topic = new TextDecoder().decode(bytes.subarray(p, p + len));
    p += len;
    if (!need(4)) return null;
    const n = view.getInt32(p);
    p += 4;
    if (n < 0 || !need(n * 4)) return null;
    const partitions: number[] = [];
    for (let j = 0; j < n; j++, p += 4) partitions.push(view.getInt32(p));
    out.push({ topic, partitions });
  }
  return out;
}

export async function deleteGroups(cluster: ClusterClient, groupId: string): Promise<AdminResult<null>> {
  const c = await findGroupCoordinator(cluster, groupId);
  if (!c.ok) return c;
  const r = await cluster.send(c.value, ApiKeys.DeleteGroups, { ...defaultDeleteGroupsRequest(), groupsNames: [groupId] });
  if (!r.ok) return r;
  const g = r.body.results[0];
  if (g === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "DeleteGroups answered no group");
  if (g.errorCode !== ErrorCode.NONE) return kafka(g.errorCode, null);
  return { ok: true, value: null };
}

export async function describeCluster(cluster: ClusterClient): Promise<AdminResult<DescribeClusterResponse>> {
  const r = await cluster.sendToAny(ApiKeys.DescribeCluster, { ...defaultDescribeClusterRequest(), endpointType: 1 }, { minVersion: 0 });
  if (!r.ok) return r;
  if (r.body.errorCode !== ErrorCode.NONE) return kafka(r.body.errorCode, r.body.errorMessage);
  return { ok: true, value: r.body };
}

export async function describeQuorum(cluster: ClusterClient): Promise<AdminResult<DescribeQuorumResponse>> {
  const r = await cluster.sendToAny(ApiKeys.DescribeQuorum, { ...defaultDescribeQuorumRequest(), topics: [{ ...defaultTopicData(), topicName: "__cluster_metadata", partitions: [{ ...defaultPartitionData(), partitionIndex: 0 }] }] });
  if (!r.ok) return r;
  if (r.body.errorCode !== ErrorCode.NONE) return kafka(r.body.errorCode, r.body.errorMessage);
  const p = r.body.topics[0]?.partitions[0];
  if (p === undefined) return kafka(ErrorCode.UNKNOWN_SERVER_ERROR, "DescribeQuorum answered no partition");
  if (p.errorCode !== ErrorCode.NONE) return kafka(p.errorCode, p.errorMessage);
  return { ok: true, value: r.body };
}

export async function describeLogDirs(cluster: ClusterClient, brokerId: number): Promise<AdminResult<DescribeLogDirsResult[]>> {
  const r = await cluster.send(brokerId, ApiKeys.DescribeLogDirs, { ...defaultDescribeLogDirsRequest(), topics: null });
  if (!r.ok) return r;
  if (r.body.errorCode !== ErrorCode.NONE) return kafka(r.body.errorCode, null);
  return { ok: true, value: r.body.results };
}

export function isClientError(e: unknown): e is ClientError {
  return e instanceof ClientError;
}
