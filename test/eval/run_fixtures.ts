// Run folders written by hand in the format `geospike train`, `eval` and `energy` leave behind, for report tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countEnergy } from '../../src/eval/energy.js';
import { countMemory } from '../../src/eval/energy_memory.js';
import { classificationMetrics } from '../../src/eval/metrics.js';
import type { SpikeSource } from '../../src/models/layer_graph.js';
import { isSpiking, layerGraph, resolveConfig, type ModelConfig } from '../../src/models/registry.js';
import { must } from '../../src/util/must.js';

export const CLASSES = ['seoul', 'tokyo', 'new_york', 'london', 'paris'];

export function tempRoot(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every LIF a model's layer graph reads a firing rate of, in graph order: the ids its forward pass records. */
function lifIds(config: ModelConfig): string[] {
  const ids = new Set<string>();
  const visit = (s: SpikeSource | null): void => {
    if (s === null) return;
    if ('lif' in s) ids.add(s.lif);
    else if ('recorded' in s) visit(s.otherwise);
    else if ('sum' in s) s.sum.forEach(visit);
    else s.min.forEach(visit);
  };
  for (const layer of layerGraph(config)) {
    visit(layer.spikes);
    if (layer.feeds) ids.add(layer.feeds);
  }
  return [...ids];
}

/** Writes RUN/{config.json, summary.csv, metrics.jsonl} and, unless `bare`, eval.json and energy.json. */
export function writeRun(
  root: string,
  name: string,
  preset: string,
  opts: { epochs: number; accs: number[]; seconds: number; bare?: boolean },
): { dir: string; config: ModelConfig } {
  const dir = join(root, name);
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  const config = resolveConfig(preset, { classes: CLASSES.length });
  const spiking = isSpiking(config);
  const rates = spiking ? Object.fromEntries(lifIds(config).map((l, i) => [l, 0.02 + 0.01 * (i % 9)])) : undefined;
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      data: 'data/cities',
      model: preset,
      out: dir,
      epochs: opts.epochs,
      modelConfig: config,
      classes: CLASSES,
    }),
  );
  let csv = 'epoch,train_loss,train_acc,val_loss,val_acc,lr,epoch_seconds,images_per_s,firing_rate\n';
  let jsonl = '';
  for (let e = 1; e <= opts.epochs; e++) {
    const acc = must(opts.accs[e - 1], 'accs holds one accuracy per epoch');
    const row = {
      epoch: e,
      train_loss: 1.6 - 0.1 * e,
      train_acc: acc - 0.02,
      val_loss: 1.5 - 0.1 * e,
      val_acc: acc,
      lr: 0.0005,
      epoch_seconds: opts.seconds + e,
      images_per_s: 1000 / (opts.seconds + e),
      firing_rate: spiking ? 0.05 : null,
    };
    csv += `${Object.values(row)
      .map((v) => (v === null ? '' : String(v)))
      .join(',')}\n`;
    jsonl += `${JSON.stringify({ ...row, preset, model: config.arch, rates })}\n`;
  }
  writeFileSync(join(dir, 'summary.csv'), csv);
  writeFileSync(join(dir, 'metrics.jsonl'), `${jsonl}{"epoch": 99, "torn`); // a line torn by a kill mid-append
  if (!opts.bare) {
    // 10 images, 2 per class; the model gets 7 right.
    const labels = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4];
    const predicted = [0, 1, 1, 1, 2, 0, 3, 3, 4, 2];
    const scores = predicted.flatMap((p) => CLASSES.map((_, c) => (c === p ? 0.9 : 0.025)));
    const m = classificationMetrics(scores, labels, CLASSES);
    writeFileSync(
      join(dir, 'eval.json'),
      JSON.stringify({
        ...m,
        split: 'validation',
        classes: CLASSES,
        loss: 0.8,
        imagesPerSecond: 50,
        seconds: 0.2,
        checkpoint: 'x',
        preset,
        epoch: opts.epochs,
        labels,
        predicted,
      }),
    );
    const measured = rates ? { rates, inputRates: { 'patch_embed.maxpool2': 0.2, 'patch_embed.maxpool3': 0.2 } } : null;
    const report = countEnergy(config, measured);
    const ann = countEnergy(resolveConfig('resnet18', { classes: CLASSES.length }), null).total;
    const baseline = spiking ? { name: 'resnet18', arch: 'resnet18', energy: ann.energy, macs: ann.macs } : null;
    writeFileSync(
      join(dir, 'energy.json'),
      JSON.stringify({
        checkpoint: 'x',
        preset,
        images: spiking ? 10 : 0,
        split: 'validation',
        rates: rates ?? null,
        inputRates: null,
        report,
        baseline,
        ratio: baseline ? baseline.energy / report.total.energy : null,
        memory: countMemory(config, measured),
        baselineMemory: spiking
          ? countMemory(resolveConfig('resnet18', { classes: CLASSES.length }), null).total.pJ
          : null,
      }),
    );
  }
  return { dir, config };
}
