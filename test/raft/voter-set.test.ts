import { describe, expect, test } from "bun:test";
import { SeededPrng } from "../../src/platform/prng.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { walkBatches } from "../../src/protocol/records/record-batch.ts";
import {
  decodeKraftVersion,
  decodeVoters,
  encodeKraftVersion,
  encodeVoters,
  kraftVersionBatch,
  parseInitialController,
  splitSnapshotContent,
  type Voter,
  votersBatch,
  voterSetChange,
  voterSetProblem,
  votersInBatches,
  votersOfSnapshotContent,
} from "../../src/raft/voter-set.ts";

const prng = new SeededPrng(7);
const voter = (id: number, port = 9093): Voter => ({ id, directoryId: randomUuid(prng), endpoints: [{ name: "CONTROLLER", host: "127.0.0.1", port }] });

describe("voter set records", () => {
  test("KRAFT_VOTERS and KRAFT_VERSION values round-trip", () => {
    const voters = [voter(1), voter(2, 19093), { id: 3, directoryId: randomUuid(prng), endpoints: [] }];
    expect(decodeVoters(encodeVoters(voters))).toEqual(voters);
    expect(decodeKraftVersion(encodeKraftVersion(1))).toBe(1);
  });

  test("every truncation of a value is refused, never a crash", () => {
    const value = encodeVoters([voter(1), voter(2)]);
    for (let n = 0; n < value.length; n++) expect(decodeVoters(value.subarray(0, n))).toBeNull();
    // A count far larger than the bytes is refused before anything is allocated.
    expect(decodeVoters(Uint8Array.of(0, 0, 0xff, 0xff, 0xff, 0x0f))).toBeNull();
  });

  test("records are found in log batches at their offsets, and only in control batches", () => {
    const a = [voter(1)];
    const b = [...a, voter(2)];
    const batches = [kraftVersionBatch(1, 0), votersBatch(a, 0), votersBatch(b, 0)];
    const bytes = new Uint8Array(batches.reduce((n, x) => n + x.length, 0));
    let p = 0;
    for (const x of batches) {
      bytes.set(x, p);
      p += x.length;
    }
    walkBatches(bytes, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: bytes.length, assign: { firstOffset: 10, leaderEpoch: 3 } });
    const found = votersInBatches(bytes, bytes.length);
    expect(found.map((f) => f.offset)).toEqual([11, 12]);
    expect(found[1]!.voters).toEqual(b);
    expect(votersOfSnapshotContent(bytes)).toEqual(b);
    const split = splitSnapshotContent(bytes, bytes.length);
    expect(split.state.length).toBe(0);
  });

  test("a voter set changes one voter at a time", () => {
    const [x, y, z] = [voter(1), voter(2), voter(3)];
    expect(voterSetChange([x, y], [x, y, z])).toEqual({ kind: "added", voter: z });
    expect(voterSetChange([x, y, z], [x, z])).toEqual({ kind: "removed", voter: y });
    expect(voterSetChange([x, y], [x, z]).kind).toBe("other");
    // A wiped voter (same id, new directory id) is another voter.
    const wiped = { ...y, directoryId: randomUuid(prng) };
    expect(voterSetChange([x, y], [x, wiped]).kind).toBe("other");
    expect(voterSetProblem([x, { ...x }])).toContain("twice");
    expect(voterSetProblem([])).toBe("no voters");
  });

  test("--initial-controllers entries parse; bad ones are one message", () => {
    const dir = randomUuid(prng);
    expect(parseInitialController(`3@localhost:9093:${dir}`, "CONTROLLER")).toEqual({ id: 3, directoryId: dir, endpoints: [{ name: "CONTROLLER", host: "localhost", port: 9093 }] });
    expect(typeof parseInitialController("3@localhost:9093", "CONTROLLER")).toBe("string");
    expect(typeof parseInitialController(`3@localhost:99999:${dir}`, "CONTROLLER")).toBe("string");
    expect(typeof parseInitialController("3@h:1:AAAAAAAAAAAAAAAAAAAAAA", "CONTROLLER")).toBe("string");
  });
});
