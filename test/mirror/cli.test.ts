/**
 * `bunka mirror` on the command line: a bad argument is one line and exit 2; a refused
 * configuration file is one line naming file:line and exit 1, before anything is contacted.
 */
import { expect, test } from "bun:test";
import { run, text } from "../interop/broker-process.ts";
import { mainPath, writeConfig } from "./helpers.ts";

test("bad arguments and bad configuration files", async () => {
  const noConfig = await run(["bun", mainPath, "mirror"]);
  expect([noConfig.code, noConfig.stderr.trim()]).toEqual([2, "bunka mirror: mirror needs --config FILE"]);
  const unknown = await run(["bun", mainPath, "mirror", "status", "--config", "x", "--group", "g"]);
  expect([unknown.code, unknown.stderr.trim()]).toEqual([2, 'bunka mirror: unknown argument "--group" (bunka mirror --help shows the usage)']);
  const noGroup = await run(["bun", mainPath, "mirror", "translate-offsets", "--config", "x"]);
  expect([noGroup.code, noGroup.stderr.trim()]).toEqual([2, "bunka mirror: translate-offsets needs --group G"]);
  const missing = await run(["bun", mainPath, "mirror", "--config", "/nonexistent/mm2.properties"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr.trim().split("\n").length).toBe(1);
  const path = writeConfig("clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = 127.0.0.1:2\nA->B.enabled = true\nA->B.emit.heartbeats.enabled = sometimes\n");
  const bad = await run(["bun", mainPath, "mirror", "--config", path]);
  expect([bad.code, bad.stderr.trim()]).toEqual([1, `bunka mirror: ${path}:5: A->B.emit.heartbeats.enabled = "sometimes" is not true or false`]);
  const help = await run(["bun", mainPath, "mirror", "--help"]);
  expect(help.code).toBe(0);
  expect(text(help.stdout)).toContain("bunka mirror translate-offsets --config FILE --group G");
}, 60_000);
