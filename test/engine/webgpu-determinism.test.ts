// Deterministic webgpu: no program a training step runs adds floats with atomics (whose order a GPU does not fix), so
// `--resume` reproduces a straight run byte for byte on any GPU, not only on llvmpipe (where train.test.ts checks it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { DETERMINISTIC_FLAG } from '../../src/engine/webgpu/register.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { lossAndGrads } from '../../src/train/grads.js';
import { crossEntropy } from '../../src/train/loss.js';
import { requireBackend } from '../helpers/backends.js';

interface Program {
  atomic?: boolean;
  constructor: { name: string };
}
type Backend = { runWebGPUProgram: (program: Program, ...rest: unknown[]) => unknown };

/** Runs `fn` on webgpu and returns the names of the programs it dispatched, and of those that use atomics. */
function programsOf(fn: () => void): { all: Set<string>; atomic: Set<string> } {
  const gpu = tf.backend() as unknown as Backend;
  const all = new Set<string>();
  const atomic = new Set<string>();
  const run = gpu.runWebGPUProgram;
  gpu.runWebGPUProgram = function (program, ...rest) {
    all.add(program.constructor.name);
    if (program.atomic) atomic.add(program.constructor.name);
    return run.call(this, program, ...rest);
  };
  try {
    fn();
  } finally {
    gpu.runWebGPUProgram = run;
  }
  return { all, atomic };
}

/** A product tfjs splits over K when left to itself: one 16x16 output tile, K 4096. */
const splitKProduct = () => tf.tidy(() => tf.matMul(tf.ones([16, 4096]), tf.ones([4096, 16])).dataSync());

test("with tfjs's own threshold the split-K product runs on atomics (what the flag prevents)", async () => {
  await requireBackend('webgpu');
  const ours = tf.env().getNumber(DETERMINISTIC_FLAG);
  tf.env().set(DETERMINISTIC_FLAG, -1);
  try {
    assert.deepEqual([...programsOf(splitKProduct).atomic], ['MatMulSplitKProgram']);
  } finally {
    tf.env().set(DETERMINISTIC_FLAG, ours);
  }
});

test('no program of the split-K product or of a Spikformer, SDT or ResNet18 training step uses atomics', async () => {
  await requireBackend('webgpu');
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const models = [
    createModel(resolveConfig('spikformer-1-64', { dim: 16, heads: 2, timeSteps: 2, classes: 4, imageSize: 16 }), 1),
    createModel(resolveConfig('sdt-2-128', { dim: 16, heads: 2, timeSteps: 2, classes: 4, imageSize: 16 }), 1),
    createModel(resolveConfig('resnet18-w8', { classes: 4 }), 1),
  ];
  const { all, atomic } = programsOf(() => {
    splitKProduct();
    for (const model of models) {
      const { loss, grads } = lossAndGrads(model.store, () =>
        crossEntropy(model.forward(x, { training: true }), Int32Array.from([0, 3]), 0),
      );
      loss.dataSync();
      tf.dispose([loss, ...grads.values()]);
    }
  });
  assert.ok(all.size > 10, `the steps ran webgpu programs: ${[...all]}`);
  assert.deepEqual([...atomic], [], 'programs with atomics');
  tf.dispose(x);
  for (const m of models) m.store.dispose();
});
