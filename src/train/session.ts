// The start of a training call (loop.ts): the run folder checked (a new run, a resume, or a restart of a run killed
// before its first checkpoint), the model and optimizer built or restored from `last`, config.json written, and the
// data iterators and schedule the epochs use.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { BatchIterator, type Dataset, openDataset } from '../data/dataset.js';
import { sameClasses } from '../data/manifest.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Model } from '../models/model.js';
import { createModel, isSpiking, type ModelConfig, PRESETS, resolveConfig } from '../models/registry.js';
import { loadStateDict } from '../models/state_dict.js';
import { plural } from '../util/plural.js';
import { AdamW } from './adamw.js';
import {
  type CheckpointMeta,
  type EpochSums,
  readCheckpoint,
  readCheckpointWeights,
  readOptimizerState,
} from './checkpoint.js';
import { ARCHITECTURE_KEYS, type TrainConfig } from './config.js';
import type { TrainOptions } from './loop.js';
import {
  LEGACY_WEIGHT_DECAY_RULE,
  noDecayNames,
  WEIGHT_DECAY_RULE,
  WEIGHT_DECAY_RULES,
  type WeightDecayRule,
} from './param_groups.js';
import { Progress } from './progress.js';
import { type RunPaths, runPaths } from './run_folder.js';
import { RunLog } from './run_log.js';
import type { ScheduleOptions } from './schedule.js';
import type { EpochTiming } from './timing.js';
import { must } from '../util/must.js';

/** Settings that fix the data stream; changing them on resume would not continue the same run. */
const STREAM_KEYS = ['batch', 'seed'] as const;

export class TrainingError extends Error {}

/** What the epochs of one training call work on; `meta`, `partial` and `last` advance as it trains. */
export interface Session {
  cfg: TrainConfig;
  paths: RunPaths;
  model: Model;
  modelConfig: ModelConfig;
  opt: AdamW;
  /** The checkpoint state: step, cursor (epoch and batch to continue from), best, history. */
  meta: CheckpointMeta;
  /** The current epoch's running sums (restored from a checkpoint written mid-epoch). */
  partial: EpochSums;
  runLog: RunLog;
  trainIt: BatchIterator;
  valIt: BatchIterator;
  stepsPerEpoch: number;
  sched: ScheduleOptions;
  /** Number of classes (the width of the targets). */
  classes: number;
  progress: Progress;
  control: { stop: boolean };
  /** The last checkpoint written (or, before any, where `last` goes). */
  last: string;
  timings: EpochTiming[];
  /** When the step loop last let the event loop run (performance.now()). */
  lastYield: number;
}

/** Checks the run folder, builds or restores the model and optimizer, and records the run's config.json. */
export async function openSession(cfg: TrainConfig, opts: TrainOptions): Promise<Session> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const paths = runPaths(cfg.out);
  const restart = checkRunFolder(cfg, opts.resume ?? false, paths, log);
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
  const runLog = new RunLog(cfg.out);
  if (restart) await runLog.truncate(0);
  const { meta, partial } =
    opts.resume && !restart
      ? await resumeFromLast(cfg, ds, paths, model, opt, runLog, log)
      : { meta: freshMeta(cfg, modelConfig, ds), partial: undefined };
  await writeFileAtomic(
    paths.config,
    JSON.stringify({ ...cfg, modelConfig, classes: ds.classes, weightDecayRule }, null, 2),
  );
  const { trainIt, valIt } = iterators(cfg, ds, meta);
  const stepsPerEpoch = trainIt.batchesPerEpoch;
  log(
    `training ${cfg.model} (${model.store.counts().params.toLocaleString('en-US')} params) on ${ds.train.n} images, ` +
      `${plural(stepsPerEpoch, 'step')} of ${cfg.batch} per epoch, ${plural(cfg.epochs, 'epoch')}, ` +
      `backend ${tf.getBackend()}`,
  );
  return {
    cfg,
    paths,
    model,
    modelConfig,
    opt,
    meta,
    partial: { loss: 0, correct: 0, seen: 0, seconds: 0, ...partial },
    runLog,
    trainIt,
    valIt,
    stepsPerEpoch,
    sched: { lr: cfg.lr, minLr: cfg.minLr, warmupEpochs: cfg.warmupEpochs, epochs: cfg.epochs, stepsPerEpoch },
    classes: ds.classes.length,
    progress: opts.progress ?? new Progress(),
    control: opts.control ?? { stop: false },
    last: paths.last,
    timings: [],
    lastYield: performance.now(),
  };
}

/**
 * Refuses a run folder that does not fit the call (a run there without --resume, nothing to resume) and creates its
 * checkpoints folder. Returns whether the run restarts: killed before its first checkpoint was committed, it left
 * config.json (and maybe epoch rows) but no last.json, so it starts again from epoch 1 and its rows go (no epoch is
 * recorded twice).
 */
function checkRunFolder(cfg: TrainConfig, resume: boolean, paths: RunPaths, log: (line: string) => void): boolean {
  const { last } = paths;
  if (!resume && existsSync(last)) {
    throw new TrainingError(
      `${cfg.out} already holds a run (${last}); add --resume to continue it, or choose another --out`,
    );
  }
  const restart = !existsSync(last) && existsSync(paths.config);
  if (resume && !existsSync(last) && !restart) {
    throw new TrainingError(`nothing to resume: ${last} does not exist; run without --resume to start`);
  }
  if (restart) log(`no checkpoint was committed before ${cfg.out}'s run stopped; starting it again from epoch 1`);
  mkdirSync(paths.checkpoints, { recursive: true });
  return restart;
}

/** The state of a new run: nothing trained yet. */
function freshMeta(cfg: TrainConfig, modelConfig: ModelConfig, ds: Dataset): CheckpointMeta {
  return {
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
}

/**
 * Restores the model and optimizer from the run's `last` checkpoint and cuts the epoch rows back to it. Returns its
 * state (after refusing changed settings) and the sums of the epoch it stopped in.
 */
async function resumeFromLast(
  cfg: TrainConfig,
  ds: Dataset,
  paths: RunPaths,
  model: Model,
  opt: AdamW,
  runLog: RunLog,
  log: (line: string) => void,
): Promise<{ meta: CheckpointMeta; partial: EpochSums | undefined }> {
  const ck = readCheckpoint(paths.last);
  const meta = resumeMeta(ck.meta, cfg, ds);
  loadStateDict(model.store, readCheckpointWeights(ck), ck.weightsPath);
  if (!ck.optimizerPath)
    throw new TrainingError(`${paths.last} names no optimizer file; a run resumes only from a \`last\` checkpoint`);
  opt.load(readOptimizerState(ck.optimizerPath, meta.step), model.store.params);
  await runLog.truncate(meta.epoch);
  log(`resuming ${cfg.out} at epoch ${meta.cursor.epoch + 1}, batch ${meta.cursor.batch} (step ${meta.step})`);
  return { meta, partial: meta.partial };
}

/** The training batches (augmented, the last partial batch dropped) and the validation batches, in order. */
function iterators(cfg: TrainConfig, ds: Dataset, meta: CheckpointMeta) {
  const common = { batchSize: cfg.batch, seed: cfg.seed, mean: meta.mean, std: meta.std };
  return {
    trainIt: new BatchIterator(ds.train, { ...common, augment: true, dropLast: true }),
    valIt: new BatchIterator(ds.validation, { ...common, shuffle: false }),
  };
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
    isSpiking(must(PRESETS[cfg.model], 'the config names a known preset').config)
      ? { classes, timeSteps: cfg.timeSteps }
      : { classes },
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
