// `geospike study`: trains each model with several seeds on the same data and split (the train entry point, resumable
// per seed), evaluates each run on the validation images, and reports accuracy with 95% intervals, McNemar's paired
// test and one verdict line. Finished seeds are skipped on a re-run; an interrupted one resumes from its checkpoint.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { openDataset, type Dataset } from '../data/dataset.js';
import { initEngine } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import { evalCheckpoint, saveBesideRun } from '../eval/jobs.js';
import type { EvalResult } from '../eval/evaluate.js';
import { renderStudyPage } from '../eval/report/study_html.js';
import { formatStudy, summariseStudy, type StudyRun } from '../eval/study.js';
import { PRESETS } from '../models/registry.js';
import { readCheckpoint } from '../train/checkpoint.js';
import { readConfigFile, resolveTrainConfig } from '../train/config.js';
import { train } from '../train/loop.js';
import { EVAL_FILE, runPaths } from '../train/run_folder.js';
import { backendArg, backendOption, checkedDataset, intOption, numberOption } from './args.js';
import { must } from '../util/must.js';
import { stopOnSignal } from '../util/stop_on_signal.js';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The run folder of one model and seed inside the study folder. */
export const studyRunDir = (out: string, preset: string, seed: number) => join(out, 'runs', preset, `seed-${seed}`);

function readEval(file: string): EvalResult {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as EvalResult;
  } catch (err) {
    throw new Error(`${file} is not readable JSON (${(err as Error).message}); delete it and run the study again`);
  }
}

export default defineCommand({
  meta: {
    name: 'study',
    description: 'Train models with several seeds, then accuracy with 95% intervals, McNemar tests and a verdict',
  },
  args: {
    data: { type: 'string', required: true, description: 'Dataset folder (every run uses its split)' },
    models: {
      type: 'string',
      required: true,
      description:
        'Comma-separated presets; the first is compared with each other (e.g. spikformer-2-128,resnet18-w16)',
    },
    seeds: { type: 'string', default: '3', description: 'Seeds per model (0..N-1)' },
    epochs: { type: 'string', required: true, description: 'Training epochs for every run' },
    out: {
      type: 'string',
      required: true,
      description: 'Study folder: runs/<preset>/seed-<s>/, study.json, study.html',
    },
    config: { type: 'string', description: 'JSON file of further training settings (as for `geospike train`)' },
    batch: { type: 'string', description: 'Batch size (default as for `geospike train`)' },
    lr: { type: 'string', description: 'Peak learning rate (default as for `geospike train`)' },
    backend: backendArg,
  },
  async run({ args }) {
    const plan = await studyPlan(args);
    const backend = await initEngine(plan.backend);
    const signals = stopOnSignal(say, { afterProgress: true });
    let ds: Dataset | null = null;
    const dataset = async () => (ds ??= await openDataset(plan.data));
    const runs: StudyRun[] = [];
    for (let seed = 0; seed < plan.seeds; seed++) {
      for (const preset of plan.presets) {
        const dir = studyRunDir(plan.out, preset, seed);
        if (!(await trainSeed(plan, preset, seed, dir, backend, signals))) return;
        const ev = await evalSeed(runPaths(dir), dataset);
        say(`${preset} seed ${seed}: validation accuracy ${(100 * ev.accuracy).toFixed(2)}%`);
        const labels = must(ev.labels, 'evalSeed redoes an eval without per-image labels');
        const predicted = must(ev.predicted, 'evalSeed redoes an eval without per-image predictions');
        runs.push({ model: preset, seed, dir, classes: ev.classes, labels, predicted });
      }
    }
    signals.release();
    await writeStudy(plan, runs);
  },
});

type StudyArgs = Record<'data' | 'models' | 'seeds' | 'epochs' | 'out', string> &
  Partial<Record<'config' | 'batch' | 'lr' | 'backend', string>>;

/** The study's flags, every one checked (and the dataset's class list read) before the engine starts. */
interface StudyPlan {
  data: string;
  presets: string[];
  seeds: number;
  epochs: number;
  out: string;
  fileConfig: Record<string, unknown>;
  batch: number | undefined;
  lr: number | undefined;
  backend: string | undefined;
}

async function studyPlan(args: StudyArgs): Promise<StudyPlan> {
  const presets = args.models
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const p of presets)
    if (!PRESETS[p]) throw new Error(`--models: unknown preset '${p}'; known: ${Object.keys(PRESETS).join(', ')}`);
  if (new Set(presets).size !== presets.length) throw new Error(`--models names a preset twice: ${args.models}`);
  return {
    presets,
    seeds: must(intOption('--seeds', args.seeds, 1), '--seeds has a default'),
    epochs: must(intOption('--epochs', args.epochs, 1), '--epochs is required'),
    batch: numberOption('--batch', args.batch),
    lr: numberOption('--lr', args.lr),
    backend: backendOption(args.backend),
    fileConfig: args.config ? readConfigFile(args.config) : {},
    data: await checkedDataset(args.data),
    out: args.out,
  };
}

/** Trains one seed of one model up to the epochs (resuming); false when a signal stopped it (the exit code is set). */
async function trainSeed(
  plan: StudyPlan,
  preset: string,
  seed: number,
  dir: string,
  backend: string,
  signals: ReturnType<typeof stopOnSignal>,
): Promise<boolean> {
  const { epochs } = plan;
  const paths = runPaths(dir);
  const trained = existsSync(paths.last) ? readCheckpoint(paths.last).meta.epoch : 0;
  if (trained >= epochs) {
    say(`${preset} seed ${seed}: trained (${trained} epochs)`);
    return true;
  }
  say(`\n${preset} seed ${seed}: training ${epochs} epochs -> ${dir}`);
  const settings = { data: plan.data, model: preset, out: dir, epochs, seed, backend, batch: plan.batch, lr: plan.lr };
  const cfg = resolveTrainConfig(plan.fileConfig, settings, say);
  const r = await train(cfg, { resume: trained > 0, control: signals.control });
  if (r.status !== 'interrupted') return true;
  say('interrupted; run the same command again to continue where it stopped');
  process.exitCode = signals.exitCode ?? 130;
  return false;
}

/** The run's eval: the saved one, unless it is older than the best checkpoint or lacks per-image predictions. */
async function evalSeed(paths: ReturnType<typeof runPaths>, dataset: () => Promise<Dataset>): Promise<EvalResult> {
  const ev = existsSync(paths.eval) ? readEval(paths.eval) : null;
  if (ev?.predicted && statSync(paths.eval).mtimeMs >= statSync(paths.best).mtimeMs) return ev;
  const redone = evalCheckpoint(paths.best, await dataset());
  await saveBesideRun(paths.best, EVAL_FILE, redone);
  return redone;
}

async function writeStudy(plan: StudyPlan, runs: StudyRun[]): Promise<void> {
  const summary = summariseStudy(runs);
  await writeFileAtomic(join(plan.out, 'study.json'), `${JSON.stringify(summary, null, 1)}\n`);
  const html = join(plan.out, 'study.html');
  await writeFileAtomic(html, renderStudyPage(`geospike study: ${plan.presets.join(' vs ')}`, summary));
  console.log(formatStudy(summary));
  say(`\nwritten: ${html}, ${join(plan.out, 'study.json')}`);
}
