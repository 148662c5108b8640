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
import { publicTable, readResults, tabulate } from '../../src/serve/results.js';
import { buildServer, MAX_UPLOAD_BYTES } from '../../src/serve/server.js';
import { packageDir } from '../../src/serve/vendor.js';
import { distanceKm } from '../../src/serve/geo.js';
import { CENTRES, CITIES, makeCheckpoint, makeDataset, photo } from './helpers.js';

let root: string;
let app: FastifyInstance;
let base: string;
let results: string;
let hall: GameHall;
let predictors: Predictor[];

before(async () => {
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
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
  for (const [url, type] of [
    ['/app.js', /javascript/],
    ['/style.css', /text\/css/],
  ] as const) {
    const r = await call('GET', url);
    assert.equal(r.status, 200);
    assert.match(r.type, type);
  }
  const info = await call('GET', '/api/info');
  const { centres, ...rest } = info.data;
  assert.deepEqual(rest, {
    classes: CITIES,
    models: ['spikformer-1-64', 'resnet18-w8'],
    rounds: 3,
    images: 10,
    coordinates: true,
  });
  // Each class's centre, for the map's guess pins: the mean of its images' coordinates (the same for every round).
  assert.deepEqual(
    centres,
    CITIES.map((c) => hall.deck.centres.get(c)),
  );
  assert.ok(distanceKm(centres[CITIES.indexOf('paris')]!, CENTRES.paris) < 5);
});

test('a whole game over the API: start, rounds, images, guesses, summary, and the result line', async () => {
  const start = await call('POST', '/api/games', { rounds: 3 });
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
  const line = readFileSync(results, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((l) => l.game === game);
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
  refused(await call('POST', '/api/games', { seed: 3 }), 400, /unknown field 'seed'/);
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
  refused(
    await call('POST', `/api/games/${game}/rounds/0/guess`, 'guess=1', { 'content-type': 'text/plain' }),
    415,
    /JSON/,
  );
  assert.equal((await call('POST', `/api/games/${game}/rounds/0/guess`, { guess: 3 })).status, 200);
  refused(await call('POST', `/api/games/${game}/rounds/0/guess`, { guess: 2 }), 409, /already answered/);
  assert.equal(
    (await call('GET', `/api/games/${game}/summary`)).data.rounds[0].person.label,
    3,
    'the first guess stands',
  );
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
    '/vendor/../package.json',
    '/vendor/%2e%2e/package.json',
    '/vendor/world-atlas/package.json',
    '/vendor/countries-10m.json',
    `/api/games/${game}/rounds/0/input/../../../../manifest.jsonl`,
  ]) {
    const r = await call('GET', url);
    refused(r, 404);
    assert.ok(!JSON.stringify(r.data).includes(manifest.subarray(0, 40).toString()), url);
  }
});

test("the map's libraries and Natural Earth data are served from the npm packages' own files", async () => {
  for (const [url, pkg, file, type] of [
    ['/vendor/d3-array.min.js', 'd3-array', 'dist/d3-array.min.js', /javascript/],
    ['/vendor/d3-geo.min.js', 'd3-geo', 'dist/d3-geo.min.js', /javascript/],
    ['/vendor/topojson-client.min.js', 'topojson-client', 'dist/topojson-client.min.js', /javascript/],
    ['/vendor/countries-50m.json', 'world-atlas', 'countries-50m.json', /application\/json/],
  ] as const) {
    const r = await call('GET', url);
    assert.equal(r.status, 200, url);
    assert.match(r.type, type);
    const body = Buffer.isBuffer(r.data) ? r.data : Buffer.from(JSON.stringify(r.data));
    const disk = readFileSync(path.join(packageDir(pkg), file));
    if (Buffer.isBuffer(r.data)) assert.ok(body.equals(disk), url);
    else assert.deepEqual(r.data, JSON.parse(disk.toString()), url);
  }
  // The SVG namespace (in the inline favicon) is a name, not a place anything is fetched from.
  const page = (await call('GET', '/')).data.toString().replaceAll('http://www.w3.org/2000/svg', '');
  assert.ok(!/https?:\/\//.test(page.replace(/<!--[\s\S]*?-->/g, '')), 'the page loads nothing from another host');
  for (const url of ['/app.js', '/map.js', '/results.js', '/ui.js']) {
    // The SVG namespace is a name, not a place anything is fetched from.
    const text = (await call('GET', url)).data.toString().replaceAll('http://www.w3.org/2000/svg', '');
    assert.ok(!/https?:\/\//.test(text), `${url} loads nothing from another host`);
  }
});

test("the model's 32x32 input is served only after the round is answered", async () => {
  const { game } = (await call('POST', '/api/games', { rounds: 2 })).data;
  refused(await call('GET', `/api/games/${game}/rounds/0/input`), 404, /no round 0 yet/);
  const r = await call('GET', `/api/games/${game}/round`);
  assert.ok(!JSON.stringify(r.data).includes('input'), 'the round does not point at the model input');
  refused(await call('GET', `/api/games/${game}/rounds/0/input`), 409, /not answered yet/);
  const rev = await call('POST', `/api/games/${game}/rounds/0/guess`, { guess: 1 });
  assert.equal(rev.data.input, `/api/games/${game}/rounds/0/input`);
  const img = await call('GET', rev.data.input);
  assert.equal(img.status, 200);
  assert.equal(img.type, 'image/png');
  assert.deepEqual(
    await sharp(img.data)
      .metadata()
      .then((m) => [m.width, m.height]),
    [32, 32],
  );
  assert.ok(img.data.equals(readFileSync(hall.inputFile(game, 0))), 'exactly the file the models classified');
  // Each model's top classes come with the reveal: a distribution over the classes, best first.
  for (const m of rev.data.models) {
    assert.equal(m.top.length, CITIES.length);
    assert.equal(m.top[0].class, m.class);
    assert.ok(m.top.every((t: any, i: number) => i === 0 || t.probability <= m.top[i - 1].probability));
  }
  // The next round's input stays closed until it is answered too.
  await call('GET', `/api/games/${game}/round`);
  refused(await call('GET', `/api/games/${game}/rounds/1/input`), 409, /not answered yet/);
});

test('a player name is accepted, checked, and written only to the results file; /results shows the table', async () => {
  const start = await call('POST', '/api/games', { rounds: 3, name: 'Grace Hopper' });
  assert.equal(start.status, 201);
  assert.ok(!JSON.stringify(start.data).includes('Grace'), 'the name is not sent back');
  const { game } = start.data;
  for (let i = 0; i < 3; i++) {
    await call('GET', `/api/games/${game}/round`);
    const rev = await call('POST', `/api/games/${game}/rounds/${i}/guess`, { guess: 0 });
    assert.ok(!JSON.stringify(rev.data).includes('Grace'));
  }
  assert.ok(!JSON.stringify((await call('GET', `/api/games/${game}/summary`)).data).includes('Grace'));
  await hall.flush();
  const { games } = await readResults(results);
  assert.equal(games.find((g) => g.game === game)!.player, 'Grace Hopper');
  refused(await call('POST', '/api/games', { name: 7 }), 400, /name must be a string/);
  refused(await call('POST', '/api/games', { name: 'x'.repeat(41) }), 400, /at most 40 characters/);
  refused(await call('POST', '/api/games', { name: 'a\nb' }), 400, /control characters/);

  const page = await call('GET', '/results');
  assert.equal(page.status, 200);
  assert.match(page.type, /text\/html/);
  assert.match(page.data.toString(), /<script type="module" src="\/results.js">/);
  const r = await call('GET', '/api/results');
  assert.equal(r.status, 200);
  assert.equal(r.data.file, 'games.jsonl', 'the file name, not its path on the server');
  assert.deepEqual(r.data.table, publicTable(games));
  assert.equal(r.data.table.games, tabulate(games).games);
  assert.ok(!JSON.stringify(r.data).includes('Grace'), 'player names stay in the results file');
});

test('POST /api/predict classifies an uploaded image with every model', async () => {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(await photo(320, 240, 7))], { type: 'image/jpeg' }), 'street.jpg');
  const r = await call('POST', '/api/predict', form);
  assert.equal(r.status, 200, JSON.stringify(r.data));
  assert.deepEqual(
    r.data.predictions.map((p: any) => p.model),
    ['spikformer-1-64', 'resnet18-w8'],
  );
  for (const p of r.data.predictions) {
    assert.deepEqual(p.probabilities.map((c: any) => c.class).sort(), [...CITIES].sort());
    assert.ok(Math.abs(p.probabilities.reduce((a: number, c: any) => a + c.probability, 0) - 1) < 1e-5);
    assert.equal(p.class, p.probabilities[0].class);
  }
  // The same photo as a raw body gives the same answer.
  const raw = await call('POST', '/api/predict', new Uint8Array(await photo(320, 240, 7)), {
    'content-type': 'image/jpeg',
  });
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
  refused(
    await call('POST', '/api/predict', form(new Blob([new Uint8Array(jpeg.subarray(0, 200))], { type: 'image/jpeg' }))),
    415,
    /not an image/,
  );
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
