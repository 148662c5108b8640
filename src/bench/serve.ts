// Latency of the game server, measured over a real loopback socket: POST /api/predict with a 256x256 JPEG, and a
// whole round (deal with the model's guess, fetch the image, submit the guess). Sequential requests, p50/p95.
//
//   node dist/src/bench/serve.js [--preset spikformer-2-128] [--requests 300] [--backend native] [--json]
//   node dist/src/bench/serve.js --checkpoint RUN/checkpoints/best.json --data DATASET
//
// Without --checkpoint it saves an untrained model of --preset (the weights do not change the work done per image);
// without --data it writes a small synthetic dataset. Both go to a temporary folder that is removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { processImage } from '../data/images.js';
import { DatasetWriter } from '../data/writer.js';
import { initEngine } from '../engine/backend.js';
import { createModel, resolveConfig } from '../models/registry.js';
import { openDeck } from '../serve/deck.js';
import { GameHall } from '../serve/game.js';
import { Predictor } from '../serve/predictor.js';
import { buildServer } from '../serve/server.js';
import { saveCheckpoint, untrainedMeta } from '../train/checkpoint.js';
import { must } from '../util/must.js';
import { hostileBurst } from './hostile_uploads.js';

const { values: opt } = parseArgs({
  options: {
    preset: { type: 'string', default: 'spikformer-2-128' },
    checkpoint: { type: 'string' },
    data: { type: 'string' },
    requests: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '20' },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
    /** Instead of latency: this many hostile uploads at once, then peak RSS and an honest request. */
    hostile: { type: 'string' },
  },
});

const CITIES = ['seoul', 'tokyo', 'newyork', 'london', 'paris'];

/** A 256x256 street-photo stand-in: smooth colour ramps plus noise, so JPEG decoding does real work. */
async function fakePhoto(seed: number, side = 256): Promise<Buffer> {
  const px = Buffer.alloc(side * side * 3);
  let s = seed * 2654435761;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    px[i] = ((i % (side * 3)) / 3 + (s >>> 26) + seed * 40) & 255;
  }
  return sharp(px, { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function syntheticDataset(dir: string, perClass: number): Promise<void> {
  const w = await DatasetWriter.open(dir, CITIES);
  try {
    for (const [c, cls] of CITIES.entries()) {
      for (let i = 0; i < perClass; i++) {
        const img = await processImage(await fakePhoto(c * 1000 + i), { cropBottom: 0, displayMaxSide: 256 });
        const split = i === 0 ? 'train' : 'validation';
        await w.add(
          {
            id: `${cls}-${i}`,
            class: cls,
            split,
            provider: 'bench',
            sourceId: String(i),
            lat: 40 + c,
            lng: c * 30,
            heading: null,
            captureDate: null,
          },
          img.png,
          img.display,
        );
      }
    }
  } finally {
    await w.close();
  }
}

function stats(ms: number[]): { n: number; p50: number; p95: number; mean: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => must(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)], 'at least one timing');
  return {
    n: s.length,
    p50: q(0.5),
    p95: q(0.95),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    max: must(s.at(-1), 'at least one timing'),
  };
}

/** An untrained checkpoint of `preset` in `dir`: the weights do not change the work done per image. */
async function untrainedCheckpoint(dir: string, preset: string): Promise<string> {
  const config = resolveConfig(preset, { classes: CITIES.length });
  const model = createModel(config);
  try {
    return await saveCheckpoint(
      dir,
      'bench',
      model,
      null,
      untrainedMeta(preset, config, CITIES, { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }),
    );
  } finally {
    model.store.dispose();
  }
}

/** One POST /api/predict of photo `i` (of `photos`, in turn); its milliseconds. */
function predictClient(base: string, photos: Buffer[]): (i: number) => Promise<number> {
  return async (i) => {
    const form = new FormData();
    const photo = must(photos[i % photos.length], 'i % length is an index');
    form.append('image', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'photo.jpg');
    const t0 = performance.now();
    const res = await fetch(`${base}/api/predict`, { method: 'POST', body: form });
    await res.json();
    if (!res.ok) throw new Error(`/api/predict answered ${res.status}`);
    return performance.now() - t0;
  };
}

/** One round of a game (a new game when the last is over): the deal's milliseconds, and the whole round's. */
function roundClient(base: string, roundsPerGame: number): () => Promise<{ deal: number; total: number }> {
  let game = '';
  let index = roundsPerGame;
  const json = async (url: string, init?: RequestInit) => {
    const res = await fetch(base + url, init);
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    return res.json();
  };
  return async () => {
    if (index >= roundsPerGame) {
      game = (await json('/api/games', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
        .game;
      index = 0;
    }
    const t0 = performance.now();
    const r = await json(`/api/games/${game}/round`);
    const t1 = performance.now();
    await (await fetch(base + r.image)).arrayBuffer();
    await json(`/api/games/${game}/rounds/${r.index}/guess`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"guess":${index % 5}}`,
    });
    index++;
    return { deal: t1 - t0, total: performance.now() - t0 };
  };
}

/** `warmup` untimed calls, then `requests` timed ones in sequence. */
async function timed<T>(warmup: number, requests: number, once: (i: number) => Promise<T>): Promise<T[]> {
  for (let i = 0; i < warmup; i++) await once(i);
  const out: T[] = [];
  for (let i = 0; i < requests; i++) out.push(await once(i));
  return out;
}

type Latency = ReturnType<typeof stats>;

function printLatency(r: { preset: string; backend: string; requests: number } & Record<string, unknown>) {
  const f = (x: number) => x.toFixed(2).padStart(8);
  console.log(
    `geospike serve latency: ${r.preset} on '${r.backend}', ${r.requests} sequential requests each, loopback`,
  );
  console.log(`${'ms'.padEnd(44)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'mean'.padStart(8)}${'max'.padStart(8)}`);
  const row = (name: string, s: Latency) =>
    console.log(`${name.padEnd(44)}${f(s.p50)}${f(s.p95)}${f(s.mean)}${f(s.max)}`);
  row('POST /api/predict (256x256 JPEG, multipart)', r.predict as Latency);
  row('GET round (deal: model guesses, sealed)', r.roundDeal as Latency);
  row('round: deal + image + guess', r.round as Latency);
}

async function main(): Promise<void> {
  const requests = Number(opt.requests);
  const warmup = Number(opt.warmup);
  const backend = await initEngine(opt.backend);
  const tmp = mkdtempSync(path.join(tmpdir(), 'geospike-bench-serve-'));
  try {
    const ckpt = opt.checkpoint ?? (await untrainedCheckpoint(tmp, must(opt.preset, '--preset has a default')));
    const data = opt.data ?? path.join(tmp, 'data');
    if (!opt.data) await syntheticDataset(data, 41);
    const predictor = Predictor.load(ckpt);
    const deck = await openDeck(data);
    const roundsPerGame = Math.min(25, deck.cards.length);
    const hall = new GameHall(deck, [predictor], { defaultRounds: roundsPerGame, resultsFile: null, seed: 1 });
    const app = await buildServer({ hall, predictors: [predictor] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

    const photos = await Promise.all([1, 2, 3, 4].map((s) => fakePhoto(100 + s)));
    if (opt.hostile) {
      const photo = must(photos[0], 'four photos were made');
      console.log(JSON.stringify(await hostileBurst(base, Number(opt.hostile), photo), null, 1));
      await app.close();
      return;
    }
    const predict = await timed(warmup, requests, predictClient(base, photos));
    const rounds = await timed(warmup, requests, roundClient(base, roundsPerGame));
    await app.close();
    predictor.dispose();

    const result = {
      backend,
      tfBackend: tf.getBackend(),
      preset: predictor.meta.preset,
      checkpoint: opt.checkpoint ?? '(untrained)',
      requests,
      predict: stats(predict),
      roundDeal: stats(rounds.map((r) => r.deal)),
      round: stats(rounds.map((r) => r.total)),
    };
    if (opt.json) console.log(JSON.stringify(result));
    else printLatency(result);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
