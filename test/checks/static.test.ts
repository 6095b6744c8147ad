/**
 * Static checks that run with the tests: the strict TypeScript build and the layering rule
 * (imports only go down; only the Bun adapter and the entry point touch Bun/node APIs).
 */
import { expect, test } from "bun:test";
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");

test("tsc --noEmit passes under the strict settings", () => {
  const proc = Bun.spawnSync([resolve(root, "node_modules/.bin/tsc"), "--noEmit", "-p", root], { cwd: root });
  const output = proc.stdout.toString() + proc.stderr.toString();
  if (proc.exitCode !== 0) console.error(output);
  expect(proc.exitCode).toBe(0);
}, 300_000);

test("layering: imports only go down", () => {
  const proc = Bun.spawnSync(["bun", resolve(root, "scripts/check-layers.ts")], { cwd: root });
  const output = proc.stdout.toString() + proc.stderr.toString();
  if (proc.exitCode !== 0) console.error(output);
  expect(proc.exitCode).toBe(0);
});
