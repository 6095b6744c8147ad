/**
 * DescribeAcls (key 29), v0–v3: the bindings of this node's metadata image that the filter
 * selects (metadata/acl.ts `aclFilterMatches`; MATCH selects the bindings that apply to a
 * resource, ANY every pattern type), grouped by resource pattern in creation order. Served
 * by any node from its own image, as Kafka serves it from its authorizer's copy. v0 has no
 * pattern type: its filter is LITERAL. An UNKNOWN code in the filter is INVALID_REQUEST;
 * without an authorizer the answer is SECURITY_DISABLED.
 */
import { aclFilterProblem, describeAcls } from "../../metadata/acl.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { type DescribeAclsResource, defaultDescribeAclsResponse } from "../../protocol/messages/describe-acls-response.ts";
import { NO_AUTHORIZER_MESSAGE } from "./create-acls.ts";
import { defineHandler } from "./handler.ts";

export const describeAclsHandler = defineHandler({
  apiKey: ApiKeys.DescribeAcls,
  minVersion: 0,
  maxVersion: 3,
  handle(request, ctx) {
    const fail = (errorCode: number, errorMessage: string) => ({ ...defaultDescribeAclsResponse(), errorCode, errorMessage });
    if (ctx.services.authorizer === undefined) return fail(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER_MESSAGE);
    const filter = {
      resourceType: request.resourceTypeFilter,
      resourceName: request.resourceNameFilter,
      patternType: request.patternTypeFilter,
      principal: request.principalFilter,
      host: request.hostFilter,
      operation: request.operation,
      permissionType: request.permissionType,
    };
    const problem = aclFilterProblem(filter);
    if (problem !== null) return fail(ErrorCode.INVALID_REQUEST, problem);
    const resources = new Map<string, DescribeAclsResource>();
    for (const b of describeAcls(ctx.services.metadata.image.acls, filter)) {
      const key = `${b.resourceType}\u0000${b.patternType}\u0000${b.resourceName}`;
      let resource = resources.get(key);
      if (resource === undefined) {
        resource = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [], _unknownTaggedFields: undefined };
        resources.set(key, resource);
      }
      resource.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permissionType, _unknownTaggedFields: undefined });
    }
    return { ...defaultDescribeAclsResponse(), errorMessage: null, resources: [...resources.values()] };
  },
});
