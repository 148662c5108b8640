import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, registerBackendLoader, unavailableReason } from '../../src/engine/backend.js';

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

test(
  'an optional backend (a GPU) is skipped silently by auto, ' + 'and asked for by name falls back with one warning',
  async () => {
    let tries = 0;
    registerBackendLoader(
      'test-gpu',
      async () => {
        tries++;
        throw new Error('no test GPU here');
      },
      true,
      true,
    );
    const writes: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const auto = await initEngine('auto');
      assert.notEqual(auto, 'test-gpu');
      assert.equal(tries, 1, 'auto tried it first');
      assert.equal(unavailableReason('test-gpu'), undefined, 'auto says nothing about a missing GPU');
      assert.equal(await initEngine('test-gpu'), auto, 'falls back to what auto picks');
      assert.equal(await initEngine('test-gpu'), auto);
    } finally {
      process.stderr.write = write;
    }
    const warnings = writes.filter((w) => w.includes('test-gpu'));
    assert.equal(warnings.length, 1, `one warning: ${writes.join('')}`);
    assert.match(warnings[0] ?? '', /backend 'test-gpu' unavailable, falling back to auto: no test GPU here/);
    assert.match(unavailableReason('test-gpu')!, /no test GPU here/);
  },
);
