// A local stand-in for the two providers, for tests and benchmarks: it speaks the Street View Static API's metadata
// and image protocol (checking keys and every URL signature) and Mapillary's Graph API image search and thumbnails,
// over a made-up world of panoramas on a grid, and injects faults on request. Binds 127.0.0.1 only.
//
//   node dist/src/data/providers/fake_server.js --port 8099 --keys k1,k2 --secret c2VjcmV0 --tokens MLY|t
//   GOOGLE_MAPS_API_KEY=k1 GOOGLE_MAPS_URL_SIGNING_SECRET=c2VjcmV0 \
//     geospike collect --endpoint http://127.0.0.1:8099 ...
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { verifySignedPath } from '../signing.js';
import { must } from '../../util/must.js';

export type Endpoint = 'metadata' | 'image' | 'search' | 'thumb';
export type FaultKind =
  | 'http429' // HTTP 429
  | 'over_query_limit' // metadata status OVER_QUERY_LIMIT; image 403 "quota"; search error code 613
  | 'http500'
  | 'slow' // answer after `slowMs`
  | 'reset' // destroy the connection without answering
  | 'corrupt' // image: bytes that are no JPEG; metadata/search: broken JSON
  | 'truncated' // image: the first half of a real JPEG
  | 'denied'; // metadata REQUEST_DENIED; image 403; search 401 (invalid token)

export interface FaultRule {
  endpoint: Endpoint;
  kind: FaultKind;
  /** Fires on every `every`-th matching request (default 1: each). */
  every?: number;
  /** Fires at most this many times (default unlimited). */
  times?: number;
  /** Only for requests made with this key or token. */
  key?: string;
  slowMs?: number;
}

export interface FakeServerOptions {
  /** Accepted Street View keys. */
  keys?: string[];
  /** When set, every Street View request must carry a valid signature made with it. */
  secret?: string;
  /** Accepted Mapillary tokens. */
  tokens?: string[];
  /** Share of grid points that hold a panorama (default 0.6). */
  coverage?: number;
  /** Grid spacing in degrees (default 0.0005, about 50 m). */
  gridDeg?: number;
  /** Delay before every answer, in ms (default 0). */
  delayMs?: number;
  faults?: FaultRule[];
}

export interface FakeStats {
  requests: Record<Endpoint, number>;
  /** Image/thumbnail requests answered with an image, per panorama / image id. */
  served: Map<string, number>;
  faults: number;
  badSignatures: number;
  /** Every request line as received (path and query), for checks on what clients send. */
  log: string[];
}

const h32 = (s: string) => createHash('sha256').update(s).digest().readUInt32LE(0);

export class FakeServer {
  readonly stats: FakeStats = {
    requests: { metadata: 0, image: 0, search: 0, thumb: 0 },
    served: new Map(),
    faults: 0,
    badSignatures: 0,
    log: [],
  };
  private server?: Server;
  private base = '';
  private readonly ruleState: { seen: number; fired: number }[];
  private readonly pool = new Map<string, Promise<Buffer[]>>();
  private readonly opts: Required<Omit<FakeServerOptions, 'secret'>> & { secret?: string };

  constructor(opts: FakeServerOptions = {}) {
    this.opts = { keys: [], tokens: [], coverage: 0.6, gridDeg: 0.0005, delayMs: 0, faults: [], ...opts };
    this.ruleState = this.opts.faults.map(() => ({ seen: 0, fired: 0 }));
  }

  /** Starts listening on 127.0.0.1 (port 0: any free port) and returns the base URL. */
  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  /** How many times fault rule `n` (index in `faults`) fired. */
  fired(n: number): number {
    const state = this.ruleState[n];
    if (!state) throw new Error(`fault rule ${n} does not exist: the server was given ${this.ruleState.length} rules`);
    return state.fired;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** The world: a panorama at grid point (i, j) when its hash says so. */
  private panoAt(i: number, j: number): { id: string; lat: number; lng: number; date: string } | null {
    const h = h32(`pano:${i}:${j}`);
    if ((h % 10000) / 10000 >= this.opts.coverage) return null;
    const id = `CAoS${createHash('sha256').update(`${i}:${j}`).digest('base64url').slice(0, 18)}`;
    return {
      id,
      lat: i * this.opts.gridDeg,
      lng: j * this.opts.gridDeg,
      date: `${2010 + (h % 14)}-${String(1 + ((h >>> 8) % 12)).padStart(2, '0')}`,
    };
  }

  private panoById(id: string): boolean {
    return /^CAoS[A-Za-z0-9_-]{18}$/.test(id);
  }

  private fault(endpoint: Endpoint, key: string): FaultRule | undefined {
    let hit: FaultRule | undefined;
    this.opts.faults.forEach((r, n) => {
      if (r.endpoint !== endpoint || (r.key !== undefined && r.key !== key)) return;
      const s = must(this.ruleState[n], 'ruleState has one entry per fault rule');
      s.seen++;
      if (!hit && s.seen % (r.every ?? 1) === 0 && s.fired < (r.times ?? Infinity)) {
        s.fired++;
        hit = r;
      }
    });
    if (hit) this.stats.faults++;
    return hit;
  }

  // A few distinct JPEGs per size, made once, so answers cost nothing: smooth colours and a grey "logo" strip at the
  // bottom 20 rows, as on real Street View images.
  private images(w: number, h: number): Promise<Buffer[]> {
    const k = `${w}x${h}`;
    let p = this.pool.get(k);
    if (!p) {
      p = Promise.all(
        Array.from({ length: 8 }, (_, n) => {
          const px = Buffer.alloc(w * h * 3);
          for (let y = 0; y < h; y++) {
            for (let x = 0; x < w; x++) {
              const o = (y * w + x) * 3;
              const logo = y >= h - 20;
              px[o] = logo ? 128 : (x * 255) / w;
              px[o + 1] = logo ? 128 : (y * 255) / h;
              px[o + 2] = logo ? 128 : (n * 31 + ((x ^ y) & 15)) & 255;
            }
          }
          return sharp(px, { raw: { width: w, height: h, channels: 3 } })
            .jpeg({ quality: 85 })
            .toBuffer();
        }),
      );
      this.pool.set(k, p);
    }
    return p;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    this.stats.log.push(raw);
    const url = new URL(raw, this.base);
    const endpoint: Endpoint | undefined =
      url.pathname === '/maps/api/streetview/metadata'
        ? 'metadata'
        : url.pathname === '/maps/api/streetview'
          ? 'image'
          : url.pathname === '/images'
            ? 'search'
            : url.pathname.startsWith('/mly-thumb/')
              ? 'thumb'
              : undefined;
    if (!endpoint) return void res.writeHead(404).end('not found');
    this.stats.requests[endpoint]++;
    const auth =
      /^OAuth (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('access_token') ?? '';
    const key = endpoint === 'search' ? auth : (url.searchParams.get('key') ?? '');
    if (this.opts.delayMs) await new Promise((r) => setTimeout(r, this.opts.delayMs));
    const f = this.fault(endpoint, key);
    if (f?.kind === 'slow') await new Promise((r) => setTimeout(r, f.slowMs ?? 2000));
    if (f?.kind === 'reset') return void req.socket.destroy();
    if (f?.kind === 'http500') return void res.writeHead(500).end('Internal Server Error');
    if (f?.kind === 'http429') return void res.writeHead(429).end('Too Many Requests');
    if (endpoint === 'metadata' || endpoint === 'image') return this.streetView(endpoint, url, raw, key, f, res);
    if (endpoint === 'search') return this.search(url, auth, f, res);
    return this.thumb(url, f, res);
  }

  private async streetView(
    endpoint: 'metadata' | 'image',
    url: URL,
    raw: string,
    key: string,
    f: FaultRule | undefined,
    res: ServerResponse,
  ): Promise<void> {
    const json = (body: object) =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const denied = (message: string) =>
      endpoint === 'metadata'
        ? json({ status: 'REQUEST_DENIED', error_message: message })
        : void res.writeHead(403).end(`The Google Maps Platform server rejected your request. ${message}`);
    if (this.opts.secret !== undefined && !verifySignedPath(raw, this.opts.secret)) {
      this.stats.badSignatures++;
      return void res
        .writeHead(403)
        .end("Unable to authenticate the request. Provided 'signature' is not valid for the provided API key.");
    }
    if (!this.opts.keys.includes(key)) return denied('The provided API key is invalid.');
    if (f?.kind === 'denied') return denied('This API project is not authorized to use this API.');
    if (f?.kind === 'over_query_limit') {
      return endpoint === 'metadata'
        ? json({
            status: 'OVER_QUERY_LIMIT',
            error_message: 'You have exceeded your daily request quota for this API.',
          })
        : void res.writeHead(403).end('You have exceeded your daily request quota for this API.');
    }
    if (f?.kind === 'corrupt' && endpoint === 'metadata')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status": "OK", "pano_');
    if (endpoint === 'metadata') {
      const loc = /^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(url.searchParams.get('location') ?? '');
      if (!loc) return json({ status: 'INVALID_REQUEST' });
      const radius = Number(url.searchParams.get('radius') ?? 50);
      const [lat, lng] = [Number(loc[1]), Number(loc[2])];
      const g = this.opts.gridDeg;
      const i = Math.round(lat / g);
      const j = Math.round(lng / g);
      const p = this.panoAt(i, j);
      const metres = Math.hypot((i * g - lat) * 110574, (j * g - lng) * 111320 * Math.cos((lat * Math.PI) / 180));
      if (!p || metres > radius) return json({ status: 'ZERO_RESULTS' });
      return json({
        copyright: '© Fake',
        date: p.date,
        location: { lat: p.lat, lng: p.lng },
        pano_id: p.id,
        status: 'OK',
      });
    }
    const size = /^(\d+)x(\d+)$/.exec(url.searchParams.get('size') ?? '');
    const pano = url.searchParams.get('pano') ?? '';
    if (!size || Number(size[1]) > 640 || Number(size[2]) > 640)
      return void res.writeHead(400).end('Invalid request. Invalid size.');
    if (!this.panoById(pano)) return void res.writeHead(404).end('no imagery');
    return this.sendImage(pano, Number(size[1]), Number(size[2]), f, res);
  }

  private async sendImage(
    id: string,
    w: number,
    h: number,
    f: FaultRule | undefined,
    res: ServerResponse,
  ): Promise<void> {
    if (f?.kind === 'corrupt')
      return void res
        .writeHead(200, { 'content-type': 'image/jpeg' })
        .end(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 7)]));
    const imgs = await this.images(w, h);
    const jpeg = must(imgs[h32(id) % imgs.length], 'the image pool holds 8 images');
    if (f?.kind === 'truncated')
      return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg.subarray(0, jpeg.length >> 1));
    this.stats.served.set(id, (this.stats.served.get(id) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
  }

  private search(url: URL, token: string, f: FaultRule | undefined, res: ServerResponse): void {
    const json = (status: number, body: object) =>
      void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!this.opts.tokens.includes(token) || f?.kind === 'denied') {
      json(401, {
        error: { message: 'Invalid OAuth access token - Cannot parse access token', type: 'OAuthException', code: 190 },
      });
      return;
    }
    if (f?.kind === 'over_query_limit') {
      json(400, { error: { message: 'Application request limit reached', type: 'OAuthException', code: 613 } });
      return;
    }
    if (f?.kind === 'corrupt') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data": [');
    const bbox = (url.searchParams.get('bbox') ?? '').split(',').map(Number);
    if (bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v))) {
      json(400, { error: { message: 'Invalid parameter bbox', code: 100 } });
      return;
    }
    const [minLng, minLat, maxLng, maxLat] = bbox as [number, number, number, number]; // four, checked above
    const limit = Math.min(2000, Number(url.searchParams.get('limit') ?? 2000));
    const fields = (url.searchParams.get('fields') ?? 'id').split(',');
    const g = this.opts.gridDeg;
    const data: Record<string, unknown>[] = [];
    for (let i = Math.ceil(minLat / g); i * g <= maxLat && data.length < limit; i++) {
      for (let j = Math.ceil(minLng / g); j * g <= maxLng && data.length < limit; j++) {
        const p = this.panoAt(i, j);
        if (!p) continue;
        const id = String(h32(p.id) + 1e9 * (1 + (h32(`${i}`) % 8)));
        const item: Record<string, unknown> = {
          id,
          computed_geometry: { type: 'Point', coordinates: [p.lng, p.lat] },
          captured_at: Date.UTC(2015 + (h32(id) % 9), h32(id) % 12, 1 + (h32(id) % 28)),
          compass_angle: h32(`${id}a`) % 360,
        };
        for (const s of [256, 1024, 2048])
          item[`thumb_${s}_url`] = `${this.base}/mly-thumb/${id}?stp=s${s}&_nc_sig=${h32(id + s).toString(16)}`;
        data.push(Object.fromEntries(Object.entries(item).filter(([k]) => k === 'id' || fields.includes(k))));
      }
    }
    json(200, { data });
  }

  private async thumb(url: URL, f: FaultRule | undefined, res: ServerResponse): Promise<void> {
    const id = url.pathname.slice('/mly-thumb/'.length);
    const s = Number(/^s(\d+)$/.exec(url.searchParams.get('stp') ?? '')?.[1] ?? 256);
    if (!/^\d+$/.test(id)) return void res.writeHead(404).end();
    return this.sendImage(id, s, Math.round((s * 3) / 4), f, res);
  }
}

// Standalone: `node fake_server.js --port 8099 --keys a,b --secret S --tokens t`.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8099' },
      keys: { type: 'string', default: 'fake-key' },
      secret: { type: 'string' },
      tokens: { type: 'string', default: 'fake-token' },
      coverage: { type: 'string', default: '0.6' },
    },
  });
  const server = new FakeServer({
    keys: values.keys.split(','),
    secret: values.secret,
    tokens: values.tokens.split(','),
    coverage: Number(values.coverage),
  });
  const url = await server.start(Number(values.port));
  console.log(`fake Street View / Mapillary server on ${url}`);
}
