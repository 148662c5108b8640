import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';

test('initEngine activates the reference backend and registers gradients', async () => {
  assert.equal(await initEngine('cpu'), 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  // RealDiv has no gradient unless the bundled gradient registrations loaded.
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.div(x, tf.scalar(4))))(tf.tensor1d([1, 2, 3]));
  assert.deepEqual(Array.from(g.dataSync()), [0.25, 0.25, 0.25]);
});

test('initEngine names the choices when the backend is unknown', async () => {
  await assert.rejects(initEngine('nope'), /unknown backend 'nope'; choose one of: auto, cpu/);
});

test('GEOSPIKE_BACKEND selects the backend when no flag is given', async () => {
  process.env.GEOSPIKE_BACKEND = 'nope';
  try {
    await assert.rejects(initEngine(), /unknown backend 'nope'/);
    assert.equal(await initEngine('cpu'), 'cpu'); // the flag wins over the env
  } finally {
    delete process.env.GEOSPIKE_BACKEND;
  }
});
