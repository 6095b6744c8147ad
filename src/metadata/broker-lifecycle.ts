/**
 * Broker lifecycle on the active controller: registration, heartbeats and fencing — the
 * cluster's failure detector.
 *
 * - `registerBroker`: a broker registers at every start with a new incarnation id and gets a
 *   new broker epoch (strictly greater than any before: the image offset the record follows).
 *   It registers fenced; a repeated request of the same incarnation gets the same epoch and
 *   writes nothing.
 * - `brokerHeartbeat`: a heartbeat of a stale epoch gets STALE_BROKER_EPOCH (a restarted
 *   broker's old requests are fenced). A fenced broker is unfenced once it has replayed the
 *   metadata log past its own registration (caught up); `wantFence` keeps it fenced;
 *   `wantShutDown` fences it for a controlled shutdown.
 * - Leadership follows (replication-control.ts): a broker fenced, shutting down or registering
 *   a new incarnation leaves every ISR and its partitions get new leaders, in the same
 *   metadata batch as the fencing; a broker unfenced leads the offline partitions whose ISR
 *   it is in. `uncleanDefault` is the controller's static unclean.leader.election.enable.
 * - `HeartbeatTracker`: the controller's in-memory record of when each broker last
 *   heartbeated (monotonic time); `expired` names unfenced brokers silent for longer than
 *   `broker.session.timeout.ms`. A new active controller starts every broker's clock at its
 *   own start, so a change of controller never fences a broker by itself.
 */
import { ErrorCode } from "../protocol/errors.ts";
import type { ControllerContext, ControllerResult } from "./controller.ts";
import type { MetadataImage } from "./image.ts";
import type { BrokerEndpoint, MetadataRecord } from "./records.ts";
import { electOfflineLeaders, removeBrokerFromPartitions, uncleanPolicy } from "./replication-control.ts";
import type { Uuid } from "./uuid.ts";

export interface BrokerRegistration {
  readonly brokerId: number;
  readonly incarnationId: Uuid;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
}

export interface RegistrationReply {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly brokerEpoch: number;
}

export function registerBroker(ctx: ControllerContext, r: BrokerRegistration, uncleanDefault = false): ControllerResult<RegistrationReply> {
  const existing = ctx.image.brokers.get(r.brokerId);
  if (existing !== undefined && existing.incarnationId === r.incarnationId) {
    return { records: [], response: { errorCode: ErrorCode.NONE, errorMessage: null, brokerEpoch: existing.brokerEpoch } };
  }
  const brokerEpoch = Math.max(ctx.image.offset + 1, (existing?.brokerEpoch ?? -1) + 1);
  const record: MetadataRecord = {
    type: "registerBroker",
    brokerId: r.brokerId,
    incarnationId: r.incarnationId,
    brokerEpoch,
    endpoints: r.endpoints.map((e) => ({ ...e })),
    rack: r.rack,
    fenced: true,
  };
  // A new life of a known broker: the old one is gone, with whatever it had not flushed.
  const moved = existing === undefined ? [] : removeBrokerFromPartitions(ctx.image, r.brokerId, uncleanPolicy(ctx.image, uncleanDefault));
  return { records: [record, ...moved], response: { errorCode: ErrorCode.NONE, errorMessage: null, brokerEpoch }, atomic: false };
}

export interface Heartbeat {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** The offset of the last metadata record the broker has replayed. */
  readonly currentMetadataOffset: number;
  readonly wantFence: boolean;
  readonly wantShutDown: boolean;
}

export interface HeartbeatReply {
  readonly errorCode: number;
  readonly isCaughtUp: boolean;
  readonly isFenced: boolean;
  readonly shouldShutDown: boolean;
}

export function brokerHeartbeat(ctx: ControllerContext, h: Heartbeat, uncleanDefault = false): ControllerResult<HeartbeatReply> {
  const b = ctx.image.brokers.get(h.brokerId);
  if (b === undefined) {
    return { records: [], response: { errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED, isCaughtUp: false, isFenced: true, shouldShutDown: false } };
  }
  if (b.brokerEpoch !== h.brokerEpoch) {
    return { records: [], response: { errorCode: ErrorCode.STALE_BROKER_EPOCH, isCaughtUp: false, isFenced: true, shouldShutDown: false } };
  }
  // Its own registration is at an offset >= its epoch: replayed past it, the broker knows the cluster.
  const caughtUp = h.currentMetadataOffset >= b.brokerEpoch;
  const unclean = uncleanPolicy(ctx.image, uncleanDefault);
  const fence = (fenced: boolean): MetadataRecord[] => {
    if (b.fenced === fenced) return [];
    const record: MetadataRecord = { type: "brokerFencing", brokerId: b.brokerId, brokerEpoch: b.brokerEpoch, fenced };
    const moved = fenced ? removeBrokerFromPartitions(ctx.image, b.brokerId, unclean) : electOfflineLeaders(ctx.image, unclean, new Set([b.brokerId]));
    return [record, ...moved];
  };
  if (h.wantShutDown) {
    return { records: fence(true), response: { errorCode: ErrorCode.NONE, isCaughtUp: caughtUp, isFenced: true, shouldShutDown: true }, atomic: false };
  }
  const fenced = h.wantFence || !caughtUp ? b.fenced : false;
  return { records: fence(fenced), response: { errorCode: ErrorCode.NONE, isCaughtUp: caughtUp, isFenced: fenced, shouldShutDown: false }, atomic: false };
}

/** Fences a broker whose session expired (if it is still the same, unfenced registration). */
export function fenceExpiredBroker(ctx: ControllerContext, brokerId: number, brokerEpoch: number, uncleanDefault = false): ControllerResult<boolean> {
  const b = ctx.image.brokers.get(brokerId);
  if (b === undefined || b.brokerEpoch !== brokerEpoch || b.fenced) return { records: [], response: false };
  const moved = removeBrokerFromPartitions(ctx.image, brokerId, uncleanPolicy(ctx.image, uncleanDefault));
  return { records: [{ type: "brokerFencing", brokerId, brokerEpoch, fenced: true }, ...moved], response: true, atomic: false };
}

export class HeartbeatTracker {
  readonly #sessionTimeoutMs: number;
  /** brokerId → (epoch, last heartbeat, monotonic ms). */
  readonly #last = new Map<number, { epoch: number; atMs: number }>();
  #sinceMs: number;

  constructor(sessionTimeoutMs: number, nowMs: number) {
    this.#sessionTimeoutMs = sessionTimeoutMs;
    this.#sinceMs = nowMs;
  }

  /** This node became the active controller at `nowMs`: every session starts now. */
  reset(nowMs: number): void {
    this.#last.clear();
    this.#sinceMs = nowMs;
  }

  heartbeat(brokerId: number, brokerEpoch: number, nowMs: number): void {
    this.#last.set(brokerId, { epoch: brokerEpoch, atMs: nowMs });
  }

  /** Unfenced brokers of `image` silent for longer than the session timeout. */
  expired(image: MetadataImage, nowMs: number): { brokerId: number; brokerEpoch: number }[] {
    const out: { brokerId: number; brokerEpoch: number }[] = [];
    for (const b of image.brokers.values()) {
      if (b.fenced) continue;
      const seen = this.#last.get(b.brokerId);
      const since = seen !== undefined && seen.epoch === b.brokerEpoch ? seen.atMs : this.#sinceMs;
      if (nowMs - since > this.#sessionTimeoutMs) out.push({ brokerId: b.brokerId, brokerEpoch: b.brokerEpoch });
    }
    return out;
  }
}
