// Photo credits: a licence of the Creative Commons BY family (CC-BY, CC-BY-SA, ...) asks that the author and the
// licence be named wherever the photo is shown. The manifest keeps both per photo (importers/table.ts); the game's
// reveal and the report name them from here.
import type { ManifestEntry } from './manifest.js';

/** Whether the licence asks for attribution (any Creative Commons licence but CC0 does). */
export function needsCredit(licence: string | undefined): boolean {
  return licence !== undefined && /^CC[- ]?BY\b/i.test(licence.trim());
}

/** "Photo: <author> (<source> <id>), <licence>", or null when the photo's licence does not ask for credit. */
export function creditLine(e: Pick<ManifestEntry, 'licence' | 'author' | 'provider' | 'sourceId'>): string | null {
  if (!needsCredit(e.licence)) return null;
  return `Photo: ${e.author ?? 'unknown author'} (${e.provider} ${e.sourceId}), ${e.licence}`;
}

/** Per source and licence, how many photos need credit and by how many authors, with the most frequent authors. */
export function creditSummary(
  entries: Pick<ManifestEntry, 'licence' | 'author' | 'provider'>[],
  top = 20,
): { provider: string; licence: string; photos: number; authors: number; topAuthors: [string, number][] }[] {
  const groups = new Map<string, { provider: string; licence: string; photos: number; by: Map<string, number> }>();
  for (const e of entries) {
    if (!needsCredit(e.licence)) continue;
    const k = `${e.provider}\u0000${e.licence}`;
    let g = groups.get(k);
    if (!g) {
      g = { provider: e.provider, licence: e.licence!, photos: 0, by: new Map() };
      groups.set(k, g);
    }
    g.photos++;
    const a = e.author ?? 'unknown author';
    g.by.set(a, (g.by.get(a) ?? 0) + 1);
  }
  return [...groups.values()].map((g) => ({
    provider: g.provider,
    licence: g.licence,
    photos: g.photos,
    authors: g.by.size,
    topAuthors: [...g.by].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top),
  }));
}
