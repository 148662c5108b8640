// The HTTP API over a real socket, with real (untrained) Spikformer and ResNet18 checkpoints.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { initEngine } from '../../src/engine/backend.js';
import { openDeck } from '../../src/serve/deck.js';
import { GameHall } from '../../src/serve/game.js';
import { Predictor } from '../../src/serve/predictor.js';
import { buildServer, MAX_UPLOAD_BYTES } from '../../src/serve/server.js';
import { CITIES, makeCheckpoint, makeDataset, photo } from './helpers.js';

let root: string;
let app: FastifyInstance;
let base: string;
let results: string;
let hall: GameHall;
let predictors: Predictor[];

before(async () => {
  await initEngine();
  root = mkdtempSync(path.join(tmpdir(), 'geospike-api-'));
  const data = await makeDataset(path.join(root, 'data'), { validation: 2 });
  predictors = [
    Predictor.load(await makeCheckpoint(root, { preset: 'spikformer-1-64', kind: 'snn' })),
    Predictor.load(await makeCheckpoint(root, { preset: 'resnet18-w8', kind: 'ann' })),
  ];
  results = path.join(root, 'games.jsonl');
  hall = new GameHall(await openDeck(data), predictors, { defaultRounds: 3, resultsFile: results });
  app = await buildServer({ hall, predictors });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});

after(async () => {
  await app.close();
  for (const p of predictors) p.dispose();
  rmSync(root, { recursive: true, force: true });
});

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body instanceof FormData || body instanceof Uint8Array || typeof body === 'string') init.body = body as BodyInit;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(base + url, init);
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer());
  return { status: res.status, type, data: data as any };
}

/** Every refusal is JSON with a message. */
function refused(r: { status: number; type: string; data: any }, status: number, pattern?: RegExp) {
  assert.equal(r.status, status, JSON.stringify(r.data));
  assert.match(r.type, /application\/json/);
  assert.equal(typeof r.data.error, 'string');
  if (pattern) assert.match(r.data.error, pattern);
}

test('the page and its assets are served', async () => {
  const page = await call('GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.type, /text\/html/);
  assert.match(page.data.toString(), /<script type="module" src="\/app.js">/);
  for (const [url, type] of [['/app.js', /javascript/], ['/style.css', /text\/css/]] as const) {
    const r = await call('GET', url);
    assert.equal(r.status, 200);
    assert.match(r.type, type);
  }
  const info = await call('GET', '/api/info');
  assert.deepEqual(info.data, { classes: CITIES, models: ['spikformer-1-64', 'resnet18-w8'], rounds: 3, images: 10, coordinates: true });
});

test('a whole game over the API: start, rounds, images, guesses, summary, and the result line', async () => {
  const start = await call('POST', '/api/games', { rounds: 3, seed: 4 });
  assert.equal(start.status, 201);
  const { game } = start.data;
  assert.equal(start.data.rounds, 3);
  for (let i = 0; i < 3; i++) {
    const r = await call('GET', `/api/games/${game}/round`);
    assert.equal(r.status, 200);
    assert.equal(r.data.index, i);
    for (const c of CITIES) assert.ok(!JSON.stringify(r.data).includes(c), 'the round does not give the answer away');
    const img = await call('GET', r.data.image);
    assert.equal(img.status, 200);
    assert.equal(img.type, 'image/jpeg');
    assert.equal((await sharp(img.data).metadata()).width, 96, 'the display copy, not the 32x32 image');
    const rev = await call('POST', `/api/games/${game}/rounds/${i}/guess`, { guess: i });
    assert.equal(rev.status, 200);
    assert.equal(rev.data.person.label, i);
    assert.equal(rev.data.models.length, 2);
    assert.equal(rev.data.answer.class, CITIES[rev.data.answer.label]);
    assert.equal(rev.data.seal.commitment, r.data.commitment);
  }
  const done = await call('GET', `/api/games/${game}/round`);
  assert.deepEqual(done.data, { game, done: true, total: 3 });
  const s = await call('GET', `/api/games/${game}/summary`);
  assert.equal(s.data.finished, true);
  assert.equal(s.data.rounds.length, 3);
  assert.equal(s.data.score.person.correct, s.data.rounds.filter((r: any) => r.person.correct).length);
  await hall.flush();
  const line = readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.game === game);
  assert.ok(line, 'the finished game was appended');
  assert.deepEqual(line.score, s.data.score);
  assert.deepEqual(line.models, [
    { name: 'spikformer-1-64', checkpoint: path.join(root, 'snn.json') },
    { name: 'resnet18-w8', checkpoint: path.join(root, 'ann.json') },
  ]);
});

test('game requests with bad input get a 4xx and a JSON error', async () => {
  refused(await call('GET', '/api/games/no-such-game/round'), 404, /unknown game/);
  refused(await call('GET', '/api/games/no-such-game/summary'), 404, /unknown game/);
  refused(await call('POST', '/api/games/no-such-game/rounds/0/guess', { guess: 0 }), 404, /unknown game/);
  refused(await call('POST', '/api/games', { rounds: 0 }), 400, /rounds/);
  refused(await call('POST', '/api/games', { rounds: 11 }), 400, /at most 10/);
  refused(await call('POST', '/api/games', { rounds: 'three' }), 400, /rounds/);
  refused(await call('POST', '/api/games', { seed: -3 }), 400, /seed/);
  refused(await call('POST', '/api/games', { round: 3 }), 400, /unknown field 'round'/);
  refused(await call('POST', '/api/games', '{"rounds": 3', { 'content-type': 'application/json' }), 400);

  const { game } = (await call('POST', '/api/games', { rounds: 2 })).data;
  refused(await call('POST', `/api/games/${game}/rounds/0/guess`, { guess: 0 }), 404, /no round 0 yet/);
  refused(await call('GET', `/api/games/${game}/rounds/0/image`), 404, /no round 0 yet/);
  await call('GET', `/api/games/${game}/round`);
  refused(await call('GET', `/api/games/${game}/rounds/1/image`), 404, /no round 1 yet/);
  refused(await call('POST', `/api/games/${game}/rounds/5/guess`, { guess: 0 }), 404);
  refused(await call('POST', `/api/games/${game}/rounds/x/guess`, { guess: 0 }), 404, /unknown round/);
  for (const guess of [5, -1, 0.5, '2', null]) {
    refused(await call('POST', `/api/games/${game}/rounds/0/guess`, { guess }), 400, /class index from 0 to 4/);
  }
  refused(await call('POST', `/api/games/${game}/rounds/0/guess`, {}), 400, /class index/);
  refused(await call('POST', `/api/games/${game}/rounds/0/guess`, 'guess=1', { 'content-type': 'text/plain' }), 415, /JSON/);
  assert.equal((await call('POST', `/api/games/${game}/rounds/0/guess`, { guess: 3 })).status, 200);
  refused(await call('POST', `/api/games/${game}/rounds/0/guess`, { guess: 2 }), 409, /already answered/);
  assert.equal((await call('GET', `/api/games/${game}/summary`)).data.rounds[0].person.label, 3, 'the first guess stands');
});

test('files are reachable only through dealt rounds: no path reaches the dataset folder', async () => {
  const { game } = (await call('POST', '/api/games', { rounds: 1 })).data;
  await call('GET', `/api/games/${game}/round`);
  const manifest = readFileSync(path.join(root, 'data', 'manifest.jsonl'));
  for (const url of [
    '/classes.json',
    '/display/paris/paris-validation-0.jpg',
    '/../data/manifest.jsonl',
    '/%2e%2e/%2e%2e/etc/passwd',
    `/api/games/${game}/rounds/..%2f..%2fmanifest.jsonl/image`,
    `/api/games/${game}/rounds/0/../../../../data/manifest.jsonl`,
    `/api/games/${game}/rounds/0%2f..%2f..%2fclasses.json/image`,
    '/app.js/../../package.json',
  ]) {
    const r = await call('GET', url);
    refused(r, 404);
    assert.ok(!JSON.stringify(r.data).includes(manifest.subarray(0, 40).toString()), url);
  }
});

test('POST /api/predict classifies an uploaded image with every model', async () => {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(await photo(320, 240, 7))], { type: 'image/jpeg' }), 'street.jpg');
  const r = await call('POST', '/api/predict', form);
  assert.equal(r.status, 200, JSON.stringify(r.data));
  assert.deepEqual(r.data.predictions.map((p: any) => p.model), ['spikformer-1-64', 'resnet18-w8']);
  for (const p of r.data.predictions) {
    assert.deepEqual(p.probabilities.map((c: any) => c.class).sort(), [...CITIES].sort());
    assert.ok(Math.abs(p.probabilities.reduce((a: number, c: any) => a + c.probability, 0) - 1) < 1e-5);
    assert.equal(p.class, p.probabilities[0].class);
  }
  // The same photo as a raw body gives the same answer.
  const raw = await call('POST', '/api/predict', new Uint8Array(await photo(320, 240, 7)), { 'content-type': 'image/jpeg' });
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.data, r.data);
});

test('POST /api/predict refuses what is not an image, too large, or missing', async () => {
  const form = (blob: Blob, name = 'image') => {
    const f = new FormData();
    f.append(name, blob, 'upload.bin');
    return f;
  };
  refused(await call('POST', '/api/predict', form(new Blob(['just some text, not a picture']))), 415, /not an image/);
  const jpeg = await photo(64, 64, 1);
  refused(await call('POST', '/api/predict', form(new Blob([new Uint8Array(jpeg.subarray(0, 200))], { type: 'image/jpeg' }))), 415, /not an image/);
  const big = new Uint8Array(MAX_UPLOAD_BYTES + 1);
  big.set(jpeg);
  refused(await call('POST', '/api/predict', form(new Blob([big], { type: 'image/jpeg' }))), 413, /too large.*10 MB/);
  refused(await call('POST', '/api/predict', big, { 'content-type': 'image/jpeg' }), 413, /too large/);
  refused(await call('POST', '/api/predict', form(new Blob([]))), 400, /empty/);
  const noFile = new FormData();
  noFile.append('note', 'hello');
  refused(await call('POST', '/api/predict', noFile), 400, /no file/);
  refused(await call('POST', '/api/predict', { image: 'base64...' }), 415, /multipart/);
  refused(await call('POST', '/api/predict'), 415);
});
