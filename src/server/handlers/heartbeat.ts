/**
 * Heartbeat (key 12), v0–v4: keeps a member's session alive and tells it when to rejoin
 * (REBALANCE_IN_PROGRESS), or that it is gone (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 * FENCED_INSTANCE_ID). v3+ static membership.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultHeartbeatResponse } from "../../protocol/messages/heartbeat-response.ts";
import { defineHandler } from "./handler.ts";

export const heartbeatHandler = defineHandler({
  apiKey: ApiKeys.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  handle(request, ctx) {
    const groups = ctx.services.groups;
    const errorCode =
      groups === undefined
        ? ErrorCode.COORDINATOR_NOT_AVAILABLE
        : groups.heartbeat({
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: ctx.apiVersion >= 3 ? request.groupInstanceId : null,
          });
    return { ...defaultHeartbeatResponse(), errorCode };
  },
});
