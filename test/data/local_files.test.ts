// Local files an attacker could craft: a PNG with a short header chunk or a zlib bomb behind a huge declared size,
// dataset images that decode to more pixels than a dataset holds, and class names that are paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { openDataset } from '../../src/data/dataset.js';
import { parseManifest } from '../../src/data/manifest.js';
import { decodeSimplePng } from '../../src/data/png.js';
import { imagePath } from '../../src/data/writer.js';
import { openDeck } from '../../src/serve/deck.js';
import { makeDataset } from '../serve/helpers.js';
import { tempDir } from './helpers.js';

function chunk(type: string, body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), body])));
  return Buffer.concat([len, Buffer.from(type, 'latin1'), body, crc]);
}
const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
function png(width: number, height: number, idat: Buffer, ihdr?: Buffer): Buffer {
  const h = Buffer.alloc(13);
  h.writeUInt32BE(width, 0);
  h.writeUInt32BE(height, 4);
  h.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([SIG, chunk('IHDR', ihdr ?? h), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

test('the PNG reader returns null, without throwing, for a short IHDR and chunks that run past the end', () => {
  assert.equal(decodeSimplePng(png(32, 32, deflateSync(Buffer.alloc(33 * 96)), Buffer.from([0, 0, 0, 32, 0]))), null);
  const ok = png(2, 2, deflateSync(Buffer.alloc(2 * 7)));
  assert.notEqual(decodeSimplePng(ok), null);
  const cut = Buffer.from(ok);
  cut.writeUInt32BE(0xfffffff0, 33); // IDAT length far past the end of the file
  assert.equal(decodeSimplePng(cut), null);
});

test('the PNG reader caps what it inflates: a 50 MB zlib bomb declared as 4096x4096 is refused', () => {
  const side = 4096;
  const bomb = deflateSync(Buffer.alloc((side * 3 + 1) * side), { level: 9 });
  assert.ok(bomb.length < 100_000);
  assert.equal(decodeSimplePng(png(side, side, bomb)), null);
  // Declared 32x32 but inflating to 50 MB: inflation stops at what 32x32 needs, and the file is refused.
  assert.equal(decodeSimplePng(png(32, 32, bomb)), null);
});

test(
  'a dataset image is decoded with a pixel limit: ' + 'a huge PNG in a dataset is an error naming the file',
  async (t) => {
    const dir = await makeDataset(path.join(tempDir(t), 'd'), { train: 1, validation: 1 });
    const [e] = parseManifest(readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')).entries;
    assert.ok(e, 'an entry');
    const file = imagePath(dir, e);
    writeFileSync(
      file,
      await sharp({ create: { width: 4000, height: 4000, channels: 3, background: '#111' } })
        .png({ progressive: true })
        .toBuffer(),
    );
    await assert.rejects(
      openDataset(dir),
      (err: Error) => err.message.includes(file) && /pixel limit|not a readable PNG/.test(err.message),
    );
  },
);

test('class names that are paths are refused in classes.json (dataset and deck) and in the manifest', async (t) => {
  const dir = await makeDataset(path.join(tempDir(t), 'd'), { train: 1, validation: 1 });
  const classesFile = path.join(dir, 'classes.json');
  const good = readFileSync(classesFile, 'utf8');
  for (const bad of ['../../etc', 'a/b', '..', '__proto__', 'UPPER']) {
    writeFileSync(classesFile, JSON.stringify([bad, ...JSON.parse(good).slice(1)]));
    await assert.rejects(openDataset(dir), /classes\.json names class .*not a class name/, bad);
    await assert.rejects(openDeck(dir), /classes\.json names class .*not a class name/, bad);
  }
  writeFileSync(classesFile, good);
  const [line = ''] = readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8').split('\n'); // split gives one at least
  const evil = JSON.stringify({ ...JSON.parse(line), class: '../../../tmp' });
  assert.throws(() => parseManifest(`${evil}\n`), /field 'class' must be a class name/);
});
