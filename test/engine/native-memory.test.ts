// Memory management of the native backend: the output pool never hands out an array someone can still see, and
// intermediate gradients are freed as soon as the backward pass has used them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { BufferPool } from '../../src/engine/native/pool.js';
import type { NativeBackend } from '../../src/engine/native/backend.js';
import { AdamW } from '../../src/train/adamw.js';
import { BatchNorm } from '../../src/models/layers.js';
import { ParamStore } from '../../src/models/params.js';
import { Rng } from '../../src/util/rng.js';
import { spikeStoreStats } from '../../src/ops/spike_store/native.js';
import { lif } from '../../src/snn/lif.js';

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

test('BufferPool.handOn: an array two tensors hold comes back after both are disposed; never one seen outside', () => {
  const pool = new BufferPool(() => {}, 1, 0);
  const a = pool.alloc(N);
  assert.ok(pool.handOn(a));
  pool.give(a); // the consumed input's tensor: the result still holds the array
  assert.equal(pool.heldBytes, 0);
  pool.give(a); // the result's
  assert.equal(pool.heldBytes, N * 4);
  assert.equal(pool.alloc(N), a);
  const seen = pool.alloc(N);
  pool.escape(seen);
  assert.equal(pool.handOn(seen), false, 'an escaped array may be read by its holder');
  assert.equal(pool.handOn(new Float32Array(N)), false, 'an array the pool did not make');
  assert.equal(pool.handOn(a.subarray(0, N / 2)), false, 'a view');
});

test('AdamW updates in place after its first step: no new arrays, same values, nothing read out changes', async () => {
  await initEngine('native');
  const backend = tf.backend() as NativeBackend;
  const n = 3 * N;
  const run = (inPlace: boolean) => {
    const p = tf.variable(tf.randomNormal([n], 0, 1, 'float32', 3));
    const opt = new AdamW({ lr: 1e-2, weightDecay: 0.1 });
    const params = new Map([['w', p]]);
    const allocs: number[] = [];
    let held: Float32Array | undefined;
    let heldCopy: Float32Array | undefined;
    for (let step = 0; step < 4; step++) {
      const g = tf.randomNormal([n], 0, 1, 'float32', 10 + step);
      const before = backend.pool.hits + backend.pool.misses;
      if (!inPlace) tf.keep(tf.clone(p)); // a second holder of the parameter's array: no writing over it
      if (step === 2) {
        held = p.dataSync() as Float32Array; // read out: its holder may keep it, so it must not change
        heldCopy = held.slice();
      }
      assert.ok(opt.apply(params, new Map([['w', g]])));
      allocs.push(backend.pool.hits + backend.pool.misses - before);
      g.dispose();
    }
    const values = p.dataSync().slice();
    assert.deepEqual(held, heldCopy, 'a parameter array read out with dataSync was written over');
    opt.dispose();
    p.dispose();
    return { values, allocs };
  };
  const inPlace = run(true);
  const copied = run(false);
  // step 1: the two zero moments (pooled, then written over) and a new parameter (the first came from outside)
  assert.deepEqual(inPlace.allocs.slice(0, 2), [3, 0]);
  assert.equal(inPlace.allocs[2], 1, 'after a dataSync the parameter gets a new array');
  assert.equal(inPlace.allocs[3], 0);
  assert.ok(
    copied.allocs.every((a) => a >= 1),
    `a parameter another tensor holds is never written over: ${copied.allocs}`,
  );
  assert.deepEqual(inPlace.values, copied.values, 'in place or not, the same numbers');
});

test("AdamW's finiteness check does not take the gradients out of the pool's reuse", async () => {
  await initEngine('native');
  const backend = tf.backend() as NativeBackend;
  const p = tf.variable(tf.zeros([N]));
  const g = tf.add(tf.fill([N], 1), tf.fill([N], 1)); // a pooled array, as a backward pass's gradients are
  const values = backend.data.get(g.dataId).values;
  const opt = new AdamW({ lr: 1e-3, weightDecay: 0 });
  opt.apply(new Map([['w', p]]), new Map([['w', g]]));
  g.dispose();
  const again = tf.add(p, p);
  assert.equal(backend.data.get(again.dataId).values, values, 'the gradient array was not reused');
  tf.dispose([p, again]);
  opt.dispose();
});

test("a training-mode batch norm's output is freed at its last use: the tape holds no reference to it", async () => {
  await initEngine('native');
  const backend = tf.backend() as NativeBackend;
  const bn = new BatchNorm(new ParamStore(new Rng(1)), 'bn', 8);
  const x = tf.randomNormal([4, 6, 6, 8], 0, 1, 'float32', 5);
  // A sum whose gradient keeps nothing of its input, so only the norm's own tape node could hold y.
  const total = tf.customGrad((t, save) => {
    (save as tf.GradSaveFunc)([]);
    const shape = (t as tf.Tensor).shape;
    return { value: tf.sum(t as tf.Tensor), gradFunc: (dy) => tf.mul(tf.ones(shape), dy as tf.Tensor) };
  });
  let freed = -1;
  const { grads } = tf.variableGrads(() => {
    const y = bn.apply(x, true, false);
    const loss = total(y) as tf.Scalar;
    const ids = backend.numDataIds();
    y.dispose();
    freed = ids - backend.numDataIds();
    return loss;
  }, [bn.weight]);
  assert.equal(freed, 1, "disposing the norm's output freed no array: something on the tape still holds it");
  assert.ok(grads[bn.weight.name], 'and the gradient still reaches the weight');
  tf.dispose([x, ...Object.values(grads)]);
});

test('inputs tfjs gradients save only for their shapes (Reshape, Add...) are not kept for the backward', async () => {
  await initEngine('native');
  const backend = tf.backend() as NativeBackend;
  const total = tf.customGrad((t, save) => {
    (save as tf.GradSaveFunc)([]);
    const shape = (t as tf.Tensor).shape;
    return { value: tf.sum(t as tf.Tensor), gradFunc: (dy) => tf.mul(tf.ones(shape), dy as tf.Tensor) };
  });
  let freed = -1;
  const x = tf.fill([4, N / 4], 0.5);
  const g = tf.grad((v: tf.Tensor) => {
    const a = tf.mul(v, tf.scalar(3));
    const r = tf.reshape(a, [N]); // a view of a's array, which Reshape's gradient saved
    a.dispose();
    const b = tf.add(r, tf.scalar(1)); // and Add's saved r
    const ids = backend.numDataIds();
    r.dispose(); // the last holder of a's array, unless the tape kept one
    freed = ids - backend.numDataIds();
    return total(b) as tf.Scalar;
  })(x);
  assert.equal(freed, 1, 'the tape still held the reshaped array');
  assert.ok(
    g.dataSync().every((d) => d === 3),
    'the gradient changed',
  );
  tf.dispose([x, g]);
});

test('a spike map saved only for its shape is neither packed nor unpacked for the backward pass', async () => {
  await initEngine('native');
  const spikes = tf.tensor1d(Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 1 : 0)));
  const total = tf.customGrad((t, save) => {
    (save as tf.GradSaveFunc)([]);
    const shape = (t as tf.Tensor).shape;
    return { value: tf.sum(t as tf.Tensor), gradFunc: (dy) => tf.mul(tf.ones(shape), dy as tf.Tensor) };
  });
  const before = { ...spikeStoreStats };
  const g = tf.grad((v: tf.Tensor) => total(tf.reshape(v, [4, N / 4])) as tf.Scalar)(spikes);
  assert.equal(spikeStoreStats.packed, before.packed, "Reshape's saved input was packed");
  assert.equal(spikeStoreStats.unpacked, before.unpacked, 'and unpacked for a gradient that reads only its shape');
  assert.ok(
    g.dataSync().every((d) => d === 1),
    'the gradient changed',
  );
  tf.dispose([spikes, g]);
});

test("an eval-mode LIF at its input's last use writes its spikes over it, not over a shared input", async () => {
  await initEngine('native');
  const backend = tf.backend() as NativeBackend;
  const T = 4;
  // a pooled array, as a layer's output
  const input = () => tf.tidy(() => tf.mul(tf.randomNormal([T, N], 1, 1, 'float32', 5), 1));
  const x0 = input();
  const reference = lif(x0);
  const expected = reference.dataSync().slice();
  tf.dispose([x0, reference]);
  // the one holder: the spikes take its array, which comes back to the pool once, after both tensors are disposed
  const x = input();
  const xValues = backend.data.get(x.dataId).values;
  const misses = backend.pool.misses;
  const s = lif(x, { lastUse: true });
  assert.equal(backend.data.get(s.dataId).values, xValues, 'the spikes did not go over the input');
  assert.equal(backend.pool.misses, misses);
  assert.deepEqual(s.dataSync().slice(), expected, 'written over its input, the LIF fires differently');
  const held = backend.pool.heldBytes;
  x.dispose();
  assert.equal(backend.pool.heldBytes, held, 'the array came back while the spikes still held it');
  s.dispose();
  assert.equal(backend.pool.heldBytes, held, 'read out with dataSync, the array must never come back');
  // another holder (a clone): a new array, and the input keeps its values
  const y = input();
  const other = tf.clone(y);
  const before = other.dataSync().slice();
  const t = lif(y, { lastUse: true });
  assert.notEqual(backend.data.get(t.dataId).values, backend.data.get(y.dataId).values);
  assert.deepEqual(other.dataSync().slice(), before, "a held input's values changed");
  assert.deepEqual(t.dataSync().slice(), expected);
  tf.dispose([y, other, t]);
  // given back: after both tensors are disposed the array is reused, once
  const z = input();
  const zValues = backend.data.get(z.dataId).values;
  const u = lif(z, { lastUse: true });
  const held2 = backend.pool.heldBytes;
  z.dispose();
  assert.equal(backend.pool.heldBytes, held2, 'the array came back while the spikes still held it');
  u.dispose();
  assert.equal(backend.pool.heldBytes, held2 + T * N * 4, 'the array did not come back after both were disposed');
  const reuse = [input(), input()];
  const got = reuse.map((r) => backend.data.get(r.dataId).values);
  assert.equal(got.filter((v) => v === zValues).length, 1, 'the array must be handed out once, not twice');
  tf.dispose(reuse);
});
