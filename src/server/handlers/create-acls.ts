/**
 * CreateAcls (key 30), v0–v3: adds ACL bindings through the controller (metadata/acl.ts
 * `createAcls`: forwarded to the active controller like CreateTopics). One result per
 * creation, in order: INVALID_REQUEST for a binding Kafka would refuse (UNKNOWN/ANY codes,
 * MATCH patterns, an empty name, a principal not of the form `Type:name`, a CLUSTER resource
 * not named `kafka-cluster`); an existing binding is a success that writes nothing. v0 has no
 * pattern type: its bindings are LITERAL. Without an authorizer every creation gets
 * SECURITY_DISABLED, as in Kafka.
 */
import { createAcls } from "../../metadata/acl.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultCreateAclsResponse } from "../../protocol/messages/create-acls-response.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler } from "./handler.ts";

export const NO_AUTHORIZER_MESSAGE = "no authorizer is configured on the broker (authorizer.class.name)";

export const createAclsHandler = defineHandler({
  apiKey: ApiKeys.CreateAcls,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const answer = (results: { errorCode: number; errorMessage: string | null }[]) => ({
      ...defaultCreateAclsResponse(),
      results: results.map((r) => ({ errorCode: r.errorCode, errorMessage: r.errorMessage, _unknownTaggedFields: undefined })),
    });
    const failAll = (errorCode: number, errorMessage: string) => answer(request.creations.map(() => ({ errorCode, errorMessage })));
    if (ctx.services.authorizer === undefined) return failAll(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER_MESSAGE);
    const decided = await tryDecide(ctx, "CreateAcls", (c) =>
      createAcls(
        c,
        request.creations.map((a) => ({
          resourceType: a.resourceType,
          resourceName: a.resourceName,
          patternType: a.resourcePatternType,
          principal: a.principal,
          host: a.host,
          operation: a.operation,
          permissionType: a.permissionType,
        })),
      ),
    );
    return decided.ok ? answer(decided.value) : failAll(decided.errorCode, decided.errorMessage);
  },
});
