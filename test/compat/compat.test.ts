/**
 * Conformance in the test suite: librdkafka 2.0.2's own integration tests (the core set) and
 * kcat's own tests, run against a real bunka broker by test/compat/librdkafka.sh and
 * test/compat/kcat.sh. Each conformance test is one bun test here, so CI counts them.
 *
 * The tools are built from Debian's source packages by bench/e2e/build-librdkafka.sh (cached
 * in ~/.cache/bunka; needs root or sudo for apt). A script that skips a test (kcat's Avro
 * test without a schema registry) leaves it out of the list below, never counted as passed.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");
const CORE = "0001 0002 0003 0005 0007 0008 0011 0012 0013 0014 0015 0017 0018 0019 0029 0030 0031 0034 0035 0036 0041 0042 0044 0054 0056 0057 0063 0099".split(" ");
const KCAT = ["0000-unit", "0001-exit_eof", "0002-delim"];
const LINE = /^(PASS|FAIL|SKIP|TIMEOUT)\s+(\S+)\s+(\d+)s\s*(.*)$/;

type Outcome = { status: string; seconds: number; reason: string };

async function runSuite(script: string, args: string[]): Promise<{ results: Map<string, Outcome>; output: string }> {
  const proc = Bun.spawn(["bash", join(root, script), ...args], { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, COMPAT_TIMEOUT: "240" } });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  const results = new Map<string, Outcome>();
  for (const line of stdout.split("\n")) {
    const m = LINE.exec(line.trim());
    if (m !== null) results.set(m[2]!, { status: m[1]!, seconds: Number(m[3]), reason: m[4] ?? "" });
  }
  return { results, output: `${stdout}\n${stderr}` };
}

function check(suite: () => { results: Map<string, Outcome>; output: string }, id: string): void {
  const { results, output } = suite();
  const outcome = results.get(id);
  if (outcome?.status !== "PASS") console.error(`${id}: ${outcome === undefined ? "no result line" : `${outcome.status} ${outcome.reason}`}\n${output.slice(-4000)}`);
  expect({ id, status: outcome?.status ?? "missing" }).toEqual({ id, status: "PASS" });
}

describe("librdkafka 2.0.2 integration tests (core set)", () => {
  let suite: { results: Map<string, Outcome>; output: string } = { results: new Map(), output: "" };
  beforeAll(async () => {
    const build = Bun.spawnSync(["bash", join(root, "bench/e2e/build-librdkafka.sh")], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`building librdkafka's tests failed:\n${build.stderr.toString().slice(-4000)}`);
    suite = await runSuite("test/compat/librdkafka.sh", ["core"]);
  }, 20 * 60_000);
  for (const id of CORE) test(`librdkafka test ${id}`, () => check(() => suite, id));
});

describe("kcat's own tests", () => {
  let suite: { results: Map<string, Outcome>; output: string } = { results: new Map(), output: "" };
  beforeAll(async () => {
    suite = await runSuite("test/compat/kcat.sh", []);
  }, 10 * 60_000);
  for (const id of KCAT) test(`kcat test ${id}`, () => check(() => suite, id));
});
