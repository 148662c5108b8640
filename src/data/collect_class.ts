// One class of the collection job (collect.ts): seeded candidate points are looked up `concurrency` ahead but decided
// in candidate order, so a seed gives the same dataset whatever the timing; the images of accepted sources are
// fetched, decoded and written in parallel, up to `concurrency` at once.
import { Rng } from '../util/rng.js';
import { pauseForTest, testFault } from '../util/test_fault.js';
import { type Region, samplePoint } from './cities.js';
import type { ClassProgress, CollectOptions, CollectResult } from './collect.js';
import { hash32 } from './hash.js';
import { ImageDecodeError, processImage } from './images.js';
import { imageId, type ManifestEntry, type Split } from './manifest.js';
import { FatalError, GaveUpError } from './providers/http.js';
import type { Candidate, Source } from './providers/provider.js';
import { SpatialSplitter } from './split.js';
import { sourceProblem } from './validate_record.js';
import type { DatasetWriter } from './writer.js';

/** Lookups in a row that may give up (after their retries) before the provider is taken to be down. */
const MAX_FAILED_LOOKUPS = 20;

/** What every class of one collection shares; the first fatal error stops them all. */
export interface CollectRun {
  o: CollectOptions;
  log: (line: string) => void;
  maxMisses: number;
  /** Absent in a dry run, which writes nothing. */
  writer?: DatasetWriter;
  entries: ManifestEntry[];
  /** Source ids of this provider already in the dataset or taken by this run: never fetched twice. */
  seen: Set<string>;
  result: CollectResult;
  fatal: unknown;
}

/** Whether the run must stop: a fatal error, or the caller's signal (Ctrl-C). */
export const halted = (run: CollectRun): boolean => run.fatal !== undefined || run.o.signal?.aborted === true;

/** Candidate `seq` of a class: a deterministic function of (seed, class, seq). */
export function candidate(region: Region, seed: number, seq: number): Candidate {
  const rng = new Rng(hash32(seed, 'candidate', region.name, seq));
  const p = samplePoint(region, rng);
  return { seq, lat: p.lat, lng: p.lng, heading: rng.int(360) };
}

type Lookup = { c: Candidate; found: Promise<Source | null | Error> };

/** The collection of one class's images, from where the dataset left off to its target per split. */
export class ClassCollection {
  private readonly cls: string;
  private readonly have: ClassProgress;
  private readonly target: ClassProgress;
  /** Images being fetched, per split: counted towards the target so no more are started than it needs. */
  private readonly reserved: ClassProgress = { train: 0, validation: 0 };
  private readonly splitter?: SpatialSplitter;
  private seq: number;
  private readonly lookups: Lookup[] = [];
  private readonly fetches = new Set<Promise<void>>();
  private misses = 0;
  private failures = 0;
  private readonly started = Date.now();
  private readonly startCount: number;
  private nextReport: number;

  constructor(
    private readonly run: CollectRun,
    private readonly region: Region,
  ) {
    const { o, entries, result } = run;
    this.cls = region.name;
    const mine = entries.filter((e) => e.class === this.cls);
    this.have = {
      train: mine.filter((e) => e.split === 'train').length,
      validation: mine.filter((e) => e.split === 'validation').length,
    };
    result.classes[this.cls] = this.have;
    const nVal = Math.round(o.perCity * o.valFraction);
    this.target = { train: o.perCity - nVal, validation: nVal };
    this.splitter = o.split === 'spatial' ? new SpatialSplitter(region, o.valFraction, o.seed) : undefined;
    // A resumed class continues its candidate sequence after the last candidate it used.
    const used = mine.filter((e) => e.provider === o.provider.name).map((e) => e.seq ?? -1);
    this.seq = Math.max(-1, ...used) + 1;
    this.startCount = this.have.train + this.have.validation;
    this.nextReport = this.startCount + this.reportEvery();
  }

  /** Collects until the class has its images or the run halts; then waits for every request it started. */
  async collect(): Promise<void> {
    while (!halted(this.run)) {
      if (!this.need('train') && !this.need('validation')) {
        if (this.fetches.size === 0) break;
        await Promise.race(this.fetches);
        continue;
      }
      const { c, found } = this.nextLookup();
      const answer = await found;
      if (answer instanceof Error) {
        this.lookupFailed(c, answer);
        continue;
      }
      this.failures = 0;
      const source = this.usable(answer);
      const split = source && this.splitFor(source);
      if (!source || !split || !this.need(split)) {
        this.missed();
        continue;
      }
      this.misses = 0;
      if (await this.take(source, c, split)) this.reportProgress();
    }
    await Promise.all(this.fetches);
    await Promise.all(this.lookups.map((l) => l.found));
    if (!halted(this.run))
      this.run.log(`${this.cls}: done, train ${this.have.train}, validation ${this.have.validation}`);
  }

  /** Whether `split` still needs images, counting those being fetched. */
  private need(split: Split): boolean {
    return this.have[split] + this.reserved[split] < this.target[split];
  }

  /** The oldest pending lookup, after topping the queue up to `concurrency` (errors are kept as values). */
  private nextLookup(): Lookup {
    const { o, seen } = this.run;
    while (this.lookups.length < o.concurrency) {
      const c = candidate(this.region, o.seed, this.seq++);
      this.lookups.push({ c, found: o.provider.find(c, (id) => seen.has(id)).catch((err: Error) => err) });
    }
    return this.lookups.shift()!;
  }

  /** A lookup that gave up skips its candidate; any other error, or too many give-ups in a row, is fatal. */
  private lookupFailed(c: Candidate, err: Error): void {
    const { o, log } = this.run;
    if (!(err instanceof GaveUpError)) {
      this.run.fatal = err;
      return;
    }
    log(`${this.cls}: ${err.message}; candidate ${c.seq} skipped`);
    if (++this.failures > MAX_FAILED_LOOKUPS) {
      this.run.fatal = new FatalError(
        `${o.provider.name} keeps failing (${this.failures} lookups in a row gave up); try again later`,
      );
    }
  }

  /** The source a lookup found, or null for none or for a record that fails validation (counted and logged). */
  private usable(answer: Source | null): Source | null {
    const problem = answer && sourceProblem(answer);
    if (!problem) return answer;
    this.run.result.skipped++;
    const id = JSON.stringify(String(answer.id).slice(0, 60));
    this.run.log(`${this.cls}: ${this.run.o.provider.name} record ${id} skipped: ${problem}`);
    return null;
  }

  /** The split a new source goes to; null for one already in the dataset or one the spatial split drops. */
  private splitFor(source: Source): Split | null {
    if (this.run.seen.has(source.id)) return null;
    if (this.splitter) return this.splitter.assign(source.lat, source.lng);
    return this.need('train') ? 'train' : 'validation';
  }

  /** A candidate without a new image; too many in a row means the region holds too little imagery. */
  private missed(): void {
    const { o, maxMisses } = this.run;
    if (++this.misses <= maxMisses) return;
    this.run.fatal = new FatalError(
      `${this.cls}: ${maxMisses} sampled points in a row gave no new usable image; the region may hold too little ` +
        `imagery ` +
        `for --per-city ${o.perCity} (try a larger region in --regions, a larger --radius, or --split index)`,
    );
  }

  /**
   * Takes `source` for `split`: counted at once in a dry run, else fetched once a fetch slot is free. False when the
   * run halted while waiting for the slot (the source is then left alone).
   */
  private async take(source: Source, c: Candidate, split: Split): Promise<boolean> {
    const { o, seen, result } = this.run;
    seen.add(source.id);
    if (o.dryRun) {
      this.have[split]++;
      result.added++;
      return true;
    }
    this.reserved[split]++;
    while (this.fetches.size >= o.concurrency) await Promise.race(this.fetches);
    if (halted(this.run)) {
      this.reserved[split]--;
      return false;
    }
    const task: Promise<void> = this.fetchImage(source, c, split).finally(() => this.fetches.delete(task));
    this.fetches.add(task);
    return true;
  }

  /** Fetches, decodes and writes one image; a missing or undecodable image is skipped, other errors are fatal. */
  private async fetchImage(src: Source, c: Candidate, split: Split): Promise<void> {
    const { o, log, result } = this.run;
    try {
      const body = await o.provider.fetchImage(src, c);
      if (!body) {
        result.skipped++;
        log(`${this.cls}: ${o.provider.name} has no image for ${src.id}; skipped`);
        return;
      }
      const img = await this.decode(body, src);
      if (!img) return;
      await this.run.writer!.add(this.entry(src, c, split), img.png, img.display);
      this.have[split]++;
      result.added++;
      if (result.added >= Number(testFault('pause-after-image') ?? Infinity)) {
        await pauseForTest(`after image ${result.added}`, () => o.signal?.aborted ?? true);
      }
    } catch (err) {
      if (err instanceof GaveUpError) {
        result.skipped++;
        log(`${this.cls}: ${err.message}; skipped ${src.id}`);
      } else if (this.run.fatal === undefined) {
        this.run.fatal = err;
      }
    } finally {
      this.reserved[split]--;
    }
  }

  /** The model input and display copy of a fetched image, or null (counted and logged) when it does not decode. */
  private async decode(body: Buffer, src: Source): Promise<Awaited<ReturnType<typeof processImage>> | null> {
    try {
      return await processImage(body, { cropBottom: this.run.o.provider.cropBottom, displayMaxSide: 4096 });
    } catch (err) {
      if (!(err instanceof ImageDecodeError)) throw err;
      this.run.result.skipped++;
      this.run.log(`${this.cls}: image of ${src.id} skipped: ${err.message}`);
      return null;
    }
  }

  /** The manifest line of an image: where it came from, and the candidate that found it (the resume point). */
  private entry(src: Source, c: Candidate, split: Split): Omit<ManifestEntry, 'sha256'> {
    const provider = this.run.o.provider.name;
    return {
      id: imageId(provider, src.id),
      class: this.cls,
      split,
      provider,
      sourceId: src.id,
      lat: src.lat,
      lng: src.lng,
      heading: src.heading ?? c.heading,
      captureDate: src.captureDate,
      seq: c.seq,
    };
  }

  private reportEvery(): number {
    return Math.max(1, Math.ceil(this.run.o.perCity / 10));
  }

  /** A progress line every tenth of the class, with this run's rate. */
  private reportProgress(): void {
    const total = this.have.train + this.have.validation;
    if (total < this.nextReport) return;
    this.nextReport += this.reportEvery();
    const rate = (total - this.startCount) / Math.max(0.001, (Date.now() - this.started) / 1000);
    this.run.log(
      `${this.cls}: ${total}/${this.run.o.perCity} (train ${this.have.train}, validation ${this.have.validation}), ` +
        `${rate.toFixed(1)} images/s`,
    );
  }
}
