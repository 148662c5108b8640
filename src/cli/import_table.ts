// `geospike import table` and `geospike import osv5m`: photos listed in a table, labelled by the city region that
// holds their coordinates, read from zip archives or folders into a dataset folder (resumable; Ctrl-C keeps what is
// written).
import { defineCommand } from 'citty';
import { BUILTIN_REGIONS, loadRegions, selectRegions } from '../data/cities.js';
import { OSV5M_COLUMNS, OSV5M_LICENCE, osv5mLayout } from '../data/importers/osv5m.js';
import { importTable, type TableImportOptions, type TableImportResult } from '../data/importers/table.js';
import { intOption, numberOption } from './args.js';
import { stopOnSignal } from '../util/stop_on_signal.js';

const log = (line: string) => console.error(line);

const shared = {
  out: { type: 'string', required: true, description: 'Dataset folder to write (re-running continues it)' },
  cities: {
    type: 'string',
    default: 'seoul,tokyo,newyork,london,paris',
    description: 'Classes, in label order: built-in cities or names in --regions',
  },
  regions: {
    type: 'string',
    description: 'GeoJSON FeatureCollection, one (Multi)Polygon per class with a "name" property',
  },
  'per-city': { type: 'string', description: 'Most photos per city, train + validation (default: all there are)' },
  split: {
    type: 'enum',
    options: ['spatial', 'index'] as string[],
    default: 'spatial',
    description: 'spatial: train and validation photos at least 1 km apart; index: seeded order, first ones train',
  },
  'val-fraction': { type: 'string', default: '0.2', description: 'Share of each city for validation' },
  seed: { type: 'string', default: '0', description: 'Seed of the order photos are taken in, and of the split' },
  strict: {
    type: 'boolean',
    default: false,
    description: 'Refuse, before writing anything, when a city has fewer photos than --per-city',
  },
  'dry-run': {
    type: 'boolean',
    default: false,
    description: 'Print the plan (photos per city in the table and in --images) and stop; writes nothing',
  },
  'crop-bottom': { type: 'string', default: '0', description: 'Rows cut from the bottom of each image' },
  'display-size': { type: 'string', default: '256', description: 'Longest side of the display JPEG; 0 writes none' },
  concurrency: { type: 'string', default: '4', description: 'Images processed at once' },
} as const;

type SharedArgs = { [K in keyof typeof shared]: K extends 'strict' | 'dry-run' ? boolean : string | undefined };

async function run(
  args: SharedArgs,
  source: Pick<TableImportOptions, 'csv' | 'images' | 'columns' | 'provider' | 'licence'>,
): Promise<void> {
  const stop = stopOnSignal(log, {
    doing: 'finishing the photos in progress; every photo written is kept',
    afterProgress: true,
  });
  try {
    const available = args.regions ? loadRegions(args.regions) : BUILTIN_REGIONS;
    const regions = selectRegions(
      available,
      (args.cities ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const r = await importTable({
      ...source,
      out: args.out!,
      regions,
      perCity: intOption('--per-city', args['per-city'], 1),
      split: args.split as 'spatial' | 'index',
      valFraction: numberOption('--val-fraction', args['val-fraction'], 0, 1),
      seed: intOption('--seed', args.seed),
      strict: args.strict,
      dryRun: args['dry-run'],
      cropBottom: intOption('--crop-bottom', args['crop-bottom']),
      displayMaxSide: intOption('--display-size', args['display-size']),
      concurrency: intOption('--concurrency', args.concurrency, 1),
      signal: stop.control,
      log,
    });
    if (args['dry-run']) return;
    log(summary(r, args.out!));
    if (r.stopped) {
      log('stopped: every image written so far is kept; run the same command again to continue');
      process.exitCode = stop.exitCode ?? 130;
    }
  } catch (err) {
    log(`error: ${(err as Error).message}`);
    process.exitCode = 1;
  } finally {
    stop.release();
  }
}

function summary(r: TableImportResult, out: string): string {
  return (
    `done: ${r.written} written -> ${out}; skipped: ${r.malformed} malformed rows, ${r.outside} outside every ` +
    `region, ` +
    `${r.duplicates} repeated ids, ${r.missing} without an image, ${r.corrupt} damaged entries, ` +
    `${r.tooLarge} over the size limit, ${r.undecodable} undecodable`
  );
}

/** --images takes one path; the paths after it (a shell glob: `--images images/*.zip`) arrive as positionals. */
function imagePaths(first: string, rest: unknown): string[] {
  return [first, ...(Array.isArray(rest) ? rest.map(String) : [])];
}

export const table = defineCommand({
  meta: {
    name: 'table',
    description: 'Import photos listed in a CSV with coordinates, labelled by the city region holding each one',
  },
  args: {
    csv: { type: 'string', required: true, description: 'The table: a header row, then one photo per row' },
    images: {
      type: 'string',
      required: true,
      description: 'Zip archives and/or folders holding the photos (several may follow: --images a.zip b.zip dir)',
    },
    id: { type: 'string', default: 'id', description: "Column of the photo's id (its file is <id>.jpg etc.)" },
    lat: { type: 'string', default: 'lat', description: 'Column of the latitude' },
    lon: { type: 'string', default: 'lon', description: 'Column of the longitude' },
    file: { type: 'string', description: "Column of the photo's file name, when it is not <id>.<extension>" },
    author: { type: 'string', description: "Column of the photo's author, recorded for credits" },
    date: { type: 'string', description: 'Column of the capture date (YYYY-MM-DD, or Unix seconds or milliseconds)' },
    licence: { type: 'string', description: 'Licence of the photos (e.g. CC-BY-SA-4.0), recorded for credits' },
    source: { type: 'string', default: 'table', description: "Name recorded as the photos' source" },
    ...shared,
  },
  async run({ args }) {
    if (!/^[a-z0-9][a-z0-9_-]{0,30}$/.test(args.source)) {
      log(`error: --source must be a short name of lowercase letters, digits, _ or -, got '${args.source}'`);
      process.exitCode = 1;
      return;
    }
    await run(args as unknown as SharedArgs, {
      csv: [args.csv],
      images: imagePaths(args.images, args._),
      columns: { id: args.id, lat: args.lat, lon: args.lon, file: args.file, author: args.author, date: args.date },
      provider: args.source,
      licence: (args.licence as string | undefined)?.trim() || undefined,
    });
  },
});

export const osv5m = defineCommand({
  meta: {
    name: 'osv5m',
    description: 'Import the five cities from OpenStreetView-5M (train.csv + images/train/*.zip, CC-BY-SA 4.0)',
  },
  args: {
    dir: { type: 'positional', required: true, description: 'Folder holding train.csv, test.csv and images/' },
    part: {
      type: 'enum',
      options: ['train', 'test', 'both'],
      default: 'both',
      description: "Which of the dataset's parts to read (whichever of them is there)",
    },
    ...shared,
  },
  async run({ args }) {
    let layout: Awaited<ReturnType<typeof osv5mLayout>>;
    try {
      layout = await osv5mLayout(args.dir, args.part === 'both' ? ['train', 'test'] : [args.part as 'train' | 'test']);
    } catch (err) {
      log(`error: ${(err as Error).message}`);
      process.exitCode = 1;
      return;
    }
    log(`tables: ${layout.csv.join(', ')}; photos and archives in: ${layout.images.join(', ')}`);
    await run(args as unknown as SharedArgs, {
      ...layout,
      columns: OSV5M_COLUMNS,
      provider: 'osv5m',
      licence: OSV5M_LICENCE,
    });
  },
});
