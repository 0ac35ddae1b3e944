// xorshift32: a seeded sequence, so a randomised test (a fault corpus, a kill
// schedule) is the same every run and a failure can be replayed.
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}
