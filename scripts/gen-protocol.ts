/**
 * Generator of the Kafka wire-protocol codecs in `src/protocol/messages/`.
 *
 * Usage: `bun run gen:protocol [SPEC_DIR] [OUT_DIR]`
 *   SPEC_DIR defaults to ../shared/kafka-protocol/messages (Apache Kafka's message JSON),
 *   OUT_DIR to src/protocol/messages (both relative to the repository root).
 *
 * For every request/response schema it writes one TypeScript module (kebab-case name) with:
 * one type per message and per nested struct covering all versions, `default*` factories,
 * and `decodeXxx(reader, version)` / `encodeXxx(writer, msg, version)` that switch to
 * straight-line per-version functions. Versions whose wire layout is identical share one
 * function. Plus `index.ts`: the table of every API and encode/decode by api key.
 *
 * Invariants: output depends only on the schema files (sorted by api key / declaration
 * order), so regenerating gives byte-identical files (a test checks this); no `about`
 * prose is copied; stale generated files in OUT_DIR (those carrying our banner) are removed.
 *
 * Wire rules implemented (docs/protocol.html, Kafka's MessageDataGenerator semantics):
 * field present iff the version is in `versions`; null allowed iff in `nullableVersions`;
 * flexible versions use compact strings/bytes/arrays (unsigned varint length+1) and end every
 * struct with a tagged-field section; fields in `taggedVersions` go into that section (tag,
 * size, value), written only when not equal to their default; unknown tags are preserved in
 * `_unknownTaggedFields` (and refused, as Kafka does, when encoding a non-flexible version);
 * strings are at most 32767 bytes, compact or not (Kafka's limit); nullable structs carry an int8 presence marker (-1 = null);
 * encoding a non-default value into a version lacking the field throws unless `ignorable`.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

// ---------------------------------------------------------------------------------------
// Schema model

export interface VersionRange {
  readonly min: number;
  /** Inclusive; Infinity for "N+". */
  readonly max: number;
}

export type PrimitiveName =
  | "bool"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "float64"
  | "string"
  | "bytes"
  | "records"
  | "uuid";

export type FieldType =
  | { readonly kind: "primitive"; readonly name: PrimitiveName }
  | { readonly kind: "struct"; readonly struct: StructSpec }
  | { readonly kind: "array"; readonly element: FieldType };

export interface FieldSpec {
  /** Kafka's name (PascalCase). */
  readonly name: string;
  /** Property name in the generated types (camelCase). */
  readonly prop: string;
  readonly type: FieldType;
  readonly versions: VersionRange | null;
  readonly nullableVersions: VersionRange | null;
  readonly taggedVersions: VersionRange | null;
  readonly tag: number | null;
  /** Field-level override of the message's flexible versions (only the request header uses it). */
  readonly flexibleVersions: VersionRange | null | undefined;
  readonly ignorable: boolean;
  readonly zeroCopy: boolean;
  /** Raw `default` from the schema, if any. */
  readonly defaultRaw: string | number | boolean | undefined;
}

export interface StructSpec {
  /** TypeScript type name. */
  readonly name: string;
  readonly fields: FieldSpec[];
}

export interface MessageSpec {
  readonly apiKey: number;
  readonly kind: "request" | "response";
  readonly name: string;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange | null;
  readonly listeners: readonly string[];
  readonly latestVersionUnstable: boolean;
  readonly root: StructSpec;
  /** Every struct of the message (root first), in declaration order. */
  readonly structs: StructSpec[];
}

/** Removes `//` and block comments outside string literals. */
export function stripJsonComments(text: string): string {
  let out = "";
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (inString) {
      out += c;
      if (c === "\\") {
        out += text[i + 1] ?? "";
        i += 2;
        continue;
      }
      if (c === '"') inString = false;
      i++;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "/") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      if (close < 0) throw new Error("unterminated block comment");
      i = close + 2;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

export function parseVersions(text: string | undefined, what: string): VersionRange | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (t === "none" || t === "") return null;
  let m = /^(\d+)\+$/.exec(t);
  if (m) return { min: Number(m[1]), max: Infinity };
  m = /^(\d+)-(\d+)$/.exec(t);
  if (m) return { min: Number(m[1]), max: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  if (m) return { min: Number(m[1]), max: Number(m[1]) };
  throw new Error(`${what}: bad version range ${JSON.stringify(text)}`);
}

export function inRange(r: VersionRange | null | undefined, v: number): boolean {
  return r !== null && r !== undefined && v >= r.min && v <= r.max;
}

const PRIMITIVES: ReadonlySet<string> = new Set(["bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "bytes", "records", "uuid"]);

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  ignorable?: boolean;
  zeroCopy?: boolean;
  default?: string | number | boolean;
  fields?: RawField[];
}

interface RawMessage {
  apiKey?: number;
  type: string;
  name: string;
  validVersions: string;
  flexibleVersions: string;
  listeners?: string[];
  latestVersionUnstable?: boolean;
  fields: RawField[];
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[];
}

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}

/** Names a generated module may not give a struct (they would shadow what the code uses). */
const RESERVED_TYPE_NAMES = new Set(["Reader", "Writer", "RawTaggedField", "DecodeError", "EncodeError", "Uint8Array", "Array", "Error", "Number", "String", "Object"]);

export function parseMessage(raw: RawMessage): MessageSpec {
  const structsByName = new Map<string, StructSpec>();
  const structs: StructSpec[] = [];
  const commonRaw = new Map<string, RawField[]>();
  for (const c of raw.commonStructs ?? []) commonRaw.set(c.name, c.fields);

  const makeStruct = (name: string, rawFields: RawField[]): StructSpec => {
    if (structsByName.has(name)) throw new Error(`${raw.name}: struct ${name} defined twice`);
    if (RESERVED_TYPE_NAMES.has(name) || name === raw.name) throw new Error(`${raw.name}: struct name ${name} is reserved`);
    const struct: StructSpec = { name, fields: [] };
    structsByName.set(name, struct);
    structs.push(struct);
    for (const f of rawFields) struct.fields.push(parseField(f));
    return struct;
  };

  const resolveStruct = (typeName: string, f: RawField): StructSpec => {
    if (f.fields !== undefined) return makeStruct(typeName, f.fields);
    const known = structsByName.get(typeName);
    if (known !== undefined) return known;
    const common = commonRaw.get(typeName);
    if (common === undefined) throw new Error(`${raw.name}: unknown struct type ${typeName}`);
    return makeStruct(typeName, common);
  };

  const parseType = (typeName: string, f: RawField): FieldType => {
    if (typeName.startsWith("[]")) {
      const element = parseType(typeName.slice(2), f);
      if (element.kind === "array") throw new Error(`${raw.name}.${f.name}: arrays of arrays are not supported`);
      if (element.kind === "primitive" && (element.name === "records" || element.name === "bytes")) {
        throw new Error(`${raw.name}.${f.name}: arrays of ${element.name} are not supported`);
      }
      return { kind: "array", element };
    }
    if (PRIMITIVES.has(typeName)) return { kind: "primitive", name: typeName as PrimitiveName };
    return { kind: "struct", struct: resolveStruct(typeName, f) };
  };

  const parseField = (f: RawField): FieldSpec => {
    const what = `${raw.name}.${f.name}`;
    const field: FieldSpec = {
      name: f.name,
      prop: camel(f.name),
      type: parseType(f.type.trim(), f),
      versions: parseVersions(f.versions, what),
      nullableVersions: parseVersions(f.nullableVersions, what),
      taggedVersions: parseVersions(f.taggedVersions, what),
      tag: f.tag ?? null,
      flexibleVersions: f.flexibleVersions === undefined ? undefined : parseVersions(f.flexibleVersions, what),
      ignorable: f.ignorable === true,
      zeroCopy: f.zeroCopy === true,
      defaultRaw: typeof f.default === "string" ? f.default.trim() : f.default,
    };
    if ((field.taggedVersions === null) !== (field.tag === null)) throw new Error(`${what}: tag and taggedVersions go together`);
    if (field.versions === null && field.taggedVersions === null) throw new Error(`${what}: no versions`);
    return field;
  };

  if (raw.type !== "request" && raw.type !== "response") throw new Error(`${raw.name}: not a request/response`);
  if (raw.apiKey === undefined) throw new Error(`${raw.name}: no apiKey`);
  const valid = parseVersions(raw.validVersions, raw.name);
  if (valid === null) throw new Error(`${raw.name}: no valid versions`);
  const root: StructSpec = { name: raw.name, fields: [] };
  structs.push(root);
  for (const f of raw.fields) root.fields.push(parseField(f));
  return {
    apiKey: raw.apiKey,
    kind: raw.type,
    name: raw.name,
    validVersions: valid,
    flexibleVersions: parseVersions(raw.flexibleVersions, raw.name),
    listeners: raw.listeners ?? [],
    latestVersionUnstable: raw.latestVersionUnstable === true,
    root,
    structs,
  };
}

/**
 * Versions bunka needs that are newer than the checked-in schema files, written here from
 * what the KIPs specify (applied to the parsed JSON before it is read).
 */
const schemaAmendments: Record<string, (raw: RawMessage) => void> = {
  // KIP-996 (pre-vote): version 2 adds a boolean PreVote to each partition of the request
  // (a pre-vote asks without bumping the epoch or recording a vote); the response's
  // version 2 is the same as version 1.
  VoteRequest: (raw) => {
    raw.validVersions = "0-2";
    const partitions = raw.fields.find((f) => f.name === "Topics")?.fields?.find((f) => f.name === "Partitions")?.fields;
    if (partitions === undefined) throw new Error("VoteRequest amendment: no Topics.Partitions");
    if (!partitions.some((f) => f.name === "PreVote")) partitions.push({ name: "PreVote", type: "bool", versions: "2+" });
  },
  VoteResponse: (raw) => {
    raw.validVersions = "0-2";
  },
};

/** Parses every request/response schema in `specDir`, sorted by (apiKey, kind). */
export function loadMessages(specDir: string): MessageSpec[] {
  const out: MessageSpec[] = [];
  for (const file of readdirSync(specDir).sort()) {
    if (!file.endsWith(".json")) continue;
    const raw = JSON.parse(stripJsonComments(readFileSync(join(specDir, file), "utf8"))) as RawMessage;
    if (raw.type !== "request" && raw.type !== "response") continue;
    schemaAmendments[raw.name]?.(raw);
    out.push(parseMessage(raw));
  }
  out.sort((a, b) => a.apiKey - b.apiKey || (a.kind === b.kind ? 0 : a.kind === "request" ? -1 : 1));
  return out;
}

// ---------------------------------------------------------------------------------------
// Per-version semantics shared by the generator and the tests

export function versionsOf(m: MessageSpec): number[] {
  const out: number[] = [];
  for (let v = m.validVersions.min; v <= m.validVersions.max; v++) out.push(v);
  return out;
}

export function isFlexible(m: MessageSpec, v: number): boolean {
  return inRange(m.flexibleVersions, v);
}

/** Field present at version v (as a regular or a tagged field). */
export function isPresent(f: FieldSpec, v: number): boolean {
  return inRange(f.versions, v) || inRange(f.taggedVersions, v);
}

export function isTagged(f: FieldSpec, v: number): boolean {
  return inRange(f.taggedVersions, v);
}

export function isNullable(f: FieldSpec, v: number): boolean {
  return inRange(f.nullableVersions, v);
}

/** Whether the field's type admits null in some version (then its TS type has `| null`). */
export function everNullable(f: FieldSpec): boolean {
  return f.nullableVersions !== null;
}

export function isCompact(m: MessageSpec, f: FieldSpec, v: number): boolean {
  return f.flexibleVersions !== undefined ? inRange(f.flexibleVersions, v) : isFlexible(m, v);
}

/** Kafka's default for a field, as a plain JS value (structs: "default" or null). */
export type DefaultValue = number | boolean | string | null | "emptyBytes" | "emptyArray" | "defaultStruct";

export function defaultOf(f: FieldSpec, where: string): DefaultValue {
  const d = f.defaultRaw;
  const t = f.type;
  const isNullDefault = d === "null";
  if (isNullDefault && !everNullable(f)) throw new Error(`${where}: default null on a non-nullable field`);
  if (t.kind === "array") return isNullDefault ? null : "emptyArray";
  if (t.kind === "struct") return isNullDefault ? null : "defaultStruct";
  switch (t.name) {
    case "bool":
      if (d === undefined) return false;
      if (d === true || d === "true") return true;
      if (d === false || d === "false") return false;
      throw new Error(`${where}: bad bool default ${String(d)}`);
    case "string":
      if (isNullDefault) return null;
      return d === undefined ? "" : String(d);
    case "uuid":
      return "AAAAAAAAAAAAAAAAAAAAAA";
    case "bytes":
    case "records":
      if (isNullDefault || (t.name === "records" && everNullable(f))) return null;
      return "emptyBytes";
    default: {
      if (d === undefined) return 0;
      const n = typeof d === "number" ? d : Number(d);
      if (!Number.isFinite(n)) throw new Error(`${where}: bad numeric default ${String(d)}`);
      if (t.name !== "float64" && !Number.isSafeInteger(n)) throw new Error(`${where}: bad integer default ${String(d)}`);
      return n;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Layouts: versions whose encoding of a struct is identical share generated functions.

function layoutKey(m: MessageSpec, s: StructSpec, v: number): string {
  const parts: string[] = [isFlexible(m, v) ? "F" : "N"];
  for (const f of s.fields) {
    if (!isPresent(f, v)) {
      parts.push(`${f.name}:absent:${f.ignorable ? "i" : "s"}`);
      continue;
    }
    const sub = structOf(f.type);
    parts.push(
      `${f.name}:${isTagged(f, v) ? `T${String(f.tag)}` : "R"}:${isCompact(m, f, v) ? "c" : "-"}:${isNullable(f, v) ? "n" : "-"}:${sub === null ? "" : `{${layoutKey(m, sub, v)}}`}`,
    );
  }
  return parts.join("|");
}

function structOf(t: FieldType): StructSpec | null {
  if (t.kind === "struct") return t.struct;
  if (t.kind === "array" && t.element.kind === "struct") return t.element.struct;
  return null;
}

interface Layouts {
  /** struct -> version -> representative (lowest) version of its layout */
  readonly rep: Map<StructSpec, Map<number, number>>;
  /** struct -> representative versions, ascending */
  readonly reps: Map<StructSpec, number[]>;
}

function computeLayouts(m: MessageSpec): Layouts {
  const rep = new Map<StructSpec, Map<number, number>>();
  const reps = new Map<StructSpec, number[]>();
  const keys = new Map<StructSpec, Map<string, number>>();
  const visit = (s: StructSpec, v: number): void => {
    let byVersion = rep.get(s);
    if (byVersion === undefined) {
      byVersion = new Map();
      rep.set(s, byVersion);
      reps.set(s, []);
      keys.set(s, new Map());
    }
    if (byVersion.has(v)) return;
    const key = layoutKey(m, s, v);
    const byKey = keys.get(s) ?? new Map<string, number>();
    let r = byKey.get(key);
    if (r === undefined) {
      r = v;
      byKey.set(key, v);
      reps.get(s)?.push(v);
    }
    byVersion.set(v, r);
    for (const f of s.fields) {
      const sub = structOf(f.type);
      if (sub !== null && isPresent(f, v)) visit(sub, v);
    }
  };
  for (const v of versionsOf(m)) visit(m.root, v);
  return { rep, reps };
}

// ---------------------------------------------------------------------------------------
// Emission

const BANNER = (source: string): string =>
  `// Code generated by scripts/gen-protocol.ts from Apache Kafka's ${source}. DO NOT EDIT.\n// Regenerate with \`bun run gen:protocol\`.\n`;
const BANNER_MARK = "// Code generated by scripts/gen-protocol.ts";

function fmtRange(r: VersionRange | null | undefined): string {
  if (r === null || r === undefined) return "none";
  if (r.max === Infinity) return `${r.min}+`;
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}

function tsType(t: FieldType): string {
  if (t.kind === "array") {
    const e = tsType(t.element);
    return `${e}[]`;
  }
  if (t.kind === "struct") return t.struct.name;
  switch (t.name) {
    case "bool":
      return "boolean";
    case "string":
    case "uuid":
      return "string";
    case "bytes":
    case "records":
      return "Uint8Array";
    default:
      return "number";
  }
}

function fieldTsType(f: FieldSpec): string {
  return everNullable(f) ? `${tsType(f.type)} | null` : tsType(f.type);
}

function defaultExpr(f: FieldSpec, where: string): string {
  const d = defaultOf(f, where);
  if (d === null) return "null";
  if (d === "emptyArray") return "[]";
  if (d === "emptyBytes") return "new Uint8Array(0)";
  if (d === "defaultStruct") {
    const s = structOf(f.type);
    if (s === null) throw new Error(`${where}: struct default without struct`);
    return `default${s.name}()`;
  }
  if (typeof d === "string") return JSON.stringify(d);
  if (typeof d === "boolean") return d ? "true" : "false";
  return Object.is(d, -0) ? "0" : String(d);
}

/** Expression true when `e` (the field's value) equals the field's default. */
function isDefaultExpr(f: FieldSpec, e: string, where: string): string {
  const d = defaultOf(f, where);
  const nullableType = everNullable(f);
  if (d === null) return `${e} === null`;
  if (d === "emptyArray" || d === "emptyBytes") return nullableType ? `(${e} !== null && ${e}.length === 0)` : `${e}.length === 0`;
  if (d === "defaultStruct") {
    const s = structOf(f.type);
    if (s === null) throw new Error(`${where}: struct default without struct`);
    return nullableType ? `(${e} !== null && isDefault${s.name}(${e}))` : `isDefault${s.name}(${e})`;
  }
  return `${e} === ${defaultExpr(f, where)}`;
}

/** Negation of an expression made by isDefaultExpr, kept readable for the simple forms. */
function negate(expr: string): string {
  if (/^[\w.$]+ === [\w.$"-]+$/.test(expr)) return expr.replace(" === ", " !== ");
  if (/^isDefault\w+\([\w.$]+\)$/.test(expr)) return `!${expr}`;
  if (/^[\w.$]+\.length === 0$/.test(expr)) return expr.replace(" === ", " !== ");
  return `!${expr.startsWith("(") ? expr : `(${expr})`}`;
}

function primitiveMinBytes(name: PrimitiveName, compact: boolean): number {
  switch (name) {
    case "bool":
    case "int8":
      return 1;
    case "int16":
    case "uint16":
      return 2;
    case "int32":
    case "uint32":
      return 4;
    case "int64":
    case "float64":
      return 8;
    case "uuid":
      return 16;
    case "string":
      return compact ? 1 : 2;
    case "bytes":
    case "records":
      return compact ? 1 : 4;
  }
}

function structMinBytes(m: MessageSpec, s: StructSpec, v: number): number {
  let n = isFlexible(m, v) ? 1 : 0;
  for (const f of s.fields) {
    if (!isPresent(f, v) || isTagged(f, v)) continue;
    n += fieldMinBytes(m, f, v);
  }
  return n;
}

function fieldMinBytes(m: MessageSpec, f: FieldSpec, v: number): number {
  const compact = isCompact(m, f, v);
  const t = f.type;
  if (t.kind === "array") return compact ? 1 : 4;
  if (t.kind === "struct") return isNullable(f, v) ? 1 : structMinBytes(m, t.struct, v);
  return primitiveMinBytes(t.name, compact);
}

class Emitter {
  readonly lines: string[] = [];
  depth = 0;
  line(text = ""): void {
    this.lines.push(text === "" ? "" : "  ".repeat(this.depth) + text);
  }
  open(text: string): void {
    this.line(text);
    this.depth++;
  }
  close(text = "}"): void {
    this.depth--;
    this.line(text);
  }
}

interface Ctx {
  readonly m: MessageSpec;
  readonly layouts: Layouts;
  readonly uses: Set<string>;
}

function fnSuffix(ctx: Ctx, s: StructSpec, v: number): string {
  const r = ctx.layouts.rep.get(s)?.get(v);
  if (r === undefined) throw new Error(`${ctx.m.name}: no layout for ${s.name} v${v}`);
  return `${s.name}V${r}`;
}

function path(ctx: Ctx, s: StructSpec, f: FieldSpec): string {
  const p = s === ctx.m.root ? `${s.name}.${f.prop}` : `${ctx.m.name}/${s.name}.${f.prop}`;
  return JSON.stringify(p);
}

/** Decode expression for a non-array value. */
function decodeScalarExpr(ctx: Ctx, t: FieldType, compact: boolean, nullable: boolean, zeroCopy: boolean, v: number, P: string): string {
  if (t.kind === "struct") {
    const call = `decode${fnSuffix(ctx, t.struct, v)}(r)`;
    return nullable ? `(r.readStructPresence(${P}) ? ${call} : null)` : call;
  }
  if (t.kind === "array") throw new Error("array in scalar position");
  switch (t.name) {
    case "bool":
      return `r.readBool(${P})`;
    case "int8":
      return `r.readInt8(${P})`;
    case "int16":
      return `r.readInt16(${P})`;
    case "uint16":
      return `r.readUint16(${P})`;
    case "int32":
      return `r.readInt32(${P})`;
    case "uint32":
      return `r.readUint32(${P})`;
    case "int64":
      return `r.readInt64(${P})`;
    case "float64":
      return `r.readFloat64(${P})`;
    case "uuid":
      return `r.readUuid(${P})`;
    case "string":
      return `r.read${compact ? "Compact" : ""}${nullable ? (compact ? "Nullable" : "Nullable") : ""}String(${P})`;
    case "bytes":
    case "records":
      if (t.name === "records" || zeroCopy) return nullable ? `r.readNullableBytesView(${compact}, ${P})` : `r.readBytesView(${compact}, ${P})`;
      return `r.read${compact ? "Compact" : ""}${nullable ? "Nullable" : ""}Bytes(${P})`;
  }
}

/** Statements assigning the decoded value of field f at version v to `target`. */
function emitDecodeField(e: Emitter, ctx: Ctx, s: StructSpec, f: FieldSpec, v: number, target: string, declare: boolean, tagged: boolean): void {
  const P = path(ctx, s, f);
  const compact = tagged || isCompact(ctx.m, f, v);
  const nullable = isNullable(f, v);
  const t = f.type;
  if (t.kind !== "array") {
    const expr = decodeScalarExpr(ctx, t, compact, nullable, f.zeroCopy, v, P);
    e.line(declare ? `const ${target}: ${fieldTsType(f)} = ${expr};` : `${target} = ${expr};`);
    return;
  }
  const elemType = tsType(t.element);
  const el = t.element;
  if (el.kind === "array") throw new Error("arrays of arrays are not supported");
  const minBytes = el.kind === "struct" ? structMinBytes(ctx.m, el.struct, v) : primitiveMinBytes(el.name, compact);
  const elemExpr = decodeScalarExpr(ctx, t.element, compact, false, false, v, P);
  const count = `n${target}`;
  e.line(`const ${count} = r.readArrayLength(${compact}, ${nullable}, ${minBytes}, ${P});`);
  if (nullable) {
    if (declare) e.line(`let ${target}: ${elemType}[] | null = null;`);
    else e.line(`${target} = null;`);
    e.open(`if (${count} >= 0) {`);
    e.line(`const a: ${elemType}[] = [];`);
    e.line(`for (let i = 0; i < ${count}; i++) a.push(${elemExpr});`);
    e.line(`${target} = a;`);
    e.close();
  } else {
    if (declare) e.line(`const ${target}: ${elemType}[] = [];`);
    else e.line(`${target} = [];`);
    if (declare) e.line(`for (let i = 0; i < ${count}; i++) ${target}.push(${elemExpr});`);
    else {
      e.line(`const a: ${elemType}[] = [];`);
      e.line(`for (let i = 0; i < ${count}; i++) a.push(${elemExpr});`);
      e.line(`${target} = a;`);
    }
  }
}

/** Statements writing a non-array value `x` (already non-null when !nullable). */
function emitEncodeScalar(e: Emitter, ctx: Ctx, t: FieldType, x: string, compact: boolean, nullable: boolean, byRef: boolean, v: number, P: string, w: string): void {
  if (t.kind === "struct") {
    const call = `encode${fnSuffix(ctx, t.struct, v)}(${w}, ${x})`;
    if (nullable) {
      e.open(`if (${x} === null) {`);
      e.line(`${w}.writeInt8(-1, ${P});`);
      e.close("} else {");
      e.depth++;
      e.line(`${w}.writeInt8(1, ${P});`);
      e.line(`${call};`);
      e.close();
    } else e.line(`${call};`);
    return;
  }
  if (t.kind === "array") throw new Error("array in scalar position");
  switch (t.name) {
    case "bool":
      e.line(`${w}.writeBool(${x});`);
      return;
    case "float64":
      e.line(`${w}.writeFloat64(${x});`);
      return;
    case "int8":
    case "int16":
    case "uint16":
    case "int32":
    case "uint32":
    case "int64":
      e.line(`${w}.write${t.name.charAt(0).toUpperCase()}${t.name.slice(1)}(${x}, ${P});`);
      return;
    case "uuid":
      e.line(`${w}.writeUuid(${x}, ${P});`);
      return;
    case "string":
      e.line(`${w}.write${compact ? "Compact" : ""}${nullable ? "Nullable" : ""}String(${x}, ${P});`);
      return;
    case "bytes":
    case "records":
      e.line(`${w}.write${nullable ? "Nullable" : ""}Bytes(${x}, ${compact}, ${byRef}, ${P});`);
      return;
  }
}

function emitEncodeField(e: Emitter, ctx: Ctx, s: StructSpec, f: FieldSpec, v: number, value: string, tagged: boolean, w: string): void {
  const P = path(ctx, s, f);
  const compact = tagged || isCompact(ctx.m, f, v);
  const nullable = isNullable(f, v);
  const byRef = f.zeroCopy || (f.type.kind === "primitive" && f.type.name === "records");
  let x = value;
  if (!nullable && everNullable(f)) {
    ctx.uses.add("requireNonNull");
    x = `requireNonNull(${value}, ${P})`;
  }
  const t = f.type;
  if (t.kind !== "array") {
    if (x !== value || (t.kind === "struct" && nullable)) {
      // Evaluate once into a local so null checks narrow.
      e.open("{");
      e.line(`const x = ${x};`);
      emitEncodeScalar(e, ctx, t, "x", compact, nullable, byRef, v, P, w);
      e.close();
    } else emitEncodeScalar(e, ctx, t, x, compact, nullable, byRef, v, P, w);
    return;
  }
  e.open("{");
  e.line(`const a = ${x};`);
  if (nullable) {
    e.line(`${w}.writeArrayLength(a === null ? null : a.length, ${compact}, ${P});`);
    e.open("if (a !== null) {");
  } else {
    e.line(`${w}.writeArrayLength(a.length, ${compact}, ${P});`);
  }
  e.open("for (const x of a) {");
  emitEncodeScalar(e, ctx, t.element, "x", compact, false, false, v, P, w);
  e.close();
  if (nullable) e.close();
  e.close();
}

function emitStructType(e: Emitter, s: StructSpec, m: MessageSpec, anyFlexible: boolean): void {
  e.open(`export interface ${s.name} {`);
  for (const f of s.fields) {
    const notes = [`versions ${fmtRange(f.versions)}`];
    if (f.nullableVersions !== null) notes.push(`nullable ${fmtRange(f.nullableVersions)}`);
    if (f.taggedVersions !== null) notes.push(`tag ${String(f.tag)} in ${fmtRange(f.taggedVersions)}`);
    if (f.ignorable) notes.push("ignorable");
    e.line(`/** Kafka ${f.name}: ${notes.join(", ")}. */`);
    e.line(`${f.prop}: ${fieldTsType(f)};`);
  }
  if (anyFlexible) {
    e.line("/** Tagged fields this codec does not know, kept so re-encoding preserves them. */");
    e.line("_unknownTaggedFields?: readonly RawTaggedField[] | undefined;");
  }
  e.close();
  void m;
}

function emitDefaults(e: Emitter, s: StructSpec, m: MessageSpec, anyFlexible: boolean): void {
  e.open(`export function default${s.name}(): ${s.name} {`);
  e.open("return {");
  for (const f of s.fields) e.line(`${f.prop}: ${defaultExpr(f, `${m.name}.${s.name}.${f.name}`)},`);
  if (anyFlexible) e.line("_unknownTaggedFields: undefined,");
  e.close("};");
  e.close();
  e.line();
  e.open(`export function isDefault${s.name}(s: ${s.name}): boolean {`);
  const conds = s.fields.map((f) => isDefaultExpr(f, `s.${f.prop}`, `${m.name}.${s.name}.${f.name}`));
  if (anyFlexible) conds.push("(s._unknownTaggedFields === undefined || s._unknownTaggedFields.length === 0)");
  if (conds.length === 0) e.line("return true;");
  else {
    e.line("return (");
    for (let i = 0; i < conds.length; i++) e.line(`  ${conds[i] ?? ""}${i < conds.length - 1 ? " &&" : ""}`);
    e.line(");");
  }
  e.close();
}

function emitDecodeFn(e: Emitter, ctx: Ctx, s: StructSpec, v: number, anyFlexible: boolean): void {
  const m = ctx.m;
  const flexible = isFlexible(m, v);
  const versions = [...(ctx.layouts.rep.get(s)?.entries() ?? [])].filter(([, r]) => r === v).map(([x]) => x);
  e.line(`/** ${s.name} in versions ${versions.join(", ")}. */`);
  e.open(`function decode${s.name}V${v}(r: Reader): ${s.name} {`);
  const taggedHere = s.fields.filter((f) => isPresent(f, v) && isTagged(f, v));
  for (const f of s.fields) {
    const local = `$${f.prop}`;
    if (!isPresent(f, v)) {
      e.line(`const ${local}: ${fieldTsType(f)} = ${defaultExpr(f, `${m.name}.${s.name}.${f.name}`)};`);
    } else if (isTagged(f, v)) {
      e.line(`let ${local}: ${fieldTsType(f)} = ${defaultExpr(f, `${m.name}.${s.name}.${f.name}`)};`);
    } else {
      emitDecodeField(e, ctx, s, f, v, local, true, false);
    }
  }
  const P = JSON.stringify(s === m.root ? `${s.name}._tagged` : `${m.name}/${s.name}._tagged`);
  if (flexible) {
    if (taggedHere.length === 0) {
      e.line(`const $_unknown = r.readUnknownTaggedFields(${P});`);
    } else {
      ctx.uses.add("RawTaggedField");
      e.line("let $_unknown: RawTaggedField[] | undefined;");
      e.open(`for (let n = r.readUnsignedVarint(${P}); n > 0; n--) {`);
      e.line(`const tag = r.readTaggedFieldHeader(${P});`);
      e.line("const size = r.taggedSize;");
      e.line("const end = r.pos + size;");
      e.open("switch (tag) {");
      for (const f of [...taggedHere].sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0))) {
        e.open(`case ${String(f.tag)}: {`);
        emitDecodeField(e, ctx, s, f, v, `$${f.prop}`, false, true);
        e.line(`r.expectPosition(end, ${path(ctx, s, f)});`);
        e.line("break;");
        e.close();
      }
      e.line("default:");
      e.line(`  ($_unknown ??= []).push({ tag, data: r.readRaw(size, ${P}) });`);
      e.close();
      e.close();
    }
  }
  e.open("return {");
  for (const f of s.fields) e.line(`${f.prop}: $${f.prop},`);
  if (anyFlexible) e.line(`_unknownTaggedFields: ${flexible ? "$_unknown" : "undefined"},`);
  e.close("};");
  e.close();
}

function emitEncodeFn(e: Emitter, ctx: Ctx, s: StructSpec, v: number, anyFlexible: boolean): void {
  const m = ctx.m;
  const flexible = isFlexible(m, v);
  e.open(`function encode${s.name}V${v}(w: Writer, s: ${s.name}): void {`);
  for (const f of s.fields) {
    const where = `${m.name}.${s.name}.${f.name}`;
    if (!isPresent(f, v)) {
      if (!f.ignorable) {
        ctx.uses.add("EncodeError");
        e.open(`if (${negate(isDefaultExpr(f, `s.${f.prop}`, where))}) {`);
        e.line(`throw new EncodeError("unsupportedField", ${path(ctx, s, f)}, "a non-default value in version ${v}, which lacks the field");`);
        e.close();
      }
      continue;
    }
    if (isTagged(f, v)) continue;
    emitEncodeField(e, ctx, s, f, v, `s.${f.prop}`, false, "w");
  }
  const taggedPath = JSON.stringify(s === m.root ? `${s.name}._tagged` : `${m.name}/${s.name}._tagged`);
  if (!flexible && anyFlexible) {
    ctx.uses.add("rejectUnknownTaggedFields");
    e.line(`rejectUnknownTaggedFields(s._unknownTaggedFields, ${taggedPath});`);
  }
  if (flexible) {
    const P = taggedPath;
    const taggedHere = s.fields.filter((f) => isPresent(f, v) && isTagged(f, v)).sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0));
    if (taggedHere.length === 0) {
      ctx.uses.add("writeUnknownTaggedFields");
      e.line(`writeUnknownTaggedFields(w, s._unknownTaggedFields, ${P});`);
    } else {
      ctx.uses.add("RawTaggedField");
      ctx.uses.add("writeTaggedFields");
      ctx.uses.add("Writer");
      e.line("const tagged: RawTaggedField[] = [];");
      for (const f of taggedHere) {
        const where = `${m.name}.${s.name}.${f.name}`;
        e.open(`if (${negate(isDefaultExpr(f, `s.${f.prop}`, where))}) {`);
        e.line("const t = new Writer(64);");
        emitEncodeField(e, ctx, s, f, v, `s.${f.prop}`, true, "t");
        e.line(`tagged.push({ tag: ${String(f.tag)}, data: t.flatten() });`);
        e.close();
      }
      e.line(`writeTaggedFields(w, tagged, s._unknownTaggedFields, ${P});`);
    }
  }
  e.close();
}

export interface GeneratedFile {
  readonly name: string;
  readonly text: string;
}

export function generateMessage(m: MessageSpec, sourceFile: string): GeneratedFile {
  const layouts = computeLayouts(m);
  const ctx: Ctx = { m, layouts, uses: new Set() };
  const anyFlexible = m.flexibleVersions !== null && m.flexibleVersions.min <= m.validVersions.max;
  const body = new Emitter();

  // Types, root first then nested structs in declaration order.
  for (const s of m.structs) {
    if (!layouts.rep.has(s)) continue;
    emitStructType(body, s, m, anyFlexible);
    body.line();
  }
  for (const s of m.structs) {
    if (!layouts.rep.has(s)) continue;
    emitDefaults(body, s, m, anyFlexible);
    body.line();
  }
  const versions = versionsOf(m);
  const rootReps = layouts.reps.get(m.root) ?? [];
  const groups = rootReps.map((r) => ({ rep: r, versions: versions.filter((v) => layouts.rep.get(m.root)?.get(v) === r) }));
  body.line(`/** Decodes a ${m.name} body of the given version (${fmtRange(m.validVersions)}). */`);
  body.open(`export function decode${m.name}(r: Reader, version: number): ${m.name} {`);
  body.open("switch (version) {");
  for (const g of groups) {
    for (const v of g.versions) body.line(`case ${v}:`);
    body.line(`  return decode${m.name}V${g.rep}(r);`);
  }
  body.line("default:");
  body.line(`  throw new DecodeError("unsupportedVersion", ${JSON.stringify(m.name)}, r.pos, \`version \${version}\`);`);
  body.close();
  body.close();
  body.line();
  body.line(`/** Encodes a ${m.name} body in the given version (${fmtRange(m.validVersions)}). */`);
  body.open(`export function encode${m.name}(w: Writer, m: ${m.name}, version: number): void {`);
  body.open("switch (version) {");
  for (const g of groups) {
    for (const v of g.versions) body.line(`case ${v}:`);
    body.line(`  encode${m.name}V${g.rep}(w, m);`);
    body.line("  return;");
  }
  body.line("default:");
  body.line(`  throw new EncodeError("unsupportedVersion", ${JSON.stringify(m.name)}, \`version \${version}\`);`);
  body.close();
  body.close();
  ctx.uses.add("EncodeError");
  ctx.uses.add("DecodeError");
  for (const s of m.structs) {
    for (const v of layouts.reps.get(s) ?? []) {
      body.line();
      emitDecodeFn(body, ctx, s, v, anyFlexible);
      body.line();
      emitEncodeFn(body, ctx, s, v, anyFlexible);
    }
  }

  const head: string[] = [];
  head.push(BANNER(`${sourceFile}`).trimEnd());
  head.push("/**");
  head.push(` * ${m.name}: api key ${m.apiKey}, versions ${fmtRange(m.validVersions)}, flexible ${fmtRange(m.flexibleVersions)}.`);
  head.push(" * One type covers all versions: fields a version lacks decode to their defaults. Encoding a");
  head.push(" * non-default value into a version without the field throws EncodeError unless the field is");
  head.push(" * ignorable. See scripts/gen-protocol.ts for the wire rules.");
  head.push(" */");
  const codecErrors = ["DecodeError", "EncodeError"].filter((n) => ctx.uses.has(n));
  if (codecErrors.length > 0) head.push(`import { ${codecErrors.join(", ")} } from "../codec/codec-error.ts";`);
  head.push('import type { Reader } from "../codec/reader.ts";');
  const writerValues = ["Writer", "writeTaggedFields", "writeUnknownTaggedFields", "requireNonNull", "rejectUnknownTaggedFields"].filter((n) => ctx.uses.has(n));
  const writerTypes = ["RawTaggedField"].filter((n) => ctx.uses.has(n) || anyFlexible);
  const writerImports = [...writerTypes.map((n) => `type ${n}`), ...writerValues];
  if (!ctx.uses.has("Writer")) writerImports.push("type Writer");
  writerImports.sort((a, b) => a.replace(/^type /, "").localeCompare(b.replace(/^type /, "")));
  head.push(`import { ${writerImports.join(", ")} } from "../codec/writer.ts";`);
  head.push("");
  return { name: `${kebab(m.name)}.ts`, text: `${head.join("\n")}\n${body.lines.join("\n")}\n` };
}

function apiName(requestName: string): string {
  return requestName.replace(/Request$/, "");
}

export function generateIndex(messages: MessageSpec[]): GeneratedFile {
  const byKey = new Map<number, { request?: MessageSpec; response?: MessageSpec }>();
  for (const m of messages) {
    const entry = byKey.get(m.apiKey) ?? {};
    if (entry[m.kind] !== undefined) throw new Error(`api key ${m.apiKey}: two ${m.kind}s`);
    entry[m.kind] = m;
    byKey.set(m.apiKey, entry);
  }
  const keys = [...byKey.keys()].sort((a, b) => a - b);
  const pairs: { key: number; request: MessageSpec; response: MessageSpec }[] = [];
  for (const key of keys) {
    const { request, response } = byKey.get(key) ?? {};
    if (request === undefined || response === undefined) throw new Error(`api key ${key}: request or response missing`);
    if (request.validVersions.min !== response.validVersions.min || request.validVersions.max !== response.validVersions.max) {
      throw new Error(`api key ${key}: request and response version ranges differ`);
    }
    pairs.push({ key, request, response });
  }
  const L: string[] = [];
  L.push(BANNER("message JSON (all request/response schemas)").trimEnd());
  L.push("/**");
  L.push(" * The table of every Kafka API this codec knows (from the schemas' api keys, version ranges,");
  L.push(" * flexible versions and listeners) and request/response body encode/decode by api key.");
  L.push(" * `minVersion`..`maxVersion` is what the codec can parse, not what the broker advertises.");
  L.push(" */");
  L.push('import type { Reader } from "../codec/reader.ts";');
  L.push('import type { Writer } from "../codec/writer.ts";');
  for (const p of pairs) {
    for (const m of [p.request, p.response]) {
      L.push(`import { decode${m.name}, encode${m.name}, type ${m.name} } from "./${kebab(m.name)}.ts";`);
    }
  }
  L.push("");
  L.push('export type Listener = "zkBroker" | "broker" | "controller";');
  L.push("");
  L.push("export interface ApiSpec {");
  L.push("  readonly apiKey: number;");
  L.push("  readonly name: string;");
  L.push("  readonly minVersion: number;");
  L.push("  readonly maxVersion: number;");
  L.push("  /** First flexible version, or -1 when the API has none. */");
  L.push("  readonly flexibleMinVersion: number;");
  L.push("  readonly listeners: readonly Listener[];");
  L.push("  /** The schema marks its highest version as unstable (not to be advertised by default). */");
  L.push("  readonly latestVersionUnstable: boolean;");
  L.push("}");
  L.push("");
  L.push("/** Api keys by Kafka's API name. */");
  L.push("export const ApiKeys = {");
  for (const p of pairs) L.push(`  ${apiName(p.request.name)}: ${p.key},`);
  L.push("} as const;");
  L.push("");
  L.push("export interface RequestBodies {");
  for (const p of pairs) L.push(`  ${p.key}: ${p.request.name};`);
  L.push("}");
  L.push("");
  L.push("export interface ResponseBodies {");
  for (const p of pairs) L.push(`  ${p.key}: ${p.response.name};`);
  L.push("}");
  L.push("");
  L.push("export type ApiKey = keyof RequestBodies;");
  L.push("");
  L.push("/** Every API, ascending by api key. */");
  L.push("export const apis: readonly ApiSpec[] = [");
  for (const p of pairs) {
    const m = p.request;
    const flexMin = m.flexibleVersions === null || m.flexibleVersions.min > m.validVersions.max ? -1 : m.flexibleVersions.min;
    const listeners = m.listeners.map((l) => JSON.stringify(l)).join(", ");
    L.push(
      `  { apiKey: ${p.key}, name: ${JSON.stringify(apiName(m.name))}, minVersion: ${m.validVersions.min}, maxVersion: ${m.validVersions.max}, flexibleMinVersion: ${flexMin}, listeners: [${listeners}], latestVersionUnstable: ${m.latestVersionUnstable} },`,
    );
  }
  L.push("];");
  L.push("");
  L.push("const apiByKey: readonly (ApiSpec | undefined)[] = (() => {");
  L.push("  const table: (ApiSpec | undefined)[] = [];");
  L.push("  for (const api of apis) table[api.apiKey] = api;");
  L.push("  return table;");
  L.push("})();");
  L.push("");
  L.push("/** The API with this key, or undefined for a key the codec does not know. */");
  L.push("export function apiSpec(apiKey: number): ApiSpec | undefined {");
  L.push("  return apiKey >= 0 ? apiByKey[apiKey] : undefined;");
  L.push("}");
  L.push("");
  L.push("export function isApiKey(apiKey: number): apiKey is ApiKey {");
  L.push("  return apiSpec(apiKey) !== undefined;");
  L.push("}");
  L.push("");
  L.push("interface BodyCodec<Req, Res> {");
  L.push("  decodeRequest(r: Reader, version: number): Req;");
  L.push("  encodeRequest(w: Writer, body: Req, version: number): void;");
  L.push("  decodeResponse(r: Reader, version: number): Res;");
  L.push("  encodeResponse(w: Writer, body: Res, version: number): void;");
  L.push("}");
  L.push("");
  L.push("const codecs: { readonly [K in ApiKey]: BodyCodec<RequestBodies[K], ResponseBodies[K]> } = {");
  for (const p of pairs) {
    L.push(
      `  ${p.key}: { decodeRequest: decode${p.request.name}, encodeRequest: encode${p.request.name}, decodeResponse: decode${p.response.name}, encodeResponse: encode${p.response.name} },`,
    );
  }
  L.push("};");
  L.push("");
  L.push("/** Decodes a request body; the caller checked the key (`isApiKey`); versions are checked here. */");
  L.push("export function decodeRequestBody<K extends ApiKey>(apiKey: K, r: Reader, version: number): RequestBodies[K] {");
  L.push("  return codecs[apiKey].decodeRequest(r, version);");
  L.push("}");
  L.push("");
  L.push("export function encodeRequestBody<K extends ApiKey>(apiKey: K, w: Writer, body: RequestBodies[K], version: number): void {");
  L.push("  codecs[apiKey].encodeRequest(w, body, version);");
  L.push("}");
  L.push("");
  L.push("export function decodeResponseBody<K extends ApiKey>(apiKey: K, r: Reader, version: number): ResponseBodies[K] {");
  L.push("  return codecs[apiKey].decodeResponse(r, version);");
  L.push("}");
  L.push("");
  L.push("export function encodeResponseBody<K extends ApiKey>(apiKey: K, w: Writer, body: ResponseBodies[K], version: number): void {");
  L.push("  codecs[apiKey].encodeResponse(w, body, version);");
  L.push("}");
  return { name: "index.ts", text: `${L.join("\n")}\n` };
}

/** Generates every file; `sourceFiles` maps message name to its schema file name. */
export function generateAll(specDir: string): GeneratedFile[] {
  const messages = loadMessages(specDir);
  const files = messages.map((m) => generateMessage(m, `${m.name}.json`));
  files.push(generateIndex(messages));
  return files;
}

export function writeAll(files: readonly GeneratedFile[], outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const keep = new Set(files.map((f) => f.name));
  for (const name of readdirSync(outDir)) {
    if (!name.endsWith(".ts") || keep.has(name)) continue;
    const text = readFileSync(join(outDir, name), "utf8");
    if (text.startsWith(BANNER_MARK)) rmSync(join(outDir, name));
  }
  for (const f of files) writeFileSync(join(outDir, f.name), f.text);
}

if (import.meta.main) {
  const root = resolve(import.meta.dir, "..");
  const specDir = resolve(root, process.argv[2] ?? "../shared/kafka-protocol/messages");
  const outDir = resolve(root, process.argv[3] ?? "src/protocol/messages");
  const files = generateAll(specDir);
  writeAll(files, outDir);
  console.log(`gen-protocol: wrote ${files.length} files to ${outDir}`);
}
