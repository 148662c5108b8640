// The fused spiking attention (src/ops/spike_attention) against the float reference, the same product as tfjs ops
// (q k^T, scale, times v), on every CPU backend: random shapes and firing rates 0 to 1, forward bit for bit (spike
// products are small integers), gradients within float rounding, and against finite differences (the product is
// linear in each of q, k and v, so a step of 1 gives the exact partial derivative).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { composedAttention, spikeAttention } from '../../src/ops/spike_attention/op.js';
import { SPIKE_ATTENTION, SPIKE_ATTENTION_GRAD } from '../../src/ops/spike_attention/cpu.js';
import { profileKernels } from '../../src/bench/kernel_profile.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';
import { assertCloseToScale } from '../helpers/compare.js';
import { must } from '../../src/util/must.js';
import { rng } from '../helpers/rng.js';

const RATES = [0, 0.01, 0.1, 0.5, 1];
const QKV = ['q', 'k', 'v'] as const;
const CPU_BACKENDS = TEST_BACKENDS.filter((b) => b === 'cpu' || b === 'native');

interface Case {
  shape: [number, number, number, number];
  heads: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** Weights of the loss sum(r * out), so every output's gradient differs. */
  r: Float32Array;
}

function makeCase(seed: number, rate: number, graded = false): Case {
  const g = rng(seed);
  const heads = g.int(1, 3);
  const shape: [number, number, number, number] = [g.int(1, 3), g.int(1, 2), g.int(1, 20), heads * g.int(1, 9)];
  const n = shape.reduce((a, b) => a * b, 1);
  // graded: sums of spikes (0, 1, 2), as a residual stream carries, to check the general path too
  const s = () => (graded ? Float32Array.from(g.spikes(n, rate), (x, i) => x * (1 + (i % 2))) : g.spikes(n, rate));
  return { shape, heads, q: s(), k: s(), v: s(), r: g.normal(n) };
}

/** Output and gradients of sum(r * attention(q, k, v)). */
function evaluate(c: Case, f: typeof spikeAttention) {
  return tf.tidy(() => {
    const q = tf.tensor(c.q, c.shape),
      k = tf.tensor(c.k, c.shape),
      v = tf.tensor(c.v, c.shape);
    const r = tf.tensor(c.r, c.shape);
    const out = f(q, k, v, c.heads, 0.125).dataSync().slice();
    const [dq, dk, dv] = tf.grads((q, k, v) => tf.sum(tf.mul(f(q, k, v, c.heads, 0.125), r)))([q, k, v]);
    assert.ok(dq && dk && dv, 'a gradient for each of q, k and v');
    return { out, grads: { q: dq.dataSync().slice(), k: dk.dataSync().slice(), v: dv.dataSync().slice() } };
  });
}

for (const backend of CPU_BACKENDS) {
  const name = `${backend}: fused spike attention equals the tfjs-ops product, forward exactly, gradients to rounding`;
  test(name, async () => {
    await requireBackend(backend);
    let seed = 1;
    for (const rate of RATES) {
      for (let rep = 0; rep < 4; rep++) {
        const c = makeCase(seed++, rate);
        const what = `${backend} rate ${rate} shape [${c.shape}] heads ${c.heads} (seed ${seed - 1})`;
        const got = evaluate(c, spikeAttention);
        const want = evaluate(c, composedAttention);
        assert.deepEqual(got.out, want.out, `${what}: forward differs`);
        for (const x of QKV) assertCloseToScale(got.grads[x], want.grads[x], 1e-5, `${what}: gradient ${x}`);
      }
    }
  });

  test(`${backend}: fused spike attention on graded inputs (sums of spikes) within float rounding`, async () => {
    await requireBackend(backend);
    for (let seed = 100; seed < 110; seed++) {
      const c = makeCase(seed, must(RATES[seed % RATES.length], 'an index below the length'), true);
      const got = evaluate(c, spikeAttention);
      const want = evaluate(c, composedAttention);
      assertCloseToScale(got.out, want.out, 1e-6, `seed ${seed}: forward`);
      for (const x of QKV) assertCloseToScale(got.grads[x], want.grads[x], 1e-5, `seed ${seed}: gradient ${x}`);
    }
  });

  test(`${backend}: the fused gradient matches finite differences of the fused forward`, async () => {
    await requireBackend(backend);
    const c = makeCase(7, 0.5);
    const loss = (q: Float32Array, k: Float32Array, v: Float32Array) =>
      tf.tidy(() => {
        const [tq, tk, tv] = [tf.tensor(q, c.shape), tf.tensor(k, c.shape), tf.tensor(v, c.shape)];
        const sum = tf.sum(tf.mul(spikeAttention(tq, tk, tv, c.heads, 0.125), tf.tensor(c.r, c.shape)));
        return sum.dataSync()[0] ?? NaN; // missing: NaN fails the comparisons below
      });
    const base = loss(c.q, c.k, c.v);
    const { grads } = evaluate(c, spikeAttention);
    const g = rng(8);
    for (const which of QKV) {
      for (let t = 0; t < 5; t++) {
        const inputs = { q: c.q.slice(), k: c.k.slice(), v: c.v.slice() };
        const i = g.int(0, c.q.length - 1);
        const x = inputs[which];
        x[i] = must(x[i], 'i < length') + 1; // exact: the loss is linear in each input on its own
        const fd = loss(inputs.q, inputs.k, inputs.v) - base;
        const scale = Math.max(1, Math.abs(base));
        const want = grads[which][i] ?? NaN;
        assert.ok(Math.abs(fd - want) <= 1e-4 * scale, `d${which}[${i}]: ${want} vs ${fd}`);
      }
    }
  });
}

test('GEOSPIKE_SPIKE_KERNELS=0 runs the attention as tfjs ops instead of the fused kernels', async () => {
  await requireBackend(CPU_BACKENDS.includes('native') ? 'native' : 'cpu');
  const c = makeCase(3, 0.2);
  const calls = (off: boolean) => {
    const saved = process.env.GEOSPIKE_SPIKE_KERNELS;
    if (off) process.env.GEOSPIKE_SPIKE_KERNELS = '0';
    const profile = profileKernels(tf.getBackend());
    let names: Set<string>;
    try {
      evaluate(c, spikeAttention);
    } finally {
      names = new Set(profile.stop().map((t) => t.name));
      if (saved === undefined) delete process.env.GEOSPIKE_SPIKE_KERNELS;
      else process.env.GEOSPIKE_SPIKE_KERNELS = saved;
    }
    return names;
  };
  const on = calls(false),
    off = calls(true);
  assert.ok(on.has(SPIKE_ATTENTION) && on.has(SPIKE_ATTENTION_GRAD), `spike kernels on: ran ${[...on]}`);
  assert.ok(!off.has(SPIKE_ATTENTION) && !off.has(SPIKE_ATTENTION_GRAD), `spike kernels off: ran ${[...off]}`);
  assert.ok(off.has('BatchMatMul'), `spike kernels off: the tfjs-ops product ran ${[...off]}`);
});
