// An OpenStreetView-5M copy in miniature, built by the tests: train.csv with the dataset's columns (as its loading
// script osv5m.py on huggingface.co/datasets/osv5m/osv5m lists them) and the photos spread over a nested archive, a
// flat one, an already-extracted folder, and a truncated archive, with the faults a real download can hold.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { BUILTIN_REGIONS, contains } from '../../src/data/cities.js';
import { makeZip, type ZipEntry } from '../helpers/zip.js';
import { gradientImage } from './helpers.js';
import { must } from '../../src/util/must.js';
import { own } from '../../src/util/own.js';

export const OSV5M_HEADER =
  'id,latitude,longitude,thumb_original_url,country,sequence,captured_at,lon_bin,lat_bin,cell,region,sub-region,city,' +
  'land_cover,road_index,drive_side,climate,soil,dist_sea,quadtree_10_5000,quadtree_10_25000,quadtree_10_1000,' +
  'quadtree_10_50000,quadtree_10_12500,quadtree_10_500,quadtree_10_2500,unique_region,unique_sub-region,unique_city,' +
  'unique_country,creator_username,creator_id';
const COLUMNS = OSV5M_HEADER.split(',');

export const CITIES = ['seoul', 'tokyo', 'newyork', 'london', 'paris'];
const CENTRES: Record<string, [number, number]> = {
  seoul: [37.55, 127.0],
  tokyo: [35.68, 139.74],
  newyork: [40.75, -73.985],
  london: [51.51, -0.12],
  paris: [48.86, 2.34],
};

export interface Fixture {
  dir: string;
  /** id -> class, for every photo that must be imported. */
  good: Map<string, string>;
  /** Expected counts of what is skipped. */
  skipped: {
    malformed: number;
    outside: number;
    missing: number;
    corrupt: number;
    tooLarge: number;
    undecodable: number;
  };
  /** A folder beside the fixture that hostile entry names point into: it must stay empty. */
  trap: string;
}

/** One CSV row as bytes (a Buffer value is written raw: a non-UTF-8 name). */
function row(values: Record<string, string | Buffer>): Buffer {
  return Buffer.concat([
    ...COLUMNS.flatMap((c, i) => {
      const v = values[c] ?? '';
      const cell = Buffer.isBuffer(v)
        ? Buffer.concat([Buffer.from('"'), v, Buffer.from('"')])
        : Buffer.from(/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
      return i === 0 ? [cell] : [Buffer.from(','), cell];
    }),
    Buffer.from('\r\n'),
  ]);
}

export async function buildOsv5m(root: string): Promise<Fixture> {
  const dir = path.join(root, 'osv5m');
  const imagesDir = path.join(dir, 'images', 'train');
  const trap = path.join(root, 'trap');
  mkdirSync(path.join(imagesDir, 'extracted', 'sub'), { recursive: true });
  mkdirSync(trap);
  const rows: Buffer[] = [Buffer.from(`${OSV5M_HEADER}\r\n`)];
  const good = new Map<string, string>();
  const nested: ZipEntry[] = []; // 00.zip: train/<nn>/<id>.jpg
  const flat: ZipEntry[] = []; // 01.zip: <id>.jpg
  let n = 0;
  const add = async (
    cls: string | null,
    where: 'nested' | 'flat' | 'folder' | 'none',
    extra: Record<string, string | Buffer> = {},
  ) => {
    const id = String(3859149887465500 + n++);
    // Sydney: outside every region
    const [lat0, lng0] = cls ? must(CENTRES[cls], `a fixture centre for ${cls}`) : [-33.87, 151.21];
    const lat = lat0 + (n % 5) * 0.004;
    const lng = lng0 + (n % 3) * 0.004;
    if (cls)
      assert(
        contains(must(own(BUILTIN_REGIONS, cls), `a built-in region ${cls}`), lng, lat),
        `fixture point of ${cls} lies in its region`,
      );
    rows.push(
      row({
        id,
        latitude: String(lat),
        longitude: String(lng),
        captured_at: '1561975200000',
        city: cls ?? 'Sydney',
        unique_city: `${cls ?? 'Sydney'}, somewhere`,
        creator_username: `user_${n}`,
        creator_id: '111336221091714.0',
        ...extra,
      }),
    );
    const jpg = await gradientImage(48, 40, n);
    if (where === 'nested') nested.push({ name: `train/${String(n % 7).padStart(2, '0')}/${id}.jpg`, data: jpg });
    if (where === 'flat') flat.push({ name: `${id}.jpg`, data: jpg, method: 'store' });
    if (where === 'folder') writeFileSync(path.join(imagesDir, 'extracted', 'sub', `${id}.jpg`), jpg);
    return { id, jpg };
  };
  const goodOne = async (cls: string, where: 'nested' | 'flat' | 'folder', extra?: Record<string, string | Buffer>) =>
    good.set((await add(cls, where, extra)).id, cls);

  for (let i = 0; i < 4; i++) await goodOne('seoul', 'nested');
  for (let i = 0; i < 3; i++) await goodOne('tokyo', 'flat');
  for (let i = 0; i < 4; i++) await goodOne('newyork', 'folder');
  for (let i = 0; i < 4; i++) await goodOne('london', 'nested');
  for (let i = 0; i < 3; i++) await goodOne('paris', 'flat');
  // A city name that is not UTF-8 (Latin-1 bytes), in a row that is otherwise fine.
  await goodOne('paris', 'flat', { city: Buffer.from('Île-de-France, Pâris', 'latin1') });
  // Hostile entry names: they are only ever compared with ids, so the photos import and nothing lands in the trap.
  const evil = await add('tokyo', 'none');
  good.set(evil.id, 'tokyo');
  nested.push({ name: `../../trap/${evil.id}.jpg`, data: evil.jpg });
  // Outside every region.
  await add(null, 'nested');
  await add(null, 'flat');
  // Malformed rows: too few fields, and coordinates that are not numbers.
  rows.push(Buffer.from('3859149887465999,48.86,2.34\r\n'));
  await add('paris', 'none', { latitude: 'north' });
  // In a region, but no image anywhere.
  await add('london', 'none');
  // Damaged entries: a stored entry with flipped bytes (CRC mismatch), a deflated one whose data is not deflate.
  const flipped = await add('paris', 'none');
  const bad = Buffer.from(flipped.jpg);
  for (let i = 200; i < 260; i++) bad[i]! ^= 0x5a;
  flat.push({ name: `${flipped.id}.jpg`, data: flipped.jpg, rawBody: bad, method: 'store' });
  const garbage = await add('paris', 'none');
  nested.push({ name: `train/01/${garbage.id}.jpg`, data: garbage.jpg, rawBody: Buffer.alloc(300, 0xff) });
  // Not an image at all, but an intact entry.
  const text = await add('seoul', 'none');
  nested.push({ name: `train/02/${text.id}.jpg`, data: Buffer.from('<html>rate limited</html>') });
  // Inflating past the limit: one says so in its header, one states a small size and inflates to 1 MB.
  const huge = await add('london', 'none');
  nested.push({ name: `train/03/${huge.id}.jpg`, data: Buffer.alloc(33 * 1024 * 1024) });
  const bomb = await add('london', 'none');
  const zeros = Buffer.alloc(1 << 20);
  nested.push({
    name: `train/03/${bomb.id}.jpg`,
    data: zeros.subarray(0, 1000),
    rawBody: deflateRawSync(zeros),
    statedSize: 1000,
  });

  writeFileSync(path.join(dir, 'train.csv'), Buffer.concat(rows));
  const nestedZip = makeZip(nested);
  writeFileSync(path.join(imagesDir, '00.zip'), nestedZip);
  writeFileSync(path.join(imagesDir, '01.zip'), makeZip(flat));
  // A download cut short: the start of an archive without its central directory.
  writeFileSync(path.join(imagesDir, '02.zip'), nestedZip.subarray(0, 5000));
  return {
    dir,
    good,
    trap,
    skipped: { malformed: 2, outside: 2, missing: 1, corrupt: 2, tooLarge: 2, undecodable: 1 },
  };
}

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(`fixture broken: ${what}`);
}
