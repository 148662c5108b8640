// The collection job: for each class, seeded candidate points -> provider metadata (free) -> dedupe and split ->
// image fetch (billed) -> crop/resize -> dataset folder. manifest.jsonl is the resume point: a restarted run skips
// every source it lists and continues the candidate sequence after the last one it used.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Region } from './cities.js';
import { ClassCollection, type CollectRun, halted } from './collect_class.js';
import { type ManifestEntry, parseManifest } from './manifest.js';
import { BudgetExhaustedError, QuotaExhaustedError, StoppedError } from './providers/http.js';
import type { Provider } from './providers/provider.js';
import { DatasetWriter, MANIFEST_FILE } from './writer.js';

export type SplitMode = 'spatial' | 'index';

export interface CollectOptions {
  provider: Provider;
  regions: Region[];
  perCity: number;
  out: string;
  split: SplitMode;
  valFraction: number;
  seed: number;
  /** Requests of each phase in flight at once. */
  concurrency: number;
  /** Metadata phase only: count what would be fetched, write nothing. */
  dryRun?: boolean;
  /** Consecutive candidates without a new image before a class is given up as empty. */
  maxMisses?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface ClassProgress {
  train: number;
  validation: number;
}

export interface CollectResult {
  classes: Record<string, ClassProgress>;
  /** Images written (or, in a dry run, found) by this run. */
  added: number;
  /** Sources skipped because their image was missing or not decodable. */
  skipped: number;
  /** Why the run ended early ('interrupted', budget, quota), if it did. */
  stopped?: string;
}

/** Images each class still needs, from the manifest in `out` (if any). */
export async function remaining(out: string, regions: Region[], perCity: number): Promise<Record<string, number>> {
  const entries = await readEntries(out);
  return Object.fromEntries(
    regions.map((r) => [r.name, Math.max(0, perCity - entries.filter((e) => e.class === r.name).length)]),
  );
}

async function readEntries(out: string): Promise<ManifestEntry[]> {
  const file = path.join(out, MANIFEST_FILE);
  const text = await fs.readFile(file, 'utf8').catch((err) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
  return parseManifest(text, file).entries;
}

/**
 * Collects every class in turn into `o.out` (or, in a dry run, only counts what it would fetch). Stops early, with
 * `stopped` saying why, when the budget or quota runs out or `o.signal` aborts; any other failure is thrown.
 */
export async function collect(o: CollectOptions): Promise<CollectResult> {
  const run = await openRun(o);
  try {
    for (const region of o.regions) {
      await new ClassCollection(run, region).collect();
      if (halted(run)) break;
    }
  } finally {
    await run.writer?.close();
  }
  return outcome(run);
}

/** The run's shared state: the dataset writer (none in a dry run) and the sources the dataset already holds. */
async function openRun(o: CollectOptions): Promise<CollectRun> {
  const log = o.log ?? (() => {});
  const classes = o.regions.map((r) => r.name);
  const writer = o.dryRun ? undefined : await DatasetWriter.open(o.out, classes, log);
  const entries = writer ? writer.entries : await readEntries(o.out);
  const seen = new Set(entries.filter((e) => e.provider === o.provider.name).map((e) => e.sourceId));
  const result: CollectResult = { classes: {}, added: 0, skipped: 0 };
  return { o, log, maxMisses: o.maxMisses ?? 5000, writer, entries, seen, result, fatal: undefined };
}

/** The result, or the fatal error thrown: an exhausted budget or quota and an interruption end the run cleanly. */
function outcome(run: CollectRun): CollectResult {
  const { fatal, result } = run;
  if (fatal instanceof BudgetExhaustedError || fatal instanceof QuotaExhaustedError) result.stopped = fatal.message;
  else if (fatal instanceof StoppedError || (run.o.signal?.aborted && fatal === undefined))
    result.stopped = 'interrupted';
  else if (fatal !== undefined) throw fatal;
  return result;
}
