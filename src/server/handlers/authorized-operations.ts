/**
 * The authorized-operations bit sets that Metadata (topics v8+, cluster v8–v10), DescribeCluster
 * and DescribeGroups (v3+) answer when a client asks for them: bit `op` is set when the
 * connection's principal may do operation `op` (Kafka's AclOperation codes) on the resource.
 * Each resource type offers the operations Kafka lists for it. Without an authorizer every
 * operation is allowed; with one, each is asked of it (so implied operations — DESCRIBE by
 * READ, WRITE, DELETE or ALTER — count as the authorizer counts them).
 */
import { AclOperation as Op, ResourceType as Res } from "../../metadata/acl.ts";
import { subjectOf } from "./authorize.ts";
import type { RequestContext } from "./handler.ts";

/** Kafka's "authorized operations not requested" sentinel (INT32 min). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

const operationsOf: ReadonlyMap<number, readonly number[]> = new Map([
  [Res.TOPIC, [Op.READ, Op.WRITE, Op.CREATE, Op.DELETE, Op.ALTER, Op.DESCRIBE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS]],
  [Res.GROUP, [Op.READ, Op.DELETE, Op.DESCRIBE]],
  [Res.CLUSTER, [Op.CREATE, Op.ALTER, Op.DESCRIBE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE]],
]);

/** The bit set of operations the request's principal may do on (`resourceType`, `name`). */
export function authorizedOperations(ctx: RequestContext, resourceType: number, name: string): number {
  const ops = operationsOf.get(resourceType);
  if (ops === undefined) throw new Error(`authorizedOperations: resource type ${resourceType} has no operation set`);
  const authorizer = ctx.services.authorizer;
  const subject = authorizer === undefined ? null : subjectOf(ctx);
  let bits = 0;
  for (const op of ops) if (authorizer === undefined || authorizer.authorize(subject!, op, resourceType, name)) bits |= 1 << op;
  return bits;
}
