/**
 * How configs are shown to clients (DescribeConfigs, CreateTopics v5+): each topic config
 * resolved from the topic's own value, the broker's value, or Kafka's default, with Kafka's
 * source and type codes and the synonym chain that explains where the value came from.
 */
import { resolveTopicConfigEntries, TOPIC_CONFIG_DEFS, type ConfigSource, type ConfigType } from "../../metadata/topic-config.ts";
import type { BrokerConfigEntry, BrokerSettings } from "../services.ts";

/** Kafka's ConfigSource codes (DescribeConfigs v1+). */
export const ConfigSourceCode = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's ConfigType codes (DescribeConfigs v3+). */
export const ConfigTypeCode: Readonly<Record<string, number>> = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
};

/** Kafka's resource type codes. */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  sensitive: boolean;
  isDefault: boolean;
  configSource: number;
  configType: number;
  synonyms: { name: string; value: string | null; source: number }[];
}

const typeCodeOf = (type: ConfigType): number => ConfigTypeCode[type.toUpperCase()] ?? 0;

export function describeTopicConfigs(topicValues: ReadonlyMap<string, string>, settings: BrokerSettings): DescribedConfig[] {
  const resolved = resolveTopicConfigEntries(topicValues, settings.brokerConfigValue);
  return resolved.map((entry, i) => {
    const def = TOPIC_CONFIG_DEFS[i]!;
    const synonyms: DescribedConfig["synonyms"] = [];
    const own = topicValues.get(def.name);
    if (own !== undefined) synonyms.push({ name: def.name, value: own, source: ConfigSourceCode.TOPIC_CONFIG });
    if (def.brokerKey !== null) {
      const levels = settings.brokerConfigSynonyms?.(def.brokerKey);
      if (levels !== undefined) {
        // Dynamic per-broker, dynamic default, static; the default of the topic config ends the chain.
        for (const l of levels) if (l.source !== "DEFAULT_CONFIG") synonyms.push({ name: l.name, value: l.value, source: sourceCode(l.source) });
      } else {
        const broker = settings.brokerConfigValue(def.brokerKey);
        if (broker !== undefined && broker.source !== "DEFAULT_CONFIG") synonyms.push({ name: def.brokerKey, value: broker.value, source: sourceCode(broker.source) });
      }
    }
    // Configs without a broker synonym (throttled replicas, remote.*) name their own default.
    synonyms.push({ name: def.brokerKey ?? def.name, value: def.defaultValue, source: ConfigSourceCode.DEFAULT_CONFIG });
    return {
      name: entry.name,
      value: entry.value,
      readOnly: false,
      sensitive: false,
      isDefault: entry.source === "DEFAULT_CONFIG",
      configSource: sourceCode(entry.source),
      configType: typeCodeOf(def.type),
      synonyms,
    };
  });
}

export function describeBrokerConfigs(entries: readonly BrokerConfigEntry[]): DescribedConfig[] {
  return entries.map((e) => ({
    name: e.name,
    value: e.sensitive ? null : e.value,
    readOnly: e.readOnly,
    sensitive: e.sensitive,
    isDefault: e.source === "DEFAULT_CONFIG",
    configSource: sourceCode(e.source),
    configType: ConfigTypeCode[e.type] ?? 0,
    synonyms: (e.synonyms ?? [{ name: e.name, value: e.value, source: e.source }]).map((s) => ({ name: s.name, value: e.sensitive ? null : s.value, source: sourceCode(s.source) })),
  }));
}

function sourceCode(source: ConfigSource | BrokerConfigEntry["source"]): number {
  return ConfigSourceCode[source as keyof typeof ConfigSourceCode] ?? ConfigSourceCode.UNKNOWN;
}
