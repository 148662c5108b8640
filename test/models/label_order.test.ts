// Label order across frameworks, on a dataset whose classes.json is not alphabetical (seoul, tokyo, newyork, london,
// paris): geospike's weights files say which class each head output is, a file in ImageFolder's sorted order loads by
// name, and the PyTorch peer (bench/peer/predict.py) predicts the same class names as geospike.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initEngine } from '../../src/engine/backend.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { labelMetadata, sortedClasses } from '../../src/models/label_order.js';
import { Predictor } from '../../src/serve/predictor.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { Progress } from '../../src/train/progress.js';
import { CITIES, makeCheckpoint, makeDataset } from '../serve/helpers.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const PEER = path.join(REPO, 'bench', 'peer', 'predict.py');
const PYTHON = '/usr/bin/python3';
const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

/** Why the PyTorch half cannot run here, or null when it can. */
function torchMissing(): string | null {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return null;
  } catch {
    return (
      `PyTorch is not installed here (apt-get install python3-torch): the PyTorch half of the round trip is ` +
      `skipped`
    );
  }
}

const root = mkdtempSync(path.join(tmpdir(), 'geospike-labels-'));
const data = path.join(root, 'data');
let ckpt = '';
let sortedWeights = '';
/** Every validation image (path relative to the dataset) -> the class geospike predicts for it. */
const geospikeSays = new Map<string, string>();

/** A resnet18-w8 trained a little on the fixture, so that what it predicts depends on the image. */
async function trainedCheckpoint(): Promise<string> {
  const out = path.join(root, 'run');
  const cfg = resolveTrainConfig(
    {},
    { data, out, model: 'resnet18-w8', epochs: 6, warmupEpochs: 0, batch: 5, lr: 5e-3, mixup: 0, seed: 1 },
  );
  await train(cfg, { progress: new Progress({ write: () => true }), log: () => {} });
  return path.join(out, 'checkpoints', 'last.json');
}

before(async () => {
  await initEngine('native');
  await makeDataset(data, { train: 4, validation: 3 });
  ckpt = await trainedCheckpoint();
  const p = Predictor.load(ckpt);
  try {
    for (const cls of CITIES) {
      for (const f of readdirSync(path.join(data, 'validation', cls))) {
        const rel = path.join('validation', cls, f);
        geospikeSays.set(rel, (await p.predictSquare(path.join(data, rel))).class);
      }
    }
  } finally {
    p.dispose();
  }
  // The weights as `geospike export` writes them for ImageFolder: head outputs in sorted order.
  sortedWeights = path.join(root, 'sorted.safetensors');
  const { stdout } = await promisify(execFile)(process.execPath, [
    CLI,
    'export',
    '--checkpoint',
    ckpt,
    '--out',
    sortedWeights,
    '--label-order',
    'sorted',
  ]);
  assert.match(stdout, /head output i is class i of \[london, newyork, paris, seoul, tokyo\] \(sorted order\)/);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('the fixture can tell orders apart: classes.json is not sorted, and geospike predicts several classes', () => {
  assert.notDeepEqual(sortedClasses(CITIES), CITIES);
  assert.ok(
    sortedClasses(CITIES).every((c, i) => c !== CITIES[i]),
    'no class keeps its position when sorted',
  );
  assert.ok(new Set(geospikeSays.values()).size >= 2, `predictions ${[...geospikeSays.values()]}`);
});

test("a checkpoint's weights file names its head's class order", () => {
  const { metadata } = readSafetensors(readCheckpoint(ckpt).weightsPath);
  assert.deepEqual(JSON.parse(metadata.classes ?? 'null'), CITIES);
  assert.equal(metadata.label_order, 'dataset');
});

test('export writes the head in the order asked for, says so, and refuses what it must not do', async () => {
  const original = readSafetensors(readCheckpoint(ckpt).weightsPath);
  const sorted = readSafetensors(sortedWeights);
  assert.deepEqual(JSON.parse(sorted.metadata.classes ?? 'null'), sortedClasses(CITIES));
  assert.equal(sorted.metadata.label_order, 'sorted');
  // Row for row: the sorted file's row i is the original's row of the same class.
  const w = original.tensors.get('linear.weight')!;
  const [, width] = w.shape;
  assert.ok(width !== undefined, 'linear.weight is [classes, features]');
  sortedClasses(CITIES).forEach((c, i) => {
    const from = CITIES.indexOf(c);
    assert.deepEqual(
      sorted.tensors.get('linear.weight')!.data.slice(i * width, (i + 1) * width),
      w.data.slice(from * width, (from + 1) * width),
    );
    assert.equal(sorted.tensors.get('linear.bias')!.data[i], original.tensors.get('linear.bias')!.data[from]);
  });
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, 'export', '--checkpoint', ckpt, ...args]);
  await assert.rejects(run('--out', sortedWeights), /already exists; choose another --out/);
  await assert.rejects(
    run('--out', path.join(root, 'x.safetensors'), '--label-order', 'alphabetical'),
    /--label-order must be dataset or sorted, got 'alphabetical'/,
  );
});

test('weights in ImageFolder order load by class name: the same predictions, the same logits', async () => {
  const dir = mkdtempSync(path.join(root, 'ck-'));
  cpSync(path.dirname(ckpt), dir, { recursive: true });
  const copy = path.join(dir, path.basename(ckpt));
  copyFileSync(sortedWeights, readCheckpoint(copy).weightsPath); // the sidecar still lists classes.json's order
  const original = Predictor.load(ckpt);
  const sorted = Predictor.load(copy);
  try {
    for (const rel of geospikeSays.keys()) {
      const a = await original.predictSquare(path.join(data, rel));
      const b = await sorted.predictSquare(path.join(data, rel));
      assert.equal(b.class, a.class, rel);
      assert.deepEqual(b.logits, a.logits, rel);
    }
  } finally {
    original.dispose();
    sorted.dispose();
  }
});

test('a weights file whose head names other classes is refused, naming both lists', async () => {
  const dir = mkdtempSync(path.join(root, 'other-'));
  await makeCheckpoint(dir, { preset: 'resnet18-w8' });
  const ck = readCheckpoint(path.join(dir, 'best.json'));
  const file = readSafetensors(ck.weightsPath);
  const other = ['seoul', 'tokyo', 'newyork', 'london', 'rome'];
  await writeSafetensors(ck.weightsPath, file.tensors, { ...file.metadata, ...labelMetadata(other, 'dataset') });
  assert.throws(
    () => Predictor.load(path.join(dir, 'best.json')),
    /holds a head for classes \[seoul, tokyo, newyork, london, rome\], not \[seoul, tokyo, newyork, london, paris\]/,
  );
});

test('the PyTorch peer predicts the same class names as geospike, from either weights file', async (t) => {
  const missing = torchMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  for (const weights of [null, sortedWeights]) {
    const args = [
      PEER,
      '--checkpoint',
      ckpt,
      '--data',
      data,
      '--threads',
      '1',
      ...(weights ? ['--weights', weights] : []),
    ];
    const { stdout } = await promisify(execFile)(PYTHON, args);
    const out = JSON.parse(stdout);
    assert.deepEqual(out.imagefolder_classes, sortedClasses(CITIES));
    assert.deepEqual(out.weights_classes, weights ? sortedClasses(CITIES) : CITIES);
    assert.equal(out.weights_label_order, weights ? 'sorted' : 'dataset');
    assert.equal(out.predictions.length, geospikeSays.size);
    for (const r of out.predictions) {
      assert.equal(r.class, geospikeSays.get(r.image), `${r.image} (weights ${weights ?? 'of the checkpoint'})`);
      assert.equal(r.truth, r.image.split(path.sep)[1], 'ImageFolder targets named by folder');
    }
  }
});
