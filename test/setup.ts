/**
 * Test preload: builds the WASM core if it is missing or older than its sources, and turns a
 * timer armed with a bad delay into a test failure.
 *
 * A negative, NaN or over-2^31-1 ms delay runs as 1 ms with only a TimeoutNegativeWarning or
 * TimeoutOverflowWarning on stderr: a deadline computed in the wrong time base, or a default
 * deadline of -1, that nothing else would catch. The warning is thrown as an error, which
 * fails the test that is running (`bun --trace-warnings test <file>` shows where it was armed).
 */
const proc = Bun.spawnSync(["bun", `${import.meta.dir}/../scripts/build-wasm.ts`], { stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) throw new Error("test setup: building the WASM core failed");

process.on("warning", (warning) => {
  if (warning.name === "TimeoutNegativeWarning" || warning.name === "TimeoutOverflowWarning" || warning.name === "TimeoutNaNWarning") {
    throw new Error(`a timer was armed with a bad delay (${warning.name}): ${warning.message.replace(/\n/g, " ")}`);
  }
});
