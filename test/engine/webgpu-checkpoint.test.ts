// Checkpoints move between backends: a model trained on webgpu is saved, then read and evaluated on native, which
// must give the logits webgpu gives, and the optimizer's moments come back as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { AdamW } from '../../src/train/adamw.js';
import {
  loadModelFromCheckpoint,
  readCheckpoint,
  readOptimizerState,
  saveCheckpoint,
} from '../../src/train/checkpoint.js';
import { lossAndGrads } from '../../src/train/grads.js';
import { crossEntropy } from '../../src/train/loss.js';
import { assertCloseToScale } from '../helpers/compare.js';
import { requireBackend } from '../helpers/backends.js';

test('train on webgpu, evaluate the checkpoint on native: same logits', async () => {
  await requireBackend('webgpu');
  const config = resolveConfig('spikformer-1-64', { dim: 16, heads: 2, timeSteps: 2, classes: 4, imageSize: 16 });
  const model = createModel(config, 4);
  const opt = new AdamW({ lr: 1e-2, weightDecay: 0.01 });
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  for (let i = 0; i < 2; i++) {
    const { loss, grads } = lossAndGrads(model.store, () =>
      crossEntropy(model.forward(x, { training: true }), Int32Array.from([0, 2]), 0),
    );
    opt.apply(model.store.params, grads);
    tf.dispose([loss, ...grads.values()]);
  }
  const onWebgpu = tf
    .tidy(() => model.forward(x, { training: false }))
    .dataSync()
    .slice();
  const dir = mkdtempSync(join(tmpdir(), 'geospike-ckpt-'));
  try {
    const meta = {
      preset: 'spikformer-1-64',
      model: config,
      classes: ['a', 'b', 'c', 'd'],
      mean: [0, 0, 0],
      std: [1, 1, 1],
      epoch: 0,
      step: opt.step,
      cursor: { epoch: 0, batch: 2 },
      best: null,
      train: {},
    };
    const json = await saveCheckpoint(dir, 'last', model, opt, meta);
    const moments = opt.state();

    assert.equal(await initEngine('native'), 'native');
    const { model: loaded } = loadModelFromCheckpoint(json);
    const onNative = tf.tidy(() =>
      loaded.forward(tf.tensor(x.dataSync(), x.shape) as tf.Tensor4D, { training: false }),
    );
    assertCloseToScale(onNative, onWebgpu, 1e-4, 'eval logits, native vs webgpu');
    const state = readOptimizerState(readCheckpoint(json).optimizerPath!, opt.step);
    for (const [name, m] of moments.m) assert.deepEqual(state.m.get(name), m, `m.${name}`);
    tf.dispose(onNative);
    loaded.store.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    tf.dispose(x);
    opt.dispose();
    model.store.dispose();
  }
});
