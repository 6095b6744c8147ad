/**
 * DeleteAcls (key 31), v0–v3: removes the bindings each filter selects, through the
 * controller (metadata/acl.ts `deleteAcls`: forwarded to the active controller). One result
 * per filter, in order, listing the bindings it removed; a filter with an UNKNOWN code gets
 * INVALID_REQUEST. v0 has no pattern type: its filters are LITERAL. Without an authorizer
 * every filter gets SECURITY_DISABLED.
 */
import { deleteAcls } from "../../metadata/acl.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDeleteAclsResponse } from "../../protocol/messages/delete-acls-response.ts";
import { NO_AUTHORIZER_MESSAGE } from "./create-acls.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler } from "./handler.ts";

export const deleteAclsHandler = defineHandler({
  apiKey: ApiKeys.DeleteAcls,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const failAll = (errorCode: number, errorMessage: string) => ({
      ...defaultDeleteAclsResponse(),
      filterResults: request.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [], _unknownTaggedFields: undefined })),
    });
    if (ctx.services.authorizer === undefined) return failAll(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER_MESSAGE);
    const decided = await tryDecide(ctx, "DeleteAcls", (c) =>
      deleteAcls(
        c,
        request.filters.map((f) => ({
          resourceType: f.resourceTypeFilter,
          resourceName: f.resourceNameFilter,
          patternType: f.patternTypeFilter,
          principal: f.principalFilter,
          host: f.hostFilter,
          operation: f.operation,
          permissionType: f.permissionType,
        })),
      ),
    );
    if (!decided.ok) return failAll(decided.errorCode, decided.errorMessage);
    return {
      ...defaultDeleteAclsResponse(),
      filterResults: decided.value.map((r) => ({
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        matchingAcls: r.deleted.map((b) => ({
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          resourceType: b.resourceType,
          resourceName: b.resourceName,
          patternType: b.patternType,
          principal: b.principal,
          host: b.host,
          operation: b.operation,
          permissionType: b.permissionType,
          _unknownTaggedFields: undefined,
        })),
        _unknownTaggedFields: undefined,
      })),
    };
  },
});
