/**
 * Control records: the single record of a control batch (attributes bit 5). Transaction
 * markers (ABORT/COMMIT) are the ones the broker writes and reads; KRaft's other control
 * types are recognised by number only.
 *
 * Key   (big-endian): version int16 (0) | type int16 (0 ABORT, 1 COMMIT, 2 LEADER_CHANGE,
 *                     3 SNAPSHOT_HEADER, 4 SNAPSHOT_FOOTER, 5 KRAFT_VERSION, 6 KRAFT_VOTERS)
 * Value (markers):     version int16 (0) | coordinatorEpoch int32
 *
 * Invariants: version 0 keys/values must have exactly these sizes; a newer version may carry
 * trailing fields, which are ignored (forward compatibility, as Kafka does); anything shorter,
 * or a negative version, is RecordsError "badControlRecord".
 */
import { RecordsError } from "./records-error.ts";

export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;
export type ControlRecordTypeId = (typeof ControlRecordType)[keyof typeof ControlRecordType];

const keyBytes = 4;
const markerValueBytes = 6;
const currentVersion = 0;

export interface ControlRecordKey {
  version: number;
  /** A ControlRecordType value, or an unknown type number from a newer peer. */
  type: number;
}

export interface EndTxnMarker {
  type: "ABORT" | "COMMIT";
  coordinatorEpoch: number;
}

function readI16(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16;
}

function readI32(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

function checkVersioned(bytes: Uint8Array, size: number, what: string): number {
  if (bytes.length < size) throw new RecordsError("badControlRecord", `${what} of ${bytes.length} bytes, needs ${size}`);
  const version = readI16(bytes, 0);
  if (version < 0) throw new RecordsError("badControlRecord", `${what} version ${version}`);
  if (version === currentVersion && bytes.length !== size) {
    throw new RecordsError("badControlRecord", `${what} version 0 of ${bytes.length} bytes, expected ${size}`);
  }
  return version;
}

export function parseControlRecordKey(key: Uint8Array | null): ControlRecordKey {
  if (key === null) throw new RecordsError("badControlRecord", "control record with a null key");
  const version = checkVersioned(key, keyBytes, "control record key");
  return { version, type: readI16(key, 2) };
}

/** The marker in a transaction control record; RecordsError for other control types. */
export function parseEndTxnMarker(key: Uint8Array | null, value: Uint8Array | null): EndTxnMarker {
  const { type } = parseControlRecordKey(key);
  if (type !== ControlRecordType.ABORT && type !== ControlRecordType.COMMIT) {
    throw new RecordsError("badControlRecord", `control type ${type} is not a transaction marker`);
  }
  if (value === null) throw new RecordsError("badControlRecord", "transaction marker with a null value");
  checkVersioned(value, markerValueBytes, "transaction marker value");
  return { type: type === ControlRecordType.ABORT ? "ABORT" : "COMMIT", coordinatorEpoch: readI32(value, 2) };
}

export function controlRecordKey(type: number): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0x7fff) throw new RangeError(`control record type ${type}`);
  return new Uint8Array([0, currentVersion, type >>> 8, type & 0xff]);
}

/** Key and value of a transaction marker record. */
export function endTxnMarkerRecord(marker: EndTxnMarker): { key: Uint8Array; value: Uint8Array } {
  const e = marker.coordinatorEpoch;
  if (!Number.isInteger(e) || e < -0x8000_0000 || e > 0x7fff_ffff) throw new RangeError(`coordinatorEpoch ${e}`);
  const type = marker.type === "ABORT" ? ControlRecordType.ABORT : ControlRecordType.COMMIT;
  const value = new Uint8Array([0, currentVersion, (e >>> 24) & 0xff, (e >>> 16) & 0xff, (e >>> 8) & 0xff, e & 0xff]);
  return { key: controlRecordKey(type), value };
}
