// Plain-text tables for the terminal: eval's per-class scores and confusion matrix, energy's per-layer costs.
import { formatEnergy, formatOps } from './energy.js';
import { formatMemoryLines } from './energy_memory.js';
import type { EnergyResult } from './jobs.js';
import type { EvalResult } from './evaluate.js';
import { must } from '../util/must.js';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function formatEval(r: EvalResult & { preset?: string; epoch?: number }): string {
  const w = Math.max(5, ...r.classes.map((c) => c.length));
  const lines = [
    `${r.preset ?? 'model'}${r.epoch !== undefined ? ` (epoch ${r.epoch})` : ''} on ${r.n} ${r.split} images`,
    `  accuracy ${pct(r.accuracy)}   top-2 ${pct(r.top2)}   loss ${r.loss.toFixed(4)}   macro ` +
      `F1 ${r.macroF1.toFixed(4)}   ${r.imagesPerSecond.toFixed(1)} images/s`,
    '',
    `  ${'class'.padEnd(w)}  precision  recall     F1  support`,
    ...r.perClass.map(
      (c) =>
        `  ${c.name.padEnd(w)}  ${c.precision.toFixed(4).padStart(9)}  ${c.recall.toFixed(4).padStart(6)} ` +
        ` ${c.f1.toFixed(4).padStart(6)}  ${String(c.support).padStart(7)}`,
    ),
    '',
    '  confusion (rows: true class, columns: predicted, in class order)',
    ...r.confusion.map(
      (row, i) =>
        `  ${must(r.classes[i], 'one class per confusion row').padEnd(
          w,
        )} ${row.map((v) => String(v).padStart(5)).join('')}`,
    ),
  ];
  return lines.join('\n');
}

export function formatEnergyResult(e: EnergyResult): string {
  const rep = e.report;
  const w = Math.max(...rep.layers.map((l) => l.name.length));
  const measured = e.images
    ? `firing rates measured on ${e.images} ${e.split} images`
    : 'dense: an ANN costs the same on any image';
  const spikes = { ...e.rates, ...e.inputRates };
  const rw = Math.max(0, ...Object.keys(spikes).map((k) => k.length));
  const lines = [
    `${e.preset}: ${measured}; E_MAC ${rep.costs.eMac} pJ, E_AC ${rep.costs.eAc} pJ (${rep.costs.about})`,
    ...(Object.keys(spikes).length
      ? [
          '',
          '  firing rate (mean spikes per neuron per time step)',
          ...Object.entries(spikes).map(([k, v]) => `  ${k.padEnd(rw)}  ${(100 * v).toFixed(2).padStart(6)}%`),
        ]
      : []),
    '',
    `  ${'layer'.padEnd(w)}  in rate   FLOPs/step        MAC        SOP     energy`,
    ...rep.layers.map((l) => {
      const rate = l.inputRate === null ? 'analog' : `${l.inputRate.toFixed(4)}${l.estimated ? '~' : ' '}`;
      return (
        `  ${l.name.padEnd(w)}  ${rate.padStart(7)}  ${formatOps(l.flops).padStart(11)} ` +
        ` ${formatOps(l.macs).padStart(9)}  ${formatOps(l.sops).padStart(9)}  ${formatEnergy(l.energy).padStart(9)}`
      );
    }),
    `  ${'total per image'.padEnd(w)}  ${''.padStart(7)} ` +
      ` ${formatOps(rep.layers.reduce((a, l) => a + l.flops, 0)).padStart(11)} ` +
      ` ${formatOps(rep.total.macs).padStart(9)}  ${formatOps(rep.total.sops).padStart(9)} ` +
      ` ${formatEnergy(rep.total.energy).padStart(9)}`,
  ];
  if (rep.layers.some((l) => l.estimated))
    lines.push('  ~ max-pool rate not measured: taken from the LIF before it (an undercount)');
  if (e.memory) lines.push('', ...formatMemoryLines(e.memory, rep.total.energy, e.baseline?.name, e.baselineMemory));
  if (e.baseline && e.ratio !== null) {
    lines.push(
      '',
      `  ${e.baseline.name} (${formatOps(e.baseline.macs)} MAC) costs ${formatEnergy(e.baseline.energy)} per image: ` +
        `${e.ratio.toFixed(2)}x the energy of ${e.preset}`,
    );
  }
  return lines.join('\n');
}
