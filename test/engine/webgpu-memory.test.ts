// No GPU buffer leaks across training steps on the webgpu backend: after a warm-up, 20 steps of a tiny Spikformer
// (LIF, BatchNorm, max-pool, attention, AdamW: every WGSL kernel) leave the tensor count and the bytes and buffers
// in use exactly where they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { GeospikeWebGPUBackend } from '../../src/engine/webgpu/backend.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { AdamW } from '../../src/train/adamw.js';
import { lossAndGrads } from '../../src/train/grads.js';
import { crossEntropy } from '../../src/train/loss.js';
import { requireBackend } from '../helpers/backends.js';

test('20 training steps on webgpu leave tensors, GPU bytes and GPU buffers in use flat', async () => {
  await requireBackend('webgpu');
  const gpu = tf.backend() as GeospikeWebGPUBackend;
  const model = createModel(
    resolveConfig('spikformer-1-64', { dim: 16, heads: 2, timeSteps: 2, classes: 4, imageSize: 16 }),
    3,
  );
  const opt = new AdamW({ lr: 1e-3, weightDecay: 0.01 });
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const y = Int32Array.from([1, 3]);
  const losses: number[] = [];
  const step = () => {
    const { loss, grads } = lossAndGrads(model.store, () => crossEntropy(model.forward(x, { training: true }), y, 0.1));
    opt.apply(model.store.params, grads);
    losses.push(loss.dataSync()[0] ?? NaN); // a missing loss fails the finiteness check below
    tf.dispose([loss, ...grads.values()]);
  };
  const usage = () => ({
    tensors: tf.memory().numTensors,
    bytes: gpu.memory().numBytesInGPU,
    buffers: gpu.bufferManager.getNumUsedBuffers(),
  });
  for (let i = 0; i < 2; i++) step(); // the optimizer's moments appear on the first step
  const before = usage();
  for (let i = 0; i < 20; i++) step();
  assert.deepEqual(usage(), before, 'usage after 20 more steps');
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(
    (losses.at(-1) ?? NaN) < (losses[0] ?? NaN),
    `the loss falls on a batch it sees again and again: ${losses[0]} -> ${losses.at(-1)}`,
  );
  tf.dispose(x);
  opt.dispose();
  model.store.dispose();
});
