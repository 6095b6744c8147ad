/**
 * The contract of a Kafka API handler: one file per API under `src/server/handlers/`, each
 * exporting one `ApiHandler` that declares the api key, the version range bunka serves
 * (what ApiVersions advertises) and `handle`. `handlers/index.ts` is the only list.
 *
 * `handle` gets the decoded request body and returns the response body, or null when the
 * request gets no response (Produce with acks=0). Conditions are answered with Kafka error
 * codes in the response; a thrown exception is a bug or a protocol violation and closes the
 * connection with a log line (see dispatch.ts).
 */
import type { RequestHeader } from "../../protocol/header.ts";
import type { ApiKey, RequestBodies, ResponseBodies } from "../../protocol/messages/index.ts";
import type { LogFields, LogLevel } from "../../util/log.ts";
import type { ClientSoftware } from "../connection.ts";
import type { BrokerServices } from "../services.ts";

/** The connection a request came on (structurally the connection's `ConnectionContext`). */
export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  /** Name of the listener the connection arrived on (e.g. PLAINTEXT). */
  readonly listenerName: string;
  /**
   * The authenticated principal (`User:name`). Absent: unauthenticated (PLAINTEXT, the only
   * security protocol bunka serves), which is Kafka's `User:ANONYMOUS`.
   */
  readonly principal?: string;
  /** What the client said about itself in ApiVersions v3+ (the ApiVersions handler sets it). */
  readonly client: ClientSoftware;
  /** Logs a line rate-limited per connection and `kind` (see connection.ts). */
  logRepeated(level: LogLevel, kind: string, msg: string, fields?: LogFields): void;
}

export interface RequestContext {
  readonly apiVersion: number;
  readonly header: RequestHeader;
  readonly connection: ConnectionInfo;
  readonly services: BrokerServices;
  /**
   * Logs a line about this request. A client can repeat a request as often as it likes, so
   * every line a request can cause goes here, not to `services.log`: it is rate-limited per
   * connection and `kind` (the first at once, then one line per interval with a count) and
   * names the connection, the api and version, the client id and the client's software.
   */
  logRepeated(level: LogLevel, kind: string, msg: string, fields?: LogFields): void;
}

export type HandlerResult<K extends ApiKey> = ResponseBodies[K] | null;

export interface ApiHandler<K extends ApiKey = ApiKey> {
  readonly apiKey: K;
  /** Lowest version served (and advertised). */
  readonly minVersion: number;
  /** Highest version served (and advertised). */
  readonly maxVersion: number;
  /**
   * When below minVersion: versions from this one up to minVersion - 1 are still decoded and
   * passed to `handle`, which answers them with UNSUPPORTED_VERSION where Kafka 4 closes the
   * connection. They are versions Kafka 4 removed that clients older than ApiVersions send
   * without asking; an error code tells them why, a closed connection only makes them retry.
   * Not advertised. Absent: minVersion.
   */
  readonly refusedMinVersion?: number;
  handle(request: RequestBodies[K], ctx: RequestContext): HandlerResult<K> | Promise<HandlerResult<K>>;
}

/** Declares a handler with its types tied to its api key. */
export function defineHandler<K extends ApiKey>(handler: ApiHandler<K>): ApiHandler<K> {
  if (!(handler.minVersion >= 0 && handler.minVersion <= handler.maxVersion)) {
    throw new Error(`handler for api ${handler.apiKey}: bad version range ${handler.minVersion}..${handler.maxVersion}`);
  }
  const refused = handler.refusedMinVersion;
  if (refused !== undefined && !(Number.isInteger(refused) && refused >= 0 && refused < handler.minVersion)) {
    throw new Error(`handler for api ${handler.apiKey}: refusedMinVersion ${refused} is not in 0..${handler.minVersion - 1}`);
  }
  return handler;
}
