import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatasetWriter } from '../../src/data/writer.js';
import { gradientImage, tempDir } from './helpers.js';

const entry = (id: string, cls = 'a', split: 'train' | 'validation' = 'train') => ({
  id, class: cls, split, provider: 'test', sourceId: id, lat: 1.5, lng: 2.5, heading: 90, captureDate: '2020-01',
});

test('add writes the files and a manifest line; reopening restores the counts', async (t) => {
  const dir = tempDir(t);
  const w = await DatasetWriter.open(dir, ['a', 'b']);
  const png = await gradientImage(32, 32, 1, 'png');
  const e = await w.add(entry('x1'), png, Buffer.from('jpegbytes'));
  await w.add(entry('x2', 'b', 'validation'), png);
  await assert.rejects(w.add(entry('x1'), png), /already in the dataset/);
  await w.close();
  assert.equal(e.sha256.length, 64);
  assert.deepEqual(readFileSync(path.join(dir, 'train/a/x1.png')), png);
  assert.equal(readFileSync(path.join(dir, 'display/a/x1.jpg'), 'utf8'), 'jpegbytes');
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'classes.json'), 'utf8')), ['a', 'b']);
  const again = await DatasetWriter.open(dir, ['a', 'b']);
  assert.deepEqual(again.count('a'), { train: 1, validation: 0 });
  assert.deepEqual(again.count('b'), { train: 0, validation: 1 });
  assert.ok(again.has('x1') && again.has('x2') && !again.has('x3'));
  await again.close();
});

test('reopening cuts a torn last line and deletes files the manifest does not list', async (t) => {
  const dir = tempDir(t);
  const w = await DatasetWriter.open(dir, ['a']);
  await w.add(entry('kept'), await gradientImage(32, 32, 1, 'png'));
  await w.close();
  // What kill -9 can leave: a file renamed but not recorded, a temp file, half a manifest line.
  writeFileSync(path.join(dir, 'train/a/orphan.png'), 'x');
  writeFileSync(path.join(dir, 'display/a/.tmp-1-abc-orphan.jpg'), 'x');
  appendFileSync(path.join(dir, 'manifest.jsonl'), '{"id":"half","cla');
  const again = await DatasetWriter.open(dir, ['a']);
  await again.close();
  assert.equal(existsSync(path.join(dir, 'train/a/orphan.png')), false);
  assert.equal(existsSync(path.join(dir, 'display/a/.tmp-1-abc-orphan.jpg')), false);
  assert.equal(existsSync(path.join(dir, 'train/a/kept.png')), true);
  const text = readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8');
  assert.equal(text.split('\n').filter(Boolean).length, 1);
  assert.ok(text.endsWith('\n'));
});

test('a folder holding other classes, a bad class name or a corrupt manifest line is refused clearly', async (t) => {
  const dir = tempDir(t);
  await (await DatasetWriter.open(dir, ['a', 'b'])).close();
  await assert.rejects(DatasetWriter.open(dir, ['b', 'a']), /already holds a dataset with classes \["a","b"\]/);
  await assert.rejects(DatasetWriter.open(tempDir(t), ['New York']), /not usable as a folder name/);
  appendFileSync(path.join(dir, 'manifest.jsonl'), '{"id":"x"}\n');
  await assert.rejects(DatasetWriter.open(dir, ['a', 'b']), /manifest.jsonl:1: field 'class'/);
});

test('after a power loss: lines whose image is missing or changed are dropped, reported and can be added again', async (t) => {
  const dir = tempDir(t);
  const w = await DatasetWriter.open(dir, ['a']);
  const png = await gradientImage(32, 32, 1, 'png');
  for (const id of ['keep', 'lost', 'torn']) await w.add(entry(id), png);
  await w.close();
  // What a power loss can leave: a manifest line whose image never reached the disk, or reached it cut short.
  unlinkSync(path.join(dir, 'train/a/lost.png'));
  writeFileSync(path.join(dir, 'train/a/torn.png'), png.subarray(0, 20));
  const said: string[] = [];
  const again = await DatasetWriter.open(dir, ['a'], (l) => said.push(l));
  assert.deepEqual(again.entries.map((e) => e.id), ['keep']);
  assert.deepEqual(again.count('a'), { train: 1, validation: 0 });
  assert.equal(said.length, 2, said.join('\n'));
  assert.match(said.join('\n'), /'lost' \(a, train\): its image is missing/);
  assert.match(said.join('\n'), /'torn' \(a, train\): its image does not match the recorded sha256/);
  // The manifest itself no longer lists them, and the torn file is gone, so both are fetched again.
  const lines = readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(lines.map((l) => JSON.parse(l).id), ['keep']);
  assert.ok(!existsSync(path.join(dir, 'train/a/torn.png')));
  await again.add(entry('lost'), png);
  await again.add(entry('torn'), png);
  await again.close();
  const third = await DatasetWriter.open(dir, ['a']);
  assert.deepEqual(third.count('a'), { train: 3, validation: 0 });
  await third.close();
});
