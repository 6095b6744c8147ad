/**
 * ReplicaManager: the partitions this broker hosts and the data path over them (produce,
 * fetch, offsets). Being written now; this placeholder keeps the service types compiling.
 */
export class ReplicaManager {}
