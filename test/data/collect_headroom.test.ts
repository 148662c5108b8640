// A small collect with ordinary transient failures finishes under the default --max-requests: the plan plus 10%
// leaves almost no room for retries on a few dozen images, so small runs get a minimum headroom.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeServer } from '../../src/data/providers/fake_server.js';
import { tempDir } from './helpers.js';
import { KEY_A, manifest, SECRET } from './collect_helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function collect(args: string[]): Promise<{ code: number | null; output: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/GOOGLE_MAPS|MAPILLARY/.test(k)));
  const env = { ...clean, GOOGLE_MAPS_API_KEY: KEY_A, GOOGLE_MAPS_URL_SIGNING_SECRET: SECRET };
  const child = spawn(process.execPath, [MAIN, 'collect', '--yes', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

test('12 images with 4 transient image failures finish under the default --max-requests', async (t) => {
  const server = new FakeServer({
    keys: [KEY_A],
    secret: SECRET,
    faults: [{ endpoint: 'image', kind: 'http500', every: 2, times: 4 }],
  });
  const url = await server.start();
  t.after(() => server.close());
  const out = tempDir(t);
  const r = await collect([
    '--cities',
    'paris',
    '--per-city',
    '12',
    '--out',
    out,
    '--endpoint',
    url,
    '--qps',
    '1000',
    '--backoff-ms',
    '1',
  ]);
  assert.equal(server.fired(0), 4);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /stops at --max-requests \d+ image requests/);
  assert.ok(Number(/--max-requests (\d+)/.exec(r.output)![1]) >= 12 + 10, r.output);
  assert.equal(manifest(out).length, 12);
});
