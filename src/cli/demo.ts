// `geospike demo`: the whole pipeline on data that installs with the project (Debian's Fashion-MNIST): import a subset,
// train a small Spikformer and a ResNet18 (and, with --sdt, a Spike-driven Transformer), evaluate them, measure energy,
// write the report. Every step leaves files
// behind, so running it again skips what is done and resumes an interrupted training run from its last checkpoint.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { openDataset, type Dataset } from '../data/dataset.js';
import { checkFashionMnistSource, FASHION_MNIST_DIR, importFashionMnist } from '../data/importers/fashion_mnist.js';
import { backendArg, backendOption, intOption } from './args.js';
import { initEngine } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import { formatEnergy } from '../eval/energy.js';
import type { DemoRole } from '../models/architecture.js';
import { presetsOfRole } from '../models/registry.js';
import { energyOfCheckpoint, evalCheckpoint, saveBesideRun } from '../eval/jobs.js';
import { buildReport } from '../eval/report/data.js';
import { renderReport } from '../eval/report/html.js';
import { explainCheckpoint } from '../eval/explain_job.js';
import { ENERGY_FILE, EVAL_FILE, EXPLAIN_FILE, runPaths } from '../train/run_folder.js';
import { readCheckpoint } from '../train/checkpoint.js';
import { resolveTrainConfig } from '../train/config.js';
import { train } from '../train/loop.js';
import { formatDuration } from '../train/progress.js';
import { stopOnSignal } from '../util/stop_on_signal.js';
import { must } from '../util/must.js';
import { plural } from '../util/plural.js';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** True when `result` exists and was written after `source` (a checkpoint newer than its eval means redo it). */
const fresh = (result: string, source: string) =>
  existsSync(result) && statSync(result).mtimeMs >= statSync(source).mtimeMs;

export default defineCommand({
  meta: {
    name: 'demo',
    description:
      'Run the whole job on Fashion-MNIST: import, train Spikformer and ResNet18 (and --sdt), eval, energy, report ' +
      '(resumable)',
  },
  args: {
    out: {
      type: 'string',
      default: 'demo',
      description: 'Folder for everything the demo writes (data/, runs/, report.html)',
    },
    'per-class': { type: 'string', default: '300', description: 'Training images per class (10 classes)' },
    'val-per-class': { type: 'string', default: '60', description: 'Validation images per class' },
    epochs: { type: 'string', default: '5', description: 'Training epochs for each model' },
    batch: { type: 'string', default: '32', description: 'Batch size' },
    lr: {
      type: 'string',
      default: '0.001',
      description: 'Peak learning rate (AdamW, one warm-up epoch, cosine decay)',
    },
    snn: { type: 'string', default: 'spikformer-2-128', description: 'Spikformer preset' },
    ann: { type: 'string', default: 'resnet18-w16', description: 'ResNet18 preset' },
    sdt: {
      type: 'string',
      description: 'Also train a Spike-driven Transformer preset (e.g. sdt-2-128) and compare the three',
    },
    'energy-images': {
      type: 'string',
      default: '200',
      description: 'Validation images the firing rates are measured on',
    },
    'explain-images': {
      type: 'string',
      default: '32',
      description: 'Validation images the evidence maps and their deletion test use',
    },
    source: { type: 'string', default: FASHION_MNIST_DIR, description: 'Folder holding the Fashion-MNIST idx files' },
    backend: backendArg,
  },
  async run({ args }) {
    const t0 = performance.now();
    const plan = demoPlan(args);
    const steps = stepHeaders(t0, 5 + plan.models.length);
    await importStep(plan, steps);
    if (!(await trainStep(plan, steps))) return;
    let ds: Dataset | null = null;
    const dataset = async () => (ds ??= await openDataset(plan.data));
    await evalStep(plan, steps, dataset);
    await energyStep(plan, steps, dataset);
    await explainStep(plan, steps, dataset);
    await reportStep(plan, steps, t0);
  },
});

type DemoArgs = Record<'out' | 'per-class' | 'val-per-class' | 'epochs' | 'batch' | 'lr' | 'snn' | 'ann', string> &
  Record<'energy-images' | 'explain-images' | 'source', string> & { sdt?: string; backend?: string };

/** One model of the demo: its title, preset and run folder. */
interface DemoModel {
  label: string;
  preset: string;
  dir: string;
}

/** Everything the demo does, from its flags, every one checked before the first step starts. */
interface DemoPlan {
  out: string;
  data: string;
  source: string;
  perClass: number | undefined;
  valPerClass: number | undefined;
  epochs: number;
  batch: number;
  lr: number;
  energyImages: number;
  explainImages: number;
  backend: string | undefined;
  /** Report order: the spiking models, then the ANN. */
  models: DemoModel[];
}

function demoPlan(args: DemoArgs): DemoPlan {
  const lr = Number(args.lr);
  if (!(lr > 0 && lr < 1)) throw new Error(`--lr must be a number in (0, 1), got '${args.lr}'`);
  // Each slot takes its own family: a ResNet18 in --snn would be reported (and costed) as a spiking model.
  for (const [flag, preset, role] of [
    ['--snn', args.snn, 'snn'],
    ['--ann', args.ann, 'ann'],
    ['--sdt', args.sdt, 'sdt'],
  ] as const) {
    const { spec, presets } = presetsOfRole(role);
    if (preset !== undefined && !presets.includes(preset))
      throw new Error(`${flag} takes a ${spec.title} preset (${presets.join(', ')}), got '${preset}'`);
  }
  const plan: DemoPlan = {
    out: args.out,
    data: join(args.out, 'data'),
    source: args.source,
    perClass: intOption('--per-class', args['per-class'], 1),
    valPerClass: intOption('--val-per-class', args['val-per-class'], 1),
    epochs: must(intOption('--epochs', args.epochs, 1), '--epochs has a default'),
    batch: must(intOption('--batch', args.batch, 1), '--batch has a default'),
    lr,
    energyImages: must(intOption('--energy-images', args['energy-images'], 1), '--energy-images has a default'),
    explainImages: must(intOption('--explain-images', args['explain-images'], 1), '--explain-images has a default'),
    backend: backendOption(args.backend),
    models: [],
  };
  checkFashionMnistSource(args.source);
  const model = (role: DemoRole, preset: string) => ({
    label: presetsOfRole(role).spec.title,
    preset,
    dir: join(args.out, 'runs', preset),
  });
  plan.models.push(model('snn', args.snn));
  if (args.sdt !== undefined) plan.models.push(model('sdt', args.sdt));
  plan.models.push(model('ann', args.ann));
  return plan;
}

/** Prints "[n/total] what (time so far)" for each step in turn. */
function stepHeaders(t0: number, total: number): (what: string) => void {
  let step = 0;
  return (what) => say(`\n[${++step}/${total}] ${what}  (${formatDuration((performance.now() - t0) / 1000)} so far)`);
}

async function importStep(plan: DemoPlan, header: (what: string) => void): Promise<void> {
  header(`import Fashion-MNIST -> ${plan.data}`);
  const imported = await importFashionMnist({
    out: plan.data,
    source: plan.source,
    log: say,
    perClass: plan.perClass,
    valPerClass: plan.valPerClass,
  });
  say(`${imported.written} images written, ${imported.skipped} already there`);
}

/** Trains each model that has not reached the epochs yet; false when a signal stopped it (the exit code is set). */
async function trainStep(plan: DemoPlan, header: (what: string) => void): Promise<boolean> {
  const { epochs, lr } = plan;
  const backend = await initEngine(plan.backend);
  const signals = stopOnSignal(say, { afterProgress: true });
  for (const { label, preset, dir } of plan.models) {
    header(`train ${label} (${preset}, ${plural(epochs, 'epoch')}, backend ${backend}) -> ${dir}`);
    const last = runPaths(dir).last;
    if (existsSync(last) && readCheckpoint(last).meta.epoch >= epochs) {
      say(`already trained (${plural(readCheckpoint(last).meta.epoch, 'epoch')}); skipping`);
      continue;
    }
    const settings = { data: plan.data, model: preset, out: dir, epochs, batch: plan.batch, lr, backend };
    const cfg = resolveTrainConfig({}, { ...settings, warmupEpochs: epochs > 1 ? 1 : 0, minLr: lr / 100, mixup: 0 });
    const r = await train(cfg, { resume: existsSync(last), control: signals.control });
    if (r.status === 'interrupted') {
      say(`interrupted; run \`npx geospike demo --out ${plan.out}\` again to continue where it stopped`);
      process.exitCode = signals.exitCode ?? 130;
      return false;
    }
  }
  signals.release();
  return true;
}

type RunFile = 'eval' | 'energy' | 'explain';

/** Runs `job` on each model's best checkpoint whose `file` is missing or older than it; says `done` of the others. */
async function forEachStale(
  plan: DemoPlan,
  file: RunFile,
  done: string,
  job: (best: string) => Promise<void>,
): Promise<void> {
  for (const { dir } of plan.models) {
    const paths = runPaths(dir);
    if (fresh(paths[file], paths.best)) say(`${dir}: ${done} already`);
    else await job(paths.best);
  }
}

type LazyDataset = () => Promise<Dataset>;

async function evalStep(plan: DemoPlan, header: (what: string) => void, dataset: LazyDataset): Promise<void> {
  header(`evaluate ${plan.models.length === 2 ? 'both' : 'all three'} on the validation images`);
  await forEachStale(plan, 'eval', 'evaluated', async (best) => {
    const r = evalCheckpoint(best, await dataset());
    await saveBesideRun(best, EVAL_FILE, r);
    say(
      `${r.preset}: accuracy ${(100 * r.accuracy).toFixed(2)}%, ` +
        `top-2 ${(100 * r.top2).toFixed(2)}%, ${r.imagesPerSecond.toFixed(1)} images/s`,
    );
  });
}

async function energyStep(plan: DemoPlan, header: (what: string) => void, dataset: LazyDataset): Promise<void> {
  header(`measure firing rates and energy (${plan.energyImages} validation images)`);
  await forEachStale(plan, 'energy', 'measured', async (best) => {
    // A spiking model is also costed against the study's full-width
    // ResNet18 (from its architecture; no training needed).
    const e = energyOfCheckpoint(best, await dataset(), { images: plan.energyImages });
    await saveBesideRun(best, ENERGY_FILE, e);
    const vs =
      e.baseline && e.ratio !== null
        ? ` (${e.baseline.name}: ${formatEnergy(e.baseline.energy)}, ${e.ratio.toFixed(1)}x)`
        : '';
    say(`${e.preset}: ${formatEnergy(e.report.total.energy)} per image${vs}`);
  });
}

async function explainStep(plan: DemoPlan, header: (what: string) => void, dataset: LazyDataset): Promise<void> {
  header(`explain the guesses and test the maps (deletion test, ${plan.explainImages} validation images)`);
  await forEachStale(plan, 'explain', 'explained', async (best) => {
    const x = explainCheckpoint(best, await dataset(), { images: plan.explainImages, deletion: true });
    await saveBesideRun(best, EXPLAIN_FILE, x);
    const d = must(x.deletion ?? undefined, 'explainCheckpoint ran the deletion test');
    say(
      `${x.preset}: deletion test ${d.passed ? 'passed' : 'FAILED'} (area ${d.areaMap.toFixed(3)} by the ` +
        `map, ${d.areaRandom.toFixed(3)} at random)`,
    );
  });
}

async function reportStep(plan: DemoPlan, header: (what: string) => void, t0: number): Promise<void> {
  header('write the report');
  const dirs = plan.models.map(({ dir }) => dir);
  const title = `geospike demo: ${plan.models.map(({ label }) => label).join(' vs ')} on Fashion-MNIST`;
  const report = buildReport(dirs, title);
  const html = join(plan.out, 'report.html');
  await writeFileAtomic(html, renderReport(report));
  await writeFileAtomic(join(plan.out, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
  const acc = (x: (typeof report.runs)[number]) => (x.best ? `${(100 * x.best.valAcc).toFixed(2)}%` : '?');
  say(`\ndone in ${formatDuration((performance.now() - t0) / 1000)}`);
  console.log(
    [
      `best validation accuracy: ${report.runs.map((x) => `${x.preset} ${acc(x)}`).join(', ')}`,
      ...report.energyRatios.map(
        (e) => `energy per image: ${e.ann} uses ${e.ratio.toFixed(1)}x the energy of ${e.snn}`,
      ),
      `report:  ${html}  (open it in a browser; the numbers are in ${join(plan.out, 'report.json')})`,
      `play:    npx geospike play --checkpoint ${dirs.map((dir) => runPaths(dir).best).join(',')} --data ${plan.data}`,
    ]
      .filter(Boolean)
      .join('\n'),
  );
}
