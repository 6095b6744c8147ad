/**
 * DescribeGroups (key 15), v0–v5: state, protocol and members of classic groups. A group that
 * does not exist is "Dead" with no error (as Kafka answers these versions). Member metadata and
 * assignments are shown only when the group is Stable. v3+ authorized operations when asked
 * (no ACLs yet: every group operation, READ | DELETE | DESCRIBE); v4+ group instance ids.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDescribedGroup, defaultDescribedGroupMember, defaultDescribeGroupsResponse } from "../../protocol/messages/describe-groups-response.ts";
import { defineHandler } from "./handler.ts";

/** Kafka's AclOperation codes: READ 3, DELETE 6, DESCRIBE 8. */
export const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const describeGroupsHandler = defineHandler({
  apiKey: ApiKeys.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    const operations = version >= 3 && request.includeAuthorizedOperations ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
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
          authorizedOperations: g.errorCode === ErrorCode.NONE ? operations : AUTHORIZED_OPERATIONS_OMITTED,
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
