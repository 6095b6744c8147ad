/**
 * JoinGroup (key 11), v0–v9: a member joins (or rejoins) a classic group and waits until the
 * rebalance completes (coordinator/group-coordinator.ts). v0 has no rebalance timeout (the
 * session timeout stands in, as in Kafka); v4+ gives a new member its id with
 * MEMBER_ID_REQUIRED first; v5+ static membership; v7+ protocol type in the response (and a
 * nullable protocol name); v9 skipAssignment for a rejoining static leader.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultJoinGroupResponse, defaultJoinGroupResponseMember } from "../../protocol/messages/join-group-response.ts";
import { defineHandler } from "./handler.ts";

export const joinGroupHandler = defineHandler({
  apiKey: ApiKeys.JoinGroup,
  minVersion: 0,
  maxVersion: 9,
  async handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    const outcome =
      groups === undefined
        ? { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE as number, generationId: -1, protocolType: null, protocolName: null, leader: "", memberId: request.memberId, members: [], skipAssignment: false }
        : await groups.joinGroup({
            groupId: request.groupId,
            memberId: request.memberId,
            groupInstanceId: version >= 5 ? request.groupInstanceId : null,
            clientId: ctx.header.clientId ?? "",
            clientHost: `/${ctx.connection.remoteAddress}`,
            sessionTimeoutMs: request.sessionTimeoutMs,
            rebalanceTimeoutMs: version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
            protocolType: request.protocolType,
            protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
            requireKnownMemberId: version >= 4,
            supportsSkipAssignment: version >= 9,
          });
    return {
      ...defaultJoinGroupResponse(),
      errorCode: outcome.errorCode,
      generationId: outcome.generationId,
      protocolType: version >= 7 ? outcome.protocolType : null,
      protocolName: version >= 7 ? outcome.protocolName : (outcome.protocolName ?? ""),
      leader: outcome.leader,
      skipAssignment: version >= 9 && outcome.skipAssignment,
      memberId: outcome.memberId,
      members: outcome.members.map((m) => ({
        ...defaultJoinGroupResponseMember(),
        memberId: m.memberId,
        groupInstanceId: version >= 5 ? m.groupInstanceId : null,
        metadata: m.metadata,
      })),
    };
  },
});
