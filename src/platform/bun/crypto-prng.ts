/** A `Prng` drawing from the operating system's CSPRNG: for ids that must not collide across machines (cluster ids). */
import type { Prng } from "../prng.ts";

export const cryptoPrng: Prng = {
  nextU32: () => crypto.getRandomValues(new Uint32Array(1))[0] ?? 0,
  nextFloat: () => (crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) / 2 ** 32,
  int: (maxExclusive) => Math.floor(((crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) / 2 ** 32) * maxExclusive),
};
