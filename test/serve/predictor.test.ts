import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { ImageDecodeError, processImage } from '../../src/data/images.js';
import { initEngine } from '../../src/engine/backend.js';
import { loadModelFromCheckpoint } from '../../src/train/checkpoint.js';
import { Predictor } from '../../src/serve/predictor.js';
import { CITIES, makeCheckpoint, photo, tempDir } from './helpers.js';

before(async () => {
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
});

/** The model's probabilities computed here step by step, independently of the predictor's code path. */
async function reference(ckpt: string, image: Buffer): Promise<number[]> {
  const { model, meta } = loadModelFromCheckpoint(ckpt);
  const { png } = await processImage(image, { cropBottom: 0 });
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const x = Float32Array.from(data, (v, i) => (v / 255 - meta.mean[i % 3]!) / meta.std[i % 3]!);
  const logits = model.forward(tf.tensor4d(x, [1, 32, 32, 3]), { training: false });
  const z = Array.from(await logits.data());
  model.store.dispose();
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b);
  return e.map((v) => v / s);
}

test('a photo of any size is cropped, resized and normalised as the dataset is, and its classes ranked', async (t) => {
  // ResNet18's untrained outputs already depend on the input, which makes the comparison meaningful.
  const ckpt = await makeCheckpoint(tempDir(t), { preset: 'resnet18-w8', seed: 3 });
  const p = Predictor.load(ckpt);
  t.after(() => p.dispose());
  assert.equal(p.name, 'resnet18-w8');
  assert.deepEqual(p.classes, CITIES);
  const results = [];
  for (const [i, [w, h, format]] of (
    [
      [300, 200, 'jpeg'],
      [64, 96, 'png'],
      [500, 500, 'webp'],
    ] as const
  ).entries()) {
    const image = await photo(w, h, 10 + i, format);
    const got = await p.predictImage(image);
    const want = await reference(ckpt, image);
    const byClass = Object.fromEntries(got.probabilities.map((c) => [c.class, c.probability]));
    CITIES.forEach((c, k) => {
      const [gotP = NaN, wantP = NaN] = [byClass[c], want[k]];
      assert.ok(Math.abs(gotP - wantP) < 1e-5, `${format} ${c}: ${gotP} vs ${wantP}`);
    });
    const sorted = got.probabilities.map((c) => c.probability);
    assert.deepEqual(
      sorted,
      [...sorted].sort((a, b) => b - a),
      'best first',
    );
    assert.ok(Math.abs(sorted.reduce((a, b) => a + b) - 1) < 1e-5);
    assert.equal(got.class, got.probabilities[0]?.class);
    assert.equal(got.label, CITIES.indexOf(got.class));
    assert.equal(got.confidence, got.probabilities[0]?.probability);
    results.push(sorted);
  }
  assert.notDeepEqual(results[0], results[1], 'different photos, different probabilities');
});

test('a batch of 32x32 images gives the same answers as one at a time', async (t) => {
  const p = Predictor.load(await makeCheckpoint(tempDir(t), { preset: 'resnet18-w8' }));
  t.after(() => p.dispose());
  const images = await Promise.all(
    [1, 2, 3].map(async (s) => {
      const { png } = await processImage(await photo(80, 80, s, 'png'), { cropBottom: 0 });
      return (await sharp(png).raw().toBuffer()) as Uint8Array;
    }),
  );
  const batch = p.predictPixels(images);
  for (const [i, img] of images.entries()) {
    const one = p.predictOne(img);
    const inBatch = batch[i];
    assert.ok(inBatch, `a prediction for image ${i} in the batch`);
    assert.equal(one.class, inBatch.class);
    one.probabilities.forEach((c, k) => {
      assert.ok(Math.abs(c.probability - (inBatch.probabilities[k]?.probability ?? NaN)) < 1e-5);
    });
  }
});

test("Spikformer checkpoints predict too, over the checkpoint's classes", async (t) => {
  const classes = ['a', 'b', 'c'];
  const p = Predictor.load(await makeCheckpoint(tempDir(t), { preset: 'spikformer-1-64', classes }));
  t.after(() => p.dispose());
  const got = await p.predictImage(await photo(200, 150, 1));
  assert.deepEqual(got.probabilities.map((c) => c.class).sort(), classes);
  assert.ok(Math.abs(got.probabilities.reduce((a, c) => a + c.probability, 0) - 1) < 1e-5);
});

test('bad input gets a clear error', async (t) => {
  const dir = tempDir(t);
  const p = Predictor.load(await makeCheckpoint(dir));
  t.after(() => p.dispose());
  await assert.rejects(p.predictImage(Buffer.from('GIF89a but not really')), ImageDecodeError);
  await assert.rejects(p.predictSquare(await photo(40, 40, 1, 'png')), /expected a 32x32 image, got 40x40/);
  assert.throws(() => p.predictPixels([new Uint8Array(10)]), /expected 32x32x3 = 3072/);
  assert.throws(() => Predictor.load(`${dir}/nothing-here`), /no checkpoint at/);
});
