/** Snapshot settings (config.ts): Kafka's names and defaults, parsing, and shouldSnapshot. */
import { expect, test } from "bun:test";
import { defaultRaftConfig, raftConfigFromProperties, shouldSnapshot } from "../../src/raft/config.ts";

test("snapshot and retention settings: Kafka's names and defaults; -1 means no limit for retention", () => {
  expect(defaultRaftConfig).toMatchObject({ snapshotRecordBytesBetween: 20971520, snapshotIntervalMs: 3600000, retentionBytes: 104857600, retentionMs: 604800000 });
  const r = raftConfigFromProperties(
    new Map([
      ["metadata.log.max.record.bytes.between.snapshots", "4096"],
      ["metadata.log.max.snapshot.interval.ms", "0"],
      ["metadata.max.retention.bytes", "-1"],
      ["metadata.max.retention.ms", "60000"],
    ]),
  );
  expect(r).toMatchObject({ ok: true, config: { snapshotRecordBytesBetween: 4096, snapshotIntervalMs: 0, retentionBytes: -1, retentionMs: 60000 } });
  expect(raftConfigFromProperties(new Map([["metadata.log.max.record.bytes.between.snapshots", "0"]])).ok).toBe(false);
  expect(raftConfigFromProperties(new Map([["metadata.log.max.snapshot.interval.ms", "-5"]])).ok).toBe(false);
  expect(raftConfigFromProperties(new Map([["metadata.max.retention.bytes", "-2"]])).ok).toBe(false);
});

test("shouldSnapshot: enough bytes applied, or something applied and the interval passed", () => {
  const c = { snapshotRecordBytesBetween: 1000, snapshotIntervalMs: 5000 };
  expect(shouldSnapshot(c, 0, 10_000)).toBe(false);
  expect(shouldSnapshot(c, 999, 4999)).toBe(false);
  expect(shouldSnapshot(c, 1000, 0)).toBe(true);
  expect(shouldSnapshot(c, 1, 5000)).toBe(true);
  expect(shouldSnapshot({ ...c, snapshotIntervalMs: 0 }, 1, 1e9)).toBe(false);
});
