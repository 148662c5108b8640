// manifest.jsonl: one JSON line per image, append-only; it is the dataset's index and a collection's resume point.
import { must } from '../util/must.js';
import { z } from 'zod';
import { hash32 } from './hash.js';

export const SPLITS = ['train', 'validation'] as const;
export type Split = (typeof SPLITS)[number];

/** Class names double as folder names (`train/<class>/`), so one is never a path: checked wherever one is read. */
export const CLASS_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const manifestEntrySchema = z.object({
  /** File stem, unique in the dataset: `<split>/<class>/<id>.png`, `display/<class>/<id>.jpg`. */
  id: z.string().regex(/^[A-Za-z0-9_-]{1,120}$/),
  class: z.string().regex(CLASS_NAME, 'must be a class name (lowercase letters, digits, _ or -)'),
  split: z.enum(SPLITS),
  /** Where the image came from: streetview, mapillary, folder, fashion-mnist. */
  provider: z.string(),
  /** The provider's id of the source (Street View pano_id, Mapillary image id, a file path, an index). */
  sourceId: z.string(),
  lat: z.number().nullable(),
  lng: z.number().nullable(),
  /** Camera heading in degrees, when known. */
  heading: z.number().nullable(),
  /** Capture date as the provider gives it (Street View: YYYY-MM), when known. */
  captureDate: z.string().nullable(),
  /** sha256 (hex) of the 32x32 PNG file. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Collector only: index of the sampled candidate point that produced the image, so a resumed run starts after it. */
  seq: z.number().int().nonnegative().optional(),
  /** The photo's licence as its source states it (e.g. CC-BY-SA-4.0), when known: see credit.ts. */
  licence: z.string().min(1).max(100).optional(),
  /** The photo's author (a user name), when the source names one. */
  author: z.string().min(1).max(200).optional(),
});
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;

/** Folder and file names: letters, digits, `_` and `-`. */
export function safeName(s: string, maxLength = 120): string {
  const cleaned = s.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  return cleaned.slice(0, maxLength) || 'x';
}

/** The file stem for a source: its id when that is filename-safe, else a cleaned id plus a hash (so no two collide). */
export function imageId(provider: string, sourceId: string): string {
  if (/^[A-Za-z0-9_-]{1,100}$/.test(sourceId)) return `${provider}-${sourceId}`;
  return `${provider}-${safeName(sourceId, 90)}-${hash32(sourceId).toString(16).padStart(8, '0')}`;
}

/** The same class names in the same order: otherwise a label means a different class (checkpoint, dataset, writer). */
export function sameClasses(a: unknown, b: readonly string[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((c, i) => c === b[i]);
}

/** Class names double as folder names, so they are checked strictly. */
export function checkClassName(name: string): void {
  if (typeof name !== 'string' || !CLASS_NAME.test(name)) {
    throw new Error(
      `class name '${name}' is not usable as a folder name; use lowercase letters, digits, '_' or '-' (e.g. ` +
        `'new_york')`,
    );
  }
}

/** classes.json's content: a non-empty array of distinct class names; the error names the file. */
export function checkClassList(value: unknown, file: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === 'string')) {
    throw new Error(`${file} must be a non-empty JSON array of class names in label order`);
  }
  for (const c of value) {
    if (!CLASS_NAME.test(c))
      throw new Error(
        `${file} names class ${JSON.stringify(c)}, which is not a class name (lowercase letters, digits, _ or -); ` +
          `fix the file`,
      );
  }
  if (new Set(value).size !== value.length) throw new Error(`${file} names a class twice`);
  return value as string[];
}

/**
 * Parses manifest text. A final line without its newline is what a killed writer leaves behind: it is reported in
 * `tornBytes` so the caller can cut it off; any other bad line is an error naming its line number.
 */
export function parseManifest(text: string, file = 'manifest.jsonl'): { entries: ManifestEntry[]; tornBytes: number } {
  const entries: ManifestEntry[] = [];
  let tornBytes = 0;
  const lastNewline = text.lastIndexOf('\n');
  if (lastNewline < text.length - 1) {
    tornBytes = Buffer.byteLength(text.slice(lastNewline + 1));
    text = text.slice(0, lastNewline + 1);
  }
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1} is not valid JSON; fix or remove that line`);
    }
    const parsed = manifestEntrySchema.safeParse(value);
    if (!parsed.success) {
      const issue = must(parsed.error.issues[0], 'a failed zod parse has at least one issue');
      throw new Error(`${file}:${i + 1}: field '${issue.path.join('.')}' ${issue.message}; fix or remove that line`);
    }
    entries.push(parsed.data);
  }
  return { entries, tornBytes };
}
