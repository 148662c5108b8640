// Issue #21's "done when": 10,000 generated requests (fast-check, fixed seed) against the game server running in its
// own process: hostile bodies (deep, huge, {"toString": ...}), names with control characters, mutated images and
// declared-huge ones, malformed URLs, methods and headers, mixed with a real game's requests. No answer may be a 5xx,
// every refusal is JSON, and the server's peak RSS stays below 1 GB.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { photo } from '../serve/helpers.js';
import { must } from '../../src/util/must.js';

const SEED = 21;
const REQUESTS = 10_000;
/** Requests in flight at once: below the prediction queue (2 running + 8 waiting), so a 503 would be a real fault. */
const PARALLEL = 6;

let child: ChildProcess;
let port: number;
let stderr = '';

function ask<T>(message: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send(message);
  });
}

before(async () => {
  child = fork(fileURLToPath(new URL('./fuzz_server.js', import.meta.url)), [], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-20_000)));
  child.stdout!.resume();
  port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`the fuzz server exited (${code}): ${stderr}`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.send('stop');
    await exited;
  }
});

interface Req {
  method: string;
  /** May hold GAME and ROUND, replaced by a live game's id and a round number when sent. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** A path segment as a client might send it raw: printable ASCII kept (stray % included), the rest percent-encoded. */
const rawSegment = fc
  .string({ maxLength: 16, unit: 'binary' })
  .map((s) => s.replace(/[^\x21-\x7e]|[?#/]/gu, (c) => encodeURIComponent(c)));

function requests(jpeg: Buffer, png: Buffer): fc.Arbitrary<Req> {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null');
  const jsonType = { 'content-type': 'application/json' };
  const round = fc.oneof(fc.constant('ROUND'), fc.constantFrom('0', '1', '2', '-1', '99999999', '1e3', '%', '..'));
  const game = fc.oneof({ weight: 4, arbitrary: fc.constant('GAME') }, rawSegment);
  const nasty = fc.constantFrom(
    '{"seed":{"toString":1}}',
    '{"rounds":{"valueOf":1}}',
    '{"__proto__":{"rounds":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `{"name":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`,
    JSON.stringify({ name: 'x'.repeat(50_000) }),
    '{"rounds": 1e309}',
    '{"rounds": -0}',
    '',
    'null',
    '"text"',
  );
  const startBody = fc.oneof(
    fc
      .record(
        {
          rounds: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.double(), fc.anything()),
          name: fc.oneof(fc.string({ maxLength: 50, unit: 'binary' }), fc.anything()),
          seed: fc.anything(),
        },
        { requiredKeys: [] },
      )
      .map(json),
    fc.anything().map(json),
    nasty.map((s) => Buffer.from(s)),
  );
  const guessBody = fc.oneof(
    fc.record({ guess: fc.oneof(fc.integer({ min: -1, max: 6 }), fc.anything()) }).map(json),
    fc.anything().map(json),
    nasty.map((s) => Buffer.from(s)),
  );
  const image = fc.oneof(
    fc.constant(jpeg),
    fc.constant(png),
    mutated(jpeg),
    mutated(png),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc
      .tuple(fc.integer({ min: 1, max: 60_000_000 }), fc.integer({ min: 1, max: 60_000_000 }))
      .map(([w, h]) => declaredPng(w, h)),
  );
  const imageType = fc.constantFrom(
    'image/jpeg',
    'image/png',
    'image/webp',
    'image/svg+xml',
    'image/tiff',
    'application/json',
    'multipart/form-data',
    'multipart/form-data; boundary=zz',
    'text/plain',
  );
  const anyType = fc.option(
    fc.oneof(imageType, fc.constantFrom('application/json; charset=utf-16', 'application/x-www-form-urlencoded')),
    { nil: undefined },
  );
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH');
  const extra = fc.record(
    {
      origin: fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1:1'),
      'sec-fetch-site': fc.constantFrom('cross-site', 'same-origin'),
      host: fc.constantFrom('evil.example', 'localhost', '[::1]', ''),
    },
    { requiredKeys: [] },
  );
  const build = (m: string, p: string, type: string | undefined, body: Buffer | undefined) =>
    ({ method: m, path: p, headers: type ? { 'content-type': type } : {}, body }) as Req;
  return fc.oneof(
    // The game as its page plays it, so rounds are dealt and answered and games finish.
    {
      weight: 4,
      arbitrary: fc.constant<Req>({ method: 'POST', path: '/api/games', headers: jsonType, body: json({}) }),
    },
    {
      weight: 4,
      arbitrary: fc.constant<Req>({ method: 'GET', path: '/api/games/GAME/round', headers: {} }),
    },
    {
      weight: 4,
      arbitrary: fc
        .integer({ min: 0, max: 4 })
        .map((g) => build('POST', '/api/games/GAME/rounds/ROUND/guess', 'application/json', json({ guess: g }))),
    },
    { weight: 4, arbitrary: startBody.map((b) => build('POST', '/api/games', 'application/json', b)) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(game, round, guessBody, anyType)
        .map(([g, r, b, t]) => build('POST', `/api/games/${g}/rounds/${r}/guess`, t ?? 'application/json', b)),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(game, round, fc.constantFrom('image', 'input'))
        .map(([g, r, w]) => build('GET', `/api/games/${g}/rounds/${r}/${w}`, undefined, undefined)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(game, fc.constantFrom('round', 'summary'))
        .map(([g, w]) => build('GET', `/api/games/${g}/${w}`, undefined, undefined)),
    },
    { weight: 3, arbitrary: fc.tuple(image, imageType).map(([b, t]) => build('POST', '/api/predict', t, b)) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom('/', '/app.js', '/style.css', '/results', '/results.js', '/api/info', '/api/results')
        .map((p) => build('GET', p, undefined, undefined)),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(method, fc.array(rawSegment, { minLength: 0, maxLength: 5 }), anyType, fc.option(startBody))
        .map(([m, segs, t, b]) => build(m, `/${segs.join('/')}`, t, b ?? undefined)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(method, fc.constantFrom('/api/games', '/api/predict', '/api/games/GAME/round'), extra, startBody)
        .map(([m, p, h, b]) => ({
          ...build(m, p, 'application/json', b),
          headers: { 'content-type': 'application/json', ...h },
        })),
    },
  );
}

/** Byte-level mutations of a valid input: overwrites, cuts, insertions. */
function mutated(valid: Buffer): fc.Arbitrary<Buffer> {
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 2 }), fc.uint8Array({ minLength: 1, maxLength: 8 }));
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let b = Buffer.from(valid);
    for (const [at0, kind, bytes] of edits) {
      const at = b.length ? at0 % b.length : 0;
      if (kind === 0) b.set(bytes.subarray(0, Math.max(0, b.length - at)), at);
      else if (kind === 1) b = b.subarray(0, at);
      else b = Buffer.concat([b.subarray(0, at), Buffer.from(bytes), b.subarray(at)]);
    }
    return b;
  });
}

/** A PNG header declaring width x height RGB, with a cut image stream (what the header check sees first). */
function declaredPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write('IHDR', 4, 'latin1');
  ihdr.writeUInt32BE(width, 8);
  ihdr.writeUInt32BE(height, 12);
  ihdr.set([8, 2, 0, 0, 0], 16);
  // CRC left zero: libpng's header reader (sharp's metadata) is lenient about it, the decoder is not.
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr, Buffer.alloc(64)]);
}

interface Answer {
  status: number;
  type: string;
  text: string;
}

test(`${REQUESTS} generated requests: no 5xx, every refusal JSON, server RSS below 1 GB`, {
  timeout: 170_000,
}, async () => {
  const jpeg = await photo(64, 48, 3);
  const png = await photo(40, 30, 4, 'png');
  const samples = fc.sample(requests(jpeg, png), { seed: SEED, numRuns: REQUESTS });
  const agent = new Agent({ keepAlive: true, maxSockets: PARALLEL });
  const live: string[] = [];
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;

  const send = (r: Req): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { host: `127.0.0.1:${port}`, ...r.headers };
      if (headers.host === '') delete headers.host;
      if (r.body && r.method !== 'GET' && r.method !== 'HEAD') headers['content-length'] = r.body.length;
      const req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            type: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString(),
          }),
        );
      });
      req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
      req.on('error', reject);
      req.end(r.body && r.method !== 'GET' && r.method !== 'HEAD' ? r.body : undefined);
    });

  const worker = async () => {
    while (next < samples.length) {
      const i = next++;
      const r = must(samples[i], 'i < samples.length');
      const game = live[i % live.length] ?? 'none'; // i % 0 is NaN: no live game
      const path = r.path.replaceAll('GAME', game).replaceAll('ROUND', String(i % 3));
      let a: Answer;
      try {
        a = await send({ ...r, path });
      } catch (err) {
        failures.push(`#${i} ${r.method} ${path}: ${(err as Error).message}`);
        continue;
      }
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      if (a.status >= 500)
        failures.push(
          `#${i} ${r.method} ${path} (${r.headers['content-type']}) -> ${a.status} ${a.text.slice(0, 200)}`,
        );
      else if (a.status >= 400 && r.method !== 'HEAD' && !/json/.test(a.type))
        failures.push(`#${i} ${r.method} ${path} -> ${a.status} not JSON: ${a.type} ${a.text.slice(0, 100)}`);
      if (a.status === 201 && path === '/api/games') {
        live.push(JSON.parse(a.text).game);
        if (live.length > 8) live.shift(); // the games one client may hold
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  agent.destroy();
  const { maxRss } = await ask<{ maxRss: number }>('rss', 'maxRss');
  const summary = [...statuses]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}:${n}`)
    .join(' ');
  process.stdout.write(`statuses ${summary}; server peak RSS ${(maxRss / 2 ** 20).toFixed(0)} MB\n`);
  assert.equal(
    failures.length,
    0,
    `${failures.length} failures, first: ${failures.slice(0, 5).join('\n')}\n${stderr.slice(-2000)}`,
  );
  assert.ok((statuses.get(200) ?? 0) > 1000 && (statuses.get(201) ?? 0) > 100, `the fuzz reached the game: ${summary}`);
  assert.ok(maxRss < 2 ** 30, `server peak RSS ${(maxRss / 2 ** 20).toFixed(0)} MB`);
});
