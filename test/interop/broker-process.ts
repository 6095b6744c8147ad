/**
 * A real bunka broker as a subprocess, for interop tests with unmodified Kafka clients.
 *
 * `startBroker()` runs `bun src/main.ts broker --set listeners=PLAINTEXT://127.0.0.1:0
 * --set log.dirs=<fresh temp dir> [--set k=v ...]`, waits for the one stdout line
 * `bunka <version>: node 1 of cluster <id> listening on PLAINTEXT://127.0.0.1:<port>; data in <dir>`
 * and takes the bound port from it. Everything the broker writes to stderr (logfmt) is kept
 * in memory; `guard()` prints its tail when a test body throws, so a failing interop test
 * shows what the broker said.
 *
 * Invariants: one child process at a time per `BrokerProcess`; `restart()` reuses the same
 * data dir (and asks for the same port, so clients that cached the address still connect);
 * `dispose()` kills a live child and removes the data dir (BUNKA_INTEROP_KEEP_STDERR=1 keeps
 * the broker's whole stderr in a temp file and prints its path). Each test file starts its own
 * broker, so files can run in parallel.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { afterAll, beforeAll, expect } from "bun:test";

const mainPath = join(import.meta.dir, "../../src/main.ts");
export const repoRoot = join(import.meta.dir, "../..");

const startTimeoutMs = 30_000;
const stopTimeoutMs = 30_000;
const stderrKeepBytesMax = 64 * 1024 * 1024;

const listeningLine = /^bunka \S+: node (\d+) of cluster (\S+) listening on PLAINTEXT:\/\/127\.0\.0\.1:(\d+)(?:, [^;]+)?; data in (.+)$/;

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("BUNKA_")) env[k] = v;
  return env;
}

export interface StartOptions {
  /** Extra `--set key=value` settings (listeners and log.dirs are set by the helper). */
  readonly sets?: Readonly<Record<string, string>>;
  /** A label for the temp dir and failure output. */
  readonly name?: string;
  /** The client port to bind (default: any free port at the first start, the same one after). */
  readonly port?: number;
  /**
   * A controller listener on this port (CONTROLLER://127.0.0.1:<port>, named in
   * controller.listener.names), for a node of a multi-node quorum; the quorum itself comes
   * from `sets` (controller.quorum.voters, node.id, cluster.id, process.roles).
   */
  readonly controllerPort?: number;
}

export class BrokerProcess {
  readonly dataDir: string;
  readonly name: string;
  private sets: Readonly<Record<string, string>>;
  private readonly controllerPort: number | undefined;
  private proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  private stderrText = "";
  private stdoutText = "";
  private portValue = 0;
  private clusterIdValue = "";
  private starts = 0;
  private stderrDone: Promise<void> = Promise.resolve();

  constructor(options: StartOptions = {}) {
    this.name = options.name ?? "interop";
    this.sets = options.sets ?? {};
    this.controllerPort = options.controllerPort;
    this.portValue = options.port ?? 0;
    this.dataDir = mkdtempSync(join(tmpdir(), `bunka-${this.name}-`));
  }

  get port(): number {
    if (this.portValue === 0) throw new Error(`broker ${this.name}: not started`);
    return this.portValue;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get clusterId(): string {
    return this.clusterIdValue;
  }

  get pid(): number {
    if (this.proc === null) throw new Error(`broker ${this.name}: not running`);
    return this.proc.pid;
  }

  /** Everything the broker wrote to stderr, over all its runs (each run headed by a marker line). */
  stderr(): string {
    return this.stderrText;
  }

  /** True while the current child has not exited. */
  alive(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.proc !== null) throw new Error(`broker ${this.name}: already running (pid ${this.proc.pid})`);
    this.starts++;
    const port = this.portValue; // 0 the first time; the same port on restart
    const listeners =
      this.controllerPort === undefined
        ? [`listeners=PLAINTEXT://127.0.0.1:${port}`]
        : [
            `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names=CONTROLLER",
          ];
    const args = ["bun", mainPath, "broker", ...listeners.flatMap((l) => ["--set", l]), "--set", `log.dirs=${this.dataDir}`];
    for (const [k, v] of Object.entries(this.sets)) args.push("--set", `${k}=${v}`);
    this.stderrText += `--- start #${this.starts}: ${args.join(" ")}\n`;
    const proc = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv(), cwd: repoRoot });
    this.proc = proc;
    this.stderrDone = this.pump(proc.stderr, (s) => {
      this.stderrText += s;
      if (this.stderrText.length > stderrKeepBytesMax) this.stderrText = this.stderrText.slice(-stderrKeepBytesMax / 2);
    });
    const line = await this.waitForListening(proc);
    const m = listeningLine.exec(line);
    if (m === null) throw new Error(`broker ${this.name}: unexpected start-up line ${JSON.stringify(line)}`);
    if (m[4] !== this.dataDir) throw new Error(`broker ${this.name}: data dir ${m[4]} != ${this.dataDir}`);
    this.portValue = Number(m[3]);
    this.clusterIdValue = m[2] ?? "";
  }

  private async pump(stream: ReadableStream<Uint8Array>, sink: (s: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      sink(decoder.decode(value, { stream: true }));
    }
  }

  private async waitForListening(proc: Subprocess<"ignore", "pipe", "pipe">): Promise<string> {
    const deadline = Date.now() + startTimeoutMs;
    let resolveLine!: (line: string) => void;
    const found = new Promise<string>((r) => (resolveLine = r));
    let buffered = "";
    void this.pump(proc.stdout, (s) => {
      this.stdoutText += s;
      buffered += s;
      for (const l of buffered.split("\n")) if (listeningLine.test(l)) resolveLine(l);
    });
    const exited = proc.exited.then((code) => {
      throw new Error(`broker ${this.name}: exited with ${code} before listening\nstdout: ${this.stdoutText}\nstderr:\n${this.stderrTail()}`);
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`broker ${this.name}: no listening line within ${startTimeoutMs} ms\nstderr:\n${this.stderrTail()}`)), deadline - Date.now());
    });
    try {
      return await Promise.race([found, exited, timeout]);
    } finally {
      clearTimeout(timer);
      exited.catch(() => {});
    }
  }

  /** SIGTERM and wait for the exit code (a graceful stop exits 0). */
  async stop(): Promise<number | null> {
    const proc = this.proc;
    if (proc === null) throw new Error(`broker ${this.name}: not running`);
    proc.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      proc.exited,
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (code === "timeout") {
      proc.kill("SIGKILL");
      await proc.exited;
      this.proc = null;
      throw new Error(`broker ${this.name}: did not stop within ${stopTimeoutMs} ms of SIGTERM (killed)\nstderr:\n${this.stderrTail()}`);
    }
    await this.stderrDone;
    this.proc = null;
    return code;
  }

  /** SIGKILL (no chance to flush or checkpoint) and wait until the process is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (proc === null) throw new Error(`broker ${this.name}: not running`);
    proc.kill("SIGKILL");
    await proc.exited;
    await this.stderrDone;
    this.proc = null;
  }

  /** Changes `--set` settings for the next start (e.g. a restart with another authorizer setting). */
  configure(sets: Readonly<Record<string, string>>): void {
    this.sets = { ...this.sets, ...sets };
  }

  /** Start again on the same data dir and port (stop or kill first). */
  async restart(): Promise<void> {
    if (this.proc !== null) throw new Error(`broker ${this.name}: restart while running; stop() or kill() first`);
    await this.start();
  }

  /** Kill a live child (if any) and remove the data dir. */
  async dispose(): Promise<void> {
    if (this.proc !== null) await this.kill();
    if (process.env.BUNKA_INTEROP_KEEP_STDERR !== undefined) {
      const path = join(tmpdir(), `bunka-${this.name}-stderr-${process.pid}-${Date.now()}.log`);
      writeFileSync(path, this.stderrText);
      console.log(`broker ${this.name}: stderr kept in ${path}`);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  stderrTail(bytes = 20_000): string {
    return this.stderrText.length > bytes ? `...${this.stderrText.slice(-bytes)}` : this.stderrText;
  }

  /** Lines of stderr that look like the broker hit an unexpected exception. */
  crashLines(): string[] {
    return this.stderrText.split("\n").filter((l) => /uncaught|unhandled|panic|assertion|internal error|level=fatal/i.test(l));
  }
}

export async function startBroker(options: StartOptions = {}): Promise<BrokerProcess> {
  const broker = new BrokerProcess(options);
  try {
    await broker.start();
  } catch (e) {
    await broker.dispose();
    throw e;
  }
  return broker;
}

/**
 * Wraps a test body: when it throws, prints the broker's stderr tail (and its liveness)
 * before rethrowing, so the failure carries the broker's side of the story.
 */
export function guard(broker: () => BrokerProcess | undefined, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (e) {
      const b = broker();
      if (b !== undefined) {
        const full = join(tmpdir(), `bunka-${b.name}-stderr-${process.pid}-${Date.now()}.log`);
        writeFileSync(full, b.stderr());
        console.error(`\n===== broker ${b.name} (alive=${b.alive()}, data ${b.dataDir}) stderr tail (all of it: ${full}) =====\n${b.stderrTail()}\n===== end broker stderr =====`);
      }
      throw e;
    }
  };
}

/** Polls `check` until it returns a value other than undefined; throws after `timeoutMs` or as soon as `check` throws. */
export async function pollUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: Uint8Array;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs a command with optional stdin bytes, bounded in time; never throws for a non-zero exit. */
export async function run(cmd: readonly string[], options: { stdin?: Uint8Array | string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const stdin = options.stdin === undefined ? "ignore" : typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin;
  const proc = Bun.spawn([...cmd], { stdin, stdout: "pipe", stderr: "pipe", cwd: repoRoot, env: { ...cleanEnv(), ...(options.env ?? {}) } });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr, timedOut };
}

export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Throws with the command's output unless it exited 0. */
export function ok(what: string, r: RunResult): RunResult {
  if (r.code !== 0 || r.timedOut) throw new Error(`${what}: exit ${r.code}${r.timedOut ? " (timed out)" : ""}\nstdout: ${text(r.stdout).slice(0, 4000)}\nstderr: ${r.stderr.slice(0, 4000)}`);
  return r;
}

export interface FileBroker {
  /** The file's broker; throws before it has started. */
  b(): BrokerProcess;
  /** Wraps a test body like `guard`, with this file's broker. */
  g(body: () => Promise<void>): () => Promise<void>;
}

/**
 * One broker for a test file: started in beforeAll (then `setup`, e.g. clients connecting),
 * stopped in afterAll after `teardown` (clients disconnecting; its errors are ignored), with
 * a clean stop asserted: exit code 0 and no crash lines in stderr.
 */
export function brokerPerFile(
  options: StartOptions,
  hooks: { setup?: (broker: BrokerProcess) => Promise<void> | void; teardown?: () => Promise<void> } = {},
): FileBroker {
  let broker: BrokerProcess | undefined;
  beforeAll(async () => {
    broker = await startBroker(options);
    await hooks.setup?.(broker);
  });
  afterAll(async () => {
    await hooks.teardown?.().catch(() => {});
    if (broker === undefined) return;
    const code = broker.alive() ? await broker.stop() : null;
    const crashes = broker.crashLines();
    await broker.dispose();
    expect(crashes).toEqual([]);
    expect(code).toBe(0);
  });
  const b = (): BrokerProcess => {
    if (broker === undefined) throw new Error("broker not started");
    return broker;
  };
  return { b, g: (body) => guard(() => broker, body) };
}
