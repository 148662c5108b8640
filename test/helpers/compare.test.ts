// The comparison helpers themselves: every golden and native-vs-JS test relies on them to fail on a NaN, so they are
// shown failing on kernels that return NaN or turn NaN into 0.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { toFloat32 } from '../../src/io/safetensors.js';
import { assertCloseAbs, assertCloseToScale, worstDifference } from './compare.js';
import { loadGolden } from './golden.js';

// Two deliberately broken element-wise kernels on the JS backend: one puts a NaN at index `at`, one turns NaN into 0
// (the mistake a native Relu that clamps with max(0, x) in the wrong order makes).
const NAN_AT = 'GeospikeTestNaNAt';
const NAN_TO_ZERO = 'GeospikeTestNaNToZero';

function elementwise(name: string, f: (v: number, i: number, attrs: tf.NamedAttrMap) => number): void {
  tf.registerKernel({
    kernelName: name,
    backendName: 'cpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      const cpu = backend as unknown as {
        readSync(id: object): Float32Array;
        makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo;
      };
      const out = Float32Array.from(cpu.readSync(x.dataId), (v, i) => f(v, i, attrs ?? {}));
      return cpu.makeTensorInfo(x.shape, 'float32', out);
    },
  });
}

before(async () => {
  await initEngine('cpu');
  elementwise(NAN_AT, (v, i, attrs) => (i === attrs.at ? NaN : v));
  elementwise(NAN_TO_ZERO, (v) => (Number.isNaN(v) ? 0 : Math.max(0, v)));
});

const fails = (f: () => void, pattern: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof assert.AssertionError && pattern.test(e.message));

test('a NaN in a middle element fails, whatever follows it', () => {
  const want = [1, 2, 3, 4, 5, 6];
  // the NaN is followed by equal elements, and by a difference within tolerance
  fails(
    () => assertCloseToScale([1, 2, NaN, 4, 5, 6.0001], want, 1e-3, 'x'),
    /x: max \|diff\| Infinity at 2 \(got NaN, expected 3/,
  );
  fails(() => assertCloseAbs([1, 2, NaN, 4, 5, 6], want, 1e-3, 'x'), /x\[2\]: got NaN, expected 3/);
  // a NaN where a number is expected, and a number where NaN is expected, both count; NaN against NaN does not
  fails(() => assertCloseToScale([1, 2, 3, 4, 5, 6], [1, NaN, 3, 4, 5, 6], 1e-3, 'x'), /at 1 \(got 2, expected NaN/);
  assertCloseToScale([1, NaN, 3], [1, NaN, 3], 0, 'x');
  assert.deepEqual(worstDifference([NaN, 0, 9], [NaN, 0, 1]), { worst: 8, at: 2 });
  // the first NaN is kept even when a larger finite difference follows
  assert.deepEqual(worstDifference([0, NaN, 1e30], [0, 1, 0]), { worst: Infinity, at: 1 });
});

test('a kernel that turns NaN into 0 fails against one that keeps it', () => {
  const values = Float32Array.from({ length: 300 }, (_, i) => (i % 97 === 0 ? NaN : Math.sin(i)));
  const x = tf.tensor1d(values);
  const want = tf.relu(x);
  const got = tf.engine().runKernel(NAN_TO_ZERO, { x }) as tf.Tensor;
  fails(() => assertCloseToScale(got, want, 0, 'relu'), /relu: max \|diff\| Infinity at 0 \(got 0, expected NaN/);
  tf.dispose([x, want, got]);
});

test('negative zero differs from zero only where the test asks for it', () => {
  assertCloseToScale([0, -0, 1], [-0, 0, 1], 0, 'zeros');
  fails(() => assertCloseToScale([1, 0, 1], [1, -0, 1], 0, 'zeros', { signedZero: true }), /at 1 \(got 0, expected -0/);
  assertCloseToScale([-0, 2], [-0, 2], 0, 'zeros', { signedZero: true });
});

test('a golden comparison fails when the tensor holds a NaN', () => {
  const golden = toFloat32(loadGolden('spikformer-tiny.safetensors').tensors.get('eval.logits')!);
  const exact = tf.tensor1d(golden);
  assertCloseToScale(exact, golden, 1e-4, 'eval.logits'); // the unbroken tensor passes
  const mid = golden.length >> 1;
  const broken = tf.engine().runKernel(NAN_AT, { x: exact }, { at: mid }) as tf.Tensor;
  assert.ok(Number.isNaN(broken.dataSync()[mid]) && broken.dataSync().filter(Number.isNaN).length === 1);
  fails(
    () => assertCloseToScale(broken, golden, 1e-4, 'eval.logits'),
    new RegExp(`eval.logits: max \\|diff\\| Infinity at ${mid} \\(got NaN`),
  );
  tf.dispose([exact, broken]);
});
