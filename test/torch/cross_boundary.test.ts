// The dataset format and the seeded streams are defined once, in TypeScript (src/data/dataset.ts, src/util/rng.ts,
// src/data/hash.ts, src/train/mixup.ts); torch_engine/geospike_torch follows them. These tests read one dataset both
// ways and compare what each side makes of it: classes, labels, ids, mean/std, an augmented batch value for value,
// and the mixup weight.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { BatchIterator, openDataset } from '../../src/data/dataset.js';
import { hash32 } from '../../src/data/hash.js';
import { sampleBeta } from '../../src/train/mixup.js';
import { Rng } from '../../src/util/rng.js';
import { python, torchMissing } from '../helpers/torch.js';
import { must } from '../../src/util/must.js';

const root = mkdtempSync(join(tmpdir(), 'geospike-torch-xb-'));
const data = join(root, 'data');
const skip = torchMissing();

before(async () => {
  if (!skip) await importFashionMnist({ out: data, perClass: 3, valPerClass: 1 });
});
after(() => rmSync(root, { recursive: true, force: true }));

const READ = `
import json, sys
import numpy as np
from geospike_torch.data import Dataset, Batches
from geospike_torch.rng import Rng, hash32, sample_beta
ds = Dataset(sys.argv[1])
it = Batches(ds.train, 8, 3, ds.mean, ds.std, augment=True, drop_last=True)
x, y = it.batch(1, 2)
r = Rng(hash32(7, 'mixup', 0, 1))
print(json.dumps({'classes': ds.classes, 'labels': ds.train[1].tolist(), 'ids': ds.train[2], 'mean': ds.mean,
  'std': ds.std, 'x': x.transpose(0, 2, 3, 1).reshape(-1).tolist(), 'y': y.tolist(),
  'u32': [Rng(12345).next_u32() for _ in range(1)] + [hash32(0, 'order', 3)],
  'lam': sample_beta(r, 0.5, 0.5)}))
`;

test('the Python dataset reader and streams give what the TypeScript ones give', { skip }, async () => {
  const ds = await openDataset(data);
  const py = python<{
    classes: string[];
    labels: number[];
    ids: string[];
    mean: number[];
    std: number[];
    x: number[];
    y: number[];
    u32: number[];
    lam: number;
  }>(READ, [data]);
  assert.deepEqual(py.classes, ds.classes);
  assert.deepEqual(py.labels, [...ds.train.labels]);
  assert.deepEqual(py.ids, ds.train.ids);
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs((py.mean[c] ?? NaN) - (ds.mean[c] ?? NaN)) < 1e-12, `mean ${c}`);
    assert.ok(Math.abs((py.std[c] ?? NaN) - (ds.std[c] ?? NaN)) < 1e-12, `std ${c}`);
  }
  // Batch 2 of epoch 1, augmented: the same images, shuffled, cropped, flipped and normalised to the same float32s.
  const it = new BatchIterator(ds.train, {
    batchSize: 8,
    seed: 3,
    mean: ds.mean,
    std: ds.std,
    augment: true,
    dropLast: true,
  });
  const b = it.batch(1, 2);
  assert.deepEqual(py.y, [...b.y]);
  assert.equal(py.x.length, b.x.length);
  const diff = py.x.findIndex((v, i) => v !== b.x[i]);
  assert.equal(diff, -1, `value ${diff}: python ${py.x[diff]}, typescript ${b.x[diff]}`);
  assert.deepEqual(py.u32, [new Rng(12345).nextU32(), hash32(0, 'order', 3)]);
  const lam = sampleBeta(new Rng(hash32(7, 'mixup', 0, 1)), 0.5, 0.5);
  assert.ok(Math.abs(py.lam - lam) < 1e-12, `mixup lambda ${py.lam} vs ${lam}`);
});

const GROUPS = `
import json, torch
from geospike_torch.train import build_model, param_groups
m = build_model({'arch': 'spikformer', 'dim': 64, 'depth': 1, 'heads': 2, 'timeSteps': 2, 'classes': 3, 'mlpRatio': 4,
                 'inChannels': 3})
name = {id(p): n for n, p in m.named_parameters()}
out = {}
for rule in ('timm-filter-bias-and-bn', 'all'):
    g = param_groups(m, 0.06, rule)
    out[rule] = {str(x['weight_decay']): sorted(name[id(p)] for p in x['params']) for x in g}
out['shapes'] = {n: list(p.shape) for n, p in m.named_parameters()}
print(json.dumps(out))
`;

test("the torch engine's AdamW groups: timm's rule (no decay for ndim <= 1 or .bias), or decay on all", {
  skip,
}, () => {
  type Groups = { '0.0': string[]; '0.06': string[] }; // parameter names by weight decay
  const g = python<{ 'timm-filter-bias-and-bn': Groups; all: Groups; shapes: Record<string, number[]> }>(GROUPS);
  const timm = g['timm-filter-bias-and-bn'];
  const all = Object.keys(g.shapes).sort();
  const noDecay = (n: string) => must(g.shapes[n], `the shape of ${n}`).length <= 1 || n.endsWith('.bias');
  assert.deepEqual(timm['0.0'], all.filter(noDecay));
  assert.deepEqual(
    timm['0.06'],
    all.filter((n) => !noDecay(n)),
  );
  assert.ok(timm['0.06'].includes('head.weight') && timm['0.0'].includes('head.bias'));
  assert.deepEqual(g.all['0.06'], all);
  assert.deepEqual(g.all['0.0'], []);
});

const OPEN = `
import json, sys
from geospike_torch.data import Dataset, DatasetError
try:
    Dataset(sys.argv[1]); print(json.dumps({'error': None}))
except DatasetError as e:
    print(json.dumps({'error': str(e)}))
`;

test('a dataset either side refuses, the other refuses too, for the same reason', { skip }, async () => {
  const broken: [string, (dir: string) => void, RegExp][] = [
    [
      'a manifest line moved to another class',
      (dir) => {
        const lines = readFileSync(join(dir, 'manifest.jsonl'), 'utf8').split('\n');
        const e = JSON.parse(must(lines[0], 'a manifest line'));
        lines[0] = JSON.stringify({ ...e, class: e.class === 'bag' ? 'coat' : 'bag' });
        writeFileSync(join(dir, 'manifest.jsonl'), lines.join('\n'));
      },
      /is listed as \w+\/[\w-]+ in manifest\.jsonl; the folder was edited by hand/,
    ],
    [
      'a class name that is not one',
      (dir) => {
        const classes = JSON.parse(readFileSync(join(dir, 'classes.json'), 'utf8'));
        classes[0] = 'T-shirt';
        writeFileSync(join(dir, 'classes.json'), JSON.stringify(classes));
      },
      /names class "T-shirt", which is not a class name/,
    ],
    [
      'a folder classes.json does not list',
      (dir) => mkdirSync(join(dir, 'train', 'zebra')),
      /has folders not in classes\.json: zebra/,
    ],
  ];
  for (const [what, damage, message] of broken) {
    const dir = join(root, what.replace(/\W+/g, '-'));
    cpSync(data, dir, { recursive: true });
    damage(dir);
    await assert.rejects(openDataset(dir), message, `typescript: ${what}`);
    const py = python<{ error: string | null }>(OPEN, [dir]);
    assert.match(py.error ?? 'opened', message, `python: ${what}`);
  }
});
