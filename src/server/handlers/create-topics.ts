/**
 * CreateTopics (key 19), v0–v7: validates and creates topics through the controller
 * (metadata/controller.ts), with broker defaults for -1 partitions / replication factor,
 * explicit assignments, topic configs and validateOnly. v5+ responses carry the partition
 * count, replication factor and the topic's resolved configs. `__cluster_metadata` is refused
 * here with INVALID_REQUEST, as Kafka does: its partition directory is the broker's own
 * metadata log, so creating (and then deleting) it would destroy the cluster metadata.
 */
import { createTopics, type CreatedTopic } from "../../metadata/controller.ts";
import { METADATA_TOPIC } from "../../metadata/log-store.ts";
import { ZERO_UUID } from "../../metadata/uuid.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultCreatableTopicResult, defaultCreateTopicsResponse } from "../../protocol/messages/create-topics-response.ts";
import { describeTopicConfigs } from "./config-view.ts";
import { defineHandler } from "./handler.ts";

export const createTopicsHandler = defineHandler({
  apiKey: ApiKeys.CreateTopics,
  minVersion: 0,
  maxVersion: 7,
  async handle(request, ctx) {
    const { services, apiVersion: version } = ctx;
    const validateOnly = version >= 1 && request.validateOnly;
    const allowed = request.topics.filter((t) => t.name !== METADATA_TOPIC);
    const created = await services.metadata.submit((c) =>
      createTopics(
        c,
        allowed.map((t) => ({
          name: t.name,
          numPartitions: t.numPartitions,
          replicationFactor: t.replicationFactor,
          assignments: t.assignments.map((a) => ({ partitionIndex: a.partitionIndex, brokerIds: a.brokerIds })),
          configs: t.configs.map((cfg) => ({ name: cfg.name, value: cfg.value })),
        })),
        validateOnly,
      ),
    );
    if (created.length !== allowed.length) throw new Error(`createTopics answered ${created.length} results for ${allowed.length} topics`);
    let next = 0;
    const results = request.topics.map((t): CreatedTopic => {
      if (t.name !== METADATA_TOPIC) {
        const r = created[next++];
        if (r === undefined || r.name !== t.name) throw new Error(`createTopics result ${next - 1} is ${r?.name} for topic ${t.name}`);
        return r;
      }
      const message = `Creation of internal topic ${METADATA_TOPIC} is prohibited.`;
      return { name: t.name, topicId: null, numPartitions: -1, replicationFactor: -1, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: message };
    });
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
