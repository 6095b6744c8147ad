/** Topic config changes reach live partition logs without a restart. */
import { expect, test } from "bun:test";
import { alterConfigs, ConfigOp } from "../../src/metadata/controller.ts";
import { handlers } from "../../src/server/handlers/index.ts";
import { startTestBroker } from "../server/harness.ts";

test("AlterConfigs of segment.bytes, retention.ms and max.message.bytes updates the open log", async () => {
  const b = await startTestBroker({ handlers });
  try {
    await b.createTopic("t", 2);
    const before = b.logs.getLog({ topic: "t", partition: 1 })!.config;
    expect(before.retentionMs).toBe(7 * 24 * 3600 * 1000);
    const [result] = await b.metadata.submit((ctx) =>
      alterConfigs(
        ctx,
        [
          {
            resourceType: "topic",
            resourceName: "t",
            incremental: true,
            ops: [
              { name: "segment.bytes", op: ConfigOp.SET, value: "1048576" },
              { name: "retention.ms", op: ConfigOp.SET, value: "60000" },
              { name: "max.message.bytes", op: ConfigOp.SET, value: "2000" },
            ],
          },
        ],
        false,
        { check: () => null, checkSet: () => null, isList: () => false },
        b.nodeId,
      ),
    );
    expect(result?.errorCode).toBe(0);
    for (const partition of [0, 1]) {
      const config = b.logs.getLog({ topic: "t", partition })!.config;
      expect(config.segmentBytes).toBe(1048576);
      expect(config.retentionMs).toBe(60000);
      expect(config.maxMessageBytes).toBe(2000);
    }
    // Deleting the override returns to the broker default.
    await b.metadata.submit((ctx) =>
      alterConfigs(ctx, [{ resourceType: "topic", resourceName: "t", incremental: true, ops: [{ name: "retention.ms", op: ConfigOp.DELETE, value: null }] }], false, { check: () => null, checkSet: () => null, isList: () => false }, b.nodeId),
    );
    expect(b.logs.getLog({ topic: "t", partition: 0 })!.config.retentionMs).toBe(before.retentionMs);
    expect(b.logs.getLog({ topic: "t", partition: 0 })!.config.segmentBytes).toBe(1048576);
  } finally {
    b.close();
  }
});
