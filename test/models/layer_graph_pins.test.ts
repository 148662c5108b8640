// Pins the MAC sums and the energy and memory estimates of every preset to the numbers the name-decoding counter
// (src/models/macs.ts and src/eval/energy.ts before the typed layer graph, commit 68a9b19) gave, so the typed graph
// that replaced it provably changes nothing. Firing rates are synthetic (a hash of each LIF's name), recorded for
// the names a real forward pass reports. The expected values were printed by this file with PIN_PRINT=1 on the old
// code: `npx tsc -p tsconfig.json && PIN_PRINT=1 node --test dist/test/models/layer_graph_pins.test.js`.
// One deliberate change: the SDT's memory estimate. The old counter found the LIF after a layer by renaming
// `fc1_conv` to `fc1_lif`, but the SDT's fc1_lif comes before fc1 (its output goes to fc2_lif, and fc2's to the
// analog stream, no LIF), so it wrote fc1's output spikes at the wrong rate and counted potentials for fc2. The typed
// graph says which LIF each layer feeds; with the old (wrong) `feeds` declared, every number here equals the old one.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { countEnergy, type MeasuredRates } from '../../src/eval/energy.js';
import { countMemory } from '../../src/eval/energy_memory.js';
import {
  createModel,
  isSpiking,
  macsPerStep,
  PRESETS,
  resolveConfig,
  type ModelConfig,
} from '../../src/models/registry.js';

before(async () => {
  await initEngine('cpu');
});

/** A deterministic stand-in rate in [0.02, 0.42) from a name (FNV-1a). */
function hashRate(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return 0.02 + ((h % 997) / 997) * 0.4;
}

/** The names a forward pass of this family and depth records (a narrow stand-in: names do not depend on width). */
function recordedNames(config: ModelConfig & { depth: number }): { rates: string[]; inputs: string[] } {
  const small = config.arch === 'sdt' ? 'sdt-2-128' : 'spikformer-1-64';
  const model = createModel(resolveConfig(small, { dim: 64, depth: config.depth, timeSteps: 1 }));
  const rates = new Map<string, number>();
  const inputRates = new Map<string, number>();
  tf.tidy(() => model.forward(tf.zeros([1, 32, 32, 3]), { training: false, rates, inputRates }));
  model.store.dispose();
  return { rates: [...rates.keys()], inputs: [...inputRates.keys()] };
}

function measuredFor(config: ModelConfig, withInputs: boolean): MeasuredRates | null {
  if (!isSpiking(config)) return null;
  const names = recordedNames(config as unknown as ModelConfig & { depth: number });
  const rates = Object.fromEntries(names.rates.map((n) => [n, hashRate(n)]));
  if (!withInputs) return { rates };
  return { rates, inputRates: Object.fromEntries(names.inputs.map((n) => [n, hashRate(n)])) };
}

function numbers(preset: string): number[] {
  const config = resolveConfig(preset, { classes: 5 });
  const withInputs = measuredFor(config, true);
  const e = countEnergy(config, withInputs);
  const m = countMemory(config, withInputs);
  const out = [macsPerStep(config), e.total.denseMacs, e.total.macs, e.total.sops, e.total.energy];
  out.push(m.total.pJ, m.total.reads, m.total.writes);
  if (isSpiking(config)) out.push(countEnergy(config, measuredFor(config, false)).total.energy);
  return out;
}

// [macsPerStep, denseMacs, macs, sops, energy pJ, memory pJ, memory reads, memory writes, energy without pool rates]
const EXPECTED: Record<string, number[]> = {
  'spikformer-4-384': [
    934037376, 3736143744, 5310336, 2031767596.5342429, 1853018382.4808183, 428144231781.1202, 2041527124.2701306,
    2037441228.2332196, 2105345018.688963,
  ],
  'spikformer-4-256': [
    418219264, 1672873216, 3540224, 905342832.2086258, 831093579.3877631, 103580287126.15654, 911853281.6992177,
    909125255.007944, 943238751.0358275,
  ],
  'spikformer-2-384': [
    701253504, 2805008256, 5310336, 1060212816.6875023, 978619080.6187521, 237943974413.65192, 1067870293.3280243,
    1065967035.9745235, 1153851969.2905276,
  ],
  'spikformer-2-128': [
    79610496, 318440064, 1770112, 118958833.22030091, 115205465.09827082, 6634899370.632734, 121519520.76714143,
    120876909.64930794, 134675786.0618014,
  ],
  'spikformer-1-64': [
    16867648, 67469632, 885056, 19179717.117432296, 21333003.00568907, 743875066.0322684, 20318662.1580341,
    20163135.975005016, 25129836.75301104,
  ],
  'sdt-2-512': [
    1234962944, 4939851776, 7077888, 1240653353.0627084, 1149146302.5564377, 521325339257.3003, 1249758629.8717353,
    911622665.3388966, 1230447548.06063,
  ],
  'sdt-4-384': [
    921552768, 3686211072, 5308416, 871421734.3717554, 808698274.5345801, 212371559108.0064, 879210181.3106923,
    589461867.5586758, 857534778.8404579,
  ],
  'sdt-2-256': [
    309200128, 1236800512, 3538944, 310172157.206339, 295434083.88570523, 41450366314.34508, 314730942.1108524,
    230368470.2621464, 315760211.6680923,
  ],
  'sdt-2-128': [
    77529728, 310118912, 1769472, 77547448.77191576, 77932275.09472418, 4411466431.652352, 79832987.7241725,
    58823527.02924775, 83014215.24349046,
  ],
  resnet18: [555420160, 555420160, 555420160, 0, 2554932735.999999, 155833700139.27188, 1111452677, 614405],
  'resnet18-w16': [35046016, 35046016, 35046016, 0, 161211673.59999996, 1559166352.5905213, 70245125, 153605],
  'resnet18-w8': [8872256, 8872256, 8872256, 0, 40812377.59999999, 282475810.6899263, 17821061, 76805],
};
// The SDT's memory pJ and writes before the fix (see the header), for the record:
//   sdt-2-512: 523271739314.3393 pJ, 990301442.7758474 writes
//   sdt-4-384: 215337868741.59296 pJ, 725639837.1358876 writes
//   sdt-2-256: 41824994555.644585 pJ, 250061183.73055163 writes
//   sdt-2-128: 4491240964.947578 pJ, 63758214.95093281 writes

test('every preset: MAC sums, energy and memory estimates equal the old counter', () => {
  const actual = Object.fromEntries(Object.keys(PRESETS).map((p) => [p, numbers(p)]));
  if (process.env.PIN_PRINT) console.log(JSON.stringify(actual, null, 2));
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(EXPECTED).sort());
  for (const [p, want] of Object.entries(EXPECTED)) assert.deepEqual(actual[p], want, p);
});
