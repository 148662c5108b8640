// Fixtures for the game tests: a small dataset with coordinates and display copies, and an untrained checkpoint.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { processImage } from '../../src/data/images.js';
import { DatasetWriter } from '../../src/data/writer.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { saveCheckpoint, untrainedMeta } from '../../src/train/checkpoint.js';
import { openDeck } from '../../src/serve/deck.js';
import { GameHall, type GameOptions } from '../../src/serve/game.js';
import { Predictor } from '../../src/serve/predictor.js';
import { own } from '../../src/util/own.js';
import { buildServer, type ServerOptions } from '../../src/serve/server.js';

export const CITIES = ['seoul', 'tokyo', 'newyork', 'london', 'paris'];
/** Where the fixture's images of each city sit (around the real centres). */
export const CENTRES = {
  seoul: { lat: 37.55, lng: 126.99 },
  tokyo: { lat: 35.68, lng: 139.74 },
  newyork: { lat: 40.73, lng: -73.97 },
  london: { lat: 51.51, lng: -0.12 },
  paris: { lat: 48.86, lng: 2.34 },
} satisfies Record<string, { lat: number; lng: number }>;

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'geospike-serve-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A w x h photo-like image: a per-city colour with stripes, so every image differs. */
export async function photo(
  w: number,
  h: number,
  seed: number,
  format: 'jpeg' | 'png' | 'webp' = 'jpeg',
): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      px[o] = (seed * 53 + x) % 256;
      px[o + 1] = (seed * 97 + ((y >> 3) % 2) * 120) % 256;
      px[o + 2] = (seed * 31 + x + y) % 256;
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .toFormat(format)
    .toBuffer();
}

/**
 * Writes a dataset: per city `train` training and `validation` validation images, 96x96 display copies, and
 * coordinates offset a little from the city's centre (none when `coordinates` is false). Ids contain the city name,
 * as a folder import's ids would contain file names, so a leak of the id would show.
 */
export async function makeDataset(
  dir: string,
  opts: {
    train?: number;
    validation?: number;
    coordinates?: boolean;
    classes?: string[];
    /** Recorded for every photo, with an author per photo (`author_<class>_<i>`). */
    licence?: string;
  } = {},
): Promise<string> {
  const classes = opts.classes ?? CITIES;
  const writer = await DatasetWriter.open(dir, classes);
  let seed = 1;
  try {
    for (const [ci, cls] of classes.entries()) {
      for (const split of ['train', 'validation'] as const) {
        const n = split === 'train' ? (opts.train ?? 1) : (opts.validation ?? 3);
        for (let i = 0; i < n; i++) {
          const img = await processImage(await photo(120, 96, seed++), { cropBottom: 0, displayMaxSide: 96 });
          const c = own(CENTRES, cls) ?? { lat: 10 * ci, lng: 10 * ci };
          const where =
            opts.coordinates === false
              ? { lat: null, lng: null }
              : { lat: c.lat + 0.01 * (i + 1), lng: c.lng - 0.01 * i };
          await writer.add(
            {
              id: `${cls}-${split}-${i}`,
              class: cls,
              split,
              provider: 'test',
              sourceId: `${cls}/${i}.jpg`,
              ...where,
              heading: null,
              captureDate: null,
              ...(opts.licence && { licence: opts.licence, author: `author_${cls}_${i}` }),
            },
            img.png,
            img.display,
          );
        }
      }
    }
  } finally {
    await writer.close();
  }
  return dir;
}

/** Saves an untrained model of `preset` as `<dir>/<kind>.json` for `classes`; returns the sidecar path. */
export async function makeCheckpoint(
  dir: string,
  opts: { preset?: string; classes?: string[]; seed?: number; kind?: string } = {},
): Promise<string> {
  const preset = opts.preset ?? 'spikformer-1-64';
  const classes = opts.classes ?? CITIES;
  const config = resolveConfig(preset, { classes: classes.length });
  const model = createModel(config, opts.seed ?? 0);
  try {
    return await saveCheckpoint(
      dir,
      opts.kind ?? 'best',
      model,
      null,
      untrainedMeta(preset, config, classes, { mean: [0.45, 0.47, 0.5], std: [0.25, 0.24, 0.26] }),
    );
  } finally {
    model.store.dispose();
  }
}

export interface ServedGame {
  app: FastifyInstance;
  port: number;
  base: string;
  hall: GameHall;
  predictors: Predictor[];
  /** Stops the server and frees the models. */
  close(): Promise<void>;
}

/** Serves the game over `data` with the models of `checkpoints` on the active backend, on a free local port. */
export async function serveGame(
  data: string,
  checkpoints: string[],
  opts: Partial<GameOptions> = {},
  server: Partial<ServerOptions> = {},
): Promise<ServedGame> {
  const predictors = checkpoints.map((c) => Predictor.load(c));
  const hall = new GameHall(await openDeck(data), predictors, { defaultRounds: 2, resultsFile: null, ...opts });
  const app = await buildServer({ hall, predictors, ...server });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return {
    app,
    port,
    base: `http://127.0.0.1:${port}`,
    hall,
    predictors,
    async close() {
      await app.close();
      for (const p of predictors) p.dispose();
    },
  };
}

/** serveGame over a fresh fixture dataset and one untrained resnet18-w8, in a temp folder that close() removes. */
export async function serveFixtureGame(
  prefix: string,
  opts: Partial<GameOptions> = {},
  server: Partial<ServerOptions> = {},
): Promise<ServedGame> {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  const remove = () => rmSync(root, { recursive: true, force: true });
  try {
    const data = await makeDataset(path.join(root, 'data'), { validation: 2 });
    const ckpt = await makeCheckpoint(root, { preset: 'resnet18-w8', kind: 'ann' });
    const served = await serveGame(data, [ckpt], opts, server);
    return {
      ...served,
      async close() {
        try {
          await served.close();
        } finally {
          remove();
        }
      },
    };
  } catch (err) {
    remove();
    throw err;
  }
}

/** The address a serving command prints ("open http://..."), and its stderr so far; rejects if it exits first. */
export function openedUrl(child: ChildProcess): Promise<{ url: string; stderr: () => string }> {
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const url = /open (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url) resolve({ url, stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`the command exited with ${code}: ${stderr}`)));
  });
}
