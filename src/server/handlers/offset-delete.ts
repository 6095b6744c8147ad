/**
 * OffsetDelete (key 47), v0: removes committed offsets of a group for partitions it does not
 * consume now. An active consumer group subscribed to the topic: GROUP_SUBSCRIBED_TO_TOPIC per
 * partition; an active group of another protocol type: NON_EMPTY_GROUP; unknown group:
 * GROUP_ID_NOT_FOUND.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultOffsetDeleteResponse,
  defaultOffsetDeleteResponsePartition,
  defaultOffsetDeleteResponseTopic,
} from "../../protocol/messages/offset-delete-response.ts";
import { defineHandler } from "./handler.ts";

export const offsetDeleteHandler = defineHandler({
  apiKey: ApiKeys.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  async handle(request, ctx) {
    const groups = ctx.services.groups;
    if (groups === undefined) return { ...defaultOffsetDeleteResponse(), errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    const out = await groups.deleteOffsets(
      request.groupId,
      request.topics.map((t) => ({ name: t.name, partitionIndexes: t.partitions.map((p) => p.partitionIndex) })),
    );
    return {
      ...defaultOffsetDeleteResponse(),
      errorCode: out.errorCode,
      topics: out.topics.map((t) => ({
        ...defaultOffsetDeleteResponseTopic(),
        name: t.name,
        partitions: t.partitions.map((p) => ({ ...defaultOffsetDeleteResponsePartition(), partitionIndex: p.partitionIndex, errorCode: p.errorCode })),
      })),
    };
  },
});
