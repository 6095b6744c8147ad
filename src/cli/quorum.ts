/**
 * `bunka quorum`: the controller quorum from the outside, as Kafka's kafka-metadata-quorum.sh
 * does it — a Kafka client (NodeClient) speaking DescribeQuorum, AddRaftVoter and
 * RemoveRaftVoter to a broker (forwarded to the active controller) or to a controller.
 *
 *   bunka quorum describe (--bootstrap-server H:P | --bootstrap-controller H:P)
 *   bunka quorum add-controller (--bootstrap-server H:P | --bootstrap-controller H:P) --config FILE [--set k=v ...]
 *       adds the controller that FILE configures (its node.id, the directory id in its metadata
 *       log dir's meta.properties, its controller listener); it must be running (fetching as
 *       an observer) first.
 *   bunka quorum remove-controller (--bootstrap-server H:P | --bootstrap-controller H:P) --controller-id N --controller-directory-id UUID
 *
 * Also `formatInitialControllers`: what `storage format`'s quorum flags mean for a node.
 * Bad arguments: one line on stderr, exit 2; a refused request: the error, exit 1.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { NodeClient } from "../client/node-client.ts";
import { parseUuid } from "../metadata/uuid.ts";
import { systemClock } from "../platform/bun/clock.ts";
import { cryptoPrng } from "../platform/bun/crypto-prng.ts";
import { bunNetwork } from "../platform/bun/network.ts";
import { exitProcess, printStdout, stderrSink } from "../platform/bun/process.ts";
import { ErrorCode, errorName } from "../protocol/errors.ts";
import { ApiKeys } from "../protocol/messages/index.ts";
import { metadataPartition, metadataTopic } from "../raft/raft-log.ts";
import { parseInitialController } from "../raft/voter-set.ts";
import { type BrokerConfig, loadConfig } from "../server/config.ts";
import { parseMetaProperties } from "../server/meta-properties.ts";
import type { InitialControllers } from "../server/storage-format.ts";

function fail(code: number, message: string): never {
  stderrSink(`bunka quorum: ${message}`, "error");
  exitProcess(code);
}

const usage = `usage:
  bunka quorum describe (--bootstrap-server H:P | --bootstrap-controller H:P)
  bunka quorum add-controller (--bootstrap-server H:P | --bootstrap-controller H:P) --config FILE [--set key=value ...]
  bunka quorum remove-controller (--bootstrap-server H:P | --bootstrap-controller H:P) --controller-id N --controller-directory-id UUID`;

/** The controller listener endpoint a node's config gives (advertised first; a wildcard host is localhost). */
function controllerEndpoint(config: BrokerConfig): { name: string; host: string; port: number } | string {
  const name = config.controllerListenerNames[0];
  if (name === undefined) return "controller.listener.names is unset";
  const l = config.advertisedListeners?.find((x) => x.name === name) ?? config.listeners.find((x) => x.name === name);
  if (l === undefined) return `listener ${name} is not in listeners`;
  const host = l.host === "" || l.host === "0.0.0.0" || l.host === "::" ? "localhost" : l.host;
  return { name, host, port: l.port };
}

/** What `storage format`'s --standalone / --initial-controllers / --no-initial-controllers mean for this node. Exits 2 on a bad value. */
export function formatInitialControllers(flag: { kind: "standalone" } | { kind: "list"; text: string } | { kind: "none" } | null, config: BrokerConfig): InitialControllers {
  if (flag === null) return { kind: "static" };
  if (config.voters.length > 0) fail(2, "controller.quorum.voters is set: a static quorum; --standalone/--initial-controllers form a dynamic one (set controller.quorum.bootstrap.servers instead)");
  if (!config.processRoles.includes("controller") && flag.kind !== "none") fail(2, "this node is not a controller (process.roles)");
  if (flag.kind === "none") return { kind: "none" };
  const endpoint = controllerEndpoint(config);
  if (typeof endpoint === "string") fail(2, endpoint);
  if (flag.kind === "standalone") return { kind: "standalone", endpoint };
  const voters = [];
  for (const item of flag.text.split(",")) {
    const v = parseInitialController(item, endpoint.name);
    if (typeof v === "string") fail(2, `--initial-controllers: ${v}`);
    voters.push(v);
  }
  if (!voters.some((v) => v.id === config.nodeId)) fail(2, `--initial-controllers does not name this node (${config.nodeId})`);
  return { kind: "list", voters };
}

interface Args {
  bootstrap: { host: string; port: number; controller: boolean } | null;
  configFile: string | null;
  sets: string[];
  controllerId: number | null;
  directoryId: string | null;
}

function parseArgs(args: readonly string[]): Args {
  const out: Args = { bootstrap: null, configFile: null, sets: [], controllerId: null, directoryId: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const eq = a.indexOf("=");
      if (a.startsWith("--") && eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) fail(2, `${a} needs a value`);
      return v;
    };
    const flag = a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    switch (flag) {
      case "--bootstrap-server":
      case "--bootstrap-controller": {
        const text = value();
        const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/]+):(\d{1,5})$/.exec(text);
        if (m === null || Number(m[2]) > 65535) fail(2, `${flag} "${text}" is not host:port`);
        if (out.bootstrap !== null) fail(2, "give one --bootstrap-server or --bootstrap-controller");
        out.bootstrap = { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]), controller: flag === "--bootstrap-controller" };
        break;
      }
      case "--config":
      case "--command-config":
        out.configFile = value();
        break;
      case "--set":
        out.sets.push(value());
        break;
      case "--controller-id": {
        const text = value();
        if (!/^[0-9]{1,10}$/.test(text) || Number(text) > 0x7fffffff) fail(2, `--controller-id "${text}" is not a node id`);
        out.controllerId = Number(text);
        break;
      }
      case "--controller-directory-id": {
        const text = value();
        if (parseUuid(text) === null) fail(2, `--controller-directory-id "${text}" is not a Kafka UUID`);
        out.directoryId = text;
        break;
      }
      case "--help":
      case "-h":
        printStdout(usage);
        exitProcess(0);
        break;
      default:
        fail(2, `unknown argument "${a}" (bunka quorum --help)`);
    }
  }
  return out;
}

export async function runQuorumCli(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === undefined) {
    printStdout(usage);
    exitProcess(command === undefined ? 2 : 0);
  }
  if (command !== "describe" && command !== "add-controller" && command !== "remove-controller") fail(2, `unknown quorum command "${command}" (describe, add-controller, remove-controller)`);
  const args = parseArgs(rest);
  if (args.bootstrap === null) fail(2, "--bootstrap-server or --bootstrap-controller is required");
  const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: cryptoPrng, config: { clientId: "bunka-quorum-cli", requestTimeoutMs: 70_000 } });
  client.setEndpoint(0, { host: args.bootstrap.host, port: args.bootstrap.port, listenerName: args.bootstrap.controller ? "CONTROLLER" : "PLAINTEXT" });
  try {
    await runCommand(client, command, args);
  } finally {
    client.close();
  }
}

async function runCommand(client: NodeClient, command: "describe" | "add-controller" | "remove-controller", args: Args): Promise<void> {
  if (command === "describe") {
    const describe = async (nodeId: number) => {
      const r = await client.send(nodeId, ApiKeys.DescribeQuorum, { topics: [{ topicName: metadataTopic, partitions: [{ partitionIndex: metadataPartition, _unknownTaggedFields: undefined }], _unknownTaggedFields: undefined }], _unknownTaggedFields: undefined }, { timeoutMs: 10_000 });
      if (!r.ok) fail(1, `DescribeQuorum failed: ${r.error.message}`);
      return r.body;
    };
    let body = await describe(0);
    // A controller that does not lead answers NOT_LEADER_OR_FOLLOWER, naming the leader and the voters' endpoints: ask the leader.
    const first = body.topics[0]?.partitions[0];
    const leaderNode = body.nodes.find((n) => n.nodeId === first?.leaderId);
    const leaderListener = leaderNode?.listeners[0];
    if (first?.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER && leaderListener !== undefined && leaderNode !== undefined) {
      client.setEndpoint(leaderNode.nodeId + 1, { host: leaderListener.host, port: leaderListener.port, listenerName: leaderListener.name });
      body = await describe(leaderNode.nodeId + 1);
    }
    const p = body.topics[0]?.partitions[0];
    if (body.errorCode !== 0 || p === undefined || p.errorCode !== 0) fail(1, `DescribeQuorum: ${errorName(body.errorCode !== 0 ? body.errorCode : (p?.errorCode ?? -1))} ${body.errorMessage ?? ""}`.trim());
    const endpoints = new Map(body.nodes.map((n) => [n.nodeId, n.listeners.map((l) => `${l.name}://${l.host}:${l.port}`).join(",")]));
    const replica = (v: { replicaId: number; replicaDirectoryId: string; logEndOffset: number; lastFetchTimestamp: number }): string =>
      `${v.replicaId}@${v.replicaDirectoryId} end ${v.logEndOffset}${endpoints.has(v.replicaId) ? ` ${endpoints.get(v.replicaId)}` : ""}`;
    printStdout(
      [
        `LeaderId:         ${p.leaderId}`,
        `LeaderEpoch:      ${p.leaderEpoch}`,
        `HighWatermark:    ${p.highWatermark}`,
        `CurrentVoters:    ${p.currentVoters.map(replica).join("; ")}`,
        `CurrentObservers: ${p.observers.map(replica).join("; ")}`,
      ].join("\n"),
    );
    return;
  }
  if (command === "add-controller") {
    if (args.configFile === null) fail(2, "add-controller needs --config FILE (the new controller's server.properties)");
    let text: string;
    try {
      text = readFileSync(args.configFile, "utf8");
    } catch (e) {
      fail(2, `cannot read --config ${args.configFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const loaded = loadConfig({ file: { path: args.configFile, text }, env: {}, sets: args.sets });
    if (!loaded.ok) fail(2, loaded.error.message);
    const config = loaded.config;
    const endpoint = controllerEndpoint(config);
    if (typeof endpoint === "string") fail(2, endpoint);
    const metaPath = join(resolve(config.logDirs[0]!), "meta.properties");
    let meta;
    try {
      meta = parseMetaProperties(metaPath, readFileSync(metaPath, "utf8"));
    } catch (e) {
      fail(2, `cannot read ${metaPath}: ${e instanceof Error ? e.message : String(e)} (format the node with bunka storage format --no-initial-controllers first)`);
    }
    if (meta.directoryId === null) fail(2, `${metaPath} has no directory.id`);
    const r = await client.send(
      0,
      ApiKeys.AddRaftVoter,
      { clusterId: meta.clusterId, timeoutMs: 60_000, voterId: config.nodeId, voterDirectoryId: meta.directoryId, listeners: [{ ...endpoint, _unknownTaggedFields: undefined }], _unknownTaggedFields: undefined },
      { timeoutMs: 70_000 },
    );
    if (!r.ok) fail(1, `AddRaftVoter failed: ${r.error.message}`);
    if (r.body.errorCode !== 0) fail(1, `AddRaftVoter: ${errorName(r.body.errorCode)}: ${r.body.errorMessage ?? ""}`);
    printStdout(`added controller ${config.nodeId} (directory ${meta.directoryId}) at ${endpoint.host}:${endpoint.port}`);
    return;
  }
  if (args.controllerId === null || args.directoryId === null) fail(2, "remove-controller needs --controller-id N and --controller-directory-id UUID");
  const r = await client.send(0, ApiKeys.RemoveRaftVoter, { clusterId: null, voterId: args.controllerId, voterDirectoryId: args.directoryId, _unknownTaggedFields: undefined }, { timeoutMs: 40_000 });
  if (!r.ok) fail(1, `RemoveRaftVoter failed: ${r.error.message}`);
  if (r.body.errorCode !== 0) fail(1, `RemoveRaftVoter: ${errorName(r.body.errorCode)}: ${r.body.errorMessage ?? ""}`);
  printStdout(`removed controller ${args.controllerId} (directory ${args.directoryId})`);
}
