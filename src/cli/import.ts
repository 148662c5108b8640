// `geospike import folder|fashion-mnist`: build a dataset folder from images on disk.
import { defineCommand } from 'citty';
import { FASHION_MNIST_DIR, importFashionMnist } from '../data/importers/fashion_mnist.js';
import { importFolder } from '../data/importers/folder.js';
import { intOption, numberOption } from './args.js';
import { osv5m, table } from './import_table.js';

const log = (line: string) => console.error(line);

const folder = defineCommand({
  meta: {
    name: 'folder',
    description: 'Import SRC/<class>/*.{jpg,png,webp,...}: crop, resize to 32x32, split, write a dataset',
  },
  args: {
    src: { type: 'positional', required: true, description: 'Folder with one subfolder of images per class' },
    out: { type: 'string', required: true, description: 'Dataset folder to write (re-running continues it)' },
    'val-fraction': { type: 'string', default: '0.2', description: 'Share of each class for validation' },
    seed: { type: 'string', default: '0', description: 'Seed of the per-class shuffle before the split' },
    'crop-bottom': {
      type: 'string',
      default: '0',
      description: 'Rows cut from the bottom of each image (a watermark strip)',
    },
    'display-size': {
      type: 'string',
      default: '256',
      description: 'Longest side of the display JPEG copy; 0 writes none',
    },
    concurrency: { type: 'string', default: '4', description: 'Images processed at once' },
  },
  async run({ args }) {
    const r = await importFolder({
      source: args.src,
      out: args.out,
      valFraction: numberOption('--val-fraction', args['val-fraction'], 0, 1),
      seed: intOption('--seed', args.seed),
      cropBottom: intOption('--crop-bottom', args['crop-bottom']),
      displayMaxSide: intOption('--display-size', args['display-size']),
      concurrency: intOption('--concurrency', args.concurrency, 1),
      log,
    });
    log(`done: ${r.written} written, ${r.skipped} already there, ${r.bad} undecodable skipped -> ${args.out}`);
  },
});

const fashionMnist = defineCommand({
  meta: {
    name: 'fashion-mnist',
    description: "Import Fashion-MNIST from Debian's dataset-fashion-mnist (padded to 32x32 RGB)",
  },
  args: {
    out: { type: 'string', required: true, description: 'Dataset folder to write (re-running continues it)' },
    'per-class': { type: 'string', description: 'Train images per class (first in file order); default all 6,000' },
    'val-per-class': { type: 'string', description: 'Validation images per class; default per-class/6, or all 1,000' },
    source: { type: 'string', default: FASHION_MNIST_DIR, description: 'Folder holding the idx files (.gz or not)' },
    concurrency: { type: 'string', default: '4', description: 'Images encoded at once' },
  },
  async run({ args }) {
    const r = await importFashionMnist({
      out: args.out,
      source: args.source,
      perClass: intOption('--per-class', args['per-class'], 1),
      valPerClass: intOption('--val-per-class', args['val-per-class'], 1),
      concurrency: intOption('--concurrency', args.concurrency, 1),
      log,
    });
    log(`done: ${r.written} written, ${r.skipped} already there -> ${args.out}`);
  },
});

export default defineCommand({
  meta: {
    name: 'import',
    description: 'Build a dataset folder from a folder of images, Fashion-MNIST, a photo table or OpenStreetView-5M',
  },
  subCommands: { folder, 'fashion-mnist': fashionMnist, table, osv5m },
});
