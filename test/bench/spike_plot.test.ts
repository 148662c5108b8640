// The bench:spikes picture: one chart per kernel, event-driven and dense images/s at every measured rate, placed where
// the numbers say, with the kernel's threshold in its x label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spikePlotSvg } from '../../src/bench/spike_plot.js';
import { logTicks } from '../../src/eval/report/svg.js';
import { thresholdOf, type SpikeRow } from '../../src/bench/spike_kernels.js';
import { initEngine } from '../../src/engine/backend.js';
import { sparseBelow } from '../../src/ops/sparse_thresholds/native.js';

const row = (kernel: string, rate: number, sparse: number, dense: number): SpikeRow => ({
  kernel,
  rate,
  sparseMs: 1000 / sparse,
  denseMs: 1000 / dense,
  sparseCpuMs: 2000 / sparse,
  denseCpuMs: 2000 / dense,
  sparseImagesPerSec: sparse,
  denseImagesPerSec: dense,
  relDiff: 1e-7,
});

/** The y coordinates of a series' points in chart `i`, in order of rate. */
function ys(svg: string, i: number, series: string): number[] {
  const chart = svg.split('<g transform=')[i + 1] ?? '';
  const path = chart.match(new RegExp(`data-series="${series}" d="([^"]*)"`))?.[1] ?? '';
  return [...path.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
}

test('the spike-kernel plot draws both kernels of each case at every rate, higher images/s higher up', async () => {
  assert.equal(await initEngine('native'), 'native');
  const rates = [0, 0.05, 0.1, 0.2, 0.5];
  const conv = 'conv 96->192 at 32x32, forward';
  const attn = 'attention 12 heads [4B, 64, 384], forward';
  // event-driven falls with the rate and crosses the flat dense line between 0.05 and 0.1
  const rows = [
    ...rates.map((r) => row(conv, r, 400 / (1 + 40 * r), 120)),
    ...rates.map((r) => row(attn, r, 300 - 100 * r, 50)),
  ];
  const svg = spikePlotSvg(rows, { batch: 16, threads: 2, cpu: 'Test CPU', date: '2026-12-05T00:00:00Z' }, thresholdOf);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), 'a standalone SVG');
  assert.equal(svg.split('<g transform=').length - 1, 2, 'one chart per kernel');
  assert.ok(
    svg.includes(`(geospike runs event-driven below ${sparseBelow('conv')})`),
    'the conv chart quotes its threshold',
  );
  assert.ok(svg.includes('batch 16, T 4, 2 threads, Test CPU, 2026-12-05'), 'the title says what was measured');
  for (const i of [0, 1]) {
    const [sparse, dense] = [ys(svg, i, 'event-driven'), ys(svg, i, 'dense \\(oneDNN / tfjs\\)')];
    assert.equal(sparse.length, rates.length, `chart ${i}: a point per rate`);
    assert.equal(dense.length, rates.length, `chart ${i}: a dense point per rate`);
    // SVG y grows downwards: more images/s is a smaller y
    for (let k = 1; k < rates.length; k++) assert.ok(sparse[k]! > sparse[k - 1]!, `chart ${i}: falls with the rate`);
  }
  const [s, d] = [ys(svg, 0, 'event-driven'), ys(svg, 0, 'dense \\(oneDNN / tfjs\\)')];
  assert.ok(s[1]! < d[1]! && s[2]! > d[2]!, 'conv: event-driven above dense at 0.05, below at 0.1');
  for (const r of [0, 0.1, 0.5]) assert.ok(svg.includes(`>${r}</text>`), `an x tick at ${r}`);
  // log y: equal ratios are equal distances (conv's dense line is flat at 120; 400 vs 40 a decade apart)
  const decade = (a: number, b: number) => Math.abs(Math.log10(a) - Math.log10(b));
  const [r0, r5] = [400, 400 / (1 + 40 * 0.5)];
  const slope = (s[4]! - s[0]!) / decade(r0, r5);
  assert.ok(Math.abs(d[0]! - s[0]! - slope * decade(r0, 120)) < 1, 'the y axis is logarithmic');
});

test('log ticks cover the values with 1, 2, 5 steps', () => {
  assert.deepEqual(logTicks([3, 40, 700]), [2, 5, 10, 20, 50, 100, 200, 500, 1000]);
  assert.deepEqual(logTicks([100]), [100]);
});
