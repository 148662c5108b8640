// `geospike train`: train a model preset on a dataset folder into a run folder, resumable.
import { existsSync } from 'node:fs';
import { defineCommand } from 'citty';
import { openDataset } from '../data/dataset.js';
import { readCheckpoint } from '../train/checkpoint.js';
import { describeEstimate, estimateRun } from '../train/estimate.js';
import { plural } from '../util/plural.js';
import { initEngine } from '../engine/backend.js';
import { PRESETS } from '../models/registry.js';
import { readConfigFile, resolveTrainConfig, DEFAULTS } from '../train/config.js';
import { backendArg, checkedDataset, numberOption } from './args.js';
import { train } from '../train/loop.js';
import { runPaths } from '../train/run_folder.js';
import { stopOnSignal } from '../util/stop_on_signal.js';
import { torchArgs, torchDispatch } from './train_torch_args.js';
import { resumeCommand } from './args.js';

export { resumeCommand };

export default defineCommand({
  meta: {
    name: 'train',
    description:
      'Train a Spikformer, Spike-driven Transformer or ResNet18 preset on a dataset folder (checkpoints, exact resume)',
  },
  args: {
    data: { type: 'string', description: 'Dataset folder (from collect or import)' },
    model: {
      type: 'string',
      description: `Model preset: ${Object.keys(PRESETS).join(', ')} (default ${DEFAULTS.model})`,
    },
    out: { type: 'string', description: 'Run folder to write (config.json, summary.csv, metrics.jsonl, checkpoints/)' },
    config: { type: 'string', description: 'JSON file of settings (defaults < file < flags)' },
    epochs: { type: 'string', description: `Epochs (default ${DEFAULTS.epochs})` },
    batch: { type: 'string', description: `Batch size (default ${DEFAULTS.batch})` },
    lr: { type: 'string', description: `Peak learning rate (default ${DEFAULTS.lr})` },
    'weight-decay': { type: 'string', description: `AdamW weight decay (default ${DEFAULTS.weightDecay})` },
    'warmup-epochs': { type: 'string', description: `Linear warm-up epochs (default ${DEFAULTS.warmupEpochs})` },
    'min-lr': { type: 'string', description: `Cosine floor (default ${DEFAULTS.minLr})` },
    'time-steps': { type: 'string', description: `Spikformer time steps T (default ${DEFAULTS.timeSteps})` },
    'label-smoothing': { type: 'string', description: `Label smoothing (default ${DEFAULTS.labelSmoothing})` },
    mixup: { type: 'string', description: `Mixup alpha, 0 = off (default ${DEFAULTS.mixup})` },
    'mixup-off-epoch': {
      type: 'string',
      description: `Epoch from which mixup stops (default ${DEFAULTS.mixupOffEpoch})`,
    },
    seed: {
      type: 'string',
      description: `Seed for initialisation, order, augmentation, mixup (default ${DEFAULTS.seed})`,
    },
    resume: {
      type: 'boolean',
      description: "Continue the run in --out from checkpoints/last, with the run's own settings (its config.json)",
      default: false,
    },
    estimate: {
      type: 'boolean',
      description:
        "Time two training steps first and print the whole run's estimated time and memory (--no-estimate skips)",
      default: true,
    },
    backend: backendArg,
    ...torchArgs,
  },
  async run({ args }) {
    const flags = {
      data: args.data,
      model: args.model,
      out: args.out,
      backend: args.backend,
      epochs: numberOption('--epochs', args.epochs),
      batch: numberOption('--batch', args.batch),
      lr: numberOption('--lr', args.lr),
      weightDecay: numberOption('--weight-decay', args['weight-decay']),
      warmupEpochs: numberOption('--warmup-epochs', args['warmup-epochs']),
      minLr: numberOption('--min-lr', args['min-lr']),
      timeSteps: numberOption('--time-steps', args['time-steps']),
      labelSmoothing: numberOption('--label-smoothing', args['label-smoothing']),
      mixup: numberOption('--mixup', args.mixup),
      mixupOffEpoch: numberOption('--mixup-off-epoch', args['mixup-off-epoch']),
      seed: numberOption('--seed', args.seed),
    };
    const file = args.config ? readConfigFile(args.config) : {};
    // --resume continues the run as it was started: its config.json is the base, and a setting given again with
    // another value is refused (naming both) rather than silently changing the run.
    const base = args.resume ? savedRunConfig(args.out, file, flags) : file;
    const say = (l: string) => process.stderr.write(`${l}\n`);
    const cfg = resolveTrainConfig(base, args.resume ? {} : flags, args.resume ? () => {} : say);
    // a wrong --data fails before the engine (or PyTorch) starts, after the flags are checked
    // --engine torch: the run is done (or stopped) by PyTorch
    if (await torchDispatch(cfg, args, () => checkedDataset(cfg.data))) return;
    const backend = await initEngine(cfg.backend === 'auto' ? undefined : cfg.backend);
    // (A run folder that train() will refuse, holding a run without --resume, is not worth two timed steps first.)
    if (args.estimate && (args.resume || !existsSync(runPaths(cfg.out).last))) {
      const ds = await openDataset(cfg.data);
      const done = args.resume ? readCheckpoint(runPaths(cfg.out).last).meta.epoch : 0;
      const e = await estimateRun(cfg, ds.train.n, ds.validation.n, done);
      say(describeEstimate(e, cfg, backend, done));
    }
    // First Ctrl-C / SIGTERM: finish the step, write `last`, exit 130 / 143 (the shell's status for the signal).
    const stop = stopOnSignal(say, { afterProgress: true });
    const result = await train(cfg, { resume: args.resume, control: stop.control });
    if (result.status === 'interrupted') {
      console.log(`interrupted; resume with:\n  ${resumeCommand(cfg.out)}`);
      process.exitCode = stop.exitCode ?? 130;
    } else {
      const best = result.best
        ? `best validation accuracy ${(100 * result.best.valAcc).toFixed(2)}% at epoch ${result.best.epoch}`
        : '';
      console.log(
        `done: ${plural(result.epochsDone, 'epoch')}; ${best}\n  ` +
          `checkpoints: ${runPaths(cfg.out).best}, ${runPaths(cfg.out).last}`,
      );
    }
  },
});

/** What a person types to continue the run in `out` (npx: a fresh clone has no `geospike` on PATH). */
const FLAG_NAMES: Record<string, string> = {
  weightDecay: '--weight-decay',
  warmupEpochs: '--warmup-epochs',
  minLr: '--min-lr',
  timeSteps: '--time-steps',
  labelSmoothing: '--label-smoothing',
  mixupOffEpoch: '--mixup-off-epoch',
};

/**
 * The settings of the run in `out` (its config.json), after refusing any setting in `file` or `flags` that differs
 * from the run's. Where things are (--data, --out) and the backend may change: they are not part of what the run is
 * (a moved dataset is still checked against the run's classes when training resumes).
 */
export function savedRunConfig(
  out: string | undefined,
  file: Record<string, unknown>,
  flags: Record<string, unknown>,
): Record<string, unknown> {
  if (!out) throw new Error('--resume needs --out RUN, the run folder to continue');
  const path = runPaths(out).config;
  if (!existsSync(path))
    throw new Error(`nothing to resume: ${path} does not exist; run without --resume to start a run in ${out}`);
  // Only the settings: config.json also records what the run derived (modelConfig, classes, and the like).
  const settings = new Set([...Object.keys(DEFAULTS), 'data', 'out']);
  const saved = Object.fromEntries(Object.entries(readConfigFile(path)).filter(([k]) => settings.has(k)));
  for (const [given, from] of [
    [file, 'the --config file'],
    [flags, 'the command line'],
  ] as const) {
    for (const [k, v] of Object.entries(given)) {
      if (v === undefined) continue;
      if (MAY_CHANGE.has(k)) {
        saved[k] = v;
        continue;
      }
      if (JSON.stringify(v) !== JSON.stringify(saved[k])) {
        const flag = FLAG_NAMES[k] ?? `--${k}`;
        throw new Error(
          `${flag} ${v} (from ${from}) conflicts with the run's ${flag} ${saved[k]} in ${path}: ` +
            `drop ${flag} to resume with ${saved[k]}, or start a new run with another --out`,
        );
      }
    }
  }
  saved.out = out;
  return saved;
}

const MAY_CHANGE = new Set(['data', 'out', 'backend']);
