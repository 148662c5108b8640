// Statistics for comparing models: intervals over seeds and over validation images, McNemar's paired test, and the
// one-line verdict. Pure functions over plain arrays (no I/O, seeded randomness) so they can be checked against
// textbook values.
import { wilson } from '../serve/results.js';
import { Rng } from '../util/rng.js';
import { must } from '../util/must.js';

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** How the interval was made, in words. */
  method: string;
}

// Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (any statistics table).
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
const Z975 = 1.959964;

/** The 97.5% quantile of Student's t with df degrees of freedom (a table to 30, then Cornish-Fisher's expansion). */
export function t975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new Error(`degrees of freedom must be a whole number >= 1, got ${df}`);
  if (df <= 30) return must(T975[df - 1], 'the table covers 1..30');
  const z = Z975;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
}

export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

/** Sample standard deviation (n - 1). */
export function sampleSd(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** 95% t interval for the mean of independent values (seeds); needs at least two. */
export function meanCI(xs: ArrayLike<number>): Interval {
  if (xs.length < 2) throw new Error(`an interval over seeds needs at least 2 values, got ${xs.length}`);
  const m = mean(xs);
  const half = (t975(xs.length - 1) * sampleSd(xs)) / Math.sqrt(xs.length);
  return { estimate: m, lo: m - half, hi: m + half, method: `t interval over ${xs.length} seeds` };
}

function quantileSorted(sorted: Float64Array, q: number): number {
  // Type 7 (linear between order statistics), the default of R and NumPy.
  const h = (sorted.length - 1) * q;
  const i = Math.floor(h);
  return i + 1 < sorted.length ? sorted[i]! + (h - i) * (sorted[i + 1]! - sorted[i]!) : sorted[i]!;
}

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
}

/**
 * 95% percentile bootstrap interval of a statistic of per-image values, resampling images with replacement.
 * `stat` gets the resampled indices; the estimate is the statistic on the images as they are.
 */
function bootstrap(
  n: number,
  stat: (idx: Int32Array | null) => number,
  opts: BootstrapOptions,
  what: string,
): Interval {
  if (n === 0) throw new Error('a bootstrap needs at least one image');
  const B = opts.resamples ?? 2000;
  const rng = new Rng(opts.seed ?? 0);
  const stats = new Float64Array(B);
  const idx = new Int32Array(n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    stats[b] = stat(idx);
  }
  stats.sort();
  return {
    estimate: stat(null),
    lo: quantileSorted(stats, 0.025),
    hi: quantileSorted(stats, 0.975),
    method: `percentile bootstrap over ${n} ${what} (${B} resamples)`,
  };
}

/** Accuracy with a 95% bootstrap interval over images; `correct[i]` is 1 when image i was classified right. */
export function bootstrapAccuracy(correct: ArrayLike<number>, opts: BootstrapOptions = {}): Interval {
  const n = correct.length;
  return bootstrap(
    n,
    (idx) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += correct[idx ? idx[i]! : i]!;
      return s / n;
    },
    opts,
    'images',
  );
}

/** Accuracy of A minus accuracy of B on the same images, with a paired 95% bootstrap interval. */
export function bootstrapDifference(a: ArrayLike<number>, b: ArrayLike<number>, opts: BootstrapOptions = {}): Interval {
  if (a.length !== b.length) throw new Error(`paired results need the same images: ${a.length} and ${b.length}`);
  const n = a.length;
  return bootstrap(
    n,
    (idx) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const j = idx ? idx[i]! : i;
        s += a[j]! - b[j]!;
      }
      return s / n;
    },
    opts,
    'paired images',
  );
}

/** Complementary error function (Numerical Recipes' erfcc, relative error under 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Upper tail of the chi-square distribution with one degree of freedom. */
export function chiSquare1Sf(x: number): number {
  return x <= 0 ? 1 : erfc(Math.sqrt(x / 2));
}

/** Two-sided exact binomial p for k or fewer of n at p = 1/2 (twice the smaller tail, capped at 1). */
export function binomialTwoSided(k: number, n: number): number {
  const m = Math.min(k, n - k);
  // Sum C(n, i) / 2^n in logs, so large n does not overflow.
  let logC = 0;
  let tail = 0;
  for (let i = 0; i <= m; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}

export interface McNemar {
  /** Images A got right and B wrong. */
  onlyA: number;
  /** Images B got right and A wrong. */
  onlyB: number;
  both: number;
  neither: number;
  /** Chi-square statistic with continuity correction, or null when the exact test was used. */
  statistic: number | null;
  p: number;
  method: string;
}

/** Discordant pairs up to this many use the exact binomial test; above it, chi-square with continuity correction. */
export const EXACT_LIMIT = 25;

/** McNemar's test from the counts of discordant pairs (b: A right only, c: B right only). */
export function mcnemarCounts(b: number, c: number, both = 0, neither = 0): McNemar {
  const n = b + c;
  if (n <= EXACT_LIMIT) {
    return {
      onlyA: b,
      onlyB: c,
      both,
      neither,
      statistic: null,
      p: n === 0 ? 1 : binomialTwoSided(Math.min(b, c), n),
      method: `exact binomial (${n} discordant pairs, at most ${EXACT_LIMIT})`,
    };
  }
  const stat = (Math.abs(b - c) - 1) ** 2 / n;
  return {
    onlyA: b,
    onlyB: c,
    both,
    neither,
    statistic: stat,
    p: chiSquare1Sf(stat),
    method: `chi-square with continuity correction (${n} discordant pairs)`,
  };
}

/** McNemar's test between two models' per-image correctness (1/0) on the same images. */
export function mcnemar(a: ArrayLike<number>, b: ArrayLike<number>): McNemar {
  if (a.length !== b.length) throw new Error(`paired results need the same images: ${a.length} and ${b.length}`);
  let onlyA = 0;
  let onlyB = 0;
  let both = 0;
  let neither = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) both++;
    else if (a[i]) onlyA++;
    else if (b[i]) onlyB++;
    else neither++;
  }
  return mcnemarCounts(onlyA, onlyB, both, neither);
}

export function formatP(p: number): string {
  if (p < 0.001) return 'p < 0.001';
  return `p = ${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

const pts = (x: number) => (100 * x).toFixed(1);

/**
 * One plain sentence: who is ahead, by how many points, the 95% interval of the difference, and the p value; or that
 * there is no significant difference. Significant means the interval excludes 0 and p < 0.05.
 */
export function verdict(nameA: string, nameB: string, diff: Interval, p: number): string {
  const significant = (diff.lo > 0 || diff.hi < 0) && p < 0.05;
  const ci = `95% CI ${pts(diff.lo)} to ${pts(diff.hi)}`;
  if (!significant)
    return (
      `no significant difference at this size (${nameA} minus ${nameB}: ${pts(diff.estimate)} ` +
      `points, ${ci}, ${formatP(p)})`
    );
  const [ahead, d, lo, hi] =
    diff.estimate >= 0 ? [nameA, diff.estimate, diff.lo, diff.hi] : [nameB, -diff.estimate, -diff.hi, -diff.lo];
  return `${ahead} ahead by ${pts(d)} points, 95% CI ${pts(lo)} to ${pts(hi)}, ${formatP(p)}`;
}

/** Accuracy per class with a 95% Wilson interval (classes are cities in geospike's datasets). */
export function perClassAccuracy(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: string[],
): { name: string; n: number; accuracy: number; lo: number; hi: number }[] {
  const hit = new Array<number>(classes.length).fill(0);
  const n = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < labels.length; i++) {
    n[labels[i]!]!++;
    if (labels[i] === predicted[i]) hit[labels[i]!]!++;
  }
  return classes.map((name, c) => {
    const [right, count] = [hit[c]!, n[c]!];
    const [lo, hi] = wilson(right, count);
    return { name, n: count, accuracy: count ? right / count : NaN, lo, hi };
  });
}
