// `import osv5m` and `import table`: photos labelled by the region holding their coordinates, read from zip archives
// (nested or flat), extracted folders and plain folders, with every kind of bad row and entry counted and skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_REGIONS, selectRegions } from '../../src/data/cities.js';
import { readCsv } from '../../src/data/csv.js';
import { OSV5M_COLUMNS, OSV5M_LICENCE, osv5mLayout } from '../../src/data/importers/osv5m.js';
import { importTable, captureDateOf } from '../../src/data/importers/table.js';
import { TEST_FAULT_ENV } from '../../src/util/test_fault.js';
import { checkDataset } from './collect_helpers.js';
import { gradientImage, tempDir } from './helpers.js';
import { buildOsv5m, CITIES } from './import_table_fixture.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const regions = selectRegions(BUILTIN_REGIONS, CITIES);

function cli(args: string[], fault?: string): Promise<{ code: number | null; signal: string | null; output: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== TEST_FAULT_ENV));
  if (fault) env[TEST_FAULT_ENV] = fault;
  const child = spawn(process.execPath, [MAIN, 'import', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, output })));
}

const key = (e: { id: string; class: string; split: string }) => `${e.id} ${e.class} ${e.split}`;

test(
  'import osv5m: right class per photo from nested and flat archives and extracted folders; bad rows and entries ' +
    'counted',
  async (t) => {
    const root = tempDir(t, 'geospike-osv5m-');
    const fx = await buildOsv5m(root);
    const out = path.join(root, 'data');
    const lines: string[] = [];
    const layout = await osv5mLayout(fx.dir, ['train', 'test']);
    const r = await importTable({
      ...layout,
      out,
      regions,
      columns: OSV5M_COLUMNS,
      provider: 'osv5m',
      licence: OSV5M_LICENCE,
      split: 'index',
      concurrency: 2,
      log: (l) => lines.push(l),
    });
    const log = lines.join('\n');
    const entries = checkDataset(out, CITIES);
    assert.equal(entries.length, fx.good.size, log);
    for (const e of entries) {
      assert.equal(e.class, fx.good.get(e.sourceId), `class of ${e.sourceId}`);
      assert.equal(e.provider, 'osv5m');
      assert.equal(e.licence, 'CC-BY-SA-4.0');
      assert.match(e.author ?? '', /^user_\d+$/);
      assert.equal(e.captureDate, '2019-07-01');
      assert.ok(e.lat !== null && e.lng !== null);
    }
    const { malformed, outside, missing, corrupt, tooLarge, undecodable } = r;
    assert.deepEqual({ malformed, outside, missing, corrupt, tooLarge, undecodable }, fx.skipped, log);
    assert.equal(r.written, fx.good.size);
    assert.match(log, /skipped archive .*02\.zip/);
    assert.match(log, /train\.csv:\d+: 3 fields where the header has 32/);
    assert.match(log, /CRC-32 does not match/);
    // The plan came first, per city.
    const planAt = lines.findIndex((l) => /^city\s+in region\s+with image\s+to take$/.test(l));
    assert.ok(planAt >= 0 && planAt < lines.findIndex((l) => /: (skipped .*zip|train \d+, validation)/.test(l)), log);
    assert.match(log, /^paris\s+6\s+6\s+6$/m);
    assert.match(log, /^london\s+7\s+6\s+6$/m);
    // Hostile entry names were never used as paths.
    assert.deepEqual(readdirSync(fx.trap), []);
    assert.equal(existsSync(path.join(root, '..', 'trap')), false);

    // Run again: everything is there already.
    const again = await importTable({
      ...layout,
      out,
      regions,
      columns: OSV5M_COLUMNS,
      provider: 'osv5m',
      split: 'index',
    });
    assert.equal(again.written, 0);
    assert.equal(checkDataset(out, CITIES).length, fx.good.size);
  },
);

test('import osv5m: kill -9 mid-import, then the same command again ends as one uninterrupted run', async (t) => {
  const root = tempDir(t, 'geospike-osv5m-kill-');
  const fx = await buildOsv5m(root);
  const args = (out: string) => [
    'osv5m',
    fx.dir,
    '--out',
    out,
    '--split',
    'index',
    '--concurrency',
    '1',
    '--seed',
    '3',
  ];
  const straight = path.join(root, 'straight');
  const whole = await cli(args(straight));
  assert.equal(whole.code, 0, whole.output);

  const killed = path.join(root, 'killed');
  const first = await cli(args(killed), 'kill-in-group:6');
  assert.equal(first.signal, 'SIGKILL', first.output);
  assert.match(first.output, /killed after image 6 was synced/);
  const resumed = await cli(args(killed));
  assert.equal(resumed.code, 0, resumed.output);
  const a = checkDataset(straight, CITIES).map(key).sort();
  const b = checkDataset(killed, CITIES).map(key).sort();
  assert.equal(a.length, fx.good.size);
  assert.deepEqual(b, a);
});

test(
  'import osv5m: Ctrl-C stops after the photos in progress, ' + 'keeps them, exits 130; the same command finishes',
  async (t) => {
    const root = tempDir(t, 'geospike-osv5m-int-');
    const fx = await buildOsv5m(root);
    const out = path.join(root, 'data');
    const args = ['osv5m', fx.dir, '--out', out, '--split', 'index', '--concurrency', '1'];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== TEST_FAULT_ENV));
    const child = spawn(process.execPath, [MAIN, 'import', ...args], {
      env: { ...env, [TEST_FAULT_ENV]: 'pause-after-image:3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const paused = new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        output += d;
        if (output.includes('test fault: paused after image 3')) resolve();
      }),
    );
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await Promise.race([paused, closed]);
    child.kill('SIGINT');
    assert.equal(await closed, 130, output);
    assert.match(output, /SIGINT: finishing the photos in progress; every photo written is kept/);
    assert.match(output, /stopped: every image written so far is kept/);
    assert.equal(checkDataset(out, CITIES).length, 3);
    const rest = await cli(args);
    assert.equal(rest.code, 0, rest.output);
    assert.equal(checkDataset(out, CITIES).length, fx.good.size);
  },
);

test('import osv5m --strict refuses a city short of --per-city before writing anything', async (t) => {
  const root = tempDir(t, 'geospike-osv5m-strict-');
  const fx = await buildOsv5m(root);
  const out = path.join(root, 'data');
  const r = await cli(['osv5m', fx.dir, '--out', out, '--per-city', '5', '--strict']);
  assert.equal(r.code, 1, r.output);
  assert.match(r.output, /error: --strict: tokyo has 4 photos with an image in its region, short of --per-city 5/);
  assert.equal(existsSync(out), false);
  const dry = await cli(['osv5m', fx.dir, '--out', out, '--dry-run']);
  assert.equal(dry.code, 0, dry.output);
  assert.match(dry.output, /^london\s+7\s+6\s+6$/m);
  assert.equal(existsSync(out), false, 'a dry run writes nothing');
  // Without --strict the short city is said plainly and all of it is taken.
  const lax = await cli(['osv5m', fx.dir, '--out', out, '--per-city', '5']);
  assert.equal(lax.code, 0, lax.output);
  assert.match(lax.output, /tokyo has 4 photos .* short of --per-city 5; taking all there are/);
  assert.ok(checkDataset(out, CITIES).length <= 5 * CITIES.length);
});

test('import table: a plain folder of JPEGs, own column names, file names, author and licence recorded', async (t) => {
  const root = tempDir(t, 'geospike-table-');
  const photos = path.join(root, 'photos');
  mkdirSync(photos);
  const rows = ['photo,y,x,file,who'];
  const want = new Map<string, string>();
  let n = 0;
  for (const [cls, lat, lng] of [
    ['paris', 48.85, 2.3],
    ['paris', 48.86, 2.31],
    ['london', 51.5, -0.1],
    ['london', 51.51, -0.11],
    ['london', 51.52, -0.12],
  ] as const) {
    const file = `IMG_${n}.JPG`;
    writeFileSync(path.join(photos, file), await gradientImage(40, 30, n));
    rows.push(`p${n},${lat},${lng},holiday/${file},"Doe, Jane"`);
    want.set(`p${n++}`, cls);
  }
  rows.push(`p9,35.0,135.0,IMG_9.JPG,someone`); // Kyoto: outside both regions
  const csv = path.join(root, 'photos.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const out = path.join(root, 'data');
  const r = await cli([
    'table',
    '--csv',
    csv,
    '--images',
    photos,
    '--id',
    'photo',
    '--lat',
    'y',
    '--lon',
    'x',
    '--file',
    'file',
    '--author',
    'who',
    '--licence',
    'CC-BY-4.0',
    '--cities',
    'paris,london',
    '--out',
    out,
    '--split',
    'index',
    '--val-fraction',
    '0.34',
  ]);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /1 outside every region/);
  const wrong = await cli(['table', '--csv', csv, '--images', photos, '--id', 'photo', '--out', path.join(root, 'x')]);
  assert.equal(wrong.code, 1, wrong.output);
  assert.match(
    wrong.output,
    /error: .*photos\.csv has no column 'lat' \(--lat\); its columns are: photo, y, x, file, who/,
  );
  assert.equal(existsSync(path.join(root, 'x')), false);
  const entries = checkDataset(out, ['paris', 'london']);
  assert.deepEqual(new Map(entries.map((e) => [e.sourceId, e.class])), want);
  for (const e of entries) {
    assert.equal(e.provider, 'table');
    assert.equal(e.author, 'Doe, Jane');
    assert.equal(e.licence, 'CC-BY-4.0');
  }
  assert.deepEqual(
    ['paris', 'london'].map((c) => entries.filter((e) => e.class === c && e.split === 'validation').length),
    [1, 1],
  );
});

test('readCsv: quotes, escaped quotes, line breaks in fields, CRLF, a BOM, records across read chunks', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 't.csv');
  const long = 'x'.repeat(70_000); // longer than a read chunk (64 KiB), so fields and quotes straddle chunks
  writeFileSync(file, `\ufeffa,b,c\r\n1,"two, ""2""",3\r\n"multi\nline",${long},"${long}"\n\n4,5,\n`);
  const recs = [];
  for await (const r of readCsv(file)) recs.push(r);
  assert.deepEqual(
    recs.map((r) => r.fields),
    [
      ['a', 'b', 'c'],
      ['1', 'two, "2"', '3'],
      ['multi\nline', long, long],
      ['4', '5', ''],
    ],
  );
  assert.deepEqual(
    recs.map((r) => r.line),
    [1, 2, 3, 6],
  );
});

test('captureDateOf: ISO dates and Unix seconds or milliseconds; anything else is unknown', () => {
  assert.equal(captureDateOf('2019-07-01T10:00:00Z'), '2019-07-01');
  assert.equal(captureDateOf('1561975200000'), '2019-07-01');
  assert.equal(captureDateOf('1561975200'), '2019-07-01');
  assert.equal(captureDateOf('yesterday'), null);
});
