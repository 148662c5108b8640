// geospike deletes only files it can prove it wrote: its own names, recorded as pending in its journal. An --out
// that overlaps the source, or that holds files but is not a geospike dataset, is refused before anything is touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importFolder } from '../../src/data/importers/folder.js';
import { DatasetWriter } from '../../src/data/writer.js';
import { gradientImage, tempDir } from './helpers.js';

/** Every file under `dir` with its bytes, to prove nothing was touched. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), readFileSync(p).toString('base64'));
    }
  };
  walk(dir);
  return out;
}

/** An ImageFolder tree as torchvision users keep one: root/train/<class>/*.jpg and root/val/<class>/*.jpg. */
async function imageFolderTree(root: string): Promise<void> {
  for (const split of ['train', 'val'])
    for (const cls of ['seoul', 'tokyo']) {
      mkdirSync(path.join(root, split, cls), { recursive: true });
      for (let i = 0; i < 3; i++)
        writeFileSync(path.join(root, split, cls, `${cls}${i}.jpg`), await gradientImage(40, 30, i));
    }
}

test('import with --out at the source, its parent or inside it is refused and touches nothing', async (t) => {
  const root = tempDir(t);
  await imageFolderTree(root);
  const before = snapshot(root);
  const src = path.join(root, 'train');
  for (const out of [src, root, path.join(src, 'seoul'), path.join(src, 'new-out')]) {
    await assert.rejects(importFolder({ source: src, out }), (err: Error) => {
      assert.match(err.message, /--out .* (is|holds) the source folder|is inside the source folder/, err.message);
      assert.match(err.message, /choose an --out folder outside/);
      return true;
    });
    assert.deepEqual(snapshot(root), before, `--out ${out}: nothing may change`);
  }
  assert.equal(existsSync(path.join(src, 'new-out')), false);
});

test('a non-empty --out that is not a geospike dataset is refused and left as it was', async (t) => {
  const src = tempDir(t);
  mkdirSync(path.join(src, 'seoul'));
  mkdirSync(path.join(src, 'tokyo'));
  writeFileSync(path.join(src, 'seoul', 'a.jpg'), await gradientImage(40, 30, 1));
  writeFileSync(path.join(src, 'tokyo', 'b.jpg'), await gradientImage(40, 30, 2));
  const other = tempDir(t);
  await imageFolderTree(other);
  const before = snapshot(other);
  await assert.rejects(
    importFolder({ source: src, out: other }),
    /is not empty and is not a geospike dataset \(it has no classes.json\); choose a new or empty --out folder/,
  );
  assert.deepEqual(snapshot(other), before);
  // The same through the writer that collect uses.
  await assert.rejects(DatasetWriter.open(other, ['seoul', 'tokyo']), /not a geospike dataset/);
  assert.deepEqual(snapshot(other), before);
});

test(
  'files and folders geospike did not write inside a dataset are left alone, ' + 'and their names are not reused',
  async (t) => {
    const dir = tempDir(t);
    const png = await gradientImage(32, 32, 1, 'png');
    const w = await DatasetWriter.open(dir, ['a']);
    await w.add(
      {
        id: 'mine',
        class: 'a',
        split: 'train',
        provider: 'test',
        sourceId: 'mine',
        lat: 0,
        lng: 0,
        heading: 0,
        captureDate: null,
      },
      png,
      Buffer.from('jpeg'),
    );
    await w.close();
    // A user's own photo, one with a name geospike could have written, and a sub-folder, in the class folders.
    writeFileSync(path.join(dir, 'train/a/holiday.jpg'), 'my photo');
    writeFileSync(path.join(dir, 'train/a/theirs.png'), 'their png');
    writeFileSync(path.join(dir, 'display/a/theirs.jpg'), 'their jpeg');
    mkdirSync(path.join(dir, 'validation/a/sub'));
    writeFileSync(path.join(dir, 'validation/a/sub/x.png'), 'nested');
    const before = snapshot(dir);
    const said: string[] = [];
    const again = await DatasetWriter.open(dir, ['a'], (l) => said.push(l));
    assert.match(said.join('\n'), /left alone 4 entries geospike did not write/);
    const theirs = {
      id: 'theirs',
      class: 'a',
      split: 'train' as const,
      provider: 'test',
      sourceId: 't',
      lat: 0,
      lng: 0,
      heading: 0,
      captureDate: null,
    };
    await assert.rejects(
      again.add(theirs, png, Buffer.from('x')),
      /already exists and geospike did not write it; move it/,
    );
    await again.close();
    const after = snapshot(dir);
    for (const [f, bytes] of before)
      if (!f.startsWith('.geospike')) assert.equal(after.get(f), bytes, `${f} kept as it was`);
    assert.ok(statSync(path.join(dir, 'validation/a/sub')).isDirectory());
    assert.deepEqual(
      readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
      ['mine'],
    );
  },
);
