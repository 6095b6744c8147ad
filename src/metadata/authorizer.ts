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
 * Cost per decision: two map lookups for LITERAL bindings, plus a walk down a trie of the
 * PREFIXED names as far as the name follows one (one small map lookup per character), then a
 * scan of the (usually few) bindings found; nothing is allocated (bench/authorizer.ts).
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

/** Bindings grouped for lookup by resource type, then name. */
export class AclIndex {
  /** Per resource type: LITERAL bindings by name (`*` included). */
  readonly #literal = new Map<number, Map<string, AclBinding[]>>();
  /** Per resource type: PREFIXED bindings in a trie of their prefixes' UTF-16 code units. */
  readonly #prefixed = new Map<number, PrefixNode>();
  /** Per resource type, every binding (authorizeByResourceType). */
  readonly #byType = new Map<number, AclBinding[]>();
  readonly size: number;

  constructor(acls: Iterable<AclBinding>) {
    let size = 0;
    for (const b of acls) {
      size++;
      if (b.patternType === PatternType.LITERAL) {
        push(inner(this.#literal, b.resourceType), b.resourceName, b);
      } else {
        if (b.patternType !== PatternType.PREFIXED) throw new Error(`AclIndex: binding ${b.id} has pattern type ${b.patternType}`);
        let root = this.#prefixed.get(b.resourceType);
        if (root === undefined) this.#prefixed.set(b.resourceType, (root = newPrefixNode()));
        let node: PrefixNode = root;
        for (let i = 0; i < b.resourceName.length; i++) {
          const unit = b.resourceName.charCodeAt(i);
          let child = node.children.get(unit);
          if (child === undefined) node.children.set(unit, (child = newPrefixNode()));
          node = child;
        }
        (node.bindings ??= []).push(b);
      }
      push(this.#byType, b.resourceType, b);
    }
    this.size = size;
  }

  literal(resourceType: number): ReadonlyMap<string, readonly AclBinding[]> | undefined {
    return this.#literal.get(resourceType);
  }

  /** The root of the type's PREFIXED trie: the bindings of a node apply to names that start with its path. */
  prefixed(resourceType: number): PrefixNode | undefined {
    return this.#prefixed.get(resourceType);
  }

  ofType(resourceType: number): readonly AclBinding[] {
    return this.#byType.get(resourceType) ?? [];
  }
}

export interface PrefixNode {
  readonly children: Map<number, PrefixNode>;
  bindings: AclBinding[] | null;
}

function newPrefixNode(): PrefixNode {
  return { children: new Map(), bindings: null };
}

function inner(map: Map<number, Map<string, AclBinding[]>>, resourceType: number): Map<string, AclBinding[]> {
  let m = map.get(resourceType);
  if (m === undefined) map.set(resourceType, (m = new Map()));
  return m;
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

/** The verdict of one group of bindings: DENIED ends the decision. */
const NONE = 0;
const ALLOWED = 1;
const DENIED = 2;

function verdict(bindings: readonly AclBinding[], subject: AclSubject, operation: number): number {
  let result = NONE;
  for (const b of bindings) {
    if (!entryApplies(b, subject)) continue;
    if (b.permissionType === AclPermission.DENY) {
      if (b.operation === operation || b.operation === AclOperation.ALL) return DENIED;
    } else if (allowImplies(b.operation, operation)) {
      result = ALLOWED;
    }
  }
  return result;
}

/** Decides one request against `index` (see the module doc). */
export function authorize(index: AclIndex, config: AuthorizerConfig, subject: AclSubject, operation: number, resourceType: number, name: string): boolean {
  if (!(operation > AclOperation.ALL && operation <= AclOperation.DESCRIBE_TOKENS)) throw new Error(`authorize: ${operation} is not a concrete operation`);
  if (config.superUsers.has(subject.principal)) return true;
  let found = false;
  let allowed = false;
  const literal = index.literal(resourceType);
  if (literal !== undefined) {
    const exact = literal.get(name);
    if (exact !== undefined) {
      found = true;
      const v = verdict(exact, subject, operation);
      if (v === DENIED) return false;
      allowed ||= v === ALLOWED;
    }
    const wildcard = name === WILDCARD_RESOURCE ? undefined : literal.get(WILDCARD_RESOURCE);
    if (wildcard !== undefined) {
      found = true;
      const v = verdict(wildcard, subject, operation);
      if (v === DENIED) return false;
      allowed ||= v === ALLOWED;
    }
  }
  // Walk the name down the trie: every node passed holds bindings whose prefix it starts with.
  let node = index.prefixed(resourceType);
  for (let i = 0; node !== undefined; i++) {
    const bindings = node.bindings;
    if (bindings !== null) {
      found = true;
      const v = verdict(bindings, subject, operation);
      if (v === DENIED) return false;
      allowed ||= v === ALLOWED;
    }
    if (i === name.length) break;
    node = node.children.get(name.charCodeAt(i));
  }
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
