// `geospike energy`: firing rates on real images, operations
// and energy per layer, and the ResNet18/spiking model ratio.
import { defineCommand } from 'citty';
import { openDataset } from '../data/dataset.js';
import {
  backendArg,
  checkedDataset,
  checkpointArg,
  dataDirFor,
  intOption,
  jsonArg,
  positiveNumber,
  saveArg,
  splitArg,
  splitOption,
  trainedDataArg,
} from './args.js';
import { initEngine } from '../engine/backend.js';
import { DEFAULT_ENERGY_PRESET, ENERGY_PRESETS, resolveCosts } from '../eval/energy.js';
import { formatEnergyResult } from '../eval/format.js';
import { energyOfCheckpoint, measureCheckpoint, saveBesideRun } from '../eval/jobs.js';
import { ENERGY_FILE } from '../train/run_folder.js';
import { isSpiking } from '../models/registry.js';
import { readCheckpoint } from '../train/checkpoint.js';

export default defineCommand({
  meta: {
    name: 'energy',
    description:
      'Count operations and estimate energy per image (Spikformer-paper method, rates measured on real images)',
  },
  args: {
    checkpoint: checkpointArg(),
    data: trainedDataArg('whose images give the firing rates'),
    images: {
      type: 'string',
      default: '256',
      description: 'Images to measure firing rates on, spread evenly over the split',
    },
    split: splitArg,
    costs: {
      type: 'string',
      default: DEFAULT_ENERGY_PRESET,
      description: `Energy per operation: ${Object.keys(ENERGY_PRESETS).join(', ')}`,
    },
    'e-mac': { type: 'string', description: 'Override the energy of one multiply-accumulate, pJ' },
    'e-ac': { type: 'string', description: 'Override the energy of one accumulate, pJ' },
    baseline: {
      type: 'string',
      description:
        'ANN to compare a spiking model with: a preset or a checkpoint (default resnet18; "none" for no ratio)',
    },
    measure: {
      type: 'boolean',
      default: false,
      description:
        'Also read a measured energy counter (Linux powercap/RAPL; NVML on an NVIDIA GPU) over a timed inference ' +
        'run; null where there is none',
    },
    'measure-images': { type: 'string', default: '256', description: 'Images classified in the --measure run' },
    json: jsonArg(),
    save: saveArg(ENERGY_FILE),
    backend: backendArg,
  },
  async run({ args }) {
    const costs = resolveCosts(
      args.costs,
      positiveNumber('--e-mac', args['e-mac']),
      positiveNumber('--e-ac', args['e-ac']),
    );
    const images = intOption('--images', args.images, 1);
    const split = splitOption(args.split);
    const measureImages = args.measure ? intOption('--measure-images', args['measure-images'], 1)! : 0;
    const spiking = isSpiking(readCheckpoint(args.checkpoint).meta.model);
    // A spiking model's rates, and --measure, need the dataset.
    const data = spiking || args.measure ? await checkedDataset(dataDirFor(args.checkpoint, args.data)) : undefined;
    const backend = await initEngine(args.backend);
    const ds = spiking && data ? await openDataset(data) : null;
    const progress = (done: number, total: number) =>
      process.stderr.write(`\rmeasuring firing rates ${done}/${total}${done === total ? '\n' : ''}`);
    const r = energyOfCheckpoint(args.checkpoint, ds, {
      images,
      split,
      costs,
      progress: args.json ? undefined : progress,
      baseline: args.baseline === 'none' ? null : args.baseline, // undefined: resnet18 for a spiking model
    });
    const measured = args.measure
      ? measureCheckpoint(r.checkpoint, ds ?? (await openDataset(data!)), measureImages, split, backend)
      : undefined;
    const result = measured ? { ...r, measured } : r;
    const saved = args.save ? await saveBesideRun(r.checkpoint, ENERGY_FILE, result) : null;
    if (args.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(formatEnergyResult(r));
      if (measured) {
        const per = measured.joulesPerImage;
        console.log(
          `\n  measured energy per image: ${per === null ? 'null' : `${(per * 1e3).toFixed(3)} mJ`} (${measured.note})`,
        );
      }
    }
    if (saved) console.error(`saved ${saved}`);
  },
});
