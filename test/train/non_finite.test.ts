// Non-finite values never reach the weights or a checkpoint: a NaN/Inf gradient (with a finite loss) skips the
// update, a non-finite validation loss stops the run, and a checkpoint with a non-finite value is never written.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { AdamW } from '../../src/train/adamw.js';
import {
  loadModelFromCheckpoint,
  readCheckpoint,
  saveCheckpoint,
  type CheckpointMeta,
} from '../../src/train/checkpoint.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { train, TrainingError } from '../../src/train/loop.js';
import { Progress } from '../../src/train/progress.js';

const root = mkdtempSync(join(tmpdir(), 'geospike-nonfinite-'));
const data = join(root, 'data');
const opts = () => ({ progress: new Progress({ write: () => true }), log: () => {} });
const config = (out: string, extra: Partial<TrainConfig> = {}): TrainConfig =>
  resolveTrainConfig(
    {},
    {
      data,
      out: join(root, out),
      model: 'resnet18-w8',
      epochs: 1,
      warmupEpochs: 0,
      batch: 8,
      mixup: 0,
      seed: 1,
      ...extra,
    },
  );

before(async () => {
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
  await importFashionMnist({ out: data, perClass: 2, valPerClass: 1 });
  assert.equal((await train(config('base'), opts())).status, 'finished');
});

for (const bad of [NaN, Infinity, -Infinity]) {
  test(`a ${bad} gradient leaves the parameters, the moments and the step count as they were`, () => {
    const params = new Map([
      ['w', tf.variable(tf.tensor1d([1, 2, 3]))],
      ['b', tf.variable(tf.tensor1d([0.5]))],
    ]);
    const opt = new AdamW({ lr: 0.1, weightDecay: 0.01 });
    opt.apply(
      params,
      new Map([
        ['w', tf.tensor1d([0.1, 0.1, 0.1])],
        ['b', tf.tensor1d([0.2])],
      ]),
    );
    const before = {
      w: [...params.get('w')!.dataSync()],
      b: [...params.get('b')!.dataSync()],
      state: opt.state(),
      step: opt.step,
    };
    const applied = opt.apply(
      params,
      new Map([
        ['w', tf.tensor1d([0.1, bad, 0.1])],
        ['b', tf.tensor1d([0.2])],
      ]),
    );
    assert.equal(applied, false);
    assert.deepEqual([...params.get('w')!.dataSync()], before.w);
    assert.deepEqual([...params.get('b')!.dataSync()], before.b); // no half-applied step either
    assert.equal(opt.step, before.step);
    assert.deepEqual(opt.state(), before.state);
    opt.dispose();
  });
}

test('a checkpoint holding a non-finite weight is refused, naming the tensor, and nothing is written', async () => {
  const model = createModel(resolveConfig('resnet18-w8', { classes: 10 }));
  const w = model.store.params.get('linear.weight')!;
  const values = w.dataSync().slice();
  values[3] = Infinity;
  w.assign(tf.tensor(values, w.shape));
  const dir = join(root, 'refused');
  mkdirSync(dir);
  const meta = readCheckpoint(join(root, 'base', 'checkpoints', 'last.json')).meta as CheckpointMeta;
  await assert.rejects(saveCheckpoint(dir, 'last', model, null, meta), /linear\.weight.*(Infinity|non-finite)/);
  assert.deepEqual(readdirSync(dir), []);
  model.store.dispose();
});

test('a non-finite validation loss stops the run and overwrites no checkpoint', async () => {
  cpSync(join(root, 'base'), join(root, 'nanval'), { recursive: true });
  const ckDir = join(root, 'nanval', 'checkpoints');
  const ck = readCheckpoint(join(ckDir, 'last.json'));
  const file = readSafetensors(ck.weightsPath);
  // A NaN running statistic: training (batch statistics) stays finite, evaluation (running ones) does not.
  const name = [...file.tensors.keys()].find((k) => k.endsWith('running_var'))!;
  (file.tensors.get(name)!.data as Float32Array).fill(NaN);
  await writeSafetensors(ck.weightsPath, file.tensors, file.metadata);
  const before = Object.fromEntries(readdirSync(ckDir).map((f) => [f, readFileSync(join(ckDir, f))]));
  await assert.rejects(
    train(config('nanval', { epochs: 2 }), { ...opts(), resume: true }),
    (e: Error) => e instanceof TrainingError && /validation loss became NaN at epoch 2/.test(e.message),
  );
  const after = Object.fromEntries(readdirSync(ckDir).map((f) => [f, readFileSync(join(ckDir, f))]));
  assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
  for (const [f, bytes] of Object.entries(before)) assert.ok(after[f]?.equals(bytes), `${f} changed`);
  assert.ok(existsSync(join(ckDir, 'last.json')));
});

test('eval, predict and play refuse a checkpoint holding NaN or Infinity on load, naming the tensor', async () => {
  for (const [bad, word] of [
    [NaN, 'NaN'],
    [-Infinity, '-Infinity'],
  ] as const) {
    const run = `poisoned-${word}`;
    cpSync(join(root, 'base'), join(root, run), { recursive: true });
    const json = join(root, run, 'checkpoints', 'last.json');
    const ck = readCheckpoint(json);
    const file = readSafetensors(ck.weightsPath);
    const name = [...file.tensors.keys()].find((k) => k.endsWith('conv1.weight'))!;
    (file.tensors.get(name)!.data as Float32Array)[5] = bad;
    await writeSafetensors(ck.weightsPath, file.tensors, file.metadata);
    // loadModelFromCheckpoint is what `eval` (eval/jobs.ts), `predict` and `play` (serve/predictor.ts) load through.
    assert.throws(
      () => loadModelFromCheckpoint(json),
      (e: Error) =>
        e.message.includes(ck.weightsPath) &&
        e.message.includes(`'${name}'`) &&
        e.message.includes(`${word} at index 5`),
    );
  }
});

test('cleanup', () => rmSync(root, { recursive: true, force: true }));
