import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classCentres, distanceKm, geoScore } from '../../src/serve/geo.js';

test('great-circle distances match known city pairs', () => {
  const paris = { lat: 48.8566, lng: 2.3522 };
  const london = { lat: 51.5074, lng: -0.1278 };
  const tokyo = { lat: 35.6762, lng: 139.6503 };
  const newYork = { lat: 40.7128, lng: -74.006 };
  // Reference values from the haversine formula on a 6371 km sphere (computed independently in Python).
  assert.ok(Math.abs(distanceKm(paris, london) - 343.6) < 1, `Paris-London ${distanceKm(paris, london)}`);
  assert.ok(Math.abs(distanceKm(newYork, tokyo) - 10851.7) < 1, `New York-Tokyo ${distanceKm(newYork, tokyo)}`);
  assert.equal(distanceKm(paris, paris), 0);
  assert.ok(Math.abs(distanceKm({ lat: 0, lng: 0 }, { lat: 0, lng: 180 }) - Math.PI * 6371.0088) < 1e-6);
});

test('points decay as 5000 exp(-d / 1492.7 km), rounded', () => {
  assert.equal(geoScore(0), 5000);
  assert.equal(geoScore(1492.7), Math.round(5000 / Math.E));
  assert.equal(geoScore(343.6), 3972);
  assert.equal(geoScore(20000), 0);
});

test('class centres average each class on the sphere and skip missing coordinates', () => {
  const c = classCentres([
    { class: 'a', lat: 10, lng: 20 },
    { class: 'a', lat: 12, lng: 22 },
    { class: 'b', lat: 0, lng: 179 },
    { class: 'b', lat: 0, lng: -179 },
    { class: 'c', lat: null, lng: null },
  ]);
  assert.deepEqual([...c.keys()].sort(), ['a', 'b']);
  const a = c.get('a')!;
  assert.ok(Math.abs(a.lat - 11) < 0.02 && Math.abs(a.lng - 21) < 0.02, JSON.stringify(a));
  // Across the antimeridian the centre is at 180, not at 0 as a naive average of longitudes would say.
  const b = c.get('b')!;
  assert.ok(Math.abs(Math.abs(b.lng) - 180) < 1e-9 && Math.abs(b.lat) < 1e-9, JSON.stringify(b));
});
