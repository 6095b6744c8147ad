/**
 * Test oracle: a slow, schema-interpreting encoder written straight from the wire rules
 * (docs/protocol.html), sharing no code with the runtime Writer or the generated encoders:
 * int64 through BigInt, UUIDs through Buffer's base64url, strings through Buffer's UTF-8.
 * The round-trip test checks the generated encoders produce exactly these bytes.
 */
import {
  defaultOf,
  type FieldSpec,
  type FieldType,
  isCompact,
  isFlexible,
  isNullable,
  isPresent,
  isTagged,
  type MessageSpec,
  type StructSpec,
} from "../../../scripts/gen-protocol.ts";
import { defaultValue, type Obj } from "./schema-values.ts";

type Bytes = number[];

function uvarint(out: Bytes, v: number): void {
  let x = BigInt(v);
  while (x >= 0x80n) {
    out.push(Number((x & 0x7fn) | 0x80n));
    x >>= 7n;
  }
  out.push(Number(x));
}

function fixed(out: Bytes, v: bigint, bytes: number): void {
  const mask = (1n << BigInt(bytes * 8)) - 1n;
  const u = v & mask;
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((u >> BigInt(i * 8)) & 0xffn));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const x = (a as Obj)[k];
      const y = (b as Obj)[k];
      if (k === "_unknownTaggedFields") {
        const ex = x === undefined || (Array.isArray(x) && x.length === 0);
        const ey = y === undefined || (Array.isArray(y) && y.length === 0);
        if (ex && ey) continue;
      }
      if (!deepEqual(x, y)) return false;
    }
    return true;
  }
  return false;
}

function lengthPrefix(out: Bytes, n: number | null, compact: boolean, width: 2 | 4): void {
  if (compact) uvarint(out, n === null ? 0 : n + 1);
  else fixed(out, BigInt(n === null ? -1 : n), width);
}

function value(out: Bytes, m: MessageSpec, t: FieldType, x: unknown, v: number, compact: boolean, nullable: boolean): void {
  if (t.kind === "array") {
    if (x === null) {
      if (!nullable) throw new Error("reference: null array");
      lengthPrefix(out, null, compact, 4);
      return;
    }
    const a = x as unknown[];
    lengthPrefix(out, a.length, compact, 4);
    for (const e of a) value(out, m, t.element, e, v, compact, false);
    return;
  }
  if (t.kind === "struct") {
    if (nullable) {
      if (x === null) {
        out.push(0xff);
        return;
      }
      out.push(1);
    }
    struct(out, m, t.struct, x as Obj, v);
    return;
  }
  switch (t.name) {
    case "bool":
      out.push(x === true ? 1 : 0);
      return;
    case "int8":
      fixed(out, BigInt(x as number), 1);
      return;
    case "int16":
    case "uint16":
      fixed(out, BigInt(x as number), 2);
      return;
    case "int32":
    case "uint32":
      fixed(out, BigInt(x as number), 4);
      return;
    case "int64":
      fixed(out, BigInt(x as number), 8);
      return;
    case "float64": {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(x as number);
      out.push(...b);
      return;
    }
    case "uuid": {
      const b = Buffer.from(x as string, "base64url");
      if (b.length !== 16) throw new Error("reference: bad uuid");
      out.push(...b);
      return;
    }
    case "string": {
      if (x === null) {
        lengthPrefix(out, null, compact, 2);
        return;
      }
      const b = Buffer.from(x as string, "utf8");
      lengthPrefix(out, b.length, compact, 2);
      out.push(...b);
      return;
    }
    case "bytes":
    case "records": {
      if (x === null) {
        lengthPrefix(out, null, compact, 4);
        return;
      }
      const b = x as Uint8Array;
      lengthPrefix(out, b.length, compact, 4);
      out.push(...b);
      return;
    }
  }
}

function field(out: Bytes, m: MessageSpec, f: FieldSpec, x: unknown, v: number, tagged: boolean): void {
  value(out, m, f.type, x, v, tagged || isCompact(m, f, v), isNullable(f, v));
}

export function struct(out: Bytes, m: MessageSpec, s: StructSpec, o: Obj, v: number): void {
  for (const f of s.fields) {
    if (!isPresent(f, v) || isTagged(f, v)) continue;
    field(out, m, f, o[f.prop], v, false);
  }
  if (!isFlexible(m, v)) return;
  const entries: { tag: number; data: Bytes }[] = [];
  for (const f of s.fields) {
    if (!isPresent(f, v) || !isTagged(f, v)) continue;
    void defaultOf(f, f.name);
    if (deepEqual(o[f.prop], defaultValue(f))) continue;
    const data: Bytes = [];
    field(data, m, f, o[f.prop], v, true);
    entries.push({ tag: f.tag ?? -1, data });
  }
  const unknown = (o._unknownTaggedFields ?? []) as { tag: number; data: Uint8Array }[];
  for (const u of unknown) entries.push({ tag: u.tag, data: [...u.data] });
  entries.sort((a, b) => a.tag - b.tag);
  uvarint(out, entries.length);
  for (const e of entries) {
    uvarint(out, e.tag);
    uvarint(out, e.data.length);
    out.push(...e.data);
  }
}

export function referenceEncode(m: MessageSpec, o: Obj, v: number): Uint8Array {
  const out: Bytes = [];
  struct(out, m, m.root, o, v);
  return new Uint8Array(out);
}
