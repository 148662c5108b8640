// The numbers of `geospike study`: each model's accuracy over seeds (mean and 95% t interval, or a bootstrap over
// images for a single run), per-city accuracy with intervals, and every model against the first on the same images
// (McNemar per seed, the interval of the accuracy difference, one verdict). Built from saved eval results alone.
import {
  bootstrapAccuracy,
  bootstrapDifference,
  formatP,
  type Interval,
  type McNemar,
  mcnemar,
  mean,
  meanCI,
  perClassAccuracy,
  verdict,
} from './stats.js';
import { must } from '../util/must.js';

/** One trained run's validation pass: what the study needs of eval.json. */
export interface StudyRun {
  model: string;
  seed: number;
  dir: string;
  classes: string[];
  labels: number[];
  predicted: number[];
}

export interface ModelSummary {
  model: string;
  seeds: number[];
  accuracies: number[];
  /** Over seeds (t interval) with two or more, else a bootstrap over the one run's validation images. */
  accuracy: Interval;
  /** Per run, a bootstrap interval over its validation images. */
  perRun: { seed: number; accuracy: Interval }[];
  perCity: { name: string; n: number; accuracy: number; lo: number; hi: number; method: string }[];
}

export interface Comparison {
  a: string;
  b: string;
  /** McNemar's test on each seed's pair of runs (same images, same seed). */
  mcnemar: { seed: number; test: McNemar }[];
  /** Accuracy of a minus b: t interval over seeds' paired differences, or a paired bootstrap for one seed. */
  difference: Interval;
  /** The largest McNemar p over seeds: the difference must hold in every seed to count. */
  p: number;
  verdict: string;
}

export interface StudySummary {
  images: number;
  classes: string[];
  models: ModelSummary[];
  comparisons: Comparison[];
  notes: string[];
}

/** An accuracy's interval cannot leave [0, 1]; a t interval over few seeds can, so it is cut there. */
const within01 = (i: Interval): Interval => ({ ...i, lo: Math.max(0, i.lo), hi: Math.min(1, i.hi) });

const correctness = (r: StudyRun) => r.labels.map((l, i) => (l === r.predicted[i] ? 1 : 0));

function checkSameImages(runs: StudyRun[]): void {
  const [first] = runs;
  if (!first) return;
  for (const r of runs) {
    if (r.labels.length !== first.labels.length || r.labels.some((l, i) => l !== first.labels[i]))
      throw new Error(
        `${r.dir} was evaluated on other images than ${first.dir}; evaluate every run on the same validation split`,
      );
  }
}

function summariseModel(model: string, runs: StudyRun[], classes: string[]): ModelSummary {
  const accs = runs.map((r) => mean(correctness(r)));
  const perRun = runs.map((r) => ({ seed: r.seed, accuracy: bootstrapAccuracy(correctness(r), { seed: r.seed }) }));
  let perCity: ModelSummary['perCity'];
  if (runs.length >= 2) {
    const byRun = runs.map((r) => perClassAccuracy(r.labels, r.predicted, classes));
    perCity = classes.map((name, c) => {
      const cities = byRun.map((x) => must(x[c], 'perClassAccuracy gives one entry per class'));
      const ci = within01(meanCI(cities.map((x) => x.accuracy)));
      const n = must(cities[0], 'runs.length >= 2').n;
      return { name, n, accuracy: ci.estimate, lo: ci.lo, hi: ci.hi, method: ci.method };
    });
  } else {
    const [run] = runs;
    if (!run) throw new Error(`model ${model} has no runs to summarise`);
    perCity = perClassAccuracy(run.labels, run.predicted, classes).map((x) => ({
      ...x,
      method: 'Wilson score interval over the images of the class',
    }));
  }
  return {
    model,
    seeds: runs.map((r) => r.seed),
    accuracies: accs,
    accuracy: runs.length >= 2 ? within01(meanCI(accs)) : must(perRun[0], 'one run').accuracy,
    perRun,
    perCity,
  };
}

function compare(a: string, b: string, ra: StudyRun[], rb: StudyRun[]): Comparison {
  const seeds = ra.map((r) => r.seed).filter((s) => rb.some((r) => r.seed === s));
  const [firstSeed] = seeds;
  if (firstSeed === undefined) throw new Error(`${a} and ${b} have no seed in common to compare`);
  const pair = (s: number) => [ra.find((r) => r.seed === s)!, rb.find((r) => r.seed === s)!] as const;
  const tests = seeds.map((s) => {
    const [x, y] = pair(s);
    return { seed: s, test: mcnemar(correctness(x), correctness(y)) };
  });
  const difference =
    seeds.length >= 2
      ? meanCI(
          seeds.map((s) => {
            const [x, y] = pair(s);
            return mean(correctness(x)) - mean(correctness(y));
          }),
        )
      : bootstrapDifference(correctness(pair(firstSeed)[0]), correctness(pair(firstSeed)[1]), { seed: firstSeed });
  const p = Math.max(...tests.map((t) => t.test.p));
  return { a, b, mcnemar: tests, difference, p, verdict: verdict(a, b, difference, p) };
}

/** Groups runs by model (in the order first seen) and compares every other model with the first. */
export function summariseStudy(runs: StudyRun[]): StudySummary {
  const [first] = runs;
  if (!first) throw new Error('the study has no evaluated runs');
  checkSameImages(runs);
  const classes = first.classes;
  const order = [...new Set(runs.map((r) => r.model))];
  const byModel = new Map(order.map((m) => [m, runs.filter((r) => r.model === m).sort((x, y) => x.seed - y.seed)]));
  const models = order.map((m) => summariseModel(m, byModel.get(m)!, classes));
  // order[0] is the first run's model: the one every other model is compared with.
  const comparisons = order.slice(1).map((m) => compare(first.model, m, byModel.get(first.model)!, byModel.get(m)!));
  return {
    images: first.labels.length,
    classes,
    models,
    comparisons,
    notes: [
      'Accuracy over seeds: mean and 95% t interval, cut to 0-100% (runs differ in initialisation and data order, ' +
        'not data).',
      'One run: 95% percentile bootstrap over its validation images.',
      "McNemar's test per seed on the same images: exact binomial when 25 or fewer images are discordant, else " +
        'chi-square with continuity correction. The verdict quotes the largest p over seeds.',
      'A difference counts as significant when its 95% interval excludes 0 and p < 0.05.',
    ],
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The study as plain text: a table per model, the tests, and the verdict line(s) last. */
export function formatStudy(s: StudySummary): string {
  const lines: string[] = [`validation images: ${s.images}; classes: ${s.classes.join(', ')}`, ''];
  for (const m of s.models) {
    lines.push(
      `${m.model}: accuracy ${pct(m.accuracy.estimate)} (95% CI ${pct(m.accuracy.lo)} ` +
        `to ${pct(m.accuracy.hi)}; ${m.accuracy.method})`,
      `  per seed: ${m.perRun
        .map((r) => `seed ${r.seed} ${pct(r.accuracy.estimate)} [${pct(r.accuracy.lo)}, ${pct(r.accuracy.hi)}]`)
        .join(', ')}`,
      `  per city: ${m.perCity.map((c) => `${c.name} ${pct(c.accuracy)} [${pct(c.lo)}, ${pct(c.hi)}]`).join(', ')}`,
    );
  }
  for (const c of s.comparisons) {
    lines.push('', `${c.a} vs ${c.b}:`);
    for (const t of c.mcnemar)
      lines.push(
        `  seed ${t.seed}: McNemar ${t.test.onlyA} right only by ${c.a}, ${t.test.onlyB} only ` +
          `by ${c.b}, ${formatP(t.test.p)} (${t.test.method})`,
      );
  }
  lines.push('', ...s.comparisons.map((c) => `verdict: ${c.verdict}`));
  return lines.join('\n');
}

/**
 * The statistics `compare` can give from run folders: runs of one preset with distinct seeds are taken as that
 * model's seeds (intervals over seeds, McNemar per seed); any other run is its own model (a bootstrap interval over
 * images). Every model is tested against the first on the same images. Null when no run saved per-image predictions
 * or the runs were evaluated on different images.
 */
export function singleRunStatistics(
  runs: {
    name: string;
    dir: string;
    preset?: string;
    seed?: number | null;
    eval: { classes: string[]; labels?: number[]; predicted?: number[] } | null;
  }[],
): StudySummary | null {
  const usable = runs.filter((r) => r.eval?.labels && r.eval.predicted);
  if (usable.length === 0) return null;
  const seedsOf = (preset: string | undefined) =>
    usable.filter((r) => preset !== undefined && r.preset === preset).map((r) => r.seed);
  const asSeeds = (r: (typeof usable)[number]) => {
    const seeds = seedsOf(r.preset);
    return seeds.length > 1 && seeds.every((s) => typeof s === 'number') && new Set(seeds).size === seeds.length;
  };
  const study = usable.map((r) => ({
    model: asSeeds(r) ? (r.preset as string) : r.name,
    seed: asSeeds(r) ? (r.seed as number) : 0,
    dir: r.dir,
    classes: r.eval?.classes ?? [],
    labels: r.eval?.labels ?? [],
    predicted: r.eval?.predicted ?? [],
  }));
  try {
    return summariseStudy(study);
  } catch {
    return null; // different images: no paired statistics
  }
}
