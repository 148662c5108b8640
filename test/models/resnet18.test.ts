// ResNet18's eval mode folds each batch norm into its convolution, and the native backend keeps filters packed
// across calls: both caches must follow the weights and running statistics when a training step changes them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import type { Model } from '../../src/models/model.js';
import { AdamW } from '../../src/train/adamw.js';
import { lossAndGrads } from '../../src/train/grads.js';
import { crossEntropy } from '../../src/train/loss.js';
import { assertCloseToScale, worstDifference } from '../helpers/compare.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';
import { rng } from '../helpers/rng.js';

const config = resolveConfig('resnet18-w8', { classes: 5 });

function evalLogits(model: Model, x: tf.Tensor4D): Float32Array {
  const logits = tf.tidy(() => model.forward(x, { training: false }));
  const values = logits.dataSync() as Float32Array;
  logits.dispose();
  return values;
}

for (const backend of TEST_BACKENDS) {
  describe(`resnet18 on the ${backend} backend`, () => {
    test(
      'eval, a training step, eval: ' + "equals a fresh model's eval with the updated weights and statistics",
      async () => {
        await requireBackend(backend);
        const r = rng(18);
        const x = tf.tensor4d(r.normal(2 * 32 * 32 * 3), [2, 32, 32, 3]);
        const model = createModel(config, 1);
        const before = evalLogits(model, x);
        assert.deepEqual(evalLogits(model, x), before, 'a second eval (filters now packed) gives the same logits');

        const opt = new AdamW({ lr: 1e-2, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
        const { loss, grads } = lossAndGrads(model.store, () =>
          crossEntropy(model.forward(x, { training: true }), Int32Array.from([1, 3]), 0.1),
        );
        assert.ok(opt.apply(model.store.params, grads), 'the step was applied');
        tf.dispose([loss, ...grads.values()]);
        const after = [evalLogits(model, x), evalLogits(model, x), evalLogits(model, x)];

        // A fresh model (other seed) given the stepped weights and running statistics folds and packs from scratch.
        const fresh = createModel(config, 2);
        for (const kind of ['params', 'buffers'] as const) {
          for (const [name, v] of model.store[kind]) fresh.store[kind].get(name)!.assign(tf.clone(v));
        }
        const want = evalLogits(fresh, x);
        const scale = Math.max(...want.map(Math.abs));
        assert.ok(worstDifference(before, want).worst > 1e-2 * scale, 'the step changed the eval logits');
        after.forEach((got, i) => {
          assertCloseToScale(got, want, 1e-6, `eval ${i + 1} after the step`);
        });

        opt.dispose();
        model.store.dispose();
        fresh.store.dispose();
        x.dispose();
      },
    );
  });
}
