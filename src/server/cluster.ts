/**
 * How a node works with the active controller:
 *
 * - `ControllerLink`: sends a request to the active controller's controller listener (the
 *   Raft leader, through the quorum's client), waiting through elections and retrying on
 *   NOT_CONTROLLER and lost connections until its deadline. Client requests that change
 *   metadata are forwarded whole through it by any broker (`forwardedToController`), and the
 *   node's own commands (topic auto-creation, producer id blocks) go through it when another
 *   node is the controller.
 * - `BrokerLifecycle`: this broker registers (a new incarnation id per start, its listeners
 *   and rack), then heartbeats every `broker.heartbeat.interval.ms` with the metadata offset
 *   it has replayed; the first start-up ends once the controller has unfenced it. A
 *   STALE_BROKER_EPOCH or unknown-registration answer (the controller lost it, or fenced a
 *   previous life) registers again. `stop` asks for a controlled shutdown (wantShutDown).
 * - `ControllerDuties`: on the active controller only, fences brokers whose heartbeats
 *   stopped for `broker.session.timeout.ms` (a metadata record, like every change), which
 *   moves the leadership of their partitions in the same batch (replication-control.ts);
 *   elects leaders of offline partitions that can have one (unclean election enabled since
 *   they went offline); and, every `leader.imbalance.check.interval.seconds` with
 *   `auto.leader.rebalance.enable`, moves leadership back to preferred replicas of brokers
 *   whose imbalance passes `leader.imbalance.per.broker.percentage`.
 *
 * On the active controller, every one of these runs locally (a decision submitted to the
 * metadata manager), so a single node never talks to itself over the network.
 */
import type { RequestResult } from "../client/errors.ts";
import { brokerHeartbeat, type BrokerRegistration, fenceExpiredBroker, type HeartbeatReply, HeartbeatTracker, registerBroker, type RegistrationReply } from "../metadata/broker-lifecycle.ts";
import type { CreatedTopic } from "../metadata/controller.ts";
import { electOfflineLeaders, rebalanceLeaders, uncleanPolicy } from "../metadata/replication-control.ts";
import { type ControllerCommand, type ControllerCommandResult, type MetadataManager, NotControllerError } from "../metadata/metadata-manager.ts";
import { randomUuid } from "../metadata/uuid.ts";
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { Prng } from "../platform/prng.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../protocol/messages/create-topics-request.ts";
import { type ApiKey, ApiKeys, type RequestBodies } from "../protocol/messages/index.ts";
import type { Logger } from "../util/log.ts";
import type { ApiHandler } from "./handlers/handler.ts";
import type { Quorum } from "./quorum.ts";

const securityProtocolIds: Readonly<Record<string, number>> = { PLAINTEXT: 0, SSL: 1, SASL_PLAINTEXT: 2, SASL_SSL: 3 };
const securityProtocolNames = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

export function securityProtocolName(id: number): string {
  return securityProtocolNames[id] ?? "PLAINTEXT";
}

/** Waits between attempts to reach the controller. */
const retryWaitMs = 50;

export class ControllerUnavailableError extends Error {
  override readonly name = "ControllerUnavailableError";
}

export class ControllerLink {
  readonly #quorum: Quorum;
  readonly #nodeId: number;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;

  /** `timeoutMs` bounds a whole send; `attemptTimeoutMs` (controller.quorum.request.timeout.ms) one try at one node. */
  constructor(quorum: Quorum, nodeId: number, clock: Clock, timeoutMs: number, attemptTimeoutMs: number) {
    this.#quorum = quorum;
    this.#nodeId = nodeId;
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#attemptTimeoutMs = attemptTimeoutMs;
  }

  isLocal(): boolean {
    return this.#quorum.isActiveController();
  }

  activeControllerId(): number {
    return this.#quorum.activeControllerId();
  }

  /**
   * Sends `body` to the active controller at exactly `version` (any when absent). Resolves
   * with its answer; rejects with ControllerUnavailableError when no other node was the
   * reachable controller within the timeout, or when this node became it (the caller then
   * runs the request itself).
   */
  async send<K extends ApiKey>(apiKey: K, body: RequestBodies[K], version?: number): Promise<Extract<RequestResult<K>, { ok: true }>> {
    const deadline = this.#clock.monotonicMs() + this.#timeoutMs;
    let last = "no active controller";
    for (;;) {
      if (this.#quorum.isActiveController()) throw new ControllerUnavailableError("this node is the active controller");
      const id = this.#quorum.activeControllerId();
      const left = deadline - this.#clock.monotonicMs();
      if (left <= 0) throw new ControllerUnavailableError(`the active controller could not be reached: ${last}`);
      if (id >= 0 && id !== this.#nodeId) {
        // One attempt never outlives the quorum's request timeout, and a controller that refuses
        // connections fails it at once: the loop then asks the quorum again, which by then may
        // name the controller's successor (a dead controller must not hold the request).
        const timeoutMs = Math.min(left, this.#attemptTimeoutMs);
        const options = version === undefined ? { timeoutMs, waitForConnection: false } : { timeoutMs, waitForConnection: false, minVersion: version, maxVersion: version };
        const result = await this.#quorum.channel.send(id, apiKey, body, options);
        if (result.ok) {
          if (!answersNotController(result.body)) return result as Extract<RequestResult<K>, { ok: true }>;
          last = `node ${id} is no longer the controller`;
        } else {
          last = `node ${id}: ${result.error.message}`;
          if (result.error.kind === "unsupportedVersion" || result.error.kind === "tooLarge") throw new ControllerUnavailableError(last);
        }
      }
      await sleep(this.#clock, Math.min(retryWaitMs, Math.max(1, deadline - this.#clock.monotonicMs())));
    }
  }

  /** MetadataManager's remote path for the node's own commands. */
  readonly remote = async <C extends ControllerCommand>(command: C): Promise<ControllerCommandResult<C>> => {
    if (command.kind === "createTopics") {
      const body = defaultCreateTopicsRequest();
      body.timeoutMs = this.#timeoutMs;
      body.topics = command.topics.map((t) => ({
        name: t.name,
        numPartitions: t.numPartitions,
        replicationFactor: t.replicationFactor,
        assignments: t.assignments.map((a) => ({ partitionIndex: a.partitionIndex, brokerIds: [...a.brokerIds] })),
        configs: t.configs.map((c) => ({ name: c.name, value: c.value })),
      }));
      const r = await this.send(ApiKeys.CreateTopics, body).catch(asNotController);
      const created: CreatedTopic[] = r.body.topics.map((t) => ({
        name: t.name,
        topicId: t.topicId as CreatedTopic["topicId"],
        errorCode: t.errorCode,
        errorMessage: t.errorMessage,
        numPartitions: t.numPartitions,
        replicationFactor: t.replicationFactor,
      }));
      return created as ControllerCommandResult<C>;
    }
    const r = await this.send(ApiKeys.AllocateProducerIds, { brokerId: command.brokerId, brokerEpoch: command.brokerEpoch }).catch(asNotController);
    if (r.body.errorCode !== ErrorCode.NONE) throw new Error(`producer id block refused: error ${r.body.errorCode}`);
    return { firstProducerId: r.body.producerIdStart, size: r.body.producerIdLen } as ControllerCommandResult<C>;
  };
}

function asNotController(error: unknown): never {
  if (error instanceof ControllerUnavailableError) throw new NotControllerError(-1, error.message);
  throw error;
}

/** NOT_CONTROLLER at the top level or in every item: the request went to a former controller. */
function answersNotController(body: unknown): boolean {
  const b = body as {
    errorCode?: number;
    topics?: { errorCode?: number }[];
    results?: { errorCode?: number }[];
    responses?: { errorCode?: number }[];
    filterResults?: { errorCode?: number }[];
  };
  if (b.errorCode === ErrorCode.NOT_CONTROLLER) return true;
  const items = b.topics ?? b.results ?? b.responses ?? b.filterResults;
  return Array.isArray(items) && items.length > 0 && items.every((i) => i.errorCode === ErrorCode.NOT_CONTROLLER);
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(ms, resolve));
}

/**
 * A handler whose request the active controller must decide: on any other node the request
 * is forwarded whole, at its version, and the controller's answer relayed. When no controller
 * answers in time the handler runs here, where its decision fails with NOT_CONTROLLER (a
 * retriable error: clients look for the controller again).
 */
export function forwardedToController<K extends ApiKey>(handler: ApiHandler<K>): ApiHandler<K> {
  return {
    ...handler,
    async handle(request, ctx) {
      const link = ctx.services.cluster?.link;
      if (link === undefined || link.isLocal()) return handler.handle(request, ctx);
      try {
        const answer = await link.send(handler.apiKey, request, ctx.apiVersion);
        return answer.body as never;
      } catch (error) {
        if (!(error instanceof ControllerUnavailableError)) throw error;
        ctx.logRepeated("warn", "forwarding failed", "request for the controller not forwarded", { reason: error.message });
        return handler.handle(request, ctx);
      }
    },
  };
}

export interface BrokerLifecycleOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly metadata: MetadataManager;
  readonly link: ControllerLink;
  readonly duties: ControllerDuties;
  readonly clock: Clock;
  readonly prng: Prng;
  readonly log: Logger;
  readonly endpoints: BrokerRegistration["endpoints"];
  readonly rack: string | null;
  readonly logDirs: readonly string[];
  readonly heartbeatIntervalMs: number;
}

/** Heartbeats while fenced come this often at most, so start-up does not wait a whole interval. */
const fencedHeartbeatMs = 100;

export class BrokerLifecycle {
  readonly #o: BrokerLifecycleOptions;
  #brokerEpoch = -1;
  #fenced = true;
  #timer: CancelTimer | null = null;
  #stopped = false;
  #unfenced: { resolve: () => void; reject: (e: Error) => void } | null = null;
  readonly #registration: BrokerRegistration;

  constructor(o: BrokerLifecycleOptions) {
    this.#o = o;
    this.#registration = { brokerId: o.nodeId, incarnationId: randomUuid(o.prng), endpoints: o.endpoints, rack: o.rack };
  }

  get brokerEpoch(): number {
    return this.#brokerEpoch;
  }

  get fenced(): boolean {
    return this.#fenced;
  }

  /** Registers, then heartbeats; resolves once the controller has unfenced this broker. */
  start(): Promise<void> {
    const unfenced = new Promise<void>((resolve, reject) => {
      this.#unfenced = { resolve, reject };
    });
    void this.#beat();
    return unfenced;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.();
    this.#timer = null;
    this.#unfenced?.reject(new Error("stopped before the controller unfenced this broker"));
    this.#unfenced = null;
  }

  /** Controlled shutdown: tells the controller (best effort, bounded) this broker is going. */
  async shutDown(timeoutMs: number): Promise<void> {
    this.stop();
    if (this.#brokerEpoch < 0) return;
    const deadline = this.#o.clock.monotonicMs() + timeoutMs;
    await Promise.race([this.#heartbeat(true).catch(() => undefined), sleep(this.#o.clock, Math.max(0, deadline - this.#o.clock.monotonicMs()))]);
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    try {
      if (this.#brokerEpoch < 0) {
        const reply = await this.#register();
        if (reply.errorCode !== ErrorCode.NONE) throw new Error(`registration refused: error ${reply.errorCode} ${reply.errorMessage ?? ""}`);
        this.#brokerEpoch = reply.brokerEpoch;
        this.#o.log.info("registered with the controller", { brokerEpoch: reply.brokerEpoch, controller: this.#o.link.activeControllerId() });
      }
      const reply = await this.#heartbeat(false);
      if (reply.errorCode === ErrorCode.STALE_BROKER_EPOCH || reply.errorCode === ErrorCode.BROKER_ID_NOT_REGISTERED) {
        this.#o.log.warn("controller does not know this registration: registering again", { brokerEpoch: this.#brokerEpoch, error: reply.errorCode });
        this.#brokerEpoch = -1;
      } else if (reply.errorCode === ErrorCode.NONE) {
        if (this.#fenced !== reply.isFenced) this.#o.log.info(reply.isFenced ? "fenced by the controller" : "unfenced by the controller", { brokerEpoch: this.#brokerEpoch });
        this.#fenced = reply.isFenced;
        if (!reply.isFenced && this.#unfenced !== null) {
          this.#unfenced.resolve();
          this.#unfenced = null;
        }
      }
    } catch (error) {
      this.#o.log.debug("heartbeat failed", { error: error instanceof Error ? error.message : String(error) });
    }
    if (this.#stopped) return;
    const wait = this.#fenced ? Math.min(fencedHeartbeatMs, this.#o.heartbeatIntervalMs) : this.#o.heartbeatIntervalMs;
    this.#timer = this.#o.clock.schedule(wait, () => void this.#beat());
  }

  async #register(): Promise<RegistrationReply> {
    const r = this.#registration;
    if (this.#o.link.isLocal()) return this.#o.metadata.submit((c) => registerBroker(c, r, this.#o.duties.uncleanDefault));
    const answer = await this.#o.link.send(ApiKeys.BrokerRegistration, {
      brokerId: r.brokerId,
      clusterId: this.#o.clusterId,
      incarnationId: r.incarnationId,
      listeners: r.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port, securityProtocol: securityProtocolIds[e.securityProtocol] ?? 0 })),
      features: [],
      rack: r.rack,
      isMigratingZkBroker: false,
      logDirs: [],
      previousBrokerEpoch: -1,
    });
    return { errorCode: answer.body.errorCode, errorMessage: null, brokerEpoch: answer.body.brokerEpoch };
  }

  async #heartbeat(wantShutDown: boolean): Promise<HeartbeatReply> {
    const h = { brokerId: this.#o.nodeId, brokerEpoch: this.#brokerEpoch, currentMetadataOffset: this.#o.metadata.image.offset, wantFence: false, wantShutDown };
    if (this.#o.link.isLocal()) return this.#o.duties.heartbeat(h);
    const answer = await this.#o.link.send(ApiKeys.BrokerHeartbeat, { ...h, offlineLogDirs: [] });
    return answer.body;
  }
}

/** A session check this much later than its interval (times, plus the slack) means a stall. */
const stalledCheckFactor = 2;
const stalledCheckSlackMs = 1000;

/** What only the active controller does for the brokers. */
export class ControllerDuties {
  readonly #metadata: MetadataManager;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #tracker: HeartbeatTracker;
  readonly #quorum: Quorum;
  #timer: CancelTimer | null = null;
  #wasLeader = false;
  /** unclean.leader.election.enable of this node's config: elections fall back to it. */
  readonly uncleanDefault: boolean;

  #idleTimer: CancelTimer | null = null;
  #rebalanceTimer: CancelTimer | null = null;

  constructor(opts: {
    metadata: MetadataManager;
    quorum: Quorum;
    clock: Clock;
    log: Logger;
    sessionTimeoutMs: number;
    checkIntervalMs: number;
    uncleanDefault?: boolean;
    /** metadata.max.idle.interval.ms: a no-op record when nothing was committed for this long (0: never). */
    idleIntervalMs?: number;
    /** auto.leader.rebalance.enable with its interval and leader.imbalance.per.broker.percentage; absent: off. */
    leaderRebalance?: { intervalMs: number; imbalancePercentage: number };
  }) {
    this.uncleanDefault = opts.uncleanDefault ?? false;
    this.#metadata = opts.metadata;
    this.#quorum = opts.quorum;
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#tracker = new HeartbeatTracker(opts.sessionTimeoutMs, opts.clock.monotonicMs());
    let lastTickMs = opts.clock.monotonicMs();
    const tick = (): void => {
      this.#timer = opts.clock.schedule(opts.checkIntervalMs, tick);
      // A check far later than scheduled means this process stalled (a long synchronous step,
      // a pause): heartbeats could not be read meanwhile, so every session restarts now
      // rather than fencing brokers — this node's own among them — for our stall.
      const now = opts.clock.monotonicMs();
      if (now - lastTickMs > opts.checkIntervalMs * stalledCheckFactor + stalledCheckSlackMs) {
        this.#log.warn("controller checks stalled: broker sessions restart now", { stalledMs: now - lastTickMs - opts.checkIntervalMs });
        this.#tracker.reset(now);
      }
      lastTickMs = now;
      void this.#check();
    };
    this.#timer = opts.clock.schedule(opts.checkIntervalMs, tick);
    // An idle metadata log still moves: a voter that came back wiped is proven by a commit
    // past the point where it caught up (raft-core.ts), and brokers see the log is alive.
    const idleMs = opts.idleIntervalMs ?? 0;
    if (idleMs > 0) {
      let seenOffset = -2;
      const idle = (): void => {
        this.#idleTimer = opts.clock.schedule(idleMs, idle);
        const offset = this.#metadata.image.offset;
        const quiet = offset === seenOffset;
        seenOffset = offset;
        if (!quiet || !this.#quorum.isActiveController()) return;
        this.#metadata.submit(() => ({ records: [{ type: "noOp" }], response: undefined })).catch((error: unknown) => {
          if (!(error instanceof NotControllerError)) this.#log.debug("no-op record not written", { error: error instanceof Error ? error.message : String(error) });
        });
      };
      this.#idleTimer = opts.clock.schedule(idleMs, idle);
    }
    const rebalance = opts.leaderRebalance;
    if (rebalance !== undefined) {
      if (!(rebalance.intervalMs > 0)) throw new Error(`leader rebalance interval ${rebalance.intervalMs}`);
      const check = (): void => {
        this.#rebalanceTimer = opts.clock.schedule(rebalance.intervalMs, check);
        void this.#rebalanceLeaders(rebalance.imbalancePercentage);
      };
      this.#rebalanceTimer = opts.clock.schedule(rebalance.intervalMs, check);
    }
  }

  /** Preferred-leader balancing: decided on the image, submitted only when there is something to move. */
  async #rebalanceLeaders(percentage: number): Promise<void> {
    this.#noteLeadership();
    if (!this.#wasLeader || rebalanceLeaders(this.#metadata.image, percentage).length === 0) return;
    try {
      const moved = await this.#metadata.submit((c) => {
        const records = rebalanceLeaders(c.image, percentage);
        return { records, response: records.length, atomic: false };
      });
      if (moved > 0) this.#log.info("moved leadership back to preferred replicas", { partitions: moved });
    } catch (error) {
      if (!(error instanceof NotControllerError)) this.#log.error("preferred leader balancing failed", { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** A heartbeat answered here (from the controller listener or this node's own broker). */
  async heartbeat(h: { brokerId: number; brokerEpoch: number; currentMetadataOffset: number; wantFence: boolean; wantShutDown: boolean }): Promise<HeartbeatReply> {
    this.#noteLeadership();
    const reply = await this.#metadata.submit((c) => brokerHeartbeat(c, h, this.uncleanDefault));
    if (reply.errorCode === ErrorCode.NONE) this.#tracker.heartbeat(h.brokerId, h.brokerEpoch, this.#clock.monotonicMs());
    return reply;
  }

  close(): void {
    this.#timer?.();
    this.#timer = null;
    this.#idleTimer?.();
    this.#idleTimer = null;
    this.#rebalanceTimer?.();
    this.#rebalanceTimer = null;
  }

  #noteLeadership(): void {
    const leader = this.#quorum.isActiveController();
    if (leader && !this.#wasLeader) this.#tracker.reset(this.#clock.monotonicMs());
    this.#wasLeader = leader;
  }

  async #check(): Promise<void> {
    this.#noteLeadership();
    if (!this.#wasLeader) return;
    for (const { brokerId, brokerEpoch } of this.#tracker.expired(this.#metadata.image, this.#clock.monotonicMs())) {
      try {
        const fenced = await this.#metadata.submit((c) => fenceExpiredBroker(c, brokerId, brokerEpoch, this.uncleanDefault));
        if (fenced) this.#log.warn("fenced a broker whose heartbeats stopped", { broker: brokerId, brokerEpoch });
      } catch (error) {
        if (!(error instanceof NotControllerError)) this.#log.error("fencing a broker failed", { broker: brokerId, error: error instanceof Error ? error.message : String(error) });
        return;
      }
    }
    // Offline partitions that can have a leader now (unclean election enabled since, or an
    // ISR member live again through a path that did not elect): decided on the image, submitted
    // only when there is something to write.
    const image = this.#metadata.image;
    if (electOfflineLeaders(image, uncleanPolicy(image, this.uncleanDefault)).length === 0) return;
    try {
      const elected = await this.#metadata.submit((c) => {
        const records = electOfflineLeaders(c.image, uncleanPolicy(c.image, this.uncleanDefault));
        return { records, response: records.length, atomic: false };
      });
      if (elected > 0) this.#log.info("elected leaders of offline partitions", { partitions: elected });
    } catch (error) {
      if (!(error instanceof NotControllerError)) this.#log.error("electing offline partitions failed", { error: error instanceof Error ? error.message : String(error) });
    }
  }
}
