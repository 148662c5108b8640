// An eval-mode batch norm folded into the layer before it (src/models/bn_fold.ts) gives the layer-then-norm result,
// for a linear layer (output channel first, with and without its own bias) and a convolution (output channel last),
// and the fold follows the weights and running statistics when they change.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BNFold, foldedConv, foldedLinear } from '../../src/models/bn_fold.js';
import { BatchNorm, Conv2d, Linear } from '../../src/models/layers.js';
import { ParamStore } from '../../src/models/params.js';
import { Rng } from '../../src/util/rng.js';
import { assertCloseToScale, worstDifference } from '../helpers/compare.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';
import { rng } from '../helpers/rng.js';

type R = ReturnType<typeof rng>;

/** Running statistics and affine parameters far from the identity, so a fold that drops any of them shows. */
function randomNorm(bn: BatchNorm, r: R): void {
  const C = bn.channels;
  const positive = (n: number) => Float32Array.from(r.normal(n), (v) => 0.2 + Math.abs(v));
  bn.weight.assign(tf.tensor1d(r.normal(C)));
  bn.bias.assign(tf.tensor1d(r.normal(C)));
  bn.runningMean.assign(tf.tensor1d(r.normal(C)));
  bn.runningVar.assign(tf.tensor1d(positive(C)));
}

for (const backend of TEST_BACKENDS) {
  describe(`batch norm folded on the ${backend} backend`, () => {
    test('linear + norm: the folded product is the layer, then the eval-mode norm, with or without bias', async () => {
      await requireBackend(backend);
      const r = rng(7);
      for (const bias of [true, false]) {
        const store = new ParamStore(new Rng(1));
        const linear = new Linear(store, 'fc', 24, 40, 'torch', { bias });
        const bn = new BatchNorm(store, 'bn', 40);
        randomNorm(bn, r);
        const fold = new BNFold(store, linear.weight, 'first', bn, linear.bias);
        const x = tf.tensor3d(r.normal(2 * 5 * 24), [2, 5, 24]);
        const want = tf.tidy(() => bn.apply(linear.apply(x), false));
        const got = foldedLinear(linear, fold, x);
        assert.deepEqual(got.shape, [2, 5, 40]);
        assertCloseToScale(got, want, 1e-5, `linear (bias ${bias}) + norm`);
        tf.dispose([x, want, got]);
        store.dispose();
      }
    });

    test('conv + norm (+ ReLU): the folded convolution equals the conv then the eval-mode norm', async () => {
      await requireBackend(backend);
      const r = rng(8);
      const store = new ParamStore(new Rng(2));
      const conv = new Conv2d(store, 'conv', 6, 10, 3, 2, 1);
      const bn = new BatchNorm(store, 'bn', 10);
      randomNorm(bn, r);
      const fold = new BNFold(store, conv.weight, 'last', bn);
      const x = tf.tensor4d(r.normal(2 * 9 * 9 * 6), [2, 9, 9, 6]);
      for (const relu of [false, true]) {
        const want = tf.tidy(() => bn.apply(conv.apply(x), false, relu));
        const got = foldedConv(conv, fold, x, relu);
        assertCloseToScale(got, want, 1e-5, `conv + norm, relu ${relu}`);
        tf.dispose([want, got]);
      }
      x.dispose();
      store.dispose();
    });

    test('the fold is cached, and recomputed (the old one freed) when a weight or statistic changes', async () => {
      await requireBackend(backend);
      const r = rng(9);
      const store = new ParamStore(new Rng(3));
      const linear = new Linear(store, 'fc', 8, 16, 'torch');
      const bn = new BatchNorm(store, 'bn', 16);
      randomNorm(bn, r);
      const fold = new BNFold(store, linear.weight, 'first', bn, linear.bias);
      const x = tf.tensor2d(r.normal(3 * 8), [3, 8]);
      const first = fold.get();
      assert.equal(fold.get().weight, first.weight, 'unchanged sources, yet the fold was recomputed');
      const before = foldedLinear(linear, fold, x);
      for (const change of [
        () => bn.runningVar.assign(tf.tensor1d(Float32Array.from(r.normal(16), (v) => 0.5 + Math.abs(v)))),
        () => linear.bias!.assign(tf.tensor1d(r.normal(16))),
        () => linear.weight.assign(tf.tensor2d(r.normal(16 * 8), [16, 8])),
      ]) {
        const old = fold.get();
        change();
        const now = fold.get();
        assert.ok(old.weight.isDisposed && old.bias.isDisposed, 'the old fold was not freed');
        assert.equal(store.derived.size, 2, 'the store holds exactly the current fold');
        const got = foldedLinear(linear, fold, x);
        const want = tf.tidy(() => bn.apply(linear.apply(x), false));
        assertCloseToScale(got, want, 1e-5, 'after a change');
        assert.notEqual(now.weight, old.weight);
        tf.dispose([got, want]);
      }
      const after = foldedLinear(linear, fold, x);
      assert.ok(worstDifference(after.dataSync(), before.dataSync()).worst > 1e-3, 'the changes changed nothing');
      tf.dispose([x, before, after]);
      store.dispose();
    });
  });
}
