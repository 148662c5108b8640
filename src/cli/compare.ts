// `geospike compare RUN_A RUN_B ...`: one self-contained HTML report (inline SVG charts) and the same numbers as JSON.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineCommand } from 'citty';
import { initEngine } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import { buildReport } from '../eval/report/data.js';
import { renderReport } from '../eval/report/html.js';
import { readRun } from '../eval/runs.js';

export default defineCommand({
  meta: {
    name: 'compare',
    description:
      'Compare runs: accuracy and loss curves, time per epoch, confusion, firing rates, energy (HTML + JSON)',
  },
  args: {
    runs: {
      type: 'positional',
      required: true,
      description: 'Run folders (from `geospike train --out`); eval.json and energy.json in them are used when present',
    },
    out: { type: 'string', default: 'report.html', description: 'HTML report to write; report.json goes beside it' },
    title: { type: 'string', default: 'geospike: Spikformer vs ResNet18', description: 'Report title' },
  },
  async run({ args }) {
    const dirs = args._.length ? args._.map(String) : [args.runs];
    for (const dir of dirs) readRun(dir); // a folder that is not a run is refused before the engine starts
    await initEngine('cpu'); // only builds the models to count their parameters
    const report = buildReport(dirs, args.title);
    const html = args.out;
    mkdirSync(dirname(html), { recursive: true });
    const json = `${html.replace(/\.html?$/i, '')}.json`;
    await writeFileAtomic(html, renderReport(report));
    await writeFileAtomic(json, `${JSON.stringify(report, null, 1)}\n`);
    console.log(`report: ${html}\nnumbers: ${json}`);
  },
});
