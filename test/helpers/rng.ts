// A small seeded generator (mulberry32) for randomized kernel tests: repeatable cases, each replayable from its seed.

import { must } from '../../src/util/must.js';
export function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: T[]): T => must(xs[Math.floor(next() * xs.length)], 'pick needs a non-empty list'),
    normal: (n: number, scale = 1, offset = 0) => {
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++)
        v[i] = offset + scale * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
      return v;
    },
    spikes: (n: number, rate: number) => Float32Array.from({ length: n }, () => (next() < rate ? 1 : 0)),
  };
}
