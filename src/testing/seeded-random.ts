/** A source of uniform numbers in [0, 1). */
export type RandomSource = () => number;

/**
 * A small deterministic PRNG (mulberry32) so fault injection and latency jitter repeat exactly
 * for a given seed; `Math.random` when no seed is given.
 */
export function createRandom(seed?: number): RandomSource {
  if (seed === undefined) return Math.random;
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
