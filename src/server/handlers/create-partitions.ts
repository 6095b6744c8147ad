/** CreatePartitions (key 37), v0–v3: grows topics to a new partition count, optionally with explicit assignments. */
import { createPartitions } from "../../metadata/controller.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultCreatePartitionsResponse, defaultCreatePartitionsTopicResult } from "../../protocol/messages/create-partitions-response.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler } from "./handler.ts";

export const createPartitionsHandler = defineHandler({
  apiKey: ApiKeys.CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const decided = await tryDecide(ctx, "CreatePartitions", (c) =>
      createPartitions(
        c,
        request.topics.map((t) => ({ name: t.name, count: t.count, assignments: t.assignments === null ? null : t.assignments.map((a) => a.brokerIds) })),
        request.validateOnly,
      ),
    );
    const results = decided.ok ? decided.value : request.topics.map((t) => ({ name: t.name, errorCode: decided.errorCode, errorMessage: decided.errorMessage }));
    return {
      ...defaultCreatePartitionsResponse(),
      results: results.map((r) => ({ ...defaultCreatePartitionsTopicResult(), name: r.name, errorCode: r.errorCode, errorMessage: r.errorMessage })),
    };
  },
});
