/**
 * The LEADER_CHANGE control record a new leader appends at the start of its epoch. Raft
 * commits a leader's records by counting replicas only for records of its own epoch; this
 * record gives every epoch one at once, so the high watermark moves as soon as a majority
 * has it (and with it everything before it).
 *
 * Batch: one record, control + no compression, partitionLeaderEpoch = the epoch (set by the
 * log on append). Key (4 bytes, big-endian): version int16 0 | type int16 2 (LEADER_CHANGE).
 * Value: Kafka's LeaderChangeMessage, version 0, flexible encoding:
 *   version int16 (0) | leaderId int32
 *   | voters:         uvarint(n + 1), n × (voterId int32, uvarint 0 = no tagged fields)
 *   | grantingVoters: uvarint(n + 1), n × (voterId int32, uvarint 0)
 *   | uvarint 0 (no tagged fields)
 */
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { ControlRecordType } from "../protocol/records/control-record.ts";
import { assert } from "./assert.ts";

export interface LeaderChange {
  readonly leaderId: number;
  readonly voters: readonly number[];
  readonly grantingVoters: readonly number[];
}

function writeI32(out: number[], v: number): void {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function writeUvarint(out: number[], v: number): void {
  let x = v;
  while (x >= 0x80) {
    out.push((x & 0x7f) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
}

export function encodeLeaderChange(m: LeaderChange): Uint8Array {
  const out: number[] = [0, 0];
  writeI32(out, m.leaderId);
  for (const list of [m.voters, m.grantingVoters]) {
    writeUvarint(out, list.length + 1);
    for (const id of list) {
      writeI32(out, id);
      writeUvarint(out, 0);
    }
  }
  writeUvarint(out, 0);
  return Uint8Array.from(out);
}

export function decodeLeaderChange(value: Uint8Array): LeaderChange | null {
  let p = 0;
  const i32 = (): number | null => {
    if (p + 4 > value.length) return null;
    const v = (value[p]! << 24) | (value[p + 1]! << 16) | (value[p + 2]! << 8) | value[p + 3]!;
    p += 4;
    return v;
  };
  const uvarint = (): number | null => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= value.length) return null;
      const b = value[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    return null;
  };
  if (value.length < 2 || value[0] !== 0 || value[1] !== 0) return null;
  p = 2;
  const leaderId = i32();
  if (leaderId === null) return null;
  const lists: number[][] = [];
  for (let l = 0; l < 2; l++) {
    const n = uvarint();
    if (n === null || n < 1 || n - 1 > value.length) return null;
    const ids: number[] = [];
    for (let i = 0; i < n - 1; i++) {
      const id = i32();
      if (id === null || uvarint() !== 0) return null;
      ids.push(id);
    }
    lists.push(ids);
  }
  if (uvarint() !== 0 || p !== value.length) return null;
  return { leaderId, voters: lists[0]!, grantingVoters: lists[1]! };
}

/** The control batch carrying `m` (offsets and epoch are assigned by the leader's append). */
export function leaderChangeBatch(m: LeaderChange, timestampMs: number): Uint8Array {
  assert(m.grantingVoters.every((id) => m.voters.includes(id)), "granting voters must be voters");
  const key = Uint8Array.of(0, 0, 0, ControlRecordType.LEADER_CHANGE);
  return buildRecordBatch([{ key, value: encodeLeaderChange(m), timestamp: timestampMs }], { isControl: true });
}
