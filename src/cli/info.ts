// `geospike info`: a preset's resolved config, parameter counts and multiply-accumulates, or the list of presets.
import { defineCommand } from 'citty';
import { initEngine } from '../engine/backend.js';
import { jsonArg } from './args.js';
import {
  createModel,
  DEFAULT_PRESET,
  isSpiking,
  macsPerStep,
  PRESETS,
  resolveConfig,
  type ModelConfig,
} from '../models/registry.js';
import { must } from '../util/must.js';

export interface ModelInfo {
  model: string;
  about: string;
  params: number;
  paramsOfficial: number;
  macsPerStep: number;
  config: ModelConfig;
}

export function describe(preset: string, classes?: number): ModelInfo {
  const config = resolveConfig(preset, { classes });
  const model = createModel(config);
  const counts = model.store.counts();
  model.store.dispose();
  return {
    model: preset,
    about: must(PRESETS[preset], 'resolveConfig found the preset').about,
    ...counts,
    macsPerStep: macsPerStep(config),
    config,
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');

function printOne(i: ModelInfo): void {
  const lines = [
    `${i.model}: ${i.about}`,
    `  parameters        ${fmt(i.params)} (official count ${fmt(i.paramsOfficial)}, with the official model's unused ` +
      `modules)`,
    isSpiking(i.config)
      ? `  MACs / image / step ${fmt(i.macsPerStep)} (dense; x ${i.config.timeSteps} steps)`
      : `  MACs / image      ${fmt(i.macsPerStep)}`,
    '  config',
    ...Object.entries(i.config).map(([k, v]) => `    ${k.padEnd(12)} ${v}`),
  ];
  console.log(lines.join('\n'));
}

export default defineCommand({
  meta: { name: 'info', description: 'Show a model preset: config, parameter count, multiply-accumulates' },
  args: {
    model: { type: 'string', description: `Preset (${Object.keys(PRESETS).join(', ')})`, default: DEFAULT_PRESET },
    classes: { type: 'string', description: "Number of classes (default: the preset's, 5)" },
    list: { type: 'boolean', description: 'List every preset with its parameter count', default: false },
    json: jsonArg(),
    engines: {
      type: 'boolean',
      description: 'Show which trainers can run here (torch version, CUDA, NCCL)',
      default: false,
    },
  },
  async run({ args }) {
    if (args.engines) {
      const { enginesReport, formatEngines } = await import('../torch/engines_info.js');
      const r = enginesReport();
      console.log(args.json ? JSON.stringify(r, null, 2) : formatEngines(r));
      return;
    }
    const classes = args.classes === undefined ? undefined : Number(args.classes);
    if (classes !== undefined && !(Number.isInteger(classes) && classes >= 2)) {
      throw new Error(`--classes must be an integer >= 2, got '${args.classes}'`);
    }
    if (!args.list) resolveConfig(args.model, { classes }); // an unknown preset is refused before the engine starts
    await initEngine('cpu'); // only builds the models to count them
    if (args.list) {
      const all = Object.keys(PRESETS).map((p) => describe(p, classes));
      if (args.json) console.log(JSON.stringify(all, null, 2));
      else for (const i of all) console.log(`${i.model.padEnd(18)} ${fmt(i.params).padStart(11)} params  ${i.about}`);
      return;
    }
    const info = describe(args.model, classes);
    if (args.json) console.log(JSON.stringify(info, null, 2));
    else printOne(info);
  },
});
