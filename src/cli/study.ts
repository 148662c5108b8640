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
import { backendArg, intOption, numberOption } from './args.js';
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
    const presets = args.models
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    for (const p of presets)
      if (!PRESETS[p]) throw new Error(`--models: unknown preset '${p}'; known: ${Object.keys(PRESETS).join(', ')}`);
    if (new Set(presets).size !== presets.length) throw new Error(`--models names a preset twice: ${args.models}`);
    const seeds = intOption('--seeds', args.seeds, 1)!;
    const epochs = intOption('--epochs', args.epochs, 1)!;
    const fileConfig = args.config ? readConfigFile(args.config) : {};
    const backend = await initEngine(args.backend);
    const signals = stopOnSignal(say, { afterProgress: true });
    let ds: Dataset | null = null;
    const runs: StudyRun[] = [];
    for (let seed = 0; seed < seeds; seed++) {
      for (const preset of presets) {
        const dir = studyRunDir(args.out, preset, seed);
        const paths = runPaths(dir);
        const trained = existsSync(paths.last) ? readCheckpoint(paths.last).meta.epoch : 0;
        if (trained >= epochs) say(`${preset} seed ${seed}: trained (${trained} epochs)`);
        else {
          say(`\n${preset} seed ${seed}: training ${epochs} epochs -> ${dir}`);
          const cfg = resolveTrainConfig(
            fileConfig,
            {
              data: args.data,
              model: preset,
              out: dir,
              epochs,
              seed,
              backend,
              batch: numberOption('--batch', args.batch),
              lr: numberOption('--lr', args.lr),
            },
            say,
          );
          const r = await train(cfg, { resume: trained > 0, control: signals.control });
          if (r.status === 'interrupted') {
            say('interrupted; run the same command again to continue where it stopped');
            process.exitCode = signals.exitCode ?? 130;
            return;
          }
        }
        // An eval older than the best checkpoint, or one without per-image predictions, is redone.
        let ev = existsSync(paths.eval) ? readEval(paths.eval) : null;
        if (!ev?.predicted || statSync(paths.eval).mtimeMs < statSync(paths.best).mtimeMs) {
          ds ??= await openDataset(args.data);
          ev = evalCheckpoint(paths.best, ds);
          await saveBesideRun(paths.best, EVAL_FILE, ev);
        }
        say(`${preset} seed ${seed}: validation accuracy ${(100 * ev.accuracy).toFixed(2)}%`);
        runs.push({ model: preset, seed, dir, classes: ev.classes, labels: ev.labels!, predicted: ev.predicted! });
      }
    }
    signals.release();
    const summary = summariseStudy(runs);
    await writeFileAtomic(join(args.out, 'study.json'), `${JSON.stringify(summary, null, 1)}\n`);
    const html = join(args.out, 'study.html');
    await writeFileAtomic(html, renderStudyPage(`geospike study: ${presets.join(' vs ')}`, summary));
    console.log(formatStudy(summary));
    say(`\nwritten: ${html}, ${join(args.out, 'study.json')}`);
  },
});
