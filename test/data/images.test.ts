import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { ImageDecodeError, processImage } from '../../src/data/images.js';
import { gradientImage, rawRgb } from './helpers.js';
import { goldenPath } from '../helpers/golden.js';


// sharp's Lanczos-3 and PIL's differ in their fixed-point rounding: on the golden image the mean difference is 1.2 grey
// levels and the largest 9 (a few pixels on sharp edges), so the bounds are those with a little room.
test('Lanczos resize matches PIL on the golden image: mean difference under 1.5 grey levels, none over 10', async () => {
  const input = readFileSync(goldenPath('resize-in-128.png'));
  const ref = await rawRgb(readFileSync(goldenPath('resize-out-32-pil-lanczos.png')));
  const out = await processImage(input, { cropBottom: 0 });
  const got = await rawRgb(out.png);
  assert.equal(got.width, 32);
  assert.equal(got.height, 32);
  assert.equal(got.data.length, ref.data.length);
  let sum = 0;
  let max = 0;
  let at = -1;
  for (let i = 0; i < got.data.length; i++) {
    const d = Math.abs(got.data[i] - ref.data[i]);
    sum += d;
    if (d > max) [max, at] = [d, i];
  }
  const mad = sum / got.data.length;
  assert.ok(mad < 1.5, `mean absolute difference ${mad} grey levels`);
  assert.ok(max <= 10, `largest difference ${max} grey levels at pixel ${Math.floor(at / 3)} channel ${at % 3}`);
});

test('the bottom strip is cropped before resizing and the display copy is the cropped square', async () => {
  // 64x84: a green picture with a 20-row red strip at the bottom, as a watermark would be.
  const px = Buffer.alloc(64 * 84 * 3);
  for (let i = 0; i < 64 * 84; i++) {
    const bottom = Math.floor(i / 64) >= 64;
    px[i * 3] = bottom ? 255 : 0;
    px[i * 3 + 1] = bottom ? 0 : 200;
  }
  const png = await sharp(px, { raw: { width: 64, height: 84, channels: 3 } }).png().toBuffer();
  const kept = await rawRgb((await processImage(png, { cropBottom: 0 })).png);
  const cropped = await processImage(png, { cropBottom: 20, displayMaxSide: 256 });
  const got = await rawRgb(cropped.png);
  const maxRed = (d: Buffer) => Math.max(...d.filter((_, i) => i % 3 === 0));
  assert.ok(maxRed(kept.data) > 100, 'without cropping the strip shows');
  assert.ok(maxRed(got.data) < 3, 'after cropping no red remains');
  const display = await sharp(cropped.display!).metadata();
  assert.equal(display.format, 'jpeg');
  assert.deepEqual([display.width, display.height], [64, 64]);
});

test('a non-square image is centre-cropped to a square', async () => {
  const out = await processImage(await gradientImage(200, 100, 1, 'png'), { cropBottom: 0, displayMaxSide: 64 });
  const d = await sharp(out.display!).metadata();
  assert.deepEqual([d.width, d.height], [64, 64]);
  const small = await rawRgb(out.png);
  // Red grows with x; the middle square spans x 50..150, so the left edge is about 50/200*255, not 0.
  assert.ok(small.data[0] > 50 && small.data[0] < 80, `left edge red ${small.data[0]}`);
});

test('bodies that are not images, or are truncated, raise ImageDecodeError', async () => {
  const jpeg = await gradientImage(128, 128, 3, 'jpeg');
  for (const body of [Buffer.from('<html>error</html>'), jpeg.subarray(0, jpeg.length >> 1), Buffer.alloc(0)]) {
    await assert.rejects(processImage(body, { cropBottom: 0 }), ImageDecodeError);
  }
  await assert.rejects(processImage(jpeg, { cropBottom: 200 }), /too small to crop 200 rows/);
});
