/**
 * The mirror process: one client per cluster alias (shared by the flows that read or write
 * it), one `Flow` per enabled flow, a status line per flow every `statusIntervalMs`, and a
 * clean stop: `stop()` ends every partition's fetch loop, waits for its produces in flight and
 * writes its last offset sync, so a later start resumes with nothing lost or repeated (and a
 * SIGKILL instead only makes the next start walk the target a little further).
 *
 * A cluster that cannot be reached at start is retried (one log line per attempt) until it
 * answers or the mirror is stopped.
 */
import { ClusterClient } from "../client/bootstrap.ts";
import type { MirrorConfig } from "./config.ts";
import { Flow } from "./flow.ts";
import { type CopyLimits, copyLimitsDefault, type MirrorEnv } from "./partition-mirror.ts";
import { MirrorProducers } from "./producers.ts";

export const statusIntervalMs = 10_000;
const connectRetryMs = 2_000;

export interface PartitionSummary {
  readonly flow: string;
  readonly sourceTopic: string;
  readonly targetTopic: string;
  readonly partition: number;
  readonly state: string;
  readonly lagRecords: number;
  readonly recordsCopied: number;
  readonly lastError: string | null;
}

export class Mirror {
  readonly flows: Flow[] = [];
  readonly #env: MirrorEnv;
  readonly #config: MirrorConfig;
  readonly #limits: CopyLimits;
  readonly #clients = new Map<string, ClusterClient>();
  /** One registry of the mirror's producer ids per cluster, shared by the flows in and out of it. */
  readonly #producers = new Map<string, MirrorProducers>();
  #stopped = false;

  constructor(env: MirrorEnv, config: MirrorConfig, limits: CopyLimits = copyLimitsDefault) {
    this.#env = env;
    this.#config = config;
    this.#limits = limits;
  }

  stop(): void {
    this.#stopped = true;
    for (const f of this.flows) f.stop();
  }

  /** Connects to one cluster, retrying until it answers; null when stopped first. */
  async connect(alias: string): Promise<ClusterClient | null> {
    const have = this.#clients.get(alias);
    if (have !== undefined) return have;
    const settings = this.#config.clusters.get(alias);
    if (settings === undefined) throw new Error(`no cluster ${alias}`);
    while (!this.#stopped) {
      const r = await ClusterClient.connect({ network: this.#env.network, clock: this.#env.clock, prng: this.#env.prng, bootstrapServers: settings.bootstrapServers, config: settings.client });
      if (r.ok) {
        this.#env.log.info("connected", { cluster: alias, clusterId: r.value.clusterId ?? "" });
        this.#clients.set(alias, r.value);
        return r.value;
      }
      this.#env.log.warn("cluster unreachable; retrying", { cluster: alias, reason: r.error.message, waitMs: connectRetryMs });
      const until = this.#env.clock.monotonicMs() + connectRetryMs;
      while (!this.#stopped && this.#env.clock.monotonicMs() < until) await this.#env.sleep(100);
    }
    return null;
  }

  /** Builds the flows (connecting to their clusters); false when stopped first. */
  async open(): Promise<boolean> {
    const aliases = new Set(this.#config.clusters.keys());
    for (const f of this.#config.flows) {
      const source = await this.connect(f.source);
      const target = await this.connect(f.target);
      if (source === null || target === null) return false;
      const registry = (alias: string, cluster: ClusterClient): MirrorProducers => {
        let r = this.#producers.get(alias);
        if (r === undefined) {
          r = new MirrorProducers(cluster, this.#env.compression, this.#env.clock, f.replicationFactor);
          this.#producers.set(alias, r);
        }
        return r;
      };
      this.flows.push(new Flow(this.#env, f, { source, target, sourceProducers: registry(f.source, source), targetProducers: registry(f.target, target) }, aliases, this.#limits));
    }
    return true;
  }

  /** Runs until `stop()`. */
  async run(): Promise<void> {
    if (!(await this.open())) return this.close();
    const reporter = this.#report();
    await Promise.all(this.flows.map((f) => f.run()));
    await reporter;
    this.close();
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }

  summary(): PartitionSummary[] {
    const out: PartitionSummary[] = [];
    for (const f of this.flows) {
      for (const p of f.partitions.values()) {
        const s = p.status;
        out.push({
          flow: f.name,
          sourceTopic: s.sourceTopic,
          targetTopic: s.targetTopic,
          partition: s.partition,
          state: s.state,
          lagRecords: s.sourceHighWatermark < 0 ? -1 : Math.max(0, s.sourceHighWatermark - s.sourceNext),
          recordsCopied: s.recordsCopied,
          lastError: s.lastError,
        });
      }
    }
    return out;
  }

  async #report(): Promise<void> {
    let next = this.#env.clock.monotonicMs() + statusIntervalMs;
    while (!this.#stopped) {
      await this.#env.sleep(100);
      if (this.#env.clock.monotonicMs() < next) continue;
      next += statusIntervalMs;
      const now = this.#env.clock.nowMs();
      for (const f of this.flows) {
        const parts = [...f.partitions.values()].map((p) => p.status);
        const lag = parts.reduce((n, s) => n + (s.sourceHighWatermark < 0 ? 0 : Math.max(0, s.sourceHighWatermark - s.sourceNext)), 0);
        const copied = parts.reduce((n, s) => n + s.recordsCopied, 0);
        const bytes = parts.reduce((n, s) => n + s.bytesCopied, 0);
        const ages = parts.filter((s) => s.lastCopiedTimestampMs >= 0).map((s) => s.lastCopyAtMs - s.lastCopiedTimestampMs);
        const failed = parts.filter((s) => s.state === "failed").length;
        this.#env.log.info("flow status", {
          flow: f.name,
          topics: f.status.topics,
          partitions: parts.length,
          failed,
          lagRecords: lag,
          recordsCopied: copied,
          bytesCopied: bytes,
          replicationLatencyMs: ages.length === 0 ? -1 : Math.max(...ages),
          lastCheckpointAgeMs: f.status.lastCheckpointAtMs === 0 ? -1 : now - f.status.lastCheckpointAtMs,
          lastError: f.status.lastError ?? parts.find((s) => s.lastError !== null)?.lastError ?? "",
        });
      }
    }
  }
}
