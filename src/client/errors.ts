/**
 * What the node-to-node client reports when a request does not get its response: a
 * `ClientError` with one kind out of a closed set, returned as a value (`{ ok: false, error }`)
 * — never thrown across the layer. Kafka error codes inside a response body are not client
 * errors: the response arrived, and its body says what the broker thought.
 *
 * Kinds:
 * - disconnected: no connection (connect failed, peer closed or reset it, or it was closed
 *   because another request on it timed out or misbehaved).
 * - timeout: this request (or the connection set-up it waited for) ran out of time.
 * - unsupportedVersion: the peer does not serve the API, no version is in both ranges, or the
 *   body has a field the negotiated version cannot carry.
 * - tooLarge: the request frame exceeds the client's limit, or the response frame announced a
 *   size above it (refused before allocating).
 * - protocol: the peer broke the protocol (undecodable response, a correlation id that is not
 *   the next one expected, a negative frame size); the connection was closed.
 * - queueFull: more requests are waiting for the connection than the queue bound allows.
 * - closed: the client or connection was closed by its owner.
 *
 * `sent` says whether any byte of the request may have reached the peer. A request with
 * `sent: false` is safe to send again (the node client does so on its next connection).
 */
import type { ApiKey, ResponseBodies } from "../protocol/messages/index.ts";

export type ClientErrorKind = "disconnected" | "timeout" | "unsupportedVersion" | "tooLarge" | "protocol" | "queueFull" | "closed";

export class ClientError extends Error {
  override readonly name = "ClientError";
  readonly kind: ClientErrorKind;
  readonly sent: boolean;

  constructor(kind: ClientErrorKind, message: string, options: { readonly sent?: boolean; readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.sent = options.sent ?? false;
  }

  /** Worth trying again later (possibly on another connection). */
  get retriable(): boolean {
    switch (this.kind) {
      case "disconnected":
      case "timeout":
      case "queueFull":
        return true;
      case "unsupportedVersion":
      case "tooLarge":
      case "protocol":
      case "closed":
        return false;
      default: {
        const never: never = this.kind;
        throw new Error(`ClientError: kind ${String(never)}`);
      }
    }
  }

  /** The same condition for another request: `sent` as given. */
  withSent(sent: boolean): ClientError {
    if (sent === this.sent) return this;
    return new ClientError(this.kind, this.message, { sent, cause: this.cause });
  }
}

/** A decoded response, or why there is none. */
export type RequestResult<K extends ApiKey> =
  | { readonly ok: true; readonly version: number; readonly body: ResponseBodies[K] }
  | { readonly ok: false; readonly error: ClientError };

/** Outcome of a request that expects no response (acks=0 produce): ok once fully written. */
export type SendResult = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly error: ClientError };

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ClientError };
