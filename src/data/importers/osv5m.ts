// OpenStreetView-5M (huggingface.co/datasets/osv5m/osv5m, CC-BY-SA 4.0): `train.csv` / `test.csv` with one row per
// Mapillary photo, and the photos as `<id>.jpg` in zip archives under `images/train/` and `images/test/` (or those
// archives already extracted there). This fills in the table importer's columns, layout and licence.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { TableColumns } from './table.js';

export const OSV5M_LICENCE = 'CC-BY-SA-4.0';
export const OSV5M_URL = 'https://huggingface.co/datasets/osv5m/osv5m';
export const OSV5M_COLUMNS: TableColumns = {
  id: 'id',
  lat: 'latitude',
  lon: 'longitude',
  author: 'creator_username',
  date: 'captured_at',
};

const exists = (p: string) =>
  fs.stat(p).then(
    (s) => s,
    () => undefined,
  );

/** The tables and image sources of an OpenStreetView-5M copy in `dir`, or an error saying what to download. */
export async function osv5mLayout(
  dir: string,
  parts: ('train' | 'test')[],
): Promise<{ csv: string[]; images: string[] }> {
  if (!(await exists(dir))?.isDirectory()) throw new Error(`${dir} is not a folder; pass the folder holding train.csv`);
  const csv: string[] = [];
  const images: string[] = [];
  for (const part of parts) {
    const table = path.join(dir, `${part}.csv`);
    if (!(await exists(table))?.isFile()) continue;
    csv.push(table);
    const folder = path.join(dir, 'images', part);
    if (!(await exists(folder))?.isDirectory()) continue;
    // The folder is searched for archives and for photos already extracted (nested or not).
    images.push(folder);
  }
  if (csv.length === 0)
    throw new Error(
      `${dir} holds no ${parts.map((p) => `${p}.csv`).join(' or ')}; download the metadata from ${OSV5M_URL} (see ` +
        `docs/real-cities.md)`,
    );
  if (images.length === 0 || !(await holdsAnything(images)))
    throw new Error(
      `${dir}/images/${parts.join('|')}/ holds no archives or photos; download images/train/*.zip from ${OSV5M_URL} ` +
        `(see docs/real-cities.md)`,
    );
  return { csv, images };
}

async function holdsAnything(folders: string[]): Promise<boolean> {
  for (const f of folders) if ((await fs.readdir(f)).length > 0) return true;
  return false;
}
