// The epoch benchmark: whole epochs through the real train loop, each epoch's time split into phases that add up,
// and the PyTorch peer's loop given the same model, data and recipe.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchEpoch, describePhases, epochConfig, peerEpochArgs } from '../../src/bench/epoch.js';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { PHASES } from '../../src/train/timing.js';

const root = mkdtempSync(join(tmpdir(), 'geospike-bench-epoch-test-'));
const data = join(root, 'data');

before(async () => {
  await importFashionMnist({ out: data, perClass: 4, valPerClass: 1 });
});
after(() => rmSync(root, { recursive: true, force: true }));

test('benchEpoch runs whole epochs and splits each into phases that add up to it', async () => {
  const runsBefore = readdirSync(tmpdir()).filter(
    (f) => f.startsWith('geospike-bench-epoch-') && !f.includes('test'),
  ).length;
  const r = await benchEpoch({ data, preset: 'spikformer-1-64', batch: 8, epochs: 2, backend: 'native', timeSteps: 2 });
  assert.equal(r.epochs.length, 2);
  for (const e of r.epochs) {
    assert.equal(e.images, 40); // 40 training images, 5 full batches of 8
    const sum = PHASES.reduce((a, p) => a + e[p], 0);
    assert.ok(Math.abs(sum - e.seconds) < 1e-9);
    for (const p of PHASES) assert.ok(e[p] >= 0, `${p} ${e[p]}`);
    for (const p of ['step', 'data', 'validation', 'checkpoint'] as const) assert.ok(e[p] > 0, `${p} took no time`);
  }
  assert.ok(Math.abs(r.imagesPerSec - 40 / r.secPerEpoch) < 1e-9);
  assert.match(
    describePhases(r.epochs),
    /^step \d+\.\d% {2}data \d+\.\d% {2}validation \d+\.\d% {2}checkpoint \d+\.\d% {2}other \d+\.\d%$/,
  );
  // The run folder is temporary.
  assert.equal(
    readdirSync(tmpdir()).filter((f) => f.startsWith('geospike-bench-epoch-') && !f.includes('test')).length,
    runsBefore,
  );
});

test('the peer loop gets the same model, data and recipe', () => {
  const o = { data, preset: 'resnet18-w16', batch: 32, epochs: 3 };
  const cfg = epochConfig(o, 'out');
  assert.equal(cfg.mixup, 0);
  assert.equal(cfg.warmupEpochs, 1);
  assert.deepEqual(peerEpochArgs(o, 2), [
    'resnet18',
    '--width',
    '16',
    '--data',
    data,
    '--batch',
    '32',
    '--epochs',
    '3',
    '--threads',
    '2',
    '--lr',
    `${cfg.lr}`,
    '--min-lr',
    `${cfg.minLr}`,
    '--weight-decay',
    `${cfg.weightDecay}`,
    '--warmup-epochs',
    '1',
    '--label-smoothing',
    `${cfg.labelSmoothing}`,
    '--seed',
    `${cfg.seed}`,
  ]);
  assert.equal(
    peerEpochArgs({ ...o, epochs: 1, preset: 'spikformer-2-128', timeSteps: 2 }, 2)
      .slice(0, 12)
      .join(' '),
    `spikformer --dim 128 --depth 2 --heads 4 --T 2 --data ${data} --batch`,
  );
});
