/**
 * Replication policies: what a source topic is called on the target, and which topics a flow
 * must never copy (loop prevention).
 *
 * - default: `orders` of cluster A is `A.orders` on B (separator configurable). A topic that
 *   already carries a cluster prefix (`B.orders` on A, i.e. a copy made by the reverse flow,
 *   or any `X.orders` whose X is a cluster alias) is a remote topic: copying it again would
 *   make `A.B.orders` or send B's records home. The mirror never copies remote topics, so a
 *   record crosses at most once under this policy.
 * - identity: `orders` keeps its name. Loops cannot be seen in names, so they are stopped by
 *   batch provenance instead (see flow.ts: batches the mirror wrote carry its producer ids,
 *   which the reverse flow skips).
 *
 * Internal topics of the mirror (heartbeats, checkpoints, offset syncs) and of Kafka (`__*`)
 * are never copied as data, whatever the patterns say.
 */
import type { FlowSettings } from "./config.ts";

export const heartbeatsTopic = "heartbeats";

export function checkpointsTopic(sourceAlias: string, separator: string): string {
  return `${sourceAlias}${separator}checkpoints${separator}internal`;
}

export function offsetSyncsTopic(targetAlias: string, separator: string): string {
  return `mm2-offset-syncs${separator}${targetAlias}${separator}internal`;
}

/** True for topics the mirror keeps for itself or Kafka keeps for itself. */
export function isInternalTopic(name: string, separator: string): boolean {
  return name.startsWith("__") || name.startsWith(`mm2-offset-syncs${separator}`) || name.endsWith(`${separator}checkpoints${separator}internal`) || name.endsWith(".internal");
}

/** The cluster alias a topic name says it came from under the default policy, or null. */
export function upstreamAlias(name: string, separator: string, aliases: ReadonlySet<string>): string | null {
  const i = name.indexOf(separator);
  if (i <= 0) return null;
  const alias = name.slice(0, i);
  return aliases.has(alias) ? alias : null;
}

/** The target topic's name for a source topic under the flow's policy. */
export function targetTopicName(flow: FlowSettings, topic: string): string {
  return flow.policy === "identity" ? topic : `${flow.source}${flow.separator}${topic}`;
}

/**
 * Whether the flow may copy `topic` as data: selected by its patterns, not internal, not a
 * heartbeats topic (those are copied by name, see flow.ts), and under the default policy not
 * a remote topic (one named after any cluster alias).
 */
export function shouldMirrorTopic(flow: FlowSettings, topic: string, aliases: ReadonlySet<string>): boolean {
  if (isInternalTopic(topic, flow.separator)) return false;
  if (topic === heartbeatsTopic || topic.endsWith(`${flow.separator}${heartbeatsTopic}`)) return false;
  if (flow.policy === "default" && upstreamAlias(topic, flow.separator, aliases) !== null) return false;
  return flow.topics.some((r) => r.test(topic)) && !flow.topicsExclude.some((r) => r.test(topic));
}
