// Imports Fashion-MNIST from Debian's `dataset-fashion-mnist` package: 28x28 grey images padded to 32x32 RGB,
// the package's train/test split kept as train/validation.
import sharp from 'sharp';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encodeRgbPng, IMAGE_SIZE } from '../images.js';
import type { Split } from '../manifest.js';
import { forEachLimit } from '../../util/for_each_limit.js';
import { DatasetWriter } from '../writer.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = [
  't-shirt_top',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle_boot',
];

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  validation: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

/** Parses an idx3-ubyte image file (magic 0x00000803, big-endian counts). */
export function parseIdxImages(buf: Buffer, file: string): IdxImages {
  if (buf.length < 16 || buf.readUInt32BE(0) !== 0x803) throw new Error(`${file} is not an idx3-ubyte image file`);
  const [count, rows, cols] = [buf.readUInt32BE(4), buf.readUInt32BE(8), buf.readUInt32BE(12)];
  if (buf.length !== 16 + count * rows * cols)
    throw new Error(`${file} is truncated: expected ${count} images of ${rows}x${cols}`);
  return { count, rows, cols, pixels: new Uint8Array(buf.buffer, buf.byteOffset + 16, count * rows * cols) };
}

/** Parses an idx1-ubyte label file (magic 0x00000801). */
export function parseIdxLabels(buf: Buffer, file: string): Uint8Array {
  if (buf.length < 8 || buf.readUInt32BE(0) !== 0x801) throw new Error(`${file} is not an idx1-ubyte label file`);
  const count = buf.readUInt32BE(4);
  if (buf.length !== 8 + count) throw new Error(`${file} is truncated: expected ${count} labels`);
  return new Uint8Array(buf.buffer, buf.byteOffset + 8, count);
}

// Debian ships the files gzipped; an unpacked copy is accepted too.
async function readIdx(dir: string, stem: string): Promise<{ buf: Buffer; file: string }> {
  for (const [name, unpack] of [
    [`${stem}.gz`, true],
    [stem, false],
  ] as const) {
    const file = path.join(dir, name);
    try {
      const raw = await fs.readFile(file);
      return { buf: unpack ? gunzipSync(raw) : raw, file };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw missingIdx(dir, stem);
}

const missingIdx = (dir: string, stem: string) =>
  new Error(
    `Fashion-MNIST file ${stem}.gz not found in ${dir}; install it with \`apt-get install dataset-fashion-mnist\` ` +
      '(scripts/setup.sh does this) or pass --source with the folder that holds the idx files',
  );

/** Fails as the import would, but before anything is written, unless `dir` holds all four idx files (or their .gz). */
export function checkFashionMnistSource(dir: string): void {
  for (const stem of Object.values(FILES).flat())
    if (!existsSync(path.join(dir, `${stem}.gz`)) && !existsSync(path.join(dir, stem))) throw missingIdx(dir, stem);
}

/** Pads a rows x cols grey image with zeros to size x size and repeats it over 3 channels (HWC). */
export function padGreyToRgb(src: Uint8Array, rows: number, cols: number, size = IMAGE_SIZE): Uint8Array {
  if (rows > size || cols > size) throw new Error(`a ${rows}x${cols} image does not fit in ${size}x${size}`);
  const out = new Uint8Array(size * size * 3);
  const top = (size - rows) >> 1;
  const left = (size - cols) >> 1;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = src[r * cols + c]!;
      const o = ((top + r) * size + left + c) * 3;
      out[o] = v;
      out[o + 1] = v;
      out[o + 2] = v;
    }
  }
  return out;
}

export interface FashionMnistOptions {
  out: string;
  source?: string;
  /** Train images per class (first in file order); all when undefined. */
  perClass?: number;
  /**
   * Validation images per class; defaults to perClass / 6 (the package's 60k:10k ratio), all when perClass is unset.
   */
  valPerClass?: number;
  concurrency?: number;
  log?: (line: string) => void;
}

export async function importFashionMnist(opts: FashionMnistOptions): Promise<{ written: number; skipped: number }> {
  const source = opts.source ?? FASHION_MNIST_DIR;
  const log = opts.log ?? (() => {});
  for (const [name, v] of [
    ['--per-class', opts.perClass],
    ['--val-per-class', opts.valPerClass],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new Error(`${name} must be a whole number of at least 1, got ${v}`);
  }
  const limits: Record<Split, number> = {
    train: opts.perClass ?? Infinity,
    validation:
      opts.valPerClass ?? (opts.perClass !== undefined ? Math.max(1, Math.round(opts.perClass / 6)) : Infinity),
  };
  const writer = await DatasetWriter.open(opts.out, FASHION_MNIST_CLASSES, log);
  let written = 0;
  let skipped = 0;
  try {
    for (const split of ['train', 'validation'] as const) {
      const [imgStem, lblStem] = FILES[split];
      const imgs = await readIdx(source, imgStem);
      const lbls = await readIdx(source, lblStem);
      const images = parseIdxImages(imgs.buf, imgs.file);
      const labels = parseIdxLabels(lbls.buf, lbls.file);
      if (labels.length !== images.count)
        throw new Error(`${imgs.file} has ${images.count} images but ${lbls.file} has ${labels.length} labels`);
      const taken = new Array(FASHION_MNIST_CLASSES.length).fill(0);
      const chosen: { i: number; cls: (typeof FASHION_MNIST_CLASSES)[number] }[] = [];
      for (const [i, y] of labels.entries()) {
        const cls = FASHION_MNIST_CLASSES[y];
        if (cls === undefined)
          throw new Error(`${lbls.file} has label ${y} at index ${i}; Fashion-MNIST has 10 classes`);
        if (taken[y] < limits[split]) {
          taken[y]++;
          chosen.push({ i, cls });
        }
      }
      const stride = images.rows * images.cols;
      const prefix = split === 'train' ? 'train' : 'test';
      await forEachLimit(chosen, opts.concurrency ?? 4, async ({ i, cls }) => {
        const id = `fmnist-${prefix}-${String(i).padStart(5, '0')}`;
        if (writer.has(id)) {
          skipped++;
          return;
        }
        const rgb = padGreyToRgb(images.pixels.subarray(i * stride, (i + 1) * stride), images.rows, images.cols);
        const png = await encodeRgbPng(rgb, IMAGE_SIZE, IMAGE_SIZE, 3);
        // The game shows validation images at display size; nearest-neighbour keeps the 28x28 pixels crisp.
        const display = split === 'validation' ? await displayCopy(rgb) : undefined;
        await writer.add(
          {
            id,
            class: cls,
            split,
            provider: 'fashion-mnist',
            sourceId: `${prefix}:${i}`,
            lat: null,
            lng: null,
            heading: null,
            captureDate: null,
          },
          png,
          display,
        );
        written++;
        if (written % 5000 === 0) log(`fashion-mnist: ${written} images written`);
      });
      log(`fashion-mnist ${split}: ${chosen.length} images (${taken.join('/')} per class)`);
    }
  } finally {
    await writer.close();
  }
  return { written, skipped };
}

/** A 128x128 JPEG of a 32x32 RGB image, for the browser game. */
function displayCopy(rgb: Uint8Array): Promise<Buffer> {
  return sharp(rgb, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 3 } })
    .resize(4 * IMAGE_SIZE, 4 * IMAGE_SIZE, { kernel: 'nearest' })
    .jpeg({ quality: 92 })
    .toBuffer();
}
