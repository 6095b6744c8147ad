/**
 * Which `__consumer_offsets` partition owns a group: Kafka's exact mapping,
 * `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`, so a group lands on the
 * same partition as on a Kafka cluster with the same partition count (a migrated
 * `__consumer_offsets` replays onto the right coordinator).
 *
 * Java's `String.hashCode` runs over UTF-16 code units (`s[0]*31^(n-1) + ... + s[n-1]`, in
 * int32 arithmetic); JavaScript strings are UTF-16 too, so `charCodeAt` gives the same units.
 * Kafka's `Utils.abs` maps Integer.MIN_VALUE to 0 (Math.abs would leave it negative).
 */

export const OFFSETS_TOPIC_NAME = "__consumer_offsets";

/** java.lang.String#hashCode. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** org.apache.kafka.common.utils.Utils#abs(int). */
export function kafkaAbs(n: number): number {
  if (!(Number.isInteger(n) && n >= -0x8000_0000 && n <= 0x7fff_ffff)) throw new RangeError(`kafkaAbs: ${n} is not an int32`);
  return n === -0x8000_0000 ? 0 : Math.abs(n);
}

/** The `__consumer_offsets` partition of `groupId`. */
export function offsetsPartitionFor(groupId: string, numPartitions: number): number {
  if (!(Number.isInteger(numPartitions) && numPartitions >= 1)) throw new RangeError(`offsetsPartitionFor: ${numPartitions} partitions`);
  return kafkaAbs(javaStringHashCode(groupId)) % numPartitions;
}
