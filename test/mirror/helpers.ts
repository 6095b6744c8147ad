/**
 * Real-process helpers for the mirror tests: two single-node brokers (test/interop's
 * BrokerProcess), a mirror subprocess (`bun src/main.ts mirror --config FILE`) that can be
 * SIGKILLed and restarted, and readers that decode every record of a partition.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ClusterClient } from "../../src/client/bootstrap.ts";
import { completeBatches, fetchPartition, listOffset, OffsetSpec } from "../../src/client/partition-io.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunCompression } from "../../src/platform/bun/compression.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import type { RecordBatchView } from "../../src/protocol/records/record-batch.ts";
import { repoRoot } from "../interop/broker-process.ts";

export const mainPath = join(import.meta.dir, "../../src/main.ts");
const dec = new TextDecoder();

export async function connect(bootstrap: string): Promise<ClusterClient> {
  const r = await ClusterClient.connect({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(7), bootstrapServers: bootstrap });
  if (!r.ok) throw r.error;
  return r.value;
}

export interface Rec {
  offset: number;
  key: string | null;
  value: string | null;
  headers: string;
  timestamp: number;
}

/** Every data batch of a partition from its log start to its high watermark (copies). */
export async function readBatches(c: ClusterClient, topic: string, partition: number): Promise<RecordBatchView[]> {
  await c.refreshMetadata([topic]);
  const ref = { topic, partition };
  const end = await listOffset(c, ref, OffsetSpec.latest);
  if (!end.ok) throw new Error(`listOffset ${topic}-${partition}: ${JSON.stringify(end.error)}`);
  const start = await listOffset(c, ref, OffsetSpec.earliest);
  if (!start.ok) throw new Error(`listOffset ${topic}-${partition}`);
  const out: RecordBatchView[] = [];
  let offset = start.value;
  while (offset < end.value) {
    const r = await fetchPartition(c, ref, { fetchOffset: offset, maxBytes: 4 << 20 });
    if (!r.ok) throw new Error(`fetch ${topic}-${partition} at ${offset}`);
    const w = completeBatches(r.value.records.slice(), offset, 1 << 26);
    if (w.batches.length === 0) break;
    for (const b of w.batches) if (!b.isControl) out.push(b);
    offset = w.nextOffset;
  }
  return out;
}

export async function readAll(c: ClusterClient, topic: string, partition: number): Promise<Rec[]> {
  const out: Rec[] = [];
  for (const b of await readBatches(c, topic, partition)) {
    for (const rec of b.records({ maxBytes: 1 << 26, compression: bunCompression })) {
      out.push({
        offset: rec.offset,
        key: rec.key && dec.decode(rec.key),
        value: rec.value && dec.decode(rec.value),
        headers: JSON.stringify(rec.headers.map((h) => [h.key, h.value && dec.decode(h.value)])),
        timestamp: rec.timestamp,
      });
    }
  }
  return out;
}

export async function highWatermark(c: ClusterClient, topic: string, partition: number): Promise<number> {
  await c.refreshMetadata([topic]);
  const r = await listOffset(c, { topic, partition }, OffsetSpec.latest);
  return r.ok ? r.value : -1;
}

export function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bunka-mirror-"));
  const path = join(dir, "mm2.properties");
  writeFileSync(path, text);
  return path;
}

/** A mirror subprocess; its stderr is kept for failure output. */
export class MirrorProcess {
  #proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  #stderr = "";
  readonly #config: string;

  constructor(configPath: string) {
    this.#config = configPath;
  }

  get stderr(): string {
    return this.#stderr;
  }

  start(): void {
    if (this.#proc !== null) throw new Error("mirror already running");
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("BUNKA_")) env[k] = v;
    this.#stderr += `--- mirror start\n`;
    const proc = Bun.spawn(["bun", mainPath, "mirror", "--config", this.#config], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: repoRoot, env });
    this.#proc = proc;
    void (async () => {
      const reader = proc.stderr.getReader();
      const d = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        this.#stderr += d.decode(value, { stream: true });
      }
    })();
  }

  async kill(): Promise<void> {
    const p = this.#proc;
    if (p === null) return;
    p.kill("SIGKILL");
    await p.exited;
    this.#proc = null;
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    const p = this.#proc;
    if (p === null) return null;
    p.kill("SIGTERM");
    const code = await Promise.race([p.exited, Bun.sleep(30_000).then(() => "timeout" as const)]);
    if (code === "timeout") {
      p.kill("SIGKILL");
      await p.exited;
      this.#proc = null;
      throw new Error(`mirror did not stop within 30 s of SIGTERM\n${this.#stderr.slice(-5000)}`);
    }
    this.#proc = null;
    return code;
  }

  crashLines(): string[] {
    return this.#stderr.split("\n").filter((l) => /uncaught|unhandled|panic|assertion|crashed|level=error/i.test(l));
  }
}
