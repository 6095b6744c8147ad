import { expect, test } from "bun:test";
import { Logger, memorySink, parseLogfmt } from "../../src/util/log.ts";

test("lines are logfmt with ts, level, msg, context then fields; levels filter", () => {
  const cap = memorySink();
  const log = new Logger({ sink: cap.sink, level: "info", nowMs: () => 0 });
  const child = log.child({ component: "server" }).child({ conn: 7 });
  child.debug("hidden");
  child.info("listening", { port: 9092, ok: true, none: undefined, nil: null });
  child.error("failed", { error: new TypeError("bad thing") });
  expect(cap.lines).toEqual([
    "ts=1970-01-01T00:00:00.000Z level=info msg=listening component=server conn=7 port=9092 ok=true nil=null",
    'ts=1970-01-01T00:00:00.000Z level=error msg=failed component=server conn=7 error="bad thing" error_type=TypeError',
  ]);
  expect(log.isEnabled("debug")).toBe(false);
  expect(child.level).toBe("info");
});

test("values needing quotes are escaped and parse back; a line never contains a newline", () => {
  const cap = memorySink();
  const log = new Logger({ sink: cap.sink, nowMs: () => 0 });
  const nasty = 'a "quoted" \\ back\nslash\r\t\u0001 = end';
  log.warn(nasty, { "weird key!": nasty, empty: "" });
  const line = cap.lines[0] ?? "";
  expect(line.includes("\n")).toBe(false);
  const rec = parseLogfmt(line);
  expect(rec?.msg).toBe(nasty);
  expect(rec?.weird_key_).toBe(nasty);
  expect(rec?.empty).toBe("");
  expect(rec?.level).toBe("warn");
});

test("a throwing sink never reaches the caller", () => {
  const log = new Logger({
    sink: () => {
      throw new Error("stderr closed");
    },
  });
  expect(() => log.error("x")).not.toThrow();
});
