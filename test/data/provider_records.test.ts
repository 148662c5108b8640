// Provider records are validated before their manifest line: a record with an unexpected value skips that image with
// a logged reason, the run goes on, and the dataset still opens (and resumes) afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { BUILTIN_REGIONS } from '../../src/data/cities.js';
import { collect } from '../../src/data/collect.js';
import { openDataset } from '../../src/data/dataset.js';
import type { Candidate, Provider, Source } from '../../src/data/providers/provider.js';
import { tempDir } from './helpers.js';
import { manifest } from './collect_helpers.js';

const good = (c: Candidate, i: number): Source => ({
  id: `ok${i}`,
  lat: c.lat,
  lng: c.lng,
  heading: 90,
  captureDate: '2021-06',
  ref: 'https://example.org/t.jpg',
});

/** Each mutation turns a good record into one a provider might really send. */
const MUTATIONS: [string, (s: Source) => unknown][] = [
  ['numeric date', (s) => ({ ...s, captureDate: 202106 })],
  ['out-of-range timestamp', (s) => ({ ...s, captureDate: '+275760-09-13' })],
  ['date that is no date', (s) => ({ ...s, captureDate: 'yesterday' })],
  ['plain-http thumbnail', (s) => ({ ...s, ref: 'http://cdn.example.org/t.jpg' })],
  ['thumbnail with credentials', (s) => ({ ...s, ref: 'https://u:p@cdn.example.org/t.jpg' })],
  ['latitude 91', (s) => ({ ...s, lat: 91 })],
  ['longitude -200', (s) => ({ ...s, lng: -200 })],
  ['NaN latitude', (s) => ({ ...s, lat: NaN })],
  ['string longitude', (s) => ({ ...s, lng: '2.35' })],
  ['heading 1e9', (s) => ({ ...s, heading: 1e9 })],
  ['empty id', (s) => ({ ...s, id: '' })],
  ['numeric id', (s) => ({ ...s, id: 12345 })],
  ['id with a newline', (s) => ({ ...s, id: 'a\nb' })],
  ['id of 5000 characters', (s) => ({ ...s, id: 'x'.repeat(5000) })],
];

const kinds = `${MUTATIONS.length} kinds of odd provider record`;
test(`${kinds} are skipped with a reason; the run and the dataset survive`, async (t) => {
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#468' } })
    .jpeg()
    .toBuffer();
  let n = 0;
  const provider: Provider = {
    name: 'stub',
    pricePerImage: 0,
    cropBottom: 0,
    // Records alternate good and mutated until each mutation has been sent once.
    async find(c) {
      const i = n++;
      const m = i % 2 === 1 ? MUTATIONS[(i - 1) / 2] : undefined;
      return (m ? m[1](good(c, i)) : good(c, i)) as Source;
    },
    async fetchImage() {
      return jpeg;
    },
  };
  const out = tempDir(t);
  const lines: string[] = [];
  const res = await collect({
    provider,
    regions: [BUILTIN_REGIONS.paris],
    perCity: 16,
    out,
    split: 'index',
    valFraction: 0.25,
    seed: 1,
    concurrency: 1,
    log: (l) => lines.push(l),
  });
  assert.equal(res.added, 16);
  assert.equal(res.skipped, MUTATIONS.length, lines.join('\n'));
  assert.equal(lines.filter((l) => /record .* skipped: /.test(l)).length, MUTATIONS.length);
  assert.ok(manifest(out).every((e) => /^ok\d+$/.test(e.sourceId)));
  const ds = await openDataset(out);
  assert.equal(ds.train.n + ds.validation.n, 16);
});
