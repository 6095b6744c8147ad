/**
 * SyncGroup (key 14), v0–v5: the leader hands in the assignment, every member waits for its
 * own (coordinator/group-coordinator.ts). v3+ static membership; v5+ protocol type and name
 * are checked when given (INCONSISTENT_GROUP_PROTOCOL) and echoed in the response.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultSyncGroupResponse } from "../../protocol/messages/sync-group-response.ts";
import { defineHandler } from "./handler.ts";

export const syncGroupHandler = defineHandler({
  apiKey: ApiKeys.SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    if (groups === undefined) return { ...defaultSyncGroupResponse(), errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    const outcome = await groups.syncGroup({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: version >= 3 ? request.groupInstanceId : null,
      protocolType: version >= 5 ? request.protocolType : null,
      protocolName: version >= 5 ? request.protocolName : null,
      assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    });
    return {
      ...defaultSyncGroupResponse(),
      errorCode: outcome.errorCode,
      protocolType: version >= 5 ? outcome.protocolType : null,
      protocolName: version >= 5 ? outcome.protocolName : null,
      assignment: outcome.assignment,
    };
  },
});
