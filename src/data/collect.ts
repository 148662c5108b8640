// The collection job: for each class, seeded candidate points -> provider metadata (free) -> dedupe and split ->
// image fetch (billed) -> crop/resize -> dataset folder. manifest.jsonl is the resume point: a restarted run skips
// every source it lists and continues the candidate sequence after the last one it used.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Rng } from '../util/rng.js';
import { type Region, samplePoint } from './cities.js';
import { hash32 } from './hash.js';
import { ImageDecodeError, processImage } from './images.js';
import { type ManifestEntry, parseManifest, safeName, type Split } from './manifest.js';
import { BudgetExhaustedError, FatalError, GaveUpError, QuotaExhaustedError, StoppedError } from './providers/http.js';
import type { Candidate, Provider, Source } from './providers/provider.js';
import { SpatialSplitter } from './split.js';
import { pauseForTest, testFault } from '../util/test_fault.js';
import { sourceProblem } from './validate_record.js';
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

/** The file stem for a source: its id when that is filename-safe, else a cleaned id plus a hash (so no two collide). */
export function imageId(provider: string, sourceId: string): string {
  if (/^[A-Za-z0-9_-]{1,100}$/.test(sourceId)) return `${provider}-${sourceId}`;
  return `${provider}-${safeName(sourceId, 90)}-${hash32(sourceId).toString(16).padStart(8, '0')}`;
}

/** Candidate `seq` of a class: a deterministic function of (seed, class, seq). */
export function candidate(region: Region, seed: number, seq: number): Candidate {
  const rng = new Rng(hash32(seed, 'candidate', region.name, seq));
  const p = samplePoint(region, rng);
  return { seq, lat: p.lat, lng: p.lng, heading: rng.int(360) };
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

export async function collect(o: CollectOptions): Promise<CollectResult> {
  const log = o.log ?? (() => {});
  const maxMisses = o.maxMisses ?? 5000;
  const writer = o.dryRun
    ? undefined
    : await DatasetWriter.open(
        o.out,
        o.regions.map((r) => r.name),
        log,
      );
  const entries = writer ? writer.entries : await readEntries(o.out);
  const seen = new Set(entries.filter((e) => e.provider === o.provider.name).map((e) => e.sourceId));
  const result: CollectResult = { classes: {}, added: 0, skipped: 0 };
  let fatal: unknown;
  try {
    for (const region of o.regions) {
      const cls = region.name;
      const mine = entries.filter((e) => e.class === cls);
      const have: ClassProgress = {
        train: mine.filter((e) => e.split === 'train').length,
        validation: mine.filter((e) => e.split === 'validation').length,
      };
      result.classes[cls] = have;
      const nVal = Math.round(o.perCity * o.valFraction);
      const target: ClassProgress = { train: o.perCity - nVal, validation: nVal };
      const reserved: ClassProgress = { train: 0, validation: 0 };
      const need = (s: Split) => have[s] + reserved[s] < target[s];
      const splitter = o.split === 'spatial' ? new SpatialSplitter(region, o.valFraction, o.seed) : undefined;
      let seq = Math.max(-1, ...mine.filter((e) => e.provider === o.provider.name).map((e) => e.seq ?? -1)) + 1;
      const lookups: { c: Candidate; found: Promise<Source | null | Error> }[] = [];
      const fetches = new Set<Promise<void>>();
      let misses = 0;
      let failures = 0;
      const started = Date.now();
      const startCount = have.train + have.validation;
      let nextReport = startCount + Math.max(1, Math.ceil(o.perCity / 10));

      const fetchOne = async (src: Source, c: Candidate, split: Split): Promise<void> => {
        try {
          const body = await o.provider.fetchImage(src, c);
          if (!body) {
            result.skipped++;
            log(`${cls}: ${o.provider.name} has no image for ${src.id}; skipped`);
            return;
          }
          let img: Awaited<ReturnType<typeof processImage>>;
          try {
            img = await processImage(body, { cropBottom: o.provider.cropBottom, displayMaxSide: 4096 });
          } catch (err) {
            if (!(err instanceof ImageDecodeError)) throw err;
            result.skipped++;
            log(`${cls}: image of ${src.id} skipped: ${err.message}`);
            return;
          }
          await writer!.add(
            {
              id: imageId(o.provider.name, src.id),
              class: cls,
              split,
              provider: o.provider.name,
              sourceId: src.id,
              lat: src.lat,
              lng: src.lng,
              heading: src.heading ?? c.heading,
              captureDate: src.captureDate,
              seq: c.seq,
            },
            img.png,
            img.display,
          );
          have[split]++;
          result.added++;
          if (result.added >= Number(testFault('pause-after-image') ?? Infinity)) {
            await pauseForTest(`after image ${result.added}`, () => o.signal?.aborted ?? true);
          }
        } catch (err) {
          if (err instanceof GaveUpError) {
            result.skipped++;
            log(`${cls}: ${err.message}; skipped ${src.id}`);
          } else if (fatal === undefined) {
            fatal = err;
          }
        } finally {
          reserved[split]--;
        }
      };

      while (fatal === undefined && !o.signal?.aborted) {
        if (!need('train') && !need('validation')) {
          if (fetches.size === 0) break;
          await Promise.race(fetches);
          continue;
        }
        // Metadata lookups run `concurrency` ahead but are decided in candidate order, so the result is the same
        // for a seed whatever the timing.
        while (lookups.length < o.concurrency) {
          const c = candidate(region, o.seed, seq++);
          lookups.push({ c, found: o.provider.find(c, (id) => seen.has(id)).catch((err: Error) => err) });
        }
        const { c, found: pending } = lookups.shift()!;
        const answer = await pending;
        if (answer instanceof Error) {
          if (!(answer instanceof GaveUpError)) {
            fatal = answer;
            break;
          }
          log(`${cls}: ${answer.message}; candidate ${c.seq} skipped`);
          if (++failures > 20) {
            fatal = new FatalError(
              `${o.provider.name} keeps failing (${failures} lookups in a row gave up); try again later`,
            );
            break;
          }
          continue;
        }
        failures = 0;
        const problem = answer && sourceProblem(answer);
        if (problem) {
          result.skipped++;
          log(
            `${cls}: ${o.provider.name} record ${JSON.stringify(String(answer.id).slice(0, 60))} skipped: ${problem}`,
          );
        }
        const found = problem ? null : answer;
        const split: Split | null =
          !found || seen.has(found.id)
            ? null
            : splitter
              ? splitter.assign(found.lat, found.lng)
              : need('train')
                ? 'train'
                : 'validation';
        if (!found || split === null || !need(split)) {
          if (++misses > maxMisses) {
            fatal = new FatalError(
              `${cls}: ${maxMisses} sampled points in a row gave no new usable image; the region may hold too little imagery ` +
                `for --per-city ${o.perCity} (try a larger region in --regions, a larger --radius, or --split index)`,
            );
          }
          continue;
        }
        misses = 0;
        seen.add(found.id);
        reserved[split]++;
        if (o.dryRun) {
          reserved[split]--;
          have[split]++;
          result.added++;
        } else {
          while (fetches.size >= o.concurrency) await Promise.race(fetches);
          if (fatal !== undefined || o.signal?.aborted) {
            reserved[split]--;
            break;
          }
          const task: Promise<void> = fetchOne(found, c, split).finally(() => fetches.delete(task));
          fetches.add(task);
        }
        const total = have.train + have.validation;
        if (total >= nextReport) {
          nextReport += Math.max(1, Math.ceil(o.perCity / 10));
          const rate = (total - startCount) / Math.max(0.001, (Date.now() - started) / 1000);
          log(
            `${cls}: ${total}/${o.perCity} (train ${have.train}, validation ${have.validation}), ${rate.toFixed(1)} images/s`,
          );
        }
      }
      await Promise.all(fetches);
      await Promise.all(lookups.map((l) => l.found));
      if (fatal !== undefined || o.signal?.aborted) break;
      log(`${cls}: done, train ${have.train}, validation ${have.validation}`);
    }
  } finally {
    await writer?.close();
  }
  if (fatal instanceof BudgetExhaustedError || fatal instanceof QuotaExhaustedError) result.stopped = fatal.message;
  else if (fatal instanceof StoppedError || (o.signal?.aborted && fatal === undefined)) result.stopped = 'interrupted';
  else if (fatal !== undefined) throw fatal;
  return result;
}
