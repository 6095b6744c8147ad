/**
 * The Python idempotent acks=all producer (py/replication_producer.py, confluent-kafka-python)
 * as the replication test and bench/replication-failover.ts drive it, and what they measure
 * of its delivery reports.
 */
import { join } from "node:path";

const script = join(import.meta.dir, "py/replication_producer.py");

export interface Delivery {
  v: string;
  o: number;
  t: number;
  e: string | null;
}

/** Starts the Python producer (to `partition`); `stop()` ends it and resolves with every delivery report. */
export function startProducer(bootstrap: string, topic: string, rate: number, partition = 0): { stop: () => Promise<{ deliveries: Delivery[]; sent: number; undelivered: number }> } {
  const proc = Bun.spawn(["/usr/bin/python3", script, bootstrap, topic, String(rate), String(partition)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const output = new Response(proc.stdout).text();
  return {
    async stop() {
      proc.stdin.write("stop\n");
      await proc.stdin.end();
      const code = await proc.exited;
      const text = await output;
      if (code !== 0) throw new Error(`producer exited ${code}: ${await new Response(proc.stderr).text()}`);
      const lines = text.trim().split("\n").map((l) => JSON.parse(l) as Delivery & { done?: boolean; sent?: number; undelivered?: number });
      const last = lines.pop();
      if (last?.done !== true) throw new Error(`producer output ends without its summary: ${text.slice(-500)}`);
      return { deliveries: lines, sent: last.sent ?? -1, undelivered: last.undelivered ?? -1 };
    },
  };
}

/** The longest gap between two consecutive acknowledgements (ms). */
export function longestStall(deliveries: readonly Delivery[]): number {
  const times = deliveries.filter((d) => d.e === null).map((d) => d.t).sort((a, b) => a - b);
  let worst = 0;
  for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i]! - times[i - 1]!);
  return worst;
}

