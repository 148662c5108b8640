// The model benchmark: a few real steps (their kernels counted), the median, and the PyTorch peer's arguments for the
// same model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { benchModel, DEFAULT_PEER_SCRIPT, flopsPerImage, median, torchArgs } from '../../src/bench/model.js';
import { initEngine } from '../../src/engine/backend.js';
import { ADAMW, LIF, LIF_GRAD, LIF_SPIKES } from '../../src/ops/index.js';
import { macsPerStep } from '../../src/models/registry.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';

test('median of odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('the PyTorch peer gets the same model, batch, T, threads and mode', () => {
  const s = resolveConfig('spikformer-2-128', { timeSteps: 2 });
  assert.deepEqual(torchArgs(s, 16, 5, 'infer', 2), [
    'spikformer',
    '--dim',
    '128',
    '--depth',
    '2',
    '--heads',
    '4',
    '--T',
    '2',
    '--batch',
    '16',
    '--iters',
    '5',
    '--threads',
    '2',
    '--classes',
    '5',
    '--infer',
  ]);
  assert.deepEqual(torchArgs(resolveConfig('resnet18-w16'), 64, 3, 'train', 2), [
    'resnet18',
    '--width',
    '16',
    '--batch',
    '64',
    '--iters',
    '3',
    '--threads',
    '2',
    '--classes',
    '5',
  ]);
  assert.throws(() => torchArgs(resolveConfig('spikformer-1-64', { mlpRatio: 2 }), 8, 1, 'train', 2), /mlpRatio 4/);
  // The Spike-driven Transformer goes to the peer's `sdt` model with the paper's 8 heads.
  assert.deepEqual(torchArgs(resolveConfig('sdt-2-512'), 64, 3, 'train', 2), [
    'sdt',
    '--dim',
    '512',
    '--depth',
    '2',
    '--heads',
    '8',
    '--T',
    '4',
    '--batch',
    '64',
    '--iters',
    '3',
    '--threads',
    '2',
    '--classes',
    '5',
  ]);
  assert.throws(
    () => torchArgs(resolveConfig('sdt-2-128', { imageSize: 64 }), 8, 1, 'infer', 2),
    /Spike-driven Transformers with mlpRatio 4 on 32x32/,
  );
});

test("the default PyTorch peer is the repository's own bench/peer/step.py, found from dist/", () => {
  assert.ok(DEFAULT_PEER_SCRIPT.endsWith(['', 'bench', 'peer', 'step.py'].join(sep)), DEFAULT_PEER_SCRIPT);
  assert.ok(!DEFAULT_PEER_SCRIPT.split(sep).includes('dist'), DEFAULT_PEER_SCRIPT);
  assert.ok(existsSync(DEFAULT_PEER_SCRIPT), `${DEFAULT_PEER_SCRIPT} is missing`);
});

/** How many times each kernel ran during f. */
async function kernelCounts(f: () => Promise<unknown> | unknown): Promise<Map<string, number>> {
  const info = await tf.profile(async () => {
    await f();
  });
  const counts = new Map<string, number>();
  // The LIF forward runs as LIF_SPIKES when no gradient will follow, and a conv runs as FusedConv2D in eval mode
  // (its batch norm folded in): one count for each pair
  const same: Record<string, string> = { [LIF_SPIKES]: LIF, FusedConv2D: 'Conv2D' };
  for (const k of info.kernels) {
    const name = same[k.name] ?? k.name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

test(
  'benchModel runs warm-up plus timed batches: forward, backward and AdamW in train mode, the forward alone in ' +
    'infer',
  async () => {
    const overrides = { timeSteps: 2 };
    const [warmup, steps] = [1, 2];
    await initEngine('native');
    // One forward of the same model, counted on its own: the work each batch must repeat.
    const model = createModel(resolveConfig('spikformer-1-64', overrides), 0);
    const one = await kernelCounts(() =>
      tf.dispose(tf.tidy(() => model.forward(tf.zeros([2, 32, 32, 3]) as tf.Tensor4D, { training: false }))),
    );
    const params = model.store.params.size;
    model.store.dispose();
    assert.ok((one.get('Conv2D') ?? 0) > 0 && (one.get(LIF) ?? 0) > 0);
    for (const mode of ['train', 'infer'] as const) {
      let r: Awaited<ReturnType<typeof benchModel>> | undefined;
      const t0 = performance.now();
      const ran = await kernelCounts(async () => {
        r = await benchModel({
          preset: 'spikformer-1-64',
          batch: 2,
          steps,
          warmup,
          mode,
          backend: 'native',
          overrides,
        });
      });
      const wall = (performance.now() - t0) / 1000;
      const batches = warmup + steps;
      for (const k of ['Conv2D', LIF]) assert.equal(ran.get(k), one.get(k)! * batches, `${mode}: ${k} runs per batch`);
      const backward = {
        lifGrad: ran.get(LIF_GRAD) ?? 0,
        filterGrad: ran.get('Conv2DBackpropFilter') ?? 0,
        adamw: ran.get(ADAMW) ?? 0,
      };
      assert.deepEqual(
        backward,
        mode === 'train'
          ? { lifGrad: one.get(LIF)! * batches, filterGrad: one.get('Conv2D')! * batches, adamw: params * batches }
          : { lifGrad: 0, filterGrad: 0, adamw: 0 },
        `${mode}: backward and optimizer kernels`,
      );
      assert.equal(r!.runner, 'geospike-native');
      assert.equal(r!.mode, mode);
      // The reported time is the median of the timed batches, which lie within the call's wall time.
      assert.equal(r!.times?.length, steps);
      assert.ok(
        r!.times!.every((t) => t > 0) && r!.times!.reduce((a, t) => a + t, 0) <= wall,
        `${r!.times} within ${wall} s`,
      );
      assert.equal(r!.secPerBatch, median(r!.times!));
      assert.ok(r!.params > 10_000 && r!.peakRssMB > 10);
      assert.equal(r!.gpu, undefined, 'no GPU memory on a CPU backend');
    }
  },
);

test('GFLOP/s count 2 FLOPs a MAC over every time step, a training step as 3 forwards', () => {
  const s = resolveConfig('spikformer-2-128', { timeSteps: 3 });
  assert.equal(flopsPerImage(s, 'infer'), 2 * macsPerStep(s) * 3);
  assert.equal(flopsPerImage(s, 'train'), 3 * flopsPerImage(s, 'infer'));
  const r = resolveConfig('resnet18-w16');
  assert.equal(flopsPerImage(r, 'infer'), 2 * macsPerStep(r));
});

test('on webgpu the bench reports the adapter, the GPU memory held and the achieved GFLOP/s', async () => {
  const opts = {
    preset: 'spikformer-1-64',
    batch: 1,
    steps: 1,
    warmup: 0,
    mode: 'infer' as const,
    backend: 'webgpu',
    overrides: { timeSteps: 1 },
  };
  const r = await benchModel(opts);
  assert.equal(r.runner, 'geospike-webgpu', 'the webgpu backend did not load (the reason is on stderr above)');
  assert.ok(r.gpu && r.gpu.peakMB > 0 && r.gpu.adapter.length > 0, JSON.stringify(r.gpu));
  const want = flopsPerImage(resolveConfig(opts.preset, opts.overrides), 'infer') / r.secPerBatch / 1e9;
  assert.ok(Math.abs(r.gflops! - want) <= 1e-9 * want, `${r.gflops} GFLOP/s, expected ${want}`);
});
