/** Pure parts of the admin CLI: the consumer-protocol assignment reader (bounded), argument parsing, tables. */
import { describe, expect, test } from "bun:test";
import { parseArgs, table, UsageError } from "../../src/cli/admin/common.ts";
import { decodeAssignment } from "../../src/cli/admin/requests.ts";

function assignment(topics: [string, number[]][], userData = new Uint8Array(0)): Uint8Array {
  const parts: number[] = [0, 1]; // version 1
  const i32 = (v: number) => parts.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  i32(topics.length);
  for (const [name, ps] of topics) {
    const b = new TextEncoder().encode(name);
    parts.push((b.length >>> 8) & 0xff, b.length & 0xff, ...b);
    i32(ps.length);
    for (const p of ps) i32(p);
  }
  i32(userData.length);
  parts.push(...userData);
  return new Uint8Array(parts);
}

describe("admin CLI units", () => {
  test("assignments decode; truncated or lying lengths give null, never a throw", () => {
    const bytes = assignment([["orders", [0, 2]], ["events", [5]]]);
    expect(decodeAssignment(bytes)).toEqual([{ topic: "orders", partitions: [0, 2] }, { topic: "events", partitions: [5] }]);
    expect(decodeAssignment(new Uint8Array(0))).toBeNull();
    for (let cut = 1; cut < bytes.length - 4; cut++) expect(decodeAssignment(bytes.subarray(0, cut))).toBeNull();
    const lying = assignment([["t", [1]]]);
    lying[5] = 0x7f; // claims 127 topics where there is one
    expect(decodeAssignment(lying)).toBeNull();
  });

  test("arguments: unknown flags, missing values, repeats and positional counts are usage errors", () => {
    const spec = { values: ["--partitions"], repeatable: ["--config"], bools: ["--execute"], positional: [1, 1] as const, positionalName: "a topic name" };
    const ok = parseArgs("topics create", ["t", "--partitions=3", "--config", "a=1", "--config", "b=2", "--execute", "--json"], spec);
    expect({ pos: ok.positional, p: ok.values.get("--partitions"), c: ok.values.get("--config"), b: [...ok.bools].sort() }).toEqual({ pos: ["t"], p: ["3"], c: ["a=1", "b=2"], b: ["--execute", "--json"] });
    for (const bad of [["t", "--nope"], ["t", "--partitions"], ["t", "--partitions", "1", "--partitions", "2"], [], ["t", "u"]]) {
      expect(() => parseArgs("topics create", bad, spec)).toThrow(UsageError);
    }
  });

  test("tables pad every column but the last", () => {
    expect(table(["A", "LONGER"], [["xyz", 1], ["w", 22]])).toEqual(["A    LONGER", "xyz  1", "w    22"]);
  });
});
