/**
 * Assertions for the Raft core: the written-down model of the code (STYLE habit 7). A
 * failing assertion is a bug in bunka, never a condition a peer can cause: untrusted input is
 * answered with an error code, not an assertion. The message is built only on failure.
 */

export class RaftAssertionError extends Error {
  override readonly name = "RaftAssertionError";
}

export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new RaftAssertionError(typeof message === "string" ? message : message());
}
