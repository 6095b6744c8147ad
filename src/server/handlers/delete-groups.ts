/**
 * DeleteGroups (key 42), v0–v2: deletes empty groups and their committed offsets (tombstones
 * in `__consumer_offsets`). A group with members is NON_EMPTY_GROUP; an unknown one
 * GROUP_ID_NOT_FOUND.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDeletableGroupResult, defaultDeleteGroupsResponse } from "../../protocol/messages/delete-groups-response.ts";
import { defineHandler } from "./handler.ts";

export const deleteGroupsHandler = defineHandler({
  apiKey: ApiKeys.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(request, ctx) {
    const groups = ctx.services.groups;
    const results =
      groups === undefined
        ? request.groupsNames.map((groupId) => ({ groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE as number }))
        : await groups.deleteGroups(request.groupsNames);
    return {
      ...defaultDeleteGroupsResponse(),
      results: results.map((r) => ({ ...defaultDeletableGroupResult(), groupId: r.groupId, errorCode: r.errorCode })),
    };
  },
});
