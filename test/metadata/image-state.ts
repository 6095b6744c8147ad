/** Test helper: everything a MetadataImage holds, as plain data, for equality checks. */
import type { MetadataImage } from "../../src/metadata/image.ts";

/** Everything an image holds, in its maps' order (so equal states iterate alike). */
export function imageState(image: MetadataImage): unknown {
  return {
    offset: image.offset,
    topicsById: [...image.topicsById.entries()],
    topicsByName: [...image.topicsByName.entries()],
    brokers: [...image.brokers.entries()],
    configs: [...image.configs.entries()].map(([k, m]) => [k, [...m.entries()]]),
    features: [...image.features.entries()],
    nextProducerId: image.nextProducerId,
  };
}
