/**
 * The selected `core`: WASM by default (CRC32C native where the CPU has it), the twin with
 * BUNKA_WASM=off, and its mixed paths agree with the twin.
 */
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { core, crcImplementation, nativeCrc, tsTwin, wasmCore } from "../../src/wasm/index.ts";
import { buildBatch, concat, nativeCrcExpected, seeded, unalignedBytes } from "./helpers.ts";

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

test("CRC32C runs native on x86-64 unless BUNKA_NATIVE_CRC=off or BUNKA_WASM=off", () => {
  const index = resolve(import.meta.dir, "../../src/wasm/index.ts");
  const script = `const m = await import(${JSON.stringify(index)}); console.log(m.crcImplementation + "|" + (m.nativeCrc !== null) + "|" + m.core.crc32c(new Uint8Array(1000).fill(7)));`;
  const run = (env: Record<string, string>): string[] => {
    const { BUNKA_NATIVE_CRC: _n, BUNKA_WASM: _w, ...rest } = process.env;
    const proc = Bun.spawnSync(["bun", "-e", script], { env: { ...rest, ...env } });
    expect(proc.exitCode).toBe(0);
    return proc.stdout.toString().trim().split("|");
  };
  const crc = String(tsTwin.crc32c(new Uint8Array(1000).fill(7)));
  expect(run({})).toEqual(nativeCrcExpected ? ["native (SSE4.2)", "true", crc] : [expect.stringMatching(/^WASM \(native unavailable: /), "false", crc]);
  expect(run({ BUNKA_NATIVE_CRC: "off" })).toEqual(["WASM (native unavailable: BUNKA_NATIVE_CRC=off)", "false", crc]);
  expect(run({ BUNKA_WASM: "off" })).toEqual(["TypeScript (BUNKA_WASM=off)", "false", crc]);
  expect(crcImplementation.startsWith("native")).toBe(nativeCrc !== null);
});

test("core's verified scan agrees with the twin, and finds a damaged CRC", () => {
  const body = Uint8Array.from({ length: 20_000 }, (_, i) => i * 13);
  const run = concat([buildBatch({ body: body.subarray(0, 100) }), buildBatch({ body, lastOffsetDelta: 4 }), buildBatch({ body: body.subarray(0, 7000) })]);
  const options = { verifyCrc: true, requireDenseOffsets: true, maxBatchBytes: 1 << 20 };
  const good = core.scanBatches(run.slice(), options);
  expect(good.error).toBeNull();
  expect(good.count).toBe(3);
  expect(good.validBytes).toBe(tsTwin.scanBatches(run.slice(), options).validBytes);
  for (const at of [61 + 50, 161 + 21, 161 + 61 + 19_999, run.length - 1]) {
    const bad = run.slice();
    bad[at]! ^= 0x40;
    const scan = core.scanBatches(bad, options);
    expect(scan.error).toBe("badCrc");
    expect(scan.validBytes).toBe(tsTwin.scanBatches(bad.slice(), options).validBytes);
  }
});

test("core's per-size choices agree with the twin on both sides of each threshold", () => {
  seeded("core thresholds", (rng) => {
    for (const n of [0, 1, 63, 64, 65, 127, 128, 129, 4096, 300_000]) {
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
