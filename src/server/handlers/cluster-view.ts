/**
 * The cluster as clients see it, shared by Metadata, DescribeCluster, FindCoordinator and
 * the leader hints of Produce/Fetch: which brokers are listed, at which endpoint, which one
 * is named controller, and how a partition's leader, replicas and ISR are reported.
 * Handlers never assume a partition is hosted here: the data path asks ReplicaManager,
 * which answers NOT_LEADER_OR_FOLLOWER for a partition this broker does not lead.
 *
 * - Endpoints are those of the listener the client connected on, as in Kafka: a broker that
 *   has no endpoint of that name is not listed. A client on a listener this broker does not
 *   advertise (the controller listener of Kafka's sample config) is answered as if it came
 *   in on this broker's first advertised listener, as bunka always did.
 * - Listed brokers are the registered, unfenced ones with such an endpoint. A replica on any
 *   other broker is offline.
 * - The controller named to clients is this broker when it is listed: every broker forwards
 *   CreateTopics and friends to the active controller, and the client has just reached this
 *   one. Naming the active controller instead would send clients to a dead node for as long
 *   as the survivors still believe in it (up to the quorum's fetch timeout after a SIGKILL),
 *   and some clients (kafkajs's admin) give up on the first refused connection. Otherwise
 *   the active controller when listed, else the lowest listed id, else -1. (Kafka 4 names a
 *   random live broker, since its controllers are not reachable by clients.)
 */
import type { BrokerImage, MetadataImage, PartitionImage } from "../../metadata/image.ts";
import type { BrokerEndpoint } from "../../metadata/records.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { activeControllerId, type BrokerSettings } from "../services.ts";
import type { RequestContext } from "./handler.ts";

/** The listener whose endpoints a response to a client on `connectionListener` carries. */
export function responseListener(settings: BrokerSettings, connectionListener: string): string {
  const advertised = settings.advertisedListeners;
  if (advertised.length === 0 || advertised.some((l) => l.name === connectionListener)) return connectionListener;
  return advertised[0]!.name;
}

/** A broker's endpoint on `listener`, or undefined when it has none. */
export function brokerEndpoint(broker: BrokerImage, listener: string): BrokerEndpoint | undefined {
  return broker.endpoints.find((e) => e.name === listener);
}

export interface ListedBroker {
  readonly brokerId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

/** One response's view: the listed brokers and the controller named, on one listener. */
export class ClusterView {
  /** Ascending by broker id. */
  readonly brokers: readonly ListedBroker[];
  readonly controllerId: number;
  readonly #listed: ReadonlyMap<number, ListedBroker>;

  constructor(
    readonly image: MetadataImage,
    readonly listener: string,
    settings: BrokerSettings,
  ) {
    const brokers: ListedBroker[] = [];
    for (const b of image.liveBrokers()) {
      const e = brokerEndpoint(b, listener);
      if (e !== undefined) brokers.push({ brokerId: b.brokerId, host: e.host, port: e.port, rack: b.rack });
    }
    this.brokers = brokers;
    this.#listed = new Map(brokers.map((b) => [b.brokerId, b]));
    const active = activeControllerId(settings);
    this.controllerId = this.#listed.has(settings.nodeId) ? settings.nodeId : this.#listed.has(active) ? active : (brokers[0]?.brokerId ?? -1);
  }

  /** The view for a request: the current image, on the listener its response uses. */
  static of(ctx: RequestContext): ClusterView {
    const { settings } = ctx.services;
    return new ClusterView(ctx.services.metadata.image, responseListener(settings, ctx.connection.listenerName), settings);
  }

  listed(brokerId: number): ListedBroker | undefined {
    return this.#listed.get(brokerId);
  }

  /**
   * The endpoint to send with a Produce/Fetch partition error that names `leaderId` as
   * currentLeader (the response's nodeEndpoints, KIP-951), so a client can go to the new
   * leader without a metadata round trip; undefined when the leader is not listed.
   */
  leaderNode(leaderId: number): ListedBroker | undefined {
    return this.#listed.get(leaderId);
  }

  /**
   * A partition as Metadata reports it. Leader: its id when listed; -1 with
   * LEADER_NOT_AVAILABLE when there is none or it is fenced or unregistered, or
   * LISTENER_NOT_FOUND (Metadata v6+, as Kafka) when it is live but has no endpoint on this
   * listener. Replicas and ISR are reported in full, except that `filterUnlisted` (Metadata v0)
   * drops unlisted ones and answers REPLICA_NOT_AVAILABLE when it dropped any.
   */
  partition(p: PartitionImage, opts: { filterUnlisted: boolean; listenerNotFound: boolean }): PartitionView {
    const listed = (b: number): boolean => this.#listed.has(b);
    const offlineReplicas = p.replicas.filter((b) => !listed(b));
    const replicas = opts.filterUnlisted ? p.replicas.filter(listed) : p.replicas.slice();
    const isr = opts.filterUnlisted ? p.isr.filter(listed) : p.isr.slice();
    const base = { leaderEpoch: p.leaderEpoch, replicas, isr, offlineReplicas };
    if (p.leader < 0 || !listed(p.leader)) {
      const live = p.leader >= 0 ? this.image.brokers.get(p.leader) : undefined;
      const noListener = live !== undefined && !live.fenced && opts.listenerNotFound;
      return { ...base, errorCode: noListener ? ErrorCode.LISTENER_NOT_FOUND : ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1 };
    }
    const dropped = replicas.length < p.replicas.length || isr.length < p.isr.length;
    return { ...base, errorCode: dropped ? ErrorCode.REPLICA_NOT_AVAILABLE : ErrorCode.NONE, leaderId: p.leader };
  }
}

export interface PartitionView {
  errorCode: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}
