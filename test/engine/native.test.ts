// The native backend's wiring: it loads, `auto` prefers it, it carries every cpu kernel, and a failed load says how
// to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { explainLoadFailure, loadAddon } from '../../src/engine/native/addon.js';
import { nativeKernels } from '../../src/ops/native.js';
import { loadWebGPUBackend } from '../../src/engine/webgpu/register.js';

test('auto picks the native backend when the addon loads (webgpu instead on a hardware GPU)', async () => {
  const info = loadAddon().info(); // throws, saying how to fix it, when the addon is not built (see README)
  assert.match(info.onednn, /^\d+\.\d+\.\d+$/);
  assert.ok(info.threads >= 1);
  const hardwareGpu = await loadWebGPUBackend(true).then(
    () => true,
    () => false,
  );
  const want = hardwareGpu ? 'webgpu' : 'native';
  assert.equal(await initEngine('auto'), want);
  assert.equal(tf.getBackend(), want);
});

test('the native backend registers every cpu kernel, replacing the hot ones with its own', async () => {
  await initEngine('native');
  const cpu = new Set(tf.getKernelsForBackend('cpu').map((k) => k.kernelName));
  const native = new Map(tf.getKernelsForBackend('native').map((k) => [k.kernelName, k]));
  for (const name of cpu) assert.ok(native.has(name), `native lacks kernel ${name}`);
  for (const k of nativeKernels) {
    assert.equal(native.get(k.kernelName)!.kernelFunc, k.kernelFunc, `${k.kernelName} is not the native version`);
    assert.notEqual(tf.getKernel(k.kernelName, 'cpu')?.kernelFunc, k.kernelFunc);
  }
  for (const name of [
    'Conv2D',
    'Conv2DBackpropInput',
    'Conv2DBackpropFilter',
    'BatchMatMul',
    'MaxPool',
    'MaxPoolGrad',
    'GeospikeLIF',
    'GeospikeBatchNormTrain',
  ]) {
    assert.ok(
      nativeKernels.some((k) => k.kernelName === name),
      `${name} is not replaced`,
    );
  }
});

test('a training step on native gives the gradients the reference backend gives', async () => {
  const grads = async (backend: string) => {
    await initEngine(backend);
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 7 * 7 * 3 }, (_, i) => Math.sin(i)),
      [2, 7, 7, 3],
    );
    const w = tf.tensor4d(
      Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i) / 4),
      [3, 3, 3, 4],
    );
    const m = tf.tensor2d(
      Float32Array.from({ length: 16 * 5 }, (_, i) => Math.sin(i * 0.7)),
      [16, 5],
    );
    const f = (x: tf.Tensor, w: tf.Tensor, m: tf.Tensor) => {
      const y = tf.maxPool(tf.relu(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')), 3, 2, 'same');
      return tf.sum(tf.square(tf.matMul(tf.reshape(y, [8, 16]), m as tf.Tensor2D)));
    };
    const g = tf.grads(f)([x, w, m]);
    return g.map((t) => Array.from(t.dataSync()));
  };
  const ref = await grads('cpu');
  const got = await grads('native');
  assert.equal(got.length, ref.length, 'one gradient per input');
  for (const [i, want] of ref.entries()) {
    const have = got[i] ?? [];
    const scale = Math.max(1, ...want.map(Math.abs));
    want.forEach((v, j) => {
      assert.ok(Math.abs((have[j] ?? NaN) - v) <= 1e-4 * scale, `grad ${i}[${j}]: ${have[j]} vs ${v}`);
    });
  }
});

test('a failed load names the cause and the fix', () => {
  const msg = explainLoadFailure('libdnnl.so.2: cannot open shared object file: No such file or directory');
  assert.match(msg, /oneDNN \(libdnnl\) is not installed/);
  assert.match(msg, /apt-get install libdnnl-dev/);
  assert.match(msg, /npm run build/);
  assert.match(
    explainLoadFailure('invalid ELF header'),
    /failed to load \(invalid ELF header\).*apt-get install libdnnl-dev/,
  );
});

test('the addon names a wrong argument: its position, the type it wants, the length it needs', () => {
  const addon = loadAddon();
  const wrong = [1, 0, 1] as unknown as Float32Array;
  assert.throws(() => addon.density(wrong, 0), { name: 'TypeError', message: 'argument 0 must be a Float32Array' });
  assert.throws(() => addon.unary(0, new Float32Array(4), new Float32Array(2), 0), {
    name: 'RangeError',
    message: 'argument 2 has 2 elements, needs 4',
  });
  const shape = [2, 2] as unknown as Int32Array;
  assert.throws(() => addon.transpose(new Float32Array(4), new Float32Array(4), shape, Int32Array.from([1, 0])), {
    name: 'TypeError',
    message: 'argument 2 must be an Int32Array',
  });
  // An optional bias: absent and undefined alike mean none.
  const a = Float32Array.from([1, 0, 0, 1]),
    b = Float32Array.from([1, 2, 3, 4]);
  const plain = new Float32Array(4),
    none = new Float32Array(4);
  addon.sparseMatMul(a, b, plain, 2, 2, 2, false);
  addon.sparseMatMul(a, b, none, 2, 2, 2, false, undefined);
  assert.deepEqual(none, plain);
  assert.deepEqual(plain, b, 'the identity times b');
});
