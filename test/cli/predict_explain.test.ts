// `geospike predict --explain OUT.png`: the evidence map of the guess over the 32x32 input, one PNG per photo, and
// an existing file is never overwritten.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { initEngine } from '../../src/engine/backend.js';
import { makeCheckpoint, photo, tempDir } from '../serve/helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

async function geospike(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: { ...process.env, GEOSPIKE_BACKEND: 'cpu' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

before(async () => {
  await initEngine('cpu');
});

test('predict --explain writes the map over the input for each photo and keeps existing files', async (t) => {
  const dir = tempDir(t);
  const ckpt = await makeCheckpoint(dir, { preset: 'spikformer-1-64', seed: 4 });
  const [jpeg, png] = [path.join(dir, 'a.jpg'), path.join(dir, 'b.png')];
  const photos = [jpeg, png];
  writeFileSync(jpeg, await photo(120, 90, 3, 'jpeg'));
  writeFileSync(png, await photo(64, 64, 9, 'png'));
  const out = path.join(dir, 'why.png');
  const r = await geospike('predict', '--checkpoint', ckpt, '--explain', out, ...photos);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /a\.jpg: \w+ \(\d+\.\d%\)/);
  for (const f of ['why-1.png', 'why-2.png']) {
    const meta = await sharp(readFileSync(path.join(dir, f))).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 256, 256], f);
  }
  assert.match(r.stderr, /evidence map \(gradient x input, summed per 4x4-pixel patch\) written to .*why-1\.png/);

  const keep = path.join(dir, 'keep.png');
  writeFileSync(keep, 'not geospike');
  const again = await geospike('predict', '--checkpoint', ckpt, '--explain', keep, jpeg);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /keep\.png already exists; choose another --explain name or remove it/);
  assert.equal(readFileSync(keep, 'utf8'), 'not geospike');
  const bad = await geospike('predict', '--checkpoint', ckpt, '--explain', path.join(dir, 'x.jpg'), jpeg);
  assert.match(bad.stderr, /--explain takes a \.png file to write/);
  assert.ok(!existsSync(path.join(dir, 'x.jpg')));
});
