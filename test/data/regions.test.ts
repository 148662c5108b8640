import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BUILTIN_REGIONS,
  contains,
  loadRegions,
  makeRegion,
  samplePoint,
  selectRegions,
} from '../../src/data/cities.js';
import { distanceKm, SpatialSplitter } from '../../src/data/split.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from './helpers.js';

test('built-in regions cover the five cities and sampled points fall inside them', () => {
  assert.deepEqual(Object.keys(BUILTIN_REGIONS), ['seoul', 'tokyo', 'newyork', 'london', 'paris']);
  const rng = new Rng(1);
  for (const r of Object.values(BUILTIN_REGIONS)) {
    for (let i = 0; i < 50; i++) {
      const p = samplePoint(r, rng);
      assert.ok(contains(r, p.lng, p.lat));
    }
  }
  // A landmark inside each, and one outside all (the Atlantic).
  for (const [name, lat, lng] of [
    ['seoul', 37.5665, 126.978],
    ['tokyo', 35.6812, 139.7671],
    ['newyork', 40.758, -73.9855],
    ['london', 51.5074, -0.1278],
    ['paris', 48.8566, 2.3522],
  ] as const) {
    assert.ok(contains(BUILTIN_REGIONS[name], lng, lat), name);
    assert.ok(!contains(BUILTIN_REGIONS[name], -30, 40), name);
  }
});

test('holes are outside; a GeoJSON file replaces the built-in regions; mistakes are named', (t) => {
  const square = [
    [0, 0],
    [1, 0],
    [1, 1],
    [0, 1],
    [0, 0],
  ] as [number, number][];
  const hole = [
    [0.4, 0.4],
    [0.6, 0.4],
    [0.6, 0.6],
    [0.4, 0.6],
    [0.4, 0.4],
  ] as [number, number][];
  const r = makeRegion('x', [square, hole]);
  assert.ok(contains(r, 0.2, 0.2) && !contains(r, 0.5, 0.5) && !contains(r, 1.5, 0.5));
  const dir = tempDir(t);
  const file = path.join(dir, 'r.geojson');
  writeFileSync(
    file,
    JSON.stringify({
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { name: 'alpha' }, geometry: { type: 'Polygon', coordinates: [square] } },
        {
          type: 'Feature',
          properties: { name: 'beta' },
          geometry: { type: 'MultiPolygon', coordinates: [[square], [hole]] },
        },
      ],
    }),
  );
  const regions = loadRegions(file);
  assert.deepEqual(
    selectRegions(regions, ['beta', 'alpha']).map((x) => x.name),
    ['beta', 'alpha'],
  );
  assert.throws(() => selectRegions(regions, ['paris']), /unknown city 'paris'; choose from: alpha, beta/);
  writeFileSync(
    file,
    JSON.stringify({
      type: 'FeatureCollection',
      features: [{ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [square] } }],
    }),
  );
  assert.throws(() => loadRegions(file), /at features.0.properties.name/);
  assert.throws(() => loadRegions(path.join(dir, 'none.geojson')), /file not found/);
});

test('the spatial split keeps train and validation panoramas at least 1 km apart, near the asked share', () => {
  const region = BUILTIN_REGIONS.seoul;
  const split = new SpatialSplitter(region, 0.2, 4);
  const rng = new Rng(9);
  const sides: Record<'train' | 'validation', { lat: number; lng: number }[]> = { train: [], validation: [] };
  let dropped = 0;
  for (let i = 0; i < 3000; i++) {
    const p = samplePoint(region, rng);
    const s = split.assign(p.lat, p.lng);
    if (s) sides[s].push(p);
    else dropped++;
  }
  const kept = sides.train.length + sides.validation.length;
  const share = sides.validation.length / kept;
  assert.ok(share > 0.07 && share < 0.3, `validation share ${share}`);
  assert.ok(dropped > 0 && dropped < 1500, `dropped ${dropped}`);
  let min = Infinity;
  for (const a of sides.train)
    for (const b of sides.validation) min = Math.min(min, distanceKm(a.lat, a.lng, b.lat, b.lng));
  assert.ok(min >= 1, `closest train/validation pair ${min} km`);
  // Deterministic for a seed, different for another.
  const again = new SpatialSplitter(region, 0.2, 4);
  assert.ok(sides.validation.every((p) => again.assign(p.lat, p.lng) === 'validation'));
  const other = new SpatialSplitter(region, 0.2, 5);
  assert.ok(sides.validation.some((p) => other.assign(p.lat, p.lng) !== 'validation'));
});
