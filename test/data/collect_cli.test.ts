// The collect command as a user runs it: a child process, killed with -9 or Ctrl-C and started again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeServer } from '../../src/data/providers/fake_server.js';
import { TEST_FAULT_ENV } from '../../src/util/test_fault.js';
import { tempDir } from './helpers.js';
import { allFiles, assertNoSecrets, checkDataset, KEY_A, KEY_B, manifest, SECRET, TOKEN } from './collect_helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run {
  child: ReturnType<typeof spawn>;
  output: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

function run(args: string[], env: Record<string, string>): Run {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/GOOGLE_MAPS|MAPILLARY|GEOSPIKE_TEST_FAULT/.test(k)),
  );
  // --yes: no terminal here to confirm the cost on (the refusal without it is tested below).
  const child = spawn(process.execPath, [MAIN, 'collect', '--yes', ...args], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, output: () => output, done };
}

/** Resolves once the run has printed `text`; fails if it ends first. */
function printed(r: Run, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => r.output().includes(text) && resolve();
    r.child.stdout!.on('data', check);
    r.child.stderr!.on('data', check);
    r.child.on('close', () => reject(new Error(`the run ended without printing '${text}':\n${r.output()}`)));
    check();
  });
}

const ENV = {
  GOOGLE_MAPS_API_KEY: `${KEY_A},${KEY_B}`,
  GOOGLE_MAPS_URL_SIGNING_SECRET: SECRET,
  MAPILLARY_ACCESS_TOKEN: TOKEN,
};

test(
  'kill -9 and Ctrl-C mid-run, then resume: complete, ' + 'no duplicates, nothing fetched twice, no secret anywhere',
  async (t) => {
    // Each interrupted run pauses once it has added N images (GEOSPIKE_TEST_FAULT, src/util/test_fault.ts), so the
    // kill and the Ctrl-C land mid-run every time; with --concurrency 2 at most one more image is in flight.
    const server = new FakeServer({ keys: [KEY_A, KEY_B], secret: SECRET, tokens: [TOKEN] });
    const url = await server.start();
    t.after(() => server.close());
    const out = path.join(tempDir(t), 'cities');
    const args = [
      '--cities',
      'paris,london',
      '--per-city',
      '12',
      '--out',
      out,
      '--endpoint',
      url,
      '--qps',
      '1000',
      '--concurrency',
      '2',
      '--seed',
      '4',
      '--backoff-ms',
      '5',
    ];
    const outputs: string[] = [];

    const first = run(args, { ...ENV, [TEST_FAULT_ENV]: 'pause-after-image:5' });
    await printed(first, 'test fault: paused after image 5');
    first.child.kill('SIGKILL');
    const r1 = await first.done;
    outputs.push(r1.output);
    assert.equal(r1.signal, 'SIGKILL');
    assert.match(r1.output, /plan: streetview, 2 cities x 12 = 24 images, 24 still needed/);
    assert.match(r1.output, /image requests: 24 \(\$0\.17 at \$7 per 1,000\)/);
    const written1 = manifest(out).length; // a torn last line is ignored by the parser, as by the writer
    assert.ok(written1 >= 5 && written1 <= 6, `${written1} images before the kill`);

    // Sources already in the manifest when a run starts must not be requested by it.
    const unchangedFrom = (listed: { sourceId: string }[], served: Map<string, number>) => {
      for (const e of listed)
        assert.equal(server.stats.served.get(e.sourceId), served.get(e.sourceId), `${e.sourceId} fetched again`);
    };
    const before2 = { listed: manifest(out), served: new Map(server.stats.served) };
    const second = run(args, { ...ENV, [TEST_FAULT_ENV]: 'pause-after-image:4' });
    await printed(second, 'test fault: paused after image 4');
    second.child.kill('SIGINT');
    const r2 = await second.done;
    outputs.push(r2.output);
    assert.equal(r2.code, 130, r2.output);
    assert.match(r2.output, /stopping: aborting the requests in flight, keeping every image already downloaded/);
    const partial = checkDataset(out, ['paris', 'london']);
    // the requests in flight when Ctrl-C came are aborted (images
    // already downloaded are kept), and no new one is started
    assert.ok(
      partial.length >= written1 + 4 && partial.length <= written1 + 6,
      `${partial.length} images after Ctrl-C`,
    );

    unchangedFrom(before2.listed, before2.served);
    const served3 = new Map(server.stats.served);
    const third = run(args, ENV);
    const r3 = await third.done;
    outputs.push(r3.output);
    assert.equal(r3.code, 0, r3.output);
    assert.match(r3.output, new RegExp(`${24 - partial.length} still needed`));
    const entries = checkDataset(out, ['paris', 'london'], 12);
    unchangedFrom(partial, served3);
    // At most the images in flight at each interruption (2 per run) were fetched twice.
    assert.ok(server.stats.requests.image <= 24 + 4, `${server.stats.requests.image} image requests`);
    assert.equal(new Set(entries.map((e) => e.id)).size, 24);

    const again = await run(args, ENV).done;
    assert.equal(again.code, 0);
    assert.match(again.output, /nothing to do/);
    outputs.push(again.output);
    assertNoSecrets([...allFiles(out), ...outputs]);
  },
);

test('bad settings fail fast with the setting named and no secret in the output', async (t) => {
  const server = new FakeServer({ keys: [KEY_A], secret: SECRET, tokens: [TOKEN] });
  const url = await server.start();
  t.after(() => server.close());
  const base = ['--cities', 'paris', '--per-city', '3', '--endpoint', url, '--qps', '1000'];
  const wrongSecret = 'd3Jvbmctc2VjcmV0LXZhbHVl';
  const outs: string[] = [];
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ['--out', tempDir(t)],
      { GOOGLE_MAPS_API_KEY: KEY_A, GOOGLE_MAPS_URL_SIGNING_SECRET: wrongSecret },
      /GOOGLE_MAPS_URL_SIGNING_SECRET is wrong/,
    ],
    [
      ['--out', tempDir(t)],
      { GOOGLE_MAPS_API_KEY: KEY_B, GOOGLE_MAPS_URL_SIGNING_SECRET: SECRET },
      /REQUEST_DENIED.*GOOGLE_MAPS_API_KEY/,
    ],
    [['--out', tempDir(t)], {}, /GOOGLE_MAPS_API_KEY is not set/],
    [
      ['--out', tempDir(t), '--provider', 'mapillary'],
      { MAPILLARY_ACCESS_TOKEN: 'MLY|1|nope' },
      /Mapillary refused the token/,
    ],
    [
      ['--out', tempDir(t), '--endpoint', 'http://example.com'],
      { GOOGLE_MAPS_API_KEY: KEY_A },
      /--endpoint must use https/,
    ],
    [['--out', tempDir(t), '--per-city', 'ten'], { GOOGLE_MAPS_API_KEY: KEY_A }, /--per-city must be a whole number/],
  ];
  for (const [args, env, expected] of cases) {
    const r = await run([...base, ...args], env).done;
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, expected);
    outs.push(r.output);
  }
  assertNoSecrets(outs, [KEY_A, KEY_B, SECRET, wrongSecret, 'MLY|1|nope']);
});

test('--dry-run over --regions GeoJSON with Mapillary: plan and counts printed, nothing written', async (t) => {
  const server = new FakeServer({ tokens: [TOKEN] });
  const url = await server.start();
  t.after(() => server.close());
  const dir = tempDir(t);
  const regions = path.join(dir, 'towns.geojson');
  const square = (lng: number, lat: number) => [
    [
      [lng, lat],
      [lng + 0.1, lat],
      [lng + 0.1, lat + 0.08],
      [lng, lat + 0.08],
      [lng, lat],
    ],
  ];
  writeFileSync(
    regions,
    JSON.stringify({
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          properties: { name: 'lyon' },
          geometry: { type: 'Polygon', coordinates: square(4.8, 45.72) },
        },
        {
          type: 'Feature',
          properties: { name: 'bern' },
          geometry: { type: 'Polygon', coordinates: square(7.4, 46.92) },
        },
      ],
    }),
  );
  const out = path.join(dir, 'towns');
  const r = await run(
    [
      '--provider',
      'mapillary',
      '--regions',
      regions,
      '--cities',
      'bern,lyon',
      '--per-city',
      '5',
      '--out',
      out,
      '--endpoint',
      url,
      '--qps',
      '1000',
      '--dry-run',
    ],
    { MAPILLARY_ACCESS_TOKEN: TOKEN },
  ).done;
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /plan: mapillary, 2 cities x 5 = 10 images, 10 still needed \(bern 5, lyon 5\)/);
  assert.match(r.output, /dry run: found 10 images/);
  assert.match(r.output, /bern: train 4, validation 1/);
  assert.equal(server.stats.requests.thumb, 0);
  assert.equal(existsSync(out), false);
  assertNoSecrets([r.output]);
});

test('Mapillary with every thumbnail unusable stops at --max-requests instead of running on', async (t) => {
  const server = new FakeServer({ tokens: [TOKEN], faults: [{ endpoint: 'thumb', kind: 'corrupt' }] });
  const url = await server.start();
  t.after(() => server.close());
  const out = path.join(tempDir(t), 'mly');
  const args = ['--provider', 'mapillary', '--cities', 'paris', '--per-city', '4', '--out', out, '--endpoint', url];
  const r = run([...args, '--qps', '1000', '--concurrency', '2', '--max-requests', '6', '--backoff-ms', '5'], ENV);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 30_000); // without a budget it never ends
  const res = await r.done;
  clearTimeout(timer);
  assert.equal(res.signal, null, `the run did not stop by itself:\n${res.output.slice(-600)}`);
  assert.equal(res.code, 3, res.output);
  assert.match(res.output, /stopped early: --max-requests 6 reached/);
  assert.ok(server.stats.requests.thumb <= 6, `${server.stats.requests.thumb} thumbnail requests`);
  assert.equal(existsSync(path.join(out, '.geospike.lock')), false);
});

test(
  'SIGTERM mid-run (Mapillary) stops like Ctrl-C: ' + 'the images written are kept and the lock is released',
  async (t) => {
    const server = new FakeServer({ tokens: [TOKEN] });
    const url = await server.start();
    t.after(() => server.close());
    const out = path.join(tempDir(t), 'mly');
    const args = ['--provider', 'mapillary', '--cities', 'paris', '--per-city', '12', '--out', out, '--endpoint', url];
    const r = run([...args, '--qps', '1000', '--concurrency', '2', '--backoff-ms', '5'], {
      ...ENV,
      [TEST_FAULT_ENV]: 'pause-after-image:3',
    });
    await printed(r, 'test fault: paused after image 3');
    r.child.kill('SIGTERM');
    const res = await r.done;
    assert.equal(res.signal, null, `killed by the signal instead of stopping:\n${res.output}`);
    assert.equal(res.code, 143, res.output);
    assert.match(res.output, /SIGTERM: stopping: aborting the requests in flight/);
    assert.equal(existsSync(path.join(out, '.geospike.lock')), false, 'the lock was left behind');
    const entries = checkDataset(out, ['paris']);
    assert.ok(entries.length >= 3 && entries.length <= 5, `${entries.length} images kept`);
  },
);

test(
  'collect asks before spending: ' + 'without a terminal and without --yes it refuses, and nothing is written',
  async (t) => {
    const out = path.join(tempDir(t), 'cities');
    const child = spawn(process.execPath, [MAIN, 'collect', '--cities', 'paris', '--per-city', '3', '--out', out], {
      env: { ...process.env, GOOGLE_MAPS_API_KEY: KEY_A },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr!.on('data', (d) => (output += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 1);
    assert.match(output, /image requests: 3 \(\$0\.02 at \$7 per 1,000\)/, 'the plan is printed first');
    assert.match(output, /would spend up to \$[\d.]+ .*pass --yes to agree, or --dry-run/);
    assert.ok(!existsSync(path.join(out, 'manifest.jsonl')));
    assertNoSecrets([output]);
  },
);

test('on a terminal collect asks: "n" spends nothing and writes nothing, "y" goes on to the first request', (t) => {
  const out = path.join(tempDir(t), 'cities');
  // util-linux `script` runs the command on a pseudo-terminal fed from our stdin, as a person's terminal would be.
  const onTerminal = (answer: string) => {
    const cmd = [process.execPath, MAIN, 'collect', '--cities', 'paris', '--per-city', '3', '--out', out];
    const r = spawnSync(
      'script',
      ['-qec', [...cmd, '--endpoint', 'https://geospike-test.invalid'].join(' '), '/dev/null'],
      {
        input: `${answer}\n`,
        encoding: 'utf8',
        env: { ...process.env, GOOGLE_MAPS_API_KEY: KEY_A },
      },
    );
    assert.equal(r.error, undefined, 'util-linux `script` is needed (Debian: bsdutils)');
    assertNoSecrets([r.stdout]);
    return r;
  };
  const no = onTerminal('n');
  assert.equal(no.status, 0, no.stdout);
  assert.match(no.stdout, /spend up to \$[\d.]+ \(\d+ billed image requests\)\? \[y\/N\]/);
  assert.match(no.stdout, /nothing spent: the answer was not yes/);
  assert.ok(!existsSync(path.join(out, 'manifest.jsonl')));
  const yes = onTerminal('y');
  assert.equal(yes.status, 1, yes.stdout);
  assert.doesNotMatch(yes.stdout, /nothing spent/);
  assert.match(yes.stdout, /cannot reach geospike-test\.invalid/, 'the yes was taken: it went on to the network');
});

test('a host name that does not resolve stops collect at once with a sentence about the network', async (t) => {
  const r = await run(
    ['--cities', 'paris', '--per-city', '3', '--out', tempDir(t), '--endpoint', 'https://geospike-test.invalid'],
    { GOOGLE_MAPS_API_KEY: KEY_A },
  ).done;
  assert.equal(r.code, 1);
  assert.match(r.output, /cannot reach geospike-test\.invalid: its name does not resolve \((ENOTFOUND|EAI_AGAIN)\)/);
  assert.doesNotMatch(r.output, /retry \d+ of/, 'no retries of a name that does not resolve');
  assertNoSecrets([r.output]);
});
