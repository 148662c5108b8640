import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { decodeSimplePng, encodeSimplePng } from '../../src/data/png.js';
import { gradientImage, rawRgb } from './helpers.js';
import { goldenPath } from '../helpers/golden.js';

test('decodes RGB and grey PNGs exactly as libvips does, whatever filters the encoder chose', async () => {
  const noisy = Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 7919) % 251));
  const inputs = [
    await gradientImage(32, 32, 3, 'png'),
    await sharp(noisy, { raw: { width: 40, height: 30, channels: 3 } })
      .png({ adaptiveFiltering: true })
      .toBuffer(),
    await sharp(noisy, { raw: { width: 40, height: 30, channels: 3 } })
      .png({ adaptiveFiltering: false, compressionLevel: 9 })
      .toBuffer(),
    await sharp(noisy.subarray(0, 1200), { raw: { width: 40, height: 30, channels: 1 } })
      .png()
      .toBuffer(),
    readFileSync(goldenPath('resize-out-32-pil-lanczos.png')),
  ];
  for (const png of inputs) {
    const got = decodeSimplePng(png);
    assert.ok(got, 'decoded');
    const ref = await sharp(png).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([got.width, got.height], [ref.info.width, ref.info.height]);
    assert.deepEqual(Buffer.from(got.data), ref.data);
  }
});

test('leaves other PNGs (alpha, 16-bit, interlaced) and non-PNGs to sharp', async () => {
  const rgba = await sharp(Buffer.alloc(8 * 8 * 4, 9), { raw: { width: 8, height: 8, channels: 4 } })
    .png()
    .toBuffer();
  const deep = await sharp(Buffer.alloc(8 * 8 * 3, 9), { raw: { width: 8, height: 8, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  const interlaced = await sharp(Buffer.alloc(8 * 8 * 3, 9), { raw: { width: 8, height: 8, channels: 3 } })
    .png({ progressive: true })
    .toBuffer();
  for (const b of [rgba, deep, interlaced, await gradientImage(8, 8, 1, 'jpeg'), Buffer.from('nope')])
    assert.equal(decodeSimplePng(b), null);
  assert.equal((await rawRgb(rgba)).width, 8);
});

test('encodes RGB pixels to a PNG that libvips and the decoder read back exactly', async () => {
  for (const [w, h] of [
    [32, 32],
    [7, 3],
    [1, 1],
  ] as const) {
    const px = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7919 + w) % 256);
    const png = encodeSimplePng(px, w, h);
    const ref = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([ref.info.width, ref.info.height, ref.info.channels], [w, h, 3]);
    assert.deepEqual(ref.data, Buffer.from(px));
    assert.deepEqual(decodeSimplePng(png)?.data, px);
  }
  assert.throws(() => encodeSimplePng(new Uint8Array(5), 2, 2), /expected 12 bytes of RGB, got 5/);
});
