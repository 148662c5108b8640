import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  importFashionMnist,
  padGreyToRgb,
  parseIdxImages,
} from '../../src/data/importers/fashion_mnist.js';
import { importFolder } from '../../src/data/importers/folder.js';
import { openDataset } from '../../src/data/dataset.js';
import sharp from 'sharp';
import { parseManifest } from '../../src/data/manifest.js';
import { gradientImage, rawRgb, tempDir } from './helpers.js';
import { must } from '../../src/util/must.js';

const count = (dir: string) => (existsSync(dir) ? readdirSync(dir).length : 0);

test('fashion-mnist: --per-class takes the first images of each class, padded to 32x32 RGB', async (t) => {
  const out = tempDir(t);
  const r = await importFashionMnist({ out, perClass: 3, valPerClass: 2 });
  assert.equal(r.written, 10 * 5);
  for (const c of FASHION_MNIST_CLASSES) {
    assert.equal(count(path.join(out, 'train', c)), 3);
    assert.equal(count(path.join(out, 'validation', c)), 2);
    assert.equal(count(path.join(out, 'display', c)), 2); // the game's display copies, validation only
  }
  const tshirts = path.join(out, 'display', must(FASHION_MNIST_CLASSES[0], 'ten classes'));
  const [shown] = readdirSync(tshirts);
  assert.ok(shown, `a display copy in ${tshirts}`);
  const meta = await sharp(path.join(tshirts, shown)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 128, 128]);
  // Image 0 of the package's train file, decoded from what was written, equals its padded idx pixels.
  const idx = parseIdxImages(gunzipSync(readFileSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'))), 'x');
  const labels = gunzipSync(readFileSync(path.join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz'))).subarray(8);
  const cls = must(FASHION_MNIST_CLASSES[must(labels[0], 'a label per image')], 'a label is a class index');
  const written = await rawRgb(path.join(out, 'train', cls, 'fmnist-train-00000.png'));
  assert.deepEqual([written.width, written.height], [32, 32]);
  assert.deepEqual(new Uint8Array(written.data), padGreyToRgb(idx.pixels.subarray(0, 784), 28, 28));
  // Re-running writes nothing new.
  assert.deepEqual(await importFashionMnist({ out, perClass: 3, valPerClass: 2 }), { written: 0, skipped: 50 });
});

test('fashion-mnist: a missing package or a damaged file is named with the fix', async (t) => {
  await assert.rejects(
    importFashionMnist({ out: tempDir(t), source: tempDir(t) }),
    /apt-get install dataset-fashion-mnist/,
  );
  const src = tempDir(t);
  writeFileSync(
    path.join(src, 'train-images-idx3-ubyte.gz'),
    gzipSync(Buffer.from([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28])),
  );
  writeFileSync(path.join(src, 'train-labels-idx1-ubyte.gz'), gzipSync(Buffer.from([0, 0, 8, 1, 0, 0, 0, 0])));
  await assert.rejects(importFashionMnist({ out: tempDir(t), source: src }), /truncated: expected 5 images of 28x28/);
  await assert.rejects(importFashionMnist({ out: tempDir(t), perClass: 0 }), /--per-class must be a whole number/);
});

async function makeSource(root: string): Promise<void> {
  mkdirSync(path.join(root, 'Seoul'));
  mkdirSync(path.join(root, 'tokyo'));
  for (let i = 0; i < 10; i++)
    writeFileSync(path.join(root, 'Seoul', `s${i}.jpg`), await gradientImage(120 + i, 90, i, 'jpeg'));
  for (let i = 0; i < 5; i++)
    writeFileSync(path.join(root, 'tokyo', `t${i}.png`), await gradientImage(40, 60, i, 'png'));
  writeFileSync(path.join(root, 'tokyo', 't5.webp'), await gradientImage(300, 300, 9, 'webp'));
  writeFileSync(
    path.join(root, 'tokyo', 'grey.png'),
    await sharp(Buffer.alloc(50 * 40, 90), { raw: { width: 50, height: 40, channels: 1 } })
      .png()
      .toBuffer(),
  );
  writeFileSync(path.join(root, 'tokyo', 'broken.jpg'), Buffer.from('not a jpeg at all'));
  writeFileSync(path.join(root, 'tokyo', 'notes.txt'), 'ignored');
}

test('folder: class subfolders are resized, split by --val-fraction, and undecodable files skipped', async (t) => {
  const src = tempDir(t);
  const out = tempDir(t);
  await makeSource(src);
  const logs: string[] = [];
  const r = await importFolder({ source: src, out, valFraction: 0.2, seed: 3, log: (l) => logs.push(l) });
  assert.deepEqual(r, { written: 17, skipped: 0, bad: 1 });
  assert.ok(logs.some((l) => l.includes('broken.jpg')));
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'classes.json'), 'utf8')), ['seoul', 'tokyo']);
  assert.deepEqual([count(path.join(out, 'train/seoul')), count(path.join(out, 'validation/seoul'))], [8, 2]);
  // tokyo: 7 decodable of 8 listed (the split is decided before decoding).
  assert.equal(count(path.join(out, 'train/tokyo')) + count(path.join(out, 'validation/tokyo')), 7);
  assert.equal(count(path.join(out, 'display/seoul')), 10);
  const { entries } = parseManifest(readFileSync(path.join(out, 'manifest.jsonl'), 'utf8'));
  assert.equal(entries.length, 17);
  // The reader accepts the result: every image 32x32 RGB (the grey PNG too), labels in classes.json order.
  const ds = await openDataset(out);
  assert.equal(ds.train.n + ds.validation.n, 17);
  assert.deepEqual([...new Set(ds.train.labels)], [0, 1]);
  const grey = entries.find((e) => e.sourceId === 'tokyo/grey.png')!;
  const split = grey.split === 'train' ? ds.train : ds.validation;
  const k = split.ids.indexOf(grey.id);
  assert.deepEqual([...split.images.subarray(k * 3072, k * 3072 + 3)], [90, 90, 90]);
  assert.ok(entries.every((e) => e.provider === 'folder' && e.sourceId.includes('/')));
  // The same seed gives the same split; re-running on the same output adds nothing.
  const out2 = tempDir(t);
  await importFolder({ source: src, out: out2, valFraction: 0.2, seed: 3 });
  assert.deepEqual(readdirSync(path.join(out2, 'validation/seoul')), readdirSync(path.join(out, 'validation/seoul')));
  assert.deepEqual(await importFolder({ source: src, out, valFraction: 0.2, seed: 3 }), {
    written: 0,
    skipped: 17,
    bad: 1,
  });
});

test('folder: a class left with no validation image is warned about by name', async (t) => {
  const src = tempDir(t);
  for (const [cls, n] of [
    ['rome', 2],
    ['oslo', 5],
  ] as const) {
    mkdirSync(path.join(src, cls));
    for (let i = 0; i < n; i++) writeFileSync(path.join(src, cls, `${i}.png`), await gradientImage(8, 8, i + 1));
  }
  const logs: string[] = [];
  await importFolder({ source: src, out: tempDir(t), valFraction: 0.2, log: (l) => logs.push(l) });
  const warnings = logs.filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 1, logs.join('\n'));
  assert.match(
    warnings[0] ?? '',
    /class 'rome' has no validation image \(2 in all, --val-fraction 0\.2\).*raise --val-fraction/,
  );
});

test('folder: wrong layouts and empty classes are refused with the fix', async (t) => {
  const flat = tempDir(t);
  writeFileSync(path.join(flat, 'a.jpg'), await gradientImage(8, 8, 1));
  await assert.rejects(
    importFolder({ source: flat, out: tempDir(t) }),
    /no class subfolders \(it holds 1 images directly\)/,
  );
  const empty = tempDir(t);
  mkdirSync(path.join(empty, 'paris'));
  await assert.rejects(importFolder({ source: empty, out: tempDir(t) }), /paris holds no images/);
  await assert.rejects(importFolder({ source: path.join(empty, 'nope'), out: tempDir(t) }), /does not exist/);
});
