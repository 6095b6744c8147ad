/**
 * CreateTopics (key 19), v0–v7: validates and creates topics through the controller
 * (metadata/controller.ts), with broker defaults for -1 partitions / replication factor,
 * explicit assignments, topic configs and validateOnly. v5+ responses carry the partition
 * count, replication factor and the topic's resolved configs. (`__cluster_metadata` is refused
 * by the controller: its partition directory is the broker's own metadata log.)
 */
import { createTopics } from "../../metadata/controller.ts";
import { ZERO_UUID } from "../../metadata/uuid.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultCreatableTopicResult, defaultCreateTopicsResponse } from "../../protocol/messages/create-topics-response.ts";
import { describeTopicConfigs } from "./config-view.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler } from "./handler.ts";

export const createTopicsHandler = defineHandler({
  apiKey: ApiKeys.CreateTopics,
  minVersion: 0,
  maxVersion: 7,
  async handle(request, ctx) {
    const { services, apiVersion: version } = ctx;
    const validateOnly = version >= 1 && request.validateOnly;
    const decided = await tryDecide(ctx, "CreateTopics", (c) =>
      createTopics(
        c,
        request.topics.map((t) => ({
          name: t.name,
          numPartitions: t.numPartitions,
          replicationFactor: t.replicationFactor,
          assignments: t.assignments.map((a) => ({ partitionIndex: a.partitionIndex, brokerIds: a.brokerIds })),
          configs: t.configs.map((cfg) => ({ name: cfg.name, value: cfg.value })),
        })),
        validateOnly,
      ),
    );
    const results = decided.ok
      ? decided.value
      : request.topics.map((t) => ({ name: t.name, topicId: null, numPartitions: -1, replicationFactor: -1, errorCode: decided.errorCode, errorMessage: decided.errorMessage }));
    const configValues = new Map(request.topics.map((t) => [t.name, new Map(t.configs.flatMap((c) => (c.value === null ? [] : [[c.name, c.value] as const])))]));
    return {
      ...defaultCreateTopicsResponse(),
      topics: results.map((r) => {
        const ok = r.errorCode === ErrorCode.NONE;
        return {
          ...defaultCreatableTopicResult(),
          name: r.name,
          topicId: version >= 7 && ok && r.topicId !== null ? r.topicId : ZERO_UUID,
          errorCode: r.errorCode,
          errorMessage: version >= 1 ? r.errorMessage : null,
          numPartitions: version >= 5 ? r.numPartitions : -1,
          replicationFactor: version >= 5 ? r.replicationFactor : -1,
          configs:
            version >= 5 && ok
              ? describeTopicConfigs(configValues.get(r.name) ?? new Map(), services.settings).map((e) => ({
                  name: e.name,
                  value: e.value,
                  readOnly: e.readOnly,
                  configSource: e.configSource,
                  isSensitive: false,
                }))
              : null,
        };
      }),
    };
  },
});
