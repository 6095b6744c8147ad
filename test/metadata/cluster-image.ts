/**
 * Images of a cluster built from metadata records, for placement and handler tests: brokers
 * registered with a PLAINTEXT endpoint (host b<id>.test, port 9000 + id), an optional rack,
 * and fenced ones fenced by a brokerFencing record after registration, as the controller
 * would write it.
 */
import { applyRecords } from "../../src/metadata/controller.ts";
import { MetadataImage } from "../../src/metadata/image.ts";
import type { BrokerEndpoint, MetadataRecord } from "../../src/metadata/records.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { SeededPrng } from "../../src/platform/prng.ts";

export interface TestBrokerSpec {
  id: number;
  rack?: string | null;
  fenced?: boolean;
  /** Default: one PLAINTEXT endpoint b<id>.test:9000+id. */
  endpoints?: BrokerEndpoint[];
}

export function endpointOf(id: number, name = "PLAINTEXT"): BrokerEndpoint {
  return { name, host: `b${id}.test`, port: 9000 + id, securityProtocol: "PLAINTEXT" };
}

export function brokerRecords(brokers: readonly TestBrokerSpec[], seed = 5): MetadataRecord[] {
  const prng = new SeededPrng(seed);
  const records: MetadataRecord[] = brokers.map((b) => ({
    type: "registerBroker",
    brokerId: b.id,
    incarnationId: randomUuid(prng),
    brokerEpoch: 1,
    endpoints: b.endpoints ?? [endpointOf(b.id)],
    rack: b.rack ?? null,
    fenced: false,
  }));
  for (const b of brokers) if (b.fenced === true) records.push({ type: "brokerFencing", brokerId: b.id, brokerEpoch: 1, fenced: true });
  return records;
}

export function clusterImage(brokers: readonly TestBrokerSpec[], base: MetadataImage = MetadataImage.EMPTY): MetadataImage {
  return applyRecords(base, brokerRecords(brokers));
}

/** Brokers 1..n, broker i on rack r<i mod racks> (no rack when racks is 0). */
export function brokersOnRacks(n: number, racks: number): TestBrokerSpec[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, rack: racks === 0 ? null : `r${i % racks}` }));
}
