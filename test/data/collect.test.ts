import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { collect } from '../../src/data/collect.js';
import { FakeServer, type FaultRule } from '../../src/data/providers/fake_server.js';
import { distanceKm } from '../../src/data/split.js';
import { tempDir } from './helpers.js';
import { TEST_FAULT_ENV } from '../../src/util/test_fault.js';
import {
  allFiles,
  assertNoSecrets,
  checkDataset,
  errorTexts,
  CITIES,
  fastHttp,
  KEY_A,
  KEY_B,
  mapillary,
  SECRET,
  streetView,
  TOKEN,
} from './collect_helpers.js';

async function withServer(t: { after: (fn: () => Promise<void>) => void }, faults: FaultRule[] = [], extra = {}) {
  const server = new FakeServer({ keys: [KEY_A, KEY_B], secret: SECRET, tokens: [TOKEN], faults, ...extra });
  const url = await server.start();
  t.after(() => server.close());
  return { server, url };
}

test(
  'Street View: signed requests, exact counts, ' + 'spatial split 1 km apart, cropped 32x32 and display copies',
  async (t) => {
    const { server, url } = await withServer(t);
    const out = tempDir(t);
    const logs: string[] = [];
    const res = await collect({
      provider: streetView(url),
      regions: CITIES,
      perCity: 15,
      out,
      split: 'spatial',
      valFraction: 0.2,
      seed: 1,
      concurrency: 3,
      log: (l) => logs.push(l),
    });
    assert.equal(res.added, 30);
    const entries = checkDataset(out, ['paris', 'london'], 15);
    for (const c of ['paris', 'london']) {
      const mine = entries.filter((e) => e.class === c);
      assert.equal(mine.filter((e) => e.split === 'validation').length, 3);
      for (const a of mine.filter((e) => e.split === 'train')) {
        for (const b of mine.filter((e) => e.split === 'validation'))
          assert.ok(distanceKm(a.lat!, a.lng!, b.lat!, b.lng!) >= 1);
      }
    }
    assert.equal(server.stats.badSignatures, 0);
    assert.equal(server.stats.requests.image, 30, 'one image request per image');
    assert.ok([...server.stats.served.values()].every((n) => n === 1));
    const meta = server.stats.log.filter((l) => l.startsWith('/maps/api/streetview/metadata'));
    assert.ok(meta.every((l) => /source=outdoor/.test(l) && /radius=50/.test(l) && /&signature=/.test(l)));
    const img = server.stats.log.filter((l) => l.startsWith('/maps/api/streetview?'));
    assert.ok(
      img.every((l) => /size=64x84&pano=[^&]+&heading=\d+&fov=90&pitch=0&return_error_code=true&key=/.test(l)),
      img[0],
    );
    const [e] = entries;
    assert.ok(e, 'an entry');
    const small = await sharp(path.join(out, e.split, e.class, `${e.id}.png`)).metadata();
    assert.deepEqual([small.width, small.height, small.channels], [32, 32, 3]);
    const display = await sharp(path.join(out, 'display', e.class, `${e.id}.jpg`))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([display.info.width, display.info.height], [64, 64]);
    // The fake images carry a grey logo strip in their bottom 20 rows; the crop removed it (bottom row is not grey).
    const row = display.data.subarray(63 * 64 * 3);
    assert.ok(row.some((v, i) => i % 3 === 0 && Math.abs(v - 128) > 20));
    assert.ok(e.captureDate && /^\d{4}-\d{2}$/.test(e.captureDate) && e.heading !== null);
    assertNoSecrets([...allFiles(out), logs.join('\n')]);
  },
);

test(
  'Street View faults: 5xx, 429, OVER_QUERY_LIMIT, ' + 'slow answers, resets, corrupt and truncated images',
  async (t) => {
    const faults: FaultRule[] = [
      { endpoint: 'metadata', kind: 'http500', every: 3, times: 4 },
      { endpoint: 'metadata', kind: 'over_query_limit', every: 5, times: 2 },
      { endpoint: 'metadata', kind: 'slow', every: 7, times: 2, slowMs: 4000 },
      { endpoint: 'metadata', kind: 'reset', every: 4, times: 2 },
      { endpoint: 'metadata', kind: 'corrupt', every: 9, times: 1 },
      { endpoint: 'image', kind: 'http429', every: 4, times: 2 },
      { endpoint: 'image', kind: 'reset', every: 5, times: 2 },
      { endpoint: 'image', kind: 'http500', every: 6, times: 1 },
      { endpoint: 'image', kind: 'corrupt', every: 3, times: 2 },
      { endpoint: 'image', kind: 'truncated', every: 7, times: 1 },
    ];
    const { server, url } = await withServer(t, faults);
    const out = tempDir(t);
    const logs: string[] = [];
    const http = fastHttp((l) => logs.push(l));
    const res = await collect({
      provider: streetView(url, { http }),
      regions: [CITIES[0]],
      perCity: 12,
      out,
      split: 'index',
      valFraction: 0.25,
      seed: 2,
      concurrency: 2,
      log: (l) => logs.push(l),
    });
    assert.equal(res.stopped, undefined);
    assert.equal(res.skipped, 3, 'two corrupt and one truncated image skipped');
    const entries = checkDataset(out, ['paris'], 12);
    assert.equal(entries.filter((e) => e.split === 'validation').length, 3, 'index split: 25% of 12');
    assert.equal(server.stats.faults, 19);
    // Each fault was met and handled: 4 quota answers, 12 transient failures (a loaded machine may add timeouts).
    assert.equal(http.stats.quotaErrors, 4);
    assert.ok(http.stats.transientErrors >= 12, JSON.stringify(http.stats));
    assert.ok(logs.some((l) => /not a decodable image/.test(l)));
    assert.ok(logs.some((l) => /timeout after 1500 ms/.test(l)));
    assert.ok(
      [...server.stats.served.values()].every((n) => n === 1),
      'no image fetched twice',
    );
    assertNoSecrets([...allFiles(out), logs.join('\n')]);
  },
);

test('REQUEST_DENIED and a wrong signing secret stop at once, naming the setting', async (t) => {
  const { server, url } = await withServer(t, [{ endpoint: 'metadata', kind: 'denied', every: 1 }]);
  const run = (provider: ReturnType<typeof streetView>) =>
    collect({
      provider,
      regions: [CITIES[0]],
      perCity: 5,
      out: tempDir(t),
      split: 'index',
      valFraction: 0.2,
      seed: 1,
      concurrency: 2,
    });
  const denied = await run(streetView(url)).catch((e: Error) => e);
  assert.match(String(denied), /REQUEST_DENIED.*check that GOOGLE_MAPS_API_KEY is a valid key/);
  assert.ok(server.stats.requests.metadata <= 3, `${server.stats.requests.metadata} requests`);
  const { url: url2 } = await withServer(t);
  const wrongSecret = 'd3Jvbmctc2VjcmV0LXZhbHVl';
  const badSig = await run(streetView(url2, { secret: wrongSecret })).catch((e: Error) => e);
  assert.match(String(badSig), /signature was rejected: GOOGLE_MAPS_URL_SIGNING_SECRET is wrong/);
  // The wrong secret is a secret too: it must not appear in either error, its stack or its causes.
  const texts = [denied, badSig].flatMap((e) => errorTexts(e));
  assertNoSecrets(texts, [KEY_A, KEY_B, SECRET, TOKEN, wrongSecret]);
});

test('quota: a spent key rotates to the next; when all are spent the run stops cleanly', async (t) => {
  const { server, url } = await withServer(t, [{ endpoint: 'metadata', kind: 'over_query_limit', key: KEY_A }]);
  const logs: string[] = [];
  const out = tempDir(t);
  const res = await collect({
    provider: streetView(url, { keys: [KEY_A, KEY_B], http: fastHttp((l) => logs.push(l)) }),
    regions: [CITIES[0]],
    perCity: 4,
    out,
    split: 'index',
    valFraction: 0.25,
    seed: 1,
    concurrency: 1,
  });
  assert.equal(res.added, 4);
  assert.ok(logs.some((l) => /key #1 of 2 is over its quota; switching to #2/.test(l)));
  assert.ok(server.stats.log.some((l) => l.includes(`key=${KEY_B}`)));
  assertNoSecrets([logs.join('\n')]);

  const { url: url2 } = await withServer(t, [{ endpoint: 'image', kind: 'http429' }]);
  const out2 = tempDir(t);
  const stopped = await collect({
    provider: streetView(url2, { keys: [KEY_A, KEY_B] }),
    regions: [CITIES[0]],
    perCity: 4,
    out: out2,
    split: 'index',
    valFraction: 0.25,
    seed: 1,
    concurrency: 1,
  });
  assert.match(stopped.stopped ?? '', /every GOOGLE_MAPS_API_KEY key \(2\) is over its quota/);
  assert.equal(stopped.added, 0);
  checkDataset(out2, ['paris'], 0);
});

test('--max-requests caps billed image requests and stops cleanly', async (t) => {
  const { server, url } = await withServer(t);
  const out = tempDir(t);
  const res = await collect({
    provider: streetView(url, { budget: 5 }),
    regions: [CITIES[0]],
    perCity: 10,
    out,
    split: 'index',
    valFraction: 0.2,
    seed: 1,
    concurrency: 2,
  });
  assert.match(res.stopped ?? '', /--max-requests 5 reached/);
  assert.equal(server.stats.requests.image, 5);
  assert.equal(res.added, 5);
  checkDataset(out, ['paris'], 5);
});

test('--dry-run asks only the free metadata endpoint and writes nothing', async (t) => {
  const { server, url } = await withServer(t);
  const out = path.join(tempDir(t), 'ds');
  const res = await collect({
    provider: streetView(url),
    regions: CITIES,
    perCity: 6,
    out,
    split: 'spatial',
    valFraction: 0.2,
    seed: 1,
    concurrency: 2,
    dryRun: true,
  });
  assert.equal(res.added, 12);
  assert.deepEqual(res.classes.paris, { train: 5, validation: 1 });
  assert.equal(server.stats.requests.image, 0);
  assert.ok(server.stats.requests.metadata >= 12);
  assert.equal(existsSync(out), false);
});

test('the same seed picks the same panoramas and splits, whatever the concurrency', async (t) => {
  const { url } = await withServer(t);
  const picks = [];
  for (const concurrency of [1, 4]) {
    const out = tempDir(t);
    await collect({
      provider: streetView(url),
      regions: [CITIES[1]],
      perCity: 8,
      out,
      split: 'spatial',
      valFraction: 0.25,
      seed: 9,
      concurrency,
    });
    picks.push(
      checkDataset(out, ['london'], 8)
        .map((e) => `${e.split}:${e.sourceId}`)
        .sort(),
    );
  }
  assert.deepEqual(picks[0], picks[1]);
});

test(
  'Mapillary: token in the header only, search faults retried, ' + 'bad thumbnails skipped, bad token named',
  async (t) => {
    const faults: FaultRule[] = [
      { endpoint: 'search', kind: 'http429', every: 3, times: 2 },
      { endpoint: 'search', kind: 'over_query_limit', every: 5, times: 1 },
      { endpoint: 'search', kind: 'http500', every: 4, times: 2 },
      { endpoint: 'search', kind: 'reset', every: 6, times: 1 },
      { endpoint: 'search', kind: 'slow', every: 7, times: 1, slowMs: 4000 },
      { endpoint: 'thumb', kind: 'corrupt', every: 4, times: 2 },
      { endpoint: 'thumb', kind: 'http500', every: 3, times: 1 },
    ];
    const { server, url } = await withServer(t, faults);
    const out = tempDir(t);
    const logs: string[] = [];
    const res = await collect({
      provider: mapillary(url, { http: fastHttp((l) => logs.push(l)) }),
      regions: CITIES,
      perCity: 6,
      out,
      split: 'index',
      valFraction: 0.2,
      seed: 3,
      concurrency: 2,
      log: (l) => logs.push(l),
    });
    // Every fault was met; the run still completed, skipping exactly the corrupt thumbnails.
    assert.deepEqual(
      faults.map((_, n) => server.fired(n) > 0),
      faults.map(() => true),
      JSON.stringify(server.stats.requests),
    );
    assert.equal(res.skipped, server.fired(5));
    const entries = checkDataset(out, ['paris', 'london'], 6);
    assert.ok(
      entries.every(
        (e) =>
          e.provider === 'mapillary' && /^\d+$/.test(e.sourceId) && /^\d{4}-\d{2}-\d{2}$/.test(e.captureDate ?? ''),
      ),
    );
    assert.ok(server.stats.log.every((l) => !l.includes('access_token') && !l.includes('4242')));
    assert.ok(server.stats.log.some((l) => l.startsWith('/images?fields=id%2Ccomputed_geometry')));
    assertNoSecrets([...allFiles(out), logs.join('\n')]);

    const bad = await collect({
      provider: mapillary(url, { tokens: ['MLY|0|wrong'] }),
      regions: CITIES,
      perCity: 2,
      out: tempDir(t),
      split: 'index',
      valFraction: 0,
      seed: 1,
      concurrency: 1,
    }).catch((e: Error) => e);
    assert.match(String(bad), /Mapillary refused the token.*check MAPILLARY_ACCESS_TOKEN/);
  },
);

test('a server that keeps failing: each lookup gives up after its retries, then the run stops saying so', async (t) => {
  const { server, url } = await withServer(t, [{ endpoint: 'metadata', kind: 'http500' }]);
  const provider = streetView(url);
  const gaveUp = await provider.find({ seq: 0, lat: 48.85, lng: 2.35, heading: 0 }, () => false).catch((e: Error) => e);
  assert.match(String(gaveUp), /GaveUpError: Street View metadata: gave up after 6 attempts \(HTTP 500\)/);
  assert.equal(server.stats.requests.metadata, 6);
  const err = await collect({
    provider,
    regions: [CITIES[0]],
    perCity: 2,
    out: tempDir(t),
    split: 'index',
    valFraction: 0,
    seed: 1,
    concurrency: 1,
  }).catch((e: Error) => e);
  assert.match(String(err), /streetview keeps failing \(21 lookups in a row gave up\)/);
});

test(
  'a full disk mid-run stops the collection with the fix named; ' + 'once there is space, the same command finishes it',
  async (t) => {
    const { server, url } = await withServer(t);
    const out = tempDir(t);
    const run = () =>
      collect({
        provider: streetView(url),
        regions: CITIES,
        perCity: 10,
        out,
        split: 'index',
        valFraction: 0.2,
        seed: 3,
        concurrency: 2,
      });
    process.env[TEST_FAULT_ENV] = 'disk-full-from:.png:7'; // every PNG from the 7th on fails as on a full disk
    try {
      await assert.rejects(run(), /the disk is full; free some space and run again/);
    } finally {
      delete process.env[TEST_FAULT_ENV];
    }
    const kept = checkDataset(out, ['paris', 'london']);
    assert.equal(kept.length, 6, 'the six images written before the disk filled are kept, each with its line');
    assert.deepEqual(
      readdirSync(path.join(out, 'train', 'paris')).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp file left',
    );
    const served = new Map(server.stats.served);
    const res = await run();
    assert.equal(res.added, 14);
    const entries = checkDataset(out, ['paris', 'london'], 10);
    for (const e of kept)
      assert.equal(server.stats.served.get(e.sourceId), served.get(e.sourceId), `${e.sourceId} fetched again`);
    assert.equal(new Set(entries.map((e) => e.id)).size, 20);
  },
);
