// `geospike play` as a user runs it: the built CLI in a child process, on loopback by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CITIES, makeCheckpoint, makeDataset, openedUrl, tempDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const env = { ...process.env, GEOSPIKE_BACKEND: 'cpu' };

test('play serves the game on 127.0.0.1 unless told otherwise, and records finished games', async (t) => {
  const dir = tempDir(t);
  const data = await makeDataset(path.join(dir, 'data'), { validation: 1 });
  const a = await makeCheckpoint(dir, { kind: 'snn' });
  const b = await makeCheckpoint(dir, { kind: 'snn2', seed: 1 });
  const results = path.join(dir, 'games.jsonl');
  // No --host: the default must be loopback. Port 0 picks a free port; the command prints the address.
  const child = spawn(
    process.execPath,
    [CLI, 'play', '--checkpoint', `${a},${b}`, '--data', data, '--port', '0', '--rounds', '2', '--results', results],
    { env },
  );
  t.after(() => child.kill('SIGKILL'));
  const { url } = await openedUrl(child);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const get = async (p: string, init?: RequestInit) => (await fetch(new URL(p, url), init)).json();
  const info = await get('/api/info');
  assert.deepEqual(info.classes, CITIES);
  assert.deepEqual(
    info.models,
    ['spikformer-1-64 #1', 'spikformer-1-64 #2'],
    'two checkpoints of one preset get told apart',
  );
  assert.equal(info.rounds, 2);
  const post = (p: string, body: unknown) =>
    get(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const { game } = await post('/api/games', {});
  for (let i = 0; i < 2; i++) {
    await get(`/api/games/${game}/round`);
    await post(`/api/games/${game}/rounds/${i}/guess`, { guess: 1 });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, 'Ctrl-C / SIGTERM stops it cleanly');
  const lines = readFileSync(results, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0] ?? '{}').game, game);
});

test('play refuses a folder that is not a dataset, and a model trained on other classes', async (t) => {
  const dir = tempDir(t);
  const run = async (...args: string[]) => {
    try {
      await promisify(execFile)(process.execPath, [CLI, 'play', '--port', '0', ...args], { env });
      return { code: 0, stderr: '' };
    } catch (err) {
      return err as { code: number; stderr: string };
    }
  };
  const ckpt = await makeCheckpoint(dir, { classes: ['x', 'y'] });
  const notData = await run('--checkpoint', ckpt, '--data', dir);
  assert.equal(notData.code, 1);
  assert.match(notData.stderr, /is not a dataset folder/);
  const data = await makeDataset(path.join(dir, 'data'), { validation: 1, train: 1 });
  const other = await run('--checkpoint', ckpt, '--data', data);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /trained on classes \["x","y"\]/);
});

test('play on a port already in use exits 1 with one sentence naming the port and the way out', async (t) => {
  const dir = tempDir(t);
  const data = await makeDataset(path.join(dir, 'data'), { validation: 1 });
  const a = await makeCheckpoint(dir, { kind: 'snn' });
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.after(() => busy.close());
  const { port } = busy.address() as AddressInfo;
  const args = [CLI, 'play', '--checkpoint', a, '--data', data, '--port', String(port)];
  await assert.rejects(promisify(execFile)(process.execPath, args, { env }), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 1);
    assert.match(
      e.stderr,
      new RegExp(
        `^geospike: port ${port} on 127\\.0\\.0\\.1 is already in use: stop the program using it, or pass another ` +
          `--port`,
        'm',
      ),
    );
    assert.doesNotMatch(e.stderr, /EADDRINUSE|\n\s+at /, 'no raw system text, no stack');
    return true;
  });
});
