/**
 * The disk monitor's log lines (storage/disk-monitor.ts): one per level crossing of a log dir,
 * with the dir, the figures and the action; one per cleanup that freed something. Kept out of
 * node.ts so the wiring there is one line.
 */
import type { DiskCrossing, DiskUsage } from "../storage/disk-monitor.ts";
import type { LogManagerOptions } from "../storage/log-manager.ts";
import type { Logger } from "../util/log.ts";

function figures(u: DiskUsage | null): Record<string, number> {
  if (u === null) return {};
  return { usagePercent: Math.round(u.usageRatio * 1000) / 10, usedBytes: u.usedBytes, availableBytes: u.availableBytes, totalBytes: u.totalBytes };
}

export function diskMonitorLogging(log: Logger): Pick<LogManagerOptions, "onDiskCrossing" | "onDiskCleanup"> {
  const disk = log.child({ component: "disk" });
  return {
    onDiskCrossing: (c: DiskCrossing) => {
      const fields = { dir: c.dir, from: c.from, to: c.to, ...figures(c.usage), action: c.action };
      const up = ["normal", "alert", "cleanup", "reject"].indexOf(c.to) > ["normal", "alert", "cleanup", "reject"].indexOf(c.from);
      if (c.to === "reject") disk.error("log dir usage crossed a threshold", fields);
      else if (up) disk.warn("log dir usage crossed a threshold", fields);
      else disk.info("log dir usage crossed a threshold", fields);
    },
    onDiskCleanup: (dir: string, bytesFreed: number, usage: DiskUsage | null) => {
      if (bytesFreed > 0) disk.info("log dir cleanup", { dir, bytesFreed, ...figures(usage) });
    },
  };
}
