/**
 * LeaveGroup (key 13), v0–v5: members leave a classic group, which rebalances without them.
 * v0–v2 name one member (its error is the response's); v3+ a batch of members, each by
 * member id or by group instance id, with per-member errors.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultLeaveGroupResponse, defaultMemberResponse } from "../../protocol/messages/leave-group-response.ts";
import { defineHandler } from "./handler.ts";

export const leaveGroupHandler = defineHandler({
  apiKey: ApiKeys.LeaveGroup,
  minVersion: 0,
  maxVersion: 5,
  handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    if (groups === undefined) return { ...defaultLeaveGroupResponse(), errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    const leaving = version >= 3 ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: request.memberId, groupInstanceId: null }];
    const outcome = groups.leaveGroup(request.groupId, leaving);
    if (version < 3) {
      const memberError = outcome.members[0]?.errorCode ?? ErrorCode.NONE;
      return { ...defaultLeaveGroupResponse(), errorCode: outcome.errorCode !== ErrorCode.NONE ? outcome.errorCode : memberError };
    }
    return {
      ...defaultLeaveGroupResponse(),
      errorCode: outcome.errorCode,
      members: outcome.members.map((m) => ({ ...defaultMemberResponse(), memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: m.errorCode })),
    };
  },
});
