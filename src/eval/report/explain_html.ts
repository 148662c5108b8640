// The report's explanations: each run's deletion test (curves by map and at random, their areas, and a plain
// PASSED/FAILED) and each class's average evidence map. A section of its own so the page layout can change around it.
import type { ExplainResult } from '../explain_job.js';
import type { Report } from './data.js';
import { esc, lineChart } from './svg.js';
import { must } from '../../util/must.js';

/** A grid x grid map as a small SVG of squares, white (no evidence) to red (the most). */
export function mapSvg(map: number[], grid: number, label: string, cell = 12): string {
  const top = Math.max(0, ...map);
  const rects = map
    .map((v, i) => {
      const t = top > 0 ? Math.max(0, v) / top : 0;
      const g = Math.round(255 - 255 * t);
      const b = Math.round(255 - 255 * Math.min(1, 1.6 * t));
      return (
        `<rect x="${(i % grid) * cell}" y="${Math.floor(i / grid) * cell}" width="${cell}" height="${cell}" ` +
        `fill="rgb(255,${g},${b})"/>`
      );
    })
    .join('');
  const w = grid * cell;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="evmap" viewBox="0 0 ${w} ${w}" width="${w}" height="${w}" ` +
    `role="img" aria-label="${esc(label)}"><title>${esc(label)}</title>${rects}</svg>`
  );
}

function runSection(name: string, color: string, e: ExplainResult): string {
  const parts = [`<h3>${esc(name)}: ${esc(e.method)}</h3>`];
  const d = e.deletion;
  if (d) {
    const curve = (ys: number[]) =>
      d.fractions.map((f, i): [number, number] => [f, must(ys[i], 'one probability per masked fraction')]);
    parts.push(
      `<figure>${lineChart({
        title: `${name}: deletion test`,
        xLabel: 'share of patches masked',
        yLabel: 'probability of the guess',
        yRange: [0, 1],
        format: (y) => y.toFixed(2),
        series: [
          { name: 'masked by the map', color, points: curve(d.map) },
          { name: 'masked at random', color: '#94a3b8', points: curve(d.random) },
        ],
      })}<figcaption>${d.passed ? '<strong>Passed</strong>' : '<strong class="fail">FAILED</strong>'}: area under ` +
        `the curve ${d.areaMap.toFixed(3)} by the map, ${d.areaRandom.toFixed(3)} at random (${d.images} ` +
        `images, ${d.randomOrders} random orders each). ${
          d.passed
            ? 'Masking the patches the map ranks first lowers the probability faster than masking at random.'
            : 'Masking by the map does not lower the probability faster than masking at random: these maps do not ' +
              'show what drove the guesses.'
        }</figcaption></figure>`,
    );
  } else {
    parts.push(
      `<p class="note">No deletion test yet: run <code>geospike explain --checkpoint ${esc(e.checkpoint)} ` +
        `--deletion</code>.</p>`,
    );
  }
  const cells = e.perClass
    .map(
      (c) =>
        `<div class="evcell">${
          c.images ? mapSvg(c.map, e.grid, `${name}: ${c.class}`) : '<div class="note">none right</div>'
        }<div class="note">${esc(c.class)} (${c.images})</div></div>`,
    )
    .join('');
  parts.push(
    `<div class="evgrid">${cells}</div><p class="note">Average map of each class over the images it got right, ` +
      `of ${e.images} ${e.split} images explained (count in brackets); red: the patches with the most evidence for ` +
      `the class.</p>`,
  );
  return parts.join('\n');
}

export function explainSection(r: Report, color: (run: number) => string): string {
  const runs = r.runs.filter((x) => x.explain);
  if (runs.length === 0) return '';
  return `<h2>Why the models guess what they guess</h2>
<style>.evgrid{display:flex;flex-wrap:wrap;gap:10px}.evcell{text-align:center}.fail{color:#b91c1c}</style>
${runs.map((x) => runSection(x.name, color(r.runs.indexOf(x)), x.explain!)).join('\n')}`;
}
