/**
 * ACL bindings: what they are, how CreateAcls/DeleteAcls/DescribeAcls filters select them,
 * and the controller decisions that add and remove them (records `acl` / `removeAcl`).
 *
 * A binding is a resource pattern (type, name, LITERAL or PREFIXED) plus an entry
 * (principal `Type:name`, host, operation, ALLOW or DENY), with an id (a Kafka UUID) given by
 * the controller. Codes are Kafka's wire values (ResourceType, PatternType, AclOperation,
 * AclPermissionType), so requests, records and the image share one form.
 *
 * Invariants: a stored binding never carries UNKNOWN/ANY/MATCH values, its resource name is
 * not empty, its principal has the `Type:name` form; two stored bindings are never equal
 * (creating one that exists succeeds and writes nothing, as Kafka does).
 */
import { ErrorCode } from "../protocol/errors.ts";
import type { ControllerContext, ControllerResult, ItemError } from "./controller.ts";
import type { MetadataRecord } from "./records.ts";
import { randomUuid, type Uuid } from "./uuid.ts";

/** Kafka's ResourceType codes. */
export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
/** Kafka's PatternType codes. */
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
/** Kafka's AclOperation codes. */
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
/** Kafka's AclPermissionType codes. */
export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

export const RESOURCE_TYPE_MAX = ResourceType.USER;
export const ACL_OPERATION_MAX = AclOperation.DESCRIBE_TOKENS;
/** The CLUSTER resource has one name. */
export const CLUSTER_RESOURCE_NAME = "kafka-cluster";
/** A LITERAL resource name that matches every resource of its type. */
export const WILDCARD_RESOURCE = "*";
/** A host that matches every client address. */
export const WILDCARD_HOST = "*";
/** The principal every user matches. */
export const WILDCARD_PRINCIPAL = "User:*";
/** Limits on a binding's strings (Kafka has none; these bound one record). */
export const ACL_NAME_BYTES_MAX = 1024;
/** ACL bindings the cluster holds at most: each is in every node's image and index. */
export const ACLS_MAX = 100_000;

/** A binding without its id: what CreateAcls asks for. */
export interface AclBindingData {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

export interface AclBinding extends AclBindingData {
  readonly id: Uuid;
}

/** DescribeAcls/DeleteAcls filter: null strings and ANY codes match everything. */
export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

const inRange = (code: number, lo: number, hi: number): boolean => Number.isInteger(code) && code >= lo && code <= hi;

/** `Type:name` with a non-empty type (Kafka's KafkaPrincipal string form). */
export function principalProblem(principal: string): string | null {
  const colon = principal.indexOf(":");
  if (colon <= 0) return `principal ${JSON.stringify(principal)} is not of the form Type:name (e.g. User:alice)`;
  return null;
}

/** Why a binding cannot be created (Kafka answers INVALID_REQUEST), or null. */
export function aclBindingProblem(b: AclBindingData): string | null {
  if (!inRange(b.resourceType, ResourceType.TOPIC, RESOURCE_TYPE_MAX)) return `invalid resource type ${b.resourceType}`;
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED) return `invalid pattern type ${b.patternType}: LITERAL or PREFIXED`;
  if (!inRange(b.operation, AclOperation.ALL, ACL_OPERATION_MAX)) return `invalid operation ${b.operation}`;
  if (b.permissionType !== AclPermission.ALLOW && b.permissionType !== AclPermission.DENY) return `invalid permission type ${b.permissionType}: ALLOW or DENY`;
  if (b.resourceName === "") return "resource name must not be empty";
  if (b.resourceType === ResourceType.CLUSTER && b.resourceName !== CLUSTER_RESOURCE_NAME) {
    return `the only valid name for the CLUSTER resource is ${CLUSTER_RESOURCE_NAME}`;
  }
  const principal = principalProblem(b.principal);
  if (principal !== null) return principal;
  if (b.host === "") return "host must not be empty (use * for every host)";
  for (const [what, s] of [["resource name", b.resourceName], ["principal", b.principal], ["host", b.host]] as const) {
    if (s.length > ACL_NAME_BYTES_MAX) return `${what} longer than ${ACL_NAME_BYTES_MAX} characters`;
  }
  return null;
}

/** Why a filter is refused (UNKNOWN codes, as Kafka refuses them), or null. */
export function aclFilterProblem(f: AclBindingFilter): string | null {
  if (!inRange(f.resourceType, ResourceType.ANY, RESOURCE_TYPE_MAX)) return `invalid resource type filter ${f.resourceType}`;
  if (!inRange(f.patternType, PatternType.ANY, PatternType.PREFIXED)) return `invalid pattern type filter ${f.patternType}`;
  if (!inRange(f.operation, AclOperation.ANY, ACL_OPERATION_MAX)) return `invalid operation filter ${f.operation}`;
  if (!inRange(f.permissionType, AclPermission.ANY, AclPermission.ALLOW)) return `invalid permission type filter ${f.permissionType}`;
  return null;
}

/** Whether `filter` selects `b` (Kafka's AclBindingFilter.matches, MATCH included). */
export function aclFilterMatches(filter: AclBindingFilter, b: AclBindingData): boolean {
  if (filter.resourceType !== ResourceType.ANY && filter.resourceType !== b.resourceType) return false;
  if (!patternFilterMatches(filter, b)) return false;
  if (filter.principal !== null && filter.principal !== b.principal) return false;
  if (filter.host !== null && filter.host !== b.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== b.operation) return false;
  return filter.permissionType === AclPermission.ANY || filter.permissionType === b.permissionType;
}

function patternFilterMatches(filter: AclBindingFilter, b: AclBindingData): boolean {
  const name = filter.resourceName;
  switch (filter.patternType) {
    case PatternType.ANY:
      return name === null || name === b.resourceName;
    case PatternType.MATCH:
      // The bindings that would apply to the resource `name` (LITERAL of it or of the
      // wildcard, PREFIXED of one of its prefixes).
      if (name === null) return true;
      if (b.patternType === PatternType.LITERAL) return b.resourceName === name || b.resourceName === WILDCARD_RESOURCE;
      return name.startsWith(b.resourceName);
    default:
      return filter.patternType === b.patternType && (name === null || name === b.resourceName);
  }
}

export function sameBinding(a: AclBindingData, b: AclBindingData): boolean {
  return (
    a.resourceType === b.resourceType &&
    a.resourceName === b.resourceName &&
    a.patternType === b.patternType &&
    a.principal === b.principal &&
    a.host === b.host &&
    a.operation === b.operation &&
    a.permissionType === b.permissionType
  );
}

/** The image-independent key of a binding's content, for duplicate checks. */
export function bindingKey(b: AclBindingData): string {
  return `${b.resourceType}\u0000${b.patternType}\u0000${b.resourceName}\u0000${b.principal}\u0000${b.host}\u0000${b.operation}\u0000${b.permissionType}`;
}

/**
 * CreateAcls on the controller: one result per creation, in order. Invalid ones get
 * INVALID_REQUEST; one that exists already succeeds without a record.
 */
export function createAcls(ctx: ControllerContext, creations: readonly AclBindingData[]): ControllerResult<ItemError[]> {
  const existing = new Set<string>();
  for (const b of ctx.image.acls.values()) existing.add(bindingKey(b));
  const records: MetadataRecord[] = [];
  let count = ctx.image.acls.size;
  const response = creations.map((c): ItemError => {
    const problem = aclBindingProblem(c);
    if (problem !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem };
    const key = bindingKey(c);
    if (existing.has(key)) return { errorCode: ErrorCode.NONE, errorMessage: null };
    if (count >= ACLS_MAX) return { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: `the cluster holds ${ACLS_MAX} ACLs, the most bunka keeps` };
    let id = randomUuid(ctx.prng);
    while (ctx.image.acls.has(id)) id = randomUuid(ctx.prng);
    existing.add(key);
    count++;
    records.push({ type: "acl", id, ...pick(c) });
    return { errorCode: ErrorCode.NONE, errorMessage: null };
  });
  return { records, response };
}

export interface DeleteAclsResult extends ItemError {
  readonly deleted: AclBinding[];
}

/**
 * DeleteAcls on the controller: each filter's matching bindings are removed (a binding two
 * filters match is removed once and reported by both, as Kafka reports it).
 */
export function deleteAcls(ctx: ControllerContext, filters: readonly AclBindingFilter[]): ControllerResult<DeleteAclsResult[]> {
  const removed = new Set<Uuid>();
  const records: MetadataRecord[] = [];
  const response = filters.map((f): DeleteAclsResult => {
    const problem = aclFilterProblem(f);
    if (problem !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, deleted: [] };
    const deleted: AclBinding[] = [];
    for (const b of ctx.image.acls.values()) {
      if (!aclFilterMatches(f, b)) continue;
      deleted.push(b);
      if (!removed.has(b.id)) {
        removed.add(b.id);
        records.push({ type: "removeAcl", id: b.id });
      }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, deleted };
  });
  return { records, response };
}

/** DescribeAcls: the bindings `filter` selects, in image order. */
export function describeAcls(acls: ReadonlyMap<Uuid, AclBinding>, filter: AclBindingFilter): AclBinding[] {
  const out: AclBinding[] = [];
  for (const b of acls.values()) if (aclFilterMatches(filter, b)) out.push(b);
  return out;
}

function pick(b: AclBindingData): AclBindingData {
  return {
    resourceType: b.resourceType,
    resourceName: b.resourceName,
    patternType: b.patternType,
    principal: b.principal,
    host: b.host,
    operation: b.operation,
    permissionType: b.permissionType,
  };
}
