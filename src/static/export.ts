// `geospike export-game`: a folder that plays the game from any static host, with the models running in the player's
// browser. It holds the page (src/serve/public plus the browser bundle dist/static/static.js), each checkpoint's
// safetensors weights as they are, a sample of the dataset's validation photos (display copy and the 32x32 input),
// site.json (what the page needs: classes, centres, models, photos and their answers), a web app manifest, a service
// worker that caches every file for offline play, and the photo credits.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { parseManifest, sameClasses, type ManifestEntry } from '../data/manifest.js';
import { encodeSimplePng } from '../data/png.js';
import { MANIFEST_FILE } from '../data/writer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { openDeck } from '../serve/deck.js';
import { publicDir } from '../serve/server.js';
import { packageDir, vendorFiles } from '../serve/vendor.js';
import { readCheckpoint } from '../train/checkpoint.js';

type Checkpoint = ReturnType<typeof readCheckpoint>;
import { packageRoot } from '../util/package_root.js';
import { must } from '../util/must.js';
import { Rng } from '../util/rng.js';

export const SITE_FORMAT = 'geospike-static-site/1';
export const SITE_FILE = 'site.json';
/** Photos exported when not told: enough for many daily challenges, small enough for a phone (about 2 MB). */
export const DEFAULT_PHOTOS = 100;

export interface ExportOptions {
  /** Checkpoint sidecars (or checkpoints folders), one or two. */
  checkpoints: string[];
  data: string;
  out: string;
  photos?: number;
  /** The site's seed: which photos are exported, and every daily challenge's deal. Random when absent. */
  seed?: number;
  /** Rounds of a free game. */
  rounds?: number;
  /** Rows the page cuts from the bottom of a visitor's own photo, as the dataset was cropped. */
  cropBottom?: number;
  /** Largest side of the exported photos, and their JPEG quality (the site's size is mostly photos and weights). */
  photoSize?: number;
  photoQuality?: number;
}

export interface SiteModel {
  name: string;
  preset: string;
  model: unknown;
  classes: string[];
  mean: number[];
  std: number[];
  /** The checkpoint's safetensors file, copied unchanged (float32, the official PyTorch names). */
  weights: string;
}

export interface SitePhoto {
  image: string;
  input: string;
  label: number;
  class: string;
  lat: number | null;
  lng: number | null;
  credit: string;
}

export interface Site {
  format: string;
  createdAt: string;
  seed: number;
  rounds: number;
  cropBottom: number;
  classes: string[];
  coordinates: boolean;
  /** Each class's centre, by label, or null. */
  centres: ({ lat: number; lng: number } | null)[];
  models: SiteModel[];
  photos: SitePhoto[];
  /**
   * Every file of the site but site.json itself: the service worker caches them, and a later export may replace them.
   */
  files: string[];
}

export interface ExportResult {
  out: string;
  bytes: number;
  files: number;
  photos: number;
  models: string[];
}

const PAGE_FILES = ['style.css', 'app.js', 'map.js', 'ui.js', 'explain.js'];
/**
 * tfjs's wasm backend, SIMD build only: every current browser has wasm SIMD, and an older one falls back to the cpu
 * backend (the 0.3 MB non-SIMD build is left out for size; the threaded one needs headers a static host does not send).
 */
const WASM_FILES = ['tfjs-backend-wasm-simd.wasm'];

/** Where the build puts the page's bundle (tfjs, the models, the resize and the game in the browser). */
export function bundlePath(): string {
  return path.join(packageRoot(), 'dist', 'static', 'static.js');
}

export async function exportGame(opts: ExportOptions): Promise<ExportResult> {
  const o = checkedOptions(opts);
  const models = opts.checkpoints.map((c) => readCheckpoint(c));
  const deck = await openDeck(opts.data);
  const names = modelNames(opts.checkpoints, models, deck.classes, opts.data);
  const cards = new Rng(o.seed)
    .shuffle([...deck.cards])
    .slice(0, o.photos)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rounds = Math.min(o.rounds, cards.length);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be a whole number of at least 1, got ${opts.rounds}`);

  const out = path.resolve(opts.out);
  await prepareOut(out);
  const site = new SiteWriter(out);
  const sitePhotos = await writePhotos(site, cards, manifestById(opts.data), o);
  const siteModels = await writeModels(site, models, names);
  const coordinates = deck.centres.size > 0 && cards.some((c) => c.where);
  await writePage(site, coordinates, sitePhotos);
  return finishSite(site, {
    format: SITE_FORMAT,
    createdAt: new Date().toISOString(),
    seed: o.seed,
    rounds,
    cropBottom: opts.cropBottom ?? 0,
    classes: deck.classes,
    coordinates,
    centres: deck.classes.map((c) => deck.centres.get(c) ?? null),
    models: siteModels,
    photos: sitePhotos,
    files: [...site.written, 'sw.js'],
  });
}

/** The options with their defaults, each checked (and the page's bundle found) before anything is read or written. */
function checkedOptions(opts: ExportOptions) {
  const photos = opts.photos ?? DEFAULT_PHOTOS;
  if (!Number.isInteger(photos) || photos < 1)
    throw new Error(`--photos must be a whole number of at least 1, got ${photos}`);
  if (opts.checkpoints.length < 1 || opts.checkpoints.length > 2)
    throw new Error(`--checkpoint takes one or two checkpoints (comma-separated), got ${opts.checkpoints.length}`);
  const photoSize = opts.photoSize ?? 256;
  const photoQuality = opts.photoQuality ?? 80;
  if (!Number.isInteger(photoSize) || photoSize < 32)
    throw new Error(`--photo-size must be a whole number of at least 32 pixels, got ${photoSize}`);
  if (!Number.isInteger(photoQuality) || photoQuality < 1 || photoQuality > 100)
    throw new Error(`--photo-quality must be a whole number from 1 to 100, got ${photoQuality}`);
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new Error(`--seed must be a whole number in [0, 2^32), got ${seed}`);
  const rounds = opts.rounds ?? 10;
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be a whole number of at least 1, got ${opts.rounds}`);
  if (!existsSync(bundlePath()))
    throw new Error(`the page's bundle ${bundlePath()} is missing; run npm run build in the geospike folder`);
  return { photos, photoSize, photoQuality, seed, rounds };
}

/** The models' names on the page (two of one preset: #1, #2), once each is known to be trained on the classes. */
function modelNames(paths: string[], models: Checkpoint[], classes: string[], data: string): string[] {
  for (const [i, ck] of models.entries()) {
    if (!sameClasses(ck.meta.classes, classes)) {
      throw new Error(
        `${paths[i]} was trained on classes ${JSON.stringify(ck.meta.classes)} but ${data} has ` +
          `${JSON.stringify(classes)}; the names and their order must match`,
      );
    }
  }
  const presets = models.map((m) => m.meta.preset);
  return presets.length === 2 && presets[0] === presets[1] ? presets.map((n, i) => `${n} #${i + 1}`) : presets;
}

/** Writes the site's files into `out`, each atomically, remembering their names (site.json lists them). */
class SiteWriter {
  readonly written: string[] = [];
  constructor(readonly out: string) {}
  async write(name: string, data: Uint8Array | string): Promise<void> {
    await mkdir(path.dirname(path.join(this.out, name)), { recursive: true });
    await writeFileAtomic(path.join(this.out, name), data);
    this.written.push(name);
  }
}

type Card = Awaited<ReturnType<typeof openDeck>>['cards'][number];

async function writePhotos(
  site: SiteWriter,
  cards: Card[],
  entries: Map<string, ManifestEntry>,
  o: { photoSize: number; photoQuality: number },
): Promise<SitePhoto[]> {
  const photos: SitePhoto[] = [];
  for (const [n, card] of cards.entries()) {
    const image = `photos/${n}.jpg`;
    const input = `inputs/${n}.png`;
    await site.write(image, await displayPhoto(await readFile(card.display), o.photoSize, o.photoQuality));
    await site.write(input, await readFile(card.square));
    photos.push({
      image,
      input,
      label: card.label,
      class: card.class,
      lat: card.where?.lat ?? null,
      lng: card.where?.lng ?? null,
      credit: credit(entries.get(card.id)),
    });
  }
  return photos;
}

async function writeModels(site: SiteWriter, models: Checkpoint[], names: string[]): Promise<SiteModel[]> {
  const siteModels: SiteModel[] = [];
  for (const [i, ck] of models.entries()) {
    const weights = `models/${i}.safetensors`;
    await site.write(weights, await readFile(ck.weightsPath));
    siteModels.push({
      name: must(names[i], 'one name per model'),
      preset: ck.meta.preset,
      model: ck.meta.model,
      classes: ck.meta.classes,
      mean: ck.meta.mean,
      std: ck.meta.std,
      weights,
    });
  }
  return siteModels;
}

/** The page, its bundle, tfjs's wasm, the map's files (when photos have coordinates), credits, icons, manifest. */
async function writePage(site: SiteWriter, coordinates: boolean, photos: SitePhoto[]): Promise<void> {
  await site.write('index.html', pageHtml(readFileSync(path.join(publicDir(), 'index.html'), 'utf8')));
  for (const f of PAGE_FILES) await site.write(f, readFileSync(path.join(publicDir(), f)));
  await site.write('static.js', readFileSync(bundlePath()));
  const wasm = path.join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist');
  for (const f of WASM_FILES) await site.write(`wasm/${f}`, readFileSync(path.join(wasm, f)));
  if (coordinates) for (const [route, { body }] of vendorFiles()) await site.write(route.slice(1), body);
  await site.write('credits.html', creditsHtml(photos));
  await site.write('icon-192.png', icon(192));
  await site.write('icon-512.png', icon(512));
  await site.write('manifest.webmanifest', webManifest());
}

/** The service worker (its cache named for every file's content), then site.json last: the site is whole. */
async function finishSite(site: SiteWriter, s: Site): Promise<ExportResult> {
  const { out, written } = site;
  const siteText = JSON.stringify(s);
  // The cache's name changes with any file, so a visitor's worker replaces the old cache when the site is re-exported.
  const version = createHash('sha256');
  for (const f of written) version.update(f).update(readFileSync(path.join(out, f)));
  version.update(siteText);
  await site.write('sw.js', serviceWorker(version.digest('hex').slice(0, 16), [...written, SITE_FILE]));
  // Last: a folder with site.json is a whole site (a re-export removes exactly the files it lists).
  await writeFileAtomic(path.join(out, SITE_FILE), siteText);
  let bytes = Buffer.byteLength(siteText);
  for (const f of written) bytes += statSync(path.join(out, f)).size;
  return { out, bytes, files: written.length + 1, photos: s.photos.length, models: s.models.map((m) => m.name) };
}

/**
 * The output folder must be new, empty, or a site this command wrote: then the files its site.json lists are removed
 * (a smaller re-export leaves no stale photo behind). Anything else there is never touched.
 */
async function prepareOut(out: string): Promise<void> {
  if (!existsSync(out)) return void (await mkdir(out, { recursive: true }));
  if (!statSync(out).isDirectory()) throw new Error(`--out ${out} is a file; name a folder to write the site into`);
  const present = readdirSync(out);
  if (present.length === 0) return;
  const siteFile = path.join(out, SITE_FILE);
  let old: Partial<Site> | null = null;
  try {
    old = JSON.parse(readFileSync(siteFile, 'utf8')) as Partial<Site>;
  } catch {
    old = null;
  }
  if (!old || old.format !== SITE_FORMAT || !Array.isArray(old.files)) {
    throw new Error(
      `--out ${out} is not empty and holds no site written by geospike export-game; name a new or empty folder`,
    );
  }
  for (const f of old.files) {
    // Only plain relative names inside the folder: a hand-edited list cannot reach outside it.
    if (typeof f !== 'string' || !/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*\.[a-z0-9]+$/.test(f) || f.includes('..'))
      continue;
    await unlink(path.join(out, f)).catch(() => {});
  }
  await unlink(siteFile);
  for (const d of ['photos', 'inputs', 'models', 'vendor', 'wasm']) await rmdir(path.join(out, d)).catch(() => {});
}

/** The dataset's display JPEG at most `size` pixels wide and high, re-encoded at `quality` unless that is larger. */
async function displayPhoto(jpeg: Buffer, size: number, quality: number): Promise<Buffer> {
  const smaller = await sharp(jpeg)
    .resize(size, size, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
    .jpeg({ quality, mozjpeg: true })
    .toBuffer();
  return smaller.length < jpeg.length ? smaller : jpeg;
}

function manifestById(dir: string): Map<string, ManifestEntry> {
  const file = path.join(dir, MANIFEST_FILE);
  return new Map(parseManifest(readFileSync(file, 'utf8'), file).entries.map((e) => [e.id, e]));
}

/** Who took a photo and where it came from, without the source id of a folder import (a file path names its class). */
function credit(e: ManifestEntry | undefined): string {
  if (!e) return 'source unknown';
  const when = e.captureDate ? `, ${e.captureDate}` : '';
  switch (e.provider) {
    case 'streetview':
      return `Google Street View${when} (imagery © Google)`;
    case 'mapillary':
      return (
        `Mapillary image ${e.sourceId}${when} (CC BY-SA 4.0, ` +
        `https://www.mapillary.com/app/?pKey=${encodeURIComponent(e.sourceId)})`
      );
    case 'fashion-mnist':
      return 'Fashion-MNIST, Zalando Research (MIT licence)';
    case 'folder':
      return `a photo from the exporter's own collection${when}`;
    default:
      return `${e.provider}${when}`;
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The server's page, pointed at the static bundle and the site's own files (relative, so any sub-path hosts it). */
export function pageHtml(html: string): string {
  const swaps: [string, string][] = [
    ['href="/style.css"', 'href="style.css"'],
    [
      '<script type="module" src="/app.js"></script>',
      '<link rel="manifest" href="manifest.webmanifest">\n  <link rel="icon" href="icon-192.png">\n' +
        '  <meta name="theme-color" content="#1b2a3a">\n  <script type="module" src="static.js"></script>',
    ],
  ];
  for (const [from, to] of swaps) {
    if (!html.includes(from))
      throw new Error(`src/serve/public/index.html no longer contains ${from}; update src/static/export.ts to match`);
    html = html.replace(from, to);
  }
  return html.replaceAll('href="/results"', 'href="credits.html"');
}

function creditsHtml(photos: SitePhoto[]): string {
  const rows = photos
    .map((p, n) => `<tr><td><a href="${p.image}">photo ${n + 1}</a></td><td>${escapeHtml(p.credit)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>geospike · photo credits</title><link rel="stylesheet" href="style.css"></head>
<body><main class="panel"><h1>Photo credits</h1>
<p>The game's photos and where each came from. <a href="index.html">Back to the game</a></p>
<table class="review"><thead><tr><th>photo</th><th>source</th></tr></thead><tbody>
${rows}
</tbody></table>
<p>Map: Natural Earth (public domain) through world-atlas; d3-geo and topojson-client (ISC licence).</p>
</main></body></html>
`;
}

function webManifest(): string {
  return JSON.stringify(
    {
      name: 'geospike: guess the city',
      short_name: 'geospike',
      description: 'Guess the city of a street photo against a spiking neural network that runs on your device.',
      start_url: './',
      scope: './',
      display: 'standalone',
      background_color: '#f6f4ef',
      theme_color: '#1b2a3a',
      icons: [
        { src: 'icon-192.png', sizes: '192x192', type: 'image/png' },
        { src: 'icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any maskable' },
      ],
    },
    null,
    1,
  );
}

/** The page's logo, a ring on dark blue, drawn as a PNG (icons must be raster to install the page). */
function icon(size: number): Buffer {
  const px = new Uint8Array(size * size * 3);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x + 0.5 - c, y + 0.5 - c) / c;
      const ring = (r > 0.52 && r < 0.68) || r < 0.26;
      px.set(ring ? [0xf2, 0xb1, 0x34] : [0x1b, 0x2a, 0x3a], (y * size + x) * 3);
    }
  }
  return encodeSimplePng(px, size, size);
}

/** Cache-first over every file of the site, fetched on install: after one visit the game opens with no network. */
function serviceWorker(version: string, files: string[]): string {
  return (
    `// geospike static game: offline cache (written by geospike export-game).
const CACHE = 'geospike-${version}';
const FILES = ${JSON.stringify(['./', ...files])};
self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('geospike-') && k !== CACHE).map((k) => ` +
    `caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});
self.addEventListener('fetch', (e) => {
  if (e.request.method !== 'GET') return;
  e.respondWith(caches.match(e.request, { ignoreSearch: true }).then((hit) => hit || fetch(e.request)));
});
`
  );
}
