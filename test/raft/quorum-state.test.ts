/**
 * The quorum-state file: byte layout, round trip, Kafka's version 0 files, corrupt files, and
 * what a crash leaves (the old state or the new one, never a torn or empty file).
 */
import { describe, expect, test } from "bun:test";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import {
  decodeQuorumState,
  emptyQuorumState,
  encodeQuorumState,
  type QuorumStateData,
  QuorumStateError,
  quorumStatePath,
  readQuorumState,
  writeQuorumState,
} from "../../src/raft/quorum-state.ts";
import { dirId } from "./helpers.ts";

const dir = "/data/__cluster_metadata-0";
const path = quorumStatePath(dir);

function freshFs(seed = 1): SimFileSystem {
  const fs = new SimFileSystem(new SeededPrng(seed), new SimClock());
  fs.mkdirp(dir);
  return fs;
}

const voted: QuorumStateData = { leaderEpoch: 7, leaderId: -1, votedId: 2, votedDirectoryId: dirId(2) };

describe("layout", () => {
  test("one line of JSON in Kafka's key order with data_version 1", () => {
    const text = new TextDecoder().decode(encodeQuorumState({ leaderEpoch: 7, leaderId: 2, votedId: 2, votedDirectoryId: dirId(2) }));
    expect(text).toBe(`{"leaderId":2,"leaderEpoch":7,"votedId":2,"votedDirectoryId":"${dirId(2)}","data_version":1}\n`);
  });

  test("round trip through the file", () => {
    const fs = freshFs();
    expect(readQuorumState(fs, path)).toBeNull();
    for (const s of [emptyQuorumState, voted, { leaderEpoch: 8, leaderId: 1, votedId: -1, votedDirectoryId: emptyQuorumState.votedDirectoryId }]) {
      writeQuorumState(fs, path, s);
      expect(readQuorumState(fs, path)).toEqual(s);
    }
  });

  test("Kafka's data version 0 files are read (no directory id)", () => {
    const v0 = '{"clusterId":"","leaderId":1,"leaderEpoch":3,"votedId":-1,"appliedOffset":0,"currentVoters":[{"voterId":1}],"data_version":0}';
    expect(decodeQuorumState(path, new TextEncoder().encode(v0))).toEqual({ leaderEpoch: 3, leaderId: 1, votedId: -1, votedDirectoryId: emptyQuorumState.votedDirectoryId });
  });

  const corrupt: [string, string][] = [
    ["empty", ""],
    ["torn", '{"leaderId":2,"leaderEpoch":7,"vot'],
    ["not an object", "[1,2]"],
    ["unknown version", '{"leaderId":-1,"leaderEpoch":1,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":2}'],
    ["negative epoch", '{"leaderId":-1,"leaderEpoch":-1,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}'],
    ["fractional id", '{"leaderId":1.5,"leaderEpoch":1,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}'],
    ["bad directory id", '{"leaderId":-1,"leaderEpoch":1,"votedId":2,"votedDirectoryId":"nope","data_version":1}'],
    ["directory id without a vote", `{"leaderId":-1,"leaderEpoch":1,"votedId":-1,"votedDirectoryId":"${dirId(3)}","data_version":1}`],
  ];
  for (const [name, text] of corrupt) {
    test(`a corrupt file is an error, never a fresh state: ${name}`, () => {
      const fs = freshFs();
      fs.corrupt(path, 0, new TextEncoder().encode(text));
      expect(() => readQuorumState(fs, path)).toThrow(QuorumStateError);
    });
  }

  test("a .tmp left by a crash is removed unread", () => {
    const fs = freshFs();
    writeQuorumState(fs, path, voted);
    fs.corrupt(`${path}.tmp`, 0, new TextEncoder().encode("{half"));
    expect(readQuorumState(fs, path)).toEqual(voted);
    expect(fs.exists(`${path}.tmp`)).toBe(false);
  });
});

describe("crash behaviour", () => {
  test("after a crash at any point the file holds the old state or the new one", () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const fs = freshFs(seed);
      const old: QuorumStateData = { leaderEpoch: 3, leaderId: 1, votedId: -1, votedDirectoryId: emptyQuorumState.votedDirectoryId };
      writeQuorumState(fs, path, old);
      // A second write, possibly failing part way (torn write or failed fsync), then power loss.
      const fault = seed % 3;
      if (fault === 1) fs.failNext("append", "EIO");
      if (fault === 2) fs.failNext("fsync", "EIO");
      let wrote = false;
      try {
        writeQuorumState(fs, path, voted);
        wrote = true;
      } catch {
        // the write failed: the old state must still be there
      }
      fs.crash();
      const after = readQuorumState(fs, path);
      if (wrote) expect(after).toEqual(voted);
      else expect(after).toEqual(old);
      seen.add(`${fault}:${wrote}`);
    }
    expect(seen).toEqual(new Set(["0:true", "1:false", "2:false"]));
  });

  test("a state written and then crashed before any other write is never lost", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const fs = freshFs(seed);
      writeQuorumState(fs, path, voted);
      fs.crash();
      expect(readQuorumState(fs, path)).toEqual(voted);
    }
  });
});
