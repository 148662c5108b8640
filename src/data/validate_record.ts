// A provider's record is checked before anything is fetched or written for it: what reaches manifest.jsonl is read
// back by every later openDataset, resume and `play`, so one odd value (a numeric date, a timestamp out of range, a
// plain-http thumbnail, coordinates off the globe) would break the dataset for good. Such a record skips its image.
import { checkEndpoint } from './providers/http.js';
import type { Source } from './providers/provider.js';

const finiteIn = (v: unknown, lo: number, hi: number) =>
  typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;

/** Why the record cannot be used, or null when it can. */
export function sourceProblem(s: Source): string | null {
  const r = s as unknown as Record<string, unknown>;
  if (typeof r.id !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(r.id)) return 'its id is not 1-200 printable characters';
  if (!finiteIn(r.lat, -90, 90) || !finiteIn(r.lng, -180, 180))
    return `its coordinates (${String(r.lat)}, ${String(r.lng)}) are not a place on Earth`;
  if (r.heading !== null && !finiteIn(r.heading, 0, 360)) return `its heading ${String(r.heading)} is not in [0, 360]`;
  if (r.captureDate !== null && !(typeof r.captureDate === 'string' && isDate(r.captureDate))) {
    return `its capture date ${JSON.stringify(r.captureDate)} is not a YYYY-MM or YYYY-MM-DD date`;
  }
  if (r.ref !== undefined) {
    if (typeof r.ref !== 'string') return 'its image URL is not a string';
    try {
      checkEndpoint(r.ref, 'its image URL');
    } catch (err) {
      return (err as Error).message.replace(/, so keys.*$/, '');
    }
  }
  return null;
}

function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), m[3] === undefined ? 1 : Number(m[3])];
  return y >= 1900 && y <= 2200 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}
