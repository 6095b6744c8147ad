/**
 * The group coordinator's operations in domain terms: what handlers pass in and get back.
 * The handlers translate these to and from each Kafka API version's wire form.
 */
import type { GroupProtocol, GroupStateName } from "./group.ts";

export interface JoinGroupInput {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly GroupProtocol[];
  /** JoinGroup v4+: a new member is first given its id with MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader may be told to skip the assignment. */
  supportsSkipAssignment: boolean;
}

export interface SyncGroupInput {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** v5+: checked against the group's when not null. */
  protocolType: string | null;
  protocolName: string | null;
  assignments: readonly { memberId: string; assignment: Uint8Array }[];
}

export interface HeartbeatInput {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupOutcome {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export interface DescribedGroupInfo {
  groupId: string;
  errorCode: number;
  state: string;
  protocolType: string;
  protocolData: string;
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Uint8Array; assignment: Uint8Array }[];
}

export interface ListedGroupInfo {
  groupId: string;
  protocolType: string;
  state: GroupStateName;
  groupType: string;
}

export interface OffsetCommitInput {
  groupId: string;
  /** -1: a commit from outside the group (simple consumer / admin). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2–v4; -1: the broker's retention. */
  retentionTimeMs: number;
  apiVersion: number;
  topics: readonly {
    name: string;
    partitions: readonly {
      partitionIndex: number;
      committedOffset: number;
      committedLeaderEpoch: number;
      /** OffsetCommit v1; -1: now. */
      commitTimestampMs: number;
      committedMetadata: string | null;
    }[];
  }[];
}

export interface TopicPartitionErrors {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

export interface FetchedOffset {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchOutcome {
  errorCode: number;
  topics: { name: string; partitions: FetchedOffset[] }[];
}
