/** Shared test setup: a partition log on the simulated or the real filesystem. */
import { SimClock } from "../../src/platform/clock.ts";
import type { FileSystem } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { defaultLogConfig, type LogConfig } from "../../src/storage/config.ts";
import { FileCache } from "../../src/storage/file-cache.ts";
import { LogDirHealth, PartitionLog, type PartitionLogOptions } from "../../src/storage/partition-log.ts";

export interface LogEnv {
  fs: FileSystem;
  clock: SimClock;
  files: FileCache;
  health: LogDirHealth;
  dir: string;
  config: LogConfig;
}

export function simEnv(seed = 1, config: Partial<LogConfig> = {}): LogEnv & { sim: SimFileSystem } {
  const clock = new SimClock();
  const sim = new SimFileSystem(new SeededPrng(seed), clock);
  return {
    sim,
    fs: sim,
    clock,
    files: new FileCache(sim, 64),
    health: new LogDirHealth("/data", 1000),
    dir: "/data/topic-0",
    config: { ...defaultLogConfig, ...config },
  };
}

export function openLog(env: LogEnv, over: Partial<PartitionLogOptions> = {}): PartitionLog {
  return PartitionLog.open({
    fs: env.fs,
    clock: env.clock,
    dir: env.dir,
    topicPartition: { topic: "topic", partition: 0 },
    config: env.config,
    files: env.files,
    health: env.health,
    recoveryPoint: 0,
    logStartOffset: 0,
    highWatermark: 0,
    hadCleanShutdown: false,
    ...over,
  });
}
