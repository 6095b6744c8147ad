/**
 * The Raft layer's public surface (KRaft: the controller quorum over `__cluster_metadata-0`).
 *
 * - `RaftCore` (raft-core.ts): the sans-I/O node — `open`, `tick`, `receive`, `propose`,
 *   `takeOutputs`, `describeQuorum`, `nextDeadlineMs`, `resign`.
 * - Messages (messages.ts): typed structs mirroring Kafka's Vote, BeginQuorumEpoch,
 *   EndQuorumEpoch, Fetch and DescribeQuorum fields, for a driver to map onto the codecs.
 * - `RaftLog` / `PartitionRaftLog` (raft-log.ts): the Raft log on the project's PartitionLog.
 * - The quorum-state file (quorum-state.ts), roles and their transition table (roles.ts),
 *   settings with Kafka's property names (config.ts).
 */
export { RaftAssertionError } from "./assert.ts";
export { defaultRaftConfig, type RaftConfig, raftConfigFromProperties, raftConfigProblem, raftConfigProperties } from "./config.ts";
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
export { metadataPartition, metadataTopic, type OpenRaftLogOptions, PartitionRaftLog, type RaftLog, raftLogConfig } from "./raft-log.ts";
export { type ProposeResult, RaftCore, type RaftCoreOptions, type RaftOutput, type RoleView } from "./raft-core.ts";
export { type RoleKind, type RoleSummary, transitionProblem } from "./roles.ts";
