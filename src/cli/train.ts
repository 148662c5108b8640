// `geospike train`: train a model preset on a dataset folder into a run folder, resumable.
import { defineCommand } from 'citty';
import { initEngine } from '../engine/backend.js';
import { PRESETS } from '../models/registry.js';
import { readConfigFile, resolveTrainConfig, DEFAULTS } from '../train/config.js';
import { backendArg, numberOption } from './args.js';
import { train } from '../train/loop.js';
import { runPaths } from '../train/run_folder.js';
import { stopOnSignal } from './stop_on_signal.js';
import { torchArgs, torchDispatch } from './train_torch_args.js';

export default defineCommand({
  meta: {
    name: 'train',
    description: 'Train a Spikformer or ResNet18 preset on a dataset folder (checkpoints, exact resume)',
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
    resume: { type: 'boolean', description: 'Continue the run in --out from checkpoints/last', default: false },
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
    const cfg = resolveTrainConfig(args.config ? readConfigFile(args.config) : {}, flags, (l) =>
      process.stderr.write(`${l}\n`),
    );
    if (await torchDispatch(cfg, args)) return; // --engine torch: the run is done (or stopped) by PyTorch
    await initEngine(cfg.backend === 'auto' ? undefined : cfg.backend);
    // First Ctrl-C / SIGTERM: finish the step, write `last`, exit 0.
    const { control } = stopOnSignal((line) => process.stderr.write(`${line}\n`));
    const result = await train(cfg, { resume: args.resume, control });
    const resumeCmd = `geospike train --out ${cfg.out} --data ${cfg.data} --model ${cfg.model} --resume`;
    if (result.status === 'interrupted') {
      console.log(`interrupted; resume with:\n  ${resumeCmd}`);
    } else {
      const best = result.best
        ? `best validation accuracy ${(100 * result.best.valAcc).toFixed(2)}% at epoch ${result.best.epoch}`
        : '';
      console.log(
        `done: ${result.epochsDone} epochs; ${best}\n  checkpoints: ${runPaths(cfg.out).best}, ${runPaths(cfg.out).last}`,
      );
    }
  },
});
