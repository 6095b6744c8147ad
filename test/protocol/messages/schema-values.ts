/**
 * Test helper: random values and per-version normalisation driven by Kafka's schema (the
 * generator's parsed model), independent of the generated code. Used by the round-trip
 * property tests and the malformed-input tests.
 *
 * `randomStruct` draws a value for every field: present fields get random values within
 * their wire type's domain (nulls where the version allows them, empty and larger arrays,
 * unicode strings incl. astral characters, int64 up to ±(2^53 − 1)); absent non-ignorable
 * fields get their default (anything else must make encoding throw); absent ignorable ones
 * sometimes get random values (encoding must drop them). `normalise` maps a value to what
 * decoding the version's encoding must give back.
 */
import type { Prng } from "../../../src/platform/prng.ts";
import { uuidBytesToText } from "../../../src/protocol/codec/uuid.ts";
import { Reader } from "../../../src/protocol/codec/reader.ts";
import { type RawTaggedField, Writer } from "../../../src/protocol/codec/writer.ts";
import { type ApiKey, decodeRequestBody, decodeResponseBody, encodeRequestBody, encodeResponseBody } from "../../../src/protocol/messages/index.ts";
import {
  defaultOf,
  type FieldSpec,
  type FieldType,
  isFlexible,
  isNullable,
  isPresent,
  isTagged,
  type MessageSpec,
  type StructSpec,
} from "../../../scripts/gen-protocol.ts";

export type Value = unknown;
export type Obj = Record<string, Value>;

export interface RandomOptions {
  /** Maximum array length at the top level; deeper levels get smaller arrays. */
  readonly arrayMax: number;
  /** Probability of unknown tagged fields on a flexible struct. */
  readonly unknownTagChance: number;
}

function chance(prng: Prng, p: number): boolean {
  return prng.nextFloat() < p;
}

const SAMPLE_CHARS = ["a", "Z", "0", "-", "_", ".", " ", "é", "ß", "Ω", "中", "文", "€", "😀", "𝄞", "\u0000", "\u007f", "\u0080", "\uffff", "\ufeff"];

export function randomString(prng: Prng): string {
  const kind = prng.int(10);
  if (kind === 0) return "";
  const n = kind < 7 ? 1 + prng.int(16) : 17 + prng.int(90);
  let s = "";
  for (let i = 0; i < n; i++) {
    if (chance(prng, 0.7)) s += String.fromCharCode(0x20 + prng.int(95));
    else s += SAMPLE_CHARS[prng.int(SAMPLE_CHARS.length)] ?? "x";
  }
  return s;
}

export function randomBytes(prng: Prng, max: number): Uint8Array {
  const out = new Uint8Array(prng.int(max + 1));
  for (let i = 0; i < out.length; i++) out[i] = prng.int(256);
  return out;
}

function randomInt(prng: Prng, bits: number, signed: boolean): number {
  const edge = prng.int(6);
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const min = signed ? -(2 ** (bits - 1)) : 0;
  if (edge === 0) return max;
  if (edge === 1) return min;
  if (edge === 2) return signed ? -1 : 0;
  const span = max - min + 1;
  if (span <= 2 ** 32) return min + Math.floor(prng.nextFloat() * span);
  // 53-bit: combine two draws.
  const hi = prng.int(2 ** 21);
  const v = hi * 2 ** 32 + prng.nextU32();
  return chance(prng, 0.5) ? v : -v;
}

function randomPrimitive(prng: Prng, name: string): Value {
  switch (name) {
    case "bool":
      return chance(prng, 0.5);
    case "int8":
      return randomInt(prng, 8, true);
    case "int16":
      return randomInt(prng, 16, true);
    case "uint16":
      return randomInt(prng, 16, false);
    case "int32":
      return randomInt(prng, 32, true);
    case "uint32":
      return randomInt(prng, 32, false);
    case "int64": {
      const k = prng.int(8);
      if (k === 0) return Number.MAX_SAFE_INTEGER;
      if (k === 1) return Number.MIN_SAFE_INTEGER;
      if (k === 2) return -1;
      if (k === 3) return 2 ** 32;
      const v = prng.int(2 ** 21) * 2 ** 32 + prng.nextU32();
      return chance(prng, 0.5) ? v : -v;
    }
    case "float64": {
      const k = prng.int(4);
      if (k === 0) return 0;
      if (k === 1) return -1.5;
      return (prng.nextFloat() - 0.5) * 2 ** prng.int(200);
    }
    case "string":
      return randomString(prng);
    case "uuid": {
      const b = new Uint8Array(16);
      for (let i = 0; i < 16; i++) b[i] = prng.int(256);
      return uuidBytesToText(b, 0);
    }
    case "bytes":
    case "records":
      return randomBytes(prng, chance(prng, 0.1) ? 700 : 24);
    default:
      throw new Error(`randomPrimitive: ${name}`);
  }
}

export function defaultValue(f: FieldSpec): Value {
  const d = defaultOf(f, f.name);
  if (d === "emptyArray") return [];
  if (d === "emptyBytes") return new Uint8Array(0);
  if (d === "defaultStruct") {
    const t = f.type;
    if (t.kind !== "struct") throw new Error("defaultStruct on a non-struct");
    return defaultStruct(t.struct);
  }
  return d;
}

export function defaultStruct(s: StructSpec): Obj {
  const o: Obj = {};
  for (const f of s.fields) o[f.prop] = defaultValue(f);
  o._unknownTaggedFields = undefined;
  return o;
}

function randomOfType(m: MessageSpec, t: FieldType, v: number, prng: Prng, depth: number, opts: RandomOptions): Value {
  if (t.kind === "primitive") return randomPrimitive(prng, t.name);
  if (t.kind === "struct") return randomStruct(m, t.struct, v, prng, depth + 1, opts);
  const max = depth === 0 ? opts.arrayMax : Math.max(1, opts.arrayMax >> depth);
  const n = prng.int(max + 1);
  const out: Value[] = [];
  for (let i = 0; i < n; i++) out.push(randomOfType(m, t.element, v, prng, depth + 1, opts));
  return out;
}

function randomField(m: MessageSpec, f: FieldSpec, v: number, prng: Prng, depth: number, opts: RandomOptions): Value {
  if (isNullable(f, v) && chance(prng, 0.2)) return null;
  return randomOfType(m, f.type, v, prng, depth, opts);
}

export function randomStruct(m: MessageSpec, s: StructSpec, v: number, prng: Prng, depth: number, opts: RandomOptions): Obj {
  const o: Obj = {};
  for (const f of s.fields) {
    if (isPresent(f, v)) o[f.prop] = randomField(m, f, v, prng, depth, opts);
    else if (f.ignorable && chance(prng, 0.3)) o[f.prop] = randomOfType(m, f.type, v, prng, depth + 1, opts);
    else o[f.prop] = defaultValue(f);
  }
  o._unknownTaggedFields = undefined;
  if (isFlexible(m, v) && chance(prng, opts.unknownTagChance)) {
    const known = new Set(s.fields.filter((f) => isPresent(f, v) && isTagged(f, v)).map((f) => f.tag));
    const tags = new Set<number>();
    const n = 1 + prng.int(3);
    for (let i = 0; i < n; i++) {
      const tag = chance(prng, 0.5) ? prng.int(8) : 100 + prng.int(20000);
      if (!known.has(tag)) tags.add(tag);
    }
    const fields: RawTaggedField[] = [...tags].sort((a, b) => a - b).map((tag) => ({ tag, data: randomBytes(prng, 12) }));
    if (fields.length > 0) o._unknownTaggedFields = fields;
  }
  return o;
}

/** What decoding the encoding of `value` at version v must produce. */
export function normalise(m: MessageSpec, s: StructSpec, v: number, value: Obj): Obj {
  const o: Obj = {};
  for (const f of s.fields) {
    const x = value[f.prop];
    if (!isPresent(f, v)) o[f.prop] = defaultValue(f);
    else o[f.prop] = normaliseOfType(m, f.type, v, x);
  }
  o._unknownTaggedFields = isFlexible(m, v) ? value._unknownTaggedFields : undefined;
  return o;
}

function normaliseOfType(m: MessageSpec, t: FieldType, v: number, x: Value): Value {
  if (x === null) return null;
  if (t.kind === "struct") return normalise(m, t.struct, v, x as Obj);
  if (t.kind === "array") return (x as Value[]).map((e) => normaliseOfType(m, t.element, v, e));
  return x;
}

export function encodeBody(m: MessageSpec, body: Obj, v: number): Uint8Array {
  const w = new Writer(64);
  const key = m.apiKey as ApiKey;
  // The schema-driven value has the message's shape; the generated types are checked by tsc
  // elsewhere, here the value comes from the schema so it is passed through `never`.
  if (m.kind === "request") encodeRequestBody(key, w, body as never, v);
  else encodeResponseBody(key, w, body as never, v);
  return w.flatten();
}

export function decodeBody(m: MessageSpec, bytes: Uint8Array, v: number): { value: unknown; consumed: number } {
  const r = new Reader(bytes);
  const key = m.apiKey as ApiKey;
  const value = m.kind === "request" ? decodeRequestBody(key, r, v) : decodeResponseBody(key, r, v);
  return { value, consumed: r.pos };
}
