/**
 * DescribeGroups (key 15), v0–v5: state, protocol and members of classic groups. A group that
 * does not exist is "Dead" with no error (as Kafka answers these versions). Member metadata and
 * assignments are shown only when the group is Stable. v3+ authorized operations when asked
 * (authorized-operations.ts); v4+ group instance ids.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDescribedGroup, defaultDescribedGroupMember, defaultDescribeGroupsResponse } from "../../protocol/messages/describe-groups-response.ts";
import { defineHandler } from "./handler.ts";
import { ResourceType } from "../../metadata/acl.ts";
import { AUTHORIZED_OPERATIONS_OMITTED, authorizedOperations } from "./authorized-operations.ts";


export const describeGroupsHandler = defineHandler({
  apiKey: ApiKeys.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    const withOperations = version >= 3 && request.includeAuthorizedOperations;
    return {
      ...defaultDescribeGroupsResponse(),
      groups: request.groups.map((groupId) => {
        if (groups === undefined) return { ...defaultDescribedGroup(), groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
        const g = groups.describeGroup(groupId);
        return {
          ...defaultDescribedGroup(),
          errorCode: g.errorCode,
          groupId,
          groupState: g.state,
          protocolType: g.protocolType,
          protocolData: g.protocolData,
          authorizedOperations: g.errorCode === ErrorCode.NONE && withOperations ? authorizedOperations(ctx, ResourceType.GROUP, groupId) : AUTHORIZED_OPERATIONS_OMITTED,
          members: g.members.map((m) => ({
            ...defaultDescribedGroupMember(),
            memberId: m.memberId,
            groupInstanceId: version >= 4 ? m.groupInstanceId : null,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
        };
      }),
    };
  },
});
