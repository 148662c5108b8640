// evaluate() over an in-memory split with a freshly built model: counts, rates, subsets, class checks.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset, SplitData } from '../../src/data/dataset.js';
import { initEngine } from '../../src/engine/backend.js';
import { evaluate, spreadSubset } from '../../src/eval/evaluate.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import type { CheckpointMeta } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';

before(async () => {
  await initEngine('cpu');
});

const classes = ['a', 'b', 'c'];
const V = 32 * 32 * 3;

function split(n: number, seed: number): SplitData {
  const rng = new Rng(seed);
  const images = Uint8Array.from({ length: n * V }, () => rng.int(256));
  // Grouped by class, as files on disk are.
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor((i * classes.length) / n));
  return { images, labels, ids: Array.from({ length: n }, (_, i) => String(i)), n };
}

const ds: Dataset = {
  dir: 'mem',
  classes,
  train: split(6, 1),
  validation: split(9, 2),
  mean: [0.5, 0.5, 0.5],
  std: [0.25, 0.25, 0.25],
};

function meta(config: ReturnType<typeof resolveConfig>, names = classes): CheckpointMeta {
  return {
    preset: 'test',
    model: config,
    classes: names,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
    epoch: 1,
    step: 1,
    cursor: { epoch: 1, batch: 0 },
    best: null,
    train: {},
  };
}

test('spreadSubset picks images across the whole split, so every class is represented', () => {
  const s = spreadSubset(ds.validation, 3);
  assert.deepEqual([...s.labels], [0, 1, 2]);
  assert.deepEqual(s.images.subarray(V, 2 * V), ds.validation.images.subarray(3 * V, 4 * V));
});

test('a Spikformer over the validation split: every image counted once, rates for every LIF layer and pool', () => {
  const config = resolveConfig('spikformer-1-64', { classes: 3, timeSteps: 2 });
  const model = createModel(config, 3);
  const seen: number[] = [];
  const r = evaluate(model, meta(config), ds, { batchSize: 4, rates: true, progress: (done) => seen.push(done) });
  model.store.dispose();
  assert.deepEqual(seen, [4, 8, 9]);
  assert.equal(r.n, 9);
  assert.equal(
    r.confusion.flat().reduce((a, b) => a + b, 0),
    9,
  );
  assert.deepEqual(
    r.confusion.map((row) => row.reduce((a, b) => a + b, 0)),
    [3, 3, 3],
  );
  assert.ok(Number.isFinite(r.loss) && r.loss > 0);
  assert.equal(Object.keys(r.rates!).length, 12);
  assert.deepEqual(Object.keys(r.inputRates!).sort(), ['patch_embed.maxpool2', 'patch_embed.maxpool3']);
  for (const v of [...Object.values(r.rates!), ...Object.values(r.inputRates!)]) assert.ok(v >= 0 && v <= 1);
  assert.ok(r.imagesPerSecond > 0);
});

test('a ResNet over a subset; mismatched classes are refused', () => {
  const config = resolveConfig('resnet18-w8', { classes: 3 });
  const model = createModel(config, 3);
  const r = evaluate(model, meta(config), ds, { maxImages: 3, split: 'train' });
  assert.equal(r.n, 3);
  assert.equal(r.split, 'train');
  assert.equal(r.rates, undefined);
  assert.throws(
    () => evaluate(model, meta(config, ['a', 'c', 'b']), ds),
    /trained on classes \[a, c, b\] but mem has \[a, b, c\]/,
  );
  model.store.dispose();
});

// `eval` and `energy` read these numbers on whatever backend runs them: each must give the cpu reference's.
for (const backend of TEST_BACKENDS.filter((b) => b !== 'cpu')) {
  test(`on ${backend}, a Spikformer's evaluation (loss, confusion, firing rates) is the cpu backend's`, async () => {
    const config = resolveConfig('spikformer-1-64', { classes: 3, timeSteps: 2 });
    const run = async (name: string) => {
      await requireBackend(name);
      const model = createModel(config, 5);
      try {
        return evaluate(model, meta(config), ds, { batchSize: 4, rates: true });
      } finally {
        model.store.dispose();
      }
    };
    const want = await run('cpu');
    const got = await run(backend);
    await initEngine('cpu');
    assert.deepEqual(got.confusion, want.confusion);
    assert.ok(Math.abs(got.loss - want.loss) < 1e-4 * want.loss, `loss ${got.loss} vs ${want.loss}`);
    assert.ok(
      Object.values(want.rates!).some((r) => r > 0),
      'some layer fires',
    );
    for (const [layer, r] of Object.entries(want.rates!)) {
      const rate = got.rates?.[layer] ?? NaN;
      assert.ok(Math.abs(rate - r) < 1e-3, `${layer}: rate ${rate} vs ${r}`);
    }
    assert.deepEqual(got.inputRates, want.inputRates);
  });
}
