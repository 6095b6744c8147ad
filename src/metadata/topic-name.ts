/**
 * Topic name rules, as Kafka enforces them: 1–249 characters of [a-zA-Z0-9._-], not "." or
 * "..". Names that differ only by '.' versus '_' collide in metric names, so Kafka refuses
 * to create one when the other exists; `collisionKey` gives the form to compare.
 */

export const TOPIC_NAME_LENGTH_MAX = 249;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Returns why `name` is not a legal topic name, or null when it is. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return "topic name is empty";
  if (name === "." || name === "..") return `topic name cannot be "${name}"`;
  if (name.length > TOPIC_NAME_LENGTH_MAX) return `topic name is longer than ${TOPIC_NAME_LENGTH_MAX} characters`;
  if (!LEGAL.test(name)) return `topic name "${name}" has characters outside [a-zA-Z0-9._-]`;
  return null;
}

export function collisionKey(name: string): string {
  return name.replaceAll(".", "_");
}

/** The metadata log's partition directory: no topic may take this name. */
export const METADATA_TOPIC = "__cluster_metadata";

/** Internal topics that clients may read but not create, delete or write directly. */
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set(["__consumer_offsets", "__transaction_state"]);
