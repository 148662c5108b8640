// `geospike eval`: accuracy, top-2, per-class precision/recall/F1, confusion matrix, loss and speed of a checkpoint.
import { defineCommand } from 'citty';
import { openDataset } from '../data/dataset.js';
import {
  backendArg,
  checkedDataset,
  checkpointArg,
  dataDirFor,
  intOption,
  jsonArg,
  saveArg,
  splitArg,
  splitOption,
  trainedDataArg,
} from './args.js';
import { initEngine } from '../engine/backend.js';
import { formatEval } from '../eval/format.js';
import { evalCheckpoint, saveBesideRun } from '../eval/jobs.js';
import { EVAL_FILE } from '../train/run_folder.js';

export default defineCommand({
  meta: {
    name: 'eval',
    description: 'Evaluate a checkpoint: accuracy, top-2, per-class precision/recall/F1, confusion matrix',
  },
  args: {
    checkpoint: checkpointArg(),
    data: trainedDataArg(),
    split: splitArg,
    batch: { type: 'string', default: '64', description: 'Images per forward pass' },
    images: { type: 'string', description: 'Evaluate only N images, spread evenly over the split' },
    json: jsonArg(),
    'per-image': {
      type: 'boolean',
      default: false,
      description: "With --json: every image's id, label and logits (the model's raw outputs, in class order)",
    },
    save: saveArg(EVAL_FILE),
    backend: backendArg,
  },
  async run({ args }) {
    const split = splitOption(args.split);
    const batchSize = intOption('--batch', args.batch, 1);
    const maxImages = intOption('--images', args.images, 1);
    const data = await checkedDataset(dataDirFor(args.checkpoint, args.data));
    await initEngine(args.backend);
    const ds = await openDataset(data);
    const r = evalCheckpoint(args.checkpoint, ds, { split, batchSize, maxImages, perImage: args['per-image'] });
    const { perImage: _, ...summary } = r; // the run's eval.json keeps the summary only
    const saved =
      args.save && split === 'validation' && maxImages === undefined
        ? await saveBesideRun(r.checkpoint, EVAL_FILE, summary)
        : null;
    if (args.json) console.log(JSON.stringify(r, null, 2));
    else console.log(formatEval(r));
    if (saved) console.error(`saved ${saved}`);
  },
});
