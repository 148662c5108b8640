// The static game's size and speed in Chromium (headless; the page's cpu backend, or wasm): an export of
// spikformer-2-128 and resnet18-w16 with --photos display photos, its size by part, the time from opening the page to
// the first round shown (daily challenge started at once: both models loaded, round 1 predicted), and a
// spikformer-2-128 prediction.
//
//   node dist/src/bench/static_game.js [--photos 100] [--display 256] [--predictions 30] [--backend cpu|wasm] [--json]
//   node dist/src/bench/static_game.js --checkpoint A.json,B.json --data DATASET
//
// Without --checkpoint it saves untrained models (the weights do not change the work per image); without --data it
// writes a synthetic dataset (striped images: their JPEGs are smaller than street photos, see docs/static-game.md).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { processImage } from '../data/images.js';
import { DatasetWriter } from '../data/writer.js';
import { initEngine } from '../engine/backend.js';
import { createModel, resolveConfig } from '../models/registry.js';
import { exportGame } from '../static/export.js';
import { serveStatic } from '../static/serve.js';
import { saveCheckpoint, untrainedMeta } from '../train/checkpoint.js';
import { must } from '../util/must.js';

const { values: opt } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    data: { type: 'string' },
    photos: { type: 'string', default: '100' },
    display: { type: 'string', default: '256' },
    predictions: { type: 'string', default: '30' },
    backend: { type: 'string', default: 'cpu' },
    json: { type: 'boolean', default: false },
  },
});
const CLASSES = ['seoul', 'tokyo', 'newyork', 'london', 'paris'];

async function syntheticData(dir: string, perClass: number, display: number): Promise<string> {
  const writer = await DatasetWriter.open(dir, CLASSES);
  try {
    for (const [c, cls] of CLASSES.entries()) {
      for (let i = 0; i < perClass; i++) {
        const w = display;
        const px = Buffer.alloc(w * w * 3);
        for (let k = 0; k < px.length; k++) px[k] = (k * (c + 3) + i * 11 + ((k / (w * 3)) | 0) * 5) % 256;
        const jpeg = await sharp(px, { raw: { width: w, height: w, channels: 3 } })
          .jpeg()
          .toBuffer();
        const img = await processImage(jpeg, { cropBottom: 0, displayMaxSide: display });
        await writer.add(
          {
            id: `${cls}-${i}`,
            class: cls,
            split: 'validation',
            provider: 'test',
            sourceId: String(i),
            lat: 10 * c + 0.01 * i,
            lng: 10 * c,
            heading: null,
            captureDate: null,
          },
          img.png,
          img.display,
        );
      }
    }
  } finally {
    await writer.close();
  }
  return dir;
}

async function untrained(dir: string, preset: string): Promise<string> {
  const config = resolveConfig(preset, { classes: CLASSES.length });
  const model = createModel(config, 0);
  try {
    return await saveCheckpoint(
      dir,
      preset,
      model,
      null,
      untrainedMeta(preset, config, CLASSES, { mean: [0.45, 0.47, 0.5], std: [0.25, 0.24, 0.26] }),
    );
  } finally {
    model.store.dispose();
  }
}

function sizes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string, top: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, f.name);
      if (f.isDirectory()) walk(p, top || f.name);
      else out[top || 'page'] = (out[top || 'page'] ?? 0) + statSync(p).size;
    }
  };
  walk(dir, '');
  return out;
}

const median = (xs: number[]) =>
  must([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)], 'the page timed at least one prediction');

const root = mkdtempSync(path.join(tmpdir(), 'geospike-bench-static-'));
try {
  await initEngine();
  const photos = Number(opt.photos);
  const data = opt.data ?? (await syntheticData(path.join(root, 'data'), Math.ceil(photos / 5), Number(opt.display)));
  const checkpoints = opt.checkpoint
    ? opt.checkpoint.split(',')
    : [await untrained(root, 'spikformer-2-128'), await untrained(root, 'resnet18-w16')];
  const site = path.join(root, 'site');
  const r = await exportGame({ checkpoints, data, out: site, photos, seed: 1 });
  const server = await serveStatic(site, { port: 0 });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const url = opt.backend === 'wasm' ? `${server.url}?backend=wasm` : server.url;
    const firstRound: number[] = [];
    for (let i = 0; i < 3; i++) {
      const page = await (await browser.newContext()).newPage(); // a fresh context: nothing cached
      const start = performance.now();
      await page.goto(url);
      await page.waitForSelector('body[data-ready="1"]');
      await page.click('#daily');
      await page.waitForSelector('body[data-state="guessing"]');
      await page.waitForFunction(() => (document.getElementById('photo') as HTMLImageElement).naturalWidth > 0);
      firstRound.push(performance.now() - start);
      await page.context().close();
    }
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]');
    const n = Number(opt.predictions);
    type Page = { geospike: { benchPredict(i: number, n: number): Promise<{ backend: string; times: number[] }> } };
    const bench = await page.evaluate((n) => (globalThis as unknown as Page).geospike.benchPredict(0, n), n);
    const report = {
      models: r.models,
      photos: r.photos,
      bytes: r.bytes,
      parts: sizes(site),
      firstRoundMs: firstRound.map(Math.round),
      predict: { model: r.models[0], backend: bench.backend, medianMs: median(bench.times.slice(3)), n },
    };
    if (opt.json) console.log(JSON.stringify(report, null, 1));
    else {
      console.log(`site: ${(r.bytes / 1e6).toFixed(2)} MB, ${r.photos} photos, models ${r.models.join(' + ')}`);
      for (const [k, v] of Object.entries(report.parts)) console.log(`  ${k}: ${(v / 1e6).toFixed(2)} MB`);
      console.log(`open to first round shown (3 fresh visits): ${report.firstRoundMs.join(', ')} ms`);
      console.log(
        `${r.models[0]} prediction in the page (${bench.backend}): median ${report.predict.medianMs.toFixed(1)} ms ` +
          `of ${n - 3} (after 3 warm-up), ` +
          `range ${Math.min(...bench.times.slice(3)).toFixed(1)}-${Math.max(...bench.times.slice(3)).toFixed(1)} ms`,
      );
    }
  } finally {
    await browser.close();
    await server.close();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
