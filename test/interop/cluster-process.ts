/**
 * A real bunka cluster for interop tests: N combined (broker + controller) nodes, each a
 * `BrokerProcess` on 127.0.0.1 with a client port and a controller port picked free at the
 * start, one shared cluster id, and `controller.quorum.voters` naming all of them — the same
 * Kafka-style settings an operator writes. Broker-only observers can be added.
 *
 * Invariants: ports stay the same across restarts (voters' addresses are configuration);
 * `dispose()` kills whatever still runs and removes every data dir.
 */
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { NodeClient } from "../../src/client/node-client.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import type { DescribeQuorumResponse } from "../../src/protocol/messages/describe-quorum-response.ts";
import { BrokerProcess, ok, run, text } from "./broker-process.ts";

/**
 * Ports free right now, chosen below the kernel's ephemeral range (32768-60999 on Linux): a
 * port the OS hands out for port 0 comes from that range, and so does the local port of every
 * outgoing connection, so between the pick and the node's bind another process — or an earlier
 * node of the same cluster connecting to its peers — could take it (EADDRINUSE). Below 32768
 * only explicit binds compete. Each is checked by binding it once and releasing it.
 */
export function freePorts(count: number): number[] {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 10_000) throw new Error(`freePorts: no ${count} free ports in 20000..32767`);
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (ports.includes(port)) continue;
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      ports.push(port);
    } catch {
      // taken: try another
    }
  }
  return ports;
}

/** A Kafka-style base64 UUID for cluster.id. */
export function newClusterId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Buffer.from(bytes).toString("base64url").slice(0, 22);
}

export interface ClusterOptions {
  readonly nodes: number;
  readonly name: string;
  /** Extra settings for every node. */
  readonly sets?: Readonly<Record<string, string>>;
}

export class ClusterProcess {
  readonly clusterId = newClusterId();
  readonly nodes: BrokerProcess[] = [];
  readonly observers: BrokerProcess[] = [];
  readonly voters: string;
  readonly controllerPorts: number[];

  constructor(private readonly options: ClusterOptions) {
    const ports = freePorts(options.nodes * 2);
    this.controllerPorts = ports.slice(options.nodes);
    this.voters = this.controllerPorts.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(",");
    for (let i = 0; i < options.nodes; i++) {
      this.nodes.push(
        new BrokerProcess({
          name: `${options.name}-n${i + 1}`,
          port: ports[i]!,
          controllerPort: this.controllerPorts[i]!,
          sets: {
            "node.id": String(i + 1),
            "process.roles": "broker,controller",
            "cluster.id": this.clusterId,
            "controller.quorum.voters": this.voters,
            ...(options.sets ?? {}),
          },
        }),
      );
    }
  }

  /** Starts every voter at once (none is ready before a majority has formed the quorum). */
  async start(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start()));
  }

  /** Node with id `id` (1-based, as node.id). */
  node(id: number): BrokerProcess {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  live(): BrokerProcess[] {
    return this.nodes.filter((n) => n.alive());
  }

  bootstrap(): string {
    return this.live()
      .map((n) => n.bootstrap)
      .join(",");
  }

  /** Starts a broker-only node (an observer of the quorum) with node id `id`. */
  async addObserver(id: number): Promise<BrokerProcess> {
    const o = new BrokerProcess({
      name: `${this.options.name}-obs${id}`,
      sets: {
        "node.id": String(id),
        "process.roles": "broker",
        "cluster.id": this.clusterId,
        "controller.quorum.voters": this.voters,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ...(this.options.sets ?? {}),
      },
    });
    this.observers.push(o);
    await o.start();
    return o;
  }

  /** DescribeQuorum through a node's client listener (forwarded to the active controller). */
  async describeQuorum(via: BrokerProcess): Promise<DescribeQuorumResponse> {
    const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(7) });
    client.setEndpoint(0, { host: "127.0.0.1", port: via.port, listenerName: "PLAINTEXT" });
    try {
      const r = await client.send(0, ApiKeys.DescribeQuorum, { topics: [{ topicName: "__cluster_metadata", partitions: [{ partitionIndex: 0 }] }] }, { timeoutMs: 10_000 });
      if (!r.ok) throw r.error;
      return r.body;
    } finally {
      client.close();
    }
  }

  /** `kcat -L -J` through one node: its brokers, controller and topics. */
  async kcatMetadata(via: BrokerProcess): Promise<{ controllerid: number; brokers: { id: number; name: string }[]; topics: { topic: string }[] }> {
    const r = ok(`kcat -L via ${via.name}`, await run(["kcat", "-b", via.bootstrap, "-L", "-J", "-m", "10"], { timeoutMs: 20_000 }));
    return JSON.parse(text(r.stdout));
  }

  /** Stops and removes every node; resolves with the crash lines their logs held first (see crashLines). */
  async dispose(): Promise<string[]> {
    const crashes = this.crashLines();
    for (const n of [...this.observers, ...this.nodes]) await n.dispose();
    return crashes;
  }

  crashLines(): string[] {
    return [...this.nodes, ...this.observers].flatMap((n) => n.crashLines().map((l) => `${n.name}: ${l}`));
  }
}
