// What a training run will cost on this machine and engine, said before it starts: a few real training steps of the
// run's model and batch are timed (on random images) and the process's peak memory read, then scaled to the run's
// epochs and steps. A default run (Spikformer-4-384, 300 epochs) can take days; this is where a user learns that.
import { benchModel } from '../bench/model.js';
import { formatDuration } from './progress.js';
import { plural } from '../util/plural.js';
import type { TrainConfig } from './config.js';
import { isSpiking, resolveConfig } from '../models/registry.js';

export interface RunEstimate {
  secPerStep: number;
  stepsPerEpoch: number;
  /** Seconds for the whole run: training steps plus validation (a forward pass, about a third of a step). */
  totalSeconds: number;
  peakRssMB: number;
  gpuMB?: number;
}

/** Scales one measured step to the run: `trainImages` and `valImages` are the dataset's split sizes. */
export function scaleEstimate(
  secPerStep: number,
  cfg: Pick<TrainConfig, 'batch' | 'epochs'>,
  trainImages: number,
  valImages: number,
  epochsDone = 0,
): number {
  const stepsPerEpoch = Math.max(1, Math.floor(trainImages / cfg.batch));
  const valSteps = Math.ceil(valImages / cfg.batch);
  return (cfg.epochs - epochsDone) * (stepsPerEpoch + valSteps / 3) * secPerStep;
}

/** Times two training steps of cfg's model at cfg's batch on the active backend (the faster one counts). */
export async function estimateRun(
  cfg: TrainConfig,
  trainImages: number,
  valImages: number,
  epochsDone = 0,
): Promise<RunEstimate> {
  const r = await benchModel({
    preset: cfg.model,
    batch: cfg.batch,
    steps: 2,
    warmup: 0,
    mode: 'train',
    backend: cfg.backend === 'auto' ? undefined : cfg.backend,
    overrides: isSpiking(resolveConfig(cfg.model)) ? { timeSteps: cfg.timeSteps } : undefined,
  });
  const secPerStep = Math.min(...(r.times ?? [r.secPerBatch]));
  return {
    secPerStep,
    stepsPerEpoch: Math.max(1, Math.floor(trainImages / cfg.batch)),
    totalSeconds: scaleEstimate(secPerStep, cfg, trainImages, valImages, epochsDone),
    peakRssMB: r.peakRssMB,
    gpuMB: r.gpu?.peakMB,
  };
}

const size = (mb: number) => (mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`);

export function describeEstimate(e: RunEstimate, cfg: TrainConfig, backend: string, epochsDone = 0): string {
  const left = cfg.epochs - epochsDone;
  return (
    `estimate on this machine (${backend} backend): ${e.secPerStep.toFixed(2)} s per step of ${cfg.batch}, ` +
    `${plural(left, 'epoch')} of ${plural(e.stepsPerEpoch, 'step')} -> about ${formatDuration(e.totalSeconds)}; ` +
    `peak memory about ${size(e.peakRssMB)}${e.gpuMB ? ` (GPU ${size(e.gpuMB)})` : ''}. ` +
    'Ctrl-C stops and saves (resumable); --no-estimate skips this measurement'
  );
}
