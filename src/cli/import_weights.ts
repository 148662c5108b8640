// `geospike import-weights FILE.pth --model PRESET --out RUN`: an official (or any) PyTorch checkpoint of one of
// geospike's architectures becomes a run folder that eval, energy, compare, predict and play read. The file is read
// by src/io/torch_checkpoint.ts, which never runs code from it. Labels are mapped by name: the head's rows are put in
// the order of the dataset's classes.json (--data), given the checkpoint's class names (its `classes`, or --classes).
import { existsSync, mkdirSync } from 'node:fs';
import { defineCommand } from 'citty';
import { channelStats, readClasses, openDataset } from '../data/dataset.js';
import { initEngine } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { SafeTensor } from '../io/safetensors.js';
import { readTorchCheckpoint } from '../io/torch_checkpoint.js';
import { architectureOf, createModel, isSpiking, PRESETS, resolveConfig } from '../models/registry.js';
import { loadStateDict } from '../models/state_dict.js';
import { saveCheckpoint, untrainedMeta, type CheckpointMeta } from '../train/checkpoint.js';
import { runPaths } from '../train/run_folder.js';
import { must } from '../util/must.js';
import { intOption } from './args.js';

/** The normalisation the official CIFAR-10 recipes train with (used when neither --data nor --mean/--std says). */
const CIFAR10 = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

function triple(flag: string, v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(',').map(Number);
  if (xs.length !== 3 || !xs.every((x) => Number.isFinite(x)))
    throw new Error(`${flag} must be three numbers (R,G,B), e.g. 0.5,0.5,0.5; got '${v}'`);
  return xs;
}

/** The head's rows reordered so row i is dataset class i; every dataset class must be one of the checkpoint's. */
export function mapHead(
  sd: Map<string, SafeTensor>,
  headPrefix: string,
  from: string[],
  to: string[],
  file: string,
): void {
  const missing = to.filter((c) => !from.includes(c));
  if (missing.length)
    throw new Error(
      `${file} has no output for class${missing.length > 1 ? 'es' : ''} ${missing.join(', ')} of the dataset ` +
        `(its classes: ${from.join(', ')}); pass --classes with the checkpoint's names, or a dataset of those classes`,
    );
  const rows = to.map((c) => from.indexOf(c));
  for (const name of [`${headPrefix}.weight`, `${headPrefix}.bias`]) {
    const t = sd.get(name);
    if (!t) continue;
    const width = t.data.length / must(t.shape[0], 'a head weight or bias has a first dimension');
    const src = t.data as Float32Array;
    const out = new Float32Array(rows.length * width);
    rows.forEach((r, i) => {
      out.set(src.subarray(r * width, (r + 1) * width), i * width);
    });
    sd.set(name, { dtype: 'F32', shape: [rows.length, ...t.shape.slice(1)], data: out });
  }
}

type Norm = { mean: number[] | undefined; std: number[] | undefined };

/**
 * The run's class names and normalisation: the dataset's classes (the head's rows mapped to them by name) and its
 * channel statistics where --mean/--std do not say, or else the checkpoint's own names.
 */
async function classesAndNorm(
  file: string,
  sd: Map<string, SafeTensor>,
  head: string,
  named: string[] | null | undefined,
  given: Norm,
  data: string | undefined,
  dataClasses: string[] | undefined,
): Promise<{ classes: string[]; norm: Norm }> {
  let classes: string[];
  let norm = given;
  if (data && dataClasses) {
    classes = dataClasses;
    if (named) mapHead(sd, head, named, classes, file);
    if (!norm.mean || !norm.std) {
      const stats = channelStats((await openDataset(data)).train.images);
      norm = { mean: norm.mean ?? stats.mean, std: norm.std ?? stats.std };
    }
  } else if (named) classes = named;
  else
    throw new Error(
      `${file} does not name its classes; pass --classes a,b,... (in its label order) or --data DIR (a dataset ` +
        'whose classes.json lists them in that order)',
    );
  const rows = must(sd.get(`${head}.weight`), 'the caller found the head').shape[0];
  if (classes.length !== rows)
    throw new Error(
      `${file} has ${rows} outputs but ${classes.length} class names were given; give one name per output`,
    );
  return { classes, norm };
}

export default defineCommand({
  meta: {
    name: 'import-weights',
    description: 'Turn a PyTorch checkpoint (.pth, .pth.tar) of a geospike architecture into a run folder',
  },
  args: {
    file: {
      type: 'positional',
      required: false,
      description: 'The checkpoint written by torch.save (PyTorch 1.6 or later)',
    },
    model: { type: 'string', description: `Preset of the same architecture: ${Object.keys(PRESETS).join(', ')}` },
    out: { type: 'string', description: 'Run folder to create' },
    data: { type: 'string', description: 'Dataset whose classes (by name) and mean/std the run uses' },
    classes: { type: 'string', description: "The checkpoint's class names in its label order, comma-separated" },
    'time-steps': { type: 'string', description: "Time steps T of a spiking model (default the preset's)" },
    mean: { type: 'string', description: "Input normalisation mean R,G,B (default --data's, else CIFAR-10's)" },
    std: { type: 'string', description: "Input normalisation std R,G,B (default --data's, else CIFAR-10's)" },
  },
  async run({ args }) {
    if (!args.file || !args.model || !args.out)
      throw new Error(
        'usage: geospike import-weights FILE.pth --model PRESET --out RUN [--data DIR] [--classes a,b,...]',
      );
    const file: string = args.file;
    const preset = args.model;
    const presetSpec = PRESETS[preset];
    if (!presetSpec || !Object.hasOwn(PRESETS, preset))
      throw new Error(`unknown model preset '${preset}'; known presets: ${Object.keys(PRESETS).join(', ')}`);
    const paths = runPaths(args.out);
    if (existsSync(paths.config) || existsSync(paths.last))
      throw new Error(`${args.out} already holds a run; choose a new --out`);
    // Every flag and the dataset's class list are checked before the (possibly large) checkpoint is read.
    const T = intOption('--time-steps', args['time-steps'], 1);
    const given = { mean: triple('--mean', args.mean), std: triple('--std', args.std) };
    const dataClasses = args.data ? await readClasses(args.data) : undefined;
    const ck = readTorchCheckpoint(file);
    const { arch, head } = architectureOf(presetSpec.config);
    const headW = ck.stateDict.get(`${head}.weight`);
    if (!headW) throw new Error(`${file} has no '${head}.weight', so it is not a ${arch}; pick the matching --model`);
    const named = args.classes ? args.classes.split(',').map((c) => c.trim()) : ck.classes;
    const { classes, norm } = await classesAndNorm(file, ck.stateDict, head, named, given, args.data, dataClasses);
    const config = resolveConfig(
      preset,
      isSpiking(presetSpec.config) ? { classes: classes.length, timeSteps: T } : { classes: classes.length },
    );
    await initEngine('cpu');
    const model = createModel(config);
    try {
      loadStateDict(model.store, ck.stateDict, file);
      mkdirSync(paths.checkpoints, { recursive: true });
      const meta: CheckpointMeta = {
        ...untrainedMeta(preset, config, classes, { mean: norm.mean ?? CIFAR10.mean, std: norm.std ?? CIFAR10.std }),
        train: args.data ? { data: args.data } : {},
      };
      await writeFileAtomic(
        paths.config,
        JSON.stringify({ model: args.model, modelConfig: config, classes, importedFrom: file }, null, 2),
      );
      await saveCheckpoint(paths.checkpoints, 'best', model, null, meta);
      await saveCheckpoint(paths.checkpoints, 'last', model, null, meta);
    } finally {
      model.store.dispose();
    }
    const other = Object.entries(ck.others)
      .map(([k, v]) => `${k} (${v})`)
      .join(', ');
    console.log(
      `imported ${ck.stateDict.size} tensors from ${file} (${ck.foundAt}${other ? `; also held: ${other}` : ''}) ` +
        `as ${args.model} with classes ${classes.join(', ')}\n  checkpoint: ${paths.best}`,
    );
  },
});
