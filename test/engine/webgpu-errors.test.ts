// GPU errors never pass silently on the webgpu backend: Dawn reports them to the device, not to tfjs, which would
// otherwise go on returning stale buffers. Device loss comes last: it ends the backend for this file.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { GeospikeWebGPUBackend } from '../../src/engine/webgpu/backend.js';
import { requireBackend } from '../helpers/backends.js';

let gpu: GeospikeWebGPUBackend;

before(async () => {
  await requireBackend('webgpu');
  gpu = tf.backend() as GeospikeWebGPUBackend;
});

test('a tensor over maxStorageBufferBindingSize is refused before dispatch, naming the limit and the tensor', () => {
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  const n = limit / 4 + 1024; // a little over the limit in float32
  const small = tf.ones([4]);
  assert.deepEqual(Array.from(small.dataSync()), [1, 1, 1, 1]);
  assert.throws(
    () => tf.fill([n], 3),
    (err: Error) => {
      assert.match(err.message, /maxStorageBufferBindingSize/);
      assert.match(err.message, new RegExp(`shape \\[${n}\\]`));
      assert.match(err.message, /smaller batch/);
      return true;
    },
  );
  // and the backend still computes correctly afterwards
  assert.deepEqual(Array.from(tf.add(small, 1).dataSync()), [2, 2, 2, 2]);
  small.dispose();
});

/** A tensor computed on the GPU (tfjs runs ops on tiny CPU-resident tensors on the CPU). */
const onGpu = () => tf.add(tf.ones([4096]), 1);

test('an error the device reports (an invalid shader here) stops the next read instead of returning stale data', () => {
  const x = onGpu();
  gpu.device.createShaderModule({ code: 'this is not WGSL' });
  assert.throws(() => x.dataSync(), /the GPU reported an error.*WGSL/s);
  // reported once: the next read works again
  assert.equal(tf.sum(tf.ones([8])).dataSync()[0], 8);
  x.dispose();
});

test('device loss stops reads with the reason', async () => {
  const x = onGpu();
  gpu.device.destroy();
  await gpu.device.lost;
  assert.throws(() => x.dataSync(), /GPU device was lost \(destroyed/);
});
