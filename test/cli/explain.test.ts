// `geospike explain --deletion` as a user runs it: both curves and their areas, a plain PASSED or FAILED, and the
// per-class maps; --json gives the same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeCheckpoint, makeDataset, tempDir } from '../serve/helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const geospike = (...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, GEOSPIKE_BACKEND: 'cpu' } });

test('explain --deletion prints both curves, their areas and the verdict on the maps', async (t) => {
  const dir = tempDir(t);
  const data = await makeDataset(path.join(dir, 'data'), { validation: 2 });
  const ckpt = await makeCheckpoint(dir, { preset: 'resnet18-w8', seed: 1 });
  const text = await geospike('explain', '--checkpoint', ckpt, '--data', data, '--images', '4', '--deletion');
  assert.match(
    text.stdout,
    /resnet18-w8: Grad-CAM on the last feature map \(layer4\); 4 validation images; 8x8 patches/,
  );
  assert.match(text.stdout, /by map +(\d\.\d{3} ){10}\d\.\d{3}/);
  assert.match(text.stdout, /random +(\d\.\d{3} ){10}\d\.\d{3}/);
  assert.match(text.stdout, /area under the curve: by map \d\.\d{4}, random \d\.\d{4} \(3 random orders per image\)/);
  assert.match(text.stdout, /^ {2}(PASSED|FAILED): /m);
  const json = JSON.parse(
    (await geospike('explain', '--checkpoint', ckpt, '--data', data, '--images', '4', '--deletion', '--json')).stdout,
  );
  const d = json.deletion;
  assert.equal(d.passed, d.areaMap < d.areaRandom);
  assert.equal(json.perClass.length, 5);
  assert.ok(text.stdout.includes(d.passed ? 'PASSED' : 'FAILED'));
});
