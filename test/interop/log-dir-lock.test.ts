/**
 * One broker per data directory, on real processes: a second `bunka broker` pointed at the
 * running broker's log dir (on another port) exits 1 with one line naming the dir and the
 * holder's pid, and the first broker's records are all there, before and after a restart.
 * A broker killed with SIGKILL restarts on its dir at once (the kernel dropped the lock).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { brokerPerFile, ok, repoRoot, run, text } from "./broker-process.ts";

const { b, g } = brokerPerFile({ name: "dir-lock", sets: { "num.partitions": "1" } });
const topic = "demo";
const records = Array.from({ length: 20 }, (_, i) => `record-${i}`);

function kcat(args: readonly string[], stdin?: string): ReturnType<typeof run> {
  return run(["kcat", "-b", b().bootstrap, "-X", "socket.timeout.ms=10000", ...args], { timeoutMs: 30_000, ...(stdin === undefined ? {} : { stdin }) });
}

async function readBack(): Promise<string[]> {
  const r = ok("consume", await kcat(["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"]));
  return text(r.stdout).split("\n").filter((l) => l !== "");
}

describe("log dir lock", () => {
  test(
    "a second broker on the same dir refuses to start; the first one's records are untouched",
    g(async () => {
      ok("produce", await kcat(["-P", "-t", topic, "-X", "acks=all"], `${records.join("\n")}\n`));
      expect(await readBack()).toEqual(records);

      const second = await run(["bun", join(repoRoot, "src/main.ts"), "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", `log.dirs=${b().dataDir}`], { timeoutMs: 30_000 });
      expect(second.timedOut).toBe(false);
      expect(second.code).toBe(1);
      expect(text(second.stdout)).toBe("");
      const lines = second.stderr.split("\n").filter((l) => l !== "");
      expect(lines).toEqual([`bunka: log dir ${b().dataDir} is locked by process ${b().pid}: is another broker running on it?`]);

      // The first broker still serves every record, and so it does after a clean restart.
      expect(await readBack()).toEqual(records);
      expect(await b().stop()).toBe(0);
      await b().restart();
      expect(await readBack()).toEqual(records);
      expect(b().stderr()).not.toContain("stray partition log");
    }),
  );

  test(
    "a broker killed with SIGKILL restarts on its dir at once",
    g(async () => {
      await b().kill();
      await b().restart(); // throws when the broker exits instead of listening
      expect(await readBack()).toEqual(records);
    }),
  );
});
