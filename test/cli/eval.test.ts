// `geospike eval` and `geospike energy` on a real checkpoint and dataset, in a child process as a person runs them.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { FASHION_MNIST_CLASSES, importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { initEngine } from '../../src/engine/backend.js';
import { createModel, isSpiking, resolveConfig } from '../../src/models/registry.js';
import { saveCheckpoint } from '../../src/train/checkpoint.js';
import { tempRoot } from '../eval/run_fixtures.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const geospike = (...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, GEOSPIKE_BACKEND: 'cpu' } });

before(async () => {
  await initEngine('cpu');
});

/** A run folder holding an untrained checkpoint of `preset`, as `geospike train` lays it out. */
async function makeRun(root: string, name: string, preset: string, data: string): Promise<string> {
  const dir = join(root, name);
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  const config = resolveConfig(preset, { classes: 10, ...(isSpiking(resolveConfig(preset)) ? { timeSteps: 2 } : {}) });
  const model = createModel(config, 5);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ model: preset, data, modelConfig: config, classes: FASHION_MNIST_CLASSES }),
  );
  const meta = {
    preset,
    model: config,
    classes: FASHION_MNIST_CLASSES,
    mean: [0.29, 0.29, 0.29],
    std: [0.35, 0.35, 0.35],
    epoch: 1,
    step: 1,
    cursor: { epoch: 1, batch: 0 },
    best: null,
    train: { data },
  };
  const json = await saveCheckpoint(join(dir, 'checkpoints'), 'best', model, null, meta);
  model.store.dispose();
  return json;
}

test('eval and energy on a checkpoint: text, JSON, results saved beside the run', async (t) => {
  const root = tempRoot(t);
  const data = join(root, 'data');
  await importFashionMnist({ out: data, perClass: 1, valPerClass: 2, log: () => {} });
  const snn = await makeRun(root, 'snn', 'spikformer-1-64', data);
  const ann = await makeRun(root, 'ann', 'resnet18-w8', data);

  // --data defaults to the dataset the checkpoint was trained on.
  const text = await geospike('eval', '--checkpoint', snn);
  assert.match(text.stdout, /spikformer-1-64 \(epoch 1\) on 20 validation images/);
  assert.match(text.stdout, /accuracy \d+\.\d\d% +top-2 \d+\.\d\d% +loss \d\.\d{4}/);
  for (const c of FASHION_MNIST_CLASSES) assert.ok(text.stdout.includes(c), c);
  const saved = JSON.parse(readFileSync(join(root, 'snn', 'eval.json'), 'utf8'));
  assert.equal(saved.n, 20);
  assert.equal(
    saved.confusion.flat().reduce((a: number, b: number) => a + b, 0),
    20,
  );
  assert.deepEqual(
    saved.perClass.map((c: { support: number }) => c.support),
    new Array(10).fill(2),
  );

  const json = JSON.parse((await geospike('eval', '--checkpoint', ann, '--data', data, '--json', '--no-save')).stdout);
  assert.equal(json.preset, 'resnet18-w8');
  assert.ok(json.top2 >= json.accuracy && json.imagesPerSecond > 0);
  assert.ok(!existsSync(join(root, 'ann', 'eval.json')));

  const energy = await geospike('energy', '--checkpoint', snn, '--images', '5');
  assert.match(energy.stdout, /firing rates measured on 5 validation images; E_MAC 4\.6 pJ, E_AC 0\.9 pJ/);
  assert.match(energy.stdout, /patch_embed\.proj_conv +analog/);
  assert.match(energy.stdout, /block\.0\.attn\.attn_lif +\d+\.\d\d%/); // every LIF layer's firing rate
  assert.match(energy.stdout, /patch_embed\.maxpool3 +\d+\.\d\d%/);
  assert.match(energy.stdout, /resnet18 \(555 M MAC\) costs 2\.55 mJ per image: [\d.]+x the energy of spikformer-1-64/);
  const e = JSON.parse(readFileSync(join(root, 'snn', 'energy.json'), 'utf8'));
  assert.equal(e.images, 5);
  assert.equal(Object.keys(e.rates).length, 12);
  assert.ok(Math.abs(e.ratio - e.baseline.energy / e.report.total.energy) < 1e-9);

  const costed = JSON.parse(
    (await geospike('energy', '--checkpoint', ann, '--costs', '45nm-int8', '--json', '--no-save')).stdout,
  );
  assert.equal(costed.images, 0); // an ANN's cost does not depend on the images
  assert.equal(costed.baseline, null);
  assert.ok(Math.abs(costed.report.total.energy - costed.report.total.macs * 0.23) < 1e-6);
  assert.equal(costed.memory.bits, 8, 'memory words as wide as the cost preset');
  assert.match(energy.stdout, /energy per image: compute only \S+ \S+; memory \S+ \S+; compute \+ memory \S+ \S+/);
  assert.ok(e.memory.total.pJ > 0 && e.memory.total.energy.potentials > 0);

  // --measure: a counter where the machine has one; null with the reason where it has none, never a guess.
  const measured = JSON.parse(
    (await geospike('energy', '--checkpoint', ann, '--measure', '--measure-images', '4', '--json', '--no-save')).stdout,
  ).measured;
  assert.equal(measured.images, 4);
  if (!existsSync('/sys/class/powercap')) {
    assert.equal(measured.joulesPerImage, null);
    assert.match(measured.note, /^not measured: this machine has no \/sys\/class\/powercap/);
  } else
    assert.ok(measured.joulesPerImage === null ? /^not measured: /.test(measured.note) : measured.joulesPerImage > 0);
});
