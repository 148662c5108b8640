// The provider HTTP client: a redirect to another host is refused (the key or token would go with it), one within
// the same origin is followed, and a response body over the cap is refused; either refusal skips, never retries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { GaveUpError, Http } from '../../src/data/providers/http.js';

async function serve(
  t: { after: (fn: () => void) => void },
  handler: Parameters<typeof createServer>[1],
): Promise<{ base: string; hits: string[] }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url!);
    handler!(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits };
}

const http = () =>
  new Http({ qps: 1000, timeoutMs: 2000, retries: 3, backoffMs: 1, quotaStrikes: 2, maxBodyBytes: 1 << 20 });
const get = (h: Http, url: string) =>
  h.request({
    what: 'test request',
    build: () => ({ url: new URL(url), headers: { authorization: 'OAuth SECRET' } }),
    interpret: (status, body) => ({ ok: { status, body: body.toString() } }),
  });

test('a redirect to another host is refused without contacting it; one within the origin is followed', async (t) => {
  const other = await serve(t, (_req, res) => res.end('other'));
  const main = await serve(t, (req, res) => {
    if (req.url === '/away') res.writeHead(302, { location: `${other.base}/steal` }).end();
    else if (req.url === '/here') res.writeHead(301, { location: '/final' }).end();
    else res.end('final');
  });
  const h = http();
  await assert.rejects(
    get(h, `${main.base}/away`),
    (e: Error) => e instanceof GaveUpError && /redirect to another host .* refused/.test(e.message),
  );
  assert.deepEqual(other.hits, []);
  assert.equal(h.stats.requests, 1); // not retried
  assert.deepEqual(await get(h, `${main.base}/here`), { status: 200, body: 'final' });
});

test('a response body over the cap is refused, declared or streamed', async (t) => {
  const big = Buffer.alloc(2 << 20, 1);
  const server = await serve(t, (req, res) => {
    if (req.url === '/declared') res.writeHead(200, { 'content-length': big.length }).end(big);
    else {
      res.writeHead(200);
      res.write(big.subarray(0, 1 << 20));
      res.end(big.subarray(1 << 20));
    } // chunked, no length
  });
  await assert.rejects(get(http(), `${server.base}/declared`), /over the 1048576-byte cap/);
  await assert.rejects(get(http(), `${server.base}/streamed`), /over the 1048576-byte cap/);
});
