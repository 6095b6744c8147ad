/**
 * The records of `__consumer_offsets`: Kafka's own key/value layouts, so the topic's bytes
 * mean the same thing to bunka, to Kafka's tools and to a Kafka broker reading them back.
 *
 * Every key and value starts with an int16 version, then the fields in Kafka's big-endian
 * protocol encoding (int16-length strings, int32-length bytes/arrays; compact forms with a
 * tagged-field section in the flexible versions, 4+ for both values):
 *
 *   key v0/v1  OffsetCommitKey     group string, topic string, partition int32
 *   key v2     GroupMetadataKey    group string
 *   value (offset commit)  OffsetCommitValue
 *     v0  offset int64, metadata string, commitTimestamp int64
 *     v1  offset int64, metadata string, commitTimestamp int64, expireTimestamp int64
 *     v2  offset int64, metadata string, commitTimestamp int64
 *     v3  offset int64, leaderEpoch int32, metadata string, commitTimestamp int64
 *     v4  as v3, compact strings, tagged fields
 *   value (group)  GroupMetadataValue
 *     protocolType string, generation int32, protocol string?, leader string?,
 *     currentStateTimestamp int64 (v2+), members [memberId string, groupInstanceId string? (v3+),
 *     clientId string, clientHost string, rebalanceTimeout int32 (v1+), sessionTimeout int32,
 *     subscription bytes, assignment bytes]; v4 flexible.
 *   value null: a tombstone (the offset or the group is deleted); compaction drops the key.
 *
 * bunka writes key v1 / value v3 for offsets (value v1 when the commit carries an explicit
 * expire timestamp, as Kafka does) and key v2 / value v3 for groups, and reads every
 * version above. Keys of other record types (KIP-848 consumer groups, share groups, ...) decode
 * as `unknown` and are skipped by replay, so a log written by a newer Kafka still loads.
 *
 * Untrusted input: every length is bounded by the remaining bytes (Reader); a malformed key
 * or value is a `CoordinatorRecordError`, never an untyped crash.
 */
import { DecodeError } from "../protocol/codec/codec-error.ts";
import { Reader } from "../protocol/codec/reader.ts";
import { Writer } from "../protocol/codec/writer.ts";

export const OFFSET_COMMIT_KEY_VERSION = 1;
export const GROUP_METADATA_KEY_VERSION = 2;
export const OFFSET_COMMIT_VALUE_VERSION = 3;
/** Written when the commit has an explicit expire timestamp (OffsetCommit v2–v4 retentionTimeMs). */
export const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1;
export const GROUP_METADATA_VALUE_VERSION = 3;
const OFFSET_COMMIT_VALUE_VERSION_MAX = 4;
const GROUP_METADATA_VALUE_VERSION_MAX = 4;

export class CoordinatorRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CoordinatorRecordError";
  }
}

export interface OffsetCommitValue {
  offset: number;
  /** -1: unknown. */
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
  /** -1: none (the group's retention applies). */
  expireTimestampMs: number;
}

export interface GroupMemberValue {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the group's selected protocol. */
  subscription: Uint8Array;
  assignment: Uint8Array;
}

export interface GroupMetadataValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  /** Wall-clock ms at which the group entered its current state; -1 unknown. */
  currentStateTimestampMs: number;
  members: GroupMemberValue[];
}

/** One logical record of `__consumer_offsets`. `value: null` is a tombstone. */
export type CoordinatorRecord =
  | { kind: "offsetCommit"; group: string; topic: string; partition: number; value: OffsetCommitValue | null }
  | { kind: "groupMetadata"; group: string; value: GroupMetadataValue | null }
  | { kind: "unknown"; keyVersion: number };

/** A record as the log holds it. */
export interface RawRecord {
  key: Uint8Array;
  value: Uint8Array | null;
}

export function offsetCommitRecord(group: string, topic: string, partition: number, value: OffsetCommitValue | null): CoordinatorRecord {
  return { kind: "offsetCommit", group, topic, partition, value };
}

export function groupMetadataRecord(group: string, value: GroupMetadataValue | null): CoordinatorRecord {
  return { kind: "groupMetadata", group, value };
}

/** The group a record belongs to (its compaction key's group), or null for unknown records. */
export function recordGroup(r: CoordinatorRecord): string | null {
  return r.kind === "unknown" ? null : r.group;
}

export function encodeRecord(r: CoordinatorRecord): RawRecord {
  switch (r.kind) {
    case "offsetCommit": {
      const k = new Writer(64);
      k.writeInt16(OFFSET_COMMIT_KEY_VERSION, "OffsetCommitKey.version");
      k.writeString(r.group, "OffsetCommitKey.group");
      k.writeString(r.topic, "OffsetCommitKey.topic");
      k.writeInt32(r.partition, "OffsetCommitKey.partition");
      return { key: k.flatten(), value: r.value === null ? null : encodeOffsetCommitValue(r.value) };
    }
    case "groupMetadata": {
      const k = new Writer(32);
      k.writeInt16(GROUP_METADATA_KEY_VERSION, "GroupMetadataKey.version");
      k.writeString(r.group, "GroupMetadataKey.group");
      return { key: k.flatten(), value: r.value === null ? null : encodeGroupMetadataValue(r.value) };
    }
    case "unknown":
      throw new Error(`encodeRecord: cannot encode an unknown record (key version ${r.keyVersion})`);
  }
}

function encodeOffsetCommitValue(v: OffsetCommitValue): Uint8Array {
  const w = new Writer(64);
  if (v.expireTimestampMs !== -1) {
    w.writeInt16(OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY, "OffsetCommitValue.version");
    w.writeInt64(v.offset, "OffsetCommitValue.offset");
    w.writeString(v.metadata, "OffsetCommitValue.metadata");
    w.writeInt64(v.commitTimestampMs, "OffsetCommitValue.commitTimestamp");
    w.writeInt64(v.expireTimestampMs, "OffsetCommitValue.expireTimestamp");
  } else {
    w.writeInt16(OFFSET_COMMIT_VALUE_VERSION, "OffsetCommitValue.version");
    w.writeInt64(v.offset, "OffsetCommitValue.offset");
    w.writeInt32(v.leaderEpoch, "OffsetCommitValue.leaderEpoch");
    w.writeString(v.metadata, "OffsetCommitValue.metadata");
    w.writeInt64(v.commitTimestampMs, "OffsetCommitValue.commitTimestamp");
  }
  return w.flatten();
}

function encodeGroupMetadataValue(v: GroupMetadataValue): Uint8Array {
  const w = new Writer(256);
  w.writeInt16(GROUP_METADATA_VALUE_VERSION, "GroupMetadataValue.version");
  w.writeString(v.protocolType, "GroupMetadataValue.protocolType");
  w.writeInt32(v.generation, "GroupMetadataValue.generation");
  w.writeNullableString(v.protocol, "GroupMetadataValue.protocol");
  w.writeNullableString(v.leader, "GroupMetadataValue.leader");
  w.writeInt64(v.currentStateTimestampMs, "GroupMetadataValue.currentStateTimestamp");
  w.writeArrayLength(v.members.length, false, "GroupMetadataValue.members");
  for (const m of v.members) {
    w.writeString(m.memberId, "MemberMetadata.memberId");
    w.writeNullableString(m.groupInstanceId, "MemberMetadata.groupInstanceId");
    w.writeString(m.clientId, "MemberMetadata.clientId");
    w.writeString(m.clientHost, "MemberMetadata.clientHost");
    w.writeInt32(m.rebalanceTimeoutMs, "MemberMetadata.rebalanceTimeout");
    w.writeInt32(m.sessionTimeoutMs, "MemberMetadata.sessionTimeout");
    w.writeBytes(m.subscription, false, false, "MemberMetadata.subscription");
    w.writeBytes(m.assignment, false, false, "MemberMetadata.assignment");
  }
  return w.flatten();
}

/** Decodes one record of the log; a malformed key or value is a CoordinatorRecordError. */
export function decodeRecord(raw: RawRecord): CoordinatorRecord {
  try {
    return decodeRecordUnchecked(raw);
  } catch (e) {
    if (e instanceof DecodeError) throw new CoordinatorRecordError(`malformed __consumer_offsets record: ${e.message}`);
    throw e;
  }
}

function decodeRecordUnchecked(raw: RawRecord): CoordinatorRecord {
  const r = new Reader(raw.key);
  if (r.remaining() < 2) throw new CoordinatorRecordError(`record key of ${raw.key.length} bytes has no version`);
  const keyVersion = r.readInt16("key.version");
  if (keyVersion === 0 || keyVersion === 1) {
    const group = r.readString("OffsetCommitKey.group");
    const topic = r.readString("OffsetCommitKey.topic");
    const partition = r.readInt32("OffsetCommitKey.partition");
    r.expectEnd("OffsetCommitKey");
    return { kind: "offsetCommit", group, topic, partition, value: raw.value === null ? null : decodeOffsetCommitValue(raw.value) };
  }
  if (keyVersion === 2) {
    const group = r.readString("GroupMetadataKey.group");
    r.expectEnd("GroupMetadataKey");
    return { kind: "groupMetadata", group, value: raw.value === null ? null : decodeGroupMetadataValue(raw.value) };
  }
  return { kind: "unknown", keyVersion };
}

function decodeOffsetCommitValue(bytes: Uint8Array): OffsetCommitValue {
  const r = new Reader(bytes);
  if (r.remaining() < 2) throw new CoordinatorRecordError(`OffsetCommitValue of ${bytes.length} bytes has no version`);
  const version = r.readInt16("OffsetCommitValue.version");
  if (version < 0 || version > OFFSET_COMMIT_VALUE_VERSION_MAX) throw new CoordinatorRecordError(`OffsetCommitValue version ${version} is unknown`);
  const flexible = version >= 4;
  const offset = r.readInt64("OffsetCommitValue.offset");
  const leaderEpoch = version >= 3 ? r.readInt32("OffsetCommitValue.leaderEpoch") : -1;
  const metadata = flexible ? r.readCompactString("OffsetCommitValue.metadata") : r.readString("OffsetCommitValue.metadata");
  const commitTimestampMs = r.readInt64("OffsetCommitValue.commitTimestamp");
  const expireTimestampMs = version === 1 ? r.readInt64("OffsetCommitValue.expireTimestamp") : -1;
  if (flexible) r.readUnknownTaggedFields("OffsetCommitValue._tagged");
  r.expectEnd("OffsetCommitValue");
  return { offset, leaderEpoch, metadata, commitTimestampMs, expireTimestampMs };
}

function decodeGroupMetadataValue(bytes: Uint8Array): GroupMetadataValue {
  const r = new Reader(bytes);
  if (r.remaining() < 2) throw new CoordinatorRecordError(`GroupMetadataValue of ${bytes.length} bytes has no version`);
  const version = r.readInt16("GroupMetadataValue.version");
  if (version < 0 || version > GROUP_METADATA_VALUE_VERSION_MAX) throw new CoordinatorRecordError(`GroupMetadataValue version ${version} is unknown`);
  const flexible = version >= 4;
  const str = (f: string): string => (flexible ? r.readCompactString(f) : r.readString(f));
  const nstr = (f: string): string | null => (flexible ? r.readCompactNullableString(f) : r.readNullableString(f));
  const bytesOf = (f: string): Uint8Array => (flexible ? r.readCompactBytes(f) : r.readBytes(f));
  const protocolType = str("GroupMetadataValue.protocolType");
  const generation = r.readInt32("GroupMetadataValue.generation");
  const protocol = nstr("GroupMetadataValue.protocol");
  const leader = nstr("GroupMetadataValue.leader");
  const currentStateTimestampMs = version >= 2 ? r.readInt64("GroupMetadataValue.currentStateTimestamp") : -1;
  // Bounds the count before allocating: a member is at least three empty strings, two int32s
  // and two empty bytes (2+2+2+4+4+4 = 18 bytes, fewer only in compact form, where 1 byte each).
  const n = r.readArrayLength(flexible, false, flexible ? 7 : 18, "GroupMetadataValue.members");
  const members: GroupMemberValue[] = [];
  for (let i = 0; i < n; i++) {
    const memberId = str("MemberMetadata.memberId");
    const groupInstanceId = version >= 3 ? nstr("MemberMetadata.groupInstanceId") : null;
    const clientId = str("MemberMetadata.clientId");
    const clientHost = str("MemberMetadata.clientHost");
    const sessionOrRebalance = r.readInt32("MemberMetadata.rebalanceTimeout");
    let rebalanceTimeoutMs: number;
    let sessionTimeoutMs: number;
    if (version >= 1) {
      rebalanceTimeoutMs = sessionOrRebalance;
      sessionTimeoutMs = r.readInt32("MemberMetadata.sessionTimeout");
    } else {
      // v0 has no rebalance timeout; Kafka uses the session timeout in its place.
      sessionTimeoutMs = sessionOrRebalance;
      rebalanceTimeoutMs = sessionOrRebalance;
    }
    const subscription = bytesOf("MemberMetadata.subscription");
    const assignment = bytesOf("MemberMetadata.assignment");
    if (flexible) r.readUnknownTaggedFields("MemberMetadata._tagged");
    members.push({ memberId, groupInstanceId, clientId, clientHost, rebalanceTimeoutMs, sessionTimeoutMs, subscription, assignment });
  }
  if (flexible) r.readUnknownTaggedFields("GroupMetadataValue._tagged");
  r.expectEnd("GroupMetadataValue");
  return { protocolType, generation, protocol, leader, currentStateTimestampMs, members };
}
