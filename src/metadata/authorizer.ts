/**
 * The ACL matching engine (Kafka's StandardAuthorizer rules, KIP-801), pure: bindings in,
 * decisions out. `AclIndex` is built once per set of bindings (an image's `acls` map; images
 * share the map until an ACL changes, so the index is rebuilt only then).
 *
 * A request (principal, host, operation, resource type, name) is decided so:
 * 1. a super user is allowed everything;
 * 2. the bindings that apply to the resource are those of its type that are LITERAL with its
 *    name or with `*`, or PREFIXED with a prefix of its name;
 * 3. of those, the ones for this principal (or `User:*` when it is a User) and host (or `*`):
 *    a DENY of the operation or of ALL denies (DENY beats ALLOW); an ALLOW of the operation,
 *    of ALL, or of an operation that implies it (READ/WRITE/DELETE/ALTER imply DESCRIBE,
 *    ALTER_CONFIGS implies DESCRIBE_CONFIGS; implications apply to ALLOW only) allows;
 * 4. nothing matched: allowed when no binding applies to the resource at all (any principal)
 *    and `allow.everyone.if.no.acl.found` is set; denied otherwise.
 *
 * Cost per decision: two map lookups for LITERAL bindings, plus one per distinct PREFIXED
 * length not longer than the name, then a scan of the (usually few) bindings found.
 */
import { AclOperation, AclPermission, type AclBinding, PatternType, WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE } from "./acl.ts";
import type { Uuid } from "./uuid.ts";

export interface AuthorizerConfig {
  /** `super.users`: principals allowed everything. */
  readonly superUsers: ReadonlySet<string>;
  /** `allow.everyone.if.no.acl.found`. */
  readonly allowEveryoneIfNoAclFound: boolean;
}

/** Who asks: the connection's principal (`User:name`) and its client address. */
export interface AclSubject {
  readonly principal: string;
  readonly host: string;
}

const key = (resourceType: number, name: string): string => `${resourceType}\u0000${name}`;

/** Bindings grouped for lookup by resource type and name. */
export class AclIndex {
  readonly #literal = new Map<string, AclBinding[]>();
  readonly #prefixed = new Map<string, AclBinding[]>();
  /** Per resource type, the distinct lengths of its PREFIXED names, ascending. */
  readonly #prefixLengths = new Map<number, number[]>();
  /** Per resource type, every binding (authorizeByResourceType). */
  readonly #byType = new Map<number, AclBinding[]>();
  readonly size: number;

  constructor(acls: Iterable<AclBinding>) {
    let size = 0;
    const lengths = new Map<number, Set<number>>();
    for (const b of acls) {
      size++;
      const k = key(b.resourceType, b.resourceName);
      if (b.patternType === PatternType.LITERAL) {
        push(this.#literal, k, b);
      } else {
        if (b.patternType !== PatternType.PREFIXED) throw new Error(`AclIndex: binding ${b.id} has pattern type ${b.patternType}`);
        push(this.#prefixed, k, b);
        let set = lengths.get(b.resourceType);
        if (set === undefined) lengths.set(b.resourceType, (set = new Set()));
        set.add(b.resourceName.length);
      }
      push(this.#byType, b.resourceType, b);
    }
    for (const [type, set] of lengths) this.#prefixLengths.set(type, [...set].sort((a, b) => a - b));
    this.size = size;
  }

  /** Calls `visit` with each group of bindings that applies to the resource. */
  forResource(resourceType: number, name: string, visit: (bindings: readonly AclBinding[]) => boolean): boolean {
    const literal = this.#literal.get(key(resourceType, name));
    if (literal !== undefined && visit(literal)) return true;
    if (name !== WILDCARD_RESOURCE) {
      const wildcard = this.#literal.get(key(resourceType, WILDCARD_RESOURCE));
      if (wildcard !== undefined && visit(wildcard)) return true;
    }
    const lengths = this.#prefixLengths.get(resourceType);
    if (lengths !== undefined) {
      for (const len of lengths) {
        if (len > name.length) break;
        const prefixed = this.#prefixed.get(key(resourceType, name.slice(0, len)));
        if (prefixed !== undefined && visit(prefixed)) return true;
      }
    }
    return false;
  }

  ofType(resourceType: number): readonly AclBinding[] {
    return this.#byType.get(resourceType) ?? [];
  }
}

function push<K>(map: Map<K, AclBinding[]>, k: K, b: AclBinding): void {
  const list = map.get(k);
  if (list === undefined) map.set(k, [b]);
  else list.push(b);
}

/** Whether an ALLOW of `granted` allows `requested`. */
export function allowImplies(granted: number, requested: number): boolean {
  if (granted === requested || granted === AclOperation.ALL) return true;
  if (requested === AclOperation.DESCRIBE) {
    return granted === AclOperation.READ || granted === AclOperation.WRITE || granted === AclOperation.DELETE || granted === AclOperation.ALTER;
  }
  return requested === AclOperation.DESCRIBE_CONFIGS && granted === AclOperation.ALTER_CONFIGS;
}

function principalMatches(aclPrincipal: string, principal: string): boolean {
  return aclPrincipal === principal || (aclPrincipal === WILDCARD_PRINCIPAL && principal.startsWith("User:"));
}

function entryApplies(b: AclBinding, subject: AclSubject): boolean {
  return principalMatches(b.principal, subject.principal) && (b.host === WILDCARD_HOST || b.host === subject.host);
}

/** Decides one request against `index` (see the module doc). */
export function authorize(index: AclIndex, config: AuthorizerConfig, subject: AclSubject, operation: number, resourceType: number, name: string): boolean {
  if (!(operation > AclOperation.ALL && operation <= AclOperation.DESCRIBE_TOKENS)) throw new Error(`authorize: ${operation} is not a concrete operation`);
  if (config.superUsers.has(subject.principal)) return true;
  let found = false;
  let allowed = false;
  const denied = index.forResource(resourceType, name, (bindings) => {
    found = true;
    for (const b of bindings) {
      if (!entryApplies(b, subject)) continue;
      if (b.permissionType === AclPermission.DENY) {
        if (b.operation === operation || b.operation === AclOperation.ALL) return true;
      } else if (!allowed && allowImplies(b.operation, operation)) {
        allowed = true;
      }
    }
    return false;
  });
  if (denied) return false;
  if (allowed) return true;
  return !found && config.allowEveryoneIfNoAclFound;
}

/**
 * Whether `subject` may do `operation` on at least one resource of the type (Kafka's
 * Authorizer.authorizeByResourceType; InitProducerId uses it for idempotent producers that
 * have no IDEMPOTENT_WRITE on the cluster: WRITE on some topic is enough). An ALLOW counts
 * unless a DENY of the same subject covers everything it names: a DENY of LITERAL `*`, of
 * the same LITERAL name, or a PREFIXED DENY of a prefix of its name.
 */
export function authorizeByResourceType(index: AclIndex, config: AuthorizerConfig, subject: AclSubject, operation: number, resourceType: number): boolean {
  if (config.superUsers.has(subject.principal)) return true;
  const deniedLiteral = new Set<string>();
  const deniedPrefixes: string[] = [];
  const allowLiteral: string[] = [];
  const allowPrefixed: string[] = [];
  const bindings = index.ofType(resourceType);
  for (const b of bindings) {
    if (!entryApplies(b, subject)) continue;
    if (b.permissionType === AclPermission.DENY) {
      if (b.operation !== operation && b.operation !== AclOperation.ALL) continue;
      if (b.patternType === PatternType.LITERAL) {
        if (b.resourceName === WILDCARD_RESOURCE) return false;
        deniedLiteral.add(b.resourceName);
      } else {
        deniedPrefixes.push(b.resourceName);
      }
    } else if (allowImplies(b.operation, operation)) {
      (b.patternType === PatternType.LITERAL ? allowLiteral : allowPrefixed).push(b.resourceName);
    }
  }
  const coveredByDenyPrefix = (name: string): boolean => deniedPrefixes.some((p) => name.startsWith(p));
  for (const name of allowPrefixed) if (!coveredByDenyPrefix(name)) return true;
  for (const name of allowLiteral) {
    if (name === WILDCARD_RESOURCE) {
      if (deniedPrefixes.length === 0 && deniedLiteral.size === 0) return true;
      continue;
    }
    if (!deniedLiteral.has(name) && !coveredByDenyPrefix(name)) return true;
  }
  return bindings.length === 0 && config.allowEveryoneIfNoAclFound;
}

/**
 * An authorizer over a changing set of bindings (a node's latest metadata image): the index
 * is rebuilt when the bindings map is a different object, i.e. after an ACL change.
 */
export class StandardAuthorizer {
  readonly config: AuthorizerConfig;
  readonly #acls: () => ReadonlyMap<Uuid, AclBinding>;
  #source: ReadonlyMap<Uuid, AclBinding> | null = null;
  #index: AclIndex = new AclIndex([]);

  constructor(config: AuthorizerConfig, acls: () => ReadonlyMap<Uuid, AclBinding>) {
    this.config = config;
    this.#acls = acls;
  }

  index(): AclIndex {
    const acls = this.#acls();
    if (acls !== this.#source) {
      this.#index = new AclIndex(acls.values());
      this.#source = acls;
    }
    return this.#index;
  }

  authorize(subject: AclSubject, operation: number, resourceType: number, name: string): boolean {
    return authorize(this.index(), this.config, subject, operation, resourceType, name);
  }

  authorizeByResourceType(subject: AclSubject, operation: number, resourceType: number): boolean {
    return authorizeByResourceType(this.index(), this.config, subject, operation, resourceType);
  }
}

/** The class names `authorizer.class.name` accepts for this authorizer. */
export const STANDARD_AUTHORIZER_CLASS_NAMES: ReadonlySet<string> = new Set(["org.apache.kafka.metadata.authorizer.StandardAuthorizer", "kafka.security.authorizer.AclAuthorizer"]);
