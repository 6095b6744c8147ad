/**
 * Shared pieces of the admin CLI: argument parsing (flags named per command; a flag not named
 * is a usage error), the one-line errors and exit codes, and human tables.
 *
 * Exit codes: 0 done; 1 the cluster refused or could not be reached (one line naming the
 * Kafka error or the transport failure, and what to do); 2 bad command line; 3 `cluster
 * health` found the cluster unhealthy (one line per reason).
 */
import type { ClusterClient } from "../../client/bootstrap.ts";
import { ClientError } from "../../client/errors.ts";
import type { KafkaFailure } from "../../client/partition-io.ts";
import { ErrorCode, errorName } from "../../protocol/errors.ts";

export const ExitCode = { ok: 0, failed: 1, usage: 2, unhealthy: 3 } as const;

export interface AdminIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** A command ends with this exit code and message (one line on stderr). */
export class CommandError extends Error {
  constructor(
    message: string,
    public exitCode: number = ExitCode.failed,
  ) {
    super(message);
  }

  /** The same message with another exit code (a usage-shaped check the cluster answered). */
  withCode(exitCode: number): CommandError {
    return new CommandError(this.message, exitCode);
  }
}

export class UsageError extends CommandError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

const hints: ReadonlyMap<number, string> = new Map([
  [ErrorCode.TOPIC_ALREADY_EXISTS, "pick another name, or delete the topic first"],
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "bunka topics list shows the topics"],
  [ErrorCode.INVALID_REPLICATION_FACTOR, "the replication factor is at most the number of live brokers"],
  [ErrorCode.INVALID_PARTITIONS, "a topic's partitions can only grow"],
  [ErrorCode.INVALID_CONFIG, "bunka topics describe shows the current configs"],
  [ErrorCode.GROUP_ID_NOT_FOUND, "bunka groups list shows the groups"],
  [ErrorCode.NON_EMPTY_GROUP, "stop the group's consumers first"],
  [ErrorCode.UNKNOWN_MEMBER_ID, "the group has active members: stop its consumers first"],
  [ErrorCode.TOPIC_DELETION_DISABLED, "the brokers run with delete.topic.enable=false"],
  [ErrorCode.TOPIC_AUTHORIZATION_FAILED, "the principal lacks an ACL for the topic"],
  [ErrorCode.GROUP_AUTHORIZATION_FAILED, "the principal lacks an ACL for the group"],
  [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "the principal lacks an ACL on the cluster"],
  [ErrorCode.NOT_ENOUGH_REPLICAS, "fewer in-sync replicas than min.insync.replicas: bunka cluster health says which"],
  [ErrorCode.LEADER_NOT_AVAILABLE, "the partition has no leader now: bunka cluster health says why"],
  [ErrorCode.COORDINATOR_NOT_AVAILABLE, "the group coordinator is not available yet; retry"],
  [ErrorCode.REQUEST_TIMED_OUT, "the cluster did not finish in time; retry"],
]);

/** `what` failed: the Kafka error's name and code, its message, and what to do. */
export function failure(what: string, error: ClientError | KafkaFailure): CommandError {
  if (error instanceof ClientError) {
    const hint = error.kind === "timeout" ? "the cluster did not answer in time; retry or raise --timeout-ms" : "check --bootstrap-server and that the brokers run";
    return new CommandError(`${what}: ${error.kind}: ${oneLine(error.message)} (${hint})`);
  }
  const hint = hints.get(error.errorCode);
  const message = error.message === "" ? "" : `: ${oneLine(error.message)}`;
  return new CommandError(`${what}: ${errorName(error.errorCode)} (${error.errorCode})${message}${hint === undefined ? "" : ` (${hint})`}`);
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/** Unwraps an admin result or throws its one-line failure. */
export function must<T>(what: string, r: { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ClientError | KafkaFailure }): T {
  if (!r.ok) throw failure(what, r.error);
  return r.value;
}

export interface FlagSpec {
  /** Flags taking a value (repeatable ones collect every value). */
  readonly values?: readonly string[];
  readonly repeatable?: readonly string[];
  readonly bools?: readonly string[];
  /** Positional arguments allowed: [min, max]. */
  readonly positional: readonly [number, number];
  readonly positionalName?: string;
}

export interface ParsedArgs {
  readonly positional: string[];
  readonly values: Map<string, string[]>;
  readonly bools: Set<string>;
}

/** Flags common to every admin command. */
export const commonValues = ["--bootstrap-server", "--timeout-ms"] as const;
export const commonBools = ["--json"] as const;

export function parseArgs(command: string, args: readonly string[], spec: FlagSpec): ParsedArgs {
  const values = new Set([...(spec.values ?? []), ...(spec.repeatable ?? []), ...commonValues]);
  const repeatable = new Set(spec.repeatable ?? []);
  const bools = new Set([...(spec.bools ?? []), ...commonBools]);
  const out: ParsedArgs = { positional: [], values: new Map(), bools: new Set() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--") || a === "--") {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (bools.has(name) && eq < 0) {
      out.bools.add(name);
      continue;
    }
    if (!values.has(name)) throw new UsageError(`${command}: unknown argument "${a}" (bunka ${command.split(" ")[0]} --help shows the usage)`);
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new UsageError(`${command}: ${name} needs a value`);
    const list = out.values.get(name) ?? [];
    if (list.length > 0 && !repeatable.has(name)) throw new UsageError(`${command}: ${name} given twice`);
    list.push(v);
    out.values.set(name, list);
  }
  const [min, max] = spec.positional;
  if (out.positional.length < min) throw new UsageError(`${command}: needs ${spec.positionalName ?? "an argument"}`);
  if (out.positional.length > max) throw new UsageError(`${command}: unexpected argument "${out.positional[max]}"`);
  return out;
}

export function value(args: ParsedArgs, name: string): string | undefined {
  return args.values.get(name)?.[0];
}

export function intValue(args: ParsedArgs, name: string, min: number, max: number = 2_147_483_647): number | undefined {
  const v = value(args, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v) || !(Number(v) >= min && Number(v) <= max)) throw new UsageError(`${name} ${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
  return Number(v);
}

/** `key=value` pairs of a repeatable flag. */
export function keyValues(args: ParsedArgs, name: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of args.values.get(name) ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`${name} ${JSON.stringify(kv)} is not key=value`);
    out.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return out;
}

/** Left-aligned columns separated by two spaces; the header line first. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  const cells = [headers.map(String), ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd());
}

export function ids(list: readonly number[]): string {
  return list.join(",");
}

export interface CommandContext {
  /** The connected client; only after `connect()` (commands check their arguments first). */
  readonly cluster: ClusterClient;
  connect(): Promise<void>;
  readonly args: ParsedArgs;
  readonly io: AdminIo;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly nowMs: () => number;
  /** Lines of standard input (produce). */
  readonly stdinLines: () => AsyncIterable<string>;
}

export function printJson(io: AdminIo, v: unknown): void {
  io.out(JSON.stringify(v, null, 2));
}
