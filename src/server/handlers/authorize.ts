/**
 * Authorization on the request path: who asks (the connection's principal and address), and
 * `gated`, which puts an API's authorization in front of its handler.
 *
 * A gate looks at a request before the handler does and either lets it through untouched,
 * answers it itself (everything denied), or narrows it to the items the principal may touch
 * and adds the denied items to the handler's answer (`finish`), with Kafka's error codes.
 * Handlers stay unaware of ACLs, and a forwarded request is authorized where the client sent
 * it, with the client's principal, before it is forwarded (bunka has no Envelope).
 *
 * Without an authorizer (`authorizer.class.name` empty) gates never run: no cost, today's
 * behaviour. Requests on a controller listener never pass a gate (node.ts serves the raw
 * handlers there): the controller listener carries only node-to-node traffic (Raft,
 * registration, heartbeats, producer id blocks, requests other nodes forwarded after
 * authorizing them), so it is trusted as Kafka trusts its inter-broker principal when that
 * principal is a super user. With PLAINTEXT every principal is User:ANONYMOUS, so trust by
 * listener is the only way to tell node traffic from clients; keep the controller listener
 * unreachable by clients (README, "ACLs").
 */
import type { AclSubject } from "../../metadata/authorizer.ts";
import type { ApiKey, RequestBodies, ResponseBodies } from "../../protocol/messages/index.ts";
import type { ApiHandler, RequestContext } from "./handler.ts";

/** The principal of a connection without authentication (PLAINTEXT), as Kafka names it. */
export const ANONYMOUS_PRINCIPAL = "User:ANONYMOUS";

export function subjectOf(ctx: RequestContext): AclSubject {
  return { principal: ctx.connection.principal ?? ANONYMOUS_PRINCIPAL, host: ctx.connection.remoteAddress };
}

/** Authorization questions about one request's principal. */
export interface Authz {
  allowed(operation: number, resourceType: number, name: string): boolean;
  /** May the principal do `operation` on some resource of the type (authorizeByResourceType)? */
  allowedOnSomeOf(operation: number, resourceType: number): boolean;
}

export type GateResult<K extends ApiKey> =
  | null
  | { readonly answer: ResponseBodies[K] | null }
  | { readonly request: RequestBodies[K]; finish(response: ResponseBodies[K]): ResponseBodies[K] };

export type Gate<K extends ApiKey> = (request: RequestBodies[K], ctx: RequestContext, authz: Authz) => GateResult<K>;

export function gated<K extends ApiKey>(handler: ApiHandler<K>, gate: Gate<K>): ApiHandler<K> {
  return {
    ...handler,
    async handle(request, ctx) {
      const authorizer = ctx.services.authorizer;
      if (authorizer === undefined) return handler.handle(request, ctx);
      const subject = subjectOf(ctx);
      const authz: Authz = {
        allowed: (operation, resourceType, name) => authorizer.authorize(subject, operation, resourceType, name),
        allowedOnSomeOf: (operation, resourceType) => authorizer.authorizeByResourceType(subject, operation, resourceType),
      };
      const outcome = gate(request, ctx, authz);
      if (outcome === null) return handler.handle(request, ctx);
      if ("answer" in outcome) return outcome.answer;
      const response = await handler.handle(outcome.request, ctx);
      return response === null ? null : outcome.finish(response);
    },
  };
}
