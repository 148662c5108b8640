// The numbers the report shows, gathered from run folders into one JSON-ready object (written as report.json).
import { createModel, isSpiking } from '../../models/registry.js';
import type { EnergyCosts } from '../energy.js';
import type { DataKind } from '../energy_memory.js';
import type { ExplainResult } from '../explain_job.js';
import type { ClassMetrics } from '../metrics.js';
import { readRun, type EpochRow, type RunData } from '../runs.js';
import { type DatasetCredits, datasetCredits } from './credits.js';
import { singleRunStatistics, type StudySummary } from '../study.js';
import { must } from '../../util/must.js';

/** The original study (5 cities, 32x32, T4 GPU): what a run is read against. */
/** The study's classes, in label order: a report on other classes says its numbers are not the study's kind. */
export const STUDY_CLASSES = ['seoul', 'tokyo', 'newyork', 'london', 'paris'];

export const STUDY = {
  about: 'Original study: 5 cities, 8,000 train / 2,000 validation images each, 32x32, 300 epochs, one T4 GPU',
  spikformer: { model: 'Spikformer-4-384 (T=4)', valAcc: 0.7824, epochSeconds: 187.92 },
  resnet18: { model: 'ResNet18', valAcc: 0.7316, epochSeconds: 364.18 },
} as const;

export interface ReportRun {
  name: string;
  dir: string;
  preset: string;
  arch: string;
  params: number;
  classes: string[];
  timeSteps: number | null;
  epochs: EpochRow[];
  best: { valAcc: number; epoch: number } | null;
  final: EpochRow | null;
  meanEpochSeconds: number | null;
  trainImagesPerSecond: number | null;
  eval: {
    n: number;
    accuracy: number;
    top2: number;
    loss: number;
    macroF1: number;
    imagesPerSecond: number;
    confusion: number[][];
    perClass: ClassMetrics[];
  } | null;
  energy: {
    perImage: number;
    macs: number;
    sops: number;
    denseMacs: number;
    images: number;
    costs: EnergyCosts;
    layers: {
      name: string;
      inputRate: number | null;
      estimated: boolean;
      macs: number;
      sops: number;
      energy: number;
    }[];
    /**
     * The ANN `geospike energy` compared it with (by default the full-width ResNet18), costed from its architecture.
     */
    baseline: { name: string; energy: number; ratio: number } | null;
    /** Memory accesses (Lemaire et al. 2022) beside the compute-only numbers; null in energy.json files from before. */
    memory: {
      pJ: number;
      byKind: Record<DataKind, number>;
      reads: number;
      writes: number;
      bits: number;
      about: string;
      baselinePj: number | null;
    } | null;
  } | null;
  /** Per-LIF-layer firing rates: from the energy measurement, else the last epoch's validation pass. */
  rates: Record<string, number> | null;
  /** Per-class evidence maps and the deletion test (explain.json). */
  explain: ExplainResult | null;
}

export interface Report {
  title: string;
  generatedAt: string;
  study: typeof STUDY;
  runs: ReportRun[];
  /**
   * Energy of the first ANN run over that of each spiking run
   * (Spikformer, SDT), each pair measured with the same costs.
   */
  energyRatios: { ann: string; snn: string; ratio: number }[];
  /** Authors and licences of the training photos whose licence asks for credit (none for most datasets). */
  credits: DatasetCredits[];
  /** Bootstrap intervals per run and McNemar against the first run, from eval.json's per-image predictions. */
  statistics: StudySummary | null;
}

function paramCount(run: RunData): number {
  const model = createModel(run.modelConfig);
  try {
    return model.store.counts().params;
  } finally {
    model.store.dispose();
  }
}

export function reportRun(run: RunData): ReportRun {
  const { epochs } = run;
  const best = epochs.reduce<EpochRow | null>((b, e) => (!b || e.val_acc > b.val_acc ? e : b), null);
  const mean = (f: (e: EpochRow) => number) =>
    epochs.length ? epochs.reduce((a, e) => a + f(e), 0) / epochs.length : null;
  const ev = run.eval;
  const en = run.energy;
  return {
    name: run.name,
    dir: run.dir,
    preset: run.preset,
    arch: run.modelConfig.arch,
    params: paramCount(run),
    classes: run.classes,
    timeSteps: isSpiking(run.modelConfig) ? run.modelConfig.timeSteps : null,
    epochs,
    best: best ? { valAcc: best.val_acc, epoch: best.epoch } : null,
    final: epochs[epochs.length - 1] ?? null,
    meanEpochSeconds: mean((e) => e.epoch_seconds),
    trainImagesPerSecond: mean((e) => e.images_per_s),
    eval: ev && {
      n: ev.n,
      accuracy: ev.accuracy,
      top2: ev.top2,
      loss: ev.loss,
      macroF1: ev.macroF1,
      imagesPerSecond: ev.imagesPerSecond,
      confusion: ev.confusion,
      perClass: ev.perClass,
    },
    energy: en && {
      perImage: en.report.total.energy,
      macs: en.report.total.macs,
      sops: en.report.total.sops,
      denseMacs: en.report.total.denseMacs,
      images: en.images,
      costs: en.report.costs,
      layers: en.report.layers.map((l) => ({
        name: l.name,
        inputRate: l.inputRate,
        estimated: l.estimated,
        macs: l.macs,
        sops: l.sops,
        energy: l.energy,
      })),
      baseline:
        en.baseline && en.ratio !== null
          ? { name: en.baseline.name, energy: en.baseline.energy, ratio: en.ratio }
          : null,
      memory: en.memory
        ? {
            pJ: en.memory.total.pJ,
            byKind: en.memory.total.energy,
            reads: en.memory.total.reads,
            writes: en.memory.total.writes,
            bits: en.memory.bits,
            about: en.memory.about,
            baselinePj: en.baselineMemory ?? null,
          }
        : null,
    },
    rates: en?.rates ?? run.lastRates,
    explain: run.explain,
  };
}

export function buildReport(dirs: string[], title = 'geospike: Spikformer vs ResNet18'): Report {
  if (dirs.length === 0) throw new Error('compare needs at least one run folder');
  const data = dirs.map(readRun);
  const runs = data.map(reportRun);
  const first = must(runs[0], 'dirs is not empty');
  // Accuracies over different class sets are not comparable (10 classes at 70% vs 5 at 70%): one report, one set.
  const differs = runs.find((r) => r.classes.join('\u0000') !== first.classes.join('\u0000'));
  if (differs) {
    const set = (r: ReportRun) =>
      `${r.classes.length} classes (${r.classes.slice(0, 4).join(', ')}${r.classes.length > 4 ? ', ...' : ''})`;
    throw new Error(
      `${first.name} and ${differs.name} were trained on different classes: ${set(first)} and ${set(differs)}; ` +
        'compare runs of one dataset in one report (run compare once per dataset)',
    );
  }
  const spiking = (r: ReportRun) => isSpiking({ arch: r.arch });
  const ann = runs.find((r) => !spiking(r) && r.energy);
  const sameCosts = (a: ReportRun, b: ReportRun) =>
    a.energy!.costs.eMac === b.energy!.costs.eMac && a.energy!.costs.eAc === b.energy!.costs.eAc;
  const energyRatios = ann
    ? runs
        .filter((r) => spiking(r) && r.energy && sameCosts(r, ann))
        .map((snn) => ({ ann: ann.name, snn: snn.name, ratio: ann.energy!.perImage / snn.energy!.perImage }))
    : [];
  const statistics = singleRunStatistics(data);
  return {
    title,
    generatedAt: new Date().toISOString(),
    study: STUDY,
    runs,
    energyRatios,
    credits: datasetCredits(dirs),
    statistics,
  };
}
