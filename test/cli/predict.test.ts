// `geospike predict` as a user runs it: the built CLI in a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initEngine } from '../../src/engine/backend.js';
import { Predictor } from '../../src/serve/predictor.js';
import { CITIES, makeCheckpoint, photo, tempDir } from '../serve/helpers.js';
import { must } from '../../src/util/must.js';

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

test("predict prints each image's city and probabilities, best first, as text or JSON", async (t) => {
  const dir = tempDir(t);
  const ckpt = await makeCheckpoint(dir, { preset: 'resnet18-w8', seed: 2 });
  const files = [
    ['street.jpg', 'jpeg', 400, 300],
    ['square.png', 'png', 64, 64],
    ['tall.webp', 'webp', 90, 200],
  ] as const;
  const paths: string[] = [];
  for (const [i, [name, format, w, h]] of files.entries()) {
    const p = path.join(dir, name);
    writeFileSync(p, await photo(w, h, 30 + i, format));
    paths.push(p);
  }
  const json = await geospike('predict', '--checkpoint', ckpt, '--json', ...paths);
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.deepEqual(
    out.map((r: { image: string }) => r.image),
    paths,
  );
  // The same answers as the predictor in this process.
  await initEngine('cpu');
  const p = Predictor.load(ckpt);
  t.after(() => p.dispose());
  for (const [i, r] of out.entries()) {
    const want = await p.predictImage(readFileSync(must(paths[i], 'one result per photo, in order')));
    assert.equal(r.class, want.class);
    assert.deepEqual(
      r.probabilities.map((c: { class: string }) => c.class),
      want.probabilities.map((c) => c.class),
    );
    r.probabilities.forEach((c: { probability: number }, k: number) => {
      assert.ok(Math.abs(c.probability - must(want.probabilities[k], 'as many classes').probability) < 1e-6);
    });
    assert.deepEqual([...r.probabilities.map((c: { class: string }) => c.class)].sort(), [...CITIES].sort());
  }

  const text = await geospike('predict', '--checkpoint', ckpt, ...paths);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  lines.forEach((line, i) => {
    const best = out[i].probabilities[0];
    assert.ok(line.startsWith(`${paths[i]}: ${best.class} (${(best.probability * 100).toFixed(1)}%)`), line);
    for (const c of CITIES) assert.ok(line.includes(c), `${line} lists ${c}`);
  });
});

test('predict reports unreadable images by name, still answers for the rest, and exits 1', async (t) => {
  const dir = tempDir(t);
  const ckpt = await makeCheckpoint(dir);
  const good = path.join(dir, 'ok.jpg');
  writeFileSync(good, await photo(100, 100, 1));
  const notImage = path.join(dir, 'notes.jpg');
  writeFileSync(notImage, 'these are words, not pixels');
  const missing = path.join(dir, 'missing.png');
  const r = await geospike('predict', '--checkpoint', ckpt, '--json', notImage, good, missing);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.length, 3);
  assert.match(out[0].error, /not a decodable image/);
  assert.equal(typeof out[1].class, 'string');
  assert.equal(out[2].error, 'no such file');
  assert.match(r.stderr, new RegExp(`${notImage}: not a decodable image`));
  assert.match(r.stderr, new RegExp(`${missing}: no such file`));
});

test('predict without a usable checkpoint says what is wrong', async (t) => {
  const dir = tempDir(t);
  const img = path.join(dir, 'a.jpg');
  writeFileSync(img, await photo(50, 50, 2));
  const none = await geospike('predict', '--checkpoint', path.join(dir, 'nope'), img);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no checkpoint at .*nope/);
  const missingFlag = await geospike('predict', img);
  assert.notEqual(missingFlag.code, 0);
  assert.match(missingFlag.stderr, /--checkpoint/);
});
