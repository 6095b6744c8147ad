/**
 * Broker memory: resident set size of a fresh broker process after start (bar: ≤ 80 MB) and
 * after serving a small produce/consume round trip with kcat. Median of 3 starts.
 * Run: `bun bench/rss.ts` (needs kcat). Writes bench/results/rss.json.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const runs = Number(process.env.BENCH_RUNS ?? 3);

function rssKb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

async function readLine(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`broker exited before printing ${pattern}: ${text}`);
    text += new TextDecoder().decode(value);
    const line = text.split("\n").find((l) => pattern.test(l));
    if (line !== undefined) {
      reader.releaseLock();
      return line;
    }
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const afterStart: number[] = [];
const afterTraffic: number[] = [];
const peak: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), "bunka-rss-"));
  const proc = Bun.spawn(["bun", join(root, "src/main.ts"), "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${dir}`], {
    stdout: "pipe",
    stderr: "ignore",
  });
  try {
    const line = await readLine(proc.stdout, /listening on/);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
    await Bun.sleep(1000); // let start-up garbage settle
    afterStart.push(rssKb(proc.pid).rss);
    const input = Array.from({ length: 10_000 }, (_, n) => `record-${n}`).join("\n");
    const produce = Bun.spawnSync(["kcat", "-b", `127.0.0.1:${port}`, "-P", "-t", "rss"], { stdin: new TextEncoder().encode(input) });
    if (produce.exitCode !== 0) throw new Error(`kcat -P failed: ${produce.stderr}`);
    const consume = Bun.spawnSync(["kcat", "-b", `127.0.0.1:${port}`, "-C", "-t", "rss", "-e", "-q"]);
    if (consume.stdout.toString().trim().split("\n").length !== 10_000) throw new Error("kcat -C did not read back 10000 records");
    const m = rssKb(proc.pid);
    afterTraffic.push(m.rss);
    peak.push(m.hwm);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
const results = {
  "rss.afterStart.MB": Math.round(median(afterStart) / 102.4) / 10,
  "rss.afterTraffic.MB": Math.round(median(afterTraffic) / 102.4) / 10,
  "rss.peak.MB": Math.round(median(peak) / 102.4) / 10,
  runs,
};
console.table(results);
writeFileSync(join(root, "bench/results/rss.json"), `${JSON.stringify(results, null, 2)}\n`);
