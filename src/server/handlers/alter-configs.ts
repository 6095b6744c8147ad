/**
 * AlterConfigs (key 33), v0–v2, and IncrementalAlterConfigs (key 44), v0–v1: topic configs
 * (validated against the configs bunka honours) and dynamic broker configs (BROKER resource:
 * a broker id, or "" for the cluster default; validated by dynamic-config.ts) through the
 * controller. AlterConfigs replaces a resource's whole set, as Kafka's legacy API does; the
 * incremental form applies SET / DELETE / APPEND / SUBTRACT. BROKER_LOGGER (Kafka's per-logger
 * log4j levels) is INVALID_REQUEST: bunka has one level, logger.level, set at start-up.
 */
import { alterConfigs, type ConfigAlteration } from "../../metadata/controller.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultAlterConfigsResourceResponse, defaultAlterConfigsResponse } from "../../protocol/messages/alter-configs-response.ts";
import {
  defaultAlterConfigsResourceResponse as defaultIncrementalResourceResponse,
  defaultIncrementalAlterConfigsResponse,
} from "../../protocol/messages/incremental-alter-configs-response.ts";
import { dynamicConfigValidator } from "../dynamic-config.ts";
import { ResourceType } from "./config-view.ts";
import { tryDecide } from "./decide.ts";
import { defineHandler, type RequestContext } from "./handler.ts";

type Outcome = { resourceType: number; resourceName: string; errorCode: number; errorMessage: string | null };

async function alter(
  ctx: RequestContext,
  resources: readonly { resourceType: number; resourceName: string; configs: readonly { name: string; op: number; value: string | null }[] }[],
  incremental: boolean,
  validateOnly: boolean,
): Promise<Outcome[]> {
  const { services } = ctx;
  const outcomes: (Outcome | null)[] = resources.map((r) => {
    if (r.resourceType === ResourceType.TOPIC || r.resourceType === ResourceType.BROKER) return null;
    const errorMessage =
      r.resourceType === ResourceType.BROKER_LOGGER
        ? "bunka has no per-logger levels (BROKER_LOGGER): its one level is the broker config logger.level, set at start-up"
        : `resource type ${r.resourceType} is not supported`;
    return { resourceType: r.resourceType, resourceName: r.resourceName, errorCode: ErrorCode.INVALID_REQUEST, errorMessage };
  });
  const alterations: ConfigAlteration[] = [];
  const indexOf: number[] = [];
  resources.forEach((r, i) => {
    if (outcomes[i] !== null) return;
    indexOf.push(i);
    alterations.push({
      resourceType: r.resourceType === ResourceType.TOPIC ? "topic" : "broker",
      resourceName: r.resourceName,
      incremental,
      ops: r.configs.map((c) => ({ name: c.name, op: c.op, value: c.value })),
    });
  });
  const decided = await tryDecide(ctx, incremental ? "IncrementalAlterConfigs" : "AlterConfigs", (c) =>
    alterConfigs(c, alterations, validateOnly, dynamicConfigValidator, services.settings.nodeId),
  );
  const results = decided.ok
    ? decided.value
    : alterations.map((a) => ({ resourceType: a.resourceType, resourceName: a.resourceName, errorCode: decided.errorCode, errorMessage: decided.errorMessage }));
  results.forEach((r, j) => {
    const i = indexOf[j]!;
    outcomes[i] = { resourceType: resources[i]!.resourceType, resourceName: r.resourceName, errorCode: r.errorCode, errorMessage: r.errorMessage };
  });
  return outcomes.map((o) => o!);
}

export const alterConfigsHandler = defineHandler({
  apiKey: ApiKeys.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  async handle(request, ctx) {
    const outcomes = await alter(
      ctx,
      request.resources.map((r) => ({ ...r, configs: r.configs.map((c) => ({ name: c.name, op: 0, value: c.value })) })),
      false,
      request.validateOnly,
    );
    return { ...defaultAlterConfigsResponse(), responses: outcomes.map((o) => ({ ...defaultAlterConfigsResourceResponse(), ...o })) };
  },
});

export const incrementalAlterConfigsHandler = defineHandler({
  apiKey: ApiKeys.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  async handle(request, ctx) {
    const outcomes = await alter(
      ctx,
      request.resources.map((r) => ({ ...r, configs: r.configs.map((c) => ({ name: c.name, op: c.configOperation, value: c.value })) })),
      true,
      request.validateOnly,
    );
    return { ...defaultIncrementalAlterConfigsResponse(), responses: outcomes.map((o) => ({ ...defaultIncrementalResourceResponse(), ...o })) };
  },
});
