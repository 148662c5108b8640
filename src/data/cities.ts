// City regions: where candidate points are sampled. Built-in boxes cover the five cities' urban cores; a GeoJSON
// file with one feature per class (a `name` property, Polygon or MultiPolygon geometry) replaces them.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { own } from '../util/own.js';
import { must } from '../util/must.js';
import type { Rng } from '../util/rng.js';
import { checkClassName } from './manifest.js';

/** Rings of [lng, lat] positions, GeoJSON order; a point is inside when an odd number of rings contain it. */
export interface Region {
  name: string;
  rings: [number, number][][];
  /** [minLng, minLat, maxLng, maxLat] */
  bbox: [number, number, number, number];
}

const box = (name: string, minLng: number, minLat: number, maxLng: number, maxLat: number): Region =>
  makeRegion(name, [
    [
      [minLng, minLat],
      [maxLng, minLat],
      [maxLng, maxLat],
      [minLng, maxLat],
      [minLng, minLat],
    ],
  ]);

// Dense urban areas, chosen to keep most sampled points on streets rather than in water, parks or hills.
// Their names are known to the type checker, so `BUILTIN_REGIONS.paris` is a Region, not possibly undefined.
export const BUILTIN_REGIONS = {
  seoul: box('seoul', 126.89, 37.48, 127.12, 37.6),
  tokyo: box('tokyo', 139.66, 35.62, 139.82, 35.74),
  newyork: makeRegion('newyork', [
    // Manhattan below 125th St, and north-west Brooklyn / western Queens.
    [
      [-74.02, 40.7],
      [-73.97, 40.71],
      [-73.93, 40.8],
      [-73.95, 40.82],
      [-74.0, 40.76],
      [-74.02, 40.7],
    ],
    [
      [-74.0, 40.63],
      [-73.9, 40.63],
      [-73.87, 40.76],
      [-73.94, 40.76],
      [-73.96, 40.7],
      [-74.02, 40.66],
      [-74.0, 40.63],
    ],
  ]),
  london: box('london', -0.22, 51.47, 0.0, 51.56),
  paris: box('paris', 2.26, 48.82, 2.41, 48.9),
} satisfies Record<string, Region>;

export function makeRegion(name: string, rings: [number, number][][]): Region {
  const all = rings.flat();
  const lngs = all.map((p) => p[0]);
  const lats = all.map((p) => p[1]);
  return { name, rings, bbox: [Math.min(...lngs), Math.min(...lats), Math.max(...lngs), Math.max(...lats)] };
}

/** Even-odd ray casting over every ring, so holes and multipolygon parts both work. */
export function contains(region: Region, lng: number, lat: number): boolean {
  let inside = false;
  for (const ring of region.rings) {
    // Each edge runs from the previous vertex to the current one; the first edge closes the ring from its last vertex.
    let previous = ring.at(-1);
    if (previous === undefined) continue;
    for (const current of ring) {
      const [xi, yi] = current;
      const [xj, yj] = previous;
      if (yi > lat !== yj > lat && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
      previous = current;
    }
  }
  return inside;
}

/** A point uniform over the region's area (uniform in the bbox in a local equal-area sense, then rejection). */
export function samplePoint(region: Region, rng: Rng): { lat: number; lng: number } {
  const [minLng, minLat, maxLng, maxLat] = region.bbox;
  // Uniform in sin(lat) is uniform in area; over a city it hardly differs from uniform lat, but costs nothing.
  const s0 = Math.sin((minLat * Math.PI) / 180);
  const s1 = Math.sin((maxLat * Math.PI) / 180);
  for (let tries = 0; tries < 10000; tries++) {
    const lng = minLng + rng.uniform() * (maxLng - minLng);
    const lat = (Math.asin(s0 + rng.uniform() * (s1 - s0)) * 180) / Math.PI;
    if (contains(region, lng, lat)) return { lat, lng };
  }
  throw new Error(`region '${region.name}' covers almost none of its bounding box; check its polygon`);
}

const position = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]).rest(z.number());
const ring = z.array(position).min(4);
const geojsonSchema = z.object({
  type: z.literal('FeatureCollection'),
  features: z
    .array(
      z.object({
        type: z.literal('Feature'),
        properties: z.object({ name: z.string() }),
        geometry: z.discriminatedUnion('type', [
          z.object({ type: z.literal('Polygon'), coordinates: z.array(ring).min(1) }),
          z.object({ type: z.literal('MultiPolygon'), coordinates: z.array(z.array(ring).min(1)).min(1) }),
        ]),
      }),
    )
    .min(1),
});

/** Reads a GeoJSON FeatureCollection: one Polygon/MultiPolygon feature per class, named by `properties.name`. */
export function loadRegions(file: string): Record<string, Region> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(
      `--regions ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid JSON'}`,
    );
  }
  const parsed = geojsonSchema.safeParse(value);
  if (!parsed.success) {
    const issue = must(parsed.error.issues[0], 'a failed zod parse has at least one issue');
    throw new Error(
      `--regions ${file}: at ${issue.path.join('.') || 'the top'}: ${issue.message}; expected a FeatureCollection ` +
        `with one ` +
        'Polygon or MultiPolygon feature per class, each with a "name" property',
    );
  }
  const regions: Record<string, Region> = {};
  for (const f of parsed.data.features) {
    const name = f.properties.name;
    checkClassName(name);
    if (Object.hasOwn(regions, name)) throw new Error(`--regions ${file}: two features are named '${name}'`);
    const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    regions[name] = makeRegion(
      name,
      polys.flat().map((r) => r.map((p) => [p[0], p[1]] as [number, number])),
    );
  }
  return regions;
}

/** Picks `--cities` out of the available regions, in the order given (that order is the label order). */
export function selectRegions(available: Record<string, Region>, cities: string[]): Region[] {
  if (cities.length === 0) throw new Error('--cities is empty; name at least one city');
  return cities.map((c) => {
    const r = own(available, c);
    if (!r)
      throw new Error(
        `unknown city '${c}'; choose from: ${Object.keys(available).join(', ')} (or pass --regions FILE.geojson)`,
      );
    return r;
  });
}
