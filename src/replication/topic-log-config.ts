/**
 * Topic configuration as the data path uses it: the typed `TopicConfig` of a topic resolved
 * from its metadata-image overrides and the broker's values (metadata/topic-config.ts), and
 * the storage `LogConfig` fields derived from it.
 *
 * Kafka's "never" for `flush.messages` / `flush.ms` / `max.compaction.lag.ms` is Long.MAX_VALUE, which `toTopicConfig`
 * saturates to Number.MAX_SAFE_INTEGER; storage wants `Infinity` for "never" (a finite
 * flush.ms would schedule a timer 2^53 ms away, which a real timer treats as 0), so any value
 * at or above `neverThreshold` maps to Infinity here.
 */
import type { MetadataImage } from "../metadata/image.ts";
import { type ConfigSource, resolveTopicConfigEntries, type TopicConfig, toTopicConfig } from "../metadata/topic-config.ts";
import type { LogConfig } from "../storage/config.ts";

/** Broker config lookup: the broker's value of a config and where it came from. */
export type BrokerConfigLookup = (name: string) => { value: string; source: ConfigSource } | undefined;

/** Durations/counts at or above this mean "never" (Kafka writes Long.MAX_VALUE). */
const neverThreshold = 2 ** 52;

export function resolveTopicConfig(image: MetadataImage, topic: string, brokerValue: BrokerConfigLookup): TopicConfig {
  return toTopicConfig(resolveTopicConfigEntries(image.configsOf("topic", topic), brokerValue));
}

const never = (v: number): number => (v >= neverThreshold ? Number.POSITIVE_INFINITY : v);

/** The storage settings a topic config decides (everything but broker-level limits). */
export function logConfigOf(tc: TopicConfig): Partial<LogConfig> {
  return {
    segmentBytes: tc.segmentBytes,
    segmentMs: tc.segmentMs,
    segmentIndexBytes: tc.segmentIndexBytes,
    indexIntervalBytes: tc.indexIntervalBytes,
    maxMessageBytes: tc.maxMessageBytes,
    flushMessages: never(tc.flushMessages),
    flushMs: never(tc.flushMs),
    retentionMs: tc.retentionMs,
    retentionBytes: tc.retentionBytes,
    fileDeleteDelayMs: tc.fileDeleteDelayMs,
    cleanupPolicy: { delete: tc.cleanupPolicy.delete, compact: tc.cleanupPolicy.compact },
    deleteRetentionMs: tc.deleteRetentionMs,
    minCleanableDirtyRatio: tc.minCleanableDirtyRatio,
    minCompactionLagMs: tc.minCompactionLagMs,
    maxCompactionLagMs: never(tc.maxCompactionLagMs),
  };
}

/**
 * The `topicConfig` callback LogManager.open takes: a log (re)opened or created for `topic`
 * gets the topic's current config from the image `image()` returns.
 */
export function topicLogConfigSource(image: () => MetadataImage, brokerValue: BrokerConfigLookup): (topic: string) => Partial<LogConfig> {
  return (topic) => logConfigOf(resolveTopicConfig(image(), topic, brokerValue));
}
