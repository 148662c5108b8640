// The static game in the browser (bundled into dist/static/static.js by bundle.mjs): it answers the game page's API
// calls (src/serve/public/app.js) itself, from site.json and the models running here through tfjs, then adds what only
// the static game has: the daily challenge and its share line, "try your own photo" and the offline worker.
// The models, their weights' reader, the normalisation and softmax (Predictor) and the Lanczos resize are the
// project's own modules, the same code `geospike predict` runs; only the decode differs (the browser's, not sharp's).
import * as tf from '@tensorflow/tfjs-core';
import '../ops/index.js'; // the cpu backend and geospike's LIF kernels on it
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { resizeSquare } from '../data/resize.js';
import { parseSafetensors } from '../io/safetensors.js';
import { createModel } from '../models/registry.js';
import { loadStateDict } from '../models/state_dict.js';
import { distanceKm, geoScore } from '../serve/geo.js';
import { Predictor } from '../serve/predictor.js';
import { city } from '../serve/public/ui.js';
import { dailyDeal, localDate, seededDeal, shareLine } from './daily.js';
import { registerWasmLif } from './wasm_kernels.js';

/** Classes shown as bars per model (game.ts's TOP_CLASSES). */
const TOP_CLASSES = 5;
const t0 = performance.now();
const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

const siteReady = fetch('site.json').then((r) => {
  if (!r.ok) throw new Error(`site.json: ${r.status} ${r.statusText}; export the game again`);
  return r.json();
});

/** The browser's decode of an image file to RGB HWC, alpha flattened on black as sharp's decodeRgb does. */
async function decodeRgb(blob) {
  const bmp = await createImageBitmap(blob, {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
    imageOrientation: 'from-image',
  });
  const { width, height } = bmp;
  const canvas = el('canvas', { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { data: rgb, width, height };
}

/**
 * processImage's crop and resize (src/data/images.ts): cut cropBottom rows, take the centred square, Lanczos to size.
 */
function square({ data, width, height }, cropBottom, size) {
  const usable = height - cropBottom;
  if (usable < 1)
    throw new Error(`the image is ${width}x${height}, too small to crop ${cropBottom} rows from its bottom`);
  const side = Math.min(width, usable);
  return resizeSquare(data, width, Math.floor((width - side) / 2), Math.floor((usable - side) / 2), side, size);
}

async function loadPredictor(site, m) {
  const res = await fetch(m.weights);
  if (!res.ok) throw new Error(`${m.weights}: ${res.status} ${res.statusText}`);
  const model = createModel(m.model);
  loadStateDict(model.store, parseSafetensors(new Uint8Array(await res.arrayBuffer()), m.weights).tensors, m.weights);
  const meta = { preset: m.preset, model: m.model, classes: m.classes, mean: m.mean, std: m.std };
  // Predictor's constructor checks the normalisation; its predictPixels is the CLI's normalise + forward + softmax.
  return new Predictor(m.name, m.weights, meta, model, site.cropBottom);
}

/**
 * tfjs's plain-JS cpu backend by default: its arithmetic gives `geospike predict`'s probabilities (within 1e-7 in the
 * tests). `?backend=wasm` asks for tfjs's wasm backend (XNNPACK, SIMD, one thread: threads need cross-origin isolation
 * headers a plain static host does not send), several times faster, but its sums round differently, and a spiking
 * model turns that into a different spike wherever a membrane sits within rounding of its threshold, so a photo's
 * probabilities can then differ from the CLI's by 1e-3 or more. It falls back to cpu when it cannot load.
 */
async function chooseBackend() {
  if (new URLSearchParams(location.search).get('backend') === 'wasm') {
    try {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      setWasmPaths(new URL('wasm/', location.href).href);
      registerWasmLif();
      if (await tf.setBackend('wasm')) return 'wasm';
    } catch (err) {
      console.warn(`geospike: the wasm backend did not load (${err.message}); using the cpu backend`);
    }
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

const modelsReady = (async () => {
  const site = await siteReady;
  tf.enableProdMode();
  timing.backend = await chooseBackend();
  const predictors = await Promise.all(site.models.map((m) => loadPredictor(site, m))); // weights fetched together
  timing.modelsMs = performance.now() - t0;
  return predictors;
})();

const timing = { backend: null, modelsMs: null, firstRoundMs: null };

/** Each model's prediction for a photo of any size, as `geospike predict` makes it. */
async function predictPhoto(blob) {
  const [site, predictors] = await Promise.all([siteReady, modelsReady]);
  const img = await decodeRgb(blob);
  return predictors.map((p) => ({ model: p.name, ...p.predictPixels([square(img, site.cropBottom, p.imageSize)])[0] }));
}

/** A round's 32x32 input (the dataset's PNG, decoded losslessly): each model's prediction. */
async function predictInput(url) {
  const predictors = await modelsReady;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  const img = await decodeRgb(await res.blob());
  return predictors.map((p) => {
    if (img.width !== p.imageSize || img.height !== p.imageSize)
      throw new Error(`${url} is ${img.width}x${img.height}, not the ${p.imageSize}x${p.imageSize} the model takes`);
    return p.predictPixels([img.data])[0];
  });
}

// ---- the game's API, answered here (the same shapes as src/serve/game.ts) ----

const games = new Map();
let dailyNext = null;

async function sha256(text) {
  if (!crypto.subtle) return '';
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function judge(site, photo, label) {
  const centre = site.centres[label];
  const km = centre && photo.lat !== null ? distanceKm(centre, { lat: photo.lat, lng: photo.lng }) : null;
  return {
    label,
    class: site.classes[label],
    correct: label === photo.label,
    km,
    points: km === null ? null : geoScore(km),
  };
}

function tally(site, g) {
  const answered = g.rounds.filter((r) => r.reveal);
  const sum = (name, guesses) => ({
    name,
    correct: guesses.filter((x) => x.correct).length,
    rounds: guesses.length,
    points: site.coordinates ? guesses.reduce((a, x) => a + (x.points ?? 0), 0) : null,
  });
  return {
    person: sum(
      'you',
      answered.map((r) => r.reveal.person),
    ),
    models: site.models.map((m, i) =>
      sum(
        m.name,
        answered.map((r) => r.models[i]),
      ),
    ),
  };
}

async function startGame(site, body) {
  const daily = dailyNext;
  dailyNext = null;
  let cards;
  let seed;
  if (daily) {
    seed = null;
    cards = dailyDeal(daily, site.seed, site.photos.length);
  } else {
    const total = body.rounds ?? site.rounds;
    if (!Number.isInteger(total) || total < 1 || total > site.photos.length)
      throw new Error(`rounds must be a whole number from 1 to ${site.photos.length}, the photos in this game`);
    seed = body.seed ?? Math.floor(Math.random() * 2 ** 31);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new Error(`seed must be a whole number in [0, 2^32), got ${seed}`);
    cards = seededDeal(seed, site.photos.length, total);
  }
  const id = `local-${games.size + 1}`;
  games.set(id, { id, seed, daily, cards, rounds: [] });
  document.body.dataset.daily = daily ? '1' : '';
  $('share')?.remove();
  return {
    game: id,
    seed,
    rounds: cards.length,
    classes: site.classes,
    models: site.models.map((m) => m.name),
    coordinates: site.coordinates,
  };
}

function game(id) {
  const g = games.get(id);
  if (!g) throw new Error(`unknown game '${id}'`);
  return g;
}

async function nextRound(site, g) {
  const last = g.rounds.at(-1);
  if (!last || last.reveal) {
    if (g.rounds.length === g.cards.length) return { game: g.id, done: true, total: g.cards.length };
    const photo = site.photos[g.cards[g.rounds.length]];
    const predictions = await predictInput(photo.input);
    const models = predictions.map((p, i) => ({
      name: site.models[i].name,
      confidence: p.confidence,
      ...judge(site, photo, p.label),
      top: p.probabilities.slice(0, TOP_CLASSES),
    }));
    const salt = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
    const sealed = JSON.stringify(models.map((m) => ({ name: m.name, label: m.label, confidence: m.confidence })));
    g.rounds.push({ photo, models, salt, sealed, commitment: await sha256(`${salt}:${sealed}`) });
    if (timing.firstRoundMs === null) timing.firstRoundMs = performance.now() - t0;
  }
  const index = g.rounds.length - 1;
  return {
    game: g.id,
    index,
    total: g.cards.length,
    image: g.rounds[index].photo.image,
    commitment: g.rounds[index].commitment,
  };
}

function guess(site, g, index, label) {
  const r = g.rounds[index];
  if (!r) throw new Error(`game ${g.id} has no round ${index} yet`);
  if (!Number.isInteger(label) || label < 0 || label >= site.classes.length)
    throw new Error(`guess must be a class index from 0 to ${site.classes.length - 1}`);
  if (r.reveal) throw new Error(`round ${index} was already answered`);
  const p = r.photo;
  r.reveal = {
    game: g.id,
    index,
    total: g.cards.length,
    image: p.image,
    input: p.input,
    answer: { class: p.class, label: p.label, lat: p.lat, lng: p.lng },
    person: judge(site, p, label),
    models: r.models,
    seal: { salt: r.salt, sealed: r.sealed, commitment: r.commitment },
    score: null,
    done: g.rounds.length === g.cards.length,
  };
  r.reveal.score = tally(site, g);
  return r.reveal;
}

function summary(site, g) {
  const rounds = g.rounds.flatMap((r) => (r.reveal ? [r.reveal] : []));
  return {
    game: g.id,
    seed: g.seed,
    total: g.cards.length,
    answered: rounds.length,
    finished: rounds.length === g.cards.length,
    classes: site.classes,
    models: site.models.map((m) => m.name),
    rounds,
    score: tally(site, g),
  };
}

async function staticApi(method, url, body) {
  const site = await siteReady;
  const info = {
    classes: site.classes,
    models: site.models.map((m) => m.name),
    rounds: site.rounds,
    images: site.photos.length,
    coordinates: site.coordinates,
    centres: site.centres,
  };
  if (method === 'GET' && url === '/api/info') return info;
  if (method === 'POST' && url === '/api/games') return startGame(site, body ?? {});
  let m = url.match(/^\/api\/games\/([^/]+)\/round$/);
  if (method === 'GET' && m) return nextRound(site, game(m[1]));
  m = url.match(/^\/api\/games\/([^/]+)\/rounds\/(\d+)\/guess$/);
  if (method === 'POST' && m) return guess(site, game(m[1]), Number(m[2]), body?.guess);
  m = url.match(/^\/api\/games\/([^/]+)\/summary$/);
  if (method === 'GET' && m) return summary(site, game(m[1]));
  throw new Error(`the static game cannot answer ${method} ${url}`);
}

// ---- what the static page adds to the server's page ----

function shareBlock(s) {
  const g = games.get(s.game);
  const rows = (i) => s.rounds.map((r) => (i === null ? r.person.correct : r.models[i].correct));
  const text = shareLine(
    g.daily,
    { name: 'me', rounds: rows(null), points: s.score.person.points },
    s.models.map((name, i) => ({ name, rounds: rows(i), points: s.score.models[i].points })),
  );
  try {
    localStorage.setItem(`geospike-daily-${g.daily}`, text);
  } catch {
    // private browsing: the share line still shows
  }
  const copy = el('button', { id: 'copy-share', type: 'button', textContent: 'Copy' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = 'Copied';
    } catch {
      getSelection()?.selectAllChildren($('share-line'));
    }
  });
  return el(
    'div',
    { id: 'share', className: 'share' },
    el('h3', { textContent: `Daily challenge ${g.daily}: share your result` }),
    el('pre', { id: 'share-line', textContent: text }),
    copy,
    el('p', { className: 'hint', textContent: 'The line shows right and wrong per round, never a city or a photo.' }),
  );
}

function ownPhotoPanel() {
  const input = el('input', { id: 'own-photo', type: 'file', accept: 'image/*' });
  const result = el('div', { id: 'own-result', className: 'own-result' });
  result.setAttribute('aria-live', 'polite');
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return;
    result.dataset.done = '';
    result.replaceChildren('Thinking…');
    try {
      const preds = await predictPhoto(file);
      result.dataset.predictions = JSON.stringify(preds);
      result.replaceChildren(
        ...preds.map((p, k) =>
          el(
            'div',
            { className: 'model-bars' },
            el('h3', { textContent: `${p.model}: ${city(p.class)} (${(p.confidence * 100).toFixed(0)}%)` }),
            el(
              'ul',
              { className: `bars model${k}` },
              ...p.probabilities
                .slice(0, TOP_CLASSES)
                .map((t) =>
                  el(
                    'li',
                    { className: t.class === p.class ? 'top' : '' },
                    el('span', { className: 'bar-name', textContent: city(t.class) }),
                    el(
                      'span',
                      { className: 'bar-track' },
                      el('span', { className: 'bar-fill', style: `width: ${(t.probability * 100).toFixed(1)}%` }),
                    ),
                    el('span', { className: 'bar-p', textContent: `${(t.probability * 100).toFixed(0)}%` }),
                  ),
                ),
            ),
          ),
        ),
      );
    } catch (err) {
      result.replaceChildren(el('p', { className: 'error', textContent: err.message }));
    }
    result.dataset.done = '1';
  });
  return el(
    'section',
    { id: 'own', className: 'panel own' },
    el('h2', { textContent: 'Try your own photo' }),
    el('p', { textContent: 'The models run in this page: your photo stays on this device, nothing is uploaded.' }),
    el('label', {}, 'Photo ', input),
    result,
  );
}

function decorate(site) {
  const today = localDate(new Date());
  const note =
    'This copy of the game runs in your browser, and the answers are in the page’s own files (site.json): ' +
    'fine for playing among friends, not a contest or a fair leaderboard.';
  const daily = el('button', {
    id: 'daily',
    type: 'button',
    className: 'primary',
    textContent: `Daily challenge ${today}`,
  });
  daily.addEventListener('click', () => {
    dailyNext = today;
    $('start-form').requestSubmit();
  });
  const intro = $('intro');
  let played = null;
  try {
    played = localStorage.getItem(`geospike-daily-${today}`);
  } catch {
    // no storage (private browsing): the challenge is simply offered again
  }
  $('start-form').after(
    el('p', {}, daily, ` The same ${Math.min(5, site.photos.length)} photos for everyone today.`),
    ...(played
      ? [
          el('p', { className: 'hint', textContent: 'You played today’s challenge:' }),
          el('pre', { id: 'daily-done', textContent: played }),
        ]
      : []),
    el('p', { id: 'static-note', className: 'hint', textContent: note }),
  );
  for (const h of intro.querySelectorAll('.hint'))
    if (h.id !== 'static-note' && h.textContent.includes('results file')) h.hidden = true;
  intro.after(ownPhotoPanel());
  document
    .querySelector('footer')
    .replaceChildren(note, ' ', el('a', { href: 'credits.html', textContent: 'Photo credits' }));
  for (const a of document.querySelectorAll('a[href="credits.html"]'))
    if (a.closest('#summary')) a.textContent = 'Photo credits';
  // The server's seal line is true here too (guesses are fixed before the guess) but proves little: say why.
  const sealNote = ' (This copy holds its answers in the page, so the seal proves nothing about fair play.)';
  new MutationObserver(() => {
    const seal = $('seal');
    if (seal.textContent && !seal.textContent.endsWith(sealNote)) seal.append(sealNote);
  }).observe($('seal'), { childList: true, characterData: true, subtree: true });
  new MutationObserver(() => {
    const s = document.body.dataset.state;
    $('own').hidden = s !== 'intro';
    if (s === 'summary' && document.body.dataset.daily === '1' && !$('share')) {
      const g = [...games.values()].at(-1);
      $('final').after(shareBlock(summary(site, g)));
    }
  }).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
}

globalThis.geospikeApi = staticApi;
/** Milliseconds of each of `n` predictions of model `k` on one 32x32 image (src/bench/static_game.ts reads them). */
async function benchPredict(k, n) {
  const p = (await modelsReady)[k];
  const px = Uint8Array.from({ length: p.imageSize * p.imageSize * 3 }, (_, i) => (i * 37) % 256);
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    p.predictPixels([px]);
    times.push(performance.now() - start);
  }
  return { backend: tf.getBackend(), times };
}

globalThis.geospike = { siteReady, modelsReady, predictPhoto, timing, benchPredict };
if ('serviceWorker' in navigator && location.protocol !== 'file:')
  navigator.serviceWorker.register('sw.js').catch((err) => console.warn(`offline play unavailable: ${err.message}`));
try {
  decorate(await siteReady);
} catch (err) {
  document.body.prepend(el('p', { className: 'error', textContent: err.message }));
}
await import(new URL('./app.js', import.meta.url).href);
modelsReady.catch((err) => {
  $('error').textContent = `The models could not load: ${err.message}`;
  $('error').hidden = false;
});
