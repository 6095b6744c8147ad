/**
 * The Raft layer's public surface (KRaft: the controller quorum over `__cluster_metadata-0`).
 *
 * - `RaftCore` (raft-core.ts): the sans-I/O node — `open`, `tick`, `receive`, `propose`,
 *   `takeOutputs`, `describeQuorum`, `nextDeadlineMs`, `resign`.
 * - Messages (messages.ts): typed structs mirroring Kafka's Vote, BeginQuorumEpoch,
 *   EndQuorumEpoch, Fetch, FetchSnapshot and DescribeQuorum fields, for a driver to map onto
 *   the codecs (FetchSnapshot's mapping: wire-snapshot.ts).
 * - Snapshots (snapshot.ts): the `<offset>-<epoch>.checkpoint` files beside the log, and
 *   `shouldSnapshot` (config.ts) for the state machine deciding when to take one.
 * - `RaftLog` / `PartitionRaftLog` (raft-log.ts): the Raft log on the project's PartitionLog.
 * - The quorum-state file (quorum-state.ts), roles and their transition table (roles.ts),
 *   settings with Kafka's property names (config.ts).
 */
export { RaftAssertionError } from "./assert.ts";
export { defaultRaftConfig, type RaftConfig, raftConfigFromProperties, raftConfigProblem, raftConfigProperties, shouldSnapshot } from "./config.ts";
export { decodeLeaderChange, encodeLeaderChange, type LeaderChange, leaderChangeBatch } from "./leader-change.ts";
export type * from "./messages.ts";
export { replicaKeyText, sameReplica } from "./messages.ts";
export {
  emptyQuorumState,
  type QuorumStateData,
  QuorumStateError,
  quorumStateFileName,
  quorumStatePath,
  readQuorumState,
  writeQuorumState,
} from "./quorum-state.ts";
export { metadataPartition, metadataTopic, type OpenRaftLogOptions, PartitionRaftLog, type RaftLog, raftLogConfig, type RetentionPolicy } from "./raft-log.ts";
export { type CreateSnapshotResult, type ProposeResult, RaftCore, type RaftCoreOptions, type RaftOutput, type RoleView } from "./raft-core.ts";
export { SnapshotError, snapshotFileName, type SnapshotId, SnapshotStore } from "./snapshot.ts";
export { fetchSnapshotRequestFromWire, fetchSnapshotRequestToWire, fetchSnapshotResponseFromWire, fetchSnapshotResponseToWire } from "./wire-snapshot.ts";
export { type RoleKind, type RoleSummary, transitionProblem } from "./roles.ts";
