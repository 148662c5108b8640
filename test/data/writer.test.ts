import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatasetWriter } from '../../src/data/writer.js';
import { TEST_FAULT_ENV } from '../../src/util/test_fault.js';
import { gradientImage, tempDir } from './helpers.js';

const entry = (id: string, cls = 'a', split: 'train' | 'validation' = 'train') => ({
  id,
  class: cls,
  split,
  provider: 'test',
  sourceId: id,
  lat: 1.5,
  lng: 2.5,
  heading: 90,
  captureDate: '2020-01',
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

test('reopening cuts a torn last line; files the journal does not name are left alone', async (t) => {
  const dir = tempDir(t);
  const w = await DatasetWriter.open(dir, ['a']);
  await w.add(entry('kept'), await gradientImage(32, 32, 1, 'png'));
  await w.close();
  // Half a manifest line is what kill -9 can leave; the other files were not written by geospike (its journal does
  // not name them), so they stay (journaled files are removed: see the kill-in-group test below).
  writeFileSync(path.join(dir, 'train/a/orphan.png'), 'x');
  writeFileSync(path.join(dir, 'display/a/.tmp-1-abc-orphan.jpg'), 'x');
  appendFileSync(path.join(dir, 'manifest.jsonl'), '{"id":"half","cla');
  const again = await DatasetWriter.open(dir, ['a']);
  await again.close();
  assert.equal(existsSync(path.join(dir, 'train/a/orphan.png')), true);
  assert.equal(existsSync(path.join(dir, 'display/a/.tmp-1-abc-orphan.jpg')), true);
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

test(
  'after a power loss: lines whose image is missing or changed are dropped, ' + 'reported and can be added again',
  async (t) => {
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
    assert.deepEqual(
      again.entries.map((e) => e.id),
      ['keep'],
    );
    assert.deepEqual(again.count('a'), { train: 1, validation: 0 });
    assert.equal(said.length, 2, said.join('\n'));
    assert.match(said.join('\n'), /'lost' \(a, train\): its image is missing/);
    assert.match(said.join('\n'), /'torn' \(a, train\): its image does not match the recorded sha256/);
    // The manifest itself no longer lists them, and the torn file is gone, so both are fetched again.
    const lines = readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).id),
      ['keep'],
    );
    assert.ok(!existsSync(path.join(dir, 'train/a/torn.png')));
    await again.add(entry('lost'), png);
    await again.add(entry('torn'), png);
    await again.close();
    const third = await DatasetWriter.open(dir, ['a']);
    assert.deepEqual(third.count('a'), { train: 3, validation: 0 });
    await third.close();
  },
);

// Every manifest line's image is on disk with its sha256, and (once reopened) no file is unlisted.
function listedAndOnDisk(dir: string): { lines: string[]; pngs: string[]; jpgs: string[] } {
  const lines = readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8').split('\n').filter(Boolean);
  for (const l of lines) {
    const e = JSON.parse(l);
    const png = readFileSync(path.join(dir, e.split, e.class, `${e.id}.png`));
    assert.equal(createHash('sha256').update(png).digest('hex'), e.sha256, `${e.id}'s image matches its line`);
    assert.ok(existsSync(path.join(dir, 'display', e.class, `${e.id}.jpg`)), `${e.id}'s display copy exists`);
  }
  return { lines, pngs: readdirSync(path.join(dir, 'train', 'a')), jpgs: readdirSync(path.join(dir, 'display', 'a')) };
}

test(
  'concurrent adds commit together; one failing mid-group ' + '(full disk) leaves neither its files nor its line',
  async (t) => {
    const dir = tempDir(t);
    const w = await DatasetWriter.open(dir, ['a']);
    const png = await gradientImage(32, 32, 1, 'png');
    process.env[TEST_FAULT_ENV] = 'disk-full-from:.png:4'; // the 4th PNG on fail, while the others are in flight
    let results: PromiseSettledResult<unknown>[];
    try {
      results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => w.add(entry(`x${i}`), png, Buffer.from(`jpeg${i}`))),
      );
    } finally {
      delete process.env[TEST_FAULT_ENV];
    }
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(ok, 3, 'the three images written before the disk filled are committed');
    for (const r of results)
      if (r.status === 'rejected') assert.match(String(r.reason), /the disk is full; free some space and run again/);
    const { lines, pngs, jpgs } = listedAndOnDisk(dir);
    assert.equal(lines.length, 3);
    assert.equal(pngs.length, 3, `no PNG without its line: ${pngs}`);
    assert.equal(jpgs.length, 3, `no display copy without its line: ${jpgs}`);
    assert.deepEqual(w.count('a'), { train: 3, validation: 0 });
    // The failed ids can be added again once there is space.
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`x${i}`] : []));
    for (const id of failed) await w.add(entry(id), png, Buffer.from('jpeg'));
    await w.close();
    assert.equal(listedAndOnDisk(dir).lines.length, 6);
  },
);

test(
  'killed mid-group: every line has its synced image, ' + 'the uncommitted image is unlisted and removed on reopening',
  async (t) => {
    const dir = tempDir(t);
    const writer = new URL('../../src/data/writer.js', import.meta.url).href;
    // A child adds 8 images, 4 at a time, and is killed once the 5th image's files are synced, before its commit.
    const script =
      `
    import { DatasetWriter } from ${JSON.stringify(writer)};
    const w = await DatasetWriter.open(process.argv[1], ['a']);
    const png = Buffer.from(process.argv[2], 'base64');
    const e = (id) => ({ id, class: 'a', split: 'train', provider: 'test', sourceId: id, lat: 0, lng: 0, heading: 0, ` +
      `captureDate: null });
    let next = 0;
    const worker = async () => { while (next < 8) { const i = next++; await w.add(e('k' + i), png, ` +
      `Buffer.from('jpeg' + i)); } };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await w.close();
  `;
    const png = await gradientImage(32, 32, 2, 'png');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir, png.toString('base64')], {
      env: { ...process.env, [TEST_FAULT_ENV]: 'kill-in-group:5' },
      encoding: 'utf8',
    });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    assert.match(child.stderr, /test fault: killed after image 5 was synced/);
    const before = listedAndOnDisk(dir);
    assert.ok(before.lines.length <= 4, `at most the 4 adds before the kill committed: ${before.lines.length}`);
    assert.ok(before.pngs.length > before.lines.length, 'the killed add left its synced image without a line');
    const again = await DatasetWriter.open(dir, ['a']);
    const after = listedAndOnDisk(dir);
    assert.deepEqual(after.lines, before.lines);
    assert.equal(after.pngs.length, after.lines.length, 'unlisted images removed');
    assert.equal(after.jpgs.length, after.lines.length, 'unlisted display copies removed');
    for (let i = 0; i < 8; i++) if (!again.has(`k${i}`)) await again.add(entry(`k${i}`), png, Buffer.from('jpeg'));
    await again.close();
    assert.equal(listedAndOnDisk(dir).lines.length, 8);
  },
);

test(
  'a failed manifest write fails its group and every later add, ' + 'so nothing is appended after a torn line',
  async (t) => {
    const dir = tempDir(t);
    const w = await DatasetWriter.open(dir, ['a']);
    const png = await gradientImage(32, 32, 1, 'png');
    await w.add(entry('ok'), png, Buffer.from('jpeg'));
    // What a full disk or a failing device does to the append: the manifest's handle refuses the write.
    const manifest = (w as unknown as { manifest: { write: () => Promise<unknown> } }).manifest;
    manifest.write = () => Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    const res = await Promise.allSettled([
      w.add(entry('g1'), png, Buffer.from('j1')),
      w.add(entry('g2'), png, Buffer.from('j2')),
    ]);
    assert.deepEqual(
      res.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    // Even once the device would take writes again, this writer appends nothing more: the failed write may have left
    // part of a line, and a line appended after it would make the manifest unreadable. Reopening cuts the torn tail.
    delete (manifest as { write?: unknown }).write;
    await assert.rejects(w.add(entry('later'), png, Buffer.from('j3')), /EIO/);
    await w.close();
    assert.deepEqual(
      listedAndOnDisk(dir).lines.map((l) => JSON.parse(l).id),
      ['ok'],
    );
    assert.deepEqual(readdirSync(path.join(dir, 'train', 'a')), ['ok.png'], 'the failed adds left no image');
    assert.deepEqual(readdirSync(path.join(dir, 'display', 'a')), ['ok.jpg'], 'nor a display copy');
  },
);

test('a short write of the manifest (fewer bytes than asked) is completed, not left as a torn line', async (t) => {
  const dir = tempDir(t);
  const w = await DatasetWriter.open(dir, ['a']);
  const png = await gradientImage(32, 32, 1, 'png');
  // What write(2) may do on a nearly full disk or after a signal: take only part of the bytes and say how many.
  const manifest = (w as unknown as { manifest: { write: (...a: unknown[]) => Promise<{ bytesWritten: number }> } })
    .manifest;
  const write = manifest.write.bind(manifest);
  let short = 0;
  manifest.write = (data: unknown, offset?: unknown, length?: unknown) => {
    const buf = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
    const at = typeof offset === 'number' ? offset : 0;
    const len = typeof length === 'number' ? length : buf.length - at;
    short++;
    return write(buf, at, Math.max(1, Math.floor(len / 2)));
  };
  for (const id of ['s1', 's2', 's3']) await w.add(entry(id), png, Buffer.from('jpeg'));
  await w.close();
  assert.deepEqual(
    listedAndOnDisk(dir).lines.map((l) => JSON.parse(l).id),
    ['s1', 's2', 's3'],
  );
  assert.ok(short > 3, 'the writes were cut short');
  const again = await DatasetWriter.open(dir, ['a']);
  assert.deepEqual(again.count('a'), { train: 3, validation: 0 });
  await again.close();
});
