// The training loop: epochs of AdamW steps on augmented batches, validation, a row per epoch, checkpoints last/best.
// Everything random is a pure function of (seed, epoch, batch), so a run resumed from any checkpoint, even one written
// mid-epoch on Ctrl-C, takes exactly the steps an uninterrupted run would.
import { mkdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { hash32 } from '../data/hash.js';
import type { BatchIterator } from '../data/dataset.js';
import type { Model } from '../models/model.js';
import { lockFolder } from '../util/lock.js';
import { Rng } from '../util/rng.js';
import { pauseForTest, testFault } from '../util/test_fault.js';
import type { AdamW } from './adamw.js';
import { type CheckpointMeta, saveCheckpoint } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { lossAndGrads } from './grads.js';
import { softCrossEntropy } from './loss.js';
import { mixBatch, sampleBeta, smoothTargets } from './mixup.js';
import { formatDuration, type Progress } from './progress.js';
import type { EpochRecord } from './run_log.js';
import { learningRate } from './schedule.js';
import { openSession, type Session, TrainingError } from './session.js';
import { EpochTimer, type EpochTiming } from './timing.js';
import { countCorrect, runSplit } from './validate.js';
import { must } from '../util/must.js';

export { TrainingError };

/** How often the step loop lets the event loop run, milliseconds. */
const YIELD_MS = 200;

export interface TrainOptions {
  resume?: boolean;
  /** Set `stop` to finish the current step, write `last` and return (what SIGINT/SIGTERM do in the CLI). */
  control?: { stop: boolean };
  progress?: Progress;
  log?: (line: string) => void;
}

export interface TrainResult {
  status: 'finished' | 'interrupted';
  epochsDone: number;
  best: CheckpointMeta['best'];
  lastCheckpoint: string;
  /** Where each epoch's wall time went (step, data, validation, checkpoint, other); epochs finished in this call. */
  timings: EpochTiming[];
}

/** Trains into cfg.out, holding its lock (one train per run folder) throughout. */
export async function train(cfg: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  mkdirSync(cfg.out, { recursive: true });
  const lock = lockFolder(cfg.out, 'train');
  try {
    return await trainLocked(cfg, opts);
  } finally {
    lock.release();
  }
}

async function trainLocked(cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const s = await openSession(cfg, opts);
  try {
    for (let epoch = s.meta.cursor.epoch; epoch < cfg.epochs; epoch++) {
      const stopped = await trainEpoch(s, epoch);
      if (stopped) return stopped;
    }
    return result(s, 'finished', cfg.epochs);
  } finally {
    s.opt.dispose();
    s.model.store.dispose();
  }
}

/** What a training call returns, at the session's state. */
const result = (s: Session, status: TrainResult['status'], epochsDone: number): TrainResult => ({
  status,
  epochsDone,
  best: s.meta.best,
  lastCheckpoint: s.last,
  timings: s.timings,
});

/**
 * One epoch from the cursor: its steps, validation, its row and checkpoints. Returns the result when a stop was asked
 * for (mid-epoch: after the current step, with `last` saved at the next batch; else after the epoch's checkpoints).
 */
async function trainEpoch(s: Session, epoch: number): Promise<TrainResult | undefined> {
  const { cfg, progress, control } = s;
  const first = epoch === s.meta.cursor.epoch ? s.meta.cursor.batch : 0;
  const timer = new EpochTimer();
  for (let b = first; b < s.stepsPerEpoch; b++) {
    trainOneStep(s, epoch, b, timer);
    await letEventsRun(s);
    if (control.stop) {
      s.meta = { ...s.meta, epoch, cursor: { epoch, batch: b + 1 }, partial: { ...s.partial } };
      s.last = await saveCheckpoint(s.paths.checkpoints, 'last', s.model, s.opt, s.meta);
      progress.line(`stopped after step ${s.meta.step}; checkpoint ${s.last}`);
      return result(s, 'interrupted', epoch);
    }
    timer.lap('other');
  }
  const valAcc = validateEpoch(s, epoch, timer);
  await saveEpoch(s, epoch, valAcc, timer);
  s.timings.push(timer.finish(epoch + 1, (s.stepsPerEpoch - first) * cfg.batch));
  if (control.stop) {
    progress.line(`stopped after epoch ${epoch + 1}; checkpoint ${s.last}`);
    return result(s, 'interrupted', epoch + 1);
  }
  return undefined;
}

/** Batch `b` of `epoch`: one AdamW step at the scheduled rate, added to the epoch's sums and shown. */
function trainOneStep(s: Session, epoch: number, b: number, timer: EpochTimer): void {
  const { cfg, opt, meta, partial, progress } = s;
  const t0 = performance.now();
  opt.lr = learningRate(meta.step, s.sched);
  opt.weightDecay = cfg.weightDecay;
  const batch = trainBatch(s.trainIt, cfg, epoch, b, s.classes);
  timer.lap('data');
  const { loss, correct, n, applied } = trainStep(s.model, opt, batch);
  timer.lap('step');
  if (!Number.isFinite(loss)) {
    throw new TrainingError(
      `the loss became ${loss} at epoch ${epoch + 1}, step ${meta.step + 1} (lr ${opt.lr.toExponential(2)}); ` +
        `training stopped ` +
        `and no checkpoint was overwritten (${s.paths.last} is the last good one). Lower --lr or check the data.`,
    );
  }
  if (!applied)
    progress.line(`epoch ${epoch + 1}, step ${meta.step + 1}: a gradient was not finite; the update was skipped`);
  meta.step += 1;
  partial.loss += loss * n;
  partial.correct += correct;
  partial.seen += n;
  partial.seconds += (performance.now() - t0) / 1000;
  const rate = partial.seen / partial.seconds;
  progress.update(
    `epoch ${epoch + 1}/${cfg.epochs}`,
    b + 1,
    s.stepsPerEpoch,
    {
      loss: (partial.loss / partial.seen).toFixed(4),
      acc: `${((100 * partial.correct) / partial.seen).toFixed(1)}%`,
      'img/s': rate.toFixed(1),
    },
    ((s.stepsPerEpoch - b - 1) * cfg.batch) / rate,
  );
}

/**
 * Lets pending events run (a Ctrl-C handler sets control.stop) a few times a second: a turn of the event loop after
 * every step cost ~2 ms of CPU each (2% of a resnet18-w16 epoch). The step loop itself never waits.
 */
async function letEventsRun(s: Session): Promise<void> {
  if (performance.now() - s.lastYield > YIELD_MS) {
    await new Promise(setImmediate);
    s.lastYield = performance.now();
  }
  if (testFault('pause-after-step') === String(s.meta.step))
    await pauseForTest(`after step ${s.meta.step}`, () => s.control.stop);
}

/** Validates after the epoch's steps, writes its row and progress line, and returns the validation accuracy. */
function validateEpoch(s: Session, epoch: number, timer: EpochTimer): number {
  const { cfg, meta, partial } = s;
  const val = runSplit(s.model, s.valIt, { rates: true });
  const valAcc = val.correct / s.valIt.data.n;
  timer.lap('validation');
  if (!Number.isFinite(val.loss)) {
    throw new TrainingError(
      `the validation loss became ${val.loss} at epoch ${epoch + 1} (step ${meta.step}); training stopped and no ` +
        `checkpoint ` +
        `was overwritten (${s.paths.last} is the last good one). Lower --lr or check the data.`,
    );
  }
  const row: EpochRecord = {
    epoch: epoch + 1,
    train_loss: round(partial.loss / partial.seen),
    train_acc: round(partial.correct / partial.seen),
    val_loss: round(val.loss),
    val_acc: round(valAcc),
    lr: learningRate(meta.step - 1, s.sched),
    epoch_seconds: round(partial.seconds, 3),
    images_per_s: round(partial.seen / partial.seconds, 2),
    firing_rate: val.rates ? round(mean(Object.values(val.rates))) : null,
  };
  s.runLog.append(row, {
    preset: cfg.model,
    model: s.modelConfig.arch,
    step: meta.step,
    backend: tf.getBackend(),
    rates: val.rates,
  });
  s.progress.line(
    `epoch ${row.epoch}/${cfg.epochs}  train loss ${row.train_loss.toFixed(4)} acc ${pct(row.train_acc)}  ` +
      `val loss ${row.val_loss.toFixed(4)} acc ${pct(row.val_acc)}  ${formatDuration(row.epoch_seconds)} ` +
      `(${row.images_per_s} img/s)` +
      (row.firing_rate === null ? '' : `  firing ${pct(row.firing_rate)}`) +
      runEta(s.timings, row.epoch_seconds, cfg.epochs - row.epoch),
  );
  return valAcc;
}

/** Moves the cursor past a finished epoch and saves `best` (when it improved) and `last`. */
async function saveEpoch(s: Session, epoch: number, valAcc: number, timer: EpochTimer): Promise<void> {
  s.partial = { loss: 0, correct: 0, seen: 0, seconds: 0 };
  const improved = !s.meta.best || valAcc > s.meta.best.valAcc;
  s.meta = {
    ...s.meta,
    epoch: epoch + 1,
    cursor: { epoch: epoch + 1, batch: 0 },
    partial: undefined,
    best: improved ? { valAcc: valAcc, epoch: epoch + 1 } : s.meta.best,
  };
  timer.lap('other');
  // best before last: a kill in between redoes this epoch (identically) and finds best already written.
  if (improved) await saveCheckpoint(s.paths.checkpoints, 'best', s.model, null, s.meta);
  s.last = await saveCheckpoint(s.paths.checkpoints, 'last', s.model, s.opt, s.meta);
  timer.lap('checkpoint');
}

/** `  run eta 3h20m`: the epochs left at the mean pace of this call's whole epochs (this one included). */
export function runEta(done: EpochTiming[], thisEpochSeconds: number, epochsLeft: number): string {
  if (epochsLeft <= 0) return '';
  const seconds = [...done.map((t) => t.seconds), thisEpochSeconds];
  return `  run eta ${formatDuration((epochsLeft * seconds.reduce((a, b) => a + b, 0)) / seconds.length)}`;
}

/** Batch `b` of `epoch`, augmented, with its (smoothed, mixed) targets [n, K]. */
function trainBatch(it: BatchIterator, cfg: TrainConfig, epoch: number, b: number, K: number) {
  const batch = it.batch(epoch, b);
  const targets = smoothTargets(batch.y, K, cfg.labelSmoothing);
  if (cfg.mixup > 0 && epoch < cfg.mixupOffEpoch) {
    const lam = sampleBeta(new Rng(hash32(cfg.seed, 'mixup', epoch, b)), cfg.mixup, cfg.mixup);
    mixBatch(batch.x, targets, batch.n, lam);
  }
  return { ...batch, targets, K };
}

function trainStep(model: Model, opt: AdamW, batch: ReturnType<typeof trainBatch>) {
  const x = imagesTensor(model, batch.x, batch.n);
  const t = tf.tensor2d(batch.targets, [batch.n, batch.K]);
  let logits: tf.Tensor2D | undefined;
  const { loss, grads } = lossAndGrads(model.store, () => {
    const out = model.forward(x, { training: true });
    logits = tf.keep(out);
    return softCrossEntropy(out, t);
  });
  const value = must(loss.dataSync()[0], 'the loss is a scalar');
  const applied = Number.isFinite(value) && opt.apply(model.store.params, grads);
  const kept = must(logits, 'the forward pass ran and kept its logits');
  const correct = countCorrect(kept, batch.y);
  tf.dispose([x, t, loss, kept, ...grads.values()]);
  return { loss: value, correct, n: batch.n, applied };
}

function imagesTensor(model: Model, x: Float32Array, n: number): tf.Tensor4D {
  const { imageSize: S, inChannels: C } = model.config;
  return tf.tensor4d(x, [n, S, S, C]);
}

const round = (v: number, digits = 6) => Number(v.toFixed(digits));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
