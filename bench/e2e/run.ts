/**
 * End-to-end benchmark: a real Kafka client (librdkafka's rdkafka_performance, built from
 * Debian's source package by build-librdkafka.sh) against bunka and against the client's
 * ceiling (librdkafka's in-memory mock cluster, bench/e2e/mock-cluster.c), alternating
 * bunka/ceiling run by run so drift on the machine hits both sides alike.
 *
 * Invariants:
 *   - every measured run starts a FRESH broker process (fresh data dir for bunka), so
 *     CPU seconds and peak RSS (VmHWM) belong to that scenario alone;
 *   - a run whose client does not deliver/consume exactly the requested count is a failed
 *     run, never a number; the table then says why;
 *   - the median is taken over successful runs only, and the count of runs is recorded.
 *
 * Output it owns: bench/RESULTS.md (human table + machine + exact commands) and
 * bench/results/e2e.json (schema: {@link Report}).
 *
 * Env: BENCH_QUICK=1 (few messages, 1 run), BENCH_ONLY=bunka|ceiling, BENCH_RUNS=<n>,
 *      BENCH_SCENARIOS=<comma-separated ids>, BUNKA_BROKER_CMD (template, see
 *      {@link defaultBrokerCmd}), BUNKA_CACHE (tool cache, default ~/.cache/bunka),
 *      BENCH_NO_WRITE=1 (print only, do not rewrite RESULTS.md / e2e.json).
 */
import { spawn, spawnSync } from "bun";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, mkdirSync } from "node:fs";
import { createServer, connect } from "node:net";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { crcImplementation } from "../../src/wasm/index.ts";

const repoRoot = resolve(import.meta.dir, "../..");
const quick = process.env.BENCH_QUICK === "1";
const runsPerSide = Number(process.env.BENCH_RUNS ?? (quick ? "1" : "3"));
const brokerStartTimeoutMs = 30_000;
const clientTimeoutMs = quick ? 120_000 : 600_000;
/** The mock keeps at most 5 MiB / 100k records per partition (rdkafka_mock.c), so the
 *  consume scenario spreads its records over enough partitions that nothing is evicted. */
const consumePartitions = 256;
const loadProps = ["linger.ms=5", "batch.size=1000000", "sticky.partitioning.linger.ms=0"];

/**
 * Placeholders: {port} {dir} {partitions}. Split on whitespace, run without a shell, so the
 * measured pid is the broker itself. Topics are auto-created with {partitions} partitions.
 */
const defaultBrokerCmd =
  "bun src/main.ts broker --set listeners=PLAINTEXT://127.0.0.1:{port} --set log.dirs={dir}" +
  " --set auto.create.topics.enable=true --set num.partitions={partitions}";

type Side = "bunka" | "ceiling";
type Kind = "produce" | "consume" | "latency";

interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly kind: Kind;
  readonly partitions: number;
  readonly sizeBytes: number;
  readonly count: number;
  readonly acks: "1" | "all";
  /** Extra -X properties for the measured client. */
  readonly props: readonly string[];
  /** Set when the mock cannot run this scenario: why (the row then has no ceiling). */
  readonly noCeiling?: string;
  /** Extra broker settings (`key=value`, passed as --set) for bunka in this scenario. */
  readonly brokerSets?: readonly string[];
}

interface RunResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly msgsPerSec?: number;
  readonly mbPerSec?: number;
  readonly elapsedMs?: number;
  readonly latencyMs?: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number; readonly samples: number };
  readonly brokerCpuSec?: number;
  /** The kernel's share of brokerCpuSec (stime). */
  readonly brokerSysSec?: number;
  readonly brokerPeakRssMiB?: number;
  readonly command: string;
}

interface SideSummary {
  readonly runs: readonly RunResult[];
  readonly okRuns: number;
  readonly median: {
    readonly msgsPerSec?: number;
    readonly mbPerSec?: number;
    readonly p50Ms?: number;
    readonly p99Ms?: number;
    readonly p999Ms?: number;
    readonly brokerCpuSec?: number;
    readonly brokerSysSec?: number;
    readonly brokerPeakRssMiB?: number;
  };
}

interface Report {
  readonly date: string;
  readonly quick: boolean;
  readonly runsPerSide: number;
  readonly machine: Record<string, string | number>;
  readonly tools: Record<string, string>;
  readonly brokerCmd: string;
  /** Page-cache append figures measured in this run (see {@link measureAppendLimits}). */
  readonly appendLimits?: readonly AppendLimits[];
  readonly scenarios: ReadonlyArray<{ readonly scenario: Scenario; readonly bunka: SideSummary | { readonly skipped: string }; readonly ceiling: SideSummary | { readonly skipped: string } }>;
}

function scenarios(): Scenario[] {
  const big = quick ? 50_000 : 1_000_000;
  const small = quick ? 200_000 : 3_000_000;
  const batchProps = ["linger.ms=5", "batch.size=1000000"];
  const list: Scenario[] = [];
  for (const sizeBytes of [1024, 100]) {
    for (const acks of ["1", "all"] as const) {
      for (const partitions of [1, 8]) {
        const sz = sizeBytes === 1024 ? "1KiB" : "100B";
        list.push({
          id: `produce-${sz}-acks${acks}-p${partitions}`,
          title: `produce ${sizeBytes === 1024 ? "1 KiB" : "100 B"}, acks=${acks}, ${partitions} partition${partitions > 1 ? "s" : ""}`,
          kind: "produce",
          partitions,
          sizeBytes,
          count: sizeBytes === 1024 ? big : small,
          acks,
          props: batchProps,
        });
      }
    }
  }
  list.push({
    id: "consume-1KiB",
    title: `consume ${quick ? "50k" : "1M"} × 1 KiB from the beginning, ${consumePartitions} partitions`,
    kind: "consume",
    partitions: consumePartitions,
    sizeBytes: 1024,
    count: big,
    acks: "1",
    props: [],
  });
  // log.drop.behind.bytes keeps only each partition's tail in the page cache (see the notes).
  const dropBehind = [`log.drop.behind.bytes=${64 * 1024 * 1024}`];
  for (const partitions of [1, 8]) {
    list.push({
      id: `produce-1KiB-acks1-p${partitions}-dropbehind`,
      title: `produce 1 KiB, acks=1, ${partitions} partition${partitions > 1 ? "s" : ""}, log.drop.behind.bytes=64 MiB`,
      kind: "produce",
      partitions,
      sizeBytes: 1024,
      count: big,
      acks: "1",
      props: batchProps,
      brokerSets: dropBehind,
    });
  }
  const consume8: Scenario = {
    id: "consume-1KiB-p8",
    title: `consume ${quick ? "50k" : "1M"} × 1 KiB from the beginning, 8 partitions`,
    kind: "consume",
    partitions: 8,
    sizeBytes: 1024,
    count: big,
    acks: "1",
    props: [],
    noCeiling: "no ceiling: the mock keeps 5 MiB per partition, so it cannot hold 1 GiB in 8",
  };
  list.push(consume8, {
    ...consume8,
    id: "consume-1KiB-p8-dropbehind",
    title: `${consume8.title}, log.drop.behind.bytes=64 MiB`,
    noCeiling: "no ceiling (as above)",
    brokerSets: dropBehind,
  });
  list.push({
    id: "latency-10k",
    title: "produce latency at 10k msgs/s, 100 B, acks=1, linger.ms=0, 1 partition",
    kind: "latency",
    partitions: 1,
    sizeBytes: 100,
    count: quick ? 20_000 : 300_000,
    acks: "1",
    props: ["linger.ms=0"],
  });
  const only = process.env.BENCH_SCENARIOS;
  if (only === undefined || only === "") return list;
  const wanted = new Set(only.split(",").map((s) => s.trim()));
  const picked = list.filter((s) => wanted.has(s.id));
  if (picked.length === 0) throw new Error(`BENCH_SCENARIOS=${only} matches none of: ${list.map((s) => s.id).join(", ")}`);
  return picked;
}

// ---------------------------------------------------------------------------------------
// Tools

interface Tools {
  readonly perf: string;
  readonly mockCluster: string;
  readonly librdkafkaSrc: string;
}

function buildTools(): Tools {
  const script = join(repoRoot, "bench/e2e/build-librdkafka.sh");
  const r = spawnSync(["bash", script], { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  if (r.exitCode !== 0) throw new Error(`${script} failed with exit ${r.exitCode}`);
  const kv = new Map<string, string>();
  for (const line of r.stdout.toString().split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const need = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`${script} printed no ${k}=`);
    return v;
  };
  return { perf: need("rdkafka_performance"), mockCluster: need("mock_cluster"), librdkafkaSrc: need("librdkafka_src") };
}

// ---------------------------------------------------------------------------------------
// Brokers

interface Broker {
  readonly pid: number;
  readonly bootstrap: string;
  /** Kills the broker (SIGKILL: its shutdown is not what we measure), waits, removes its data. */
  readonly stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") throw new Error(`unexpected server address ${String(addr)}`);
      srv.close(() => ok(addr.port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return await new Promise((ok) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); ok(true); });
    s.once("error", () => { s.destroy(); ok(false); });
  });
}

function brokerCmdTemplate(): string {
  const env = process.env.BUNKA_BROKER_CMD;
  return env !== undefined && env.trim() !== "" ? env : defaultBrokerCmd;
}

async function startBunka(partitions: number, sets: readonly string[]): Promise<Broker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bunka-bench-"));
  const argv = brokerCmdTemplate()
    .replaceAll("{port}", String(port))
    .replaceAll("{dir}", dir)
    .replaceAll("{partitions}", String(partitions))
    .split(/\s+/)
    .filter((s) => s !== "")
    .concat(sets.flatMap((kv) => ["--set", kv]));
  const logPath = join(dir, "broker.log");
  const proc = spawn(argv, { cwd: repoRoot, stdin: "ignore", stdout: Bun.file(logPath), stderr: Bun.file(logPath) });
  const cleanup = async (): Promise<void> => {
    proc.kill("SIGKILL");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + brokerStartTimeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      const log = readFileSync(logPath, "utf8").slice(-2000);
      await cleanup();
      throw new Error(`broker exited with ${proc.exitCode} before listening: ${argv.join(" ")}\n${log}`);
    }
    if (await canConnect(port)) return { pid: proc.pid, bootstrap: `127.0.0.1:${port}`, stop: cleanup };
    await Bun.sleep(100);
  }
  await cleanup();
  throw new Error(`broker did not accept connections on ${port} within ${brokerStartTimeoutMs} ms: ${argv.join(" ")}`);
}

async function startCeiling(tools: Tools, partitions: number): Promise<Broker> {
  const proc = spawn([tools.mockCluster, "1", `bench:${partitions}`], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + brokerStartTimeoutMs;
  while (!text.includes("\n")) {
    if (Date.now() > deadline) throw new Error("mock-cluster printed no bootstrap servers");
    const { value, done } = await reader.read();
    if (done) throw new Error(`mock-cluster exited (${String(proc.exitCode)}) before printing its bootstrap servers`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const bootstrap = text.split("\n")[0]?.trim() ?? "";
  if (!/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/.test(bootstrap)) throw new Error(`mock-cluster printed '${bootstrap}'`);
  return { pid: proc.pid, bootstrap, stop: async () => { proc.kill("SIGKILL"); await proc.exited; } };
}

/** utime and stime of a process in seconds, from /proc/<pid>/stat (fields 14, 15). */
function cpuTimes(pid: number): { readonly user: number; readonly sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; fields after it start past the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat: ${stat}`);
  const hz = 100; // USER_HZ is 100 on every Linux ABI we run on
  return { user: utime / hz, sys: stime / hz };
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (m === null || m[1] === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

// ---------------------------------------------------------------------------------------
// Client runs

interface ClientOutput {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly out: string;
}

async function runClient(argv: readonly string[]): Promise<ClientOutput> {
  const proc = spawn([...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; proc.kill("SIGKILL"); }, clientTimeoutMs);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(timer);
  return { exitCode: proc.exitCode, timedOut, out: `${out}\n${err}` };
}

const produceSummary =
  /^% (\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset -?\d+, (\d+) failed\) in (\d+)ms: (\d+) msgs\/s and ([\d.]+) MB\/s/gm;
const consumeSummary = /^% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs\/s \(([\d.]+) MB\/s\)/gm;

function lastMatch(re: RegExp, text: string): RegExpExecArray | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of text.matchAll(re)) last = m as RegExpExecArray;
  return last;
}

function perfArgs(tools: Tools, s: Scenario, bootstrap: string, mode: "produce" | "consume", latencyFile?: string): string[] {
  const a = [tools.perf, mode === "produce" ? "-P" : "-C", "-t", "bench", "-b", bootstrap, "-c", String(s.count)];
  if (mode === "produce") {
    a.push("-s", String(s.sizeBytes), "-a", s.acks === "all" ? "-1" : "1");
    for (const p of s.props) a.push("-X", p);
    if (latencyFile !== undefined) a.push("-l", "-A", latencyFile, "-r", "10000");
  } else {
    a.push("-o", "beginning");
    for (let p = 0; p < s.partitions; p++) a.push("-p", String(p));
  }
  return a;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("percentile of no samples");
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  const v = sorted[i];
  if (v === undefined) throw new Error(`percentile index ${i} out of ${sorted.length}`);
  return v;
}

async function measure(tools: Tools, s: Scenario, side: Side): Promise<RunResult> {
  const broker = side === "bunka" ? await startBunka(s.partitions, s.brokerSets ?? []) : await startCeiling(tools, s.partitions);
  const pid = broker.pid;
  const work = mkdtempSync(join(tmpdir(), "bunka-bench-client-"));
  try {
    if (s.kind === "consume") {
      // Load the topic first (not measured), then read it all back from offset 0.
      // sticky.partitioning.linger.ms=0: spread records evenly (librdkafka otherwise sticks
      // to one partition for 10 ms, and the mock would evict the overflow of that partition).
      const load = await runClient(perfArgs(tools, { ...s, acks: "1", props: loadProps }, broker.bootstrap, "produce"));
      const lm = lastMatch(produceSummary, load.out);
      if (load.timedOut || lm === undefined || lm[3] !== String(s.count)) {
        return { ok: false, error: `preload did not deliver ${s.count} records${load.timedOut ? " (timeout)" : ""}: ${tail(load.out)}`, command: "" };
      }
    }
    const latencyFile = s.kind === "latency" ? join(work, "latency.txt") : undefined;
    const argv = perfArgs(tools, s, broker.bootstrap, s.kind === "consume" ? "consume" : "produce", latencyFile);
    const command = argv.map((x) => (x === tools.perf ? "rdkafka_performance" : x)).join(" ");
    const cpuBefore = cpuTimes(pid);
    const r = await runClient(argv);
    const cpuAfter = cpuTimes(pid);
    const brokerSysSec = cpuAfter.sys - cpuBefore.sys;
    const brokerCpuSec = cpuAfter.user - cpuBefore.user + brokerSysSec;
    const brokerPeakRssMiB = peakRssMiB(pid);
    if (r.timedOut) return { ok: false, error: `client timed out after ${clientTimeoutMs} ms: ${tail(r.out)}`, command };
    if (s.kind === "consume") {
      const m = lastMatch(consumeSummary, r.out);
      if (m === undefined || m[1] !== String(s.count)) return { ok: false, error: `consumed ${m?.[1] ?? "?"} of ${s.count}: ${tail(r.out)}`, command };
      return { ok: true, msgsPerSec: Number(m[4]), mbPerSec: Number(m[5]), elapsedMs: Number(m[3]), brokerCpuSec, brokerSysSec, brokerPeakRssMiB, command };
    }
    const m = lastMatch(produceSummary, r.out);
    if (m === undefined || m[3] !== String(s.count) || m[4] !== "0") {
      return { ok: false, error: `delivered ${m?.[3] ?? "?"} of ${s.count} (${m?.[4] ?? "?"} failed): ${tail(r.out)}`, command };
    }
    const base = { ok: true, msgsPerSec: Number(m[6]), mbPerSec: Number(m[7]), elapsedMs: Number(m[5]), brokerCpuSec, brokerSysSec, brokerPeakRssMiB, command };
    if (latencyFile === undefined) return base;
    // One line per delivered record: microseconds from produce() to its delivery report.
    const samples = readFileSync(latencyFile, "utf8").split("\n").filter((l) => l !== "").map(Number);
    if (samples.length !== s.count || samples.some((x) => !Number.isFinite(x))) {
      return { ok: false, error: `latency file has ${samples.length} samples for ${s.count} records`, command };
    }
    samples.sort((a, b) => a - b);
    const ms = (us: number): number => Math.round(us) / 1000;
    const max = samples[samples.length - 1] ?? 0;
    return { ...base, latencyMs: { p50: ms(percentile(samples, 0.5)), p99: ms(percentile(samples, 0.99)), p999: ms(percentile(samples, 0.999)), max: ms(max), samples: samples.length } };
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function tail(text: string): string {
  return text.trim().split("\n").slice(-5).join(" | ").slice(-800);
}

function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const hi = s[mid];
  const lo = s[s.length % 2 === 1 ? mid : mid - 1];
  if (hi === undefined || lo === undefined) throw new Error("median index out of range");
  return (lo + hi) / 2;
}

function summarise(runs: readonly RunResult[]): SideSummary {
  const ok = runs.filter((r) => r.ok);
  const med = (f: (r: RunResult) => number | undefined): number | undefined =>
    median(ok.map(f).filter((x): x is number => x !== undefined));
  const m = {
    msgsPerSec: med((r) => r.msgsPerSec),
    mbPerSec: med((r) => r.mbPerSec),
    p50Ms: med((r) => r.latencyMs?.p50),
    p99Ms: med((r) => r.latencyMs?.p99),
    p999Ms: med((r) => r.latencyMs?.p999),
    brokerCpuSec: med((r) => r.brokerCpuSec),
    brokerSysSec: med((r) => r.brokerSysSec),
    brokerPeakRssMiB: med((r) => r.brokerPeakRssMiB),
  };
  // exactOptionalPropertyTypes: drop the undefined ones rather than store them.
  const median_ = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as SideSummary["median"];
  return { runs, okRuns: ok.length, median: median_ };
}

// ---------------------------------------------------------------------------------------
// Machine limits

interface AppendLimits {
  readonly when: string;
  readonly bytes: number;
  /** Appending to a new file: every page is a new page-cache page (what a log append does). */
  readonly newPagesMBps: number;
  /** Rewriting the same range: the pages are already cached (memory copy only). */
  readonly cachedPagesMBps: number;
}

/**
 * The page-cache side of the produce path, measured in the bench's temp dir on this run's
 * machine: 1 MiB writeSync calls, as the broker's segment append makes. The file is deleted
 * before its dirty pages are written back, so it leaves nothing for the next scenario.
 */
function measureAppendLimits(when: string): AppendLimits {
  const chunk = new Uint8Array(1 << 20).fill(0x5a);
  const chunks = quick ? 128 : 1024;
  const dir = mkdtempSync(join(tmpdir(), "bunka-bench-append-"));
  const fd = openSync(join(dir, "append.bin"), "w");
  try {
    const pass = (rewrite: boolean): number => {
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < chunks; i++) {
        let done = 0;
        while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done, rewrite ? i * chunk.length + done : null);
      }
      return (chunks * chunk.length) / 1e6 / ((Bun.nanoseconds() - t0) / 1e9);
    };
    const newPagesMBps = pass(false);
    const cachedPagesMBps = pass(true);
    return { when, bytes: chunks * chunk.length, newPagesMBps: Math.round(newPagesMBps), cachedPagesMBps: Math.round(cachedPagesMBps) };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Report

function machine(): Record<string, string | number> {
  const cpu = cpus();
  const git = spawnSync(["git", "-C", repoRoot, "rev-parse", "--short", "HEAD"], { stdout: "pipe", stderr: "ignore" });
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    bun: Bun.version,
    commit: git.exitCode === 0 ? git.stdout.toString().trim() : "unknown",
    loadAvgAtStart: loadAvg(),
    crc32c: crcImplementation,
    freePageReporting: freePageReporting(),
  };
}

/**
 * Whether the kernel hands freed memory back to the hypervisor (virtio-balloon free page
 * reporting). Where it does, a page the guest takes again costs a fault in the host, which
 * is what makes new page-cache pages so much slower than cached ones in the table below.
 */
function freePageReporting(): string {
  const read = (path: string): string | null => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return null;
    }
  };
  const order = read("/sys/module/page_reporting/parameters/page_reporting_order");
  const balloon = spawnSync(["sh", "-c", "ls /sys/bus/virtio/drivers/virtio_balloon 2>/dev/null | grep -c '^virtio'"], { stdout: "pipe", stderr: "ignore" });
  const bound = balloon.exitCode === 0 && Number(balloon.stdout.toString().trim()) > 0;
  if (order === null || !bound) return "off (no virtio-balloon page reporting)";
  const reported = read("/sys/module/page_reporting/parameters/reported_kib");
  const total = reported === null ? "" : `, ${Math.round(Number(reported) / 2 ** 20)} GiB reported since boot`;
  return `on (virtio-balloon, blocks of 2^${order} pages${total})`;
}

/** 1/5/15-minute load averages: the dev machines are shared, so say how busy this one was. */
function loadAvg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

const notServing = "not yet measured: broker does not serve Kafka APIs yet";

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined) return "—";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function cell(side: SideSummary | { readonly skipped: string }, kind: Kind): string {
  if ("skipped" in side) return side.skipped;
  if (side.okRuns === 0) return `failed: ${side.runs[0]?.error ?? "no runs"}`.replaceAll("|", "/").slice(0, 300);
  const m = side.median;
  const main = kind === "latency"
    ? `p50 ${fmt(m.p50Ms, 2)} / p99 ${fmt(m.p99Ms, 2)} / p99.9 ${fmt(m.p999Ms, 2)} ms`
    : `${fmt(m.msgsPerSec)} msg/s, ${fmt(m.mbPerSec, 1)} MB/s`;
  const sys = m.brokerSysSec === undefined ? "" : ` (${fmt(m.brokerSysSec, 2)} sys)`;
  return `${main} (broker ${fmt(m.brokerCpuSec, 2)} CPU s${sys}, ${fmt(m.brokerPeakRssMiB)} MiB peak RSS; ${side.okRuns}/${side.runs.length} runs)`;
}

function ratio(b: SideSummary | { readonly skipped: string }, c: SideSummary | { readonly skipped: string }, kind: Kind): string {
  if ("skipped" in b || "skipped" in c) return "—";
  if (kind === "latency") {
    const x = b.median.p99Ms, y = c.median.p99Ms;
    return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}× p99` : "—";
  }
  const x = b.median.msgsPerSec, y = c.median.msgsPerSec;
  return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}` : "—";
}

function markdown(r: Report): string {
  const lines: string[] = [];
  lines.push("# End-to-end benchmark results", "");
  lines.push("Generated by `bun run bench:e2e` (bench/e2e/run.ts); do not edit by hand. Raw data: `bench/results/e2e.json`.", "");
  lines.push(`- Date: ${r.date}${r.quick ? " (BENCH_QUICK=1 smoke run: small counts, not a measurement)" : ""}`);
  lines.push(`- Runs per side: ${r.runsPerSide}, alternating bunka / ceiling; each cell is the median of the successful runs`);
  lines.push(`- Machine: ${r.machine.cores} cores (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB, kernel ${r.machine.kernel}, bun ${r.machine.bun}, commit ${r.machine.commit}`);
  lines.push(`- bunka's CRC32C: ${r.machine.crc32c ?? "?"}; free page reporting to the hypervisor: ${r.machine.freePageReporting ?? "?"}`);
  lines.push(`- Load average (1/5/15 min) at start: ${r.machine.loadAvgAtStart}, at end: ${r.machine.loadAvgAtEnd ?? "?"} (other work on a shared machine skews both sides)`);
  lines.push(`- Client: ${r.tools.client}`);
  lines.push("- Ceiling: librdkafka's in-memory mock cluster (`bench/e2e/mock-cluster.c`, 1 broker): what the same client achieves against a broker that does no I/O. The ratio is bunka / ceiling (throughput; latency rows: p99 ratio, lower is better).");
  lines.push("- Broker CPU s: utime+stime of the broker process during the measured client run; peak RSS: the broker's VmHWM at the end of the run (fresh broker per run).");
  lines.push("");
  lines.push("| scenario | bunka | ceiling | ratio |", "| --- | --- | --- | --- |");
  for (const e of r.scenarios) {
    lines.push(`| ${e.scenario.title} | ${cell(e.bunka, e.scenario.kind)} | ${cell(e.ceiling, e.scenario.kind)} | ${ratio(e.bunka, e.ceiling, e.scenario.kind)} |`);
  }
  if (r.appendLimits !== undefined && r.appendLimits.length > 0) {
    lines.push("", "## Page-cache append on this machine, same run", "");
    lines.push("Every byte a produce run sends is appended to the log through the page cache; the mock keeps it in a few MiB of memory. `measureAppendLimits` in run.ts writes 1 MiB chunks from Bun:", "");
    lines.push("| when | append to a new file (new page-cache pages) | rewrite the same range (cached pages) |", "| --- | --- | --- |");
    for (const a of r.appendLimits) lines.push(`| ${a.when} | ${fmt(a.newPagesMBps)} MB/s | ${fmt(a.cachedPagesMBps)} MB/s |`);
  }
  lines.push("", "## Notes", "");
  lines.push(`- The ${consumePartitions}-partition consume scenario is the one the mock can serve: it keeps at most 5 MiB / 100k records per partition (older data is evicted), so 1 GiB only survives spread over that many partitions. The 8-partition row has no ceiling for that reason.`);
  lines.push("- Broker CPU s includes the kernel's share (sys): on the produce rows that is mostly the page-cache append (see the table above the notes).");
  lines.push("- `log.drop.behind.bytes` rows: bunka writes back and drops from the page cache what lies more than that far behind the end of each active segment, so a write stream reuses a small set of cache pages instead of taking new ones. Off by default (Kafka leaves caching to the kernel); the consume row with it shows the price: data read from the beginning comes from disk.");
  lines.push("- Latency: per-record time from `produce()` to its delivery report (rdkafka_performance `-l -A`), at a steady 10k msgs/s (`-r 10000`); percentiles computed over all records of a run.");
  lines.push("- Produce throughput is rdkafka_performance's own summary (delivered records / total time).");
  lines.push("- Both sides are a single broker with nothing to replicate, so acks=all waits for no follower: differences between the acks=1 and acks=all rows are run-to-run noise (see the load average above), not the cost of replication.");
  lines.push("- The mock bounds throughput, not latency: it is one in-memory broker with its own scheduling, and its p50 latency can be above bunka's. Latency rows compare, they do not bound.");
  lines.push("", "## Commands", "");
  lines.push("```sh");
  lines.push("bash bench/e2e/build-librdkafka.sh          # tools, cached in ${BUNKA_CACHE:-~/.cache/bunka}");
  lines.push(`bun run bench:e2e                           # this table${r.quick ? " (this file: BENCH_QUICK=1)" : ""}`);
  lines.push(`# bunka broker (per run, fresh port and data dir): ${r.brokerCmd}`);
  lines.push("# ceiling broker (per run): mock-cluster 1 bench:<partitions>");
  const seen = new Set<string>();
  for (const e of r.scenarios) {
    for (const side of [e.ceiling, e.bunka]) {
      if ("skipped" in side) continue;
      const cmd = side.runs.find((x) => x.command !== "")?.command;
      if (cmd !== undefined && !seen.has(e.scenario.id)) {
        seen.add(e.scenario.id);
        if (e.scenario.brokerSets !== undefined) lines.push(`# (bunka started with ${e.scenario.brokerSets.map((kv) => `--set ${kv}`).join(" ")})`);
        lines.push(`# ${e.scenario.id}${e.scenario.kind === "consume" ? " (after loading the topic: -P -s 1024 -a 1 -X linger.ms=5 -X batch.size=1000000 -X sticky.partitioning.linger.ms=0)" : ""}`);
        lines.push(cmd.replace(/-b \S+/, "-b <bootstrap>").replace(/-A \S+/, "-A <latency-file>").replace(/(-p \d+ )+-p \d+/, "-p 0 … -p " + String(e.scenario.partitions - 1)));
      }
    }
  }
  lines.push("```", "");
  return lines.join("\n");
}

/** `--render`: rewrite bench/RESULTS.md from bench/results/e2e.json without measuring. */
function render(): void {
  const json = readFileSync(join(repoRoot, "bench/results/e2e.json"), "utf8");
  const report = JSON.parse(json) as Report;
  writeFileSync(join(repoRoot, "bench/RESULTS.md"), markdown(report));
  console.log("[e2e] rendered bench/RESULTS.md from bench/results/e2e.json");
}

async function main(): Promise<void> {
  if (process.argv.includes("--render")) {
    render();
    return;
  }
  const only = process.env.BENCH_ONLY;
  if (only !== undefined && only !== "" && only !== "bunka" && only !== "ceiling") throw new Error(`BENCH_ONLY must be bunka or ceiling, not ${only}`);
  if (!Number.isInteger(runsPerSide) || runsPerSide < 1) throw new Error(`BENCH_RUNS must be a positive integer`);
  const tools = buildTools();
  const sides: Side[] = only === "bunka" ? ["bunka"] : only === "ceiling" ? ["ceiling"] : ["bunka", "ceiling"];
  // An unknown option makes rdkafka_performance print its usage, which names the version.
  const versionOut = await runClient([tools.perf, "-h"]);
  const ver = /librdkafka version (\S+)/.exec(versionOut.out)?.[1] ?? "2.0.2";
  const report: Report = {
    date: new Date().toISOString(),
    quick,
    runsPerSide,
    machine: machine(),
    tools: { client: `rdkafka_performance, librdkafka ${ver} built from Debian's source package`, perf: tools.perf, mockCluster: tools.mockCluster },
    brokerCmd: brokerCmdTemplate(),
    scenarios: [],
  };
  const entries: Array<Report["scenarios"][number]> = [];
  const appendLimits: AppendLimits[] = [measureAppendLimits("before the scenarios")];
  console.log(`[e2e] page-cache append: new pages ${fmt(appendLimits[0]?.newPagesMBps)} MB/s, cached pages ${fmt(appendLimits[0]?.cachedPagesMBps)} MB/s`);
  for (const s of scenarios()) {
    const runs: Record<Side, RunResult[]> = { bunka: [], ceiling: [] };
    const scenarioSides = s.noCeiling === undefined ? sides : sides.filter((x) => x !== "ceiling");
    for (let i = 0; i < runsPerSide; i++) {
      for (const side of scenarioSides) {
        let r: RunResult;
        try {
          r = await measure(tools, s, side);
        } catch (e) {
          r = { ok: false, error: e instanceof Error ? e.message.split("\n")[0] ?? String(e) : String(e), command: "" };
        }
        runs[side].push(r);
        const what = r.ok
          ? s.kind === "latency"
            ? `p50 ${r.latencyMs?.p50} p99 ${r.latencyMs?.p99} p99.9 ${r.latencyMs?.p999} ms`
            : `${fmt(r.msgsPerSec)} msg/s ${fmt(r.mbPerSec, 1)} MB/s`
          : `FAILED ${r.error ?? ""}`;
        console.log(`[e2e] ${s.id} ${side} run ${i + 1}/${runsPerSide}: ${what}`);
      }
    }
    const skipped = (side: Side): { readonly skipped: string } =>
      ({ skipped: side === "bunka" && only === "ceiling" ? notServing : `not run (BENCH_ONLY=${only ?? ""})` });
    entries.push({
      scenario: s,
      bunka: sides.includes("bunka") ? summarise(runs.bunka) : skipped("bunka"),
      ceiling: s.noCeiling !== undefined ? { skipped: s.noCeiling } : sides.includes("ceiling") ? summarise(runs.ceiling) : skipped("ceiling"),
    });
  }
  appendLimits.push(measureAppendLimits("after the scenarios"));
  const final: Report = { ...report, machine: { ...report.machine, loadAvgAtEnd: loadAvg() }, appendLimits, scenarios: entries };
  const md = markdown(final);
  if (process.env.BENCH_NO_WRITE === "1") {
    console.log(md);
    return;
  }
  mkdirSync(join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench/results/e2e.json"), `${JSON.stringify(final, null, 2)}\n`);
  writeFileSync(join(repoRoot, "bench/RESULTS.md"), md);
  console.log(md);
  console.log("[e2e] wrote bench/RESULTS.md and bench/results/e2e.json");
}

await main();
