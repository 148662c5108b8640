// The static game's daily challenge: the same rounds for everyone on a date (from the date and the site's seed), and
// the share line people paste to friends, which shows how each round went but never which city it was.
import { Rng } from '../util/rng.js';

/** Rounds in a daily challenge. */
export const DAILY_ROUNDS = 5;

/** The player's calendar date, YYYY-MM-DD in their own time zone (a daily challenge turns over at local midnight). */
export function localDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** 32-bit FNV-1a: the same number in the browser and in Node, with nothing to import. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** The seed of a date's challenge on a site: one date and one site seed, one deal. */
export function dailySeed(date: string, siteSeed: number): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`a daily challenge's date must be YYYY-MM-DD, got '${date}'`);
  return fnv1a(`geospike-daily:${siteSeed}:${date}`);
}

/**
 * The photo indices (into the site's photo list) of a date's challenge: DAILY_ROUNDS distinct ones, or all if fewer.
 */
export function dailyDeal(date: string, siteSeed: number, photos: number): number[] {
  const all = Array.from({ length: photos }, (_, i) => i);
  return new Rng(dailySeed(date, siteSeed)).shuffle(all).slice(0, Math.min(DAILY_ROUNDS, photos));
}

/** Any game's deal from a seed: the photo indices game.ts's GameHall would deal from the same seed and cards. */
export function seededDeal(seed: number, photos: number, rounds: number): number[] {
  const all = Array.from({ length: photos }, (_, i) => i);
  return new Rng(seed).shuffle(all).slice(0, rounds);
}

export interface ShareTally {
  name: string;
  /** Per round, in order: right or not. */
  rounds: boolean[];
  points: number | null;
}

const RIGHT = '🟩';
const WRONG = '🟥';

/**
 * The share line: the date, the player's row of squares (green right, red wrong) and total, then each model's. Only
 * right/wrong and totals: no city, photo or guess, so pasting it spoils nothing for a friend who has not played.
 */
export function shareLine(date: string, person: ShareTally, models: ShareTally[]): string {
  const row = (t: ShareTally) => {
    const right = t.rounds.filter(Boolean).length;
    const pts = t.points === null ? '' : ` ${t.points.toLocaleString('en-US')} pts`;
    return `${t.rounds.map((r) => (r ? RIGHT : WRONG)).join('')} ${right}/${t.rounds.length}${pts}`;
  };
  return [`geospike daily ${date}`, `me ${row(person)}`, ...models.map((m) => `${m.name} ${row(m)}`)].join('\n');
}
