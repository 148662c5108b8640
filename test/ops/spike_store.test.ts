// Saved spikes stored compactly (src/ops/spike_store, engine/native/free_grads.ts): the pack kernels give back the
// same float32 bits at firing rates 0 to 1 and refuse anything else; the LIF gradient without its spikes (recomputed
// from h) equals the one given them, on every backend; a spiking chain's gradients, and whole models', are bit for bit
// those of the float path (GEOSPIKE_SPIKE_STORE=0), while the bytes held at the end of the forward pass drop by the
// spikes' float copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { addon } from '../../src/engine/native/kernel_util.js';
import { LIF, LIF_GRAD, type LIFGradAttrs } from '../../src/ops/index.js';
import { packSpikes, spikeStoreStats, unpackSpikes } from '../../src/ops/spike_store/native.js';
import { consume, consumeAll } from '../../src/models/last_use.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { lif } from '../../src/snn/lif.js';
import { surrogate } from '../../src/snn/surrogate.js';
import { must } from '../../src/util/must.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';
import { rng } from '../helpers/rng.js';

const RATES = [0, 0.01, 0.1, 0.5, 0.9, 1];

/** Runs f with GEOSPIKE_SPIKE_STORE set to `on`, restoring it after. */
function withStore<T>(on: boolean, f: () => T): T {
  const before = process.env.GEOSPIKE_SPIKE_STORE;
  process.env.GEOSPIKE_SPIKE_STORE = on ? '1' : '0';
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.GEOSPIKE_SPIKE_STORE;
    else process.env.GEOSPIKE_SPIKE_STORE = before;
  }
}

test('spike maps pack to bits, count maps to bytes, and unpack to the same float32 bits', async () => {
  await requireBackend('native');
  const r = rng(7);
  for (const rate of RATES) {
    for (const n of [1 << 16, (1 << 16) + 13, 5 * 17 * 1031]) {
      const what = `${n} values at rate ${rate}`;
      const spikes = r.spikes(n, rate);
      const counts = Float32Array.from(spikes, (s, i) => s + (i % 7 === 0 ? 2 : 0) + (i % 11 === 0 ? 250 : 0));
      for (const [values, kind, bytes] of [
        [spikes, 'bits', Math.ceil(n / 8)],
        [counts, 'bytes', n],
      ] as const) {
        const t = tf.tensor1d(values);
        const p = must(packSpikes(t) ?? undefined, `${what}: ${kind} should pack`);
        assert.equal(p.kind, kind, what);
        assert.equal(p.data.byteLength, bytes, `${what}: ${kind} size`);
        const back = unpackSpikes(p, [n]);
        assert.deepEqual(
          new Uint32Array((back.dataSync() as Float32Array).slice().buffer),
          new Uint32Array(values.slice().buffer),
          `${what}: ${kind} round trip`,
        );
        tf.dispose([t, back]);
      }
    }
  }
});

test('tensors that are not spikes or small whole counts stay float32', async () => {
  await requireBackend('native');
  const r = rng(8);
  const n = 1 << 17;
  const spikes = r.spikes(n, 0.3);
  // a sample would miss a single odd value: the full pass must refuse it
  for (const [odd, why] of [
    [-0, 'negative zero'],
    [0.5, 'a fraction'],
    [256, 'a count above a byte'],
    [-1, 'a negative'],
    [Number.NaN, 'NaN'],
  ] as const) {
    const v = spikes.slice();
    v[12345] = odd;
    const t = tf.tensor1d(v);
    assert.equal(packSpikes(t), null, `${why} among spikes was packed`);
    t.dispose();
  }
  const normal = tf.tensor1d(r.normal(n));
  assert.equal(packSpikes(normal), null, 'an activation was packed');
  const small = tf.tensor1d(r.spikes(1000, 0.5));
  assert.equal(packSpikes(small), null, 'a small tensor was packed');
  tf.dispose([normal, small]);
  const direct = new Uint8Array(n);
  assert.equal(addon().spikePackBits(new Float32Array(n).fill(2), new Uint8Array(n / 8)), false, 'bits took a 2');
  assert.equal(addon().spikePackBytes(new Float32Array(n).fill(0.25), direct), false, 'bytes took a fraction');
});

const LIF_TEST = 'the LIF gradient without its spikes (recomputed from h) equals the one given them, on every backend';
test(LIF_TEST, async () => {
  const r = rng(9);
  const sg = surrogate('sigmoid');
  for (const backend of TEST_BACKENDS) {
    await requireBackend(backend);
    for (const [T, M] of [
      [4, 3000],
      [2, 1025],
    ] as const) {
      for (const [vThreshold, name, alpha] of [
        [1, 'sigmoid', sg.alpha],
        [0.5, 'atan', 2],
      ] as const) {
        // inputs around the threshold, and some exactly on it (Heaviside(0) = 1 must be recomputed the same)
        const xv = r.normal(T * M, 1.2, 0.6);
        for (let i = 0; i < xv.length; i += 97) xv[i] = 2 * vThreshold;
        const x = tf.tensor2d(xv, [T, M]);
        const [spikes, h] = tf.engine().runKernel(LIF, { x }, { tau: 2, vThreshold }) as tf.Tensor[];
        const dy = tf.tensor2d(r.normal(T * M), [T, M]);
        const attrs: LIFGradAttrs = { tau: 2, vThreshold, surrogate: name, alpha };
        const given = tf.engine().runKernel(LIF_GRAD, { dy, h: must(h, 'h'), spikes: must(spikes, 's') }, attrs);
        const derived = tf.engine().runKernel(LIF_GRAD, { dy, h: must(h, 'h') }, attrs);
        const what = `${backend} ${T}x${M} ${name}`;
        assert.deepEqual((derived as tf.Tensor).dataSync(), (given as tf.Tensor).dataSync(), what);
        tf.dispose([x, must(spikes, 's'), must(h, 'h'), dy, given as tf.Tensor, derived as tf.Tensor]);
      }
    }
  }
});

/** Offsets of the first layer's pre-activation (std about 1) that give roughly each firing rate. */
const OFFSET: Record<number, number> = { 0: -100, 0.01: -3, 0.1: -0.5, 0.5: 2, 0.9: 5, 1: 100 };

/**
 * A little spiking network, each intermediate freed at its last use as the models do: input -> linear -> LIF ->
 * linear -> LIF, a residual sum of the two spike maps (whole counts), then a linear layer into a weighted sum. Returns
 * the weights' gradients and the bytes held at the end of the forward pass (tfjs's tensors plus the packed copies).
 */
function spikingGrads(rate: number, seed: number): { grads: Float32Array[]; heldBytes: number; packedBytes: number } {
  const r = rng(seed);
  const [R, K, N] = [4 * 512, 96, 160];
  const x = tf.tensor2d(r.normal(R * K), [R, K]);
  const w1 = tf.tidy(() => tf.variable(tf.tensor2d(r.normal(N * K, 0.1), [N, K])));
  const w2 = tf.tidy(() => tf.variable(tf.tensor2d(r.normal(N * N, 0.2, 0.01), [N, N])));
  const probe = tf.tensor2d(r.normal(R * N), [R, N]);
  let heldBytes = 0;
  const packed0 = spikeStoreStats.packedBytes;
  const { value, grads } = tf.variableGrads(() => {
    const pre = consume(tf.matMul(x, w1, false, true), (t) => tf.add(t, must(OFFSET[rate], 'an offset per rate')));
    const s1 = consume(pre, (t) => tf.reshape(lif(tf.reshape(t, [4, -1])), [R, N]));
    const s2 = tf.reshape(
      consume(tf.matMul(s1, w2, false, true), (t) => lif(tf.reshape(t, [4, -1]), { vThreshold: 0.5 })),
      [R, N],
    );
    const stream = consumeAll([s1, s2], (a, b) => tf.add(a, b));
    const loss = consume(
      consume(stream, (t) => tf.matMul(t, w2)),
      (t) => tf.sum(tf.mul(t, probe)),
    );
    heldBytes = tf.memory().numBytes;
    return loss as tf.Scalar;
  });
  const out = [must(grads[w1.name], 'w1 grad'), must(grads[w2.name], 'w2 grad')].map((g) =>
    Float32Array.from(g.dataSync()),
  );
  heldBytes += spikeStoreStats.packedBytes - packed0;
  tf.dispose([x, w1, w2, probe, value, ...Object.values(grads)]);
  return { grads: out, heldBytes, packedBytes: spikeStoreStats.packedBytes - packed0 };
}

test('a spiking chain: the same gradients bit for bit with spikes stored packed, in far fewer bytes', async () => {
  await requireBackend('native');
  for (const [i, rate] of RATES.entries()) {
    const before = tf.memory().numTensors;
    const float = withStore(false, () => spikingGrads(rate, 100 + i));
    assert.equal(tf.memory().numTensors, before, `rate ${rate}: tensors leaked on the float path`);
    const packed = withStore(true, () => spikingGrads(rate, 100 + i));
    assert.equal(tf.memory().numTensors, before, `rate ${rate}: tensors leaked on the packed path`);
    assert.equal(float.packedBytes, 0, `rate ${rate}: packed with the store off`);
    for (const [j, g] of packed.grads.entries())
      assert.deepEqual(g, must(float.grads[j], 'same count'), `rate ${rate}: weight ${j} gradient differs`);
    // Saved spike maps: s1 [R, N] (by its LIF, the second matmul and the add), s2 (by its LIF and the add), the
    // stream (by the last matmul): 3 * 4 * R * N bytes as float32.
    const spikeFloats = 3 * 4 * 4 * 512 * 160;
    const saved = float.heldBytes - packed.heldBytes;
    assert.ok(
      saved >= 0.8 * spikeFloats,
      `rate ${rate}: held ${float.heldBytes} B with float spikes, ${packed.heldBytes} B packed: saved ${saved} B`,
    );
    assert.ok(packed.packedBytes * 4 <= spikeFloats, `rate ${rate}: ${packed.packedBytes} B packed is not 4x smaller`);
  }
});

/** One training step's gradients of a preset at a small batch (BN running statistics move, so a fresh model each). */
function modelGrads(preset: string, batch: number): { grads: Map<string, Float32Array>; logits: Float32Array } {
  const model = createModel(resolveConfig(preset), 3);
  const r = rng(5);
  const images = tf.tensor4d(r.normal(batch * 32 * 32 * 3), [batch, 32, 32, 3]);
  const probe = tf.tensor2d(r.normal(batch * model.config.classes), [batch, model.config.classes]);
  let logits = new Float32Array();
  const { value, grads } = tf.variableGrads(() => {
    const y = model.forward(images, { training: true });
    logits = Float32Array.from(y.dataSync());
    return consume(y, (t) => tf.sum(tf.mul(t, probe))) as tf.Scalar;
  }, [...model.store.params.values()]);
  const out = new Map(
    [...model.store.params].map(([name, v]) => [name, Float32Array.from(must(grads[v.name], name).dataSync())]),
  );
  tf.dispose([images, probe, value, ...Object.values(grads)]);
  model.store.dispose();
  return { grads: out, logits };
}

test('whole models: a training step packs their saved spikes and gives the same gradients bit for bit', async () => {
  await requireBackend('native');
  for (const [preset, batch] of [
    ['spikformer-1-64', 8],
    ['sdt-2-128', 4],
  ] as const) {
    const float = withStore(false, () => modelGrads(preset, batch));
    const packed0 = spikeStoreStats.packed;
    const packed = withStore(true, () => modelGrads(preset, batch));
    assert.ok(spikeStoreStats.packed - packed0 >= 5, `${preset}: only ${spikeStoreStats.packed - packed0} maps packed`);
    assert.deepEqual(packed.logits, float.logits, `${preset}: logits`);
    assert.equal(packed.grads.size, float.grads.size, `${preset}: gradient count`);
    for (const [name, g] of float.grads) assert.deepEqual(packed.grads.get(name), g, `${preset}: ${name} gradient`);
  }
});
