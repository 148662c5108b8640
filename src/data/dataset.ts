// The dataset reader training uses: loads and checks a dataset folder into memory (uint8), computes per-channel
// mean/std on the train split, and yields normalised, augmented, shuffled batches that are a pure function of
// (seed, epoch, batch index), so training resumes exactly from a saved {epoch, batch} cursor.
//
//   const ds = await openDataset('data/cities');
//   const it = new BatchIterator(ds.train, { batchSize: 64, seed: 1, mean: ds.mean, std: ds.std, augment: true });
//   for (const { x, y, n } of it.epoch(0)) { ... }   // x: Float32Array [n,32,32,3] NHWC, y: Int32Array [n]
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Rng } from '../util/rng.js';
import { must } from '../util/must.js';
import { hash32 } from './hash.js';
import { IMAGE_SIZE } from './images.js';
import { checkClassList, parseManifest, type Split } from './manifest.js';
import { decodeSimplePng, SIMPLE_PNG_MAX_PIXELS } from './png.js';
import { normalisationTable, writeModelInput } from './model_input.js';
import { forEachLimit } from '../util/for_each_limit.js';
import { CLASSES_FILE, MANIFEST_FILE } from './writer.js';

/** Values in one image: 32 x 32 x 3, HWC. */
export const IMAGE_VALUES = IMAGE_SIZE * IMAGE_SIZE * 3;

export interface SplitData {
  /** n images, uint8 RGB, NHWC. */
  images: Uint8Array;
  /** Label of each image: its class's index in `classes`. */
  labels: Int32Array;
  /** File stem of each image (the manifest id). */
  ids: string[];
  n: number;
}

export interface Dataset {
  dir: string;
  /** Class names in label order (classes.json). */
  classes: string[];
  train: SplitData;
  validation: SplitData;
  /** Per-channel (R, G, B) mean and standard deviation of pixel/255 over the train split. */
  mean: [number, number, number];
  std: [number, number, number];
}

/** Loads `dir` (classes.json, train/<class>/*.png, validation/<class>/*.png) and checks it as it goes. */
export async function openDataset(dir: string, opts: { concurrency?: number } = {}): Promise<Dataset> {
  const classes = await readClasses(dir);
  const train = await loadSplit(dir, 'train', classes, opts.concurrency ?? 8);
  const validation = await loadSplit(dir, 'validation', classes, opts.concurrency ?? 8);
  if (train.n === 0) throw new Error(`${dir}/train holds no images; collect or import a dataset first`);
  await checkManifest(dir, classes, train, validation);
  const { mean, std } = channelStats(train.images);
  return { dir, classes, train, validation, mean, std };
}

/** The class names of a dataset folder (classes.json), checked; errors say how to make one. */
export async function readClasses(dir: string): Promise<string[]> {
  const file = path.join(dir, CLASSES_FILE);
  let value: unknown;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `${dir} is not a dataset folder: ${CLASSES_FILE} is missing; create one with \`geospike collect\` or ` +
          `\`geospike import\``,
      );
    }
    throw new Error(`${file} is not valid JSON; it should be an array of class names in label order`);
  }
  return checkClassList(value, file);
}

async function loadSplit(dir: string, split: Split, classes: string[], concurrency: number): Promise<SplitData> {
  const root = path.join(dir, split);
  let folders: string[];
  try {
    folders = (await fs.readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${root} is missing; a dataset has train/ and validation/ folders`);
    throw err;
  }
  const extra = folders.filter((f) => !classes.includes(f));
  if (extra.length)
    throw new Error(
      `${root} has folders not in ${CLASSES_FILE}: ${extra.join(', ')}; add them to ${CLASSES_FILE} or remove them`,
    );
  const files: { file: string; label: number; id: string }[] = [];
  for (const [label, cls] of classes.entries()) {
    const folder = path.join(root, cls);
    const names = (await fs.readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.png')).sort();
    if (split === 'train' && names.length === 0) {
      throw new Error(
        `class '${cls}' has no training images (${folder}/*.png); collect more or drop it from ${CLASSES_FILE}`,
      );
    }
    for (const name of names) files.push({ file: path.join(folder, name), label, id: name.slice(0, -4) });
  }
  const n = files.length;
  const images = new Uint8Array(n * IMAGE_VALUES);
  const labels = Int32Array.from(files, (f) => f.label);
  await forEachLimit(files.entries(), concurrency, async ([i, { file }]) => {
    const bytes = await fs.readFile(file);
    const simple = decodeSimplePng(bytes);
    if (simple && simple.width === IMAGE_SIZE && simple.height === IMAGE_SIZE) {
      images.set(simple.data, i * IMAGE_VALUES);
      return;
    }
    const { data, info } = await sharp(bytes, { limitInputPixels: SIMPLE_PNG_MAX_PIXELS })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch((err: Error) =>
        Promise.reject(new Error(`${file} is not a readable PNG (${err.message}); delete it and its manifest line`)),
      );
    if (info.width !== IMAGE_SIZE || info.height !== IMAGE_SIZE || info.channels !== 3) {
      throw new Error(
        `${file} is ${info.width}x${info.height}x${info.channels}; dataset images must ` +
          `be ${IMAGE_SIZE}x${IMAGE_SIZE} RGB`,
      );
    }
    images.set(data, i * IMAGE_VALUES);
  });
  return { images, labels, ids: files.map((f) => f.id), n };
}

// The manifest, when present, must agree with the files: same ids, and each file in its listed class and split.
async function checkManifest(dir: string, classes: string[], train: SplitData, validation: SplitData): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const { entries } = parseManifest(text, file);
  const listed = new Map(entries.map((e) => [e.id, e]));
  for (const [split, data] of [
    ['train', train],
    ['validation', validation],
  ] as const) {
    for (const [i, id] of data.ids.entries()) {
      const e = listed.get(id);
      const cls = classes[must(data.labels[i], 'a split has one label per id')];
      if (!e || e.split !== split || e.class !== cls) {
        const where = e ? `listed as ${e.split}/${e.class}` : 'not listed';
        throw new Error(
          `${dir}/${split}/${cls}/${id}.png is ${where} in ${MANIFEST_FILE}; the folder was edited by hand`,
        );
      }
    }
  }
  if (entries.length !== train.n + validation.n) {
    throw new Error(
      `${MANIFEST_FILE} lists ${entries.length} images but the folders hold ${train.n + validation.n}; some files ` +
        `are missing`,
    );
  }
}

/** Per-channel mean and (population) standard deviation of pixel/255 over NHWC uint8 images. */
export function channelStats(images: Uint8Array): { mean: [number, number, number]; std: [number, number, number] } {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  for (let i = 0; i < images.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = images[i + c]!;
      sum[c]! += v;
      sq[c]! += v * v;
    }
  }
  const count = images.length / 3;
  const mean = sum.map((s) => s / count / 255) as [number, number, number];
  const std = sq.map((s, c) => Math.sqrt(Math.max(0, s / count / 65025 - mean[c]! * mean[c]!)) || 1) as [
    number,
    number,
    number,
  ];
  return { mean, std };
}

export interface BatchOptions {
  batchSize: number;
  seed: number;
  mean: readonly number[];
  std: readonly number[];
  /** Shuffle the order each epoch (default true). */
  shuffle?: boolean;
  /** Random crop with 4-pixel zero padding and horizontal flip (default false: validation). */
  augment?: boolean;
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean;
}

export interface Batch {
  /** [n, 32, 32, 3] NHWC, normalised: (pixel/255 - mean) / std per channel. */
  x: Float32Array;
  /** [n] labels. */
  y: Int32Array;
  n: number;
}

/** A place in the batch stream: a checkpoint saves it, and `epoch(epoch, batch)` resumes exactly there. */
export interface BatchCursor {
  epoch: number;
  batch: number;
}

const PAD = 4;

export class BatchIterator {
  readonly batchesPerEpoch: number;
  private orderEpoch = -1;
  private order: Int32Array;
  /** Normalised value of each 8-bit level, per channel (src/data/model_input.ts, shared with predict). */
  private readonly lut: Float32Array;

  constructor(
    readonly data: SplitData,
    readonly opts: BatchOptions,
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
      throw new Error(`batch size must be a whole number of at least 1, got ${opts.batchSize}`);
    this.batchesPerEpoch = opts.dropLast ? Math.floor(data.n / opts.batchSize) : Math.ceil(data.n / opts.batchSize);
    if (this.batchesPerEpoch === 0)
      throw new Error(`${data.n} images make no full batch of ${opts.batchSize}; lower the batch size`);
    this.order = new Int32Array(data.n);
    this.lut = normalisationTable(opts.mean, opts.std);
  }

  /** Batch `index` of `epoch`: the same numbers every time it is asked for. */
  batch(epoch: number, index: number): Batch {
    if (index < 0 || index >= this.batchesPerEpoch)
      throw new Error(`batch ${index} is outside 0..${this.batchesPerEpoch - 1}`);
    const order = this.epochOrder(epoch);
    const start = index * this.opts.batchSize;
    const n = Math.min(this.opts.batchSize, this.data.n - start);
    const x = new Float32Array(n * IMAGE_VALUES);
    const y = new Int32Array(n);
    const rng = this.opts.augment ? new Rng(hash32(this.opts.seed, 'augment', epoch, index)) : undefined;
    for (let k = 0; k < n; k++) {
      const i = order[start + k]!;
      y[k] = this.data.labels[i]!;
      const src = this.data.images.subarray(i * IMAGE_VALUES, (i + 1) * IMAGE_VALUES);
      const dst = x.subarray(k * IMAGE_VALUES, (k + 1) * IMAGE_VALUES);
      if (rng) {
        const dy = rng.int(2 * PAD + 1) - PAD;
        const dx = rng.int(2 * PAD + 1) - PAD;
        this.writeAugmented(src, dst, dy, dx, rng.uniform() < 0.5);
      } else {
        writeModelInput(src, this.lut, dst);
      }
    }
    return { x, y, n };
  }

  /** The batches of one epoch, from `startBatch` on. */
  *epoch(epoch: number, startBatch = 0): Generator<Batch> {
    for (let b = startBatch; b < this.batchesPerEpoch; b++) yield this.batch(epoch, b);
  }

  private epochOrder(epoch: number): Int32Array {
    if (epoch !== this.orderEpoch) {
      for (let i = 0; i < this.order.length; i++) this.order[i] = i;
      if (this.opts.shuffle ?? true) {
        const rng = new Rng(hash32(this.opts.seed, 'order', epoch));
        for (let i = this.order.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          const t = this.order[i]!;
          this.order[i] = this.order[j]!;
          this.order[j] = t;
        }
      }
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  // Output pixel (r, c) reads source pixel (r + dy, c + dx) of
  // the image padded with black; flipped reads column 31 - c.
  private writeAugmented(src: Uint8Array, dst: Float32Array, dy: number, dx: number, flip: boolean): void {
    const S = IMAGE_SIZE;
    const lut = this.lut;
    const [b0, b1, b2] = [lut[0]!, lut[256]!, lut[512]!]; // the padding: black, normalised
    for (let r = 0; r < S; r++) {
      const sr = r + dy;
      const inside = sr >= 0 && sr < S;
      for (let c = 0; c < S; c++) {
        const sc = (flip ? S - 1 - c : c) + dx;
        const o = (r * S + c) * 3;
        if (inside && sc >= 0 && sc < S) {
          const i = (sr * S + sc) * 3;
          dst[o] = lut[src[i]!]!;
          dst[o + 1] = lut[256 + src[i + 1]!]!;
          dst[o + 2] = lut[512 + src[i + 2]!]!;
        } else {
          dst[o] = b0;
          dst[o + 1] = b1;
          dst[o + 2] = b2;
        }
      }
    }
  }
}
