/**
 * The client's settings and every bound they may take, in one place. Names follow Kafka's
 * client configs where one exists (`request.timeout.ms` → `requestTimeoutMs`, ...), with
 * Kafka's defaults.
 *
 * - requestTimeoutMs (request.timeout.ms): from `send` to the response. A request that times
 *   out after it was written closes its connection (its answer would come later and be
 *   mistaken for the next one's); one still queued just fails. A long poll (Fetch with
 *   maxWaitMs) needs a timeout above its wait, as Kafka's consumer adds the two.
 * - connectionSetupTimeoutMs (socket.connection.setup.timeout.ms): TCP connect plus the
 *   ApiVersions exchange. Kafka grows it per failure up to .max.ms; here it is fixed.
 * - inflightRequestsMax (max.in.flight.requests.per.connection): written and unanswered.
 * - queuedRequestsMax: requests waiting behind the in-flight ones, per connection (and per
 *   node while it is not connected). Beyond it `send` fails at once with queueFull.
 * - requestFrameBytesMax: a larger request is refused before it is written (tooLarge).
 * - responseFrameBytesMax: a response frame announcing more is refused before anything is
 *   allocated for it (tooLarge; the connection is closed, as the stream cannot be resynced).
 * - reconnectBackoffMs / reconnectBackoffMaxMs (reconnect.backoff.ms / .max.ms): the wait
 *   before reconnecting to a node grows ×2 per consecutive failure up to the max, ±20% jitter.
 */

export interface ClientConfig {
  /** The request header's client id. */
  readonly clientId: string | null;
  /** Sent in ApiVersions v3+; must match Kafka's `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`. */
  readonly softwareName: string;
  readonly softwareVersion: string;
  readonly requestTimeoutMs: number;
  readonly connectionSetupTimeoutMs: number;
  readonly inflightRequestsMax: number;
  readonly queuedRequestsMax: number;
  readonly requestFrameBytesMax: number;
  readonly responseFrameBytesMax: number;
  readonly reconnectBackoffMs: number;
  readonly reconnectBackoffMaxMs: number;
}

export const clientConfigDefaults: ClientConfig = {
  clientId: "bunka",
  softwareName: "bunka",
  softwareVersion: "0.1.0",
  requestTimeoutMs: 30_000,
  connectionSetupTimeoutMs: 10_000,
  inflightRequestsMax: 5,
  queuedRequestsMax: 1_000,
  requestFrameBytesMax: 100 * 1024 * 1024,
  responseFrameBytesMax: 100 * 1024 * 1024,
  reconnectBackoffMs: 50,
  reconnectBackoffMaxMs: 1_000,
};

export const timeoutMsMin = 1;
export const timeoutMsMax = 24 * 3600 * 1000;
export const inflightRequestsMaxMax = 1_000;
export const queuedRequestsMaxMax = 1_000_000;
/** A response header alone is 4 bytes; any useful frame is more. */
export const frameBytesMin = 8;
/** What the int32 size prefix can describe. */
export const frameBytesMax = 0x7fff_ffff;
export const backoffMsMax = 3600 * 1000;
/** Kafka's reconnect jitter: the wait is the computed backoff × uniform(0.8, 1.2). */
export const reconnectBackoffJitter = 0.2;
export const reconnectBackoffMultiplier = 2;

const softwareRe = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** Defaults overridden by `overrides`, checked. A value out of range is a bug in the caller: it throws. */
export function clientConfig(overrides: Partial<ClientConfig> = {}): ClientConfig {
  const c: ClientConfig = { ...clientConfigDefaults, ...overrides };
  const inRange = (name: string, v: number, min: number, max: number): void => {
    if (!(Number.isInteger(v) && v >= min && v <= max)) throw new RangeError(`client config ${name} ${v} must be an integer in [${min}, ${max}]`);
  };
  inRange("requestTimeoutMs", c.requestTimeoutMs, timeoutMsMin, timeoutMsMax);
  inRange("connectionSetupTimeoutMs", c.connectionSetupTimeoutMs, timeoutMsMin, timeoutMsMax);
  inRange("inflightRequestsMax", c.inflightRequestsMax, 1, inflightRequestsMaxMax);
  inRange("queuedRequestsMax", c.queuedRequestsMax, 0, queuedRequestsMaxMax);
  inRange("requestFrameBytesMax", c.requestFrameBytesMax, frameBytesMin, frameBytesMax);
  inRange("responseFrameBytesMax", c.responseFrameBytesMax, frameBytesMin, frameBytesMax);
  inRange("reconnectBackoffMs", c.reconnectBackoffMs, 0, backoffMsMax);
  inRange("reconnectBackoffMaxMs", c.reconnectBackoffMaxMs, 0, backoffMsMax);
  if (!softwareRe.test(c.softwareName) || !softwareRe.test(c.softwareVersion)) {
    throw new RangeError(`client config softwareName ${JSON.stringify(c.softwareName)} / softwareVersion ${JSON.stringify(c.softwareVersion)} must match ${softwareRe.source}`);
  }
  return c;
}
