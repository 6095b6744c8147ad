/**
 * DeleteTopics (key 20), v0–v6: by name (v0–v5 `topicNames`, v6 `topics` with a name) or by
 * id (v6). Refused with TOPIC_DELETION_DISABLED when `delete.topic.enable` is off. The logs
 * are removed by the replica manager when the metadata change is applied.
 */
import { deleteTopics } from "../../metadata/controller.ts";
import { ZERO_UUID, type Uuid } from "../../metadata/uuid.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDeletableTopicResult, defaultDeleteTopicsResponse } from "../../protocol/messages/delete-topics-response.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler } from "./handler.ts";

export const deleteTopicsHandler = defineHandler({
  apiKey: ApiKeys.DeleteTopics,
  minVersion: 0,
  maxVersion: 6,
  async handle(request, ctx) {
    const { services, apiVersion: version } = ctx;
    const wanted =
      version >= 6
        ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId === ZERO_UUID ? null : (t.topicId as Uuid) }))
        : request.topicNames.map((name) => ({ name, topicId: null }));
    const failAll = (errorCode: number, errorMessage: string) => wanted.map((w) => ({ ...w, errorCode, errorMessage }));
    let results;
    if (!services.settings.deleteTopicEnable) {
      results = failAll(ErrorCode.TOPIC_DELETION_DISABLED, "topic deletion is disabled (delete.topic.enable=false)");
    } else {
      const decided = await tryDecide(ctx, "DeleteTopics", (c) => deleteTopics(c, wanted));
      results = decided.ok ? decided.value : failAll(decided.errorCode, decided.errorMessage);
    }
    return {
      ...defaultDeleteTopicsResponse(),
      responses: results.map((r) => ({
        ...defaultDeletableTopicResult(),
        name: version >= 6 ? r.name : (r.name ?? ""),
        topicId: version >= 6 ? (r.topicId ?? ZERO_UUID) : ZERO_UUID,
        errorCode: r.errorCode,
        errorMessage: version >= 5 ? r.errorMessage : null,
      })),
    };
  },
});
