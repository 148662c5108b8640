// Train/validation assignment for collected images.
//
// spatial: the region is cut into CELL_KM squares; a seeded shuffle marks a share of them validation. Panoramas
// within GAP_KM / 2 of a neighbouring cell of the other side are dropped (their metadata is free), so any train and
// any validation panorama are at least GAP_KM apart: the straight line between them crosses the border between the
// two sides, and both ends are at least GAP_KM / 2 from it.
// index: the original study's split, the first (1 - valFraction) of each class's images train, the rest validate.
import { Rng } from '../util/rng.js';
import type { Region } from './cities.js';
import { hash32 } from './hash.js';
import type { Split } from './manifest.js';

// 4 km cells keep most of each validation cell outside the gap (3x3 of its 4x4 km).
export const CELL_KM = 4;
export const GAP_KM = 1;
// Half the gap, plus 3% for the flat projection's error over a city-sized region.
const GUARD_KM = (GAP_KM / 2) * 1.03;
const KM_PER_DEG_LAT = 110.574;
const KM_PER_DEG_LNG_EQUATOR = 111.32;

export class SpatialSplitter {
  private readonly valCells = new Set<string>();
  private readonly lat0: number;
  private readonly lng0: number;
  private readonly kmPerDegLng: number;

  constructor(region: Region, valFraction: number, seed: number) {
    const [minLng, minLat, maxLng, maxLat] = region.bbox;
    this.lat0 = minLat;
    this.lng0 = minLng;
    this.kmPerDegLng = KM_PER_DEG_LNG_EQUATOR * Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
    const [cx1, cy1] = this.cellOf(maxLat, maxLng);
    const cells: string[] = [];
    for (let cx = 0; cx <= cx1; cx++) for (let cy = 0; cy <= cy1; cy++) cells.push(`${cx},${cy}`);
    if (valFraction > 0) {
      // At least one validation cell and one train cell when there are two or more.
      const nVal = Math.min(Math.max(1, Math.round(cells.length * valFraction)), Math.max(1, cells.length - 1));
      for (const c of new Rng(hash32(seed, 'spatial-split', region.name)).shuffle(cells).slice(0, nVal))
        this.valCells.add(c);
    }
  }

  /** Local planar km coordinates of a position (equirectangular about the region's centre latitude). */
  km(lat: number, lng: number): [number, number] {
    return [(lng - this.lng0) * this.kmPerDegLng, (lat - this.lat0) * KM_PER_DEG_LAT];
  }

  private cellOf(lat: number, lng: number): [number, number] {
    const [x, y] = this.km(lat, lng);
    return [Math.floor(x / CELL_KM), Math.floor(y / CELL_KM)];
  }

  private sideOf(cx: number, cy: number): Split {
    return this.valCells.has(`${cx},${cy}`) ? 'validation' : 'train';
  }

  /** The side of a panorama at (lat, lng), or null when it lies in the gap along a train/validation border. */
  assign(lat: number, lng: number): Split | null {
    const [x, y] = this.km(lat, lng);
    const cx = Math.floor(x / CELL_KM);
    const cy = Math.floor(y / CELL_KM);
    const side = this.sideOf(cx, cy);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        if ((dx === 0 && dy === 0) || this.sideOf(cx + dx, cy + dy) === side) continue;
        // Distance from (x, y) to the neighbouring cell's square.
        const ddx = Math.max((cx + dx) * CELL_KM - x, 0, x - (cx + dx + 1) * CELL_KM);
        const ddy = Math.max((cy + dy) * CELL_KM - y, 0, y - (cy + dy + 1) * CELL_KM);
        if (Math.hypot(ddx, ddy) < GUARD_KM) return null;
      }
    }
    return side;
  }
}

/** Great-circle distance in km (haversine), for checking the split. */
export function distanceKm(lat1: number, lng1: number, lat2: number, lng2: number): number {
  const r = Math.PI / 180;
  const a =
    Math.sin(((lat2 - lat1) * r) / 2) ** 2 +
    Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lng2 - lng1) * r) / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.sqrt(a));
}
