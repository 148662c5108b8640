// The model benchmark: timing a few real steps, the median, and the PyTorch peer's arguments for the same model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { sep } from 'node:path';
import { benchModel, DEFAULT_PEER_SCRIPT, flopsPerImage, median, torchArgs } from '../../src/bench/model.js';
import { macsPerStep } from '../../src/models/macs.js';
import { resolveConfig } from '../../src/models/registry.js';

test('median of odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('the PyTorch peer gets the same model, batch, T, threads and mode', () => {
  const s = resolveConfig('spikformer-2-128', { timeSteps: 2 });
  assert.deepEqual(torchArgs(s, 16, 5, 'infer', 2), [
    'spikformer', '--dim', '128', '--depth', '2', '--heads', '4', '--T', '2',
    '--batch', '16', '--iters', '5', '--threads', '2', '--classes', '5', '--infer',
  ]);
  assert.deepEqual(torchArgs(resolveConfig('resnet18-w16'), 64, 3, 'train', 2), [
    'resnet18', '--width', '16', '--batch', '64', '--iters', '3', '--threads', '2', '--classes', '5',
  ]);
  assert.throws(() => torchArgs(resolveConfig('spikformer-1-64', { mlpRatio: 2 }), 8, 1, 'train', 2), /mlpRatio 4/);
  // The Spike-driven Transformer goes to the peer's `sdt` model with the paper's 8 heads.
  assert.deepEqual(torchArgs(resolveConfig('sdt-2-512'), 64, 3, 'train', 2), [
    'sdt', '--dim', '512', '--depth', '2', '--heads', '8', '--T', '4',
    '--batch', '64', '--iters', '3', '--threads', '2', '--classes', '5',
  ]);
  assert.throws(() => torchArgs(resolveConfig('sdt-2-128', { imageSize: 64 }), 8, 1, 'infer', 2), /Spike-driven Transformers with mlpRatio 4 on 32x32/);
});

test('the default PyTorch peer is the repository\'s own bench/peer/step.py, found from dist/', () => {
  assert.ok(DEFAULT_PEER_SCRIPT.endsWith(['', 'bench', 'peer', 'step.py'].join(sep)), DEFAULT_PEER_SCRIPT);
  assert.ok(!DEFAULT_PEER_SCRIPT.split(sep).includes('dist'), DEFAULT_PEER_SCRIPT);
  assert.ok(existsSync(DEFAULT_PEER_SCRIPT), `${DEFAULT_PEER_SCRIPT} is missing`);
});

test('benchModel times real training steps and inference batches', async () => {
  for (const mode of ['train', 'infer'] as const) {
    const r = await benchModel({ preset: 'spikformer-1-64', batch: 2, steps: 2, warmup: 1, mode, backend: 'native', overrides: { timeSteps: 2 } });
    assert.equal(r.runner, 'geospike-native');
    assert.equal(r.times?.length, 2);
    assert.ok(r.secPerBatch > 0 && Number.isFinite(r.secPerBatch));
    assert.ok(Math.abs(r.imagesPerSec - 2 / r.secPerBatch) < 1e-9);
    assert.ok(r.params > 10_000 && r.peakRssMB > 10);
    assert.equal(r.gpu, undefined, 'no GPU memory on a CPU backend');
  }
});

test('GFLOP/s count 2 FLOPs a MAC over every time step, a training step as 3 forwards', () => {
  const s = resolveConfig('spikformer-2-128', { timeSteps: 3 });
  assert.equal(flopsPerImage(s, 'infer'), 2 * macsPerStep(s) * 3);
  assert.equal(flopsPerImage(s, 'train'), 3 * flopsPerImage(s, 'infer'));
  const r = resolveConfig('resnet18-w16');
  assert.equal(flopsPerImage(r, 'infer'), 2 * macsPerStep(r));
});

test('on webgpu the bench reports the adapter, the GPU memory held and the achieved GFLOP/s', async () => {
  const opts = { preset: 'spikformer-1-64', batch: 1, steps: 1, warmup: 0, mode: 'infer' as const, backend: 'webgpu', overrides: { timeSteps: 1 } };
  const r = await benchModel(opts);
  assert.equal(r.runner, 'geospike-webgpu', 'the webgpu backend did not load (the reason is on stderr above)');
  assert.ok(r.gpu && r.gpu.peakMB > 0 && r.gpu.adapter.length > 0, JSON.stringify(r.gpu));
  const want = flopsPerImage(resolveConfig(opts.preset, opts.overrides), 'infer') / r.secPerBatch / 1e9;
  assert.ok(Math.abs(r.gflops! - want) <= 1e-9 * want, `${r.gflops} GFLOP/s, expected ${want}`);
});
