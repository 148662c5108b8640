// The report's photo credits: the datasets the runs were trained on (config.json's `data`), and for the photos whose
// licence asks for attribution (CC BY, CC BY-SA: credit.ts), their source, licence and authors.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { creditSummary } from '../../data/credit.js';
import { parseManifest } from '../../data/manifest.js';
import { MANIFEST_FILE } from '../../data/writer.js';

export interface DatasetCredits {
  /** The dataset folder, as the run's config.json names it. */
  data: string;
  groups: ReturnType<typeof creditSummary>;
}

/** Credits of each dataset the runs name, once each; a dataset that is not on this machine is left out. */
export function datasetCredits(runDirs: string[]): DatasetCredits[] {
  const seen = new Set<string>();
  const out: DatasetCredits[] = [];
  for (const dir of runDirs) {
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { data?: unknown }).data;
    } catch {
      continue; // readRun has already said what is wrong with the run folder
    }
    if (typeof data !== 'string' || seen.has(path.resolve(data))) continue;
    seen.add(path.resolve(data));
    const manifest = path.join(data, MANIFEST_FILE);
    if (!existsSync(manifest)) continue;
    const groups = creditSummary(parseManifest(readFileSync(manifest, 'utf8'), manifest).entries);
    if (groups.length > 0) out.push({ data, groups });
  }
  return out;
}
