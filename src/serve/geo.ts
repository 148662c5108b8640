// Distances and GeoGuessr-style points for the game.
import type { ManifestEntry } from '../data/manifest.js';

export interface LatLng {
  lat: number;
  lng: number;
}

const EARTH_RADIUS_KM = 6371.0088; // mean radius (IUGG)
/** GeoGuessr's world-map decay: a guess d km away scores 5000 exp(-d / 1492.7). */
export const SCORE_SCALE_KM = 1492.7;
export const MAX_SCORE = 5000;

const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance (haversine) in km. */
export function distanceKm(a: LatLng, b: LatLng): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function geoScore(km: number): number {
  return Math.round(MAX_SCORE * Math.exp(-km / SCORE_SCALE_KM));
}

/**
 * Each class's centre: the spherical mean of the coordinates of all its images in the manifest. Datasets are sampled
 * uniformly over each city's region, so this is the region's centre whatever regions the dataset was collected with
 * (built-in or a GeoJSON file). Classes without coordinates are absent.
 */
export function classCentres(entries: Pick<ManifestEntry, 'class' | 'lat' | 'lng'>[]): Map<string, LatLng> {
  const sums = new Map<string, [number, number, number]>();
  for (const e of entries) {
    if (e.lat === null || e.lng === null) continue;
    const s = sums.get(e.class) ?? [0, 0, 0];
    // Average unit vectors, not degrees, so a class straddling the antimeridian still gets a sensible centre.
    s[0] += Math.cos(rad(e.lat)) * Math.cos(rad(e.lng));
    s[1] += Math.cos(rad(e.lat)) * Math.sin(rad(e.lng));
    s[2] += Math.sin(rad(e.lat));
    sums.set(e.class, s);
  }
  const out = new Map<string, LatLng>();
  for (const [c, [x, y, z]] of sums) {
    const deg = (r: number) => (r * 180) / Math.PI;
    out.set(c, { lat: deg(Math.atan2(z, Math.hypot(x, y))), lng: deg(Math.atan2(y, x)) });
  }
  return out;
}
