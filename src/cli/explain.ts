// `geospike explain`: which patches drove each guess (gradient x input for the spiking models, Grad-CAM for ResNet18),
// each class's average map, and with --deletion the test that the maps are honest: both curves and their areas.
import { defineCommand } from 'citty';
import { openDataset } from '../data/dataset.js';
import { initEngine } from '../engine/backend.js';
import { explainCheckpoint, type ExplainResult } from '../eval/explain_job.js';
import { saveBesideRun } from '../eval/jobs.js';
import { EXPLAIN_FILE } from '../train/run_folder.js';
import {
  backendArg,
  checkedDataset,
  checkpointArg,
  dataDirFor,
  intOption,
  jsonArg,
  saveArg,
  splitArg,
  splitOption,
  trainedDataArg,
} from './args.js';

const SHADES = ' .:-=+*#%@';

/** A map as text: one character per patch, darker for more evidence. */
function asciiMap(map: number[], grid: number): string[] {
  const top = Math.max(...map);
  return Array.from({ length: grid }, (_, r) =>
    map
      .slice(r * grid, (r + 1) * grid)
      .map((v) => SHADES.charAt(top > 0 ? Math.min(9, Math.round((Math.max(0, v) / top) * 9)) : 0).repeat(2))
      .join(''),
  );
}

export function formatExplain(r: ExplainResult): string {
  const lines = [`${r.preset}: ${r.method}; ${r.images} ${r.split} images; ${r.grid}x${r.grid} patches`];
  const d = r.deletion;
  if (d) {
    const row = (label: string, ys: number[]) => `  ${label.padEnd(8)} ${ys.map((y) => y.toFixed(3)).join(' ')}`;
    lines.push(
      '',
      '  deletion test: mean probability of the predicted class as patches are masked (share masked on top)',
      `  ${'masked'.padEnd(8)} ${d.fractions.map((f) => f.toFixed(1).padStart(5)).join(' ')}`,
      row('by map', d.map),
      row('random', d.random),
      `  area under the curve: by map ${d.areaMap.toFixed(4)}, random ${d.areaRandom.toFixed(4)} (${d.randomOrders} ` +
        `random orders per image)`,
      d.passed
        ? '  PASSED: masking by the map lowers the probability faster than masking at random'
        : '  FAILED: masking by the map does not lower the probability faster than masking at random; these maps do ' +
            'not show what drove the guesses',
    );
  }
  lines.push('', '  average map of each class over the images it got right (darker: more evidence)');
  for (const c of r.perClass) {
    lines.push(`  ${c.class} (${c.images} images)`);
    if (c.images) lines.push(...asciiMap(c.map, r.grid).map((l) => `    ${l}`));
  }
  return lines.join('\n');
}

export default defineCommand({
  meta: {
    name: 'explain',
    description: 'Evidence maps per patch, per-class average maps and (--deletion) the deletion test of their honesty',
  },
  args: {
    checkpoint: checkpointArg(),
    data: trainedDataArg(),
    images: { type: 'string', default: '64', description: 'Images to explain, spread evenly over the split' },
    split: splitArg,
    deletion: {
      type: 'boolean',
      default: false,
      description: 'Run the deletion test: mask patches by the map and at random, print both curves and their areas',
    },
    json: jsonArg(),
    save: saveArg(EXPLAIN_FILE),
    backend: backendArg,
  },
  async run({ args }) {
    const images = intOption('--images', args.images, 1);
    const split = splitOption(args.split);
    const data = await checkedDataset(dataDirFor(args.checkpoint, args.data));
    await initEngine(args.backend);
    const ds = await openDataset(data);
    const r = explainCheckpoint(args.checkpoint, ds, {
      images,
      split,
      deletion: args.deletion,
      progress: args.json
        ? undefined
        : (what, done, total) => process.stderr.write(`\r${what} ${done}/${total}${done === total ? '\n' : ''}`),
    });
    const saved = args.save ? await saveBesideRun(r.checkpoint, EXPLAIN_FILE, r) : null;
    console.log(args.json ? JSON.stringify(r, null, 2) : formatExplain(r));
    if (saved) console.error(`saved ${saved}`);
  },
});
