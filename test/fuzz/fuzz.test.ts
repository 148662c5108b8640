// Bounded fuzzing (fast-check, fixed seed and run counts, a few seconds): the HTTP API, the safetensors reader and
// the PNG reader get random and mutated inputs. No 5xx, no crash (only a clean Error or null), no hang.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import { decodeSimplePng } from '../../src/data/png.js';
import { initEngine } from '../../src/engine/backend.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { photo, serveFixtureGame, type ServedGame } from '../serve/helpers.js';

const SEED = 12;

/** Byte-level mutations of a valid input: flips, overwrites, cuts, insertions. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let b = Buffer.from(valid);
    for (const e of edits) {
      const at = b.length ? e.at % b.length : 0;
      if (e.kind === 'set') b[at] = e.value;
      else if (e.kind === 'cut') b = b.subarray(0, at);
      else b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
    }
    return new Uint8Array(b);
  });
}

test('safetensors reader: random and mutated files give a file or a clean Error', () => {
  const valid = serializeSafetensors(
    new Map([
      ['a', { dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(1.5) }],
      ['b', { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) }],
    ]),
    { format: 'pt' },
  );
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 256 }), mutated(valid)), (bytes) => {
      try {
        const f = parseSafetensors(bytes, 'fuzz.safetensors');
        for (const t of f.tensors.values())
          assert.equal(
            t.data.length,
            t.shape.reduce((a, b) => a * b, 1),
          );
      } catch (err) {
        assert.ok(err instanceof Error && !(err instanceof RangeError) && !(err instanceof TypeError), String(err));
      }
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test('PNG reader: random and mutated files give pixels of the declared size or null, never a throw', async () => {
  const rgb = Buffer.alloc(8 * 8 * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37) & 255;
  const valid = await sharp(rgb, { raw: { width: 8, height: 8, channels: 3 } })
    .png()
    .toBuffer();
  const header = valid.subarray(0, 33);
  const bomb = Buffer.concat([header, deflateSync(Buffer.alloc(1 << 20))]);
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 128 }), mutated(valid), mutated(bomb)), (bytes) => {
      const out = decodeSimplePng(Buffer.from(bytes));
      if (out) assert.equal(out.data.length, out.width * out.height * 3);
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

let served: ServedGame;
let port: number;
let jpeg: Buffer;

before(async () => {
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
  served = await serveFixtureGame('geospike-fuzz-', { maxGames: 50 });
  port = served.port;
  jpeg = await photo(48, 40, 3);
});

after(async () => {
  await served?.close();
});

function send(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        agent: false,
        headers: { host: `127.0.0.1:${port}`, ...(body ? { 'content-length': String(body.length) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            type: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url} hung`)));
    req.on('error', reject);
    req.end(body);
  });
}

test('HTTP API: random requests get no 5xx, and every refusal is JSON', async () => {
  const game = JSON.parse(
    (await send('POST', '/api/games', { 'content-type': 'application/json' }, Buffer.from('{}'))).text,
  ).game as string;
  const segment = fc.oneof(
    fc.constant(game),
    fc.string({ maxLength: 12 }).map(encodeURIComponent),
    fc.constantFrom('0', '1', '-1', '99999999', '%', '..', '%2e%2e'),
  );
  const url = fc.oneof(
    fc.constantFrom('/api/info', '/api/games', '/api/predict', '/', '/app.js'),
    fc.tuple(segment, segment).map(([g, i]) => `/api/games/${g}/rounds/${i}/guess`),
    fc.tuple(segment, segment).map(([g, i]) => `/api/games/${g}/rounds/${i}/image`),
    segment.map((g) => `/api/games/${g}/round`),
    segment.map((g) => `/api/games/${g}/summary`),
  );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.json().map((j) => Buffer.from(j)),
    fc.record({ rounds: fc.anything(), seed: fc.anything() }).map((o) => Buffer.from(JSON.stringify(o) ?? 'null')),
    fc.record({ guess: fc.oneof(fc.integer(), fc.double(), fc.string()) }).map((o) => Buffer.from(JSON.stringify(o))),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    mutated(jpeg).map((b) => Buffer.from(b)),
  );
  const type = fc.constantFrom(
    undefined,
    'application/json',
    'image/jpeg',
    'image/png',
    'text/plain',
    'multipart/form-data',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'image/svg+xml',
    'application/json; charset=utf-16',
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), url, type, body, async (method, u, t, b) => {
      const headers: Record<string, string> = t ? { 'content-type': t } : {};
      const r = await send(method, u, headers, method === 'GET' ? undefined : b);
      assert.ok(r.status < 500, `${method} ${u} (${t}) -> ${r.status} ${r.text.slice(0, 200)}`);
      if (r.status >= 400) assert.match(r.type, /json/, `${method} ${u} -> ${r.status} not JSON`);
    }),
    { seed: SEED, numRuns: 300 },
  );
});
