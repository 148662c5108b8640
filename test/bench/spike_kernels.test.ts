// The spike-kernel benchmark (npm run bench:spikes) at a tiny batch: every case runs both kernels, and the two agree
// (the benchmark also reports it, so a wrong kernel shows in its table); and the per-kernel profile of `bench
// --profile`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { benchModel } from '../../src/bench/model.js';
import { describeProfile, kernelFamily } from '../../src/bench/kernel_profile.js';
import { describeSpikeRows, spikeCases, timeSpikeKernels } from '../../src/bench/spike_kernels.js';
import { initEngine } from '../../src/engine/backend.js';
import { SPIKE_ATTENTION_GRAD } from '../../src/ops/spike_attention/cpu.js';

test('bench:spikes times every spike kernel against its dense one, with results that agree', async () => {
  assert.equal(await initEngine('native'), 'native');
  const rates = [0, 0.1, 1];
  const rows = timeSpikeKernels(spikeCases(1), rates, 1, 1);
  assert.equal(rows.length, spikeCases(1).length * rates.length);
  for (const r of rows) {
    assert.ok(r.sparseMs > 0 && r.denseMs > 0 && r.sparseCpuMs >= 0, `${r.kernel} at ${r.rate}: times`);
    assert.ok(r.relDiff < 1e-5, `${r.kernel} at ${r.rate}: sparse and dense differ by ${r.relDiff} of the scale`);
  }
  const attention = rows.filter((r) => r.kernel.startsWith('attention') && r.kernel.endsWith('forward'));
  assert.ok(
    attention.every((r) => r.relDiff === 0),
    'the fused attention forward is exact on spikes',
  );
  assert.equal(describeSpikeRows(rows).length, spikeCases(1).length * (rates.length + 2));
});

test('bench --profile times the kernels of the timed steps, by family, and restores them afterwards', async () => {
  assert.equal(await initEngine('native'), 'native');
  const original = tf.getKernel('BatchMatMul', 'native')?.kernelFunc;
  const run = () =>
    benchModel({ preset: 'spikformer-2-128', batch: 2, steps: 1, warmup: 0, mode: 'train', backend: 'native' });
  const profiled = await benchModel({
    preset: 'spikformer-2-128',
    batch: 2,
    steps: 1,
    warmup: 0,
    mode: 'train',
    backend: 'native',
    profile: 'shape',
  });
  const names = profiled.profile!.map((t) => t.name);
  assert.ok(
    names.some((n) => n.startsWith(`${SPIKE_ATTENTION_GRAD} [`)),
    `the fused attention's gradient, with shapes: ${names}`,
  );
  const times = profiled.profile!.map((t) => t.ms);
  assert.deepEqual(
    times,
    [...times].sort((a, b) => b - a),
    'slowest first',
  );
  assert.equal(kernelFamily('BatchMatMul'), 'matmul');
  assert.equal(kernelFamily('Conv2DBackpropFilter'), 'conv');
  assert.match(describeProfile(profiled.profile!, 1)[0] ?? '', /^kernel time per step, [\d.]+ s in all/);
  assert.equal(tf.getKernel('BatchMatMul', 'native')?.kernelFunc, original, 'the timed kernels are unwrapped again');
  assert.equal((await run()).profile, undefined, 'no profile unless asked');
});
