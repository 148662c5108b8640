// Memory management of the native backend: the output pool never hands out an array someone can still see, and
// intermediate gradients are freed as soon as the backward pass has used them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { BufferPool } from '../../src/engine/native/pool.js';
import type { NativeBackend } from '../../src/engine/native/backend.js';

const N = 1 << 17; // above the pool's minimum size

test('BufferPool reuses given-back arrays, keeps at most its limit resident, and never reuses escaped ones', () => {
  const released: Float32Array[] = [];
  // resident limit: half of the most ever lent at once (4 arrays here), so two arrays
  const pool = new BufferPool((v) => released.push(v), 0.5, 0);
  const a = pool.alloc(N),
    b = pool.alloc(N),
    c = pool.alloc(N),
    d = pool.alloc(N);
  assert.equal(pool.misses, 4);
  assert.equal(pool.limitBytes, 2 * N * 4);
  pool.give(a);
  pool.give(b);
  assert.equal(pool.heldBytes, 2 * N * 4);
  pool.give(c); // over the limit: its pages go back to the OS, the array stays reusable
  assert.deepEqual(released, [c]);
  pool.escape(d);
  pool.give(d); // escaped: someone may still read it
  assert.equal(released.length, 1);
  const got = new Set([pool.alloc(N), pool.alloc(N), pool.alloc(N)]);
  assert.deepEqual(got, new Set([a, b, c]));
  assert.notEqual(pool.alloc(N), d);
  pool.give(new Float32Array(N)); // not made by the pool: ignored
  pool.give(a.subarray(1)); // a view: ignored
  assert.equal(pool.heldBytes, 0);
  const z = pool.alloc(N);
  z.fill(7);
  pool.give(z);
  assert.ok(
    pool.alloc(N, true).every((v) => v === 0),
    'zeroed on request',
  );
});

test('BufferPool sends its longest-idle arrays cold rather than let idle ones raise the peak', () => {
  const released: Float32Array[] = [];
  const pool = new BufferPool((v) => released.push(v), 1, 0); // all idle arrays may stay resident by the limit
  const a = pool.alloc(N),
    b = pool.alloc(N),
    c = pool.alloc(N); // the busiest moment: 3 arrays of N
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(pool.heldBytes, 3 * N * 4);
  // a new size: made fresh, so idle arrays go cold (a first, then b) until idle + out + new fit in 3 arrays of N
  pool.alloc(2 * N);
  assert.deepEqual(released, [a, b]);
  assert.equal(pool.heldBytes, N * 4);
  assert.equal(pool.alloc(N), c, 'the most recently idle array is still hot');
  assert.equal(released.length, 2);
});

test('an array read out with dataSync keeps its values after its tensor is disposed', async () => {
  await initEngine('native');
  const backend = tf.backend() as NativeBackend;
  const x = tf.fill([N], 2),
    y = tf.fill([N], 3);
  const s = tf.add(x, y); // a native kernel: its output comes from the pool
  const values = s.dataSync();
  s.dispose();
  for (let i = 0; i < 4; i++) tf.dispose(tf.mul(x, y)); // same size: would reuse s's array if it were pooled
  assert.ok(
    values.every((v) => v === 5),
    'a read-out array was overwritten',
  );
  const hits = backend.pool.hits;
  tf.dispose(tf.add(x, y));
  tf.dispose(tf.add(x, y));
  assert.ok(backend.pool.hits > hits, 'arrays nobody read are reused');
  tf.dispose([x, y]);
});

test('a view made by a JS kernel keeps its parent array out of the pool', async () => {
  await initEngine('native');
  const x = tf.fill([2, N], 1),
    y = tf.fill([2, N], 1);
  const s = tf.add(x, y); // pooled
  const half = tf.slice(s, [0, 0], [1, N]); // the JS Slice kernel returns a view into s's array
  s.dispose();
  for (let i = 0; i < 4; i++) tf.dispose(tf.mul(x, tf.scalar(9)));
  assert.ok(
    half.dataSync().every((v) => v === 2),
    'the slice was overwritten through its parent',
  );
  tf.dispose([x, y, half]);
});

/** An identity whose gradient runs last in a backward pass and records measure() at that moment. */
function lastGradientProbe(measure: () => number) {
  const seen = { value: -1 };
  const probe = tf.customGrad((x, save) => {
    (save as tf.GradSaveFunc)([]);
    return {
      value: tf.clone(x as tf.Tensor),
      gradFunc: (dy) => {
        seen.value = measure();
        return [tf.clone(dy as tf.Tensor)];
      },
    };
  });
  return { probe, seen };
}

test('intermediate gradients are freed during the backward pass, and gradients are unchanged', async () => {
  await initEngine('native');
  const { probe, seen } = lastGradientProbe(() => tf.memory().numTensors);
  const x = tf.fill([1000], 0.5);
  const depth = 30;
  const before = tf.memory().numTensors;
  const g = tf.grad((v: tf.Tensor) => {
    let h = probe(v) as tf.Tensor;
    for (let i = 0; i < depth; i++) h = tf.relu(h);
    return tf.sum(h);
  })(x);
  assert.ok(Math.abs((g.dataSync()[0] ?? NaN) - 1) < 1e-6, `gradient ${g.dataSync()[0]}, want 1`);
  // The forward's tensors stay alive until the end (tfjs keeps them); without freeing, every one of the `depth`
  // upstream gradients would be alive here too.
  const forwardTensors = depth + 3; // each relu's output; probe, sum, the seed
  assert.ok(seen.value - before < forwardTensors + 8, `${seen.value - before} tensors alive at the end of backward`);
  tf.dispose([x, g]);
});

test(
  'what a node saved for its gradient is freed once that gradient has run, ' + 'and gradients are unchanged',
  async () => {
    await initEngine('native');
    const { probe, seen } = lastGradientProbe(() => tf.memory().numBytes);
    const n = 1000,
      depth = 30;
    const x = tf.fill([n], 0.5);
    const before = tf.memory().numBytes;
    const g = tf.grad((v: tf.Tensor) => {
      // As the models do: each activation disposed after its last forward use, so only the tape's saved copy
      // (each relu saves its input) keeps it.
      let h = probe(v) as tf.Tensor;
      for (let i = 0; i < depth; i++) {
        const next = tf.relu(h);
        h.dispose();
        h = next;
      }
      return tf.sum(h);
    })(x);
    assert.ok(Math.abs((g.dataSync()[0] ?? NaN) - 1) < 1e-6, `gradient ${g.dataSync()[0]}, want 1`);
    // Without freeing, the `depth` saved relu inputs (4 KB each) would all be alive here.
    const extra = (seen.value - before) / (4 * n);
    assert.ok(extra < 6, `${extra} arrays of ${n} floats alive at the end of backward, want the saved ones freed`);
    tf.dispose([x, g]);
  },
);
