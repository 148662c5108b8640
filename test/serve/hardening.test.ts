// Issue #21's game-server items, each reproduced as the attacker did it: a tall PNG that passes the pixel count, a
// seed that replays another game's deal, a flood of one-round games, a symlinked display file, bodies that crash a
// handler, names that spoof a terminal, and a results table that gives away paths and names.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { tallPng } from '../../src/bench/hostile_uploads.js';
import { formatGames } from '../../src/cli/games.js';
import { displayPath } from '../../src/data/writer.js';
import { initEngine } from '../../src/engine/backend.js';
import type { GameHall } from '../../src/serve/game.js';
import type { Predictor } from '../../src/serve/predictor.js';
import { buildServer } from '../../src/serve/server.js';
import { parseResults, tabulate } from '../../src/serve/results.js';
import { ImageDecodeError, processImage } from '../../src/data/images.js';
import { UPLOAD_DECODE_LIMITS } from '../../src/serve/upload_check.js';
import { photo, serveFixtureGame, type ServedGame } from './helpers.js';

let served: ServedGame;
let port: number;
let hall: GameHall;
let root: string;
let results: string;

before(async () => {
  await initEngine('native');
  root = mkdtempSync(path.join(tmpdir(), 'geospike-harden-'));
  results = path.join(root, 'games.jsonl');
  served = await serveFixtureGame('geospike-harden-', { maxGames: 6, maxGamesPerClient: 3, resultsFile: results });
  ({ port, hall } = served);
});

after(async () => {
  await served?.close();
  rmSync(root, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

function send(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | string) {
  return new Promise<Answer>((resolve, reject) => {
    const buf = body === undefined ? undefined : Buffer.from(body);
    const h: Record<string, string | number> = { host: `127.0.0.1:${port}`, ...headers };
    if (buf) h['content-length'] = buf.length;
    const req = request({ host: '127.0.0.1', port, method, path: url, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = String(res.headers['content-type']).includes('json') ? JSON.parse(text) : null;
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(buf);
  });
}

const post = (url: string, body: unknown) =>
  send('POST', url, { 'content-type': 'application/json' }, typeof body === 'string' ? body : JSON.stringify(body));

/** Starts a game, deals and answers `answer` of its rounds; returns its id. */
async function play(answer: number, body: unknown = {}): Promise<string> {
  const started = await post('/api/games', body);
  assert.equal(started.status, 201, started.text);
  const game = started.json.game as string;
  for (let i = 0; i < answer; i++) {
    await send('GET', `/api/games/${game}/round`);
    const r = await post(`/api/games/${game}/rounds/${i}/guess`, { guess: 0 });
    assert.equal(r.status, 200, r.text);
  }
  return game;
}

/** A PNG whose header declares width x height 8-bit RGB, followed by a short (cut) image stream. */
function declaredPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64 * 1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test(
  'item 2: an image longer than the side limit is refused from its header ' + '(413), however few its pixels',
  async () => {
    for (const [w, h] of [
      [1, 39_000_000],
      [39_000_000, 1],
      [20_000, 1_000],
    ] as const) {
      const r = await send('POST', '/api/predict', { 'content-type': 'image/png' }, declaredPng(w, h));
      assert.equal(r.status, 413, `${w}x${h}: ${r.text}`);
      assert.match(r.json.error, new RegExp(`${w}x${h}.*longest side`), r.text);
    }
  },
);

test(
  "item 2: what passes the header is decoded with sharp's own limits (pixels), " + 'not only the header check',
  async () => {
    const img = await photo(64, 48, 5);
    await assert.rejects(
      processImage(img, { cropBottom: 0, decode: { limitInputPixels: 64 * 48 - 1 } }),
      (e: Error) => e instanceof ImageDecodeError && /pixel/i.test(e.message),
    );
    assert.equal((await processImage(img, { cropBottom: 0, decode: UPLOAD_DECODE_LIMITS })).sourceWidth, 64);
  },
);

test("item 2: a decode that passes every header check still stops at sharp's time limit", async () => {
  // 1 x 20,000,000: under both header limits were the side limit lifted; decoding it takes tens of seconds here.
  const tall = await tallPng(20_000_000);
  await assert.rejects(
    processImage(tall, { cropBottom: 0, decode: { limitInputPixels: 40_000_000, timeoutSeconds: 1 } }),
    (e: Error) => e instanceof ImageDecodeError && /timeout/.test(e.message),
  );
});

test(
  'item 2: decoding runs in a bounded queue; ' + 'when it is full the answer is 503 with Retry-After, at once',
  async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const model = {
      name: 'gated',
      async predictImage() {
        started();
        await gate;
        return { class: 'seoul', label: 0, confidence: 1, probabilities: [] };
      },
    } as unknown as Predictor;
    const app = await buildServer({ hall, predictors: [model], predictConcurrency: 1, predictQueue: 0 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const upload = async () => {
      const res = await fetch(`${base}/api/predict`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: new Uint8Array(await photo(64, 48, 9)),
      });
      return { status: res.status, retry: res.headers.get('retry-after'), json: await res.json() };
    };
    try {
      const first = upload();
      await running;
      const busy = await upload();
      assert.equal(busy.status, 503);
      assert.equal(busy.retry, '1');
      assert.match(busy.json.error, /busy/);
      release();
      assert.equal((await first).status, 200);
      assert.equal((await upload()).status, 200, 'served again once the queue has room');
    } finally {
      release();
      await app.close();
    }
  },
);

test('item 5: the client never sees a seed before guessing and cannot choose one', async () => {
  const started = await post('/api/games', {});
  assert.equal(started.status, 201);
  assert.ok(!('seed' in started.json), `start answer: ${started.text}`);
  const summary = await send('GET', `/api/games/${started.json.game}/summary`);
  assert.ok(!('seed' in summary.json), 'an unfinished game keeps its seed');
  // Replaying a deal needs a seed of one's own choosing: refused, with the reason.
  const replay = await post('/api/games', { seed: 4 });
  assert.equal(replay.status, 400, replay.text);
  assert.match(replay.json.error, /seed/);
});

test(
  'item 5: finished and abandoned games hold no slot; one client holds at most its limit; short games are not ' +
    'recorded',
  async () => {
    // 20 one-round games from one client: each finished, none recorded (the operator's games are 2 rounds).
    for (let i = 0; i < 20; i++) await play(1, { rounds: 1 });
    // 10 more, each half played then abandoned: the client's own oldest make way (3 per client, 6 in all).
    const abandoned: string[] = [];
    for (let i = 0; i < 10; i++) abandoned.push(await play(1));
    assert.equal((await send('GET', `/api/games/${abandoned[0]}/round`)).status, 404, "the client's oldest went");
    assert.equal((await send('GET', `/api/games/${abandoned[9]}/round`)).status, 200, 'its newest is kept');
    // Another client's game in play is untouched by that flood (the hall is asked directly for another address).
    const other = hall.start({}, '192.0.2.7').game;
    await hall.round(other);
    hall.guess(other, 0, 1);
    for (let i = 0; i < 5; i++) await play(1);
    assert.equal((await hall.round(other)).game, other);
    // A full-length game is the one result written.
    const full = await play(2);
    await hall.flush();
    const recorded = parseResults(readFileSync(results, 'utf8'), results).games.map((g) => g.game);
    assert.deepEqual(recorded, [full]);
    const s = await send('GET', `/api/games/${full}/summary`);
    assert.equal(s.json.recorded, true);
  },
);

test('item 6: a display file that is a symlink out of the dataset is never served', async () => {
  const secret = path.join(root, 'secret.txt');
  writeFileSync(secret, 'root:x:0:0:TOP-SECRET\n');
  for (const card of hall.deck.cards) {
    const file = displayPath(hall.deck.dir, card);
    unlinkSync(file);
    symlinkSync(secret, file);
  }
  const game = (await post('/api/games', {})).json.game;
  const round = (await send('GET', `/api/games/${game}/round`)).json;
  const r = await send('GET', round.image);
  assert.equal(r.status, 500, r.text);
  assert.doesNotMatch(r.text, /TOP-SECRET/);
  assert.doesNotMatch(r.text, /secret|\/tmp\//);
});

test(
  'item 7: hostile bodies are 4xx, malformed URLs and 413s speak geospike, ' + 'every 5xx is logged with its id',
  async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    for (const [what, body] of [
      ['seed with toString', '{"seed":{"toString":1}}'],
      ['rounds with toString', '{"rounds":{"toString":1}}'],
      ['name object', '{"name":{"toString":1}}'],
      ['100,000-deep array', deep],
      ['deep object', `{"rounds":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
    ]) {
      const r = await post('/api/games', body);
      assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.equal(typeof r.json.error, 'string', what);
    }
    const game = (await post('/api/games', {})).json.game;
    await send('GET', `/api/games/${game}/round`);
    const g = await post(`/api/games/${game}/rounds/0/guess`, '{"guess":{"toString":1}}');
    assert.equal(g.status, 400, g.text);
    const bad = await send('GET', '/api/games/%E0%A4%A/round');
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(bad.json), ['error'], bad.text);
    assert.match(bad.json.error, /URL/);
    const long = await send('GET', `/api/games/${'g'.repeat(150)}/round`);
    assert.equal(long.status, 414, long.text);
    assert.deepEqual(Object.keys(long.json), ['error'], long.text);
    const big = await post('/api/games', JSON.stringify({ name: 'x'.repeat(2_000_000) }));
    assert.equal(big.status, 413, big.text);
    assert.doesNotMatch(big.json.error, /upload|MB/, 'not the image upload limit');
    assert.match(big.json.error, /JSON body/);
    // A 5xx (here a display file that is not there) is logged to stderr with the id the answer gives.
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return true;
    }) as typeof write;
    let r: Answer;
    try {
      for (const card of hall.deck.cards) rmSync(displayPath(hall.deck.dir, card), { force: true });
      const round = (await send('GET', `/api/games/${game}/round`)).json;
      r = await send('GET', round.image);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(r.status, 500);
    assert.equal(typeof r.json.request, 'string', r.text);
    assert.ok(
      logged.some((l) => l.includes(r.json.request) && /500/.test(l)),
      `stderr: ${logged.join('')}`,
    );
  },
);

const SPOOF = ['evil\u202etxt.exe', 'a\u0085b', 'bell\u0007', 'x\u200fy', 'esc\u001b[2J', 'iso\u2066x\u2069'];

test('item 8: names with C0/C1 or bidi controls are refused at the API', async () => {
  for (const name of SPOOF) {
    const r = await post('/api/games', { name });
    assert.equal(r.status, 400, `${JSON.stringify(name)}: ${r.text}`);
    assert.match(r.json.error, /control/);
  }
  assert.equal((await post('/api/games', { name: 'Zoë 李 👩‍💻' })).status, 201, 'ordinary Unicode names pass');
});

test('item 8: geospike games escapes control and bidi characters in every name it prints', () => {
  const line = (player: string, model: string, cls: string) =>
    JSON.stringify({
      game: player,
      seed: 1,
      finishedAt: '2026-01-01T00:00:00Z',
      dataset: `data\u202e/x`,
      classes: [cls],
      player,
      models: [{ name: model, checkpoint: null }],
      rounds: [
        {
          id: 'a',
          class: cls,
          person: { guess: 0, class: cls, correct: true, km: null, points: null },
          models: [{ name: model, confidence: 0.5, guess: 0, class: cls, correct: true, km: null, points: null }],
        },
      ],
    });
  const text = `${SPOOF.map((n) => line(n, `m${n}`, `c${n}`)).join('\n')}\n`;
  const table = tabulate(parseResults(text, 'r.jsonl').games);
  const out = formatGames(table);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: checks that control characters were escaped
  assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u);
  assert.match(out, /evil\\u\{202e\}txt\.exe/);
});

test('item 10: /api/results sends the table the page shows: no dataset path, no player names', async () => {
  const named = await post('/api/games', { name: 'Grace Hopper' });
  const game = named.json.game;
  for (let i = 0; i < 2; i++) {
    await send('GET', `/api/games/${game}/round`);
    await post(`/api/games/${game}/rounds/${i}/guess`, { guess: 1 });
  }
  await hall.flush();
  const r = await send('GET', '/api/results');
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.table.games >= 1);
  assert.doesNotMatch(r.text, /Grace/);
  assert.ok(!r.text.includes(hall.deck.dir), 'the dataset path stays on the server');
  assert.ok(!r.text.includes(root));
});
