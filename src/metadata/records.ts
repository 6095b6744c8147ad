/**
 * Metadata records: the only way cluster metadata changes. The controller turns requests
 * into records; every broker replays them, in log order, into a `MetadataImage`. Single
 * node today; a Raft quorum will replicate the same log for the cluster.
 *
 * Wire form (value of one record in the `__cluster_metadata` log): UTF-8 JSON of the record
 * object, with `v` the record format version (1). The record key is the record `type`.
 * Decoding validates every field (`decodeMetadataRecord` returns null with a reason for
 * anything malformed) so a corrupt log never builds an inconsistent image silently.
 */
import { z } from "zod";
import { parseUuid, type Uuid } from "./uuid.ts";

export const METADATA_RECORD_VERSION = 1;

export type BrokerEndpoint = { name: string; host: string; port: number; securityProtocol: string };

export type MetadataRecord =
  | { type: "registerBroker"; brokerId: number; incarnationId: Uuid; brokerEpoch: number; endpoints: BrokerEndpoint[]; rack: string | null; fenced: boolean }
  | { type: "unregisterBroker"; brokerId: number; brokerEpoch: number }
  | { type: "brokerFencing"; brokerId: number; brokerEpoch: number; fenced: boolean }
  | { type: "topic"; name: string; topicId: Uuid }
  | { type: "removeTopic"; topicId: Uuid }
  | {
      type: "partition";
      topicId: Uuid;
      partition: number;
      replicas: number[];
      isr: number[];
      leader: number;
      leaderEpoch: number;
      partitionEpoch: number;
      /** An ongoing reassignment (KIP-455), absent when none: replicas being added / removed. */
      addingReplicas?: number[];
      removingReplicas?: number[];
    }
  | {
      /** A change to an existing partition; absent fields keep their value. */
      type: "partitionChange";
      topicId: Uuid;
      partition: number;
      isr?: number[];
      leader?: number;
      replicas?: number[];
      /** The reassignment's replicas being added / removed ([] ends it). */
      addingReplicas?: number[];
      removingReplicas?: number[];
    }
  | { type: "config"; resourceType: "topic" | "broker"; resourceName: string; name: string; value: string | null }
  | { type: "featureLevel"; name: string; level: number }
  | { type: "producerIds"; brokerId: number; brokerEpoch: number; nextProducerId: number }
  | {
      /** An ACL binding (acl.ts), codes as Kafka's wire values. */
      type: "acl";
      id: Uuid;
      resourceType: number;
      resourceName: string;
      patternType: number;
      principal: string;
      host: string;
      operation: number;
      permissionType: number;
    }
  | { type: "removeAcl"; id: Uuid }
  /** Changes nothing: the active controller writes one when the log was idle for metadata.max.idle.interval.ms. */
  | { type: "noOp" };

export type MetadataRecordType = MetadataRecord["type"];

const int32 = z.number().int().min(-0x8000_0000).max(0x7fff_ffff);
const nonNegInt32 = int32.min(0);
const safeInt = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const uuid = z.string().refine((s) => parseUuid(s) !== null, "not a Kafka UUID");
const brokerIds = z.array(nonNegInt32).max(10_000);

const schemas = {
  registerBroker: z.object({
    brokerId: nonNegInt32,
    incarnationId: uuid,
    brokerEpoch: safeInt,
    endpoints: z
      .array(
        z.object({
          name: z.string().min(1).max(255),
          host: z.string().max(1024),
          port: z.number().int().min(0).max(65535),
          securityProtocol: z.string().min(1).max(64),
        }),
      )
      .max(64),
    rack: z.string().max(1024).nullable(),
    fenced: z.boolean(),
  }),
  unregisterBroker: z.object({ brokerId: nonNegInt32, brokerEpoch: safeInt }),
  brokerFencing: z.object({ brokerId: nonNegInt32, brokerEpoch: safeInt, fenced: z.boolean() }),
  topic: z.object({ name: z.string().min(1).max(249), topicId: uuid }),
  removeTopic: z.object({ topicId: uuid }),
  partition: z.object({
    topicId: uuid,
    partition: nonNegInt32,
    replicas: brokerIds,
    isr: brokerIds,
    leader: int32,
    leaderEpoch: int32,
    partitionEpoch: int32,
    addingReplicas: brokerIds.optional(),
    removingReplicas: brokerIds.optional(),
  }),
  partitionChange: z.object({
    topicId: uuid,
    partition: nonNegInt32,
    isr: brokerIds.optional(),
    leader: int32.optional(),
    replicas: brokerIds.optional(),
    addingReplicas: brokerIds.optional(),
    removingReplicas: brokerIds.optional(),
  }),
  config: z.object({
    resourceType: z.enum(["topic", "broker"]),
    resourceName: z.string().max(1024),
    name: z.string().min(1).max(1024),
    value: z.string().max(1_048_576).nullable(),
  }),
  featureLevel: z.object({ name: z.string().min(1).max(255), level: z.number().int().min(0).max(0x7fff) }),
  producerIds: z.object({ brokerId: nonNegInt32, brokerEpoch: safeInt, nextProducerId: safeInt.min(0) }),
  acl: z.object({
    id: uuid,
    resourceType: z.number().int().min(0).max(127),
    resourceName: z.string().min(1).max(1024),
    patternType: z.number().int().min(0).max(127),
    principal: z.string().min(1).max(1024),
    host: z.string().min(1).max(1024),
    operation: z.number().int().min(0).max(127),
    permissionType: z.number().int().min(0).max(127),
  }),
  removeAcl: z.object({ id: uuid }),
  noOp: z.object({}),
} satisfies Record<MetadataRecordType, z.ZodTypeAny>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeMetadataRecord(record: MetadataRecord): { key: Uint8Array; value: Uint8Array } {
  return {
    key: encoder.encode(record.type),
    value: encoder.encode(JSON.stringify({ v: METADATA_RECORD_VERSION, ...record })),
  };
}

export type DecodedMetadataRecord = { ok: true; record: MetadataRecord } | { ok: false; reason: string };

export function decodeMetadataRecord(value: Uint8Array): DecodedMetadataRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(value));
  } catch (e) {
    return { ok: false, reason: `not UTF-8 JSON: ${(e as Error).message}` };
  }
  if (typeof parsed !== "object" || parsed === null) return { ok: false, reason: "not an object" };
  const { v, type, ...rest } = parsed as { v?: unknown; type?: unknown };
  if (v !== METADATA_RECORD_VERSION) return { ok: false, reason: `unknown record version ${String(v)}` };
  if (typeof type !== "string" || !(type in schemas)) return { ok: false, reason: `unknown record type ${String(type)}` };
  const schema = schemas[type as MetadataRecordType];
  const result = schema.strict().safeParse(rest);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, reason: `${type}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, record: { type, ...result.data } as MetadataRecord };
}
