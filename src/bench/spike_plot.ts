// The picture of `npm run bench:spikes`: for each spike kernel, images/s against firing rate, event-driven beside
// dense, so where sparse wins reads at a glance (docs/benchmarks.md shows it). A standalone SVG: the report's line
// chart, one per kernel, in a grid, with the report's chart styles inlined.
import { esc, lineChart, paletteColor } from '../eval/report/svg.js';
import { sparseBelow, type SparseKernel } from '../ops/sparse_thresholds/native.js';
import type { SpikeRow } from './spike_kernels.js';

const STYLE =
  'svg{font-family:system-ui,sans-serif}.ct{font-size:13px;font-weight:600;fill:#111827}' +
  '.tick{font-size:11px;fill:#374151}.label{font-size:11px;fill:#6b7280}.grid{stroke:#e5e7eb;stroke-width:1}' +
  '.axis{stroke:#9ca3af;stroke-width:1}';

const X_TICKS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export interface SpikePlotMeta {
  batch: number;
  threads: number;
  cpu?: string;
  date: string;
}

/** One chart per kernel in `rows`, two columns; `thresholdOf` names the density threshold its x label quotes. */
export function spikePlotSvg(
  rows: SpikeRow[],
  meta: SpikePlotMeta,
  thresholdOf: (kernel: string) => SparseKernel | null,
): string {
  const kernels = [...new Set(rows.map((r) => r.kernel))];
  const [w, h, cols, head] = [520, 280, 2, 40];
  const charts = kernels.map((k, i) => {
    const mine = rows.filter((r) => r.kernel === k).sort((a, b) => a.rate - b.rate);
    const use = thresholdOf(k);
    const chart = lineChart({
      title: k,
      xLabel: `firing rate${use ? ` (geospike runs event-driven below ${sparseBelow(use)})` : ''}`,
      yLabel: 'images/s (log scale)',
      xName: 'rate',
      xTicks: X_TICKS,
      yLog: true,
      format: (y) => (y >= 1 ? y.toFixed(0) : y.toPrecision(2)),
      width: w,
      height: h,
      series: [
        { name: 'event-driven', color: paletteColor(1), points: mine.map((r) => [r.rate, r.sparseImagesPerSec]) },
        {
          name: 'dense (oneDNN / tfjs)',
          color: paletteColor(0),
          points: mine.map((r) => [r.rate, r.denseImagesPerSec]),
        },
      ],
    });
    return `<g transform="translate(${(i % cols) * w} ${head + Math.floor(i / cols) * h})">${chart}</g>`;
  });
  const W = cols * w,
    H = head + Math.ceil(kernels.length / cols) * h;
  const title =
    `Spike kernels against dense: images/s if a whole step were this kernel (batch ${meta.batch}, T 4, ` +
    `${meta.threads} threads, ${meta.cpu ?? 'unknown CPU'}, ${meta.date.slice(0, 10)})`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" ` +
    `aria-label="${esc(title)}"><style>${STYLE}</style><rect width="${W}" height="${H}" fill="#fff"/>` +
    `<text class="ct" x="16" y="24">${esc(title)}</text>${charts.join('')}</svg>\n`
  );
}
