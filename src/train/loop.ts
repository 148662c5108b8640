// The training loop: epochs of AdamW steps on augmented batches, validation, a row per epoch, checkpoints last/best.
// Everything random is a pure function of (seed, epoch, batch), so a run resumed from any checkpoint, even one written
// mid-epoch on Ctrl-C, takes exactly the steps an uninterrupted run would.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { hash32 } from '../data/hash.js';
import { BatchIterator, openDataset, type Dataset } from '../data/dataset.js';
import { sameClasses } from '../data/manifest.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Model } from '../models/model.js';
import { createModel, isSpiking, PRESETS, resolveConfig, type ModelConfig } from '../models/registry.js';
import { loadStateDict } from '../models/state_dict.js';
import { lockFolder } from '../util/lock.js';
import { Rng } from '../util/rng.js';
import { pauseForTest, testFault } from '../util/test_fault.js';
import { AdamW } from './adamw.js';
import {
  readCheckpoint,
  readCheckpointWeights,
  readOptimizerState,
  saveCheckpoint,
  type CheckpointMeta,
  type EpochSums,
} from './checkpoint.js';
import { ARCHITECTURE_KEYS, type TrainConfig } from './config.js';
import { lossAndGrads } from './grads.js';
import {
  LEGACY_WEIGHT_DECAY_RULE,
  noDecayNames,
  WEIGHT_DECAY_RULE,
  WEIGHT_DECAY_RULES,
  type WeightDecayRule,
} from './param_groups.js';
import { softCrossEntropy } from './loss.js';
import { mixBatch, sampleBeta, smoothTargets } from './mixup.js';
import { Progress, formatDuration } from './progress.js';
import { plural } from '../util/plural.js';
import { RunLog, type EpochRecord } from './run_log.js';
import { learningRate } from './schedule.js';
import { runPaths } from './run_folder.js';
import { countCorrect, runSplit } from './validate.js';
import { EpochTimer, type EpochTiming } from './timing.js';

/** How often the step loop lets the event loop run, milliseconds. */
const YIELD_MS = 200;

/** Settings that fix the data stream; changing them on resume would not continue the same run. */
const STREAM_KEYS = ['batch', 'seed'] as const;

export class TrainingError extends Error {}

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
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const progress = opts.progress ?? new Progress();
  const control = opts.control ?? { stop: false };
  const paths = runPaths(cfg.out);
  const { checkpoints: ckDir, last: lastJson } = paths;
  if (!opts.resume && existsSync(lastJson)) {
    throw new TrainingError(
      `${cfg.out} already holds a run (${lastJson}); add --resume to continue it, or choose another --out`,
    );
  }
  // A run killed before its first checkpoint was committed left config.json (and maybe epoch rows) but no last.json:
  // it starts again from epoch 1, and its rows go, so no epoch is recorded twice.
  const restart = !existsSync(lastJson) && existsSync(paths.config);
  if (opts.resume && !existsSync(lastJson) && !restart) {
    throw new TrainingError(`nothing to resume: ${lastJson} does not exist; run without --resume to start`);
  }
  if (restart) log(`no checkpoint was committed before ${cfg.out}'s run stopped; starting it again from epoch 1`);
  mkdirSync(ckDir, { recursive: true });

  const ds = await openDataset(cfg.data);
  if (ds.validation.n === 0)
    throw new TrainingError(`${cfg.data} has no validation images; training needs them to report accuracy`);
  const modelConfig = modelConfigFor(cfg, ds.classes.length);
  const model = createModel(modelConfig, cfg.seed);
  const weightDecayRule = opts.resume ? ruleOfRun(paths.config, log) : WEIGHT_DECAY_RULE;
  const opt = new AdamW({
    lr: cfg.lr,
    weightDecay: cfg.weightDecay,
    noDecay: noDecayNames(model.store, weightDecayRule),
  });
  let meta: CheckpointMeta = {
    preset: cfg.model,
    model: modelConfig,
    classes: ds.classes,
    mean: ds.mean,
    std: ds.std,
    epoch: 0,
    step: 0,
    cursor: { epoch: 0, batch: 0 },
    best: null,
    train: { ...cfg },
    history: [],
  };
  let partial: EpochSums = { loss: 0, correct: 0, seen: 0, seconds: 0 };
  const runLog = new RunLog(cfg.out);

  if (restart) await runLog.truncate(0);
  if (opts.resume && !restart) {
    const ck = readCheckpoint(lastJson);
    meta = resumeMeta(ck.meta, cfg, ds);
    loadStateDict(model.store, readCheckpointWeights(ck), ck.weightsPath);
    if (!ck.optimizerPath)
      throw new TrainingError(`${lastJson} names no optimizer file; a run resumes only from a \`last\` checkpoint`);
    opt.load(readOptimizerState(ck.optimizerPath, meta.step), model.store.params);
    partial = { ...partial, ...meta.partial };
    await runLog.truncate(meta.epoch);
    log(`resuming ${cfg.out} at epoch ${meta.cursor.epoch + 1}, batch ${meta.cursor.batch} (step ${meta.step})`);
  }
  await writeFileAtomic(
    paths.config,
    JSON.stringify({ ...cfg, modelConfig, classes: ds.classes, weightDecayRule }, null, 2),
  );

  const trainIt = new BatchIterator(ds.train, {
    batchSize: cfg.batch,
    seed: cfg.seed,
    mean: meta.mean,
    std: meta.std,
    augment: true,
    dropLast: true,
  });
  const valIt = new BatchIterator(ds.validation, {
    batchSize: cfg.batch,
    seed: cfg.seed,
    mean: meta.mean,
    std: meta.std,
    shuffle: false,
  });
  const stepsPerEpoch = trainIt.batchesPerEpoch;
  const sched = { lr: cfg.lr, minLr: cfg.minLr, warmupEpochs: cfg.warmupEpochs, epochs: cfg.epochs, stepsPerEpoch };
  const K = ds.classes.length;
  log(
    `training ${cfg.model} (${model.store.counts().params.toLocaleString('en-US')} params) on ${ds.train.n} images, ` +
      `${plural(stepsPerEpoch, 'step')} of ${cfg.batch} per epoch, ${plural(cfg.epochs, 'epoch')}, backend ${tf.getBackend()}`,
  );

  const save = async (kind: string, m: CheckpointMeta) =>
    saveCheckpoint(ckDir, kind, model, kind === 'last' ? opt : null, m);
  let last = lastJson;
  const timings: EpochTiming[] = [];
  let lastYield = performance.now();
  try {
    for (let epoch = meta.cursor.epoch; epoch < cfg.epochs; epoch++) {
      const first = epoch === meta.cursor.epoch ? meta.cursor.batch : 0;
      const timer = new EpochTimer();
      for (let b = first; b < stepsPerEpoch; b++) {
        const t0 = performance.now();
        opt.lr = learningRate(meta.step, sched);
        opt.weightDecay = cfg.weightDecay;
        const batch = trainBatch(trainIt, cfg, epoch, b, K);
        timer.lap('data');
        const { loss, correct, n, applied } = trainStep(model, opt, batch);
        timer.lap('step');
        if (!Number.isFinite(loss)) {
          throw new TrainingError(
            `the loss became ${loss} at epoch ${epoch + 1}, step ${meta.step + 1} (lr ${opt.lr.toExponential(2)}); training stopped ` +
              `and no checkpoint was overwritten (${lastJson} is the last good one). Lower --lr or check the data.`,
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
          stepsPerEpoch,
          {
            loss: (partial.loss / partial.seen).toFixed(4),
            acc: `${((100 * partial.correct) / partial.seen).toFixed(1)}%`,
            'img/s': rate.toFixed(1),
          },
          ((stepsPerEpoch - b - 1) * cfg.batch) / rate,
        );
        // Let pending events run (a Ctrl-C handler sets control.stop) a few times a second: a turn of the event loop
        // after every step cost ~2 ms of CPU each (2% of a resnet18-w16 epoch). The step loop itself never waits.
        if (performance.now() - lastYield > YIELD_MS) {
          await new Promise(setImmediate);
          lastYield = performance.now();
        }
        if (testFault('pause-after-step') === String(meta.step))
          await pauseForTest(`after step ${meta.step}`, () => control.stop);
        if (control.stop) {
          meta = { ...meta, epoch, cursor: { epoch, batch: b + 1 }, partial: { ...partial } };
          last = await save('last', meta);
          progress.line(`stopped after step ${meta.step}; checkpoint ${last}`);
          return { status: 'interrupted', epochsDone: epoch, best: meta.best, lastCheckpoint: last, timings };
        }
        timer.lap('other');
      }
      const val = runSplit(model, valIt, { rates: true });
      const valAcc = val.correct / valIt.data.n;
      timer.lap('validation');
      if (!Number.isFinite(val.loss)) {
        throw new TrainingError(
          `the validation loss became ${val.loss} at epoch ${epoch + 1} (step ${meta.step}); training stopped and no checkpoint ` +
            `was overwritten (${lastJson} is the last good one). Lower --lr or check the data.`,
        );
      }
      const row: EpochRecord = {
        epoch: epoch + 1,
        train_loss: round(partial.loss / partial.seen),
        train_acc: round(partial.correct / partial.seen),
        val_loss: round(val.loss),
        val_acc: round(valAcc),
        lr: learningRate(meta.step - 1, sched),
        epoch_seconds: round(partial.seconds, 3),
        images_per_s: round(partial.seen / partial.seconds, 2),
        firing_rate: val.rates ? round(mean(Object.values(val.rates))) : null,
      };
      runLog.append(row, {
        preset: cfg.model,
        model: modelConfig.arch,
        step: meta.step,
        backend: tf.getBackend(),
        rates: val.rates,
      });
      progress.line(
        `epoch ${row.epoch}/${cfg.epochs}  train loss ${row.train_loss.toFixed(4)} acc ${pct(row.train_acc)}  ` +
          `val loss ${row.val_loss.toFixed(4)} acc ${pct(row.val_acc)}  ${formatDuration(row.epoch_seconds)} (${row.images_per_s} img/s)` +
          (row.firing_rate === null ? '' : `  firing ${pct(row.firing_rate)}`) +
          runEta(timings, row.epoch_seconds, cfg.epochs - row.epoch),
      );
      partial = { loss: 0, correct: 0, seen: 0, seconds: 0 };
      const improved = !meta.best || valAcc > meta.best.valAcc;
      meta = {
        ...meta,
        epoch: epoch + 1,
        cursor: { epoch: epoch + 1, batch: 0 },
        partial: undefined,
        best: improved ? { valAcc: valAcc, epoch: epoch + 1 } : meta.best,
      };
      timer.lap('other');
      // best before last: a kill in between redoes this epoch (identically) and finds best already written.
      if (improved) await save('best', meta);
      last = await save('last', meta);
      timer.lap('checkpoint');
      timings.push(timer.finish(epoch + 1, (stepsPerEpoch - first) * cfg.batch));
      if (control.stop) {
        progress.line(`stopped after epoch ${epoch + 1}; checkpoint ${last}`);
        return { status: 'interrupted', epochsDone: epoch + 1, best: meta.best, lastCheckpoint: last, timings };
      }
    }
    return { status: 'finished', epochsDone: cfg.epochs, best: meta.best, lastCheckpoint: last, timings };
  } finally {
    opt.dispose();
    model.store.dispose();
  }
}

/**
 * The weight-decay grouping a run started with, from its config.json. A run started before the rule was recorded
 * decayed every parameter and keeps doing so (its moments and schedule assume it); said once, as the rule is then
 * written down.
 */
function ruleOfRun(configPath: string, log: (line: string) => void): WeightDecayRule {
  let recorded: unknown;
  try {
    recorded = (JSON.parse(readFileSync(configPath, 'utf8')) as { weightDecayRule?: unknown }).weightDecayRule;
  } catch {
    recorded = undefined; // missing or unreadable: the run predates the record, as below
  }
  if (recorded === undefined) {
    log(
      `${configPath} records no weightDecayRule: this run started before geospike followed timm's parameter groups, ` +
        `so it resumes decaying every parameter ('${LEGACY_WEIGHT_DECAY_RULE}'); a new run uses '${WEIGHT_DECAY_RULE}'`,
    );
    return LEGACY_WEIGHT_DECAY_RULE;
  }
  if (!WEIGHT_DECAY_RULES.includes(recorded as WeightDecayRule)) {
    throw new TrainingError(
      `${configPath} has weightDecayRule ${JSON.stringify(recorded)}, which this geospike does not know ` +
        `(${WEIGHT_DECAY_RULES.join(', ')}); resume it with the geospike version that started it`,
    );
  }
  return recorded as WeightDecayRule;
}

function modelConfigFor(cfg: TrainConfig, classes: number): ModelConfig {
  return resolveConfig(
    cfg.model,
    isSpiking(PRESETS[cfg.model].config) ? { classes, timeSteps: cfg.timeSteps } : { classes },
  );
}

/** The checkpoint's state, after refusing changes that would make it another run; allowed changes are recorded. */
function resumeMeta(meta: CheckpointMeta, cfg: TrainConfig, ds: Dataset): CheckpointMeta {
  const prev: Record<string, unknown> = meta.train;
  for (const key of [...ARCHITECTURE_KEYS, ...STREAM_KEYS]) {
    if (prev[key] !== cfg[key]) {
      throw new TrainingError(
        `cannot resume with ${key} ${JSON.stringify(cfg[key])}: the run was started with ${key} ` +
          `${JSON.stringify(prev[key])}; drop the flag, or start a new run in another --out`,
      );
    }
  }
  if (!sameClasses(meta.classes, ds.classes)) {
    throw new TrainingError(
      `the dataset ${cfg.data} has classes [${ds.classes}] but the run was trained on [${meta.classes}]; ` +
        'resume with the dataset it started on',
    );
  }
  const changed: Record<string, [unknown, unknown]> = {};
  for (const [k, v] of Object.entries(cfg)) if (prev[k] !== v) changed[k] = [prev[k], v];
  const history = [...(meta.history ?? [])];
  if (Object.keys(changed).length) history.push({ atStep: meta.step, changed });
  return { ...meta, train: { ...cfg }, history };
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
  const value = loss.dataSync()[0];
  const applied = Number.isFinite(value) && opt.apply(model.store.params, grads);
  const correct = countCorrect(logits!, batch.y);
  tf.dispose([x, t, loss, logits!, ...grads.values()]);
  return { loss: value, correct, n: batch.n, applied };
}

function imagesTensor(model: Model, x: Float32Array, n: number): tf.Tensor4D {
  const { imageSize: S, inChannels: C } = model.config;
  return tf.tensor4d(x, [n, S, S, C]);
}

const round = (v: number, digits = 6) => Number(v.toFixed(digits));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
