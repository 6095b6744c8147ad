/**
 * The newcomer path on a fresh clone (scripts/fresh-clone.sh: the tree as committed, with no
 * ../shared beside it): the README's set-up (`bun install`), `./bunka configs` and
 * `bun run bunka configs` list the keys, `bun run broker` starts and stops cleanly, and
 * `bun run test` passes the tests that read Kafka's message definitions by skipping them
 * with their reason. The whole suite from a fresh clone is a longer run by hand:
 * `bash scripts/fresh-clone.sh "$(mktemp -d)" --run-tests`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dir, "../..");
const parent = mkdtempSync(join(tmpdir(), "bunka-newcomer-"));
let clone = "";

function env(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("BUNKA_")) out[k] = v;
  return out;
}

function sh(cmd: readonly string[], timeoutMs = 120_000): { code: number | null; stdout: string; stderr: string } {
  const r = Bun.spawnSync([...cmd], { cwd: clone === "" ? repo : clone, env: env(), timeout: timeoutMs });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

beforeAll(() => {
  const r = sh(["bash", join(repo, "scripts/fresh-clone.sh"), parent]);
  if (r.code !== 0) throw new Error(`fresh-clone.sh: ${r.stderr}`);
  clone = r.stdout.trim();
  const install = sh(["bun", "install"], 300_000);
  if (install.code !== 0) throw new Error(`bun install in the fresh clone: exit ${install.code}\n${install.stdout}\n${install.stderr}`);
}, 320_000);

afterAll(() => rmSync(parent, { recursive: true, force: true }));

test("the clone has no ../shared and bun install built the WASM core", () => {
  expect(existsSync(join(clone, "../shared"))).toBe(false);
  expect(existsSync(join(clone, "build/bunka.wasm"))).toBe(true);
});

test("`./bunka configs` and `bun run bunka configs` list every key", () => {
  for (const cmd of [["./bunka", "configs"], ["bun", "run", "bunka", "configs"]]) {
    const r = sh(cmd);
    expect({ cmd, code: r.code }).toEqual({ cmd, code: 0 });
    expect(r.stdout).toContain("node.id = 1");
    expect(r.stdout).toContain("log.dirs = (unset)");
  }
  const bad = sh(["./bunka", "no-such-command"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr.split("\n")[0]).toBe('bunka: unknown command "no-such-command" (bunka --help shows the usage)');
});

test("`bun run broker` starts, says where it listens, and stops on SIGTERM", async () => {
  const proc = Bun.spawn(["bun", "run", "broker"], {
    cwd: clone,
    env: { ...env(), BUNKA_LISTENERS: "PLAINTEXT://127.0.0.1:0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  expect(out).toMatch(/^bunka \S+: node 1 of cluster \S+ listening on PLAINTEXT:\/\/127\.0\.0\.1:\d+; data in .*\/data\n/);
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
});

test("`bun run test` passes the tests that need Kafka's message definitions by skipping them, with the reason", () => {
  const r = sh(["bun", "run", "test", "test/protocol/gen", "test/protocol/messages"], 300_000);
  const out = r.stdout + r.stderr;
  expect({ code: r.code, tail: out.slice(-600) }).toEqual({ code: 0, tail: out.slice(-600) });
  expect(out).toMatch(/\b0 fail\b/);
  expect(out).toMatch(/\b[1-9]\d* skip\b/);
  expect(out).toContain("skipped: tests that read Kafka's message definitions: Kafka's message definitions are not at");
}, 320_000);
