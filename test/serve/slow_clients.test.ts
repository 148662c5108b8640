// Issue #21 item 3: slow clients. 600 sockets that trickle their headers or their body (slowloris) must neither keep an
// honest request waiting nor stay open: the server closes them after its header and request timeouts (lowered here
// from the defaults, ~10 s headers and ~60 s body, so the test takes seconds), and caps open connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { initEngine } from '../../src/engine/backend.js';
import { DEFAULT_HTTP_LIMITS } from '../../src/serve/http_limits.js';
import { buildServer } from '../../src/serve/server.js';
import { serveFixtureGame, type ServedGame } from './helpers.js';
import { must } from '../../src/util/must.js';

const LIMITS = { headersTimeoutMs: 1500, requestTimeoutMs: 3000, keepAliveTimeoutMs: 1000, checkIntervalMs: 250 };

let served: ServedGame;

before(async () => {
  await initEngine('native');
  served = await serveFixtureGame('geospike-slow-', {}, { http: LIMITS });
});

after(async () => {
  await served?.close();
});

/** What each socket received. */
const heard = new Map<Socket, string>();

/** A socket to `port` that has connected; `closed` resolves when the server (or anything) closes it. */
async function open(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {}); // a reset by the server is what the test waits for
  socket.on('data', (c) => heard.set(socket, (heard.get(socket) ?? '') + c));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  return { socket, closed };
}

/** GET `url` on a fresh connection; rejects when there is no answer within `ms`. */
function honest(port: number, url: string, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: url, agent: false, headers: { host: `127.0.0.1:${port}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.setTimeout(ms, () => req.destroy(new Error(`no answer to GET ${url} within ${ms} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves true when every promise settled within `ms`, false otherwise. */
async function within(ms: number, all: Promise<unknown>[]): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const r = await Promise.race([Promise.all(all).then(() => true as const), late]);
  clearTimeout(timer);
  return r;
}

test('600 slow sockets: an honest request answers within 2 s, and the slow ones are closed within the timeouts', {
  timeout: 60_000,
}, async () => {
  const { port } = served;
  const host = `127.0.0.1:${port}`;
  const slow: { socket: Socket; closed: Promise<void> }[] = [];
  for (let i = 0; i < 600; i++) {
    const s = await open(port);
    // Half never finish their headers; half send headers for a 9 MB upload and then a trickle of it.
    s.socket.write(
      i % 2
        ? `GET /api/info HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `
        : `POST /api/predict HTTP/1.1\r\nHost: ${host}\r\nContent-Type: image/jpeg\r\nContent-Length: 9000000\r\n\r\n`,
    );
    slow.push(s);
  }
  // Keep every slow socket busy (a byte each 500 ms), as a slowloris client does to dodge idle timeouts.
  const drip = setInterval(() => {
    for (const s of slow) if (!s.socket.destroyed) s.socket.write('a');
  }, 500);
  try {
    assert.equal(await honest(port, '/api/info', 2000), 200);
    const closed = await within(
      20_000,
      slow.map((s) => s.closed),
    );
    const stillOpen = slow.filter((s) => !s.socket.destroyed).length;
    assert.ok(closed, `${stillOpen} of 600 slow sockets still open after 20 s`);
    // What a timed-out socket was told: a 408 in geospike's error shape.
    const told = heard.get(must(slow[1], 'many slow sockets').socket) ?? '';
    assert.match(told, /^HTTP\/1\.1 408/, told);
    assert.match(told, /\{"error":"the request took too long to arrive[^"]*"\}$/, told);
    assert.equal(await honest(port, '/api/info', 2000), 200, 'the server still answers afterwards');
  } finally {
    clearInterval(drip);
    for (const s of slow) s.socket.destroy();
  }
});

test("bytes that are not HTTP get a 400 in geospike's error shape", async () => {
  const { socket, closed } = await open(served.port);
  socket.write('NOT HTTP AT ALL\r\n\r\n');
  await closed;
  const told = heard.get(socket) ?? '';
  assert.match(told, /^HTTP\/1\.1 400/, told);
  assert.match(told, /\r\n\r\n\{"error":"the request is not well-formed HTTP"\}$/, told);
});

test('open connections are capped: beyond the cap, new ones are closed at once', { timeout: 30_000 }, async () => {
  const app = await buildServer({
    hall: served.hall,
    predictors: served.predictors,
    http: { maxConnections: 20 }, // default timeouts: the held sockets outlive the test
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const held: Socket[] = [];
  try {
    for (let i = 0; i < 20; i++) held.push((await open(port)).socket);
    const extra = Array.from({ length: 10 }, () => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      return new Promise<void>((resolve) => socket.on('close', () => resolve()));
    });
    assert.ok(await within(5000, extra), 'connections beyond the cap were closed');
    assert.ok(
      held.every((s) => !s.destroyed),
      'the first 20 stay (until their own timeout)',
    );
  } finally {
    for (const s of held) s.destroy();
    await app.close();
  }
});

test('the default limits are the documented ones: ~10 s for headers, ~60 s for a body, a connection cap', () => {
  assert.equal(DEFAULT_HTTP_LIMITS.headersTimeoutMs, 10_000);
  assert.equal(DEFAULT_HTTP_LIMITS.requestTimeoutMs, 60_000);
  assert.ok(DEFAULT_HTTP_LIMITS.maxConnections >= 600 && DEFAULT_HTTP_LIMITS.maxConnections <= 10_000);
});
