/**
 * The outcome of ApiVersions negotiation with one peer: for each API, the highest version both
 * sides support. "Ours" is what the generated codec encodes and decodes, minus a latest version
 * its schema marks unstable (Kafka brokers do not serve those by default, and their layout may
 * still change). "Theirs" is the peer's ApiVersions response.
 *
 * The request side of negotiation (which ApiVersions version to send first, and the fallback
 * when the peer rejects it) lives in node-connection.ts; this module only holds the table.
 */
import type { ApiVersionsResponse, FinalizedFeatureKey, SupportedFeatureKey } from "../protocol/messages/api-versions-response.ts";
import { ApiKeys, apiSpec } from "../protocol/messages/index.ts";

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/** The versions of `apiKey` this client can speak, or null for an API the codec lacks. */
export function ourVersions(apiKey: number): VersionRange | null {
  const spec = apiSpec(apiKey);
  if (spec === undefined) return null;
  const max = spec.latestVersionUnstable && spec.maxVersion > spec.minVersion ? spec.maxVersion - 1 : spec.maxVersion;
  return { min: spec.minVersion, max };
}

/** The ApiVersions version sent first: the highest this client knows. */
export const apiVersionsVersionMax: number = (ourVersions(ApiKeys.ApiVersions) as VersionRange).max;

export class ApiVersionTable {
  /** The peer's ranges by api key, as advertised (including APIs this client does not know). */
  readonly peer: ReadonlyMap<number, VersionRange>;
  readonly supportedFeatures: readonly SupportedFeatureKey[];
  readonly finalizedFeatures: readonly FinalizedFeatureKey[];
  readonly finalizedFeaturesEpoch: number;

  constructor(response: ApiVersionsResponse) {
    const peer = new Map<number, VersionRange>();
    for (const k of response.apiKeys) peer.set(k.apiKey, { min: k.minVersion, max: k.maxVersion });
    this.peer = peer;
    this.supportedFeatures = response.supportedFeatures;
    this.finalizedFeatures = response.finalizedFeatures;
    this.finalizedFeaturesEpoch = response.finalizedFeaturesEpoch;
  }

  /** The versions both sides support, or null when there is none. */
  common(apiKey: number): VersionRange | null {
    const ours = ourVersions(apiKey);
    const theirs = this.peer.get(apiKey);
    if (ours === null || theirs === undefined) return null;
    const min = Math.max(ours.min, theirs.min);
    const max = Math.min(ours.max, theirs.max);
    return min <= max ? { min, max } : null;
  }

  /** The highest common version within [minVersion, maxVersion], or null. */
  pick(apiKey: number, minVersion = 0, maxVersion = Number.MAX_SAFE_INTEGER): number | null {
    const common = this.common(apiKey);
    if (common === null) return null;
    const max = Math.min(common.max, maxVersion);
    return max >= Math.max(common.min, minVersion) ? max : null;
  }
}
