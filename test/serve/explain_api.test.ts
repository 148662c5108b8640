// The reveal's evidence maps over HTTP: closed until the round is answered, then one 256x256 PNG per model, and the
// page module that shows them is served.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { initEngine } from '../../src/engine/backend.js';
import { serveFixtureGame, type ServedGame } from './helpers.js';

let served: ServedGame;

before(async () => {
  await initEngine('native');
  served = await serveFixtureGame('geospike-explain-api-');
});

after(async () => {
  await served.close();
});

const get = async (url: string) => {
  const res = await fetch(served.base + url);
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, body: Buffer.from(await res.arrayBuffer()) };
};

test("a model's evidence map is served only after the guess, as a PNG over the 32x32 input", async () => {
  const start = await fetch(`${served.base}/api/games`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rounds: 1 }),
  });
  const { game } = (await start.json()) as { game: string };
  await fetch(`${served.base}/api/games/${game}/round`);
  const early = await get(`/api/games/${game}/rounds/0/explain/0`);
  assert.equal(early.status, 409);
  assert.match(early.body.toString(), /not answered yet/);
  const guess = await fetch(`${served.base}/api/games/${game}/rounds/0/guess`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ guess: 0 }),
  });
  assert.equal(guess.status, 200);
  const map = await get(`/api/games/${game}/rounds/0/explain/0`);
  assert.equal(map.status, 200, map.body.toString());
  assert.equal(map.type, 'image/png');
  const meta = await sharp(map.body).metadata();
  assert.deepEqual([meta.width, meta.height], [256, 256]);
  const missing = await get(`/api/games/${game}/rounds/0/explain/5`);
  assert.equal(missing.status, 404);
  assert.match(missing.body.toString(), /no model 5/);
  const js = await get('/explain.js');
  assert.equal(js.status, 200);
  assert.match(js.body.toString(), /export function showEvidence/);
  assert.match((await get('/app.js')).body.toString(), /showEvidence\(rev\)/);
});
