/**
 * Command-line arguments of the simulators' soak scripts (test/raft/sim-main.ts,
 * test/cluster-sim/main.ts): `--name value` options, `--name` flags, and the seed range
 * (`--seed N` replays one seed; otherwise `--first N --seeds N`).
 */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

export const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** A whole-number option, `dflt` when absent; a bad value throws naming the option. */
export function num(name: string, dflt: number): number {
  const v = arg(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} ${v}: expected a whole number`);
  return n;
}

/** The seeds to run: one with `--seed`, else `--seeds` (default `defaultCount`) from `--first` (1). */
export function seedRange(defaultCount: number): { single: boolean; first: number; count: number } {
  const single = arg("seed") !== undefined;
  return single ? { single, first: num("seed", 1), count: 1 } : { single, first: num("first", 1), count: num("seeds", defaultCount) };
}
