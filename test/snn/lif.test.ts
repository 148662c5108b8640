// The multi-step LIF against the goldens, and its surrogate backward against finite differences.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { toFloat32 } from '../../src/io/safetensors.js';
import { lif } from '../../src/snn/lif.js';
import { smooth, surrogate, surrogateGrad, type Surrogate } from '../../src/snn/surrogate.js';
import { Rng } from '../../src/util/rng.js';
import { assertCloseAbs } from '../helpers/compare.js';
import { loadGolden } from '../helpers/golden.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';

describe('surrogate gradients', () => {
  for (const name of ['sigmoid', 'atan'] as const) {
    test(`${name} equals the derivative of its smooth function (central differences)`, () => {
      const s = surrogate(name);
      const h = 1e-5;
      for (let u = -2; u <= 2; u += 0.0625) {
        const fd = (smooth(s, u + h) - smooth(s, u - h)) / (2 * h);
        assert.ok(Math.abs(surrogateGrad(s, u) - fd) < 1e-7, `${name} at ${u}: ${surrogateGrad(s, u)} vs ${fd}`);
      }
    });
  }
  test('defaults are sigmoid alpha 4 and atan alpha 2', () => {
    assert.deepEqual(surrogate(), { name: 'sigmoid', alpha: 4 });
    assert.deepEqual(surrogate('atan'), { name: 'atan', alpha: 2 });
    assert.equal(surrogateGrad(surrogate(), 0), 1); // alpha/4 at u = 0
    assert.equal(surrogateGrad(surrogate('atan'), 0), 1); // alpha/2 at u = 0
    assert.throws(() => surrogate('relu' as never), /unknown surrogate 'relu'/);
  });
});

/**
 * The function the surrogate backward differentiates: spikes replaced by the smooth function, reset still driven by the
 * hard (detached) spike. Its finite differences must equal the LIF's backward exactly, through all time steps.
 */
function smoothLifObjective(
  x: Float64Array,
  up: Float64Array,
  T: number,
  vth: number,
  s: Surrogate,
  hard: Uint8Array,
): number {
  const M = x.length / T;
  const v = new Float64Array(M);
  let total = 0;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < M; i++) {
      const h = v[i]! + (x[t * M + i]! - v[i]!) / 2;
      total += up[t * M + i]! * smooth(s, h - vth);
      v[i] = h * (1 - hard[t * M + i]!);
    }
  }
  return total;
}

for (const backend of TEST_BACKENDS) {
  describe(`multi-step LIF on the ${backend} backend`, () => {
    before(async () => {
      await requireBackend(backend);
    });

    for (const key of ['vth1.0', 'vth0.5']) {
      test(`${key}: golden spikes exactly, input gradient within 1e-5`, () => {
        const g = loadGolden('lif.safetensors');
        const get = (n: string) => g.tensors.get(`${key}.${n}`)!;
        const vth = Number(key.slice(3));
        const x = tf.tensor(toFloat32(get('x')), get('x').shape);
        const up = tf.tensor(toFloat32(get('upstream')), get('upstream').shape);
        const spikes = lif(x, { vThreshold: vth });
        assert.deepEqual(Array.from(spikes.dataSync()), Array.from(toFloat32(get('spikes'))));
        const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(lif(xi, { vThreshold: vth }), up)))(x);
        assertCloseAbs(dx, toFloat32(get('grad_x')), 1e-5, `${key}.grad_x`);
        tf.dispose([x, up, spikes, dx]);
      });
    }

    for (const name of ['sigmoid', 'atan'] as const) {
      test(`${name} backward through time equals finite differences of the smooth objective`, () => {
        const rng = new Rng(7);
        const T = 5;
        const M = 40;
        const vth = 1;
        const s = surrogate(name);
        const x64 = Float64Array.from({ length: T * M }, () => rng.normal() * 1.5 + 0.8);
        const up64 = Float64Array.from({ length: T * M }, () => rng.normal());
        const x = tf.tensor(Float32Array.from(x64), [T, M]);
        const up = tf.tensor(Float32Array.from(up64), [T, M]);
        const hard = Uint8Array.from(lif(x, { vThreshold: vth, surrogate: s }).dataSync());
        const dx = tf
          .grad((xi: tf.Tensor) => tf.sum(tf.mul(lif(xi, { vThreshold: vth, surrogate: s }), up)))(x)
          .dataSync();
        const xr = Float64Array.from(Float32Array.from(x64)); // the float32 values the kernel saw
        const eps = 1e-6;
        for (let i = 0; i < T * M; i += 7) {
          const orig = xr[i]!;
          xr[i] = orig + eps;
          const fp = smoothLifObjective(xr, up64, T, vth, s, hard);
          xr[i] = orig - eps;
          const fm = smoothLifObjective(xr, up64, T, vth, s, hard);
          xr[i] = orig;
          const fd = (fp - fm) / (2 * eps);
          assert.ok(
            Math.abs(dx[i]! - fd) < 1e-4 * Math.max(1, Math.abs(fd)),
            `dx[${i}] = ${dx[i]}, finite difference ${fd}`,
          );
        }
        tf.dispose([x, up]);
      });
    }

    test('no state survives a forward pass', () => {
      const x = tf.tensor([[1.5], [1.5], [1.5]]);
      const a = Array.from(lif(x).dataSync());
      const b = Array.from(lif(x).dataSync());
      assert.deepEqual(a, b);
      assert.deepEqual(a, [0, 1, 0]); // h = 0.75, 1.125 (fires, resets to 0), 0.75
      x.dispose();
    });

    test('without a gradient tape only the spikes are allocated, not the membrane', () => {
      const x = tf.randomNormal([4, 300], 1, 1, 'float32', 5);
      const bytes = tf.memory().numBytes;
      const s = lif(x);
      assert.equal(tf.memory().numBytes - bytes, s.size * 4);
      tf.dispose([x, s]);
    });
  });
}
