/**
 * The process around the broker: stderr as a log sink, termination signals, exit. Only the
 * entry point uses this; everything below it takes a `LogSink` and a stop function.
 */
import { writeSync } from "node:fs";
import type { LogSink } from "../../util/log.ts";

/** Writes each line to stderr synchronously, so a line logged just before exit is not lost. */
export const stderrSink: LogSink = (line) => {
  writeSync(2, `${line}\n`);
};

/** Writes to stdout synchronously (the start-up banner). */
export function printStdout(text: string): void {
  writeSync(1, text.endsWith("\n") ? text : `${text}\n`);
}

/**
 * Calls `onSignal` on the first SIGTERM or SIGINT. A second one exits at once with status 130,
 * for an operator whose graceful shutdown is stuck. Returns a function removing the handlers.
 */
export function onTerminationSignal(onSignal: (signal: "SIGTERM" | "SIGINT") => void): () => void {
  let received = 0;
  const handler = (signal: "SIGTERM" | "SIGINT"): void => {
    received++;
    if (received > 1) process.exit(130);
    onSignal(signal);
  };
  const term = (): void => handler("SIGTERM");
  const int = (): void => handler("SIGINT");
  process.on("SIGTERM", term);
  process.on("SIGINT", int);
  return () => {
    process.off("SIGTERM", term);
    process.off("SIGINT", int);
  };
}

export function exitProcess(code: number): never {
  process.exit(code);
}
