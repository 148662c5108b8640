// `geospike demo`: the whole pipeline on data that installs with the project (Debian's Fashion-MNIST): import a subset,
// train a small Spikformer and a ResNet18 (and, with --sdt, a Spike-driven Transformer), evaluate them, measure energy,
// write the report. Every step leaves files
// behind, so running it again skips what is done and resumes an interrupted training run from its last checkpoint.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { openDataset, type Dataset } from '../data/dataset.js';
import { FASHION_MNIST_DIR, importFashionMnist } from '../data/importers/fashion_mnist.js';
import { backendArg, intOption } from './args.js';
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
import { plural } from '../util/plural.js';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** True when `result` exists and was written after `source` (a checkpoint newer than its eval means redo it). */
const fresh = (result: string, source: string) =>
  existsSync(result) && statSync(result).mtimeMs >= statSync(source).mtimeMs;

export default defineCommand({
  meta: {
    name: 'demo',
    description:
      'Run the whole job on Fashion-MNIST: import, train Spikformer and ResNet18 (and --sdt), eval, energy, report (resumable)',
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
    const out = args.out;
    const epochs = intOption('--epochs', args.epochs, 1)!;
    const batch = intOption('--batch', args.batch, 1)!;
    const energyImages = intOption('--energy-images', args['energy-images'], 1)!;
    const explainImages = intOption('--explain-images', args['explain-images'], 1)!;
    const lr = Number(args.lr);
    if (!(lr > 0 && lr < 1)) throw new Error(`--lr must be a number in (0, 1), got '${args.lr}'`);
    const data = join(out, 'data');
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
    const runs = { snn: join(out, 'runs', args.snn), ann: join(out, 'runs', args.ann) };
    // Report order: the spiking models, then the ANN.
    const titleOf = (role: DemoRole) => presetsOfRole(role).spec.title;
    const models: [string, string, string][] = [[titleOf('snn'), args.snn, runs.snn]];
    if (args.sdt !== undefined) models.push([titleOf('sdt'), args.sdt, join(out, 'runs', args.sdt)]);
    models.push([titleOf('ann'), args.ann, runs.ann]);
    const dirs = models.map(([, , dir]) => dir);
    const steps = 5 + models.length;
    let step = 0;
    const header = (what: string) =>
      say(`\n[${++step}/${steps}] ${what}  (${formatDuration((performance.now() - t0) / 1000)} so far)`);

    header(`import Fashion-MNIST -> ${data}`);
    const imported = await importFashionMnist({
      out: data,
      source: args.source,
      log: say,
      perClass: intOption('--per-class', args['per-class'], 1),
      valPerClass: intOption('--val-per-class', args['val-per-class'], 1),
    });
    say(`${imported.written} images written, ${imported.skipped} already there`);

    const backend = await initEngine(args.backend);
    const signals = stopOnSignal(say, { afterProgress: true });
    const { control } = signals;
    for (const [label, preset, dir] of models) {
      header(`train ${label} (${preset}, ${plural(epochs, 'epoch')}, backend ${backend}) -> ${dir}`);
      const last = runPaths(dir).last;
      if (existsSync(last) && readCheckpoint(last).meta.epoch >= epochs) {
        say(`already trained (${plural(readCheckpoint(last).meta.epoch, 'epoch')}); skipping`);
        continue;
      }
      const cfg = resolveTrainConfig(
        {},
        {
          data,
          model: preset,
          out: dir,
          epochs,
          batch,
          lr,
          warmupEpochs: epochs > 1 ? 1 : 0,
          minLr: lr / 100,
          mixup: 0,
          backend,
        },
      );
      const r = await train(cfg, { resume: existsSync(last), control });
      if (r.status === 'interrupted') {
        say(`interrupted; run \`npx geospike demo --out ${out}\` again to continue where it stopped`);
        process.exitCode = signals.exitCode ?? 130;
        return;
      }
    }
    signals.release();

    let ds: Dataset | null = null;
    const dataset = async () => (ds ??= await openDataset(data));
    header(`evaluate ${models.length === 2 ? 'both' : 'all three'} on the validation images`);
    for (const dir of dirs) {
      const best = runPaths(dir).best;
      if (fresh(runPaths(dir).eval, best)) {
        say(`${dir}: evaluated already`);
        continue;
      }
      const r = evalCheckpoint(best, await dataset());
      await saveBesideRun(best, EVAL_FILE, r);
      say(
        `${r.preset}: accuracy ${(100 * r.accuracy).toFixed(2)}%, top-2 ${(100 * r.top2).toFixed(2)}%, ${r.imagesPerSecond.toFixed(1)} images/s`,
      );
    }

    header(`measure firing rates and energy (${energyImages} validation images)`);
    for (const dir of dirs) {
      const best = runPaths(dir).best;
      if (fresh(runPaths(dir).energy, best)) {
        say(`${dir}: measured already`);
        continue;
      }
      // A spiking model is also costed against the study's full-width ResNet18 (from its architecture; no training needed).
      const e = energyOfCheckpoint(best, await dataset(), { images: energyImages });
      await saveBesideRun(best, ENERGY_FILE, e);
      const vs =
        e.baseline && e.ratio !== null
          ? ` (${e.baseline.name}: ${formatEnergy(e.baseline.energy)}, ${e.ratio.toFixed(1)}x)`
          : '';
      say(`${e.preset}: ${formatEnergy(e.report.total.energy)} per image${vs}`);
    }

    header(`explain the guesses and test the maps (deletion test, ${explainImages} validation images)`);
    for (const dir of dirs) {
      const best = runPaths(dir).best;
      if (fresh(runPaths(dir).explain, best)) {
        say(`${dir}: explained already`);
        continue;
      }
      const x = explainCheckpoint(best, await dataset(), { images: explainImages, deletion: true });
      await saveBesideRun(best, EXPLAIN_FILE, x);
      const d = x.deletion!;
      say(
        `${x.preset}: deletion test ${d.passed ? 'passed' : 'FAILED'} (area ${d.areaMap.toFixed(3)} by the map, ${d.areaRandom.toFixed(3)} at random)`,
      );
    }

    header('write the report');
    const title = `geospike demo: ${models.map(([label]) => label).join(' vs ')} on Fashion-MNIST`;
    const report = buildReport(dirs, title);
    const html = join(out, 'report.html');
    await writeFileAtomic(html, renderReport(report));
    await writeFileAtomic(join(out, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
    const acc = (x: (typeof report.runs)[number]) => (x.best ? `${(100 * x.best.valAcc).toFixed(2)}%` : '?');
    say(`\ndone in ${formatDuration((performance.now() - t0) / 1000)}`);
    console.log(
      [
        `best validation accuracy: ${report.runs.map((x) => `${x.preset} ${acc(x)}`).join(', ')}`,
        ...report.energyRatios.map(
          (e) => `energy per image: ${e.ann} uses ${e.ratio.toFixed(1)}x the energy of ${e.snn}`,
        ),
        `report:  ${html}  (open it in a browser; the numbers are in ${join(out, 'report.json')})`,
        `play:    npx geospike play --checkpoint ${dirs.map((dir) => runPaths(dir).best).join(',')} --data ${data}`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
});
