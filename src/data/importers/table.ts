// Imports photos listed in a table (CSV: an id and coordinates per row) by location: each row is labelled with the
// city region that contains it (the regions `collect` samples from, or --regions), rows outside every region are
// left out, and the chosen photos go through the collector's crop / resize / split / manifest path. Photos are read
// out of zip archives in place or from folders (image_sources.ts). The dataset writer makes it kill-safe, and a
// re-run recomputes the same seeded order and skips what the manifest lists, so it resumes where it stopped.
import { type Region, contains } from '../cities.js';
import { imageId } from '../manifest.js';
import { readCsv } from '../csv.js';
import { hash32 } from '../hash.js';
import { type ImageRef, ImageIndex, ImageReadError } from '../image_sources.js';
import { ImageDecodeError, processImage } from '../images.js';
import type { Split } from '../manifest.js';
import { forEachLimit } from '../../util/for_each_limit.js';
import { SpatialSplitter } from '../split.js';
import { DatasetWriter } from '../writer.js';
import { must } from '../../util/must.js';
import { Rng } from '../../util/rng.js';
import { pauseForTest, testFault } from '../../util/test_fault.js';

export interface TableColumns {
  id: string;
  lat: string;
  lon: string;
  /** Column naming each photo's file (matched by its file name); default: the file named `<id>.<extension>`. */
  file?: string;
  author?: string;
  /** Capture date or time: YYYY-MM[-DD...], or Unix time in seconds or milliseconds. */
  date?: string;
}

export interface TableImportOptions {
  csv: string[];
  images: string[];
  out: string;
  regions: Region[];
  columns: TableColumns;
  /** Recorded as each entry's provider (its source): 'osv5m', 'table'. */
  provider: string;
  /** Licence of every photo (e.g. CC-BY-SA-4.0), recorded per entry when given. */
  licence?: string;
  /** Most photos per city (train + validation); default all there are. */
  perCity?: number;
  split?: 'spatial' | 'index';
  valFraction?: number;
  seed?: number;
  /** Refuse (before writing anything) when a city holds fewer usable photos than --per-city. */
  strict?: boolean;
  /** Print the plan and stop: nothing is decoded or written. */
  dryRun?: boolean;
  cropBottom?: number;
  displayMaxSide?: number;
  concurrency?: number;
  signal?: { stop: boolean };
  log?: (line: string) => void;
}

interface Row {
  id: string;
  lat: number;
  lng: number;
  key: string;
  author?: string;
  date: string | null;
}

export interface TableImportResult {
  classes: Record<string, { train: number; validation: number }>;
  written: number;
  /** Rows that could not be used: wrong number of fields, an empty or odd id, coordinates off the globe. */
  malformed: number;
  /** Rows inside a region whose id an earlier row already had. */
  duplicates: number;
  outside: number;
  /** Rows in a region whose image is in none of the archives or folders. */
  missing: number;
  /** Entries that are damaged, undecodable, or inflate past the size limit. */
  corrupt: number;
  tooLarge: number;
  undecodable: number;
  stopped?: boolean;
}

const ID = /^[\x21-\x7e]{1,200}$/;
const SHOW = 10;

/** A capture date as the manifest keeps it (YYYY-MM-DD or YYYY-MM), or null when the value is none of the forms. */
export function captureDateOf(value: string): string | null {
  const v = value.trim();
  const iso = /^(\d{4}-\d{2}(?:-\d{2})?)/.exec(v);
  if (iso?.[1] !== undefined) return iso[1];
  if (/^\d{9,13}(\.\d+)?$/.test(v)) {
    const n = Number(v);
    const d = new Date(n >= 1e11 ? n : n * 1000);
    const y = d.getUTCFullYear();
    if (y >= 1990 && y <= 2200) return d.toISOString().slice(0, 10);
  }
  return null;
}

/** A name as the manifest may keep it: control characters out, at most 100 characters. */
function cleanAuthor(value: string): string | undefined {
  const v = value
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .slice(0, 100);
  return v === '' || v === '\ufffd' ? undefined : v;
}

/** The header's column of each option (-1 for an optional one it lacks); a required one missing fails naming it. */
function columnsOf(csv: string, fields: string[], columns: TableColumns): Record<keyof TableColumns, number> {
  const header = fields.map((f) => f.trim());
  const at = (flag: string, name: string | undefined, required: boolean) => {
    if (name === undefined) return -1;
    const i = header.indexOf(name);
    if (i < 0 && required)
      throw new Error(`${csv} has no column '${name}' (${flag}); its columns are: ${header.slice(0, 40).join(', ')}`);
    return i;
  };
  return {
    id: at('--id', columns.id, true),
    lat: at('--lat', columns.lat, true),
    lon: at('--lon', columns.lon, true),
    file: at('--file', columns.file, true),
    author: at('--author', columns.author, false),
    date: at('--date', columns.date, false),
  };
}

/** A row's place and the region it lies in (undefined: none), or why its coordinates are not a place on Earth. */
function placeOf(
  latText: string,
  lngText: string,
  regions: Region[],
): { lat: number; lng: number; region: Region | undefined } | string {
  const lat = Number(latText);
  const lng = Number(lngText);
  if (latText.trim() === '' || lngText.trim() === '' || !(Math.abs(lat) <= 90 && Math.abs(lng) <= 180))
    return `its coordinates (${latText.slice(0, 20)}, ${lngText.slice(0, 20)}) are not a place on Earth`;
  const region = regions.find(
    (r) => lng >= r.bbox[0] && lat >= r.bbox[1] && lng <= r.bbox[2] && lat <= r.bbox[3] && contains(r, lng, lat),
  );
  return { lat, lng, region };
}

async function readRows(
  o: TableImportOptions,
  result: TableImportResult,
  log: (line: string) => void,
): Promise<Map<string, Row[]>> {
  const byClass = new Map<string, Row[]>(o.regions.map((r) => [r.name, []]));
  const ids = new Set<string>();
  let shown = 0;
  const bad = (where: string, why: string) => {
    result.malformed++;
    if (shown++ < SHOW) log(`skipped row ${where}: ${why}`);
  };
  for (const csv of o.csv) {
    let col: Record<keyof TableColumns, number> | undefined;
    let width = 0;
    for await (const rec of readCsv(csv)) {
      if (!col) {
        col = columnsOf(csv, rec.fields, o.columns);
        width = rec.fields.length;
        continue;
      }
      const where = `${csv}:${rec.line}`;
      const f = rec.fields;
      if (f.length !== width) {
        bad(where, `${f.length} fields where the header has ${width}`);
        continue;
      }
      // Every column index is one the header has (required ones were checked), and the row is as wide as the header.
      const field = (i: number): string => must(f[i], `column ${i} of a ${width}-field row`);
      const id = field(col.id).trim();
      if (!ID.test(id)) {
        bad(where, `its id ${JSON.stringify(id.slice(0, 40))} is not 1-200 printable characters`);
        continue;
      }
      const place = placeOf(field(col.lat), field(col.lon), o.regions);
      if (typeof place === 'string') {
        bad(where, place);
        continue;
      }
      const { lat, lng, region } = place;
      if (!region) {
        result.outside++;
        continue;
      }
      // Only ids inside a region are remembered: OpenStreetView-5M's table holds millions of rows.
      if (ids.has(id)) {
        result.duplicates++;
        continue;
      }
      ids.add(id);
      const key = col.file >= 0 ? (field(col.file).split(/[/\\]/).pop() ?? '') : id;
      if (key === '') {
        bad(where, `its file column '${o.columns.file}' is empty`);
        continue;
      }
      must(byClass.get(region.name), 'every region has a list').push({
        id,
        lat,
        lng,
        key,
        author: col.author >= 0 ? cleanAuthor(field(col.author)) : undefined,
        date: col.date >= 0 ? captureDateOf(field(col.date)) : null,
      });
    }
    if (!col) throw new Error(`${csv} is empty; it needs a header row naming its columns`);
  }
  if (shown > SHOW) log(`... and ${shown - SHOW} more malformed rows`);
  return byClass;
}

interface ClassPlan {
  region: Region;
  rows: Row[];
  withImage: number;
  take: number;
}

/**
 * The plan, printed as a table: per city, rows in its region, how many of those have an image, and how many will be
 * taken. With --strict a city short of --per-city fails; so does a plan that takes nothing.
 */
function planImport(
  o: TableImportOptions,
  byClass: Map<string, Row[]>,
  found: Map<string, ImageRef>,
  result: TableImportResult,
  log: (line: string) => void,
): ClassPlan[] {
  const plan: ClassPlan[] = [];
  log(`${'city'.padEnd(12)} ${'in region'.padStart(10)} ${'with image'.padStart(11)} ${'to take'.padStart(8)}`);
  const short: string[] = [];
  for (const region of o.regions) {
    const inRegion = must(byClass.get(region.name), 'readRows makes a list per region');
    const rows = inRegion.filter((r) => found.has(r.key));
    result.missing += inRegion.length - rows.length;
    const take = Math.min(o.perCity ?? Infinity, rows.length);
    plan.push({ region, rows, withImage: rows.length, take });
    log(
      `${region.name.padEnd(12)} ${String(inRegion.length).padStart(10)} ` +
        `${String(rows.length).padStart(11)} ${String(take).padStart(8)}`,
    );
    if (o.perCity !== undefined && rows.length < o.perCity)
      short.push(
        `${region.name} has ${rows.length} photos with an image in its region, short of --per-city ${o.perCity}`,
      );
  }
  log(
    `rows: ${result.outside} outside every region, ${result.malformed} malformed, ${result.duplicates} repeated ids; ` +
      `${result.missing} in a region without an image in --images`,
  );
  for (const s of short) log(`${s}${o.strict ? '' : '; taking all there are'}`);
  if (o.strict && short.length > 0)
    throw new Error(
      `--strict: ${short.join('; ')}. Lower --per-city, widen the regions (--regions), add archives, or drop --strict`,
    );
  if (plan.every((p) => p.take === 0))
    throw new Error(
      'no photo in the table lies in any region with its image found; check --cities/--regions, the coordinate ' +
        'columns, and that --images holds the photos',
    );
  return plan;
}

export async function importTable(o: TableImportOptions): Promise<TableImportResult> {
  const log = o.log ?? (() => {});
  const valFraction = o.valFraction ?? 0.2;
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`--val-fraction must be in [0, 1), got ${valFraction}`);
  const splitMode = o.split ?? 'spatial';
  const seed = o.seed ?? 0;
  const result: TableImportResult = {
    classes: {},
    written: 0,
    malformed: 0,
    duplicates: 0,
    outside: 0,
    missing: 0,
    corrupt: 0,
    tooLarge: 0,
    undecodable: 0,
  };

  const byClass = await readRows(o, result, log);
  const wantedKeys = new Set<string>();
  for (const rows of byClass.values()) for (const r of rows) wantedKeys.add(r.key);
  const { index, found, duplicates, badArchives } = await ImageIndex.build(o.images, (k) => wantedKeys.has(k), log);
  try {
    if (duplicates > 0) log(`${duplicates} images are found more than once across --images; the first copy is used`);
    if (badArchives > 0) log(`${badArchives} archives could not be read (named above); their photos count as missing`);

    const plan = planImport(o, byClass, found, result, log);
    if (o.dryRun) {
      log('dry run: nothing written');
      return result;
    }
    const writer = await DatasetWriter.open(
      o.out,
      o.regions.map((r) => r.name),
      log,
    );
    try {
      for (const p of plan) {
        await importClass(o, p, writer, found, result, { splitMode, valFraction, seed }, log);
        if (o.signal?.stop) {
          result.stopped = true;
          break;
        }
      }
    } finally {
      await writer.close();
    }
  } finally {
    index.close();
  }
  return result;
}

async function importClass(
  o: TableImportOptions,
  p: ClassPlan,
  writer: DatasetWriter,
  found: Map<string, ImageRef>,
  result: TableImportResult,
  s: { splitMode: 'spatial' | 'index'; valFraction: number; seed: number },
  log: (line: string) => void,
): Promise<void> {
  const cls = p.region.name;
  const have = writer.count(cls);
  result.classes[cls] = have;
  const nVal = Math.round(p.take * s.valFraction);
  const target = { train: p.take - nVal, validation: nVal };
  const reserved = { train: 0, validation: 0 };
  const need = (side: Split) => have[side] + reserved[side] < target[side];
  const fill = (side: Split) => (have[side] + reserved[side]) / target[side];
  const splitter = s.splitMode === 'spatial' ? new SpatialSplitter(p.region, s.valFraction, s.seed) : undefined;
  // The order is a function of the table, the seed and the class alone, so a re-run walks the same sequence.
  const order = new Rng(hash32(s.seed, 'import-table', cls)).shuffle([...p.rows]);
  let gap = 0;
  // Pulled lazily by the workers, so each photo's side is decided when a worker is free, from the counts so far:
  // a photo that fails frees its place for the next one in the order.
  let pos = 0;
  function* jobs(): Generator<{ row: Row; side: Split }> {
    for (; pos < order.length; ) {
      if (o.signal?.stop || (!need('train') && !need('validation'))) return;
      const row = must(order[pos++], 'pos < order.length');
      if (writer.has(imageId(o.provider, row.id))) continue;
      // index: the side furthest from its target takes the photo, so photos that fail leave both sides short alike.
      const side = splitter
        ? splitter.assign(row.lat, row.lng)
        : need('train') && (!need('validation') || fill('train') <= fill('validation'))
          ? 'train'
          : 'validation';
      if (side === null) {
        gap++;
        continue;
      }
      if (!need(side)) continue;
      reserved[side]++;
      yield { row, side };
    }
  }
  let shown = 0;
  const skip = (why: string) => {
    if (shown++ < SHOW) log(`${cls}: skipped ${why}`);
  };
  const one = async ({ row, side }: { row: Row; side: Split }) => {
    try {
      if (!(await importPhoto({ o, cls, writer, found, result, skip }, row, side))) return;
      have[side]++;
      result.written++;
      if (result.written >= Number(testFault('pause-after-image') ?? Infinity))
        await pauseForTest(`after image ${result.written}`, () => o.signal?.stop ?? true);
    } finally {
      reserved[side]--;
    }
  };
  // A pass ends when the places are all taken or reserved; photos that then failed leave places for another pass.
  do await forEachLimit(jobs(), o.concurrency ?? 4, one);
  while (!o.signal?.stop && pos < order.length && (need('train') || need('validation')));
  if (shown > SHOW) log(`${cls}: ... and ${shown - SHOW} more skipped`);
  if (gap > 0 && splitter)
    log(`${cls}: ${gap} photos lie within 0.5 km of a train/validation border and were left out`);
  const short = have.train < target.train || have.validation < target.validation;
  log(
    `${cls}: train ${have.train}, validation ${have.validation}${
      short && !o.signal?.stop
        ? ` ` +
          `(planned ${target.train} + ${target.validation}; the rest were unusable or, with the spatial split, on ` +
          `the wrong side)`
        : ''
    }`,
  );
}

interface PhotoContext {
  o: TableImportOptions;
  cls: string;
  writer: DatasetWriter;
  found: Map<string, ImageRef>;
  result: TableImportResult;
  skip: (why: string) => void;
}

/** Reads, decodes and adds one photo; true when it was added (one that cannot be read or decoded is counted). */
async function importPhoto(c: PhotoContext, row: Row, side: Split): Promise<boolean> {
  const { o, result } = c;
  const ref = must(c.found.get(row.key), 'the plan keeps only rows whose image was found');
  let bytes: Buffer;
  try {
    bytes = await ref.read();
  } catch (err) {
    if (!(err instanceof ImageReadError)) throw err;
    if (err.reason === 'too-large') result.tooLarge++;
    else result.corrupt++;
    c.skip(err.message);
    return false;
  }
  let img: Awaited<ReturnType<typeof processImage>>;
  try {
    img = await processImage(bytes, { cropBottom: o.cropBottom ?? 0, displayMaxSide: o.displayMaxSide ?? 256 });
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    result.undecodable++;
    c.skip(`${ref.where}: ${err.message}`);
    return false;
  }
  await c.writer.add(
    {
      id: imageId(o.provider, row.id),
      class: c.cls,
      split: side,
      provider: o.provider,
      sourceId: row.id,
      lat: row.lat,
      lng: row.lng,
      heading: null,
      captureDate: row.date,
      ...(o.licence ? { licence: o.licence } : {}),
      ...(row.author ? { author: row.author } : {}),
    },
    img.png,
    img.display,
  );
  return true;
}
