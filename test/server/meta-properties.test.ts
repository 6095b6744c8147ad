import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Uuid } from "../../src/metadata/uuid.ts";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { MetaPropertiesError, ensureMetaProperties, formatMetaProperties, parseMetaProperties } from "../../src/server/meta-properties.ts";

test("meta.properties v1 round-trips and Kafka's own files parse (v1 and v0)", () => {
  const meta = { clusterId: "MkU3OEVBNTcwNTJENDM2Qg" as Uuid, nodeId: 1, directoryId: "J8ZuSzLWQJ-Wq8ZBaBeU6Q" as Uuid, version: 1 as const };
  expect(parseMetaProperties("m", formatMetaProperties(meta, "c"))).toEqual(meta);
  const kafka = "#\n#Tue Nov 19 10:00:00 UTC 2024\nnode.id=2\ndirectory.id=J8ZuSzLWQJ-Wq8ZBaBeU6Q\nversion=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n";
  expect(parseMetaProperties("m", kafka)).toMatchObject({ nodeId: 2, version: 1 });
  const v0 = "version=0\nbroker.id=5\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n";
  expect(parseMetaProperties("m", v0)).toEqual({ clusterId: meta.clusterId, nodeId: 5, directoryId: null, version: 0 });
  expect(() => parseMetaProperties("m", "version=2\n")).toThrow("unsupported version 2");
  expect(() => parseMetaProperties("m", "version=1\nnode.id=x\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg")).toThrow('node.id is "x"');
  expect(() => parseMetaProperties("m", "version=1\nnode.id=1\ncluster.id=nope")).toThrow(MetaPropertiesError);
});

test("ensureMetaProperties creates once, then checks node and cluster ids", () => {
  const dir = mkdtempSync(join(tmpdir(), "bunka-meta-"));
  try {
    const fs = new BunFileSystem();
    const data = join(dir, "a/b");
    const first = ensureMetaProperties(fs, data, { nodeId: 1, clusterId: null, prng: new SeededPrng(1), nowMs: 0 });
    expect(first.created).toBe(true);
    const again = ensureMetaProperties(fs, data, { nodeId: 1, clusterId: first.meta.clusterId, prng: new SeededPrng(2), nowMs: 0 });
    expect(again).toEqual({ meta: first.meta, created: false });
    expect(() => ensureMetaProperties(fs, data, { nodeId: 1, clusterId: "AAAAAAAAAAAAAAAAAAAAAQ", prng: new SeededPrng(3), nowMs: 0 })).toThrow(
      "does not match the configured cluster.id",
    );
    const configured = ensureMetaProperties(fs, join(dir, "c"), { nodeId: 9, clusterId: "MkU3OEVBNTcwNTJENDM2Qg", prng: new SeededPrng(4), nowMs: 0 });
    expect(configured.meta.clusterId).toBe("MkU3OEVBNTcwNTJENDM2Qg" as Uuid);
    expect(readFileSync(join(dir, "c/meta.properties"), "utf8")).toContain("node.id=9\nversion=1\n");
    writeFileSync(join(dir, "c/meta.properties"), "garbage=\\u00zz\n");
    expect(() => ensureMetaProperties(fs, join(dir, "c"), { nodeId: 9, clusterId: null, prng: new SeededPrng(5), nowMs: 0 })).toThrow(MetaPropertiesError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
