// Closeness checks that say where and by how much two tensors differ. Every comparison in the tests goes through
// worstDifference, so a NaN can never hide: it is a mismatch unless both sides hold NaN at the same index.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

type Values = ArrayLike<number> | tf.Tensor;

function values(v: Values): ArrayLike<number> {
  return v instanceof tf.Tensor ? (v.dataSync() as Float32Array) : v;
}

export interface Difference {
  /** The largest |got - want|; Infinity where one side is NaN and the other is not (or, with signedZero, -0 vs +0). */
  worst: number;
  /** Index of the first element with that difference; -1 when every element is equal. */
  at: number;
}

/**
 * The largest element-wise difference, kept with a plain `>` so that no element (a NaN least of all) can reset it.
 * NaN against NaN is equal; NaN against a number is an infinite difference. With `signedZero`, -0 and +0 differ
 * (Object.is), for kernels that must keep the sign of zero.
 */
export function worstDifference(got: ArrayLike<number>, want: ArrayLike<number>, signedZero = false): Difference {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!,
      w = want[i]!;
    let d: number;
    if (Number.isNaN(g) || Number.isNaN(w)) d = Number.isNaN(g) && Number.isNaN(w) ? 0 : Infinity;
    else if (g === w)
      d = signedZero && !Object.is(g, w) ? Infinity : 0; // also Infinity === Infinity
    else d = Math.abs(g - w);
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  return { worst, at };
}

/** A value as a message shows it: -0 spelled out (String(-0) is "0"). */
export function show(v: number | undefined): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** The largest finite magnitude (NaN and infinities have no scale). */
export function finiteScale(v: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) scale = Math.max(scale, Math.abs(v[i]!));
  return scale;
}

export interface CloseOptions {
  /**
   * Absolute floor of the tolerance, for tensors that are zero in exact arithmetic (a linear bias feeding a BatchNorm
   * has zero gradient: the float64 goldens hold ~1e-19 of rounding there, float32 ~1e-9).
   */
  floor?: number;
  /** -0 and +0 count as different (see worstDifference). */
  signedZero?: boolean;
}

/**
 * max |a - b| <= max(rel * max |expected|, floor): the goldens' criterion, relative to the tensor's largest finite
 * magnitude. A NaN in either tensor fails it unless the other holds NaN at the same index.
 */
export function assertCloseToScale(
  actual: Values,
  expected: Values,
  rel: number,
  label: string,
  opts: CloseOptions = {},
): void {
  const a = values(actual);
  const e = values(expected);
  assert.equal(a.length, e.length, `${label}: ${a.length} values, expected ${e.length}`);
  const scale = finiteScale(e);
  const { worst, at } = worstDifference(a, e, opts.signedZero);
  const tol = Math.max(rel * scale, opts.floor ?? 0);
  assert.ok(
    worst <= tol,
    `${label}: max |diff| ${worst} at ${at} (got ${show(a[at])}, expected ${show(e[at])}, scale ${scale}) ` +
      `exceeds ${tol}`,
  );
}

/** Element-wise |a - b| <= abs (NaN only against NaN). */
export function assertCloseAbs(actual: Values, expected: Values, abs: number, label: string): void {
  const a = values(actual);
  const e = values(expected);
  assert.equal(a.length, e.length, `${label}: ${a.length} values, expected ${e.length}`);
  const { worst, at } = worstDifference(a, e);
  assert.ok(worst <= abs, `${label}[${at}]: got ${show(a[at])}, expected ${show(e[at])} (tolerance ${abs})`);
}
