// The event-driven product behind a linear layer fed by spikes (_FusedMatMul with a bias, as Linear runs it): at
// firing rates 0 to 1 and on widths that fill whole vector strips or leave a partial one, the same result as the JS
// kernel, and bit for bit the product and bias add run as two kernels; the event-driven path taken below its threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { sparseStats } from '../../src/ops/matmul/native.js';
import { sparseBelow } from '../../src/ops/sparse_thresholds/native.js';
import { requireBackend } from '../helpers/backends.js';
import { assertCloseToScale } from '../helpers/compare.js';
import { rng } from '../helpers/rng.js';

const RATES = [0, 0.01, 0.1, 0.5, 1];

function linear(x: Float32Array, w: Float32Array, bias: Float32Array, M: number, K: number, N: number) {
  return tf.tidy(() => {
    const [a, b, c] = [tf.tensor2d(x, [M, K]), tf.tensor2d(w, [N, K]), tf.tensor1d(bias)];
    const fused = tf.fused.matMul({ a, b, transposeB: true, bias: c }).dataSync().slice();
    const separate = tf
      .add(tf.matMul(a, b, false, true), c)
      .dataSync()
      .slice();
    return { fused, separate };
  });
}

const LINEAR_TEST =
  'a spike-fed linear layer with bias: event-driven below the threshold, the same result as the JS kernel';
test(LINEAR_TEST, async () => {
  const r = rng(29);
  for (const rate of RATES) {
    for (const [M, K, N] of [
      [300, 130, 128],
      [257, 97, 190],
    ] as const) {
      const x = r.spikes(M * K, rate),
        w = r.normal(N * K),
        bias = r.normal(N);
      const what = `${M}x${K}x${N} at rate ${rate}`;
      await requireBackend('cpu');
      const want = linear(x, w, bias, M, K, N).fused;
      await requireBackend('native');
      const before = sparseStats.sparse;
      const got = linear(x, w, bias, M, K, N);
      // the fused call and the product in the separate pair both check the density
      assert.equal(sparseStats.sparse - before, rate < sparseBelow('matmul') ? 2 : 0, `${what}: wrong kernel chosen`);
      assertCloseToScale(got.fused, want, 1e-5, `${what}: against the JS kernel`);
      assert.deepEqual(got.fused, got.separate, `${what}: fused bias differs from product + add`);
    }
  }
});
