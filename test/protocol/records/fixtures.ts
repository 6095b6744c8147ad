/** Deterministic test data: JSON-ish log lines, like what producers send. */
export function logLines(bytes: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  const levels = ["info", "warn", "error", "debug"];
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const line =
      JSON.stringify({
        ts: 1_700_000_000_000 + (next() % 100_000),
        level: levels[next() % 4],
        service: `svc-${next() % 20}`,
        traceId: next().toString(16) + next().toString(16),
        msg: `request handled path=/api/v1/items/${next() % 10_000} status=${[200, 201, 404, 500][next() % 4]}`,
        latencyMs: next() % 1000,
        user: `user${next() % 500}`,
      }) + "\n";
    parts.push(line);
    length += line.length;
  }
  return new TextEncoder().encode(parts.join("").slice(0, bytes));
}
