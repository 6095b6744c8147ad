/**
 * What a scrape of `metrics.listener` renders: counters from the probes (server/probe.ts,
 * metrics/broker-probe.ts, replication/probe.ts, the disk monitor's stats) and gauges read
 * from the broker's state at scrape time (partitions, the metadata image, the quorum, the
 * group coordinator). Nothing here runs on the request path.
 *
 * Names follow the Prometheus JMX exporter's rendering of Kafka's MBeans where Kafka has the
 * metric (`kafka_server_replicamanager_underreplicatedpartitions`, ...; counters end in
 * `_total`), so existing Kafka dashboards find them; bunka's own figures are `bunka_*`.
 * Consumer lag follows kafka-exporter's `kafka_consumergroup_lag`. Per-partition families
 * cover the partitions this node hosts; lag covers the groups this node coordinates whose
 * partitions it also leads (the high watermark is read locally, never over the network).
 */
import type { ServerProbe } from "../probe.ts";
import type { BrokerServices } from "../services.ts";
import type { Labels, MetricsWriter } from "./text.ts";
import type { RequestCounters, TopicCounters } from "./broker-probe.ts";

export interface MetricsSources {
  readonly nodeId: number;
  readonly services: BrokerServices;
  readonly server: ServerProbe;
  readonly logDirs: readonly string[];
  /** Figures written after the broker's own (backup schedule status, from the entry point). */
  readonly extra?: readonly ((w: MetricsWriter) => void)[];
}

type Sample = { labels?: Labels; value: number };

const raftRoles = ["unattached", "prospective", "candidate", "leader", "follower", "resigned"] as const;
const diskLevels = ["normal", "alert", "cleanup", "reject"] as const;

export function collectMetrics(w: MetricsWriter, src: MetricsSources): void {
  collectReplicas(w, src);
  collectController(w, src);
  collectTopics(w, src);
  collectRequests(w, src);
  collectGroups(w, src);
  collectQuorum(w, src);
  collectDisks(w, src);
  collectServer(w, src.server);
  for (const extra of src.extra ?? []) extra(w);
}

function collectReplicas(w: MetricsWriter, { services }: MetricsSources): void {
  const partitions = services.replicas.partitions();
  let leaders = 0;
  let underReplicated = 0;
  let underMinIsr = 0;
  const size: Sample[] = [];
  const endOffset: Sample[] = [];
  const startOffset: Sample[] = [];
  const hw: Sample[] = [];
  for (const p of partitions) {
    const s = p.state;
    if (s.kind === "leader") {
      leaders++;
      if (s.isr.length < s.replicas.length) underReplicated++;
      if (s.isr.length < p.config.minInsyncReplicas) underMinIsr++;
    }
    if (p.log.closed) continue;
    const labels = { topic: p.topic, partition: p.partition };
    size.push({ labels, value: p.log.sizeBytes() });
    endOffset.push({ labels, value: p.log.logEndOffset });
    startOffset.push({ labels, value: p.log.logStartOffset });
    hw.push({ labels, value: p.log.highWatermark });
  }
  w.gauge("kafka_server_replicamanager_partitioncount", "Partitions hosted by this broker (leader or follower).", partitions.length);
  w.gauge("kafka_server_replicamanager_leadercount", "Partitions this broker leads.", leaders);
  w.gauge("kafka_server_replicamanager_underreplicatedpartitions", "Partitions led here whose ISR is smaller than their replica set.", underReplicated);
  w.gauge("kafka_server_replicamanager_underminisrpartitioncount", "Partitions led here whose ISR is below min.insync.replicas (acks=all produces fail).", underMinIsr);
  w.counter("kafka_server_replicamanager_isrshrinks_total", "ISR shrinks of partitions led here.", services.replicas.probe.isrShrinks);
  w.counter("kafka_server_replicamanager_isrexpands_total", "ISR expansions of partitions led here.", services.replicas.probe.isrExpands);
  w.family("kafka_log_log_size", "gauge", "Bytes of a hosted partition's log segments.", size);
  w.family("kafka_log_log_logendoffset", "gauge", "A hosted partition's log end offset.", endOffset);
  w.family("kafka_log_log_logstartoffset", "gauge", "A hosted partition's log start offset.", startOffset);
  w.family("bunka_partition_high_watermark", "gauge", "A hosted partition's high watermark as this broker knows it.", hw);
}

function collectController(w: MetricsWriter, { services, nodeId }: MetricsSources): void {
  const image = services.metadata.image;
  const active = services.cluster === undefined ? true : services.cluster.quorum.isActiveController();
  let offline = 0;
  let partitions = 0;
  let imbalance = 0;
  for (const topic of image.topicsByName.values()) {
    for (const p of topic.partitions) {
      partitions++;
      if (p.leader < 0) offline++;
      else if (p.replicas[0] !== p.leader) imbalance++;
    }
  }
  let fenced = 0;
  for (const b of image.brokers.values()) if (b.fenced) fenced++;
  // As Kafka: only the active controller reports the cluster-wide figures; the others say 0.
  const ifActive = (v: number): number => (active ? v : 0);
  w.gauge("kafka_controller_kafkacontroller_activecontrollercount", "1 on the active controller, else 0.", active ? 1 : 0);
  w.gauge("kafka_controller_kafkacontroller_offlinepartitionscount", "Partitions without a leader (active controller only).", ifActive(offline));
  w.gauge("kafka_controller_kafkacontroller_preferredreplicaimbalancecount", "Partitions whose leader is not their first replica (active controller only).", ifActive(imbalance));
  w.gauge("kafka_controller_kafkacontroller_globaltopiccount", "Topics in the cluster (active controller only).", ifActive(image.topicsByName.size));
  w.gauge("kafka_controller_kafkacontroller_globalpartitioncount", "Partitions in the cluster (active controller only).", ifActive(partitions));
  w.gauge("kafka_controller_kafkacontroller_fencedbrokercount", "Registered brokers that are fenced (active controller only).", ifActive(fenced));
  w.gauge("kafka_controller_kafkacontroller_activebrokercount", "Registered brokers that are not fenced (active controller only).", ifActive(image.brokers.size - fenced));
  const self = image.brokers.get(nodeId);
  w.gauge("bunka_broker_fenced", "1 while this broker is fenced or not registered, else 0.", self === undefined || self.fenced ? 1 : 0);
  w.gauge("bunka_metadata_image_offset", "Offset of the metadata log this broker's image reflects.", image.offset);
}

function collectTopics(w: MetricsWriter, { services }: MetricsSources): void {
  const probe = services.probe;
  if (probe === undefined) return;
  const image = services.metadata.image;
  probe.retainTopics((t) => image.topicsByName.has(t));
  const family = (name: string, help: string, pick: (c: TopicCounters) => number): void => {
    const samples: Sample[] = [{ value: pick(probe.all) }];
    for (const [topic, c] of probe.topics) samples.push({ labels: { topic }, value: pick(c) });
    w.family(name, "counter", help, samples);
  };
  family("kafka_server_brokertopicmetrics_bytesin_total", "Record bytes produced to this broker (no topic label: all topics).", (c) => c.bytesIn);
  family("kafka_server_brokertopicmetrics_messagesin_total", "Records produced to this broker.", (c) => c.messagesIn);
  family("kafka_server_brokertopicmetrics_bytesout_total", "Record bytes fetched by consumers from this broker.", (c) => c.bytesOut);
  family("kafka_server_brokertopicmetrics_replicationbytesout_total", "Record bytes fetched by follower replicas from this broker.", (c) => c.replicationBytesOut);
  family("kafka_server_brokertopicmetrics_totalproducerequests_total", "Partition produces handled (one per partition of a Produce request).", (c) => c.produceRequests);
  family("kafka_server_brokertopicmetrics_totalfetchrequests_total", "Partition fetches handled (one per partition of a Fetch request).", (c) => c.fetchRequests);
}

function collectRequests(w: MetricsWriter, { services }: MetricsSources): void {
  const probe = services.probe;
  if (probe === undefined) return;
  const names = [...probe.requests.keys()].sort();
  const samples = (pick: (c: RequestCounters) => number): Sample[] =>
    names.map((request) => ({ labels: { request }, value: pick(probe.requests.get(request)!) }));
  w.family("kafka_network_requestmetrics_requests_total", "counter", "Requests handled, by API.", samples((c) => c.requests));
  w.family("kafka_network_requestmetrics_errors_total", "counter", "Requests whose handling failed (the connection was closed), by API.", samples((c) => c.errors));
  w.histogram(
    "kafka_network_requestmetrics_totaltimems",
    "Time from a request's decoding to its response being ready, milliseconds, by API.",
    names.map((request) => ({ labels: { request }, histogram: probe.requests.get(request)!.totalTimeMs })),
  );
}

function collectGroups(w: MetricsWriter, { services }: MetricsSources): void {
  const groups = services.groups;
  const lag: Sample[] = [];
  const current: Sample[] = [];
  if (groups !== undefined) {
    for (const shard of groups.ownedPartitions()) {
      for (const [group, offsets] of groups.offsetsSnapshot(shard)) {
        for (const [key, value] of offsets) {
          const dash = key.lastIndexOf("-");
          const topic = key.slice(0, dash);
          const partition = Number(key.slice(dash + 1));
          const labels = { group, topic, partition };
          current.push({ labels, value: value.offset });
          const p = services.replicas.getPartition(topic, partition);
          if (p !== undefined && p.isLeader && !p.log.closed) lag.push({ labels, value: Math.max(0, p.log.highWatermark - value.offset) });
        }
      }
    }
  }
  w.family("kafka_consumergroup_current_offset", "gauge", "A group's committed offset of a partition (groups coordinated here).", current);
  w.family("kafka_consumergroup_lag", "gauge", "High watermark minus committed offset (groups coordinated here, partitions led here).", lag);
}

function collectQuorum(w: MetricsWriter, { services }: MetricsSources): void {
  const cluster = services.cluster;
  if (cluster === undefined) return;
  const { core, store, log } = cluster.quorum;
  const role = core.role;
  w.family("bunka_raft_role", "gauge", "This node's role in the metadata quorum (1 for the current one).", raftRoles.map((r) => ({ labels: { role: r }, value: role.kind === r ? 1 : 0 })));
  w.gauge("bunka_raft_epoch", "Current epoch of the metadata quorum.", core.epoch);
  w.gauge("bunka_raft_leader_id", "Quorum leader as this node knows it (-1: none).", core.leaderId);
  w.gauge("bunka_raft_high_watermark", "The metadata log's high watermark (committed end) as this node knows it.", core.highWatermark);
  w.gauge("bunka_raft_log_end_offset", "End of this node's copy of the metadata log.", log.logEndOffset);
  w.gauge("bunka_raft_applied_offset", "Metadata log offset this node has applied to its image.", store.appliedOffset);
  w.gauge("bunka_raft_commit_lag", "Metadata records this node has that are not committed yet (log end minus high watermark).", Math.max(0, log.logEndOffset - core.highWatermark));
  w.gauge("bunka_raft_apply_lag", "Committed metadata records this node has not applied yet.", Math.max(0, store.highWatermark - store.appliedOffset));
}

function collectDisks(w: MetricsWriter, { services, logDirs }: MetricsSources): void {
  const disk = services.logs.disk;
  const usage = logDirs.map((dir) => ({ dir, u: disk.usage(dir), level: disk.space(dir).level }));
  const sampled = usage.filter((x) => x.u !== null);
  w.family("bunka_log_dir_usage_ratio", "gauge", "Used fraction of a log dir's filesystem at the last sample.", sampled.map((x) => ({ labels: { dir: x.dir }, value: x.u!.usageRatio })));
  w.family("bunka_log_dir_available_bytes", "gauge", "Bytes available to the broker in a log dir's filesystem at the last sample.", sampled.map((x) => ({ labels: { dir: x.dir }, value: x.u!.availableBytes })));
  w.family("bunka_log_dir_total_bytes", "gauge", "Size of a log dir's filesystem at the last sample.", sampled.map((x) => ({ labels: { dir: x.dir }, value: x.u!.totalBytes })));
  w.family("bunka_log_dir_level", "gauge", "A log dir's space level (1 for the current one): alert, cleanup and reject thresholds crossed.", usage.flatMap((x) => diskLevels.map((level) => ({ labels: { dir: x.dir, level }, value: x.level === level ? 1 : 0 }))));
  const t = disk.thresholds;
  w.family("bunka_log_dir_threshold_ratio", "gauge", "Usage ratios at which log dirs alert, clean up and reject writes.", [
    { labels: { threshold: "alert" }, value: t.alertUsageRatio },
    { labels: { threshold: "cleanup" }, value: t.cleanupUsageRatio },
    { labels: { threshold: "reject" }, value: t.rejectUsageRatio },
  ]);
  w.gauge("bunka_log_dir_min_free_bytes", "Below this many available bytes a log dir rejects writes.", t.minFreeBytes);
  w.counter("bunka_disk_monitor_samples_total", "Filesystem samples taken.", disk.stats.samples);
  w.counter("bunka_disk_monitor_statfs_errors_total", "Filesystem samples that failed.", disk.stats.statfsErrors);
  w.counter("bunka_disk_monitor_crossings_total", "Space level changes of log dirs.", disk.stats.crossings);
  w.counter("bunka_disk_monitor_cleanups_total", "Cleanup runs started by a full log dir.", disk.stats.cleanups);
  w.counter("bunka_disk_monitor_cleanup_freed_bytes_total", "Bytes freed by those cleanup runs.", disk.stats.cleanupBytesFreed);
}

function collectServer(w: MetricsWriter, p: ServerProbe): void {
  w.gauge("bunka_server_connections_open", "Client connections open now.", p.connectionsOpen);
  w.counter("bunka_server_connections_accepted_total", "Connections accepted.", p.connectionsAccepted);
  w.counter("bunka_server_connections_rejected_total", "Connections refused at accept (limits, shutting down).", p.connectionsRejected);
  w.counter("bunka_server_connections_closed_total", "Connections closed.", p.connectionsClosed);
  w.counter("bunka_server_requests_received_total", "Request frames received.", p.requestsReceived);
  w.counter("bunka_server_responses_sent_total", "Responses written.", p.responsesSent);
  w.counter("bunka_server_received_bytes_total", "Bytes read from client sockets.", p.bytesIn);
  w.counter("bunka_server_sent_bytes_total", "Bytes written to client sockets.", p.bytesOut);
  w.counter("bunka_server_frame_errors_total", "Frames with a negative or oversized size.", p.frameErrors);
  w.counter("bunka_server_handler_errors_total", "Handlers that failed.", p.handlerErrors);
  w.counter("bunka_server_idle_closed_total", "Connections closed for idleness.", p.idleClosed);
}
