// Mixup as in timm's default (batch mode): each image is blended with the one at the mirrored batch position,
// x' = lam x + (1 - lam) x_flip, and so are the (label-smoothed) targets; lam ~ Beta(alpha, alpha).
import type { Rng } from '../util/rng.js';

/** Gamma(shape, 1) by Marsaglia and Tsang; shapes below 1 through Gamma(shape + 1) U^(1/shape). */
export function sampleGamma(rng: Rng, shape: number): number {
  if (shape < 1) return sampleGamma(rng, shape + 1) * rng.uniform() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(rng: Rng, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  return x / (x + sampleGamma(rng, b));
}

/** Smoothed one-hot targets [n, K]. */
export function smoothTargets(labels: Int32Array, classes: number, smoothing: number): Float32Array {
  const t = new Float32Array(labels.length * classes).fill(smoothing / classes);
  labels.forEach((y, i) => {
    t[i * classes + y]! += 1 - smoothing;
  });
  return t;
}

/** Blends x [n, ...] and targets [n, K] in place with their mirrored rows. */
export function mixBatch(x: Float32Array, targets: Float32Array, n: number, lam: number): void {
  const per = x.length / n;
  const K = targets.length / n;
  const xs = x.slice();
  const ts = targets.slice();
  for (let i = 0; i < n; i++) {
    const j = n - 1 - i;
    for (let k = 0; k < per; k++) x[i * per + k] = lam * xs[i * per + k]! + (1 - lam) * xs[j * per + k]!;
    for (let k = 0; k < K; k++) targets[i * K + k] = lam * ts[i * K + k]! + (1 - lam) * ts[j * K + k]!;
  }
}
