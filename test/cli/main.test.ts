/** `bun src/main.ts` as a subprocess: start-up line, a served ApiVersions request, SIGTERM → exit 0, errors → exit 2. */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeResponse, encodeRequest } from "../../src/protocol/frame.ts";
import { flattenChunks } from "../../src/protocol/codec/writer.ts";

const main = join(import.meta.dir, "../../src/main.ts");

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("BUNKA_")) env[k] = v;
  return env;
}

async function readLine(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<{ line: string; rest: () => Promise<string> }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
    text += decoder.decode(value);
    const line = text.split("\n").find((l) => pattern.test(l));
    if (line !== undefined) {
      return {
        line,
        rest: async () => {
          for (;;) {
            const r = await reader.read();
            if (r.done) return text;
            text += decoder.decode(r.value);
          }
        },
      };
    }
  }
}

test("broker prints where it listens and where its data is, answers ApiVersions, exits 0 on SIGTERM", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-cli-"));
  try {
    const proc = Bun.spawn(["bun", main, "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${dir}/data`], {
      stdout: "pipe",
      stderr: "pipe",
      env: cleanEnv(),
    });
    const { line } = await readLine(proc.stdout, /listening on/);
    const m = /listening on PLAINTEXT:\/\/127\.0\.0\.1:(\d+); data in (.+)$/.exec(line);
    expect(m).not.toBeNull();
    expect(m?.[2]).toBe(`${dir}/data`);
    const port = Number(m?.[1]);
    // An ApiVersions v3 request over a real socket gets a v0-header response listing Produce from v0.
    let received = new Uint8Array(0);
    let gotAll!: () => void;
    const done = new Promise<void>((r) => (gotAll = r));
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_s, chunk: Uint8Array) {
          const next = new Uint8Array(received.length + chunk.length);
          next.set(received);
          next.set(chunk, received.length);
          received = next;
          if (received.length >= 4 && received.length >= 4 + new DataView(received.buffer).getInt32(0)) gotAll();
        },
      },
    });
    socket.write(flattenChunks(encodeRequest(18, 3, 7, "cli-test", { clientSoftwareName: "t", clientSoftwareVersion: "1" })));
    await done;
    socket.end();
    const { header, body } = decodeResponse(18, 3, received.subarray(4));
    expect(header.correlationId).toBe(7);
    expect(body.errorCode).toBe(0);
    expect(body.apiKeys.find((k) => k.apiKey === 0)?.minVersion).toBe(0);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toContain('msg="signal received; stopping" signal=SIGTERM');
    expect(stderr).toContain("msg=stopped");
    expect(await Bun.file(`${dir}/data/meta.properties`).exists()).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a config file and environment apply; a bad value exits 2 with one message naming key and source", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-cli-"));
  try {
    const props = join(dir, "server.properties");
    writeFileSync(props, "# test\nlisteners=PLAINTEXT://127.0.0.1:0\nnum.partitions = many\n");
    const bad = Bun.spawnSync(["bun", main, "broker", "--config", props], { env: cleanEnv() });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toBe(
      `bunka: config error: num.partitions = "many" (from ${props}:3) is invalid (not an integer): expected an integer in [1, 2147483647]\n`,
    );
    const env = { ...cleanEnv(), BUNKA_NUM_PARTITIONS: "0" };
    const envBad = Bun.spawnSync(["bun", main, "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0"], { env });
    expect(envBad.exitCode).toBe(2);
    expect(envBad.stderr.toString()).toContain("(from environment variable BUNKA_NUM_PARTITIONS)");
    const unknown = Bun.spawnSync(["bun", main, "broker", "--set", "no.such=1"], { env: cleanEnv() });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr.toString()).toContain('unknown key "no.such"');
    const badArg = Bun.spawnSync(["bun", main, "broker", "--bogus"], { env: cleanEnv() });
    expect(badArg.exitCode).toBe(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--help, --version and configs", () => {
  const help = Bun.spawnSync(["bun", main, "--help"], { env: cleanEnv() });
  expect(help.exitCode).toBe(0);
  expect(help.stdout.toString()).toContain("--set key=value");
  const version = Bun.spawnSync(["bun", main, "--version"], { env: cleanEnv() });
  expect(version.stdout.toString()).toMatch(/^bunka \d+\.\d+\.\d+/);
  const configs = Bun.spawnSync(["bun", main, "configs"], { env: cleanEnv() });
  expect(configs.stdout.toString()).toContain("socket.request.max.bytes = 104857600");
  const brokerHelp = Bun.spawnSync(["bun", main, "broker", "--help"], { env: cleanEnv() });
  expect(brokerHelp.exitCode).toBe(0);
});

test("expected start-up failures print one line naming the path or port and the cause, exit 1, no stack", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-cli-"));
  try {
    const file = join(dir, "a-file");
    writeFileSync(file, "not a directory");
    const notDir = Bun.spawnSync(["bun", main, "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${file}/data`], { env: cleanEnv() });
    expect(notDir.exitCode).toBe(1);
    expect(notDir.stderr.toString().trim().split("\n")).toEqual([`bunka: start-up failed: mkdirp ${file}/data: a path component is not a directory (ENOTDIR)`]);

    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const inUse = Bun.spawnSync(["bun", main, "broker", "--set", `listeners=PLAINTEXT://127.0.0.1:${taken.port}`, "--set", `log.dirs=${dir}/data`], { env: cleanEnv() });
      expect(inUse.exitCode).toBe(1);
      const lines = inUse.stderr.toString().trim().split("\n");
      expect(lines.filter((l) => !l.startsWith("ts="))).toHaveLength(1);
      expect(lines.at(-1)).toContain(`127.0.0.1:${taken.port}`);
      expect(inUse.stderr.toString()).not.toContain("    at ");
    } finally {
      taken.stop(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("storage random-uuid and format: every dir gets the given cluster id; formatted dirs stop it unless --ignore-formatted; the broker starts on them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-cli-"));
  const run = (...args: string[]) => {
    const r = Bun.spawnSync(["bun", main, ...args], { env: cleanEnv() });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };
  try {
    const uuid = run("storage", "random-uuid");
    expect(uuid.code).toBe(0);
    const id = uuid.out.trim();
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(run("storage", "random-uuid").out.trim()).not.toBe(id);

    const dirs = `log.dirs=${dir}/a,${dir}/b`;
    const first = run("storage", "format", "--cluster-id", id, "--set", dirs, "--set", "node.id=3");
    expect(first).toEqual({ code: 0, out: `formatted: ${dir}/a (cluster ${id}, node 3)\nformatted: ${dir}/b (cluster ${id}, node 3)\n`, err: "" });
    const again = run("storage", "format", "-t", id, "--set", dirs, "--set", "node.id=3");
    expect(again.code).toBe(1);
    expect(again.err).toBe(`bunka: log dir ${dir}/a is already formatted (cluster ${id}, node 3); use --ignore-formatted to leave formatted dirs as they are\n`);
    const ignoring = run("storage", "format", "-t", id, "--set", `log.dirs=${dir}/a,${dir}/c`, "--set", "node.id=3", "--ignore-formatted");
    expect(ignoring.out).toBe(`already formatted: ${dir}/a (cluster ${id}, node 3)\nformatted: ${dir}/c (cluster ${id}, node 3)\n`);

    for (const bad of [["storage", "format", "-t", "nope"], ["storage", "format"], ["storage", "bogus"], ["storage", "format", "-t", id, "--set", "cluster.id=AAAAAAAAAAAAAAAAAAAAAA"]]) {
      const r = run(...bad);
      expect({ bad, code: r.code, lines: r.err.trim().split("\n").length }).toEqual({ bad, code: 2, lines: 1 });
    }

    const proc = Bun.spawn(["bun", main, "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${dir}/a,${dir}/b,${dir}/c`, "--set", "node.id=3"], {
      stdout: "pipe",
      stderr: "pipe",
      env: cleanEnv(),
    });
    const { line } = await readLine(proc.stdout, /listening on/);
    expect(line).toContain(`node 3 of cluster ${id} listening on`);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
