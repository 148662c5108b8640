import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { ImageDecodeError, processImage } from '../../src/data/images.js';
import { resizeLanczos, resizeSquare } from '../../src/data/resize.js';
import { gradientImage, rawRgb } from './helpers.js';
import { goldenPath } from '../helpers/golden.js';
import { worstDifference } from '../helpers/compare.js';

// resize.ts does Pillow's arithmetic, so the 32x32 image is PIL's to the grey level (libvips's Lanczos, used before,
// was 1.2 grey levels off on average and up to 9 on sharp edges).
test('Lanczos resize equals PIL on the golden image', async () => {
  const input = readFileSync(goldenPath('resize-in-128.png'));
  const ref = await rawRgb(readFileSync(goldenPath('resize-out-32-pil-lanczos.png')));
  const out = await processImage(input, { cropBottom: 0 });
  const got = await rawRgb(out.png);
  assert.equal(got.width, 32);
  assert.equal(got.height, 32);
  const differ = got.data.findIndex((v, i) => v !== ref.data[i]);
  assert.equal(
    differ,
    -1,
    `pixel ${Math.floor(differ / 3)} channel ${differ % 3}: ${got.data[differ]} against PIL's ${ref.data[differ]}`,
  );
});

test('a large source is box-averaged first and still resized as Lanczos-3 would within a grey level or two', () => {
  // 1100 px: more than 16 x 32, so it is averaged 4 x 4 (leaving 1100 % 4 = 0 over) and then resized from 275 px.
  const side = 1100;
  const px = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const o = (y * side + x) * 3;
      px[o] = (x * 255) / side;
      px[o + 1] = 128 + 100 * Math.sin(y / 40);
      px[o + 2] = ((x + y) * 97) % 256; // fine detail that must average out, not alias
    }
  }
  const got = resizeSquare(px, side, 0, 0, side, 32);
  const exact = resizeLanczos(px, side, side, 32, 32);
  const max = worstDifference(got, exact).worst;
  assert.ok(max <= 2, `largest difference from the direct Lanczos-3 ${max} grey levels`);
  // An odd-sized square drops its leftover columns evenly: a constant image stays constant.
  const flat = new Uint8Array(1031 * 1031 * 3).fill(77);
  assert.ok(resizeSquare(flat, 1031, 0, 0, 1031, 32).every((v) => v === 77));
});

test('the bottom strip is cropped before resizing and the display copy is the cropped square', async () => {
  // 64x84: a green picture with a 20-row red strip at the bottom, as a watermark would be.
  const px = Buffer.alloc(64 * 84 * 3);
  for (let i = 0; i < 64 * 84; i++) {
    const bottom = Math.floor(i / 64) >= 64;
    px[i * 3] = bottom ? 255 : 0;
    px[i * 3 + 1] = bottom ? 0 : 200;
  }
  const png = await sharp(px, { raw: { width: 64, height: 84, channels: 3 } })
    .png()
    .toBuffer();
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
  const [red = NaN] = small.data;
  assert.ok(red > 50 && red < 80, `left edge red ${red}`);
});

test('bodies that are not images, or are truncated, raise ImageDecodeError', async () => {
  const jpeg = await gradientImage(128, 128, 3, 'jpeg');
  for (const body of [Buffer.from('<html>error</html>'), jpeg.subarray(0, jpeg.length >> 1), Buffer.alloc(0)]) {
    await assert.rejects(processImage(body, { cropBottom: 0 }), ImageDecodeError);
  }
  await assert.rejects(processImage(jpeg, { cropBottom: 200 }), /too small to crop 200 rows/);
});
