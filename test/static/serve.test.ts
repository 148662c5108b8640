import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { serveStatic } from '../../src/static/serve.js';
import { packageRoot } from '../../src/util/package_root.js';
import { makeCheckpoint, makeDataset, openedUrl } from '../serve/helpers.js';

function tempRoot(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'geospike-serve-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A raw request, so a path like /../x reaches the server as written (fetch would normalise it). */
function get(url: string, rawPath: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: rawPath, method }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serve-static serves the folder with the right types and nothing outside it', async (t) => {
  const root = tempRoot(t);
  const site = path.join(root, 'site');
  mkdirSync(path.join(site, 'wasm'), { recursive: true });
  writeFileSync(path.join(site, 'index.html'), '<p>hi</p>');
  writeFileSync(path.join(site, 'wasm', 'a.wasm'), 'x');
  writeFileSync(path.join(root, 'secret.txt'), 'no');
  const server = await serveStatic(site, { port: 0 });
  t.after(() => server.close());
  assert.deepEqual(await get(server.url, '/'), { status: 200, type: 'text/html; charset=utf-8', body: '<p>hi</p>' });
  assert.equal((await get(server.url, '/wasm/a.wasm')).type, 'application/wasm');
  for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/wasm/..%2f..%2fsecret.txt'])
    assert.notEqual((await get(server.url, p)).body, 'no', `${p} stays inside the folder`);
  assert.equal((await get(server.url, '/missing.js')).status, 404);
  assert.equal((await get(server.url, '/', 'POST')).status, 405);
  await assert.rejects(serveStatic(path.join(root, 'secret.txt'), { port: 0 }), /is not a folder/);
});

test('`geospike export-game` writes a site from the command line, and names a bad flag', async (t) => {
  const root = tempRoot(t);
  const data = await makeDataset(path.join(root, 'data'), { validation: 1 });
  const ckpt = await makeCheckpoint(root, { preset: 'resnet18-w8' });
  const main = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const run = promisify(execFile);
  const out = path.join(root, 'site');
  const { stderr } = await run(process.execPath, [
    main,
    'export-game',
    '--checkpoint',
    ckpt,
    '--data',
    data,
    '--out',
    out,
    '--photos',
    '4',
    '--seed',
    '3',
  ]);
  assert.match(stderr, /resnet18-w8 with 4 photos/);
  const site = JSON.parse(readFileSync(path.join(out, 'site.json'), 'utf8'));
  assert.equal(site.photos.length, 4);
  assert.ok(existsSync(path.join(out, 'manifest.webmanifest')) && existsSync(path.join(out, 'sw.js')));
  const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.webmanifest'), 'utf8'));
  assert.equal(manifest.display, 'standalone');
  assert.match(readFileSync(path.join(out, 'index.html'), 'utf8'), /<link rel="manifest" href="manifest.webmanifest">/);
  await assert.rejects(
    run(process.execPath, [
      main,
      'export-game',
      '--checkpoint',
      ckpt,
      '--data',
      data,
      '--out',
      path.join(root, 'b'),
      '--photo-quality',
      '0',
    ]),
    (err: { stderr: string }) => /--photo-quality must be a whole number of at least 1, got '0'/.test(err.stderr),
  );
});

test('serve-static as a command: Ctrl-C closes the server and exits 0 (a signal is how a server ends)', async (t) => {
  const site = path.join(tempRoot(t), 'site');
  mkdirSync(site);
  writeFileSync(path.join(site, 'index.html'), '<p>hi</p>');
  const cli = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [cli, 'serve-static', site, '--port', '0']);
  t.after(() => child.kill('SIGKILL'));
  const { url, stderr } = await openedUrl(child);
  assert.equal((await get(url, '/')).body, '<p>hi</p>');
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGINT');
  assert.equal(await exited, 0, stderr());
  assert.match(stderr(), /SIGINT: closing the server/);
});
