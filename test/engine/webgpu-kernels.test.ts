// geospike's WGSL kernels (src/ops/*/webgpu*.ts) against the JS kernels of the same name, on random shapes.
// Runs on whatever adapter Dawn finds: Mesa's llvmpipe in CI. Where none can be had the tests fail, saying why.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BN_GRAD, BN_TRAIN, LIF, LIF_GRAD, LIF_SPIKES } from '../../src/ops/index.js';
import { ADAMW } from '../../src/ops/index.js';
import { exactReciprocal } from '../../src/ops/lif/webgpu.js';
import { rng } from '../helpers/rng.js';
import { finiteScale, worstDifference } from '../helpers/compare.js';
import { requireBackend } from '../helpers/backends.js';

type Output = { shape: number[]; values: Float32Array };
type Inputs = Record<string, Output>;
type Outputs = Output[];

function run(backend: string, kernel: string, inputs: Inputs, attrs: object): Outputs {
  tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape, 'float32');
  const res = tf.engine().runKernel(kernel, ts as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as
    | tf.Tensor
    | tf.Tensor[];
  const list = Array.isArray(res) ? res : [res];
  const outs = list.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
  tf.dispose([...Object.values(ts), ...list]);
  return outs;
}

/** Output `i` of a kernel run, failing the test when the kernel returned fewer. */
function nth(outs: Outputs, i: number, what: string): Output {
  const o = outs[i];
  assert.ok(o, `${what}: no output ${i} among ${outs.length}`);
  return o;
}

/** webgpu and cpu outputs agree: same shapes, values within rtol of the largest reference value (0: exactly). */
function agree(kernel: string, inputs: Inputs, attrs: object, what: string, rtol: number): Outputs {
  const ref = run('cpu', kernel, inputs, attrs);
  const got = run('webgpu', kernel, inputs, attrs);
  assert.equal(got.length, ref.length, `${what}: number of outputs`);
  for (const [o, want] of ref.entries()) {
    const out = nth(got, o, what);
    assert.deepEqual(out.shape, want.shape, `${what}: output ${o} shape`);
    const scale = Math.max(1, finiteScale(want.values));
    const { worst, at } = worstDifference(out.values, want.values);
    assert.ok(
      worst <= rtol * scale,
      `${what}: output ${o} differs by ${worst} at ${at} (got ${out.values[at]}, want ${want.values[at]})`,
    );
  }
  return ref;
}

before(async () => {
  await requireBackend('webgpu');
});

test('LIF forward matches the JS kernel exactly, backward within float rounding', () => {
  const r = rng(11);
  for (let i = 0; i < 8; i++) {
    const T = r.int(1, 6),
      M = r.pick([1, r.int(1, 50), r.int(1000, 5000)]);
    const vThreshold = r.pick([1, 0.5, 0.3]),
      tau = r.pick([2, 1.5, 3]);
    // inputs on a coarse grid hit the threshold exactly now and then: ties must fire on both backends
    const values = r.normal(T * M, 1, 0.5).map((v) => (i % 3 === 0 ? Math.round(v * 8) / 8 : v));
    const what = `LIF T ${T} M ${M} tau ${tau} vth ${vThreshold}`;
    const lifOut = agree(LIF, { x: { shape: [T, M], values } }, { tau, vThreshold }, what, 0);
    const spikes = nth(lifOut, 0, LIF),
      h = nth(lifOut, 1, LIF);
    const onlyOut = agree(LIF_SPIKES, { x: { shape: [T, M], values } }, { tau, vThreshold }, `${what} spikes only`, 0);
    const only = nth(onlyOut, 0, LIF_SPIKES);
    assert.deepEqual(only.values, spikes.values, `${what}: spikes only = the full kernel's spikes`);
    const dy = { shape: [T, M], values: r.normal(T * M) };
    for (const surrogate of ['sigmoid', 'atan']) {
      const attrs = { tau, vThreshold, surrogate, alpha: surrogate === 'sigmoid' ? 4 : 2 };
      agree(LIF_GRAD, { dy, h, spikes }, attrs, `${what} grad ${surrogate}`, 1e-5);
    }
  }
});

test('LIF multiplies by 1/tau only where that rounds as the division does', () => {
  assert.equal(exactReciprocal(2), 0.5);
  assert.equal(exactReciprocal(0.25), 4);
  assert.equal(exactReciprocal(1.5), 0);
  assert.equal(exactReciprocal(3), 0);
});

test('BatchNorm train forward and backward match, offset and tiny batches included', () => {
  const r = rng(8);
  for (let i = 0; i < 8; i++) {
    const M = r.pick([1, 2, r.int(3, 40), r.int(500, 3000)]),
      C = r.pick([1, r.int(2, 9), r.int(30, 70)]);
    const offset = r.pick([0, 5, -100]);
    const x = { shape: [M, C], values: r.normal(M * C, 2, offset) };
    const gamma = { shape: [C], values: r.normal(C, 0.5, 1) },
      beta = { shape: [C], values: r.normal(C) };
    const eps = 1e-5,
      what = `BN M ${M} C ${C} offset ${offset}`;
    const stats = agree(BN_TRAIN, { x, gamma, beta }, { eps }, what, 1e-5);
    const mean = nth(stats, 1, BN_TRAIN),
      variance = nth(stats, 2, BN_TRAIN);
    const dy = { shape: [M, C], values: r.normal(M * C) };
    agree(BN_GRAD, { dy, x, gamma, mean, variance }, { eps }, `${what} grad`, 1e-4);
  }
});

test('the fused AdamW kernel matches the JS kernel to float rounding', () => {
  const r = rng(81);
  for (const [n, step] of [
    [1, 1],
    [777, 3],
    [70_000, 1000],
  ] as const) {
    const lr = 5e-4,
      wd = 6e-2,
      b1 = 0.9,
      b2 = 0.999;
    const attrs = {
      decay: 1 - lr * wd,
      beta1: b1,
      beta2: b2,
      eps: 1e-8,
      bc2Sqrt: Math.sqrt(1 - b2 ** step),
      stepSize: lr / (1 - b1 ** step),
    };
    const v = (x: Float32Array) => ({ shape: [n], values: x });
    agree(
      ADAMW,
      {
        param: v(r.normal(n)),
        grad: v(r.normal(n, 0.1)),
        m: v(r.normal(n, 0.01)),
        v: v(r.normal(n, 0.001).map(Math.abs)),
      },
      attrs,
      `AdamW n ${n} step ${step}`,
      1e-6,
    );
  }
});

test("MaxPoolGrad sends each window's gradient to its first maximum, as cpu and PyTorch do (spike maps tie)", () => {
  const r = rng(5);
  for (const [N, H, C, k, s, pad] of [
    [2, 8, 3, 3, 2, 1],
    [1, 9, 5, 2, 2, 'valid'],
    [3, 7, 4, 3, 1, 'same'],
    [2, 6, 2, 3, 2, 0],
  ] as const) {
    const x = { shape: [N, H, H, C], values: r.spikes(N * H * H * C, 0.4) };
    const attrs = { filterSize: k, strides: s, pad, dimRoundingMode: undefined };
    const y = nth(run('cpu', 'MaxPool', { x }, attrs), 0, 'MaxPool');
    const dy = { shape: y.shape, values: r.normal(y.values.length) };
    agree(
      'MaxPoolGrad',
      { dy, input: x, output: y },
      attrs,
      `MaxPoolGrad N ${N} H ${H} C ${C} k ${k} s ${s} pad ${pad}`,
      1e-6,
    );
  }
});
