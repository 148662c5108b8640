// The cards the game deals from: a dataset's validation images that have a display copy, with their coordinates.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { creditLine } from '../data/credit.js';
import { readClasses } from '../data/dataset.js';
import { parseManifest } from '../data/manifest.js';
import { CLASSES_FILE, displayPath, imagePath, MANIFEST_FILE } from '../data/writer.js';
import { classCentres, type LatLng } from './geo.js';

export interface Card {
  id: string;
  class: string;
  label: number;
  /** True location, when the manifest has it. */
  where: LatLng | null;
  /** The 32x32 PNG the model classifies (exactly what validation uses). */
  square: string;
  /** The larger JPEG the person sees. */
  display: string;
  /** Author and licence, shown with the answer, for a photo whose licence asks for credit (credit.ts). */
  credit?: string;
}

export interface Deck {
  dir: string;
  classes: string[];
  /** Sorted by id, so a seed deals the same rounds whatever order the manifest was written in. */
  cards: Card[];
  /** Each class's centre, for distances; empty when the manifest has no coordinates. */
  centres: Map<string, LatLng>;
}

export async function openDeck(dir: string): Promise<Deck> {
  const names = await readClasses(dir);
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const text = await fs.readFile(manifestFile, 'utf8').catch((err) => {
    throw new Error(
      `${manifestFile} cannot be read (${(err as Error).message}); the game needs the dataset's manifest`,
    );
  });
  const { entries } = parseManifest(text, manifestFile);
  const cards: Card[] = [];
  for (const e of entries) {
    if (e.split !== 'validation') continue;
    const label = names.indexOf(e.class);
    if (label < 0) throw new Error(`${manifestFile} lists class '${e.class}', which is not in ${CLASSES_FILE}`);
    const display = displayPath(dir, e);
    if (!(await exists(display))) continue;
    const where = e.lat !== null && e.lng !== null ? { lat: e.lat, lng: e.lng } : null;
    const credit = creditLine(e) ?? undefined;
    cards.push({
      id: e.id,
      class: e.class,
      label,
      where,
      square: imagePath(dir, e),
      display,
      ...(credit && { credit }),
    });
  }
  if (cards.length === 0) {
    throw new Error(
      `${dir} has no validation images with a display copy (display/<class>/<id>.jpg); import with --display-size ` +
        `above 0`,
    );
  }
  cards.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { dir, classes: names, cards, centres: classCentres(entries) };
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}
