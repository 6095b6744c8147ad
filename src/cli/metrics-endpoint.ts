/**
 * The broker's Prometheus endpoint (`metrics.listener`): Bun.serve (src/platform/bun/http.ts)
 * rendering server/metrics/collect.ts at every scrape, plus the scheduled-backup status,
 * which only the entry point can see (backup/ and server/ may not import each other).
 * Started before the broker's ready line, so whoever reads that line may scrape at once;
 * stopped by the broker's shutdown hooks.
 */
import type { ScheduleState } from "../backup/schedule.ts";
import { serveText, type TextEndpoint } from "../platform/bun/http.ts";
import { formatHostPort } from "../platform/network.ts";
import type { BrokerConfig } from "../server/config.ts";
import { collectMetrics } from "../server/metrics/collect.ts";
import { MetricsWriter, metricsContentType } from "../server/metrics/text.ts";
import type { Node } from "../server/node.ts";

const backupKinds = ["idle", "running", "stopped"] as const;

/** The backup schedule's figures (nothing when scheduled backups are off). */
export function backupMetrics(state: () => ScheduleState): (w: MetricsWriter) => void {
  return (w) => {
    const s = state();
    w.family("bunka_backup_state", "gauge", "The backup schedule's state (1 for the current one).", backupKinds.map((k) => ({ labels: { state: k }, value: s.kind === k ? 1 : 0 })));
    w.counter("bunka_backup_runs_total", "Scheduled backup runs.", s.runs);
    w.counter("bunka_backup_failures_total", "Scheduled backup runs that failed.", s.failures);
    w.gauge("bunka_backup_consecutive_failures", "Scheduled backup runs that failed since the last success.", s.consecutiveFailures);
    w.gauge("bunka_backup_last_success_timestamp_seconds", "When the last scheduled backup succeeded (Unix seconds; 0: never).", s.lastSuccessMs === null ? 0 : s.lastSuccessMs / 1000);
    w.gauge("bunka_backup_last_duration_seconds", "How long the last successful backup took (0: none yet).", (s.lastDurationMs ?? 0) / 1000);
    w.gauge("bunka_backup_last_stored_bytes", "Bytes the last successful backup wrote to data files.", s.lastStoredBytes ?? 0);
    w.counter("bunka_backup_removed_total", "Backups removed by retention.", s.removedBackups);
  };
}

/** Starts the endpoint when `metrics.listener` is set; returns its URL, or null when off. */
export async function startMetricsEndpoint(node: Node, config: BrokerConfig, backupState: (() => ScheduleState) | null): Promise<string | null> {
  const listener = config.get("metrics.listener");
  if (listener === null) return null;
  const services = await node.ready;
  const { broker } = node;
  const log = broker.log.child({ component: "metrics" });
  const extra = backupState === null ? [] : [backupMetrics(backupState)];
  const sources = { nodeId: broker.nodeId, services, server: broker.server.probe, logDirs: broker.logDirs, extra };
  let endpoint: TextEndpoint;
  try {
    endpoint = serveText({
      host: listener.host,
      port: listener.port,
      path: listener.path,
      contentType: metricsContentType,
      render: () => {
        const w = new MetricsWriter();
        collectMetrics(w, sources);
        return w.text();
      },
      onError: (error) => log.error("metrics rendering failed", { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    });
  } catch (error) {
    throw new Error(`metrics.listener ${formatHostPort(listener.host, listener.port)}: cannot listen (${error instanceof Error ? error.message : String(error)})`);
  }
  broker.addShutdownHook("metrics endpoint", () => endpoint.stop());
  const url = `http://${formatHostPort(endpoint.host, endpoint.port)}${listener.path}`;
  log.info("metrics endpoint listening", { url });
  return url;
}
