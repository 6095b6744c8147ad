/** Test preload: builds the WASM core if it is missing or older than its sources. */
const proc = Bun.spawnSync(["bun", `${import.meta.dir}/../scripts/build-wasm.ts`], { stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) throw new Error("test setup: building the WASM core failed");
