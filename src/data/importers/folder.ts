// Imports a folder of class subfolders (images of any size and common format) through the collector's
// crop/resize/split/manifest path.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Rng } from '../../util/rng.js';
import { hash32 } from '../hash.js';
import { ImageDecodeError, processImage } from '../images.js';
import { safeName } from '../manifest.js';
import { forEachLimit } from '../../util/for_each_limit.js';
import { DatasetWriter } from '../writer.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export interface FolderImportOptions {
  source: string;
  out: string;
  /** Share of each class that goes to validation. */
  valFraction?: number;
  seed?: number;
  /** Rows cut from the bottom of every image (a watermark strip). */
  cropBottom?: number;
  /** Longest side of the display JPEG; 0 writes none. */
  displayMaxSide?: number;
  concurrency?: number;
  log?: (line: string) => void;
}

/** Folder name to class name: lowercase, other characters become '_'. */
export function classNameFor(folder: string): string {
  return folder
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[_-]+|_+$/g, '');
}

/**
 * A folder's entries with symbolic links followed (as torchvision's
 * ImageFolder does); a broken link is named and left out.
 */
async function listFollowingLinks(
  dir: string,
  log: (line: string) => void,
): Promise<{ name: string; isDirectory(): boolean; isFile(): boolean }[]> {
  const out = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    if (!e.isSymbolicLink()) {
      out.push(e);
      continue;
    }
    try {
      const st = await fs.stat(path.join(dir, e.name));
      out.push({ name: e.name, isDirectory: () => st.isDirectory(), isFile: () => st.isFile() });
    } catch (err) {
      log(
        `skipped ${path.join(dir, e.name)}: a symbolic link to nothing readable ` +
          `(${(err as NodeJS.ErrnoException).code})`,
      );
    }
  }
  return out;
}

/** Finds the classes (subfolders, sorted) and their image files, or says what is wrong with the layout. */
export async function scanFolder(
  source: string,
  log: (line: string) => void = () => {},
): Promise<{ name: string; folder: string; files: string[] }[]> {
  let entries: Awaited<ReturnType<typeof listFollowingLinks>>;
  try {
    entries = await listFollowingLinks(source, log);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`source folder ${source} does not exist`);
    throw err;
  }
  const dirs = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const looseImages = entries.filter(
    (e) => e.isFile() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()),
  );
  if (dirs.length === 0) {
    const loose = looseImages.length ? ` (it holds ${looseImages.length} images directly)` : '';
    throw new Error(`${source} has no class subfolders${loose}; put each class in its own folder: SRC/<class>/*.jpg`);
  }
  const classes: { name: string; folder: string; files: string[] }[] = [];
  const byName = new Map<string, string>();
  for (const folder of dirs) {
    const name = classNameFor(folder);
    if (!name) throw new Error(`class folder '${folder}' has no letters or digits to name a class after; rename it`);
    const clash = byName.get(name);
    if (clash) throw new Error(`class folders '${clash}' and '${folder}' both map to class '${name}'; rename one`);
    byName.set(name, folder);
    const files = (await listFollowingLinks(path.join(source, folder), log))
      .filter((e) => e.isFile() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    if (files.length === 0) {
      throw new Error(
        `class folder ${path.join(source, folder)} holds no images (${IMAGE_EXTENSIONS.join(' ')}); add some or ` +
          `remove it`,
      );
    }
    classes.push({ name, folder, files });
  }
  return classes;
}

/** `p` with symbolic links resolved, also when its last parts do not exist yet. */
async function realish(p: string): Promise<string> {
  const abs = path.resolve(p);
  try {
    return await fs.realpath(abs);
  } catch (err) {
    const parent = path.dirname(abs);
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === abs) throw err;
    return path.join(await realish(parent), path.basename(abs));
  }
}

/**
 * The dataset written into the source (or the source inside the
 * dataset) would mix the two, and a rerun would read its own output.
 */
async function refuseOverlap(source: string, out: string): Promise<void> {
  const [src, dst] = await Promise.all([realish(source), realish(out)]);
  const within = (a: string, b: string) => a === b || a.startsWith(b.endsWith(path.sep) ? b : b + path.sep);
  const fix = 'choose an --out folder outside the source (nothing was changed)';
  if (src === dst) throw new Error(`--out ${out} is the source folder ${source}; ${fix}`);
  if (within(dst, src)) throw new Error(`--out ${out} is inside the source folder ${source}; ${fix}`);
  if (within(src, dst)) throw new Error(`--out ${out} holds the source folder ${source}; ${fix}`);
}

/** One photo of a class folder into the dataset: written, skipped (there already), or bad (unreadable, undecodable). */
async function importFile(
  opts: FolderImportOptions,
  writer: DatasetWriter,
  cls: { folder: string; name: string },
  file: string,
  split: 'train' | 'validation',
  log: (line: string) => void,
): Promise<'written' | 'skipped' | 'bad'> {
  const rel = `${cls.folder}/${file}`;
  const id = `${safeName(path.parse(file).name, 80)}-${createHash('sha256').update(rel).digest('hex').slice(0, 8)}`;
  if (writer.has(id)) return 'skipped';
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path.join(opts.source, rel));
  } catch (err) {
    log(`skipped ${rel}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return 'bad';
  }
  let img: Awaited<ReturnType<typeof processImage>>;
  try {
    img = await processImage(bytes, { cropBottom: opts.cropBottom ?? 0, displayMaxSide: opts.displayMaxSide ?? 256 });
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    log(`skipped ${rel}: ${err.message}`);
    return 'bad';
  }
  const entry = { id, class: cls.name, split, provider: 'folder', sourceId: rel };
  await writer.add({ ...entry, lat: null, lng: null, heading: null, captureDate: null }, img.png, img.display);
  return 'written';
}

export async function importFolder(
  opts: FolderImportOptions,
): Promise<{ written: number; skipped: number; bad: number }> {
  const valFraction = opts.valFraction ?? 0.2;
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`--val-fraction must be in [0, 1), got ${valFraction}`);
  const cropBottom = opts.cropBottom ?? 0;
  if (!Number.isInteger(cropBottom) || cropBottom < 0)
    throw new Error(`--crop-bottom must be a whole number of pixels, got ${cropBottom}`);
  const log = opts.log ?? (() => {});
  const classes = await scanFolder(opts.source, log);
  await refuseOverlap(opts.source, opts.out);
  const writer = await DatasetWriter.open(
    opts.out,
    classes.map((c) => c.name),
    log,
  );
  let written = 0;
  let skipped = 0;
  let bad = 0;
  try {
    for (const cls of classes) {
      // Seeded shuffle per class, then the original study's index split: the first part trains, the rest validates.
      const order = new Rng(hash32(opts.seed ?? 0, cls.name)).shuffle([...cls.files]);
      const nTrain = order.length - Math.round(order.length * valFraction);
      const jobs = order.map((file, i) => ({ file, split: i < nTrain ? ('train' as const) : ('validation' as const) }));
      await forEachLimit(jobs, opts.concurrency ?? 4, async ({ file, split }) => {
        const outcome = await importFile(opts, writer, { folder: cls.folder, name: cls.name }, file, split, log);
        if (outcome === 'written') written++;
        else if (outcome === 'skipped') skipped++;
        else bad++;
      });
      const c = writer.count(cls.name);
      log(`${cls.name}: ${c.train} train, ${c.validation} validation`);
      if (c.validation === 0)
        log(
          `warning: class '${cls.name}' has no validation image (${c.train} in all, --val-fraction ${valFraction}), ` +
            `so ` +
            'its accuracy cannot be measured: add images to it or raise --val-fraction',
        );
      if (c.train === 0)
        throw new Error(`class '${cls.name}' (${path.join(opts.source, cls.folder)}) has no usable training image`);
    }
  } finally {
    await writer.close();
  }
  return { written, skipped, bad };
}
