/**
 * The starting point of tools that are Kafka clients (mirror, backup, the admin CLI): from a
 * `bootstrap.servers` list to brokers reachable by node id. Works against Apache Kafka as well
 * as bunka: it only uses ApiVersions and Metadata.
 *
 * `ClusterClient.connect` tries the bootstrap servers one after another, starting at a random
 * one (Prng) as Kafka clients spread their first connections, until one answers Metadata; the
 * brokers in that answer become the node client's endpoints (by node id, with the listener
 * name given, since a broker answers with the endpoints of the listener it was asked on).
 * Bootstrap connections use node ids -1, -2, ... and are dropped afterwards.
 * `refreshMetadata` asks a known broker (any that answers) and updates the endpoints: moved
 * brokers get new connections, departed ones are forgotten.
 *
 * Format owned here: `bootstrap.servers` is a comma-separated list of `host:port`, IPv6
 * literals in brackets (`[::1]:9092`); spaces around entries are ignored.
 */
import type { Clock } from "../platform/clock.ts";
import type { Network } from "../platform/network.ts";
import type { Prng } from "../platform/prng.ts";
import type { ApiKey, RequestBodies } from "../protocol/messages/index.ts";
import { ApiKeys } from "../protocol/messages/index.ts";
import { defaultMetadataRequest, defaultMetadataRequestTopic } from "../protocol/messages/metadata-request.ts";
import type { MetadataResponse, MetadataResponseBroker } from "../protocol/messages/metadata-response.ts";
import type { Logger } from "../util/log.ts";
import type { ClientConfig } from "./config.ts";
import { ClientError, type RequestResult, type Result } from "./errors.ts";
import { NodeClient, type NodeRequestOptions } from "./node-client.ts";

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

/** Bootstrap servers at most; a longer list is a configuration mistake. */
export const bootstrapServersMax = 1_000;
/** Lowest Metadata version used: v1 is the first where null topics means "all" and [] "none". */
const metadataVersionMin = 1;

/** Parses `bootstrap.servers`; the reason names the bad entry. */
export function parseBootstrapServers(text: string | readonly string[]): { ok: true; servers: ServerAddress[] } | { ok: false; reason: string } {
  const entries = (typeof text === "string" ? text.split(",") : [...text]).map((e) => e.trim()).filter((e) => e.length > 0);
  if (entries.length === 0) return { ok: false, reason: "bootstrap.servers is empty" };
  if (entries.length > bootstrapServersMax) return { ok: false, reason: `bootstrap.servers has ${entries.length} entries (at most ${bootstrapServersMax})` };
  const servers: ServerAddress[] = [];
  for (const entry of entries) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(entry);
    const host = m?.[1] ?? m?.[2];
    const port = Number(m?.[3]);
    if (m === null || host === undefined || !(port >= 1 && port <= 65_535)) {
      return { ok: false, reason: `bootstrap.servers entry ${JSON.stringify(entry)} is not host:port` };
    }
    servers.push({ host, port });
  }
  return { ok: true, servers };
}

export interface ClusterClientOptions {
  readonly network: Network;
  readonly clock: Clock;
  readonly prng: Prng;
  readonly bootstrapServers: string | readonly string[];
  /** Name recorded for the brokers' endpoints (default PLAINTEXT). */
  readonly listenerName?: string;
  readonly config?: Partial<ClientConfig>;
  readonly log?: Logger;
}

export class ClusterClient {
  readonly nodes: NodeClient;
  readonly #listenerName: string;
  readonly #prng: Prng;
  #metadata: MetadataResponse;

  private constructor(nodes: NodeClient, metadata: MetadataResponse, listenerName: string, prng: Prng) {
    this.nodes = nodes;
    this.#metadata = metadata;
    this.#listenerName = listenerName;
    this.#prng = prng;
    this.#applyBrokers(metadata.brokers);
  }

  /** Connects through the bootstrap servers; resolves with a client or why none answered. */
  static async connect(options: ClusterClientOptions): Promise<Result<ClusterClient>> {
    const parsed = parseBootstrapServers(options.bootstrapServers);
    if (!parsed.ok) throw new RangeError(parsed.reason);
    const nodes = new NodeClient({
      network: options.network,
      clock: options.clock,
      prng: options.prng,
      ...(options.config === undefined ? {} : { config: options.config }),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
    const servers = parsed.servers;
    const first = options.prng.int(servers.length);
    const errors: string[] = [];
    for (let i = 0; i < servers.length; i++) {
      const index = (first + i) % servers.length;
      const server = servers[index] as ServerAddress;
      const id = -(index + 1);
      nodes.setEndpoint(id, { host: server.host, port: server.port, listenerName: "bootstrap" });
      const r = await fetchMetadata(nodes, id, null);
      nodes.removeNode(id);
      if (r.ok) return { ok: true, value: new ClusterClient(nodes, r.body, options.listenerName ?? "PLAINTEXT", options.prng) };
      errors.push(`${server.host}:${server.port}: ${r.error.message}`);
      if (r.error.kind === "closed") break;
    }
    nodes.close();
    return { ok: false, error: new ClientError("disconnected", `no bootstrap server answered Metadata: ${errors.join("; ")}`) };
  }

  /** The last Metadata response. */
  get metadata(): MetadataResponse {
    return this.#metadata;
  }

  get clusterId(): string | null {
    return this.#metadata.clusterId;
  }

  get controllerId(): number {
    return this.#metadata.controllerId;
  }

  get brokers(): readonly MetadataResponseBroker[] {
    return this.#metadata.brokers;
  }

  /**
   * Asks a known broker for metadata (`topics`: null for all, [] for none) and updates the
   * endpoints. Brokers are tried in a random order until one answers.
   */
  async refreshMetadata(topics: readonly string[] | null = []): Promise<Result<MetadataResponse>> {
    const ids = this.#metadata.brokers.map((b) => b.nodeId);
    const start = ids.length === 0 ? 0 : this.#prng.int(ids.length);
    let last: ClientError = new ClientError("disconnected", "no broker known");
    for (let i = 0; i < ids.length; i++) {
      const id = ids[(start + i) % ids.length] as number;
      const r = await fetchMetadata(this.nodes, id, topics);
      if (r.ok) {
        this.#metadata = r.body;
        this.#applyBrokers(r.body.brokers);
        return { ok: true, value: r.body };
      }
      last = r.error;
      if (r.error.kind === "closed") break;
    }
    return { ok: false, error: last };
  }

  send<K extends ApiKey>(nodeId: number, apiKey: K, body: RequestBodies[K], options: NodeRequestOptions = {}): Promise<RequestResult<K>> {
    return this.nodes.send(nodeId, apiKey, body, options);
  }

  /** Sends to some broker: one whose connection is ready if any, else the first known. */
  sendToAny<K extends ApiKey>(apiKey: K, body: RequestBodies[K], options: NodeRequestOptions = {}): Promise<RequestResult<K>> {
    const ids = this.#metadata.brokers.map((b) => b.nodeId);
    const ready = ids.find((id) => this.nodes.status(id) === "ready");
    const id = ready ?? ids[0];
    if (id === undefined) return Promise.resolve({ ok: false, error: new ClientError("disconnected", "no broker known") });
    return this.nodes.send(id, apiKey, body, options);
  }

  close(): void {
    this.nodes.close();
  }

  #applyBrokers(brokers: readonly MetadataResponseBroker[]): void {
    const seen = new Set<number>();
    for (const b of brokers) {
      seen.add(b.nodeId);
      this.nodes.setEndpoint(b.nodeId, { host: b.host, port: b.port, listenerName: this.#listenerName });
    }
    for (const id of this.nodes.nodeIds()) if (!seen.has(id)) this.nodes.removeNode(id);
  }
}

function fetchMetadata(nodes: NodeClient, nodeId: number, topics: readonly string[] | null): Promise<RequestResult<typeof ApiKeys.Metadata>> {
  const body = {
    ...defaultMetadataRequest(),
    topics: topics === null ? null : topics.map((name) => ({ ...defaultMetadataRequestTopic(), name })),
    allowAutoTopicCreation: false,
  };
  return nodes.send(nodeId, ApiKeys.Metadata, body, { minVersion: metadataVersionMin, waitForConnection: false });
}
