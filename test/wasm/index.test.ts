/** The selected `core`: WASM by default, the twin with BUNKA_WASM=off, and its mixed paths agree with the twin. */
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { core, tsTwin, wasmCore } from "../../src/wasm/index.ts";
import { seeded, unalignedBytes } from "./helpers.ts";

test("core is the WASM selection unless BUNKA_WASM=off", () => {
  const off = process.env["BUNKA_WASM"]?.toLowerCase() === "off";
  expect(core.kind).toBe(off ? "ts" : "wasm");
  expect(wasmCore === null).toBe(off);
});

test("BUNKA_WASM=off selects the TypeScript twin", () => {
  const index = resolve(import.meta.dir, "../../src/wasm/index.ts");
  const script = `const m = await import(${JSON.stringify(index)}); console.log(m.core.kind, m.wasmCore === null, m.core.crc32c(new TextEncoder().encode("123456789")));`;
  const run = (value: string): string => {
    const proc = Bun.spawnSync(["bun", "-e", script], { env: { ...process.env, BUNKA_WASM: value } });
    expect(proc.exitCode).toBe(0);
    return proc.stdout.toString().trim();
  };
  expect(run("off")).toBe(`ts true ${0xe3069283}`);
  expect(run("on")).toBe(`wasm false ${0xe3069283}`);
});

test("core's per-size choices agree with the twin on both sides of each threshold", () => {
  seeded("core thresholds", (rng) => {
    for (const n of [0, 1, 63, 127, 128, 129, 4096, 300_000]) {
      const bytes = unalignedBytes(rng, n);
      const seed = rng.nextU32();
      expect(core.crc32c(bytes, seed)).toBe(tsTwin.crc32c(bytes, seed));
    }
    for (const [entries, targetCount] of [
      [1024, 10],
      [1024, 300],
      [100_000, 300],
      [100, 5000],
    ] as const) {
      const index = new Uint8Array(entries * 8);
      const view = new DataView(index.buffer);
      for (let i = 0; i < entries; i++) view.setUint32(i * 8, i * 3 + 5);
      const targets = Uint32Array.from({ length: targetCount }, () => rng.int(entries * 3 + 20));
      const a = new Int32Array(targetCount);
      const b = new Int32Array(targetCount);
      core.indexLookupMany(index, entries, targets, a);
      tsTwin.indexLookupMany(index, entries, targets, b);
      expect(a).toEqual(b);
      expect(core.indexLookup(index, entries, targets[0]!)).toBe(b[0]!);
    }
  });
});
