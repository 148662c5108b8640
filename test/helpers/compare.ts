// Closeness checks that say where and by how much two tensors differ.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

type Values = ArrayLike<number> | tf.Tensor;

function values(v: Values): ArrayLike<number> {
  return v instanceof tf.Tensor ? (v.dataSync() as Float32Array) : v;
}

/**
 * max |a - b| <= max(rel * max |expected|, floor): the goldens' criterion, relative to the tensor's largest magnitude.
 * The floor is for tensors that are zero in exact arithmetic (a linear bias feeding a BatchNorm has zero gradient:
 * the float64 goldens hold ~1e-19 of rounding there, float32 ~1e-9).
 */
export function assertCloseToScale(actual: Values, expected: Values, rel: number, label: string, floor = 0): void {
  const a = values(actual);
  const e = values(expected);
  assert.equal(a.length, e.length, `${label}: ${a.length} values, expected ${e.length}`);
  let scale = 0;
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  const tol = Math.max(rel * scale, floor);
  assert.ok(worst <= tol, `${label}: max |diff| ${worst} at ${at} (got ${a[at]}, expected ${e[at]}) exceeds ${tol}`);
}

/** Element-wise |a - b| <= abs. */
export function assertCloseAbs(actual: Values, expected: Values, abs: number, label: string): void {
  const a = values(actual);
  const e = values(expected);
  assert.equal(a.length, e.length, `${label}: ${a.length} values, expected ${e.length}`);
  for (let i = 0; i < e.length; i++) {
    assert.ok(Math.abs(a[i] - e[i]) <= abs, `${label}[${i}]: got ${a[i]}, expected ${e[i]} (tolerance ${abs})`);
  }
}
