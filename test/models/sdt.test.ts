// The Spike-driven Transformer's forward pass: its attention is masks and a token sum, with no matrix product.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';

before(async () => {
  await initEngine('cpu');
});

/** The kernels a forward pass runs whose names match `kernels`, as the shapes of their first operands. */
async function products(preset: string, kernels = /^(BatchMatMul|_FusedMatMul)$/): Promise<number[][]> {
  const model = createModel(resolveConfig(preset, { timeSteps: 2 }), 1);
  const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
  const info = await tf.profile(() => model.forward(x, { training: false }));
  tf.dispose([x, info.result as tf.Tensor]);
  model.store.dispose();
  return info.kernels.filter((k) => kernels.test(k.name)).map((k) => k.inputShapes[0] as number[]);
}

test(
  'SDT: one 2-D product per 1x1 conv and the head; ' + 'attention adds none (Spikformer has one fused kernel)',
  async () => {
    const sdt = await products('sdt-2-128');
    // Per block q, k, v, proj, fc1, fc2; then the head. Each a single [tokens, in] x [in, out] product over every
    // time step, image and token: the event-driven kernels see one spike matrix each.
    assert.equal(sdt.length, 2 * 6 + 1);
    // (a fused product with its bias sees [1, M, K]: one matrix all the same)
    const matrices = (shape: number[]) => shape.slice(0, -2).reduce((a, b) => a * b, 1);
    for (const shape of sdt) assert.equal(matrices(shape), 1, `[${shape}] is a batched product`);
    assert.deepEqual(sdt[0]?.slice(-2), [2 * 2 * 64, 128]);
    const spikformer = await products('spikformer-1-64', /^(BatchMatMul|_FusedMatMul|GeospikeSpikeAttention)$/);
    const batched = spikformer.filter((s) => matrices(s) > 1);
    assert.equal(batched.length, 1, 'scale (q k^T) v as one fused attention kernel over every head');
  },
);
