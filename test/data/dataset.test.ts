import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BatchIterator, channelStats, IMAGE_VALUES, openDataset, type SplitData } from '../../src/data/dataset.js';
import { encodeRgbPng } from '../../src/data/images.js';
import { DatasetWriter } from '../../src/data/writer.js';
import { tempDir } from './helpers.js';
import { must } from '../../src/util/must.js';

// A dataset of random 32x32 images: `perClass` train and 2 validation images for each of 3 classes.
async function makeDataset(dir: string, perClass: number): Promise<void> {
  const w = await DatasetWriter.open(dir, ['a', 'b', 'c']);
  let k = 0;
  for (const cls of ['a', 'b', 'c']) {
    for (let i = 0; i < perClass + 2; i++, k++) {
      const px = new Uint8Array(IMAGE_VALUES).map((_, j) => (j * 7 + k * 131 + ((j * k) % 97)) & 255);
      const split = i < perClass ? 'train' : 'validation';
      await w.add(
        {
          id: `${cls}${i}`,
          class: cls,
          split,
          provider: 't',
          sourceId: `${k}`,
          lat: null,
          lng: null,
          heading: null,
          captureDate: null,
        },
        await encodeRgbPng(px, 32, 32, 3),
      );
    }
  }
  await w.close();
}

test('openDataset loads labels in classes.json order and train-split channel statistics', async (t) => {
  const dir = tempDir(t);
  await makeDataset(dir, 5);
  const ds = await openDataset(dir);
  assert.deepEqual(ds.classes, ['a', 'b', 'c']);
  assert.equal(ds.train.n, 15);
  assert.equal(ds.validation.n, 6);
  assert.deepEqual(Array.from(ds.train.labels), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
  // Statistics by a direct second computation, channel by channel (a mix-up of channels changes them: they differ).
  for (let ch = 0; ch < 3; ch++) {
    const g = ds.train.images.filter((_, i) => i % 3 === ch);
    const mean = g.reduce((s, v) => s + v, 0) / g.length / 255;
    const std = Math.sqrt(g.reduce((s, v) => s + (v / 255 - mean) ** 2, 0) / g.length);
    const [gotMean = NaN, gotStd = NaN] = [ds.mean[ch], ds.std[ch]];
    assert.ok(Math.abs(gotMean - mean) < 1e-9, `channel ${ch} mean ${gotMean}, expected ${mean}`);
    assert.ok(Math.abs(gotStd - std) < 1e-9, `channel ${ch} std ${gotStd}, expected ${std}`);
  }
  assert.equal(new Set(ds.mean).size, 3, `channel means ${ds.mean} should differ`);
  assert.deepEqual(channelStats(new Uint8Array([255, 0, 0, 255, 0, 0])), { mean: [1, 0, 0], std: [1, 1, 1] });
});

test('openDataset refuses folders that are not datasets, with the fix', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(openDataset(dir), /classes.json is missing; create one with `geospike collect`/);
  await makeDataset(dir, 2);
  mkdirSync(path.join(dir, 'train/d'));
  await assert.rejects(openDataset(dir), /folders not in classes.json: d/);
  rmSync(path.join(dir, 'train/d'), { recursive: true });
  writeFileSync(path.join(dir, 'train/a/a0.png'), await encodeRgbPng(new Uint8Array(28 * 28 * 3), 28, 28, 3));
  await assert.rejects(openDataset(dir), /a0.png is 28x28x3; dataset images must be 32x32 RGB/);
  rmSync(path.join(dir, 'train/a/a0.png'));
  renameSync(path.join(dir, 'train/b/b0.png'), path.join(dir, 'train/a/b0.png'));
  await assert.rejects(openDataset(dir), /train\/a\/b0.png is listed as train\/b in manifest.jsonl/);
  rmSync(path.join(dir, 'train/a'), { recursive: true });
  await assert.rejects(openDataset(dir), /class 'a' has no training images/);
});

function split(n: number): SplitData {
  const images = new Uint8Array(n * IMAGE_VALUES).map((_, j) => (j * 13 + (j >> 7)) & 255);
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i), ids: [], n };
}
const norm = { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] };

test('batches cover each image once per epoch, reshuffle per epoch, and are normalised', () => {
  const data = split(10);
  const it = new BatchIterator(data, { batchSize: 4, seed: 7, ...norm });
  assert.equal(it.batchesPerEpoch, 3);
  const epoch0 = [...it.epoch(0)];
  assert.deepEqual(
    epoch0.map((b) => b.n),
    [4, 4, 2],
  );
  const seen = epoch0.flatMap((b) => Array.from(b.y));
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.notDeepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(
    [...it.epoch(1)].flatMap((b) => Array.from(b.y)),
    seen,
  );
  const [b] = epoch0;
  assert.ok(b, 'a first batch');
  const i = must(b.y[0], 'a batch holds a label per image');
  for (const j of [0, 1, 2, 100, 3071]) {
    const expected = (data.images[i * IMAGE_VALUES + j]! / 255 - norm.mean[j % 3]!) / norm.std[j % 3]!;
    assert.ok(Math.abs(b.x[j]! - expected) < 1e-5);
  }
  assert.equal(new BatchIterator(data, { batchSize: 4, seed: 7, dropLast: true, ...norm }).batchesPerEpoch, 2);
  assert.throws(() => new BatchIterator(split(3), { batchSize: 4, seed: 1, dropLast: true, ...norm }), /no full batch/);
});

test(
  'augmentation is a 4-pixel-padded crop, ' + 'flipped for some samples and not others, and the same for the same seed',
  () => {
    const data = split(12);
    const opts = { batchSize: 12, seed: 11, augment: true, ...norm };
    const b = new BatchIterator(data, opts).batch(3, 0);
    assert.deepEqual(b.x, new BatchIterator(data, opts).batch(3, 0).x);
    assert.notDeepEqual(b.x, new BatchIterator(data, { ...opts, seed: 12 }).batch(3, 0).x);
    let flips = 0;
    let shifts = 0;
    for (let k = 0; k < b.n; k++) {
      const src = data.images.subarray(b.y[k]! * IMAGE_VALUES, (b.y[k]! + 1) * IMAGE_VALUES);
      const got = b.x.subarray(k * IMAGE_VALUES, (k + 1) * IMAGE_VALUES);
      let found = false;
      for (let dy = -4; dy <= 4 && !found; dy++) {
        for (let dx = -4; dx <= 4 && !found; dx++) {
          for (const flip of [false, true]) {
            let ok = true;
            for (let p = 0; p < IMAGE_VALUES && ok; p++) {
              const [r, c, ch] = [Math.floor(p / 96), Math.floor(p / 3) % 32, p % 3];
              const [sr, sc] = [r + dy, (flip ? 31 - c : c) + dx];
              const v = sr >= 0 && sr < 32 && sc >= 0 && sc < 32 ? src[(sr * 32 + sc) * 3 + ch]! : 0;
              ok = Math.abs(got[p]! - (v / 255 - norm.mean[ch]!) / norm.std[ch]!) < 1e-5;
            }
            if (ok) {
              found = true;
              flips += flip ? 1 : 0;
              shifts += dy !== 0 || dx !== 0 ? 1 : 0;
              break;
            }
          }
        }
      }
      assert.ok(found, `sample ${k} is no padded crop/flip of its source`);
    }
    assert.ok(shifts > 0, 'some sample is shifted');
    assert.ok(
      flips > 0 && flips < b.n,
      `${flips} of ${b.n} samples flipped: a coin per sample flips some and not others`,
    );
  },
);

test('a saved cursor resumes the exact batch stream, across epochs', () => {
  const data = split(9);
  const opts = { batchSize: 4, seed: 5, augment: true, ...norm };
  const a = new BatchIterator(data, opts);
  const straight = [0, 1, 2].flatMap((e) => [...a.epoch(e)]);
  assert.equal(straight.length, 9);
  // Resumed at {epoch 1, batch 1} by a fresh iterator, as train() resumes from a checkpoint's cursor.
  const b = new BatchIterator(data, opts);
  const resumed = [...b.epoch(1, 1), ...b.epoch(2)];
  assert.equal(resumed.length, 5);
  const batch = (i: number) => must(straight[i], 'three epochs of three batches');
  resumed.forEach((got, i) => {
    assert.deepEqual(got.x, batch(4 + i).x);
    assert.deepEqual(got.y, batch(4 + i).y);
  });
  assert.notDeepEqual(batch(4).x, batch(1).x, 'each epoch has its own order and augmentation');
  assert.throws(() => b.batch(0, 3), /batch 3 is outside 0..2/);
});
