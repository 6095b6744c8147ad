/**
 * Builds the WASM core: `assembly/index.ts` → `build/bunka.wasm` with AssemblyScript.
 * Skips the build when the output is newer than every source under `assembly/`.
 * Run: `bun scripts/build-wasm.ts [--force]`.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const out = join(root, "build", "bunka.wasm");
const sources = readdirSync(join(root, "assembly"))
  .filter((f) => f.endsWith(".ts") || f.endsWith(".json"))
  .map((f) => join(root, "assembly", f));
sources.push(import.meta.path);

const force = process.argv.includes("--force");
if (!force && existsSync(out)) {
  const outMtime = statSync(out).mtimeMs;
  if (sources.every((s) => statSync(s).mtimeMs <= outMtime)) process.exit(0);
}
mkdirSync(join(root, "build"), { recursive: true });
const asc = join(root, "node_modules", ".bin", "asc");
const args = [
  join(root, "assembly", "index.ts"),
  "--outFile", out,
  "--optimizeLevel", "3",
  "--shrinkLevel", "0",
  // No GC, no allocator: the module allocates nothing at run time (assembly/scratch.ts).
  "--runtime", "stub",
  "--noAssert",
  // No imports at all: a trap is a bug and surfaces as a WebAssembly.RuntimeError.
  "--use", "abort=",
  "--initialMemory", "2",
  // assembly/layout.ts owns [0, LAYOUT_END).
  "--memoryBase", "32768",
];
const proc = Bun.spawnSync([asc, ...args], { cwd: root, stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) {
  console.error(`build-wasm: asc failed with exit code ${proc.exitCode}`);
  process.exit(1);
}
console.log(`build-wasm: wrote ${out} (${statSync(out).size} bytes)`);
