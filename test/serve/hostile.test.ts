// The game server against hostile pages and malformed requests: uploads too big to decode refused from their header,
// only the README's formats decoded, cross-origin and rebinding requests refused, form posts kept off the JSON routes,
// a flood of new games unable to evict a game in play, and every malformed request a 4xx JSON error that names no
// path, stack or answer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { unlinkSync } from 'node:fs';
import sharp from 'sharp';
import { displayPath } from '../../src/data/writer.js';
import { initEngine } from '../../src/engine/backend.js';
import type { GameHall } from '../../src/serve/game.js';
import { PredictQueue } from '../../src/serve/predict_queue.js';
import { photo, serveFixtureGame, type ServedGame } from './helpers.js';

let served: ServedGame;
let port: number;
let hall: GameHall;

before(async () => {
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
  served = await serveFixtureGame('geospike-hostile-', { maxGames: 4 });
  ({ port, hall } = served);
});

after(async () => {
  await served?.close();
});

interface Answer {
  status: number;
  type: string;
  text: string;
  json: any;
}

/** A raw request (node:http sets Host and Origin as given, as a browser page or a rebinding attack would). */
function send(
  method: string,
  url: string,
  headers: Record<string, string | number> = {},
  body?: Buffer | string,
  opts: { truncate?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const buf = body === undefined ? undefined : Buffer.from(body);
    const h: Record<string, string | number> = { host: `127.0.0.1:${port}`, ...headers };
    if (buf && h['content-length'] === undefined) h['content-length'] = opts.truncate ? buf.length + 100 : buf.length;
    const req = request({ host: '127.0.0.1', port, method, path: url, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const type = String(res.headers['content-type'] ?? '');
        resolve({ status: res.statusCode!, type, text, json: type.includes('json') ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    if (buf) req.write(buf);
    if (opts.truncate) setTimeout(() => req.destroy(), 200).unref();
    else req.end();
  });
}

/** A 4xx (or the given status) with a JSON error that names no path, no stack, no file of the dataset. */
function refusedCleanly(r: Answer, status: number | [number, number], what: string) {
  const [lo, hi] = Array.isArray(status) ? status : [status, status];
  assert.ok(r.status >= lo && r.status <= hi, `${what}: status ${r.status} ${r.text}`);
  assert.match(r.type, /json/, what);
  assert.equal(typeof r.json.error, 'string', what);
  assert.doesNotMatch(
    r.text,
    /\/tmp\/|geospike-hostile|\n\s*at |\.js:\d+|node_modules|ENOENT|\.jpg|\.png/,
    `${what}: ${r.text}`,
  );
}

const json = (body: unknown): [Record<string, string>, string] => [
  { 'content-type': 'application/json' },
  JSON.stringify(body),
];

test(
  'uploads are judged from their header: 8192x8192 PNG 413, ' + 'SVG/TIFF/GIF/HEIF 415, an ordinary large photo passes',
  async () => {
    const huge = await sharp({ create: { width: 8192, height: 8192, channels: 3, background: '#808080' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    assert.ok(huge.length < 1_000_000, `${huge.length} bytes`);
    const r = await send('POST', '/api/predict', { 'content-type': 'image/png' }, huge);
    refusedCleanly(r, 413, '8192x8192 PNG');
    assert.match(r.json.error, /8192x8192.*megapixels/);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>';
    refusedCleanly(await send('POST', '/api/predict', { 'content-type': 'image/svg+xml' }, svg), 415, 'SVG');
    const tiff = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
      .tiff()
      .toBuffer();
    refusedCleanly(await send('POST', '/api/predict', { 'content-type': 'image/tiff' }, tiff), 415, 'TIFF');
    const gif = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
      .gif()
      .toBuffer();
    refusedCleanly(await send('POST', '/api/predict', { 'content-type': 'image/gif' }, gif), 415, 'GIF');
    const ordinary = await photo(6000, 4000, 7);
    const ok = await send('POST', '/api/predict', { 'content-type': 'image/jpeg' }, ordinary);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.predictions.length, 1);
  },
);

test('at most `concurrency` predictions run, `maxWaiting` wait, and the rest get 503 at once', async () => {
  const q = new PredictQueue(2, 1);
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const work = () =>
    q.run(async () => {
      peak = Math.max(peak, ++running);
      await new Promise<void>((r) => gates.push(r));
      running--;
      return 'done';
    });
  const a = work();
  const b = work();
  const c = work();
  await assert.rejects(work(), (e: Error & { status?: number }) => e.status === 503 && /busy/.test(e.message));
  await new Promise(setImmediate);
  assert.equal(gates.length, 2);
  gates.shift()!();
  await a;
  await new Promise(setImmediate);
  assert.equal(gates.length, 2); // the waiting one got the freed slot
  for (const g of gates.splice(0)) g();
  assert.deepEqual(await Promise.all([b, c]), ['done', 'done']);
  assert.equal(peak, 2);
});

test('another origin cannot start games, guess or predict; a rebinding Host is refused', async () => {
  const before = await send('POST', '/api/games', { 'content-type': 'application/json' }, '{}');
  assert.equal(before.status, 201);
  const game = before.json.game;
  const evil = { origin: 'http://evil.example' };
  refusedCleanly(
    await send('POST', '/api/games', { ...evil, 'content-type': 'application/json' }, '{}'),
    403,
    'cross-origin game',
  );
  refusedCleanly(await send('GET', `/api/games/${game}/round`, evil), 403, 'cross-origin round');
  refusedCleanly(
    await send(
      'POST',
      `/api/games/${game}/rounds/0/guess`,
      { ...evil, 'content-type': 'application/json' },
      '{"guess":0}',
    ),
    403,
    'cross-origin guess',
  );
  refusedCleanly(
    await send('POST', '/api/predict', { ...evil, 'content-type': 'image/jpeg' }, await photo(64, 64, 1)),
    403,
    'cross-origin predict',
  );
  refusedCleanly(
    await send('POST', '/api/games', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, '{}'),
    403,
    'sec-fetch-site',
  );
  // DNS rebinding: the attacker's name resolves to 127.0.0.1, so the socket is ours but Host is theirs.
  for (const host of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `127.0.0.1:${port + 1}`]) {
    refusedCleanly(await send('GET', '/api/info', { host }), 421, `Host ${host}`);
  }
  // The page itself, same origin, by address or by localhost.
  assert.equal(
    (await send('POST', '/api/games', { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' }, '{}'))
      .status,
    201,
  );
  assert.equal((await send('GET', '/api/info', { host: `localhost:${port}` })).status, 200);
});

test('form posts (urlencoded, multipart, text/plain) never reach the JSON routes', async () => {
  const started = (await send('POST', '/api/games', { 'content-type': 'application/json' }, '{}')).json.game;
  await send('GET', `/api/games/${started}/round`);
  const boundary = 'xyz';
  const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="rounds"\r\n\r\n3\r\n--${boundary}--\r\n`;
  const forms: [string, string][] = [
    ['application/x-www-form-urlencoded', 'rounds=3'],
    [`multipart/form-data; boundary=${boundary}`, multipart],
    ['text/plain', '{"rounds": 3}'],
  ];
  for (const [type, body] of forms) {
    refusedCleanly(await send('POST', '/api/games', { 'content-type': type }, body), 415, `form ${type} to /api/games`);
    refusedCleanly(
      await send('POST', `/api/games/${started}/rounds/0/guess`, { 'content-type': type }, body),
      415,
      `form ${type} to guess`,
    );
  }
});

test('malformed requests are 4xx JSON errors; a missing display file is a generic 500', async () => {
  const cases: [
    string,
    string,
    Record<string, string | number>,
    string | Buffer | undefined,
    { truncate?: boolean }?,
  ][] = [
    ['multipart without a boundary', '/api/predict', { 'content-type': 'multipart/form-data' }, 'abc'],
    [
      'multipart with no closing boundary',
      '/api/predict',
      { 'content-type': 'multipart/form-data; boundary=b' },
      '--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: ' +
        'image/jpeg\r\n\r\n\xff\xd8\xff',
    ],
    ['broken JSON', '/api/games', { 'content-type': 'application/json' }, '{"rounds":'],
    ['JSON array', '/api/games', { 'content-type': 'application/json' }, '[1,2]'],
    ['JSON null', '/api/games', { 'content-type': 'application/json' }, 'null'],
    ['a huge round number', '/api/games/x/rounds/99999999999999999999/image', {}, undefined],
    ['percent-garbage path', '/api/games/%E0%A4%A/round', {}, undefined],
    ['unknown method', '/api/games', {}, undefined],
  ];
  for (const [what, url, headers, body, opts] of cases) {
    const method = what === 'unknown method' ? 'PUT' : body === undefined ? 'GET' : 'POST';
    refusedCleanly(await send(method, url, headers, body, opts), [400, 499], what);
  }
  // The server's own fault: a display file gone from the dataset.
  const g = (await send('POST', '/api/games', ...json({}))).json.game;
  const round = (await send('GET', `/api/games/${g}/round`)).json;
  for (const card of hall.deck.cards) unlinkSync(displayPath(hall.deck.dir, card));
  const r = await send('GET', `/api/games/${g}/rounds/${round.index}/image`);
  assert.equal(r.status, 500);
  refusedCleanly(r, 500, 'missing display file');
  assert.doesNotMatch(r.text, /seoul|tokyo|newyork|london|paris/, 'the error names no class');
});

test('a flood of new games cannot evict a game being played; when all are in play, new games get 503', async () => {
  const played: string[] = [];
  for (let i = 0; i < 4; i++) {
    const g = (await send('POST', '/api/games', ...json({}))).json.game;
    await send('GET', `/api/games/${g}/round`);
    const r = await send(
      'POST',
      `/api/games/${g}/rounds/0/guess`,
      { 'content-type': 'application/json' },
      '{"guess":0}',
    );
    assert.equal(r.status, 200, r.text);
    played.push(g);
  }
  refusedCleanly(await send('POST', '/api/games', ...json({})), 503, 'game 5 with 4 in play');
  for (const g of played)
    assert.equal((await send('GET', `/api/games/${g}/round`)).status, 200, `game ${g} was evicted`);
});
