/**
 * DescribeLogDirs (key 35), v0–v4: each configured log dir, whether it is online, and the
 * size of each hosted partition (optionally only the requested ones). Total/usable bytes
 * (v4) are the disk monitor's last sample of the dir's filesystem (-1 before the first).
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultDescribeLogDirsPartition,
  defaultDescribeLogDirsResponse,
  defaultDescribeLogDirsResult,
  defaultDescribeLogDirsTopic,
  type DescribeLogDirsTopic,
} from "../../protocol/messages/describe-log-dirs-response.ts";
import { defineHandler } from "./handler.ts";

export const describeLogDirsHandler = defineHandler({
  apiKey: ApiKeys.DescribeLogDirs,
  minVersion: 0,
  maxVersion: 4,
  handle(request, ctx) {
    const { services } = ctx;
    const image = services.metadata.image;
    const wanted = request.topics === null ? null : new Map(request.topics.map((t) => [t.topic, new Set(t.partitions)]));
    const results = services.logs.logDirs().map((dir) => {
      const topics = new Map<string, DescribeLogDirsTopic>();
      for (const topic of image.topicsByName.values()) {
        const want = wanted?.get(topic.name);
        if (wanted !== null && want === undefined) continue;
        for (const p of topic.partitions) {
          if (want !== undefined && !want.has(p.partition)) continue;
          const log = services.logs.getLog({ topic: topic.name, partition: p.partition });
          if (log === null || !log.dir.startsWith(`${dir.path}/`)) continue;
          let entry = topics.get(topic.name);
          if (entry === undefined) topics.set(topic.name, (entry = { ...defaultDescribeLogDirsTopic(), name: topic.name, partitions: [] }));
          entry.partitions.push({ ...defaultDescribeLogDirsPartition(), partitionIndex: p.partition, partitionSize: log.sizeBytes(), offsetLag: 0, isFutureKey: false });
        }
      }
      return {
        ...defaultDescribeLogDirsResult(),
        errorCode: dir.online ? ErrorCode.NONE : ErrorCode.KAFKA_STORAGE_ERROR,
        logDir: dir.path,
        topics: [...topics.values()],
        totalBytes: dir.totalBytes,
        usableBytes: dir.usableBytes,
      };
    });
    return { ...defaultDescribeLogDirsResponse(), results };
  },
});
