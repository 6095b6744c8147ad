/**
 * ListGroups (key 16), v0–v5: the groups this coordinator holds; v4+ filtered by state
 * (case-insensitive), v5+ by type (every group here is "classic"). While a partition is still
 * loading the answer is COORDINATOR_LOAD_IN_PROGRESS with the groups already loaded.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultListedGroup, defaultListGroupsResponse } from "../../protocol/messages/list-groups-response.ts";
import { defineHandler } from "./handler.ts";

export const listGroupsHandler = defineHandler({
  apiKey: ApiKeys.ListGroups,
  minVersion: 0,
  maxVersion: 5,
  handle(request, ctx) {
    const version = ctx.apiVersion;
    const groups = ctx.services.groups;
    if (groups === undefined) return { ...defaultListGroupsResponse(), errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    const listed = groups.listGroups(version >= 4 ? request.statesFilter : [], version >= 5 ? request.typesFilter : []);
    return {
      ...defaultListGroupsResponse(),
      errorCode: listed.errorCode,
      groups: listed.groups.map((g) => ({
        ...defaultListedGroup(),
        groupId: g.groupId,
        protocolType: g.protocolType,
        groupState: version >= 4 ? g.state : "",
        groupType: version >= 5 ? g.groupType : "",
      })),
    };
  },
});
