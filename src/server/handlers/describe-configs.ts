/**
 * DescribeConfigs (key 32), v0–v4: topic configs (every config bunka honours, with source
 * and synonyms), this broker's configs (effective values: dynamic per-broker, dynamic
 * cluster default, static, default) and the cluster default (resource name ""). Asking for specific keys returns just those that
 * exist. Other resource types get INVALID_REQUEST.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultDescribeConfigsResourceResult,
  defaultDescribeConfigsResponse,
  defaultDescribeConfigsResult,
  type DescribeConfigsResult,
} from "../../protocol/messages/describe-configs-response.ts";
import { describeBrokerConfigs, describeTopicConfigs, ResourceType, type DescribedConfig } from "./config-view.ts";
import { defineHandler } from "./handler.ts";

export const describeConfigsHandler = defineHandler({
  apiKey: ApiKeys.DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  handle(request, ctx) {
    const { services, apiVersion: version } = ctx;
    const image = services.metadata.image;
    const results = request.resources.map((res): DescribeConfigsResult => {
      const base = { ...defaultDescribeConfigsResult(), resourceType: res.resourceType, resourceName: res.resourceName };
      let configs: DescribedConfig[];
      if (res.resourceType === ResourceType.TOPIC) {
        if (image.topic(res.resourceName) === undefined) {
          return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `no topic ${res.resourceName}` };
        }
        configs = describeTopicConfigs(image.configsOf("topic", res.resourceName), services.settings);
      } else if (res.resourceType === ResourceType.BROKER) {
        if (res.resourceName !== "" && res.resourceName !== String(services.settings.nodeId)) {
          return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `broker ${res.resourceName} is not this broker (${services.settings.nodeId})` };
        }
        // "" is the cluster default: only what is set at that level, as Kafka lists it.
        configs = describeBrokerConfigs(res.resourceName === "" ? (services.settings.brokerDefaultConfigs?.() ?? []) : services.settings.brokerConfigs());
      } else {
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${res.resourceType} is not supported` };
      }
      const keys = res.configurationKeys;
      if (keys !== null && keys.length > 0) configs = configs.filter((c) => keys.includes(c.name));
      return {
        ...base,
        configs: configs.map((c) => ({
          ...defaultDescribeConfigsResourceResult(),
          name: c.name,
          value: c.value,
          readOnly: c.readOnly,
          isDefault: version === 0 ? c.isDefault : false,
          configSource: c.configSource,
          isSensitive: c.sensitive,
          synonyms: version >= 1 && request.includeSynonyms ? c.synonyms : [],
          configType: version >= 3 ? c.configType : 0,
          documentation: null,
        })),
      };
    });
    return { ...defaultDescribeConfigsResponse(), results };
  },
});
