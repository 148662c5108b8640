// Whole training epochs through the real train loop (data, augmentation, steps, validation, checkpoints) on a
// dataset folder, with where the time went; and the arguments of the PyTorch peer's loop (bench/peer/epoch.py) for
// the same recipe: random crop + flip, AdamW, warm-up + cosine, label smoothing, no mixup.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadAverage } from './load.js';
import { join } from 'node:path';
import { initEngine } from '../engine/backend.js';
import { resolveConfig } from '../models/registry.js';
import { resolveTrainConfig, type TrainConfig } from '../train/config.js';
import { train } from '../train/loop.js';
import { PHASES, type EpochTiming } from '../train/timing.js';
import { median, peerModelArgs } from './model.js';
import { must } from '../util/must.js';

export interface EpochBenchOptions {
  data: string;
  preset: string;
  batch: number;
  epochs: number;
  backend?: string;
  timeSteps?: number;
}

export interface EpochBenchResult {
  runner: string;
  model: string;
  batch: number;
  /** Median epoch seconds, and training images per second over it. */
  secPerEpoch: number;
  imagesPerSec: number;
  epochs: EpochTiming[];
  peakRssMB: number;
  load: [number, number];
}

/** The benchmark's training recipe: the defaults, without mixup, warm-up over half the run at most. */
export function epochConfig(o: EpochBenchOptions, out: string): TrainConfig {
  return resolveTrainConfig(
    {},
    {
      data: o.data,
      model: o.preset,
      out,
      batch: o.batch,
      epochs: o.epochs,
      warmupEpochs: Math.min(1, o.epochs / 2),
      mixup: 0,
      timeSteps: o.timeSteps,
      backend: o.backend,
    },
  );
}

/** Trains `epochs` epochs into a temporary run folder (removed after) and reports each epoch's timing. */
export async function benchEpoch(o: EpochBenchOptions): Promise<EpochBenchResult> {
  const backend = await initEngine(o.backend);
  const out = mkdtempSync(join(tmpdir(), 'geospike-bench-epoch-'));
  const load0 = loadAverage();
  try {
    const { timings } = await train(epochConfig(o, out), { log: () => {} });
    const sec = median(timings.map((t) => t.seconds));
    return {
      runner: `geospike-${backend}`,
      model: o.preset,
      batch: o.batch,
      secPerEpoch: sec,
      imagesPerSec: must(timings[0], 'the bench trains at least one epoch').images / sec,
      epochs: timings,
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      load: [load0, loadAverage()],
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** bench/peer/epoch.py's arguments for the same model, data and recipe. */
export function peerEpochArgs(o: EpochBenchOptions, threads: number): string[] {
  const cfg = epochConfig(o, '-');
  const model = resolveConfig(o.preset, o.timeSteps === undefined ? undefined : { timeSteps: o.timeSteps });
  return [
    ...peerModelArgs(model),
    '--data',
    o.data,
    '--batch',
    `${o.batch}`,
    '--epochs',
    `${o.epochs}`,
    '--threads',
    `${threads}`,
    '--lr',
    `${cfg.lr}`,
    '--min-lr',
    `${cfg.minLr}`,
    '--weight-decay',
    `${cfg.weightDecay}`,
    '--warmup-epochs',
    `${cfg.warmupEpochs}`,
    '--label-smoothing',
    `${cfg.labelSmoothing}`,
    '--seed',
    `${cfg.seed}`,
  ];
}

/** Each phase's share of the epochs' total time, e.g. "step 91.2%  data 1.1% ...". */
export function describePhases(timings: EpochTiming[]): string {
  const total = timings.reduce((a, t) => a + t.seconds, 0);
  return PHASES.map((p) => `${p} ${((100 * timings.reduce((a, t) => a + t[p], 0)) / total).toFixed(1)}%`).join('  ');
}
